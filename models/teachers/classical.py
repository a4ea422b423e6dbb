"""Classical filters that teach a network by example (FilterClone's idea: clone a filter).

``TEACHERS`` maps a name to ``fn(rgb_uint8, rng) -> rgb_uint8`` (a variant drawn at random):
``cartoon``, ``sketch`` (pencil), ``oil`` and ``watercolor``; each has named styles, the
variants its network's latent code selects.

:func:`cartoon` is an edge-preserving cartoon: repeated bilateral smoothing, lightness
quantised into flat bands, a saturation lift and dark outlines where the image is darker than
its surroundings (a difference of Gaussians with a soft threshold, as in XDoG). Every step is
local and continuous, so a convolutional network can learn it from random crops: the first
version used a median-blurred adaptive threshold with near-binary ink, and a 5,000-step UNet
never learned those outlines. :data:`CARTOON_STYLES`
are the variants the UNet's latent code learns to choose between; :func:`random_cartoon` draws
one at random.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

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


@dataclass(frozen=True)
class SketchStyle:
    blur: float = 6.0  # σ of the blurred negative the grey is dodged by: larger = broader strokes
    darkness: float = 1.0  # gamma on the dodged picture (>1 darker, heavier pencil)
    colour: float = 0.0  # 0 = graphite on white, 1 = coloured pencil (the photo's hue under the strokes)
    paper: int = 250  # paper tone (white)

    @property
    def monochrome(self) -> bool:
        """Whether the drawing is grey (every channel the same): graphite and charcoal, not coloured pencil."""
        return self.colour == 0


SKETCH_STYLES: dict[str, SketchStyle] = {
    "graphite": SketchStyle(),
    "charcoal": SketchStyle(blur=10.0, darkness=2.2, paper=242),
    "coloured": SketchStyle(blur=5.0, darkness=1.3, colour=0.8),
}


def sketch(rgb: np.ndarray, style: SketchStyle = SKETCH_STYLES["graphite"]) -> np.ndarray:
    """A pencil drawing: the grey picture colour-dodged by its own blurred negative (flat areas
    go to paper white, edges and shading stay as strokes), darkened by a gamma, optionally
    tinted with the photo's colour (coloured pencil)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blurred = cv2.GaussianBlur(255.0 - gray, (0, 0), style.blur, borderType=cv2.BORDER_REFLECT)
    dodged = np.clip(gray * 255.0 / np.maximum(255.0 - blurred, 1.0), 0, 255) / 255.0
    lines = dodged**style.darkness * (style.paper / 255.0)
    out = np.repeat(lines[..., None], 3, axis=2) * 255.0
    if style.colour > 0:
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
        lab[..., 0] = 235.0  # the photo's hue and chroma at paper lightness
        tint = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32) / 255.0
        out = out * (1 - style.colour + style.colour * tint)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class OilStyle:
    radius: int = 3  # brush: each pixel takes the calmest of four (radius+1)² squares around it (at 256-384 px)
    sharpness: float = 8.0  # how strongly the calmest square wins (the generalised Kuwahara's q)
    relief: float = 0.0  # embossed paint: light from the top left on the strokes' lightness
    saturation: float = 1.15


OIL_STYLES: dict[str, OilStyle] = {
    "fine": OilStyle(radius=3),
    "bold": OilStyle(radius=5, saturation=1.35),
    "impasto": OilStyle(radius=4, relief=0.8),
}


def kuwahara(rgb: np.ndarray, radius: int, sharpness: float) -> np.ndarray:
    """A soft Kuwahara filter (Papari et al. 2007, with four square sectors): each pixel's
    colour is the mean of the four (radius+1)² squares that have it as a corner, weighted by
    (variance + ε)^(−q/2), so the calmest square wins. Flat areas become brush-sized patches and
    edges stay sharp (they lie between squares, never inside the calm one). Every step is a
    box mean or a smooth weight, so a network can learn it; OpenCV's ``xphoto.oilPainting``
    (the mode of each neighbourhood's histogram) flips between colours on one level of noise,
    and a network cloning it stayed at 0.8 of the photo's distance after 250 steps."""
    x = rgb.astype(np.float32) / 255.0
    k = radius + 1
    means, weights = [], []
    for anchor in ((0, 0), (radius, 0), (0, radius), (radius, radius)):  # the four squares with the pixel at a corner
        mean = cv2.blur(x, (k, k), anchor=anchor, borderType=cv2.BORDER_REFLECT)
        var = cv2.blur(x * x, (k, k), anchor=anchor, borderType=cv2.BORDER_REFLECT) - mean * mean
        means.append(mean)
        weights.append((np.maximum(var.sum(axis=2), 0.0) + 1e-4) ** (-sharpness / 2))
    total = np.sum(weights, axis=0)
    out = sum(m * (w / total)[..., None] for m, w in zip(means, weights))
    return np.clip(out * 255.0, 0, 255)


def oil(rgb: np.ndarray, style: OilStyle = OIL_STYLES["fine"]) -> np.ndarray:
    """An oil painting: a soft Kuwahara filter (:func:`kuwahara`: areas break into flat
    brush-sized patches with sharp borders), a saturation lift and, for impasto, relief
    shading from the patches' lightness."""
    out = kuwahara(rgb, style.radius, style.sharpness)
    hsv = cv2.cvtColor(out.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = np.clip(hsv[..., 1] * style.saturation, 0, 1)
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    if style.relief > 0:
        light = cv2.GaussianBlur(cv2.cvtColor(out / 255.0, cv2.COLOR_RGB2GRAY) * 255.0, (0, 0), 1.0)
        slope = cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3) + cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3)
        out *= (1 - style.relief * np.clip(slope / 255.0, -0.5, 0.5))[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class WatercolorStyle:
    spatial: int = 10  # cv2.pyrMeanShiftFiltering's window: colours flattened into washes this wide
    colour: int = 32  # … and this close in colour
    wet: float = 1.5  # σ of the bleed of colour across a wash's edge
    edge_dark: float = 0.45  # pigment pooling on the dark side of a wash's edge
    lighten: float = 0.2  # washes are transparent: colours lifted toward the paper
    saturation: float = 1.1


WATERCOLOR_STYLES: dict[str, WatercolorStyle] = {
    "wash": WatercolorStyle(),
    "wet": WatercolorStyle(spatial=12, colour=36, wet=3.0, edge_dark=0.3, lighten=0.28),
    "vivid": WatercolorStyle(spatial=6, colour=20, wet=1.0, edge_dark=0.6, lighten=0.1, saturation=1.4),
}


def watercolor(rgb: np.ndarray, style: WatercolorStyle = WATERCOLOR_STYLES["wash"]) -> np.ndarray:
    """A watercolour: mean-shift filtering flattens the picture into washes of near-constant
    colour, the colour bleeds a little across their edges, pigment pools (darkens) on the
    darker side of an edge, and everything is lifted toward the white paper."""
    washes = cv2.pyrMeanShiftFiltering(rgb, style.spatial, style.colour).astype(np.float32)
    out = 0.5 * washes + 0.5 * cv2.GaussianBlur(washes, (0, 0), style.wet)
    light = cv2.cvtColor(washes.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    pooled = np.clip((cv2.GaussianBlur(light, (0, 0), 2.0) - light) / 25.0, 0, 1)  # darker than its surroundings
    out *= (1 - style.edge_dark * pooled)[..., None]
    hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * style.saturation, 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    out = out + style.lighten * (250.0 - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def random_style(fn: Callable[[np.ndarray, Any], np.ndarray], styles: dict[str, Any]) -> Callable[[np.ndarray, random.Random], np.ndarray]:
    """``fn`` with a style of ``styles`` drawn at random: TEACHERS' ``fn(rgb, rng)`` form."""
    def draw(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
        return fn(rgb, styles[rng.choice(sorted(styles))])
    return draw


# name → (fn(rgb, style), {style name: style}): a style's index in its dict is its latent code
STYLED_TEACHERS: dict[str, tuple[Callable[[np.ndarray, Any], np.ndarray], dict[str, Any]]] = {
    "cartoon": (cartoon, CARTOON_STYLES), "sketch": (sketch, SKETCH_STYLES), "oil": (oil, OIL_STYLES),
    "watercolor": (watercolor, WATERCOLOR_STYLES)}
TEACHERS = {name: random_style(fn, styles) for name, (fn, styles) in STYLED_TEACHERS.items()}
random_cartoon = TEACHERS["cartoon"]  # a cartoon variant drawn at random: the hidden choice a VQ code must learn


def monochrome_codes(teacher: str | None, style_codes: dict[str, int]) -> tuple[int, ...]:
    """The latent codes, of a clone whose codes are ``style_codes`` (style name → code) of the
    classical ``teacher``, that stand for a grey style: a style says so by a true ``monochrome``
    attribute (:class:`SketchStyle`'s graphite and charcoal). The network's output for these codes
    is made grey in the network itself (:class:`models.networks.unet.UNetConfig`'s
    ``monochrome_codes``). Empty for any other teacher."""
    styles = STYLED_TEACHERS.get(teacher or "", (None, {}))[1]
    return tuple(sorted(int(k) for name, k in style_codes.items() if getattr(styles.get(name), "monochrome", False)))
