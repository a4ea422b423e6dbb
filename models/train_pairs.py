"""Paired training (FilterClone's recipe): clone a filter from (input, output) pairs.

    python -m models.train_pairs --teacher cartoon --out runs/cartoon.pt --steps 3000
    python -m models.train_pairs --teacher aged --crop 192 --latent-codes 3 --out runs/aged.pt
    python -m models.train_pairs --pairs FOLDER --out runs/myfilter.pt
    python -m models.train_pairs --teacher aged --post creases --init models/checkpoints/aged.pt ...  # creases drawn after it

A face teacher (``aged``) trains on aligned face crops (:mod:`models.data.face_crops`), the crops
the runtime's face filter kind feeds the network, ``--crop`` pixels a side. ``--post creases``:
the targets are the teacher without its creases (:func:`models.teachers.aging.aged_base`); the
runtime draws them after the network from the tracked mesh, as the export's contract asks;
``--post texture+creases``: the rougher skin too (:func:`models.teachers.aging.aged_smooth`).

L1 ("median") regression plus 0.01 × the VQ codebook losses, Adam, random crops, dead codes
reset every 100 steps. Resumable (``--resume`` continues from ``--out``); Ctrl-C saves first.

On N GPUs: ``torchrun --nproc-per-node N -m models.train_pairs ... --batch 8N`` (``--batch`` is
the global batch, batch/N a process; :mod:`models.training.distributed`). The codebook's k-means
start and dead-code resets see the whole global batch's encodings, are made on rank 0 and
broadcast.
"""
from __future__ import annotations

import argparse
import logging
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch

from realtime.errors import UserError, run_cli
from models.networks.registry import build_model
from models.networks.calling import inner_network, set_monochrome_codes
from models.networks.checkpoint import load_state_checked, read_checkpoint, steps_trained
from models.losses.bands import DetailLoss, add_detail_args, detail_options
from models.data.media import HOLDOUT, data_root, fit_short_side, load_collection
from models.training import distributed
from models.training.distributed import Distributed
from models.training.trainer import TrainingRun, add_run_args, parse_ints
from models.data.pairs import CropConfig, FolderPairs, add_defocus_args, defocus_options, PairSource, TeacherPairs, batch, styled, to_tensor, unlabelled
from models.teachers.aging import AGE_STYLES, aged, aged_base, aged_smooth
from models.data.face_crops import FaceCrops, FaceTeacherPairs, cached_face_crops
from models.teachers.classical import STYLED_TEACHERS, TEACHERS, monochrome_codes
from models.networks.unet import UNet, kmeans

log = logging.getLogger("train_pairs")
DEFAULT_HOLDOUT = HOLDOUT
# teachers that name their variants: models.teachers.classical.STYLED_TEACHERS; a variant's index in its
# dict is its latent code (see `labelled` in train())
# face teachers draw on aligned face crops: fn(crop, landmarks, person mask, style)
FACE_TEACHERS: dict[str, tuple[Callable[..., np.ndarray], dict[str, Any]]] = {"aged": (aged, AGE_STYLES)}
# what the runtime can draw after a face network (``--post``; the contract's ``filter.post``), and
# per face teacher the teacher without it: the network clones that, the runtime adds the rest
POST_STEPS: dict[str, dict[str, Callable[..., np.ndarray]]] = {"aged": {"creases": aged_base, "texture+creases": aged_smooth}}


def mark_monochrome(model: torch.nn.Module, meta: dict[str, Any]) -> tuple[int, ...]:
    """Give a clone of a classical teacher (``meta``: its ``teacher`` and ``style_codes``) that has
    no monochrome codes yet those of its grey styles (:func:`models.teachers.classical.monochrome_codes`):
    checkpoints trained before the flag existed. Returns the model's monochrome codes."""
    inner = inner_network(model)
    current = tuple(getattr(inner.config, "monochrome_codes", ()))
    if current or not isinstance(inner, UNet):
        return current
    codes = monochrome_codes(meta.get("teacher"), meta.get("style_codes", {}))
    if codes:
        log.info("latent codes %s stand for grey %s styles: their output is made grey", list(codes), meta.get("teacher"))
        set_monochrome_codes(model, codes)
    return codes


@dataclass
class TrainConfig:
    out: Path
    teacher: str | None = "cartoon"
    pairs: Path | None = None
    data: Path = field(default_factory=data_root)
    holdout: tuple[str, ...] = DEFAULT_HOLDOUT
    channels: tuple[int, ...] = (32, 64, 64, 128)
    blocks_per_level: int = 2
    num_downsamples: int = 2
    latent_codes: int = 4
    residual_output: bool = False
    norm_groups: int = 32
    edge_sigmas: tuple[tuple[float, float], ...] = ()
    tone_frequencies: int = 0
    steps: int = 10000
    batch_size: int = 8
    crops: CropConfig = field(default_factory=CropConfig)
    lr: float = 1e-4
    vq_weight: float = 0.01
    reset_every: int = 100
    vq_warmup: int = 0  # steps with the continuous code before k-means initialises the codebook
    discover_codes: bool = False  # FilterClone's VQ even when the teacher says which variant it drew
    save_every: int = 250
    # losses that do not reward fading (models/losses/bands.py): per-band energy of the change, chroma; off by default
    detail_loss: DetailLoss = field(default_factory=DetailLoss)
    init: Path | None = None  # a trained network of the same shape to start from (a released checkpoint too)
    seed: int = 0
    device: str = "auto"
    name: str = "filter"
    post: str = ""  # a step the runtime draws after the network (POST_STEPS): the targets leave it out


Validation = tuple[torch.Tensor, torch.Tensor, list[str], torch.Tensor]  # inputs, targets, style names, their codes


def validation_pairs(images: list[np.ndarray], fn: Callable[..., np.ndarray], styles: dict[str, Any]) -> Validation:
    """Fixed validation set: a centred 256² crop of each held-out image under every teacher style."""
    xs, ys, names, codes = [], [], [], []
    for img in images:
        img = fit_short_side(img, 256)
        h, w = img.shape[:2]
        crop = np.ascontiguousarray(img[(h - 256) // 2 : (h - 256) // 2 + 256, (w - 256) // 2 : (w - 256) // 2 + 256])
        for k, (style_name, style) in enumerate(styles.items()):
            xs.append(to_tensor(crop))
            ys.append(to_tensor(fn(crop, style)))
            names.append(style_name)
            codes.append(k)
    return torch.stack(xs), torch.stack(ys), names, torch.tensor(codes)


def face_validation_pairs(crops: FaceCrops, fn: Callable[..., np.ndarray], styles: dict[str, Any], size: int,
                          limit: int = 24) -> Validation:
    """Fixed validation set of a face teacher: up to ``limit`` held-out crops (evenly spread)
    under every style, shrunk to the network's ``size``."""
    pick = np.linspace(0, len(crops) - 1, min(limit, len(crops))).round().astype(int) if len(crops) else []
    xs, ys, names, codes = [], [], [], []
    for i in sorted(set(pick)):
        img, lm, person = crops.images[i], crops.landmarks[i], crops.person[i]
        for k, (style_name, style) in enumerate(styles.items()):
            out = fn(img, lm, person, style)
            xs.append(to_tensor(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)))
            ys.append(to_tensor(cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)))
            names.append(style_name)
            codes.append(k)
    return torch.stack(xs), torch.stack(ys), names, torch.tensor(codes)


@torch.no_grad()
def evaluate(model: UNet, val: Validation, device: torch.device, labelled: bool) -> dict[str, Any]:
    """Validation L1 (0–1 scale), which code each style gets (``labelled``: its own; else the
    one the encoder picks) and the ratio L1(network, teacher) / L1(photo, teacher) (1 = no
    better than the photo)."""
    xs, ys, styles, labels = val
    model.eval()
    total, photo, votes = 0.0, 0.0, {}
    for i in range(0, len(xs), 8):
        x, y = xs[i : i + 8].to(device), ys[i : i + 8].to(device)
        out = model(x, latent=labels[i : i + 8].to(device)) if labelled else model(x, target=y)
        total += (out.image.clamp(0, 1) - y).abs().mean(dim=(1, 2, 3)).sum().item()
        photo += (x - y).abs().mean(dim=(1, 2, 3)).sum().item()
        if out.indices is not None:
            for s, k in zip(styles[i : i + 8], out.indices.tolist()):
                votes.setdefault(s, []).append(k)
    model.train()
    codes = {s: max(set(v), key=v.count) for s, v in votes.items()}
    return {"val_l1": total / len(xs), "val_ratio": total / max(photo, 1e-9), "style_codes": codes}


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg``'s network into ``cfg.out``; under torchrun one process of the run."""
    with distributed.session(cfg.device, cfg.batch_size) as dist:
        return _train(cfg, resume, dist)


def _train(cfg: TrainConfig, resume: bool, dist: Distributed) -> dict[str, Any]:
    device = dist.device
    styles: dict[str, Any] | None = None
    val: Validation | None = None
    if cfg.pairs is not None:
        source: PairSource = FolderPairs(cfg.pairs, cfg.crops)
    elif cfg.teacher in FACE_TEACHERS:
        fn, styles = FACE_TEACHERS[cfg.teacher]
        if cfg.post:
            fn = POST_STEPS[cfg.teacher][cfg.post]
            log.info("targets: the %s teacher without its %s (the runtime draws them after the network)", cfg.teacher, cfg.post)
        with dist.main_first():  # rank 0 writes the cache, the others read it
            train_crops, val_crops = cached_face_crops(cfg.data, cfg.out.parent).split(set(cfg.holdout))
        log.info("%d training and %d validation face crops", len(train_crops), len(val_crops))
        source = FaceTeacherPairs(train_crops, styled(fn, list(styles.values())), cfg.crops.crop, cfg.crops.flip)
        if len(val_crops) and dist.is_main:  # validation: rank 0's job
            val = face_validation_pairs(val_crops, fn, styles, cfg.crops.crop)
    elif cfg.teacher in STYLED_TEACHERS:
        fn, styles = STYLED_TEACHERS[cfg.teacher]
        train_images, val_images = load_collection(cfg.data, set(cfg.holdout))
        source = TeacherPairs(train_images, styled(fn, list(styles.values())), cfg.crops)
        if val_images and dist.is_main:
            val = validation_pairs(val_images, fn, styles)
    elif cfg.teacher in TEACHERS:
        source = TeacherPairs(load_collection(cfg.data, set(cfg.holdout))[0], unlabelled(TEACHERS[cfg.teacher]), cfg.crops)
    else:
        raise UserError(f"unknown teacher {cfg.teacher!r}; known: {', '.join(sorted({*TEACHERS, *STYLED_TEACHERS, *FACE_TEACHERS}))}")
    # a teacher that names its variants trains one code per variant directly (no VQ to discover
    # them: FilterClone's VQ, on our 4-variant cartoon, put three variants on one code)
    labelled = styles is not None and cfg.latent_codes == len(styles) and not cfg.discover_codes
    if styles is not None and cfg.latent_codes and not labelled:
        log.info("the teacher has %d variants; %d codes discovered by VQ", len(styles), cfg.latent_codes)
    if cfg.post and cfg.teacher not in FACE_TEACHERS:  # checked in parse_args too; a TrainConfig may come from elsewhere
        raise UserError(f"--post {cfg.post} is for the face teachers {', '.join(POST_STEPS)}, not {cfg.teacher or '--pairs'}")
    torch.manual_seed(cfg.seed)
    model = build_model("unet", dict(
        channels=cfg.channels, blocks_per_level=cfg.blocks_per_level, num_downsamples=min(cfg.num_downsamples, len(cfg.channels) - 1),
        latent_codes=cfg.latent_codes, residual_output=cfg.residual_output, norm_groups=cfg.norm_groups,
        edge_sigmas=cfg.edge_sigmas, tone_frequencies=cfg.tone_frequencies,
        # the codes of grey teacher styles give grey output by construction (only when the teacher names the codes)
        monochrome_codes=monochrome_codes(cfg.teacher, {name: k for k, name in enumerate(styles)}) if labelled else ())).to(device)
    earlier = 0  # steps of the network --init started from: a fine-tuning leg continues its training
    if cfg.init is not None:
        payload = read_checkpoint(cfg.init)
        earlier = steps_trained(payload.get("meta", {}))
        if not (resume and cfg.out.is_file()):
            load_state_checked(model, payload.get("state_dict", {}), f"--init {cfg.init} (give the same --channels, --blocks, "
                                                                       "--latent-codes, --edge-sigmas, --tone-frequencies ...)")
    run = TrainingRun(model, cfg.out, cfg.steps, cfg.lr, cfg.seed, cfg.name, resume, cfg.save_every, dist)
    # some parameters get no gradient in some steps: the encoder when the teacher names the codes, the codebook in the warm-up
    net = dist.wrap(model, find_unused=labelled or bool(cfg.latent_codes and cfg.vq_warmup))
    usage = torch.zeros(max(cfg.latent_codes, 1), dtype=torch.long)
    recent: deque[torch.Tensor] = deque(maxlen=32)
    last: dict[str, Any] = {}

    def train_step() -> torch.Tensor:
        x, y, codes = dist.draw(lambda size, rng: batch(source, size, rng), run.rng, cfg.batch_size, run.step, cfg.seed)
        x, y = x.to(device), y.to(device)
        if labelled:
            out = net(x, latent=codes.to(device))
        elif cfg.latent_codes:
            out = net(x, target=y, quantize=run.step >= cfg.vq_warmup)
        else:
            out = net(x)
        last["out"] = out
        l1 = (out.image - y).abs().mean()
        if cfg.detail_loss.active:
            l1 = l1 + cfg.detail_loss(out.image, y, x)
        # logged loss is the L1 (+ the band and chroma terms when asked); the VQ terms ride along with their small weight
        return l1 + cfg.vq_weight * out.vq_loss

    def after_step(step: int) -> None:
        out = last["out"]
        if out.encodings is None:  # no latent, or codes given by the teacher: no codebook to keep alive
            return
        # the whole global batch's encodings and codes (this process's own when it is the only one)
        recent.append(dist.gather(out.encodings))
        codebook = model.quantizer.codebook
        if step <= cfg.vq_warmup:
            if step == cfg.vq_warmup:
                def start_codebook() -> None:
                    codebook.data = kmeans(torch.cat(list(recent)), cfg.latent_codes, seed=cfg.seed)
                dist.edit(start_codebook, codebook)
                log.info("step %d: codebook initialised by k-means on %d encodings", step, sum(len(r) for r in recent))
            return
        usage.add_(torch.bincount(dist.gather(out.indices).cpu(), minlength=cfg.latent_codes))
        if step % cfg.reset_every == 0:
            moved = dist.edit(lambda: model.quantizer.reset_codes(usage == 0, torch.cat(list(recent))), codebook)
            if moved:
                log.info("step %d: reset %d dead latent codes", step, moved)
            usage.zero_()

    def on_save() -> dict[str, Any]:
        if val is None:
            return {}
        found = evaluate(model, val, device, labelled)
        return {**found, "style_codes": {name: k for k, name in enumerate(styles or {})}} if labelled else found

    meta = {"teacher": cfg.teacher, "codes_from_teacher": labelled, **({"post": cfg.post} if cfg.post else {}),
            **({"total_steps": earlier + cfg.steps} if earlier else {}), "train_config": {k: str(v) for k, v in asdict(cfg).items()}}
    return run.run(train_step, after_step, on_save, meta)


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, bool]:
    p = argparse.ArgumentParser(prog="python -m models.train_pairs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--teacher", default="cartoon", help=f"filter to clone on the fly ({', '.join(sorted({*TEACHERS, *FACE_TEACHERS}))})")
    src.add_argument("--pairs", type=Path, help="folder with inputs/ and outputs/ images of the same names")
    p.add_argument("--data", type=Path, default=data_root(), help="photos/videos for --teacher (default: %(default)s)")
    p.add_argument("--holdout", default=",".join(DEFAULT_HOLDOUT), help="file stems kept out for validation")
    p.add_argument("--channels", default="32,64,64,128")
    p.add_argument("--blocks", type=int, default=2, help="residual blocks per level")
    p.add_argument("--downsamples", type=int, default=2, help="2× downsamplings (more = wider view, cheaper)")
    p.add_argument("--latent-codes", type=int, default=4, help="K variants (0 = no latent)")
    p.add_argument("--residual", action="store_true", help="predict output − input (trains faster)")
    p.add_argument("--norm-groups", type=int, default=32, help="GroupNorm groups (fewer train faster in thin nets)")
    p.add_argument("--edge-sigmas", default="", help="fixed DoG input channels, e.g. 1.2:3,1.5:4 (centre:surround σ)")
    p.add_argument("--tone-frequencies", type=int, default=0,
                   help="fixed sin/cos channels of the lightness at 1..F cycles (bands of lightness: F ≈ their count)")
    p.add_argument("--vq-warmup", type=int, default=0, help="steps with a continuous code, then k-means codebook init")
    p.add_argument("--discover-codes", action="store_true",
                   help="let the VQ encoder find the variants even when the teacher names them (FilterClone's way)")
    p.add_argument("--short-min", type=int, default=256, help="images are scaled so their short side is")
    p.add_argument("--short-max", type=int, default=384, help="… a random size in [short-min, short-max]")
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--init", type=Path, help="start from this trained network of the same shape (e.g. models/checkpoints/NAME.pt)")
    p.add_argument("--post", default="", help="a step the runtime draws after the network, left out of the targets "
                   "(aged: creases, the wrinkles drawn from the tracked mesh; texture+creases, the rougher skin too); "
                   "the export asks the runtime for it")
    add_defocus_args(p)
    add_detail_args(p)
    add_run_args(p, steps=10000, lr=1e-4, batch=8, crop=256)
    a = p.parse_args(argv)
    channels = parse_ints(a.channels, "--channels")
    try:
        edges = tuple((float(c), float(s)) for c, s in (pair.split(":") for pair in a.edge_sigmas.split(",") if pair))
    except ValueError:
        raise UserError(f"--edge-sigmas must look like 1.2:3,1.5:4, got {a.edge_sigmas!r}") from None
    if a.post and (a.pairs or a.post not in POST_STEPS.get(a.teacher, {})):
        known = "; ".join(f"--teacher {t}: {', '.join(steps)}" for t, steps in POST_STEPS.items())
        raise UserError(f"--post {a.post!r} is not a step the runtime draws after {a.teacher if not a.pairs else '--pairs'} ({known})")
    if a.defocus and (a.pairs or a.teacher in FACE_TEACHERS):
        why = "a folder of pairs has fixed outputs" if a.pairs else f"the face teacher {a.teacher} draws on aligned face crops"
        raise UserError(f"--defocus blurs a crop before a frame teacher draws on it; {why}: leave it out")
    cfg = TrainConfig(
        out=a.out, teacher=None if a.pairs else a.teacher, pairs=a.pairs, data=a.data,
        holdout=tuple(s for s in a.holdout.split(",") if s), channels=channels, blocks_per_level=a.blocks, num_downsamples=a.downsamples,
        latent_codes=a.latent_codes, discover_codes=a.discover_codes, residual_output=a.residual, norm_groups=a.norm_groups, edge_sigmas=edges, tone_frequencies=a.tone_frequencies, steps=a.steps, vq_warmup=a.vq_warmup, batch_size=a.batch,
        crops=CropConfig(crop=a.crop, short_min=a.short_min, short_max=a.short_max, **defocus_options(a)), lr=a.lr, save_every=a.save_every, detail_loss=detail_options(a), init=a.init, seed=a.seed, device=a.device,
        name=a.name or a.out.stem, post=a.post,
    )
    return cfg, a.resume


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg, resume = parse_args(argv)
    meta = train(cfg, resume)
    if not distributed.main_process():
        return 0  # rank 0 reports
    if "val_l1" in meta:
        print(f"validation L1 {meta['val_l1']:.4f} (0-1 scale), ratio to the photo's {meta['val_ratio']:.2f}, style → code {meta['style_codes']}")
    print(f"saved {cfg.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
