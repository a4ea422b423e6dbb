"""benchmarks.upsample_bound on generated photos: each upsampler's ratio with a perfect network, the files."""
from __future__ import annotations

import json

from benchmarks.upsample_bound import GAIN_EDGES, GAIN_MAPS, main
from tests.conftest import assert_one_line


def test_the_bound_scores_every_upsampler_and_writes_files(tmp_path, photo_folder):
    out = tmp_path / "b"
    assert main(["--filter", "oil", "--data", str(photo_folder), "--holdout", "img0", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    (row,) = report["rows"]
    ratios = row["ratios"]
    assert set(ratios) == {"bilinear", "bicubic", "guided (students, r 2, eps 1e-3)", "bilinear + frame detail", GAIN_MAPS,
                           f"gain maps + edges σ {GAIN_EDGES} (best fit)"}
    # a perfect network's output shrunk 3x and brought back is nearer the teacher than the photo
    assert all(0 < r["ratio"] < 1 for r in ratios.values()), ratios
    # maps fitted to the teacher make more of its band-1 change than no full-size detail at all
    assert ratios[GAIN_MAPS]["G_1"] > ratios["bilinear"]["G_1"], ratios
    assert "G_1" in (out / "report.md").read_text()
    assert "| oil |" in (out / "report.md").read_text() and (out / "plot.png").stat().st_size > 1000


def test_the_bound_refuses_a_factor_no_student_uses(capsys):
    from realtime.errors import run_cli

    assert_one_line(run_cli(lambda: main(["--filter", "cartoon", "--factor", "1"])), capsys.readouterr().err, "--factor 1")
    assert_one_line(run_cli(lambda: main(["--filter", "candy"])), capsys.readouterr().err, "no teacher for candy")
