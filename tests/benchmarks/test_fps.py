"""The FPS benchmark end to end on tiny filters: rows, ratios, fast-vs-full SSIM, start-up, files."""
from __future__ import annotations

import json

import pytest

from benchmarks.fps import main
from tests.conftest import make_onnx_filter


def test_fps_benchmark_reports_variants_baseline_ratio_ssim_and_startup(tmp_path):
    import cv2

    from tests.conftest import synthetic_photo

    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(3):
        cv2.imwrite(str(calib / f"{i}.png"), synthetic_photo(96, 128, seed=i))
    full = make_onnx_filter(tmp_path / "swap.onnx")
    make_onnx_filter(tmp_path / "swap.fast.onnx")  # its "student": the same channel swap at work size 128
    lone = make_onnx_filter(tmp_path / "lone.onnx")  # no fast variant: its fast row is skipped
    out = tmp_path / "report"
    assert main(["--filter", str(full), str(lone), "--sizes", "256x192", "--frames", "6", "--runs", "3", "--ssim-frames", "3",
                 "--no-track", "--out", str(out), "--precisions", "fp32", "int8", "--calib", str(calib)]) == 0
    report = json.loads((out / "fps.json").read_text())
    rows = {(r["filter"].split("/")[-1], r["variant"]): r for r in report["rows"] if r.get("precision", "fp32") == "fp32"}
    assert set(rows) == {("baseline (Johnson fp32)", "full"), ("swap.onnx", "full"), ("swap.onnx", "fast"), ("lone.onnx", "full")}
    int8 = [r for r in report["rows"] if r.get("precision") == "int8"]
    assert len(int8) == 3 and (out / "variants" / "swap.fast.int8.onnx").is_file()
    assert all(0.5 < r["ssim_to_full"] <= 1.0 for r in int8)  # quantised, still the same picture
    fast = rows[("swap.onnx", "fast")]
    # the same swap, only run at a lower work size and upscaled: close to, but not exactly, the full output
    assert 0.8 < fast["ssim_to_full"] < 1.0
    assert fast["model"]["input_hw"] == [128, 171] and rows[("swap.onnx", "full")]["model"]["input_hw"] == [128, 171]
    for r in report["rows"]:
        assert r["e2e"]["fps_output"] > 0 and r["e2e"]["frames_output"] == 6 and r["ratio_e2e"] > 0
        assert r["e2e"]["latency_ms"]["p95"] >= r["e2e"]["latency_ms"]["p50"] > 0
        assert r["live"]["latency_ms"]["p95"] >= r["live"]["latency_ms"]["p50"] > 0 and 0 < r["live"]["processed_share"] <= 1
        if r["filter"] != "baseline (Johnson fp32)":  # the loop's own work plus the in-graph frame conversion
            stages = r["e2e"]["stages_ms"]
            assert 0 <= stages["non_inference"]["p50"] <= stages["process"]["p50"] and "track" not in stages
            assert r["frame_io_ms"] > 0 and r["non_inference_ms"] >= r["frame_io_ms"]
    for name, s in report["startup"].items():
        assert s["peak_rss_mb"] > 20 and s["first_frame_s"] > 0, name
    table = (out / "fps.md").read_text()
    assert "| SSIM to full | non-inference ms |" in table and "live latency p50 / p95 / p99 ms" in table and "peak RSS MB" in table
    assert (out / "fps.png").stat().st_size > 1000


def test_fps_benchmark_takes_effects_and_chains_without_a_model_only_time(tmp_path, face_video):
    swap = make_onnx_filter(tmp_path / "swap.onnx")
    out = tmp_path / "report"
    assert main(["--filter", "big_eyes", f"glasses+{swap}", "--sizes", "320x240", "--frames", "4", "--runs", "2",
                 "--source", str(face_video), "--no-startup", "--out", str(out)]) == 0
    report = json.loads((out / "fps.json").read_text())
    rows = {r["filter"]: r for r in report["rows"]}
    assert set(rows) == {"baseline (Johnson fp32)", "big_eyes", f"glasses+{swap}"}
    for spec in ("big_eyes", f"glasses+{swap}"):
        r = rows[spec]
        assert r["model"] is None and r["e2e"]["frames_output"] == 4 and r["live"]["processed_share"] > 0
        assert "track" in r["e2e"]["stages_ms"]  # a face effect runs the face mesh
    table = (out / "fps.md").read_text()
    assert "| big_eyes | auto | — | cpu | 320x240 | — | — |" in table
    assert (out / "fps.png").stat().st_size > 1000


def test_realtime_bench_points_to_the_benchmark_command(monkeypatch, capsys):
    """The runtime does not import the benchmarks (they sit above it): `realtime bench` says
    which command it is."""
    import sys

    from realtime.cli import entry

    monkeypatch.setattr(sys, "argv", ["realtime", "bench"])
    assert entry() == 2
    assert "python -m benchmarks.fps" in capsys.readouterr().err


def test_fps_benchmark_refuses_counts_below_one_with_every_reason_before_work(tmp_path):
    """Before: ``--ssim-frames 0`` ran the whole baseline and then died dividing by zero."""
    from realtime.errors import UserError

    with pytest.raises(UserError) as err:
        main(["--frames", "0", "--ssim-frames", "-1", "--out", str(tmp_path)])
    assert "--frames must be at least 1" in str(err.value) and "--ssim-frames must be at least 0" in str(err.value)
    assert not any(tmp_path.iterdir()), "nothing was measured or written"
