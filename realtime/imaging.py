"""Small pixel helpers shared by the rooms: any source's frame as BGR uint8, the size a frame
filter runs at, a fast shrink, the strength blend and a per-pixel mix."""
from __future__ import annotations

import cv2
import numpy as np


def work_shape(h: int, w: int, short: int) -> tuple[int, int]:
    """(height, width) after shrinking so the short side is at most ``short`` (never enlarged),
    the aspect kept to the pixel: 1280x720 and 1920x1080 at 480 lines are both 853x480, the
    size a 16:9 frame of 480 lines has, and the engine pads it to the network's size multiple.

    Not rounded to that multiple (852x480 for a multiple of 12 saved padding, 0.25 ms at 720p):
    a network that draws its own strokes places them on its pixel grid, so a 0.6 % squeeze
    moves every stroke. A 1-px shift of the input changed ``candy``'s output to SSIM 0.90
    (full network) and 0.91 (its student), and its 720p output shrunk to 480 lines matched the
    480-line output at SSIM 0.90 with the squeeze (``benchmarks.look_across_sizes``, goal 0.95)."""
    scale = min(1.0, short / min(h, w))
    if scale >= 1.0:
        return h, w
    return max(1, round(h * scale)), max(1, round(w * scale))


def blend(filtered: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` 1 = the filter, 0 = the input, in between a linear mix."""
    if strength >= 1.0:
        return filtered
    if strength <= 0.0:
        return original
    return cv2.addWeighted(filtered, strength, original, 1.0 - strength, 0.0)


def mix(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``a·w + b·(1 − w)`` per pixel for two uint8 BGR (or grey) images and ``weight`` a one-channel uint8
    map (255: all ``a``, 0: all ``b``). Within one grey level of the exact blend and exact where
    the weight is 0 or 255. Four uint8 OpenCV passes, two of them in place: the temporal
    stabiliser of a 720p stream (853x480 network output) 1.2–1.9 ms → 0.9–1.1 ms a frame in the
    live loop on 2 cores against ``cv2.blendLinear`` on float32 weight maps."""
    w3 = cv2.merge((weight, weight, weight)) if a.ndim == 3 else weight.copy()  # a grey map: the weight itself
    out = cv2.multiply(a, w3, scale=1 / 255)
    cv2.bitwise_not(w3, dst=w3)
    cv2.multiply(b, w3, dst=w3, scale=1 / 255)
    return cv2.add(out, w3, dst=out)


def written_into(region: np.ndarray, result: np.ndarray) -> None:
    """After an OpenCV call given ``dst=region``, a view into a larger image: OpenCV writes into
    the view itself and returns it (no copy of the region: at 1080p a face's 1479×1080 footprint
    took 1.2 ms to copy back); should it ever return a new array instead, that is copied in."""
    if result is not region:
        region[...] = result


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


def area_down(image: np.ndarray, kx: int, ky: int | None = None) -> np.ndarray:
    """``image`` averaged over blocks of kx×ky pixels (its sides divided by them, rounded down).
    OpenCV's area resize runs its vectorised code for a factor of 2 and a plain loop for any other
    whole factor (1280x720 by 4: 2.0 ms, halved twice 0.29; 1920x1080 by 6: 3.2 ms, halved then
    by 3 1.8), so a side that divides evenly is halved while its factor is even, then shrunk by
    the odd rest: the block means within half a grey level a step (each rounds; on a camera frame
    0.1–0.2 levels from one area resize on average). Sides that do not divide evenly go to one
    area resize, which then splits pixels between blocks."""
    ky = kx if ky is None else ky
    h, w = image.shape[:2]
    out_w, out_h = max(1, w // kx), max(1, h // ky)
    if w % kx or h % ky:
        return cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
    while kx % 2 == 0 and ky % 2 == 0:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
        kx, ky = kx // 2, ky // 2
    if kx > 1 or ky > 1:
        image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return image


def shrink(bgr: np.ndarray, w: int, h: int) -> np.ndarray:
    """``bgr`` at w×h, every source pixel counted: area averaging by the whole factor
    (:func:`area_down`), then bilinear for what is left (under 2x bilinear reads every source
    pixel). Area averaging by a fractional factor costs 10x more: 1280x720 -> 853x480 took 4.4 ms
    of CPU, bilinear 0.7; 1920x1080 -> 853x480 8.4 ms, halving then bilinear about 1."""
    k = min(bgr.shape[0] // h, bgr.shape[1] // w)
    if k >= 2:
        bgr = area_down(bgr, k)
    if bgr.shape[:2] != (h, w):
        bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR)
    return bgr


def cover(bgr: np.ndarray, w: int, h: int) -> np.ndarray:
    """``bgr`` scaled to cover w×h and centred (the edges that do not fit are cut, never
    stretched or padded): what a call sees at --output-size when the camera gives another
    shape, e.g. a 4:3 camera into a 16:9 call loses a band at the top and bottom."""
    sh, sw = bgr.shape[:2]
    if (sw, sh) == (w, h):
        return bgr
    if sw * h > w * sh:  # wider than the output: cut the sides
        cw = max(1, round(sh * w / h))
        x = (sw - cw) // 2
        bgr = bgr[:, x:x + cw]
    elif sw * h < w * sh:  # taller: cut the top and bottom
        ch = max(1, round(sw * h / w))
        y = (sh - ch) // 2
        bgr = bgr[y:y + ch]
    if bgr.shape[0] > h and bgr.shape[1] > w:
        return shrink(bgr, w, h)
    return cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR)
