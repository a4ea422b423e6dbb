"""Finding and loading the real photos and videos used for training and tests.

The media live outside the project (``../shared/data`` next to the checkout, or wherever
``REALTIME_DATA`` points) and are never copied into it.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Set as AbstractSet
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError
from realtime.media import IMAGE_EXTS, VIDEO_EXTS  # one list for the runtime and training

# The photos and videos (file stems) every trainer keeps out and every quality benchmark scores
# on: faces and video frames no network saw. One tuple, so training and measuring cannot drift
# apart (they did: networks trained before 2026-11-24 kept out only the first, second and last).
HOLDOUT = ("skimage__astronaut", "liveportrait__d18", "face_recognition__obama", "3ddfa__emma", "skimage__coffee")

log = logging.getLogger(__name__)



def data_root() -> Path:
    """The shared media folder: $REALTIME_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("REALTIME_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def list_media(root: Path, exts: AbstractSet[str]) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file())


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as H×W×3 uint8 RGB (gray and alpha are converted)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UserError(f"cannot read image {path}: is it a valid image file?")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_video_frames(path: Path, every: int = 10, limit: int | None = None) -> list[np.ndarray]:
    """Every ``every``-th frame of a video as RGB arrays."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise UserError(f"cannot open video {path}")
    frames: list[np.ndarray] = []
    index = 0
    try:
        while limit is None or len(frames) < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            if index % every == 0:
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        cap.release()
    return frames


def fit_short_side(rgb: np.ndarray, short: int) -> np.ndarray:
    """Resize so the shorter side is ``short`` pixels (area filter when shrinking)."""
    h, w = rgb.shape[:2]
    scale = short / min(h, w)
    if abs(scale - 1.0) < 1e-6:
        return rgb
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def load_collection(
    root: Path, holdout: set[str], max_short: int = 512, video_every: int = 10
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """All photos and sampled video frames under ``root``, split into (train, validation).

    A file goes to validation when its stem is in ``holdout``. Images are shrunk so their
    short side is at most ``max_short`` to keep memory small.
    """
    if not root.is_dir():
        raise UserError(f"media folder {root} does not exist: pass --data or set REALTIME_DATA")
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for path in list_media(root, IMAGE_EXTS | VIDEO_EXTS):
        frames = read_video_frames(path, video_every) if path.suffix.lower() in VIDEO_EXTS else [read_rgb(path)]
        frames = [fit_short_side(f, max_short) if min(f.shape[:2]) > max_short else f for f in frames]
        (val if path.stem in holdout else train).extend(frames)
    if not train:
        raise UserError(f"no images or videos found under {root}")
    log.info("loaded %d training and %d validation images from %s", len(train), len(val), root)
    return train, val
