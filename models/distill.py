"""Distil a trained filter into a light CPU student that runs at 1/factor size, then upsampled.

    python -m models.distill --teacher models/checkpoints/mosaic.pt --out runs/mosaic_fast.pt \\
        --width 8 --res-blocks 3 --factor 2 --steps 3000

The student (same architecture family as the teacher, fewer channels) is wrapped in
:class:`models.networks.guided.GuidedUpsample` (a guided filter, or with ``--upsample detail`` bilinear
plus a learned gain × the frame's own detail) and trained end to end to reproduce the
teacher's output at full size on random crops of the shared photos and video frames: L1 +
(1 − SSIM). For a teacher with a latent code, a code is drawn per batch and the student learns
its own embedding of each code. A clone of a classical filter can instead copy that filter
itself (``--target classical``), each code in the style it stands for. ``--detail K`` adds a
full-size per-pixel head (:class:`models.networks.guided.DetailHead`) for what the upsampling cannot
draw; ``--init`` starts from a trained student (a head or detail gain it lacks starts as the
identity or its default, so a guided student can go on with ``--upsample detail``).
Validation reports the SSIM to the teacher network on held-out images (the number the speed
benchmark quotes) and, for a clone of a classical teacher, the clone ratio to that teacher
(what cloned filters are judged by). Resumable; progress bar; Ctrl-C saves first. On N GPUs:
``torchrun --nproc-per-node N -m models.distill ...`` with ``--batch`` the global batch
(:mod:`models.training.distributed`); every process holds the teacher, draws its own crops and
the same code each step.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.nn import functional as F

from models.losses.bands import DetailLoss, add_detail_args, change_sums, detail_options, gain_amplitude
from models.losses.face_finder import FaceFinderLoss
from models.losses.perceptual import StyleLossConfig, halo_loss
from models.losses.ringing import RingingLoss
from models.losses.quality import clone_ratio_table, ssim
from models.teachers.classical import STYLED_TEACHERS
from realtime.errors import UserError, run_cli
from models.networks.registry import arch_name
from models.networks.checkpoint import describe_mismatch, load_checkpoint, read_checkpoint, steps_trained
from models.networks.calling import latent_codes, run_filter
from models.networks.guided import GuidedConfig, GuidedUpsample, UPSAMPLERS
from models.data.media import data_root, fit_short_side, load_collection
from models.data.pairs import CropConfig, add_defocus_args, defocus_options, to_tensor
from models.train_pairs import DEFAULT_HOLDOUT, mark_monochrome
from models.stylize_image import to_image
from models.train_style import camera_noise, content_batch
from models.training import distributed
from models.training.distributed import Distributed
from models.training.trainer import TrainingRun, add_run_args, check_loss_weights, parse_ints

log = logging.getLogger("distill")


@dataclass
class DistillConfig:
    teacher: Path
    out: Path
    images: Path = field(default_factory=data_root)
    holdout: tuple[str, ...] = DEFAULT_HOLDOUT
    width: int = 8  # TransformerNet students
    res_blocks: int = 3
    outer_kernel: int = 9  # TransformerNet students: first/last conv kernel (3 is much cheaper)
    channels: tuple[int, ...] = (8, 16, 16, 32)  # UNet students
    factor: int = 2
    radius: int = 2
    eps: float = 1e-3
    detail: int = 0  # hidden channels of the full-size DetailHead (0 = none)
    detail_edges: int = 4
    detail_tones: int = 0
    upsample: str = "guided"  # or "detail" (models.networks.guided.detail_upsample), "gains" (GainMaps)
    gain_edges: tuple[float, ...] = ()  # "gains": blur σ of the full-size lightness edges with maps of their own
    fine: bool = False  # a FineHead: the student's own detail below its low size
    colour: bool = False  # a ColourHead: a per-code affine colour map beside the network (flat regions)
    init: Path | None = None  # a trained student of the same network shape to start from (any factor; its head, if any, too)
    steps: int = 3000
    batch_size: int = 4
    crops: CropConfig = field(default_factory=lambda: CropConfig(crop=256, short_min=256, short_max=512))
    lr: float = 2e-3
    ssim_weight: float = 1.0
    # what the student copies: the full network, or (a clone of a classical filter) that filter
    # itself, the one its clone ratio is measured against
    target: str = "network"
    # losses that do not reward fading (models/losses/bands.py): per-band energy of the change, chroma; off by default
    detail_loss: DetailLoss = field(default_factory=DetailLoss)
    # camera-like Gaussian noise (grey levels) on the student's input only, the teacher's clean output the
    # target: a student that draws its own strokes learns not to redraw them for sensor noise (flicker)
    input_noise: float = 0.0
    # × the face detector's lost scores and feature distance on the output against the target
    # (models/losses/face_finder.py): faces the teacher keeps stay findable in the student's; 0 = off
    face_weight: float = 0.0
    # × the halo term of a style's training (models/losses/perceptual.py: the output's lightness change
    # from the photo over tone_scale² blocks, less its blur): a rim the student's half-size body draws
    # around outlines, beyond the teacher's, costs it; 0 = off
    halo_weight: float = 0.0
    # × the ringing term (models/losses/ringing.py: the change locked to the photo's strong edges
    # 2-12 px out): echoes of the outlines, student's or teacher's, cost it; 0 = off
    ringing_weight: float = 0.0
    save_every: int = 250
    seed: int = 0
    device: str = "auto"
    name: str = "student"


def student_for(teacher: torch.nn.Module, cfg: DistillConfig) -> GuidedUpsample:
    arch = arch_name(teacher)
    inner = dataclasses.asdict(teacher.config)
    if arch == "transformer_net":
        inner.update(width=cfg.width, res_blocks=cfg.res_blocks, outer_kernel=cfg.outer_kernel)
    elif arch == "unet":
        inner.update(channels=tuple(cfg.channels), blocks_per_level=1, norm_groups=min(4, min(cfg.channels)))
    else:
        raise UserError(f"cannot distil a {arch} teacher: give the checkpoint of a full network")
    return GuidedUpsample(GuidedConfig(arch, inner, cfg.factor, cfg.radius, cfg.eps,
                                       cfg.detail, cfg.detail_edges, cfg.detail_tones, cfg.upsample,
                                       gain_edges=tuple(cfg.gain_edges), fine=cfg.fine, colour=cfg.colour))


def start_from(student: GuidedUpsample, path: Path) -> int:
    """Load a trained student's weights into ``student`` and return its steps so far; a head or a
    detail gain ``student`` has and it lacks keeps its start (so a guided student can go on with
    ``--upsample detail``). Anything else that differs is an error that names it."""
    payload = read_checkpoint(path)
    state = payload.get("state_dict", {})
    own = student.state_dict()
    new_head = {k: v for k, v in own.items() if k.startswith(("detail.", "detail_gain", "gains.", "fine.", "colour.")) and k not in state}
    problem = describe_mismatch(student, {**state, **new_head})
    if problem:
        raise UserError(f"--init {path} is not a student of this shape (same --channels, or --width, --res-blocks "
                        f"and --outer-kernel; --factor may differ): {problem}")
    student.load_state_dict({**state, **new_head})
    return steps_trained(payload.get("meta", {}))


TARGETS = ("network", "classical")
HALO = StyleLossConfig()  # the halo term's block size and surround, as a style's training has them


def classical_target(teacher_meta: dict[str, Any], codes: int) -> Callable[[torch.Tensor, int | None], torch.Tensor]:
    """``(batch 0–1, code) -> the classical filter's picture of each crop``, in the style the full
    network's ``code`` stands for. Why: a student copying its full network inherits the
    network's own distance to the filter (a full oil network is at 0.45 of the photo's), and the
    clone ratio is measured against the filter. The filter runs on each 192-px crop in 5–8 ms
    (oil; cartoon's bold style 120 ms)."""
    name = teacher_meta.get("teacher")
    if name not in STYLED_TEACHERS:
        raise UserError(f"--target classical needs a clone of a classical filter ({', '.join(STYLED_TEACHERS)}); "
                        f"this teacher was trained on {name or 'no classical filter'}: use --target network")
    fn, styles = STYLED_TEACHERS[name]
    by_code = {int(k): styles[s] for s, k in teacher_meta.get("style_codes", {}).items() if s in styles}
    if codes and sorted(by_code) != list(range(codes)):
        raise UserError(f"the teacher's style_codes {teacher_meta.get('style_codes')} do not name a {name} style "
                        f"for each of its {codes} codes: use --target network")
    if not codes and len(styles) != 1:
        raise UserError(f"the teacher has no codes for the {len(styles)} {name} styles: use --target network")
    only = next(iter(styles.values()))

    def target(x: torch.Tensor, code: int | None) -> torch.Tensor:
        style = only if code is None else by_code[code]
        return torch.stack([to_tensor(fn(to_image(crop[None].cpu()), style)) for crop in x]).to(x.device)

    return target


def ssim_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 − SSIM (3×3 box windows; inputs 0–1), a differentiable twin of benchmarks.quality.ssim."""
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = F.avg_pool2d(a, 3, 1, 1), F.avg_pool2d(b, 3, 1, 1)
    var_a = F.avg_pool2d(a * a, 3, 1, 1) - mu_a**2
    var_b = F.avg_pool2d(b * b, 3, 1, 1) - mu_b**2
    cov = F.avg_pool2d(a * b, 3, 1, 1) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return 1 - s.mean()


class Runner:
    """Calls a teacher or student with the optional latent code, returns 0–1 images."""

    def __init__(self, teacher: torch.nn.Module) -> None:
        self.scale = 255.0 if teacher.input_range == "0-255" else 1.0
        self.codes = latent_codes(teacher)

    def __call__(self, model: torch.nn.Module, x01: torch.Tensor, code: int | None) -> torch.Tensor:
        return self.raw(model, x01, code).clamp(0, 1)

    def raw(self, model: torch.nn.Module, x01: torch.Tensor, code: int | None) -> torch.Tensor:
        """The output on the 0–1 scale before the clamp the exported file applies."""
        index = torch.tensor([code], device=x01.device) if self.codes else None
        return run_filter(model, x01 * self.scale, index) / self.scale


def validation_images(images: list[np.ndarray], multiple: int, size: int = 256) -> list[np.ndarray]:
    """Centre squares of the first held-out images, their side ``size`` rounded down to a
    multiple of ``multiple`` (the student's: at factor 3 a 256-px square does not divide)."""
    size = size // multiple * multiple
    out = []
    for img in images[:6]:
        img = fit_short_side(img, size)
        h, w = img.shape[:2]
        out.append(np.ascontiguousarray(img[(h - size) // 2 : (h - size) // 2 + size, (w - size) // 2 : (w - size) // 2 + size]))
    return out


@torch.no_grad()
def evaluate(student: GuidedUpsample, teacher: torch.nn.Module, run: Runner, images: list[np.ndarray], device: torch.device) -> float:
    student.eval()
    scores = []
    for img in images:
        x = to_tensor(img)[None].to(device)
        for code in range(max(run.codes, 1)) if run.codes else [None]:
            a = run(teacher, x, code)[0].permute(1, 2, 0).cpu().numpy() * 255
            b = run(student, x, code)[0].permute(1, 2, 0).cpu().numpy() * 255
            scores.append(ssim(a, b))
    student.train()
    return float(np.mean(scores))


@torch.no_grad()
def teacher_ratio(student: GuidedUpsample, run: Runner, images: list[np.ndarray], classical: str, device: torch.device) -> float:
    """The clone ratio (models.losses.quality.clone_ratio_table, best code per style, mean over the
    styles) of the student against the classical teacher its full network was cloned from:
    benchmarks.clone_ratio's measure, on the validation squares. The SSIM
    to the full network above does not follow it: 3000 more steps took a fast cartoon from
    0.784 to 0.602 while its SSIM went 0.895 → 0.892."""
    fn, styles = STYLED_TEACHERS[classical]

    def apply(rgb: np.ndarray, code: int) -> np.ndarray:
        return to_image(run(student, to_tensor(rgb)[None].to(device), code if run.codes else None).cpu())

    student.eval()
    table = clone_ratio_table(images, apply, max(run.codes, 1), fn, styles)
    student.train()
    return float(table.min(axis=1).mean())


@torch.no_grad()
def band_scores(student: GuidedUpsample, run: Runner, images: list[np.ndarray], classical: str, style_codes: dict[str, int],
                device: torch.device) -> dict[str, dict[str, Any]]:
    """Per style of the classical teacher, with the code the full network gave it: G_1..3 and
    A_1..3 (benchmarks.bands' gain and amplitude, pooled over the validation squares) and the
    mean chroma |RGB − its channel mean| × 255 of the student's output and of the teacher's (a
    grey style's clone should stay near 0). benchmarks.clone_detail's measures, roughly, while
    a leg trains."""
    fn, styles = STYLED_TEACHERS[classical]
    student.eval()
    found = {}
    for name, style in styles.items():
        code = style_codes.get(name) if run.codes else None
        if run.codes and code is None:
            continue
        sums, tint = torch.zeros(3, 5, dtype=torch.float64), [0.0, 0.0]
        for img in images:
            x = to_tensor(img)[None].to(device)
            t = to_tensor(fn(img, style))[None].to(device)
            y = run(student, x, code)
            sums += change_sums(y, t, x)
            tint[0] += float((y - y.mean(1, keepdim=True)).abs().mean() * 255)
            tint[1] += float((t - t.mean(1, keepdim=True)).abs().mean() * 255)
        g, a = gain_amplitude(sums)
        found[name] = {"G": [round(v, 3) for v in g[1:4]], "A": [round(v, 3) for v in a[1:4]],
                       "tint": round(tint[0] / len(images), 2), "teacher_tint": round(tint[1] / len(images), 2)}
    student.train()
    return found


def distill(cfg: DistillConfig, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg``'s student into ``cfg.out``; under torchrun one process of the run."""
    with distributed.session(cfg.device, cfg.batch_size) as dist:
        return _distill(cfg, resume, dist)


def _distill(cfg: DistillConfig, resume: bool, dist: Distributed) -> dict[str, Any]:
    device = dist.device
    teacher, teacher_meta, _ = load_checkpoint(cfg.teacher)
    if isinstance(teacher, GuidedUpsample):
        raise UserError(f"{cfg.teacher} is already a fast student; distil from the full network's checkpoint")
    mark_monochrome(teacher, teacher_meta)  # a teacher saved before the flag: its student still inherits it
    teacher = teacher.to(device).eval().requires_grad_(False)
    run = Runner(teacher)
    copy_filter = classical_target(teacher_meta, run.codes) if cfg.target == "classical" else None
    train_images, val_images = load_collection(cfg.images, set(cfg.holdout))
    torch.manual_seed(cfg.seed)
    student = student_for(teacher, cfg).to(device)
    if cfg.crops.crop % student.size_multiple:
        raise UserError(f"--crop {cfg.crops.crop} must be a multiple of {student.size_multiple} "
                        f"(the student's factor {cfg.factor} × its network's {student.net.size_multiple})")
    earlier = 0  # steps of every earlier leg: a run started from a trained student continues its training
    if cfg.init is not None and resume and cfg.out.is_file():
        earlier = steps_trained(read_checkpoint(cfg.init).get("meta", {}))
    elif cfg.init is not None:
        earlier = start_from(student, cfg.init)
    elif run.codes:  # start each code's embedding where the teacher's is
        student.net.quantizer.codebook.data.copy_(teacher.quantizer.codebook.data)
    trainer = TrainingRun(student, cfg.out, cfg.steps, cfg.lr, cfg.seed, cfg.name, resume, cfg.save_every, dist)
    # a UNet student's encoder is never called (codes come from the teacher's codebook): no gradient for it
    net = dist.wrap(student, find_unused=bool(latent_codes(student)), forward=run.raw)
    val = validation_images(val_images, student.size_multiple) if dist.is_main else []
    code_rng = random.Random(cfg.seed + 1)  # one code a step, the same on every process (same seed, one draw a step)
    face_loss = FaceFinderLoss().to(device) if cfg.face_weight else None
    ringing = RingingLoss() if cfg.ringing_weight else None

    def train_step() -> torch.Tensor:
        x = dist.draw(lambda size, rng: content_batch(train_images, cfg.crops, size, rng), trainer.rng, cfg.batch_size,
                      trainer.step, cfg.seed).to(device)
        code = code_rng.randrange(run.codes) if run.codes else None
        with torch.no_grad():
            target = copy_filter(x, code) if copy_filter else run(teacher, x, code)
        raw = net(camera_noise(x, cfg.input_noise, cfg.seed, trainer.step) if cfg.input_noise else x, code)
        y = raw.clamp(0, 1)
        loss = (y - target).abs().mean() + cfg.ssim_weight * ssim_loss(y, target)
        if face_loss is not None:
            loss = loss + cfg.face_weight * face_loss(y, target)
        if cfg.halo_weight:
            loss = loss + cfg.halo_weight * halo_loss(y, x, HALO.tone_scale, HALO.halo_surround)
        if ringing is not None:
            loss = loss + cfg.ringing_weight * ringing(y, x)
        # the chroma term sees the output before the clamp: a student's paper white is often far above 1, each
        # channel by another amount, and the guided filter's windows carry that tint into the strokes beside it
        return loss + cfg.detail_loss(y, target, x, raw=raw) if cfg.detail_loss.active else loss

    classical = teacher_meta.get("teacher") if teacher_meta.get("teacher") in STYLED_TEACHERS else None

    def on_save() -> dict[str, Any]:
        if not val:
            return {}
        scores = {"val_ssim": round(evaluate(student, teacher, run, val, device), 4)}
        if classical:
            scores["val_ratio"] = round(teacher_ratio(student, run, val, classical, device), 4)
            scores["val_bands"] = band_scores(student, run, val, classical, teacher_meta.get("style_codes", {}), device)
        return scores

    meta = {"teacher": str(cfg.teacher.name), "teacher_name": teacher_meta.get("name"), "total_steps": earlier + cfg.steps,
            "style_image": teacher_meta.get("style_image"), "style_codes": teacher_meta.get("style_codes", {}),
            "train_config": {k: str(v) for k, v in dataclasses.asdict(cfg).items()}}
    return trainer.run(train_step, None, on_save, meta)


def parse_sigmas(text: str) -> tuple[float, ...]:
    """``"1.5,3"`` → (1.5, 3.0); "" → ()."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"--gain-edges takes blur σ in pixels separated by commas, e.g. 1.5; got {text!r}") from None
    if any(v <= 0 for v in values):
        raise UserError(f"--gain-edges: each σ must be above 0, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.distill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", type=Path, required=True, help="checkpoint of the full network")
    p.add_argument("--images", type=Path, default=data_root(), help="content photos/videos (default: %(default)s)")
    p.add_argument("--width", type=int, default=8, help="TransformerNet student width")
    p.add_argument("--res-blocks", type=int, default=3)
    p.add_argument("--outer-kernel", type=int, default=9, help="TransformerNet student: first/last conv kernel size")
    p.add_argument("--channels", default="8,16,16,32", help="UNet student channels")
    p.add_argument("--factor", type=int, default=2, help="the student runs at 1/factor of the frame size")
    p.add_argument("--radius", type=int, default=2)
    p.add_argument("--eps", type=float, default=1e-3)
    p.add_argument("--detail", type=int, default=0, help="hidden channels of a full-size per-pixel head (0 = none)")
    p.add_argument("--detail-edges", type=int, default=4, help="the head's learned 3x3 edge channels")
    p.add_argument("--detail-tones", type=int, default=0, help="the head's sin/cos lightness frequencies (costly)")
    p.add_argument("--upsample", choices=UPSAMPLERS, default="guided",
                   help="guided: locally linear in the frame's lightness; detail: bilinear + the frame's own fine detail; "
                        "gains: that detail and full-size edges, each weighed by a map the network draws (GainMaps)")
    p.add_argument("--gain-edges", default="", help="--upsample gains: blur σ (full-size px, comma-separated) of lightness "
                   "edges (blur - pixel) that get gain maps too, e.g. 1.5 (about 2 ms a σ at 640x480 on one core)")
    p.add_argument("--fine", action="store_true", help="a sub-pixel head on the student's last hidden layer draws its own "
                   "detail below the low size (a painting's stroke edges, a cartoon's outlines; starts at zero)")
    p.add_argument("--colour-head", action="store_true", help="a per-code affine colour map of the student's low-size "
                   "input beside its network, which cannot tell one flat grey from another (models.networks.guided."
                   "ColourHead; starts at zero)")
    p.add_argument("--init", type=Path, help="start from this trained student of the same shape (--factor and --upsample may differ: "
                   "a guided student at a third can go on at half with --upsample detail)")
    p.add_argument("--ssim-weight", type=float, default=1.0)
    p.add_argument("--input-noise", type=float, default=0.0,
                   help="grey levels of Gaussian noise on the student's input only (the teacher sees the clean crop): "
                        "a student that draws its own strokes learns not to redraw them for a camera's noise, e.g. 4")
    for term, what in (("face", "the face-finder loss (models/losses/face_finder.py: MediaPipe's face detector, from the installed "
                                "wheel, on the output against the target): faces the teacher keeps stay findable, e.g. 0.01"),
                       ("halo", "a style's halo term (models/losses/perceptual.py: a glow or dark rim along outlines, against the "
                                "photo) on the student's output, e.g. 10"),
                       ("ringing", "the ringing term (models/losses/ringing.py: echoes of the photo's strong edges, 2-12 px out) "
                                   "on the student's output, e.g. 20")):
        p.add_argument(f"--{term}-weight", type=float, default=0.0, help=f"weight of {what}; 0 = off")
    add_defocus_args(p)
    p.add_argument("--target", choices=TARGETS, default="network",
                   help="copy the full network, or the classical filter it was cloned from (what the clone ratio measures)")
    add_detail_args(p)
    add_run_args(p, steps=3000, lr=2e-3, batch=4, crop=256)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not a.images.is_dir():
        raise UserError(f"content folder {a.images} does not exist or is not a folder")
    if a.input_noise < 0:
        raise UserError(f"--input-noise is a noise level in grey levels, 0 or more; got {a.input_noise}")
    check_loss_weights(a, "face_weight", "halo_weight", "ringing_weight")
    channels = parse_ints(a.channels, "--channels")
    cfg = DistillConfig(
        teacher=a.teacher, out=a.out, images=a.images, width=a.width, res_blocks=a.res_blocks, outer_kernel=a.outer_kernel, channels=channels,
        factor=a.factor, radius=a.radius, eps=a.eps, detail=a.detail, detail_edges=a.detail_edges,
        detail_tones=a.detail_tones, upsample=a.upsample, gain_edges=parse_sigmas(a.gain_edges), fine=a.fine, colour=a.colour_head, init=a.init, steps=a.steps, batch_size=a.batch,
        crops=CropConfig(crop=a.crop, short_min=a.crop, short_max=2 * a.crop, **defocus_options(a)), lr=a.lr, ssim_weight=a.ssim_weight, target=a.target,
        detail_loss=detail_options(a), input_noise=a.input_noise, face_weight=a.face_weight, halo_weight=a.halo_weight, ringing_weight=a.ringing_weight, seed=a.seed, device=a.device, name=a.name or a.out.stem,
    )
    meta = distill(cfg, a.resume)
    if not distributed.main_process():
        return 0  # rank 0 reports
    if "val_ssim" in meta:
        print(f"validation SSIM to the teacher {meta['val_ssim']:.4f}")
    if "val_ratio" in meta:
        print(f"clone ratio to the classical teacher {meta['val_ratio']:.3f} (1 = the photo, 0 = the teacher)")
    print(f"saved {cfg.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
