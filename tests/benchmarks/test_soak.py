"""The soak benchmark end to end on a few seconds of a tiny synthetic source, and its verdict."""
from __future__ import annotations

import json

import pytest

from benchmarks.soak import drift, main
from realtime.errors import UserError


def test_a_short_soak_writes_windows_a_verdict_and_a_plot(tmp_path):
    out = tmp_path / "soak"
    assert main(["--minutes", "0.05", "--source", "synthetic", "--size", "160x120", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    windows = report["windows"]
    assert report["options"]["window_s"] == pytest.approx(0.3) and report["options"]["filter"] == "aged+cartoon"
    assert len(windows) >= 6, windows  # 3 s in windows of 0.3 s (the last one may be cut by the end)
    for w in windows:
        assert w["rss_mb"] > 50 and w["fps"] > 0 and w["latency_p95_ms"] >= w["latency_p50_ms"] > 0
    assert report["run"]["frames_output"] == 90 and report["run"]["filters"].startswith("aged+cartoon")
    result = report["result"]
    assert result["windows_after_warmup"] >= 2 and isinstance(result["passed"], bool)
    assert result["rss_growth_pct"] is not None and result["p95_drift_pct"] is not None
    md = (out / "report.md").read_text()
    assert "| window | end s | fps |" in md and "RSS growth after the warm-up" in md
    assert (out / "plot.png").stat().st_size > 5000


def test_drift_finds_a_leak_and_a_slow_down_but_not_the_warm_up():
    def windows(rss, p95):
        return [{"index": i, "end_s": 60.0 * (i + 1), "rss_mb": r, "latency_p50_ms": p / 2, "latency_p95_ms": p,
                 "new_results": 100, "fps": 30.0} for i, (r, p) in enumerate(zip(rss, p95))]

    # warm-up grows memory and latency: not judged; flat after it
    flat = drift(windows([100, 150, 200, 220, 240] + [300] * 55, [90] * 5 + [50] * 55), warmup_s=300)
    assert flat["passed"] and flat["rss_growth_pct"] == 0 and flat["p95_drift_pct"] == 0 and flat["group"] == 5
    leak = drift(windows([300 + i for i in range(60)], [50] * 60), warmup_s=300)  # 1 MB a minute
    assert not leak["rss_ok"] and leak["p95_ok"] and leak["rss_growth_pct"] == pytest.approx(54 / 305 * 100, abs=0.01)
    slower = drift(windows([300] * 60, [50] * 50 + [60] * 10), warmup_s=300)
    assert slower["rss_ok"] and not slower["p95_ok"] and slower["p95_drift_pct"] == pytest.approx(20)
    assert drift(windows([300] * 3, [50] * 3), warmup_s=300)["passed"] is None  # too short to judge


def test_bad_options_are_one_line_before_any_work(tmp_path):
    with pytest.raises(UserError, match=r"--minutes must be at least 0.01, got 0.0; --window-s must be at least 0.1"):
        main(["--minutes", "0", "--window-s", "0", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()
