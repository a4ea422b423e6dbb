"""The band and chroma losses in the trainers: off by default, on with their options, and
fine-tuning legs that start from a trained network (train_pairs --init) or student (distill --init)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from models.data.pairs import CropConfig
from models.distill import DistillConfig, distill, main as distill_main
from models.losses.bands import BandLossConfig, DetailLoss
from models.networks.checkpoint import read_checkpoint, save_checkpoint
from models.networks.unet import UNet, UNetConfig
from models.train_pairs import TrainConfig, parse_args, train
from realtime.errors import UserError
from tests.models.tiny_student import tiny_distill


def tiny(tmp_path: Path, data: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(out=kw.pop("out", tmp_path / "tiny.pt"), teacher="sketch", data=data, holdout=("img0",), channels=(8, 16),
                       blocks_per_level=1, latent_codes=3, residual_output=True, norm_groups=4, steps=steps, batch_size=2,
                       crops=CropConfig(crop=32, short_min=48, short_max=64), lr=3e-3, save_every=steps, **kw)


def test_the_options_are_off_by_default_and_parse():
    cfg, _ = parse_args(["--out", "x.pt"])
    assert not cfg.detail_loss.active and cfg.init is None
    cfg, _ = parse_args(["--out", "x.pt", "--band-weight", "2", "--bands", "1:2,3", "--band-gain", "0.5", "--band-energy", "0", "--chroma-weight", "1",
                         "--init", "models/checkpoints/sketch.pt"])
    assert cfg.detail_loss == DetailLoss(2.0, BandLossConfig(bands=(1, 3), weights=(2.0, 1.0), energy=0.0, gain=0.5), 1.0)
    with pytest.raises(UserError, match="--bands"):
        parse_args(["--out", "x.pt", "--bands", "7"])
    with pytest.raises(UserError, match=">= 0"):
        parse_args(["--out", "x.pt", "--chroma-weight", "-1"])


def test_train_pairs_with_the_band_loss_logs_more_than_l1_and_goes_on_from_init(tmp_path, photo_folder):
    torch.manual_seed(0)
    plain = tiny(tmp_path, photo_folder, 4)
    train(plain)
    with_band = dataclasses.replace(plain, out=tmp_path / "band.pt", detail_loss=DetailLoss(5.0, chroma=5.0))
    train(with_band)
    h0, h1 = (read_checkpoint(p)["train_state"]["history"] for p in (plain.out, with_band.out))
    assert h1[0] > h0[0], "the first step's loss includes the band and chroma terms (same seed, same batch)"
    # a fine-tuning leg: starts from the trained weights, counts their steps
    leg = dataclasses.replace(with_band, out=tmp_path / "leg.pt", init=plain.out, steps=2, save_every=2)
    meta = train(leg)
    assert meta["total_steps"] == 6
    first = read_checkpoint(leg.out)["train_state"]["history"][0]
    assert first < h1[0], "started from trained weights, not from scratch"
    with pytest.raises(UserError, match="--init"):
        train(dataclasses.replace(leg, out=tmp_path / "bad.pt", channels=(4, 8)))


def test_distill_with_the_band_and_chroma_loss_reports_band_scores(tmp_path, photo_folder):
    torch.manual_seed(0)
    teacher = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=3, residual_output=True,
                              norm_groups=4))
    save_checkpoint(tmp_path / "sketch.pt", teacher, {"name": "sketch", "teacher": "sketch",
                                                      "style_codes": {"graphite": 0, "charcoal": 1, "coloured": 2}})
    cfg = DistillConfig(teacher=tmp_path / "sketch.pt", out=tmp_path / "s.pt", images=photo_folder, holdout=("img0",),
                        channels=(4, 8), factor=2, steps=4, batch_size=2, save_every=4, target="classical",
                        crops=CropConfig(crop=32, short_min=48, short_max=64), lr=5e-3,
                        detail_loss=DetailLoss(1.0, BandLossConfig(gain=1.0), chroma=1.0))
    meta = distill(cfg)
    bands = meta["val_bands"]
    assert set(bands) == {"graphite", "charcoal", "coloured"}
    assert all(len(b["G"]) == 3 and len(b["A"]) == 3 and np.isfinite(b["G"]).all() for b in bands.values())
    assert bands["graphite"]["teacher_tint"] == 0 and bands["coloured"]["teacher_tint"] > 0
    # the command line reaches the same config, and a leg goes on from a trained student
    assert distill_main(["--teacher", str(tmp_path / "sketch.pt"), "--init", str(cfg.out), "--out", str(tmp_path / "leg.pt"),
                         "--images", str(photo_folder), "--channels", "4,8", "--steps", "2", "--crop", "32", "--batch", "2",
                         "--target", "classical", "--band-weight", "1", "--chroma-weight", "1"]) == 0
    saved = read_checkpoint(tmp_path / "leg.pt")["meta"]
    assert saved["total_steps"] == 6 and "'band': 1.0" in saved["train_config"]["detail_loss"]


@pytest.mark.parametrize("term", ["halo", "ringing"])
def test_distill_with_the_halo_or_ringing_term_charges_the_student(tmp_path, photo_folder, term):
    """--halo-weight and --ringing-weight add the style trainer's halo term (the output's block
    lightness change from the photo, less its blur) and the ringing term (the change locked to the
    photo's strong edges) to the student's loss: the same seed and batch cost more with each, and
    the command line refuses a negative weight before any work."""
    torch.manual_seed(0)
    plain = tiny_distill(tmp_path, photo_folder, crop=64, short=(64, 96), steps=2)
    distill(plain)
    distill(dataclasses.replace(plain, out=tmp_path / "term.pt", **{f"{term}_weight": 1e4}))
    h0, h1 = (read_checkpoint(tmp_path / f"{n}.pt")["train_state"]["history"] for n in ("plain", "term"))
    assert h1[0] > h0[0]
    assert f"'{term}_weight': '10000.0'" in str(read_checkpoint(tmp_path / "term.pt")["meta"]["train_config"])
    with pytest.raises(UserError, match=f"--{term}-weight is a loss weight"):
        distill_main(["--teacher", str(tmp_path / "t.pt"), "--out", str(tmp_path / "x.pt"), "--images", str(photo_folder),
                      f"--{term}-weight", "-1"])
