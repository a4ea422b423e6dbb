"""How close a fast filter's output is to the full model's: SSIM (Wang et al. 2004).

Gaussian-windowed SSIM on 0–255 images, averaged over the colour channels: 1 = identical.
numpy + OpenCV only, so the benchmark runs without torch.
"""
from __future__ import annotations

import cv2
import numpy as np

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two same-shaped uint8 (or 0–255 float) images, gray or colour."""
    if a.shape != b.shape:
        raise ValueError(f"ssim needs images of one shape, got {a.shape} and {b.shape}")
    x, y = a.astype(np.float64), b.astype(np.float64)

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))
    return float(s.mean())
