"""Style images the project makes itself (no licence questions, nothing to download).

``psychedelic``: the seeds' original goal was a psychedelic video call. No painting in the
shared data is that, so it is generated: interfering sine waves bent by a swirl, mapped onto
saturated rainbow hues with bright and dark rings, at several scales so the style network has
texture to copy at every size.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError
from models.data.media import read_rgb


# style images that may be shown in pictures we publish: public-domain paintings (van Gogh, Munch,
# Turner, Leonardo, Vermeer; see ../shared/data/SOURCES.md) and our generated ones. Others (e.g.
# pytorch/examples' candy and mosaic, which have no stated provenance) are used for training only.
SHOWABLE_STYLES = ("neural_style__starry_night", "neural_style__the_scream", "neural_style__shipwreck",
                   "liveportrait__s9_mona_lisa", "liveportrait__s10_pearl_earring", "psychedelic")


def style_thumbnail(style: np.ndarray, name: str, h: int, w: int) -> np.ndarray:
    """The style image at h×w for a published picture, or a gray panel saying why it is not shown."""
    if Path(name).stem in SHOWABLE_STYLES:
        return cv2.resize(style, (w, h), interpolation=cv2.INTER_AREA)
    panel = np.full((h, w, 3), 96, np.uint8)
    for i, line in enumerate(("style image", "not shown:", "no stated", "licence")):
        cv2.putText(panel, line, (8, h // 2 - 30 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (235, 235, 235), 1, cv2.LINE_AA)
    return panel


def psychedelic(size: int = 512, seed: int = 0) -> np.ndarray:
    """A size×size RGB uint8 image of swirling rainbow bands."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    r, theta = np.hypot(xx, yy), np.arctan2(yy, xx)
    swirl = theta + 3.0 * r
    f = rng.uniform(0.8, 1.2, 6)
    v = (np.sin(7 * f[0] * xx + 2 * np.sin(4 * f[1] * yy))
         + np.sin(6 * f[2] * yy + 2.5 * np.cos(3 * f[3] * xx))
         + np.sin(10 * f[4] * r - 5 * swirl)
         + 0.5 * np.sin(31 * f[5] * (xx + yy) + 3 * np.sin(9 * r)))
    hue = np.mod(0.18 * v + swirl / (2 * np.pi), 1.0)
    value = 0.55 + 0.45 * np.sin(14 * r + 2.5 * v) ** 2
    sat = 0.85 + 0.15 * np.cos(3 * v)
    hsv = np.stack([hue * 180, sat * 255, value * 255], -1).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


GENERATED = {"psychedelic": psychedelic}


def read_style(spec: Path | str) -> np.ndarray:
    """A style image file, or the name of a generated one (``psychedelic``)."""
    path = Path(spec)
    if path.is_file():
        return read_rgb(path)
    if str(spec) in GENERATED:
        return GENERATED[str(spec)]()
    raise UserError(f"style image {spec} does not exist (or name a generated style: {', '.join(GENERATED)})")
