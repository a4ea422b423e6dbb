"""Gatys et al. (2015): stylise one image by optimising its pixels. Slow, the quality reference.

    python -m models.stylize_image --style STYLE.jpg --content PHOTO.jpg -o out.png
        [--loss-net random|vgg16 --vgg-weights vgg16-397923af.pth] [--size 384] [--steps 300]
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from realtime.errors import UserError, run_cli
from models.losses.perceptual import StyleLoss, StyleLossConfig, add_loss_args, loss_network, loss_options, random_features_options
from models.data.media import fit_short_side, read_rgb

log = logging.getLogger("stylize_image")


@dataclass
class GatysConfig:
    size: int = 384  # short side of the result
    steps: int = 300
    lr: float = 0.02
    init: str = "content"  # start from the content image or "noise"
    seed: int = 0


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255


def to_image(x: torch.Tensor) -> np.ndarray:
    return (x.detach().clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def stylize(content: np.ndarray, style: np.ndarray, net: torch.nn.Module, cfg: GatysConfig,
            loss_cfg: StyleLossConfig | None = None) -> tuple[np.ndarray, list[float]]:
    """Return the stylised image and the loss after every step."""
    torch.manual_seed(cfg.seed)
    c = to_tensor(fit_short_side(content, cfg.size))
    s = to_tensor(fit_short_side(style, cfg.size))
    loss_cfg = loss_cfg or StyleLossConfig()
    criterion = StyleLoss(net, s, loss_cfg)
    x = (c.clone() if cfg.init == "content" else torch.rand_like(c)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=cfg.lr)
    history = []
    for _ in tqdm(range(cfg.steps), desc="gatys", unit="step", leave=False):
        losses = criterion(x, c)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        history.append(losses["total"].item())
    return to_image(x), history


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.stylize_image", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", type=Path, required=True)
    p.add_argument("--content", type=Path, required=True)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.02)
    add_loss_args(p)
    p.add_argument("--init", choices=["content", "noise"], default="content")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for path in (a.style, a.content):
        if not path.is_file():
            raise UserError(f"image {path} does not exist")
    cfg = GatysConfig(size=a.size, steps=a.steps, lr=a.lr, init=a.init)
    loss_cfg = loss_options(a)
    image, history = stylize(read_rgb(a.content), read_rgb(a.style), loss_network(a.loss_net, a.vgg_weights, random_features_options(a)), cfg, loss_cfg)
    a.output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(a.output), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise UserError(f"cannot write {a.output}: use a .png or .jpg name in a writable folder")
    print(f"loss {history[0]:.4g} → {history[-1]:.4g}; wrote {a.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
