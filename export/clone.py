"""Clone a filter from your own before/after pictures, as a user: ``realtime-export clone``.

    realtime-export clone PAIRS --name NAME [--minutes 5 | --steps N] [--size small|medium]

PAIRS is a folder of before/after pictures in one of these layouts (matched by file name; the
extensions may differ):

    PAIRS/inputs/X.jpg  + PAIRS/outputs/X.png      FilterClone's layout (models.train_pairs --pairs)
    PAIRS/before/X.jpg  + PAIRS/after/X.jpg
    PAIRS/X.jpg         + PAIRS/X_after.jpg        (or X_before.jpg + X_after.jpg; '-after' too)

What it does, in order, each step resumable (Ctrl-C, then the same command again continues
from the last checkpoint, kept under the library's work folder):

1. checks the pairs before any work, one line per problem: a picture that does not read, a
   before without its after (or the other way), a pair whose sizes differ, an after that does
   not line up with its before (:func:`alignment`: the correlation of their edge maps, and
   the shift phase correlation finds between them), fewer than :data:`MIN_PAIRS` pairs;
2. holds back a share of the pairs (:func:`split`) to check the clone on;
3. trains FilterClone's UNet (:func:`models.train_pairs.train`, a small one by default) on the
   rest, for ``--steps`` or within ``--minutes`` (the steps are planned from timed trial steps,
   and a stage that runs late is stopped at its deadline: :func:`deadline`), with the trainer's
   progress bar and ETA; 80 % of the time trains the network, 20 % its student;
4. distils its light CPU student (:func:`models.distill.distill`, a short run);
5. exports NAME.onnx, NAME.fp16.onnx and NAME.fast.onnx, each parity-checked;
6. measures both on the held-back pairs as realtime runs them: the L1 ratio
   L1(clone, after) / L1(before, after) (1 = no closer than the photo, 0 = the after) and the
   band gains G_1..G_3 (:mod:`benchmarks.bands`' measure: how much of the after's change in
   luminance band k the clone makes, in its direction; 0 = the photo, 1 = the after);
7. installs the filter into your library (:mod:`realtime.filters.library`) with those
   measures on its card and a before | after | clone thumbnail.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator

import cv2
import numpy as np

from realtime.errors import UserError

log = logging.getLogger("export.clone")

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
AFTER_SUFFIXES = ("_after", "-after")
BEFORE_SUFFIXES = ("_before", "-before")
MIN_PAIRS = 8  # fewer do not make a filter: 2 of them are held back to check it
MIN_STEPS = 10  # a training stage always gets at least these many steps, however short the budget
MIN_SIDE = 32  # px: a picture smaller than this has no look to learn
HOLD_SHARE = 0.2  # of the pairs held back (at least 2)
MAX_WORK = 384  # px: the short side pairs are trained (and the clone runs) at, at most
ALIGN_SIDE = 128  # px: the long side the alignment check looks at
MIN_CORRELATION = 0.25  # of the edge maps: a filter's output of the same picture scored >= 0.36 (sketch, the most changing
#                         classical teacher) on 5 faces x 13 styles, a different picture <= 0.135
MAX_SHIFT = 0.02  # of ALIGN_SIDE: the teachers' outputs are found within 0.7 px, a 2.5 % shift at 3.2 px
SIZES = {"small": (16, 32, 32, 64), "medium": (32, 64, 64, 128)}
STUDENT = (8, 16, 16, 32)
OVERHEAD_S = 30.0  # export, parity, measures and install on the 2-core machine, about
GOAL_BANDS = (1, 2, 3)


# ---------------------------------------------------------------- finding and checking the pairs
@dataclass(frozen=True)
class Pair:
    name: str
    before: Path
    after: Path


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))


def _by_stem(paths: Iterable[Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in paths:
        out.setdefault(p.stem, p)
    return out


def find_pairs(folder: Path) -> tuple[str, list[Pair], list[str]]:
    """(the layout found, the pairs, one line per file that has no partner)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: pass a folder of before/after pictures (see realtime-export clone --help)")
    for a, b in (("inputs", "outputs"), ("before", "after")):
        if (folder / a).is_dir() or (folder / b).is_dir():
            if not ((folder / a).is_dir() and (folder / b).is_dir()):
                have, missing = (a, b) if (folder / a).is_dir() else (b, a)
                raise UserError(f"{folder} has {have}/ but no {missing}/: put the matching pictures, same file names, in {folder / missing}")
            befores, afters = _by_stem(_images(folder / a)), _by_stem(_images(folder / b))
            pairs = [Pair(s, befores[s], afters[s]) for s in sorted(befores) if s in afters]
            problems = [f"{a}/{befores[s].name} has no after picture (no {b}/{s}.*)" for s in sorted(befores) if s not in afters]
            problems += [f"{b}/{afters[s].name} has no before picture (no {a}/{s}.*)" for s in sorted(afters) if s not in befores]
            return f"{a}/ + {b}/", pairs, problems
    files = _by_stem(_images(folder))
    pairs, problems, used = [], [], set()
    for stem, path in sorted(files.items()):
        for suffix in AFTER_SUFFIXES:
            if stem.lower().endswith(suffix):
                base = stem[: -len(suffix)]
                before = files.get(base) or next((files[base + s] for s in BEFORE_SUFFIXES if base + s in files), None)
                if before is None:
                    problems.append(f"{path.name} has no before picture (no {base}.* or {base}_before.*)")
                else:
                    pairs.append(Pair(base, before, path))
                    used |= {before.stem, stem}
                break
    for stem, path in sorted(files.items()):
        if stem not in used and not any(stem.lower().endswith(s) for s in AFTER_SUFFIXES):
            problems.append(f"{path.name} has no after picture (no {stem}_after.*)")
    return "X + X_after", sorted(pairs, key=lambda p: p.name), problems


def read_picture(path: Path) -> np.ndarray | None:
    """RGB uint8, or None when the file does not decode."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _edges(rgb: np.ndarray, side: int = ALIGN_SIDE) -> np.ndarray:
    """The blurred gradient magnitude of the lightness at ``side`` px long side: what survives
    any filter that keeps the picture (outlines, washes, bands, a sketch)."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = g.shape
    s = side / max(h, w)
    g = cv2.resize(g, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    g = cv2.GaussianBlur(g, (0, 0), 1.0)
    m = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    return cv2.GaussianBlur(m, (0, 0), 1.5)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    da, db = a - a.mean(), b - b.mean()
    return float((da * db).sum() / (math.sqrt(float((da * da).sum()) * float((db * db).sum())) + 1e-9))


def alignment(before: np.ndarray, after: np.ndarray) -> tuple[float, float, float]:
    """(correlation of the two pictures' edge maps, the shift in px at :data:`ALIGN_SIDE`
    between them that phase correlation finds, the correlation once that shift is undone)."""
    a, b = _edges(before), _edges(after)
    (dx, dy), _ = cv2.phaseCorrelate(a, b, cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F))
    back = cv2.warpAffine(b, np.float32([[1, 0, -dx], [0, 1, -dy]]), (b.shape[1], b.shape[0]), borderMode=cv2.BORDER_REFLECT)
    return _correlation(a, b), float(math.hypot(dx, dy)), _correlation(a, back)


def check_pair(pair: Pair, label: Callable[[Path], str]) -> tuple[str | None, tuple[int, int] | None]:
    """(the problem with ``pair`` or None, its (height, width))."""
    before, after = read_picture(pair.before), read_picture(pair.after)
    for path, img in ((pair.before, before), (pair.after, after)):
        if img is None:
            return f"{label(path)} does not read as a picture (damaged, or not an image)", None
    assert before is not None and after is not None
    (h, w), (h2, w2) = before.shape[:2], after.shape[:2]
    if (h, w) != (h2, w2):
        return (f"{label(pair.before)} is {w}x{h} but {label(pair.after)} is {w2}x{h2}: a pair must be the same size "
                "(save the after at the before's size)"), None
    if min(h, w) < MIN_SIDE:
        return f"{label(pair.before)} is {w}x{h}: pictures need at least {MIN_SIDE} px a side", None
    corr, shift, unshifted = alignment(before, after)
    if corr < MIN_CORRELATION and not (shift > MAX_SHIFT * ALIGN_SIDE and unshifted >= MIN_CORRELATION):
        return (f"{label(pair.after)} does not match {label(pair.before)} (edge correlation {corr:.2f}, an after of the same "
                f"picture scores {MIN_CORRELATION} or more): a different picture, or a wrong file name?"), None
    if shift > MAX_SHIFT * ALIGN_SIDE:
        return (f"{label(pair.after)} is shifted against {label(pair.before)} (by about {shift / ALIGN_SIDE * 100:.1f} % of the "
                "picture): pairs must line up pixel for pixel (no crop, no move)"), None
    return None, (h, w)


def check_pairs(folder: Path, min_pairs: int = MIN_PAIRS) -> tuple[str, list[Pair], list[tuple[int, int]]]:
    """Every problem with the pairs in ``folder``, one line each on stderr, then one error line;
    or (the layout, the pairs, their sizes)."""
    folder = Path(folder)
    layout, pairs, problems = find_pairs(folder)
    if not pairs and not problems:
        raise UserError(f"{folder} holds no before/after pairs: put them as inputs/X + outputs/X, before/X + after/X, "
                        "or X.jpg + X_after.jpg (see realtime-export clone --help)")

    def label(p: Path) -> str:
        return str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p)

    sizes = []
    for pair in pairs:
        problem, hw = check_pair(pair, label)
        if problem:
            problems.append(problem)
        else:
            sizes.append(hw)
    if len(pairs) < min_pairs:
        problems.append(f"{len(pairs)} pair{'s' if len(pairs) != 1 else ''} found ({layout}): a clone needs at least {min_pairs} "
                        f"({max(2, round(HOLD_SHARE * min_pairs))} are held back to check it)")
    if len(problems) == 1:
        raise UserError(problems[0])
    if problems:
        for p in problems:
            print(f"problem: {p}", file=sys.stderr)
        raise UserError(f"{len(problems)} problems with the pairs in {folder} (one per line above): fix them and run again")
    return layout, pairs, sizes  # type: ignore[return-value]


def split(pairs: list[Pair], share: float = HOLD_SHARE) -> tuple[list[Pair], list[Pair]]:
    """(training pairs, held-back pairs): every k-th pair by name, at least 2 held back, so the
    split is the same on every run (a resumed clone keeps it)."""
    held_n = max(2, round(share * len(pairs)))
    step = len(pairs) / held_n
    held_idx = {min(len(pairs) - 1, int(step * i + step / 2)) for i in range(held_n)}
    return [p for i, p in enumerate(pairs) if i not in held_idx], [p for i, p in enumerate(pairs) if i in held_idx]


# ---------------------------------------------------------------- the clone measures
class BandGains:
    """G_k = <N_k - P_k, T_k - P_k> / |T_k - P_k|^2 on the luminance's 5-level Laplacian
    pyramid, pooled over pictures: :class:`benchmarks.bands.ChangeSums`' gain (the same
    pyramid and luminance; export may not import benchmarks, a test holds the two equal)."""

    LEVELS = 5

    def __init__(self) -> None:
        self.cross = np.zeros(self.LEVELS)
        self.teacher = np.zeros(self.LEVELS)

    @staticmethod
    def bands(rgb: np.ndarray) -> list[np.ndarray]:
        g = cv2.cvtColor(np.asarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)
        out = []
        for _ in range(BandGains.LEVELS - 1):
            down = cv2.pyrDown(g)
            out.append(g - cv2.pyrUp(down, dstsize=(g.shape[1], g.shape[0])))
            g = down
        out.append(g)
        return out

    def add(self, photo: np.ndarray, teacher: np.ndarray, network: np.ndarray) -> None:
        p, t, n = (self.bands(x) for x in (photo, teacher, network))
        for k in range(self.LEVELS):
            dt, dn = (t[k] - p[k]).astype(np.float64), (n[k] - p[k]).astype(np.float64)
            self.cross[k] += float(np.sum(dn * dt))
            self.teacher[k] += float(np.sum(dt * dt))

    def gain(self) -> np.ndarray:
        return np.where(self.teacher > 1e-9, self.cross / np.maximum(self.teacher, 1e-9), np.nan)


def clone_measures(apply: Callable[[np.ndarray], np.ndarray], pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The L1 ratio L1(clone, after) / L1(before, after) (summed over the pairs) and the band
    gains G_1..G_3 of ``apply`` (RGB → RGB) on (before, after) pairs."""
    net = photo = 0.0
    gains = BandGains()
    for before, after in pairs:
        out = apply(before)
        net += float(np.abs(out.astype(np.float32) - after).mean())
        photo += float(np.abs(before.astype(np.float32) - after).mean())
        gains.add(before, after, out)
    g = gains.gain()
    return {"l1_ratio": round(net / max(photo, 1e-9), 4), "l1_255": round(net / len(pairs), 2),
            "band_gains": {f"G_{k}": (None if np.isnan(g[k]) else round(float(g[k]), 3)) for k in GOAL_BANDS},
            "pairs": len(pairs)}


# ---------------------------------------------------------------- the plan (what a resumed clone keeps)
@dataclass
class Plan:
    name: str
    fingerprint: str
    layout: str
    train: list[str]
    held: list[str]
    work_size: int
    crop: int
    size: str
    steps: int
    distil_steps: int
    seconds_per_step: float = 0.0
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))


def fingerprint(pairs: list[Pair], size: str) -> str:
    h = hashlib.sha1(size.encode())
    for p in pairs:
        for f in (p.before, p.after):
            st = f.stat()
            h.update(f"{p.name}|{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def work_size_for(sizes: list[tuple[int, int]]) -> int:
    """The short side the clone trains and runs at: the smallest pair's, at most :data:`MAX_WORK`,
    a multiple of 8 (the student runs at half size on a network of multiple 4)."""
    short = min(min(hw) for hw in sizes)
    return max(MIN_SIDE, min(MAX_WORK, short) // 8 * 8)


def stage(pairs: list[Pair], held: set[str], work: Path, work_size: int) -> None:
    """The pairs as the trainers read them, shrunk to ``work_size`` short side: training pairs
    as ``pairs/inputs`` + ``pairs/outputs`` (models.train_pairs' layout), every before under
    ``photos/`` (the student's content; held-back ones by their names), held-back pairs under ``held/``."""
    for sub in ("pairs/inputs", "pairs/outputs", "photos", "held/before", "held/after"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    for i, pair in enumerate(pairs):
        stem = f"{i:04d}_{''.join(c if c.isalnum() else '_' for c in pair.name)[:40]}"
        imgs = []
        for path in (pair.before, pair.after):
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            h, w = img.shape[:2]
            s = work_size / min(h, w)
            if s < 1:
                img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
            imgs.append(img)
        before, after = imgs
        if pair.name in held:
            cv2.imwrite(str(work / "held" / "before" / f"{stem}.png"), before)
            cv2.imwrite(str(work / "held" / "after" / f"{stem}.png"), after)
            cv2.imwrite(str(work / "photos" / f"held_{stem}.png"), before)
        else:
            cv2.imwrite(str(work / "pairs" / "inputs" / f"{stem}.png"), before)
            cv2.imwrite(str(work / "pairs" / "outputs" / f"{stem}.png"), after)
            cv2.imwrite(str(work / "photos" / f"{stem}.png"), before)


def held_pairs(work: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for b in sorted((work / "held" / "before").glob("*.png")):
        before, after = read_picture(b), read_picture(work / "held" / "after" / b.name)
        if before is not None and after is not None:
            out.append((before, after))
    return out


def train_config(plan: Plan, work: Path, device: str) -> Any:
    from models.data.pairs import CropConfig
    from models.train_pairs import TrainConfig

    return TrainConfig(
        out=work / "full.pt", teacher=None, pairs=work / "pairs", data=work / "photos", holdout=(),
        channels=SIZES[plan.size], blocks_per_level=1, num_downsamples=2, latent_codes=0, residual_output=True,
        norm_groups=8, steps=plan.steps, batch_size=4, lr=2e-3, save_every=max(20, plan.steps // 8),
        crops=CropConfig(crop=plan.crop, short_min=max(plan.crop, round(plan.work_size * 0.8)), short_max=plan.work_size),
        seed=0, device=device, name=plan.name)


def distil_config(plan: Plan, work: Path, device: str) -> Any:
    from models.data.pairs import CropConfig
    from models.distill import DistillConfig

    held = tuple(p.stem for p in (work / "photos").glob("held_*.png"))
    return DistillConfig(
        teacher=work / "full.pt", out=work / "fast.pt", images=work / "photos", holdout=held, channels=STUDENT, factor=2,
        steps=plan.distil_steps, batch_size=4, lr=2e-3, save_every=max(20, plan.distil_steps // 4),
        crops=CropConfig(crop=plan.crop, short_min=max(plan.crop, round(plan.work_size * 0.8)), short_max=plan.work_size),
        seed=0, device=device, name=f"{plan.name}.fast")


def timed_steps(size: str, crop: int, device: str) -> tuple[float, float]:
    """Seconds per training step of the UNet and per distillation step of its student, from a
    few trial steps on random crops (the budget's steps come from these)."""
    import torch

    from models.networks.guided import GuidedConfig, GuidedUpsample
    from models.networks.registry import build_model

    dev = torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
    config = dict(channels=SIZES[size], blocks_per_level=1, num_downsamples=2, latent_codes=0, residual_output=True, norm_groups=8)
    net = build_model("unet", config).to(dev)
    student = GuidedUpsample(GuidedConfig("unet", {**net.config.__dict__, "channels": STUDENT, "norm_groups": 4}, 2, 2, 1e-3)).to(dev)
    x = torch.rand(4, 3, crop, crop, device=dev)

    def trial(step: Callable[[], torch.Tensor], params: Iterable[torch.nn.Parameter]) -> float:
        opt = torch.optim.Adam(list(params), 1e-3)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            loss = step()
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
        return float(np.median(times[1:]))

    t_train = trial(lambda: (net(x).image - x).abs().mean(), net.parameters())
    with torch.no_grad():
        target = net(x).image

    def distil_step() -> torch.Tensor:
        with torch.no_grad():
            net(x)  # the teacher runs every step too
        return (student(x) - target).abs().mean()

    t_distil = trial(distil_step, student.parameters())
    return t_train * 1.15, t_distil * 1.15  # reading the pairs from disk, the trainers' bookkeeping


def make_plan(args: argparse.Namespace, layout: str, pairs: list[Pair], sizes: list[tuple[int, int]]) -> Plan:
    train, held = split(pairs)
    work_size = work_size_for(sizes)
    crop = max(32, min(128, int(work_size * 0.8)) // 8 * 8)
    if args.steps is not None:
        steps, distil, per_step = args.steps, max(20, args.steps // 4), 0.0
    else:
        per_step, per_distil = timed_steps(args.size, crop, args.device)
        budget = max(0.5 * args.minutes * 60, args.minutes * 60 - OVERHEAD_S)
        steps = max(MIN_STEPS, int(0.8 * budget / per_step))
        distil = max(MIN_STEPS, int(0.2 * budget / per_distil))
    return Plan(args.name, fingerprint(pairs, args.size), layout, [p.name for p in train], [p.name for p in held],
                work_size, crop, args.size, steps, distil, round(per_step, 4))


# ---------------------------------------------------------------- the time budget
class BudgetReached(KeyboardInterrupt):
    """The time given to a training stage ran out. A KeyboardInterrupt, so the trainers save
    their checkpoint on it as they do on Ctrl-C."""


@contextmanager
def deadline(module: ModuleType, name: str, at: float | None) -> Iterator[None]:
    """While inside, ``module.name`` (the function a trainer draws each batch with:
    ``models.train_pairs.batch``, ``models.distill.content_batch``) raises
    :class:`BudgetReached` once ``time.monotonic()`` passes ``at``: the trainers here run a
    number of steps, the clone promises a time. Nothing changes when ``at`` is None or the
    module has no such function."""
    original = getattr(module, name, None)
    if at is None or original is None:
        if at is not None:
            log.warning("%s.%s not found: the time budget is not enforced (the planned steps run)", module.__name__, name)
        yield
        return
    calls = {"n": 0}

    def timed(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > MIN_STEPS and time.monotonic() > at:
            raise BudgetReached
        return original(*args, **kwargs)

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, original)


# ---------------------------------------------------------------- the command
def export_clone(plan: Plan, work: Path, pair_count: int, folder_name: str) -> tuple[dict[str, Path], tuple[int, int]]:
    """NAME.onnx, NAME.fp16.onnx and NAME.fast.onnx in ``work/out``, each parity-checked, and
    the steps the network and its student trained."""
    from export.onnx_export import contract_for, export_model
    from export.parity import check_parity
    from export.precision import to_fp16
    from models.networks.checkpoint import load_checkpoint
    from realtime.filters.onnx_format import variant_path

    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    full, full_meta, _ = load_checkpoint(work / "full.pt")
    fast, fast_meta, _ = load_checkpoint(work / "fast.pt")
    steps = (int(full_meta.get("steps", 0)), int(fast_meta.get("steps", 0)))
    source = f"cloned by realtime-export clone from {pair_count} pairs in {folder_name} ({steps[0]} + {steps[1]} steps)"
    files = {}
    for tag, model in (("full", full), ("fast", fast)):
        contract = contract_for(model, plan.name, work_size=plan.work_size, license="yours (trained on your pictures)", source=source)
        path = export_model(model, contract, out / (f"{plan.name}.onnx" if tag == "full" else f"{plan.name}.fast.onnx"))
        check_parity(model, path, contract, "fp32")
        files[tag] = path
        if tag == "full":
            files["fp16"] = to_fp16(path, variant_path(path, "fp16"))
            check_parity(model, files["fp16"], contract, "fp16")
    return files, steps


def measure(files: dict[str, Path], held: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The clone measures of the full network and of its fast student, each run as realtime runs it."""
    from realtime.filters.chain import load_chain

    found = {}
    for variant in ("full", "fast"):
        chain = load_chain(str(files["full"]), provider="cpu", variant=variant)

        def apply(rgb: np.ndarray) -> np.ndarray:
            return cv2.cvtColor(chain.apply(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), cv2.COLOR_BGR2RGB)

        found[variant] = clone_measures(apply, held)
    return found


def thumbnail(files: dict[str, Path], held: list[tuple[np.ndarray, np.ndarray]], height: int = 120) -> np.ndarray:
    """before | after | the clone (fast variant, as it runs on CPU) of the first held-back pair, BGR."""
    from realtime.filters.chain import load_chain

    before, after = held[0]
    chain = load_chain(str(files["full"]), provider="cpu", variant="fast")
    bgr = cv2.cvtColor(before, cv2.COLOR_RGB2BGR)
    tiles = [bgr, cv2.cvtColor(after, cv2.COLOR_RGB2BGR), chain.apply(bgr)]
    w = max(1, round(before.shape[1] * height / before.shape[0]))
    return np.hstack([cv2.resize(t, (w, height), interpolation=cv2.INTER_AREA) for t in tiles])


def describe(measures: dict[str, Any]) -> str:
    g = measures["band_gains"]
    gains = " ".join(f"{k} {'n/a' if v is None else f'{v:.2f}'}" for k, v in g.items())
    return f"L1 ratio {measures['l1_ratio']:.3f} (1 = the photo, 0 = your afters), band gains {gains} (0 = the photo, 1 = your afters)"


def cmd_clone(args: argparse.Namespace) -> None:
    from realtime.filters import library
    from realtime.filters.registry import reserved_names

    library.check_name(args.name)
    if args.name in reserved_names():
        raise UserError(f"{args.name!r} is the name of a bundled filter or effect: pick another name with --name")
    if library.find(args.name) is not None and not args.replace:
        raise UserError(f"a filter named {args.name!r} is installed already: pick another --name, add --replace, "
                        f"or `realtime-export uninstall {args.name}` first")
    if args.minutes is not None and not (args.minutes > 0 and math.isfinite(args.minutes)):
        raise UserError(f"--minutes must be a positive number, got {args.minutes}")
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    folder = Path(args.pairs)
    print(f"[1/6] checking the pairs in {folder}", flush=True)
    layout, pairs, sizes = check_pairs(folder)
    work = library.work_dir() / f"clone-{args.name}"
    plan_file = work / "plan.json"
    plan = None
    if plan_file.is_file() and not args.restart:
        try:
            plan = Plan(**json.loads(plan_file.read_text()))
        except (TypeError, ValueError):
            plan = None
        if plan is not None and plan.fingerprint != fingerprint(pairs, args.size):
            print(f"      the pairs (or --size) changed since the clone in {work} started: starting over", flush=True)
            plan = None
    if plan is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        plan = make_plan(args, layout, pairs, sizes)
        stage(pairs, set(plan.held), work, plan.work_size)
        tmp = plan_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(plan), indent=2))
        tmp.replace(plan_file)
    else:
        print(f"      resuming the clone kept in {work} (--restart starts over)", flush=True)
    held = held_pairs(work)
    eta = f", about {args.minutes:g} min in all" if args.minutes is not None else ""
    print(f"      {len(pairs)} pairs ({layout}): {len(plan.train)} to train on, {len(plan.held)} held back to check the clone; "
          f"working at {plan.work_size} px short side", flush=True)
    start = time.monotonic()
    budget = max(0.5 * args.minutes * 60, args.minutes * 60 - OVERHEAD_S) if args.minutes is not None else None
    try:
        import models.distill
        import models.train_pairs

        print(f"[2/6] training {plan.name} ({plan.size} UNet, {plan.steps} steps{eta}; Ctrl-C stops, the same command resumes)", flush=True)
        try:
            with deadline(models.train_pairs, "batch", start + 0.8 * budget if budget else None):
                models.train_pairs.train(train_config(plan, work, args.device), resume=True)
        except BudgetReached:
            print("      the time is up: training stops here (more --minutes train longer)", flush=True)
        print(f"[3/6] distilling its fast CPU variant ({plan.distil_steps} steps)", flush=True)
        try:
            with deadline(models.distill, "content_batch", start + budget if budget else None):
                models.distill.distill(distil_config(plan, work, args.device), resume=True)
        except BudgetReached:
            print("      the time is up: distillation stops here", flush=True)
    except KeyboardInterrupt:
        print(f"stopped; the work is kept in {work}: run the same command again to continue", file=sys.stderr, flush=True)
        raise
    print(f"[4/6] exporting {plan.name}.onnx, {plan.name}.fp16.onnx and {plan.name}.fast.onnx", flush=True)
    files, (steps, distil_steps) = export_clone(plan, work, len(pairs), folder.name)
    print(f"[5/6] checking the clone on the {len(held)} held-back pairs", flush=True)
    measures = measure(files, held)
    picture = thumbnail(files, held)
    print(f"[6/6] installing {plan.name}", flush=True)
    card = {"source": f"cloned from {len(pairs)} pairs in {folder.name}", "measures": measures["full"], "measures_fast": measures["fast"],
            "pairs": {"train": len(plan.train), "held_back": len(plan.held)}, "steps": steps, "distil_steps": distil_steps,
            "work_size": plan.work_size}
    entry = library.install(library.Source(files), plan.name, reserved_names(), args.replace, card=card, thumbnail=picture)
    print(f"clone of {folder.name} on {len(held)} held-back pairs:")
    print(f"  full: {describe(measures['full'])}")
    print(f"  fast: {describe(measures['fast'])}")
    if measures["full"]["l1_ratio"] >= 1.0:
        print("  note: the clone is no closer to your afters than the photos are: give it more --minutes or more pairs")
    print(f"installed {entry.name} in {entry.folder}; run it: realtime --filter {entry.name}")
    shutil.rmtree(work, ignore_errors=True)  # installed: the checkpoints are not needed any more


HELP = """clone a filter from your before/after pictures and install it.

PAIRS layouts (pictures matched by file name; extensions may differ):
  PAIRS/inputs/X.jpg + PAIRS/outputs/X.png   FilterClone's (models.train_pairs --pairs)
  PAIRS/before/X.jpg + PAIRS/after/X.jpg
  PAIRS/X.jpg        + PAIRS/X_after.jpg     (or X_before.jpg + X_after.jpg; -after too)
Each pair: the same size, the after lined up with its before. At least %d pairs; a fifth
(at least 2) are held back to check the clone. Ctrl-C stops; the same command resumes.""" % MIN_PAIRS


def add_clone_command(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("clone", help="clone a filter from before/after pictures and install it",
                        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("pairs", type=Path, metavar="PAIRS", help="folder of before/after pictures (layouts above)")
    sp.add_argument("--name", required=True, help="the name to install the clone under")
    budget = sp.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=None, help="time to spend, about (default 5; the steps are set from a timed trial)")
    budget.add_argument("--steps", type=int, default=None, help="training steps instead of a time budget (the student gets a quarter)")
    sp.add_argument("--size", choices=sorted(SIZES), default="small", help="the UNet: small (CPU, minutes; default) or medium (FilterClone's, a GPU)")
    sp.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    sp.add_argument("--replace", action="store_true", help="replace an installed filter of the same name")
    sp.add_argument("--restart", action="store_true", help="start over instead of resuming an interrupted clone")
    sp.set_defaults(func=_run_clone)


def _run_clone(args: argparse.Namespace) -> None:
    if args.minutes is None and args.steps is None:
        args.minutes = 5.0
    cmd_clone(args)
