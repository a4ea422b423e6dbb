"""Small pixel helpers shared by the filter kinds: the size a frame filter runs at, and the
strength blend."""
from __future__ import annotations

import cv2
import numpy as np


def work_shape(h: int, w: int, short: int) -> tuple[int, int]:
    """(height, width) after shrinking so the short side is at most ``short`` (never enlarged)."""
    scale = min(1.0, short / min(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def blend(filtered: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` 1 = the filter, 0 = the input, in between a linear mix."""
    if strength >= 1.0:
        return filtered
    if strength <= 0.0:
        return original
    return cv2.addWeighted(filtered, strength, original, 1.0 - strength, 0.0)
