"""Johnson et al. (2016) fast style transfer: train a TransformerNet for one style image.

    python -m models.train_style --style STYLE.jpg --out runs/mosaic.pt [--images FOLDER]
        [--width 32] [--loss-net random|vgg16 --vgg-weights vgg16-397923af.pth] [--steps 4000]

Content images are random crops of the photos and video frames under --images (default: the
shared media); a few are held out and stylised into a sample sheet every --sample-every steps.
Resumable with --resume; Ctrl-C saves first. On N GPUs: ``torchrun --nproc-per-node N -m
models.train_style ...`` with ``--batch`` the global batch (:mod:`models.training.distributed`);
the loss terms normalised by the batch (content by its features' mean square) are then each
process's own, averaged, and the loss parts stored with a checkpoint are rank 0's.
"""
from __future__ import annotations

import argparse
import logging
import random
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from realtime.errors import UserError, run_cli
from models.losses.face_finder import FaceFinderLoss
from models.losses.perceptual import (RandomFeaturesConfig, StyleLoss, StyleLossConfig, add_loss_args, loss_network, loss_options,
                           random_features_options)
from models.data.media import data_root, fit_short_side, load_collection
from models.teachers.style_images import read_style
from models.data.pairs import CropConfig, random_crop, to_tensor
from models.train_pairs import DEFAULT_HOLDOUT
from models.training import distributed
from models.training.distributed import Distributed
from models.training.trainer import TrainingRun, add_run_args, check_loss_weights
from models.networks.checkpoint import load_state_checked, read_checkpoint
from models.networks.transformer_net import TransformerNet, TransformerNetConfig

log = logging.getLogger("train_style")


@dataclass
class StyleTrainConfig:
    style: Path
    out: Path
    images: Path = field(default_factory=data_root)
    holdout: tuple[str, ...] = DEFAULT_HOLDOUT
    width: int = 32
    res_blocks: int = 5
    loss_net: str = "random"
    vgg_weights: Path | None = None
    style_size: int = 384
    steps: int = 4000
    batch_size: int = 4
    crops: CropConfig = field(default_factory=lambda: CropConfig(crop=256, short_min=256, short_max=512))
    lr: float = 1e-3
    loss: StyleLossConfig = field(default_factory=StyleLossConfig)
    random: RandomFeaturesConfig = field(default_factory=RandomFeaturesConfig)  # the random loss network
    sample_every: int = 500
    init: Path | None = None  # a trained style network of the same shape to start from (fine-tuning)
    # first steps learn the identity by pixel L1 (cheap, no loss network): the perceptual loss then
    # starts from the photo, as Gatys starts from the content image, instead of from a grey field
    identity_steps: int = 200
    # noise stability (Gupta et al. 2017): the output of the frame plus Gaussian noise of
    # stability_noise grey levels held to the clean frame's, as (output change / noise)²; a camera's
    # sensor noise is what makes a style's strokes flicker on still pixels. 0 = off
    stability_weight: float = 0.0
    stability_noise: float = 4.0
    # faces kept (models.losses.face_finder): MediaPipe's face detector on the output against the
    # photo, each anchor's face score the output loses (score only: its encoder features would pull
    # the painting back to the photo); a painted face the detector no longer finds is a face a
    # call's face effects and a viewer lose. 0 = off
    face_weight: float = 0.0
    seed: int = 0
    device: str = "auto"
    name: str = "style"


def loss_meta_for(cfg: StyleTrainConfig) -> dict[str, Any]:
    """Everything needed to rebuild the training loss later (stored in the checkpoint)."""
    meta: dict[str, Any] = {"loss_net": cfg.loss_net, "loss": asdict(cfg.loss)}
    if cfg.loss_net == "random" or cfg.loss_net.startswith("random+"):
        meta["random_features"] = asdict(cfg.random)
    elif cfg.vgg_weights is not None:
        meta["vgg_weights"] = str(cfg.vgg_weights)
    return meta


def loss_config(meta: dict[str, Any]) -> StyleLossConfig:
    """The training loss's settings (settings this version does not know are ignored)."""
    known = {f.name for f in fields(StyleLossConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in meta.get("loss", {}).items() if k in known}
    return StyleLossConfig(**values)


def loss_network_for(meta: dict[str, Any]) -> torch.nn.Module:
    """The loss network a checkpoint was trained with (random features, or the user's VGG16)."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in meta.get("random_features", {}).items()}
    weights = meta.get("vgg_weights")
    return loss_network(meta.get("loss_net", "random"), Path(weights) if weights else None, RandomFeaturesConfig(**fields))


def camera_noise(x: torch.Tensor, sigma: float, seed: int, step: int) -> torch.Tensor:
    """``x`` (0–1) plus Gaussian noise of ``sigma`` grey levels, like a camera's sensor noise;
    the same noise for the same run ``seed`` and training ``step``."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return (x + (torch.randn(x.shape, generator=g) * sigma / 255.0).to(x.device)).clamp(0.0, 1.0)


def content_batch(images: list[np.ndarray], crops: CropConfig, size: int, rng: random.Random) -> torch.Tensor:
    return torch.stack([to_tensor(random_crop(images, crops, rng)) for _ in range(size)])


@torch.no_grad()
def sample_sheet(model: TransformerNet, images: list[np.ndarray], device: torch.device) -> np.ndarray:
    model.eval()
    rows = []
    for img in images[:3]:
        img = fit_short_side(img, 256)
        img = np.ascontiguousarray(img[: img.shape[0] // 4 * 4, : img.shape[1] // 4 * 4][:256, :256])
        y = model(to_tensor(img)[None].to(device) * 255).clamp(0, 255)[0].permute(1, 2, 0).cpu().numpy()
        rows.append(np.concatenate([img, y.astype(np.uint8)], 1))
    model.train()
    return np.concatenate(rows, 0)


def train(cfg: StyleTrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg``'s style network into ``cfg.out``; under torchrun one process of the run."""
    with distributed.session(cfg.device, cfg.batch_size) as dist:
        return _train(cfg, resume, dist)


def _train(cfg: StyleTrainConfig, resume: bool, dist: Distributed) -> dict[str, Any]:
    device = dist.device
    style = to_tensor(fit_short_side(read_style(cfg.style), cfg.style_size))[None].to(device)
    train_images, val_images = load_collection(cfg.images, set(cfg.holdout))
    loss_meta = loss_meta_for(cfg)
    net = loss_network_for(loss_meta).to(device)
    criterion = StyleLoss(net, style, loss_config(loss_meta))
    torch.manual_seed(cfg.seed)
    model = TransformerNet(TransformerNetConfig(cfg.width, cfg.res_blocks)).to(device)
    if cfg.init is not None:  # fine-tune a trained network (a resumed run loads its own state over it)
        load_state_checked(model, read_checkpoint(cfg.init).get("state_dict", {}),
                           f"--init {cfg.init} (give the same --width and --res-blocks)")
    else:
        with torch.no_grad():  # start from mid-grey, inside the output range (a resumed run loads its own)
            model.deconv3.conv2d.bias.fill_(127.5)
    run = TrainingRun(model, cfg.out, cfg.steps, cfg.lr, cfg.seed, cfg.name, resume, save_every=min(250, cfg.sample_every), dist=dist)
    net = dist.wrap(model)
    face_loss = FaceFinderLoss(features=0.0).to(device) if cfg.face_weight else None
    samples = cfg.out.with_suffix("")
    parts: dict[str, float] = {}

    def noisy(x: torch.Tensor) -> torch.Tensor:
        """``x`` plus the stability term's camera-like noise (fixed per step and seed)."""
        return camera_noise(x, cfg.stability_noise, cfg.seed, run.step)

    def train_step() -> torch.Tensor:
        x = dist.draw(lambda size, rng: content_batch(train_images, cfg.crops, size, rng), run.rng, cfg.batch_size,
                      run.step, cfg.seed).to(device)
        steady = bool(cfg.stability_weight) and run.step >= cfg.identity_steps
        # the noisy copy rides in the same batch: one forward (DDP allows one a step; the
        # network's instance norm keeps each picture's output its own)
        out = net((torch.cat([x, noisy(x)]) if steady else x) * 255.0) / 255.0
        y = out[: len(x)]
        if run.step < cfg.identity_steps:
            l1 = F.l1_loss(y, x)
            parts["identity_l1"] = l1.item()
            return l1
        losses = criterion(y, x)
        parts.pop("identity_l1", None)
        parts.update(content=losses["content"].item(), style=losses["style"].item())
        for term, weight in (("strokes", criterion.config.stroke_weight), ("halo", criterion.config.halo_weight),
                             ("ringing", criterion.config.ringing_weight)):
            if weight:
                parts[term] = losses[term].item()
        total = losses["total"]
        if face_loss is not None:
            face = face_loss(y.clamp(0.0, 1.0), x)
            parts["face"] = face.item()
            total = total + cfg.face_weight * face
        if not steady:
            return total
        stability = F.mse_loss(out[len(x):], y) / (cfg.stability_noise / 255.0) ** 2
        parts["stability"] = stability.item()
        return total + cfg.stability_weight * stability

    def after_step(step: int) -> None:
        if step % cfg.sample_every == 0 and val_images and dist.is_main:
            samples.mkdir(parents=True, exist_ok=True)
            sheet = sample_sheet(model, val_images, device)
            cv2.imwrite(str(samples / f"step{step:06d}.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))

    def on_save() -> dict[str, Any]:
        return {k if k == "identity_l1" else f"{k}_loss": round(v, 5) for k, v in parts.items()}

    meta = {"style_image": cfg.style.name, **loss_meta,
            "train_config": {k: str(v) for k, v in asdict(cfg).items()}}
    return run.run(train_step, after_step, on_save, meta)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.train_style", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", type=Path, required=True)
    p.add_argument("--images", type=Path, default=data_root(), help="content photos/videos (default: %(default)s)")
    p.add_argument("--width", type=int, default=32, help="32 = Johnson's network; 8 or 16 for CPU students")
    p.add_argument("--res-blocks", type=int, default=5)
    add_loss_args(p)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--init", type=Path, help="start from this trained style network of the same shape "
                   "(e.g. models/checkpoints/NAME.pt); give --identity-steps 0 to fine-tune it")
    p.add_argument("--identity-steps", type=int, default=StyleTrainConfig.identity_steps,
                   help="pixel-L1 identity warm-up steps before the style loss")
    p.add_argument("--stability-weight", type=float, default=StyleTrainConfig.stability_weight,
                   help="hold the output of the frame plus camera-like noise to the clean frame's "
                        "(against strokes that flicker on still pixels)")
    p.add_argument("--stability-noise", type=float, default=StyleTrainConfig.stability_noise,
                   help="that noise's standard deviation in grey levels (default: %(default)s)")
    p.add_argument("--face-weight", type=float, default=StyleTrainConfig.face_weight,
                   help="keep faces findable: MediaPipe's face detector (from the installed wheel) on the output against "
                        "the photo, the face score lost (models/losses/face_finder.py), e.g. 0.05")
    add_run_args(p, steps=4000, lr=1e-3, batch=4, crop=256)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not a.images.is_dir():
        raise UserError(f"content folder {a.images} does not exist or is not a folder")
    if a.init is not None and not a.init.is_file():
        raise UserError(f"--init {a.init}: no such checkpoint")
    if a.stability_weight and a.stability_noise <= 0:
        raise UserError(f"--stability-noise must be above 0 grey levels, got {a.stability_noise}")
    check_loss_weights(a, "face_weight", "halo_weight", "ringing_weight", "stroke_weight", "tone_weight")
    cfg = StyleTrainConfig(
        style=a.style, out=a.out, images=a.images, width=a.width, res_blocks=a.res_blocks, loss_net=a.loss_net,
        vgg_weights=a.vgg_weights, steps=a.steps, batch_size=a.batch, crops=CropConfig(crop=a.crop, short_min=a.crop, short_max=2 * a.crop),
        lr=a.lr, loss=loss_options(a), random=random_features_options(a),
        sample_every=a.sample_every, init=a.init, identity_steps=a.identity_steps,
        stability_weight=a.stability_weight, stability_noise=a.stability_noise, face_weight=a.face_weight, seed=a.seed, device=a.device, name=a.name or a.out.stem,
    )
    train(cfg, a.resume)
    if distributed.main_process():
        print(f"saved {cfg.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
