"""How close a filter's output is to what it should be: SSIM (Wang et al. 2004) and the clone ratio.

SSIM: Gaussian-windowed, on 0–255 images, averaged over the colour channels: 1 = identical (a
fast student against its full network). Clone ratio: L1(network, teacher) / L1(photo,
teacher) per teacher style and latent code (a cloned filter against its classical teacher:
1 = no closer than the photo, 0 = the teacher). numpy + OpenCV only, so the benchmarks run
without torch.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

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


def clone_ratio_table(images: Iterable[np.ndarray], apply: Callable[[np.ndarray, int], np.ndarray], codes: int,
                      teacher: Callable[[np.ndarray, Any], np.ndarray], styles: dict[str, Any]) -> np.ndarray:
    """Styles × codes: L1(apply(image, code), teacher(image, style)) / L1(image, teacher(image,
    style)), each summed over the RGB uint8 ``images``. The issue's measure takes, per style
    (row), the code that comes closest: ``table.min(axis=1)``."""
    net_err = np.zeros((len(styles), codes))
    photo_err = np.zeros(len(styles))
    for rgb in images:
        outs = [apply(rgb, k).astype(np.float32) for k in range(codes)]
        for i, style in enumerate(styles.values()):
            target = teacher(rgb, style).astype(np.float32)
            photo_err[i] += np.abs(rgb - target).mean()
            net_err[i] += [np.abs(o - target).mean() for o in outs]
    return net_err / np.maximum(photo_err, 1e-9)[:, None]
