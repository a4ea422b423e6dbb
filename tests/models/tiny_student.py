"""The smallest distillation the tests run: a two-level UNet teacher (untrained, saved) and a
DistillConfig for a (4, 8) student of it on the shared test photos, a few steps on tiny crops."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from models.data.pairs import CropConfig
from models.distill import DistillConfig
from models.networks.checkpoint import save_checkpoint
from models.networks.unet import UNet, UNetConfig


def tiny_distill(folder: Path, images: Path, out: str = "plain.pt", crop: int = 32, short: tuple[int, int] = (48, 64), steps: int = 4,
                 **kw: Any) -> DistillConfig:
    """A saved tiny teacher ``folder``/t.pt and the config that distils it into ``folder``/``out``."""
    teacher = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, residual_output=True, norm_groups=4))
    save_checkpoint(folder / "t.pt", teacher, {"name": "t"})
    return DistillConfig(teacher=folder / "t.pt", out=folder / out, images=images, holdout=("img0",),
                         channels=(4, 8), steps=steps, batch_size=2, save_every=steps,
                         crops=CropConfig(crop=crop, short_min=short[0], short_max=short[1]), lr=5e-3,
                         **{"factor": 2, **kw})
