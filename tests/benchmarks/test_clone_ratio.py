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


def test_clone_ratio_scores_training_checkpoints_and_the_guided_bound(tmp_path, photo_folder):
    """--checkpoint runs PyTorch checkpoints (frames of any size: edge-padded to the multiple);
    --guided-factor runs a full network at a fraction of the size, guided-upsampled."""
    import torch

    from models.networks.checkpoint import save_checkpoint
    from models.networks.unet import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=4, norm_groups=4))
    save_checkpoint(tmp_path / "c.pt", net, {"name": "cartoon"})
    out = tmp_path / "r"
    common = ["--filter", "cartoon", "--data", str(photo_folder), "--holdout", "img0", "--out", str(out)]
    assert main([*common, "--checkpoint", str(tmp_path / "c.pt")]) == 0
    plain = json.loads((out / "report.json").read_text())["rows"][0]
    assert plain["variant"] == "checkpoint" and len(plain["styles"]["bold"]["by_code"]) == 4
    assert main([*common, "--checkpoint", str(tmp_path / "c.pt"), "--guided-factor", "3"]) == 0
    guided = json.loads((out / "report.json").read_text())["rows"][0]
    assert guided["variant"] == "guided 1/3" and guided["styles"]["bold"]["ratio"] != plain["styles"]["bold"]["ratio"]


def test_clone_ratio_refuses_a_guided_factor_without_checkpoints(capsys, tmp_path):
    from realtime.errors import run_cli

    code = run_cli(lambda: main(["--filter", "cartoon", "--guided-factor", "3"]))
    assert_one_line(code, capsys.readouterr().err, "--guided-factor needs --checkpoint")
    code = run_cli(lambda: main(["--filter", "cartoon", "--checkpoint", str(tmp_path / "none.pt")]))
    assert_one_line(code, capsys.readouterr().err, "does not exist")
