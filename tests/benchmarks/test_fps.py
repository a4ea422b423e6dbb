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
    # 256x192 at 128 lines is 170.7 px wide: 171, the aspect kept (the engine pads it to the size multiple)
    assert fast["model"]["input_hw"] == [128, 171] and rows[("swap.onnx", "full")]["model"]["input_hw"] == [128, 171]
    for r in report["rows"]:
        assert r["e2e"]["fps_output"] > 0 and r["e2e"]["frames_output"] == 6 and r["ratio_e2e"] > 0
        assert r["e2e"]["latency_ms"]["p95"] >= r["e2e"]["latency_ms"]["p50"] > 0
        assert r["live"]["latency_ms"]["p95"] >= r["live"]["latency_ms"]["p50"] > 0 and 0 < r["live"]["processed_share"] <= 1
        if r["filter"] != "baseline (Johnson fp32)":  # the loop's own work plus the in-graph frame conversion
            stages = r["e2e"]["stages_ms"]
            assert 0 <= stages["non_inference"]["p50"] <= stages["process"]["p50"] and "track" not in stages
            assert r["frame_io_ms"] > 0 and r["non_inference_ms"] >= r["frame_io_ms"]
            assert r["non_inference_ms_live"] == round(r["live"]["stages_ms"]["non_inference"] + r["frame_io_ms"], 2)
    for name, s in report["startup"].items():
        assert s["peak_rss_mb"] > 20 and s["first_frame_s"] > 0, name
    table = (out / "fps.md").read_text()
    assert "| SSIM to full | non-inference ms | live |" in table and "; paced: " in table and "live latency p50 / p95 / p99 ms" in table and "peak RSS MB" in table
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


def test_fps_benchmark_refuses_counts_too_low_with_every_reason_before_work(tmp_path):
    """Before: ``--ssim-frames 0`` ran the whole baseline and then died dividing by zero, and
    ``--baseline-frames 1`` measured a baseline with no rate (one output, no interval), so every
    row's ratio to it read 0.0 in the reports of sessions 21-27."""
    from realtime.errors import UserError

    with pytest.raises(UserError) as err:
        main(["--frames", "0", "--ssim-frames", "-1", "--baseline-frames", "1", "--out", str(tmp_path)])
    assert "--frames must be at least 2" in str(err.value) and "--ssim-frames must be at least 0" in str(err.value)
    assert "--baseline-frames must be at least 2, got 1" in str(err.value)
    assert not any(tmp_path.iterdir()), "nothing was measured or written"


def _row(name: str, size: str, share: float, p95: float, cost: float | None, variant: str = "auto", network: bool = True,
         unpaced: float | None = None) -> dict:
    """A report row; ``cost``: the paced run's work around the networks, ``unpaced`` the unpaced
    run's (the same when not given)."""
    return {"filter": name, "variant": variant, "provider": "cpu", "size": size, "precision": "fp32", "network": network,
            "live": {"processed_share": share, "latency_ms": {"p95": p95}}, "non_inference_ms_live": cost,
            "non_inference_ms": cost if unpaced is None else unpaced}


def test_goal_rows_judge_each_size_as_the_720p_issue_says():
    from benchmarks.fps import goal_rows

    rows = [_row("baseline (Johnson fp32)", "1280x720", 0.2, 300, None),
            _row("cartoon", "640x480", 0.5, 90, 9.0),  # below 720 lines: no goal
            _row("cartoon", "1280x720", 0.96, 45, 2.9, "fast"),
            _row("cartoon", "1280x720", 0.3, 120, 2.0, "full"),  # auto runs the fast one: not judged
            _row("oil", "1280x720", 0.99, 52, 1.0, "full"),  # no fast variant: judged, p95 too high
            _row("cartoon", "1920x1080", 0.70, 75, 5.5, "fast"),  # 21 fps: a network's 1080p goal
            _row("none@blur", "1920x1080", 0.70, 45, 4.0, network=False),  # an effect must keep 95 % at 1080p too
            _row("big_eyes", "1280x720", 1.0, 20, 3.5, network=False),  # the pipeline cost over 3 ms
            # the paced run's cost is judged: the unpaced one decodes the next frame beside this one
            _row("candy", "1280x720", 1.0, 28, 2.7, "fast", unpaced=3.2),
            _row("sketch", "1280x720", 1.0, 28, 3.1, "fast", unpaced=2.9)]
    goals = {(g["filter"], g["size"], g["variant"]): g["pass"] for g in goal_rows(rows, 30.0)}
    assert goals == {("cartoon", "1280x720", "fast"): True, ("oil", "1280x720", "full"): False,
                     ("cartoon", "1920x1080", "fast"): True, ("none@blur", "1920x1080", "auto"): False,
                     ("big_eyes", "1280x720", "auto"): False, ("candy", "1280x720", "fast"): True,
                     ("sketch", "1280x720", "fast"): False}
    # a report from before the paced measure: the unpaced run's cost
    old = {k: v for k, v in _row("oil", "1280x720", 1.0, 30, None, "fast", unpaced=3.5).items() if k != "non_inference_ms_live"}
    assert [g["pass"] for g in goal_rows([old], 30.0)] == [False]


def test_a_background_case_and_the_look_across_sizes_are_reported(tmp_path):
    """``NAME@BACKGROUND`` runs with --background; sizes above 480 lines get the look comparison:
    a channel swap at a fixed work size looks the same at every size."""
    swap = make_onnx_filter(tmp_path / "swap.onnx")
    out = tmp_path / "report"
    assert main(["--filter", str(swap), "none@blur", "--sizes", "960x720", "--frames", "3", "--runs", "2", "--variants", "full",
                 "--ssim-frames", "0", "--look-frames", "2", "--no-startup", "--no-track", "--out", str(out)]) == 0
    report = json.loads((out / "fps.json").read_text())
    background = next(r for r in report["rows"] if r["filter"] == "none@blur")
    assert background["network"] is False and "background" in background["e2e"]["stages_ms"]
    assert {g["filter"] for g in report["goals"]} == {str(swap), "none@blur"}
    (look,) = report["look"]
    assert look["size"] == "960x720" and look["reference"] == "640x480"
    assert look["ssim"] > 0.99 and look["pass"] and all(abs(look["band_gain"][k] - 1) <= 0.05 for k in look["judged_bands"])
    table = (out / "fps.md").read_text()
    assert "The look across sizes" in table and "Goals at 1280x720 and 1920x1080" in table


def test_the_look_comparison_fails_a_filter_that_blurs_at_large_sizes():
    """A filter whose large output is a blur of its 480-line one must fail: the test that the
    comparison can fail."""
    import cv2
    import numpy as np

    from benchmarks.look_across_sizes import compare
    class BlursAtLargeSizes:  # swaps red and blue (a change in every band), blurred above 480 lines
        def apply(self, bgr):
            out = np.ascontiguousarray(bgr[..., ::-1])
            return cv2.GaussianBlur(out, (0, 0), 3) if min(bgr.shape[:2]) > 480 else out

    rng = np.random.default_rng(0)
    frames = [cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), np.uint8), (0, 0), 1.5) for _ in range(2)]
    result = compare(BlursAtLargeSizes(), frames)
    assert result["reference"] == "853x480" and not result["pass"] and result["worst_gain_gap"] > 0.05


def test_variant_auto_is_one_row_per_filter_named_by_the_file_realtime_runs(tmp_path):
    full = make_onnx_filter(tmp_path / "swap.onnx")
    make_onnx_filter(tmp_path / "swap.fast.onnx")
    lone = make_onnx_filter(tmp_path / "lone.onnx")
    out = tmp_path / "report"
    assert main(["--filter", str(full), str(lone), "--sizes", "256x192", "--frames", "3", "--runs", "2", "--variants", "auto",
                 "--ssim-frames", "0", "--look-frames", "0", "--no-startup", "--no-track", "--out", str(out)]) == 0
    rows = json.loads((out / "fps.json").read_text())["rows"]
    assert sorted((r["filter"].split("/")[-1], r["variant"]) for r in rows if not r["filter"].startswith("baseline")) == [
        ("lone.onnx", "full"), ("swap.onnx", "fast")]
