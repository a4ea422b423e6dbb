"""Classical filters that teach a network by example (FilterClone's idea: clone a filter).

:func:`cartoon` is an edge-preserving cartoon: repeated bilateral smoothing, lightness
quantised into flat bands, a saturation lift and dark outlines where the image is darker than
its surroundings (a difference of Gaussians with a soft threshold, as in XDoG). Every step is
local and continuous, so a convolutional network can learn it from random crops: the first
version used a median-blurred adaptive threshold with near-binary ink, and a 5,000-step UNet
never learned those outlines. :data:`CARTOON_STYLES`
are the variants the UNet's latent code learns to choose between; :func:`random_cartoon` draws
one per training sample.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CartoonStyle:
    smoothing_passes: int = 2  # bilateral filter passes
    sigma_color: float = 40.0
    levels: int = 6  # lightness bands
    saturation: float = 1.3
    edge_strength: float = 1.0  # 0 = no edges, 1 = black edges
    edge_center: float = 1.2  # Gaussian sigma (pixels) of the pixel's own lightness
    edge_surround: float = 3.0  # Gaussian sigma of its surroundings; larger = thicker outlines
    edge_offset: float = 3.0  # gray levels darker than the surroundings before ink starts
    edge_softness: float = 12.0  # gray levels over which an outline fades in (0 = binary)
    band_softness: float = 0.35  # width of the ramp between lightness bands (0 = hard steps)


CARTOON_STYLES: dict[str, CartoonStyle] = {
    # Flavours of one look (flat colour bands + dark outlines), so every code is a cartoon.
    "bold": CartoonStyle(smoothing_passes=3, sigma_color=50, levels=5, saturation=1.4, edge_strength=1.0),
    "soft": CartoonStyle(smoothing_passes=2, sigma_color=35, levels=8, saturation=1.2, edge_strength=0.6,
                         edge_center=1.0, edge_surround=2.5, edge_offset=4.0, edge_softness=16.0),
    "vivid": CartoonStyle(smoothing_passes=3, sigma_color=50, levels=6, saturation=1.8, edge_strength=0.85),
    "muted": CartoonStyle(smoothing_passes=2, sigma_color=40, levels=6, saturation=0.7, edge_strength=1.0,
                          edge_center=1.5, edge_surround=4.0, edge_softness=15.0),
}


def soft_bands(lightness: np.ndarray, levels: int, softness: float) -> np.ndarray:
    """Quantise 0–255 values into ``levels`` flat bands joined by smooth ramps.

    Between two band centres the value stays flat and then rises over a ramp ``softness``
    band-widths wide (0 = the hard staircase). Continuous, so a network can learn it.
    """
    step = 255.0 / levels
    u = lightness / step - 0.5
    k = np.floor(u)
    r = u - k
    if softness <= 0:
        t = (r >= 0.5).astype(np.float32)
    else:
        x = np.clip((r - 0.5) / softness + 0.5, 0.0, 1.0)
        t = x * x * (3 - 2 * x)
    return np.clip((k + 0.5 + t) * step, 0.0, 255.0)


def outline_ink(rgb: np.ndarray, style: CartoonStyle) -> np.ndarray:
    """H×W ink amount in [0, 1]: how much darker each pixel is than its surroundings (soft DoG)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    center = cv2.GaussianBlur(gray, (0, 0), style.edge_center, borderType=cv2.BORDER_REPLICATE)
    surround = cv2.GaussianBlur(gray, (0, 0), style.edge_surround, borderType=cv2.BORDER_REPLICATE)
    below = surround - center - style.edge_offset  # > 0: darker than the neighbourhood
    if style.edge_softness <= 0:
        return (below > 0).astype(np.float32)
    x = np.clip(below / style.edge_softness, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def cartoon(rgb: np.ndarray, style: CartoonStyle = CARTOON_STYLES["bold"]) -> np.ndarray:
    """Cartoonise an H×W×3 uint8 RGB image; returns the same shape and dtype."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"cartoon() needs an H×W×3 uint8 image, got {rgb.dtype} {rgb.shape}")
    smooth = rgb
    for _ in range(style.smoothing_passes):
        smooth = cv2.bilateralFilter(smooth, 7, style.sigma_color, 5)
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] = soft_bands(lab[..., 0], style.levels, style.band_softness)
    lab[..., 1:] = (lab[..., 1:] - 128.0) * style.saturation + 128.0
    out = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    if style.edge_strength > 0:
        out *= 1.0 - style.edge_strength * outline_ink(rgb, style)[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def random_cartoon(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """Apply a cartoon variant drawn at random: the hidden choice the latent code must learn."""
    return cartoon(rgb, CARTOON_STYLES[rng.choice(sorted(CARTOON_STYLES))])


TEACHERS = {"cartoon": random_cartoon}
