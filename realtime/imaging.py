"""Small pixel helpers shared by the rooms: any source's frame as BGR uint8, the size a frame
filter runs at, and the strength blend."""
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


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Gray, BGRA, 16-bit or float frames → contiguous BGR uint8 (sources vary)."""
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            image = np.clip(np.nan_to_num(image) * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        else:
            image = (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)
