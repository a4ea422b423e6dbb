"""(input, output) training pairs: from a teacher function applied on the fly, or a folder.

FilterClone's sampling: scale the image so its short side is a random size in
[short_min, short_max], take a random ``crop``² window, and pair it with the filter's output
for that same window at that same scale.
"""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch

from realtime.errors import UserError
from models.data.media import IMAGE_EXTS, fit_short_side, list_media, read_rgb

Teacher = Callable[[np.ndarray, random.Random], np.ndarray]  # TEACHERS: a random variant of the filter
# a teacher that says which variant it drew: (output, index of its style) or (output, None) when it cannot
Draw = Callable[[np.ndarray, random.Random], tuple[np.ndarray, "int | None"]]
Pair = tuple[np.ndarray, np.ndarray, "int | None"]  # input, target, the target's style index


def styled(fn: Callable[..., np.ndarray], styles: Sequence[Any]) -> Callable[..., tuple[np.ndarray, "int | None"]]:
    """``fn(*inputs, style)`` with one of ``styles`` drawn at random, and the style's index: the
    latent code that variant is trained under (FilterClone's VQ has to discover variants in
    pairs it is given; a teacher of ours can say which it drew). The returned function takes
    the teacher's inputs then the rng: ``(rgb, rng)`` for a frame teacher (a :data:`Draw`),
    ``(crop, landmarks, person, rng)`` for a face teacher."""
    def draw(*args: Any) -> tuple[np.ndarray, int | None]:
        *inputs, rng = args
        k = rng.randrange(len(styles))
        return fn(*inputs, styles[k]), k
    return draw


def unlabelled(teacher: Teacher) -> Draw:
    return lambda rgb, rng: (teacher(rgb, rng), None)


@dataclass
class CropConfig:
    crop: int = 256
    short_min: int = 256
    short_max: int = 384
    flip: bool = True
    # share of crops blurred (σ drawn log-uniformly from ``defocus_sigma``, px at the crop's scale) before the
    # teacher sees them: a plain wall, a room out of focus behind a webcam's subject (see :func:`defocus`)
    defocus: float = 0.0
    defocus_sigma: tuple[float, float] = (1.5, 6.0)

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.defocus <= 1.0:
            problems.append(f"the defocused share of crops must be from 0 to 1, got {self.defocus:g}")
        lo, hi = self.defocus_sigma
        if not 0.0 < lo <= hi:
            problems.append(f"the defocus blur range must be two σ with 0 < low <= high, got {lo:g}, {hi:g}")
        if problems:
            raise UserError("; ".join(problems))


def defocus(crop: np.ndarray, crops: CropConfig, rng: random.Random) -> np.ndarray:
    """``crop`` blurred by a Gaussian of random σ for a ``crops.defocus`` share of the calls (else
    as it is; no draw at all when the share is 0, so earlier runs keep their sequence).

    Why: photos are textured almost everywhere, but a webcam frame is mostly a plain wall or a
    room out of focus. Trained on photos, the watercolour clone's vivid style lightened flat
    regions 5–10 grey levels less than its teacher (a flat grey of 200: teacher 203.6, network
    193.5 to 198.3), on both the full network and its student: on the held-out talking head
    (liveportrait__d18, a plain wall) that is a bias of −2.9 / −3.9 over the frame (the student's
    output 3 levels lighter would score an L1 ratio of 0.42 instead of 0.557). A third of the crops
    blurred by σ 4–32 took the student to 0.521 in 1500 steps, with a colour head
    (:class:`models.networks.guided.ColourHead`) to 0.478. A blurred crop is still a true pair: the
    teacher draws on the blurred crop."""
    if crops.defocus <= 0 or rng.random() >= crops.defocus:
        return crop
    lo, hi = crops.defocus_sigma
    sigma = lo * (hi / lo) ** rng.random()
    return cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 → 3×H×W float in 0–1."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


def random_window(shape: tuple[int, ...], crop: int, rng: random.Random) -> tuple[int, int]:
    h, w = shape[:2]
    return rng.randint(0, h - crop), rng.randint(0, w - crop)


def random_crop(images: list[np.ndarray], crops: CropConfig, rng: random.Random) -> np.ndarray:
    """One training crop: an image drawn at random, scaled so its short side is a random size in
    [short_min, short_max], a random ``crop``² window, mirrored half the time (``flip``) and
    defocused for a ``defocus`` share (:func:`defocus`); contiguous uint8 RGB."""
    img = images[rng.randrange(len(images))]
    img = fit_short_side(img, max(rng.randint(crops.short_min, crops.short_max), crops.crop))
    y, x = random_window(img.shape, crops.crop, rng)
    crop = img[y : y + crops.crop, x : x + crops.crop]
    if crops.flip and rng.random() < 0.5:
        crop = crop[:, ::-1]
    return defocus(np.ascontiguousarray(crop), crops, rng)


def add_defocus_args(p: argparse.ArgumentParser) -> None:
    """--defocus and --defocus-sigma (:func:`defocus`), for a trainer whose teacher draws on each crop."""
    p.add_argument("--defocus", type=float, default=0.0,
                   help="share of training crops blurred (σ from --defocus-sigma) before the teacher draws on them: plain "
                        "walls and rooms out of focus, as behind a webcam's subject, e.g. 0.3 (models.data.pairs.defocus)")
    p.add_argument("--defocus-sigma", default="1.5,6", help="LOW,HIGH: the σ range (px, log-uniform) of --defocus's blur")


def defocus_options(a: argparse.Namespace) -> dict[str, Any]:
    """CropConfig's ``defocus`` and ``defocus_sigma`` from :func:`add_defocus_args`' options (CropConfig checks the values)."""
    try:
        lo, hi = (float(v) for v in a.defocus_sigma.split(","))
    except ValueError:
        raise UserError(f"--defocus-sigma takes two blur σ in pixels, LOW,HIGH, e.g. 1.5,6; got {a.defocus_sigma!r}") from None
    return {"defocus": a.defocus, "defocus_sigma": (lo, hi)}


class TeacherPairs:
    """Random crops of in-memory images, each paired with ``teacher(crop)``."""

    def __init__(self, images: list[np.ndarray], teacher: Draw, crops: CropConfig) -> None:
        if not images:
            raise UserError("no training images")
        self.images, self.teacher, self.crops = images, teacher, crops

    def sample(self, rng: random.Random) -> Pair:
        src = random_crop(self.images, self.crops, rng)
        return (src, *self.teacher(src, rng))


class FolderPairs:
    """Pairs from ``FOLDER/inputs/NAME`` and ``FOLDER/outputs/NAME`` (same names, same sizes)."""

    def __init__(self, folder: Path, crops: CropConfig) -> None:
        inputs = list_media(folder / "inputs", IMAGE_EXTS) if (folder / "inputs").is_dir() else []
        self.pairs = [(p, folder / "outputs" / p.name) for p in inputs if (folder / "outputs" / p.name).is_file()]
        if not self.pairs:
            raise UserError(f"{folder} holds no pairs: put images in {folder}/inputs and same-named results in {folder}/outputs")
        self.crops = crops

    def sample(self, rng: random.Random) -> Pair:
        c = self.crops
        src_path, dst_path = self.pairs[rng.randrange(len(self.pairs))]
        src, dst = read_rgb(src_path), read_rgb(dst_path)
        if src.shape != dst.shape:
            dst = cv2.resize(dst, (src.shape[1], src.shape[0]), interpolation=cv2.INTER_AREA)
        short = max(rng.randint(c.short_min, c.short_max), c.crop)
        src, dst = fit_short_side(src, short), fit_short_side(dst, short)
        y, x = random_window(src.shape, c.crop, rng)
        src, dst = src[y : y + c.crop, x : x + c.crop], dst[y : y + c.crop, x : x + c.crop]
        if c.flip and rng.random() < 0.5:
            src, dst = src[:, ::-1], dst[:, ::-1]
        return src, dst, None


class PairSource:  # what batch() samples from: TeacherPairs, FolderPairs, models.data.face_crops.FaceTeacherPairs
    def sample(self, rng: random.Random) -> Pair: ...


def batch(source: PairSource, size: int, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(inputs, targets, style indices or None when any pair's style is unknown)."""
    pairs = [source.sample(rng) for _ in range(size)]
    codes = [k for _, _, k in pairs]
    labels = None if any(k is None for k in codes) else torch.tensor(codes, dtype=torch.long)
    return torch.stack([to_tensor(a) for a, _, _ in pairs]), torch.stack([to_tensor(b) for _, b, _ in pairs]), labels
