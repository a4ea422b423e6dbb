"""benchmarks.clone_ratio on generated photos: the ratio per style and code, the files."""
from __future__ import annotations

import json

from benchmarks.clone_ratio import main
from tests.conftest import assert_one_line


def test_clone_ratio_reports_each_style_best_code_and_writes_files(tmp_path, photo_folder):
    out = tmp_path / "r"
    assert main(["--filter", "cartoon", "--variants", "fast", "--data", str(photo_folder), "--holdout", "img0,img1",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == 2
    (row,) = report["rows"]
    assert set(row["styles"]) == {"bold", "soft", "vivid", "muted"}
    for s in row["styles"].values():
        assert 0 < s["ratio"] == min(s["by_code"]) and s["by_code"][s["best_code"]] == s["ratio"]
        assert s["ratio"] < 1.5  # a trained cartoon is nearer its teacher than far from it
    assert "| cartoon | fast | bold |" in (out / "report.md").read_text() and (out / "plot.png").stat().st_size > 1000


def test_clone_ratio_refuses_a_filter_without_a_teacher(capsys):
    from realtime.errors import run_cli

    code = run_cli(lambda: main(["--filter", "candy"]))
    assert_one_line(code, capsys.readouterr().err, "no teacher for candy")
