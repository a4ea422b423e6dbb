"""benchmarks.compare_runs: medians per row, ratios, and the rows a change wins."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.compare_runs import compare, main, sign_test
from tests.conftest import assert_one_line


def row(name: str, size: str, fps: float, kept: float, p95: float, infer: float, around: float) -> dict:
    return {"filter": name, "size": size,
            "e2e": {"fps_output": fps, "stages_ms": {f"infer:{name}": {"p50": infer}, "temporal": {"p50": 1.0}}},
            "live": {"processed_share": kept, "latency_ms": {"p50": p95 - 10, "p95": p95}},
            "non_inference_ms": around}


def run(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True)
    baseline = {"filter": "baseline-johnson", "size": "640x480", "e2e": {}, "live": {}}
    (folder / "fps.json").write_text(json.dumps({"meta": {"machine": "test cpu", "date": "today"}, "rows": [baseline, *rows]}))
    return folder


def test_medians_ratios_and_the_rows_where_after_wins():
    before = [{"rows": [row("sketch", "640x480", f, 0.9, 60, 30, 3), row("cartoon", "640x480", 20, 0.8, 80, 40, 4)]}
              for f in (30, 20, 40)]  # sketch's median: 30 (the outlier of one run does not count)
    after = [{"rows": [row("sketch", "640x480", f, 0.99, 48, 27, 3.3), row("cartoon", "640x480", 19, 0.8, 88, 42, 4),
                       row("candy", "640x480", 50, 1, 30, 20, 2)]} for f in (33, 36, 10)]
    result = compare(before, after)
    sketch, cartoon = result["rows"]
    assert (sketch["filter"], sketch["runs"]) == ("sketch", [3, 3])
    assert sketch["measures"]["e2e fps"] == {"before": 30, "after": 33, "ratio": 1.1}
    assert sketch["measures"]["live p95"]["ratio"] == 0.8
    assert cartoon["measures"]["e2e fps"]["ratio"] == 0.95
    s = result["summary"]
    assert s["e2e fps"]["after_better_rows"] == 1 and s["e2e fps"]["rows"] == 2
    assert s["network"]["after_better_rows"] == 1  # lower is better: 27 < 30 wins, 42 > 40 loses
    assert s["non-network"]["after_better_rows"] == 0
    assert s["e2e fps"]["geomean_ratio"] == pytest.approx((1.1 * 0.95) ** 0.5, abs=1e-3)
    assert result["left_out"] == ["candy 640x480"]
    assert s["e2e fps"]["sign_test_p"] == 1.0  # one win, one loss



def test_the_analysers_count_where_they_run():
    def analysed(track: float, person: float) -> dict:
        r = row("aged@blur", "1280x720", 30, 0.9, 70, 18, 10)
        r["e2e"]["stages_ms"].update({"track": {"p50": track}, "person": {"p50": person}})
        return r

    before = [{"rows": [analysed(t, 5.0), row("sketch", "1280x720", 30, 0.9, 60, 30, 3)]} for t in (3.0, 3.2, 9.0)]
    after = [{"rows": [analysed(t, 4.0), row("sketch", "1280x720", 30, 0.9, 60, 30, 3)]} for t in (1.0, 1.1, 1.3)]
    result = compare(before, after)
    aged, sketch = result["rows"]
    assert aged["measures"]["analysis"] == {"before": 8.2, "after": 5.1, "ratio": 0.622}
    assert sketch["measures"]["analysis"] == {"before": 0.0, "after": 0.0, "ratio": None}
    assert result["summary"]["analysis"]["rows"] == 1 and result["summary"]["analysis"]["after_better_rows"] == 1


def test_the_sign_test_of_wins_and_losses():
    assert sign_test(12, 0) == pytest.approx(2 / 4096) and sign_test(0, 12) == sign_test(12, 0)
    assert sign_test(9, 3) == pytest.approx(2 * (220 + 66 + 12 + 1) / 4096)
    assert sign_test(3, 3) == 1.0 and sign_test(0, 0) == 1.0


def test_the_report_its_plot_and_one_line_for_a_folder_without_runs(tmp_path, capsys):
    b = run(tmp_path / "b1", [row("aged", "1280x720", 30, 0.9, 70, 18, 10)])
    a = run(tmp_path / "a1", [row("aged", "1280x720", 33, 0.95, 60, 16, 10)])
    assert main(["--before", str(b), "--after", str(a), "--what", "one setting", "--out", str(tmp_path / "r")]) == 0
    text = (tmp_path / "r" / "report.md").read_text()
    assert "| aged | 1280x720 | 30 → 33 | 90 → 95 |" in text and "one setting" in text
    assert (tmp_path / "r" / "plot.png").stat().st_size > 0
    assert json.loads((tmp_path / "r" / "report.json").read_text())["summary"]["frames kept"]["after_better_rows"] == 1
    capsys.readouterr()
    cmd = [sys.executable, "-m", "benchmarks.compare_runs", "--before", str(b), str(tmp_path / "nothing"), "--after", str(a),
           "--out", str(tmp_path / "r2")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert_one_line(done.returncode, done.stderr, "no fps.json in", "nothing", "before")
    assert not (tmp_path / "r2").exists()


def test_a_row_whose_runs_lie_apart():
    """Every after-run better than every before-run: the row says so, per measure and direction."""
    before = [{"rows": [row("cartoon@blur", "1920x1080", f, 0.5, 120, i, 12)]} for f, i in ((13.4, 58), (12.8, 57), (14.4, 60))]
    after = [{"rows": [row("cartoon@blur", "1920x1080", f, 0.5, 110, i, 9)]} for f, i in ((16.6, 46), (17.4, 45), (14.0, 44))]
    result = compare(before, after)
    apart = result["rows"][0]["apart"]
    assert apart["network"] and apart["non-network"]  # lower is better: 44-46 all under 57-60
    assert not apart["e2e fps"]  # 14.0 after is under 14.4 before
    assert not apart["frames kept"]  # the same in every run: not apart
    assert result["summary"]["network"]["runs_apart_rows"] == 1 and result["summary"]["e2e fps"]["runs_apart_rows"] == 0
