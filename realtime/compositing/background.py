"""Backgrounds behind the person: blur, a flat colour (remove, for chroma keying), an image or
a looping video; ``--background blur[:STRENGTH]|remove[:COLOUR]|COLOUR|IMAGE|VIDEO``.

Blur is a **masked, normalised blur**: the frame with the person masked out is blurred and
divided by the blurred mask, so each background pixel is an average of background pixels
only. Blurring the whole frame instead smears the person 20-40 px into the room around them:
the light or dark halo users complain about. It runs at 1/4 to 1/16 of the frame's size
(:func:`blur_scale`: a Gaussian of σ 18 px on 1280×720 costs ~30 ms at full size, 0.5 ms at
160×90, and a blurred background has nothing the small size loses); only the final mix is at
full size.

Every backdrop is parsed and its file read before the run starts (:func:`parse_background`),
so a missing or corrupt image or video is one line before any model loads.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from realtime import imaging
from realtime.media import VIDEO_EXTS
from realtime.errors import UserError

log = logging.getLogger(__name__)

COLOURS = {  # BGR
    "green": (0, 255, 0), "blue": (255, 0, 0), "red": (0, 0, 255), "black": (0, 0, 0),
    "white": (255, 255, 255), "gray": (128, 128, 128), "grey": (128, 128, 128),
    "magenta": (255, 0, 255), "cyan": (255, 255, 0), "yellow": (0, 255, 255),
}
REMOVE_COLOUR = COLOURS["green"]  # the chroma key OBS expects by default
MAX_PIXELS = 7680 * 4320  # a background larger than 8K is a mistake, not a wallpaper
BLUR_FRACTION = 0.05  # σ at strength 1, as a share of the frame's short side (36 px at 720p)


class Backdrop(Protocol):
    """``scale_free = True`` (optional) when composing on a smaller copy of the frame and its
    mask gives the composite shrunk, within the mask's edge: a blur or a colour, not a picture
    (whose own detail a smaller copy would lose)."""

    name: str

    def compose(self, bgr: np.ndarray, person: np.ndarray) -> np.ndarray:
        """``bgr`` with everything where ``person`` (H×W uint8 255ths, or float32 0..1) is low replaced."""


def in_255ths(person: np.ndarray) -> np.ndarray:
    """The person mask as uint8 255ths: a float32 0..1 mask converted (one full-size pass:
    0.3 ms at 1920x1080), a uint8 one as it is."""
    return person if person.dtype == np.uint8 else cv2.convertScaleAbs(person, alpha=255.0)


def mix(person_image: np.ndarray, background: np.ndarray, person: np.ndarray) -> np.ndarray:
    """person·p + background·(1 − p), per pixel (uint8 BGR images, ``person`` the H×W float32
    mask, or uint8 in 255ths): :func:`realtime.imaging.mix` on the mask in 255ths. ``cv2.blendLinear``
    on the float mask and its complement took 1.6 ms at 1280x720 and 4.0 at 1920x1080 on 2 cores; this 1.1 and 2.9."""
    return imaging.mix(person_image, background, in_255ths(person))


SMALL_SIGMA = 2.0  # the blur is run where its σ is at least this many pixels: nothing finer survives it


def blur_scale(sigma: float) -> float:
    """The share of the frame's size the masked blur runs at: 1/4, or 1/8 or 1/16 while σ
    there stays >= SMALL_SIGMA px (a Gaussian of σ 2 px passes e^-20 of the finest period left,
    so nothing is lost). Whole factors keep OpenCV's fast area-resize: at 1280x720, σ 18 px,
    1/8 costs 0.5 ms for the two blurs against 1.7 at 1/4, where a 1/6 (non-whole) shrink
    alone cost 2.3 ms."""
    factor = 4
    while factor < 16 and sigma / (2 * factor) >= SMALL_SIGMA:
        factor *= 2
    return 1.0 / factor


def masked_blur(bgr: np.ndarray, person: np.ndarray, sigma: float, scale: float | None = None) -> np.ndarray:
    """The background blurred with the person left out (normalised convolution), at ``scale``
    of the frame's size (default :func:`blur_scale`; else the nearest 1/2k, k whole), returned
    at full size; ``person`` float32 0..1 or uint8 255ths (:func:`in_255ths`). Where no
    background is near (the person fills the window) the plain blur stands in.

    The room's colour is weighted by the room mask (1 − person) before it is shrunk, at half
    size (a quarter of the pixels; uint8): shrinking first would average the person into the
    small pixels on their outline, and at 1/8 that put 1 grey level more of halo 4-24 px around
    the person. Against the plain 1/4-size blur, at 1280x720: 1.8 ms instead of 5.9, halo 3.84
    grey levels instead of 4.05 (the green-screen clip keyed onto the held rooms, σ at blur
    strengths 0.5 and 1); at 1920x1080 5.1 ms instead of 14.6; at 640x480 1.2 instead of 1.6.

    Every shrink is by a whole factor (the frame to half, the half to the small size):
    OpenCV's area resize takes its fast path only then, and the 683x384 copy a chain composes
    ``cartoon``'s output on took 1.1 ms to halve (683 → 341) and 0.31 to shrink on (341 → 171),
    12x the whole-factor time (682 → 341: 0.09 ms). A frame whose sides are not a multiple of
    the small pixel (2k frame pixels) has its last row and column repeated up to one (and the
    mask with it), and the blur is grown over that size and cut back: every pixel of the frame
    counts, where it falls."""
    scale = blur_scale(sigma) if scale is None else scale
    h, w = bgr.shape[:2]
    k = max(1, round(1 / (2 * scale)))  # the half's shrink to the small size
    step = 2 * k  # frame pixels per small pixel
    ph, pw = -h % step, -w % step
    mask = in_255ths(person)
    if ph or pw:
        bgr = cv2.copyMakeBorder(bgr, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        mask = cv2.copyMakeBorder(mask, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    half = imaging.area_down(bgr, 2)
    room = cv2.bitwise_not(imaging.area_down(mask, 2))  # 255 − p, at half size
    weighted = cv2.multiply(half, cv2.merge([room, room, room]), scale=1.0 / 255)
    small = imaging.area_down(weighted, k).astype(np.float32)
    weight = imaging.area_down(room, k).astype(np.float32) * (1.0 / 255)
    s = max(0.5, sigma / step)  # σ in small pixels
    norm = cv2.GaussianBlur(weight, (0, 0), s)
    # OpenCV's per-channel divide and masked copy: numpy's broadcast over the three channels and
    # boolean indexing took 0.8 ms of the 1080p blur's 5.8 (the same floats)
    floor = np.maximum(norm, 1e-2)
    out = cv2.divide(cv2.GaussianBlur(small, (0, 0), s), cv2.merge((floor, floor, floor)))
    hidden = norm < 1e-2
    if hidden.any():
        plain = imaging.area_down(half, k).astype(np.float32)
        out = cv2.copyTo(cv2.GaussianBlur(plain, (0, 0), s), hidden.view(np.uint8), out)
    grown = cv2.resize(out.astype(np.uint8), (w + pw, h + ph), interpolation=cv2.INTER_LINEAR)
    return grown if not (ph or pw) else np.ascontiguousarray(grown[:h, :w])


def blur_sigma(strength: float, shape: tuple[int, ...]) -> float:
    """The Gaussian σ of blur ``strength`` (0..1) on frames of ``shape`` (H, W, …)."""
    return strength * BLUR_FRACTION * min(shape[:2])


@dataclass
class BlurBackdrop:
    strength: float = 0.5  # 0..1: σ = strength × 5 % of the short side
    name: str = "blur"
    scale_free = True  # σ is a share of the frame: on a smaller copy, the same picture smaller (Chain.shrink_ahead)

    def compose(self, bgr: np.ndarray, person: np.ndarray) -> np.ndarray:
        sigma = blur_sigma(self.strength, bgr.shape)
        if sigma < 0.5:
            return bgr
        person = in_255ths(person)  # once, for the blur and the blend
        return mix(bgr, masked_blur(bgr, person, sigma), person)


@dataclass
class ColourBackdrop:
    colour: tuple[int, int, int]  # BGR
    name: str = "colour"
    scale_free = True  # a flat plate: on a smaller copy, the same picture smaller (Chain.shrink_ahead)
    _plate: np.ndarray | None = field(default=None, repr=False)

    def compose(self, bgr: np.ndarray, person: np.ndarray) -> np.ndarray:
        plate = self._plate
        if plate is None or plate.shape != bgr.shape:
            plate = self._plate = np.empty_like(bgr)
            plate[:] = self.colour
        return mix(bgr, plate, person)


def cover(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """``image`` scaled to cover w×h and centre-cropped (no stretching, no bars)."""
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    rw, rh = max(w, round(iw * scale)), max(h, round(ih * scale))
    resized = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    x, y = (rw - w) // 2, (rh - h) // 2
    return np.ascontiguousarray(resized[y:y + h, x:x + w])


@dataclass
class ImageBackdrop:
    image: np.ndarray  # BGR uint8
    name: str = "image"
    _fitted: np.ndarray | None = field(default=None, repr=False)

    def compose(self, bgr: np.ndarray, person: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        fitted = self._fitted
        if fitted is None or fitted.shape != bgr.shape:
            fitted = self._fitted = cover(self.image, w, h)
        return mix(bgr, fitted, person)


class VideoBackdrop:
    """A video behind the person, one of its frames per call, looping at its end."""

    def __init__(self, path: Path) -> None:
        self.path, self.name = path, "video"
        self.cap = cv2.VideoCapture(str(path))
        self.lock = threading.Lock()  # one chain may serve several threads
        first = self._read() if self.cap.isOpened() else None
        if first is None:
            self.cap.release()
            raise UserError(f"--background {path}: OpenCV cannot read a frame from this video (is it a video file? try an .mp4)")
        self.first = first

    def _read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        if not ok or frame is None:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return frame if ok and frame is not None and frame.ndim == 3 else None

    def compose(self, bgr: np.ndarray, person: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        with self.lock:
            frame = self._read()
        return mix(bgr, cover(frame if frame is not None else self.first, w, h), person)

    def close(self) -> None:
        self.cap.release()


def parse_colour(text: str) -> tuple[int, int, int] | None:
    """'#RRGGBB', '#RGB' or a colour name → BGR; None when it is not a colour."""
    t = text.strip().lower()
    if t in COLOURS:
        return COLOURS[t]
    if t.startswith("#") and len(t) in (4, 7):
        digits = t[1:] if len(t) == 7 else "".join(c * 2 for c in t[1:])
        try:
            r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            return None
        return b, g, r
    return None


def read_image(path: Path) -> np.ndarray:
    """A background image as BGR, refused in one line when it cannot be one."""
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as exc:
        raise UserError(f"--background {path}: cannot read it ({exc.strerror})") from None
    if data.size == 0:
        raise UserError(f"--background {path}: the file is empty")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"--background {path}: not an image OpenCV can decode (use a PNG or JPEG)")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise UserError(f"--background {path}: {image.shape[1]}x{image.shape[0]} is larger than 8K; scale it down")
    return image


# keyword → factory(the text after "keyword:" or None) → Backdrop; colours and files need no entry
BACKDROPS: dict[str, Callable[[str | None], Backdrop]] = {}


def register_backdrop(name: str) -> Callable[[Callable[[str | None], Backdrop]], Callable[[str | None], Backdrop]]:
    """Make ``--background NAME[:ARG]`` build a backdrop (how the benchmarks add their baseline)."""
    def add(factory: Callable[[str | None], Backdrop]) -> Callable[[str | None], Backdrop]:
        BACKDROPS[name] = factory
        return factory
    return add


@register_backdrop("blur")
def _blur(arg: str | None) -> Backdrop:
    if arg is None:
        return BlurBackdrop()
    try:
        strength = float(arg)
    except ValueError:
        strength = float("nan")
    if not 0 < strength <= 1:
        raise UserError(f"--background blur:{arg}: the blur strength must be a number in (0, 1], e.g. blur:0.5")
    return BlurBackdrop(strength)


@register_backdrop("remove")
def _remove(arg: str | None) -> Backdrop:
    if arg is None:
        return ColourBackdrop(REMOVE_COLOUR, name="remove")
    colour = parse_colour(arg)
    if colour is None:
        raise UserError(f"--background remove:{arg}: not a colour (#RRGGBB or {', '.join(sorted(COLOURS))})")
    return ColourBackdrop(colour, name=f"remove:{arg}")


def parse_background(text: str | None) -> Backdrop | None:
    """``blur[:STRENGTH]``, ``remove[:COLOUR]``, ``#RRGGBB``/a colour name, an image or a video
    file, or ``none``; files are read now so that a bad one fails before the run."""
    if text is None:
        return None
    t = str(text).strip()
    low = t.lower()
    if low in ("", "none", "off"):
        return None
    keyword, _, arg = low.partition(":")
    if keyword in BACKDROPS:
        return BACKDROPS[keyword](arg if _ else None)
    colour = parse_colour(t)
    if colour is not None:
        return ColourBackdrop(colour, name=t)
    path = Path(t).expanduser()
    if not path.exists():
        raise UserError(f"--background {t}: no such file, and not {', '.join(f'{k}[:…]' for k in BACKDROPS)}, a colour "
                        f"(#RRGGBB, {', '.join(sorted(COLOURS))}) or none")
    if path.is_dir():
        raise UserError(f"--background {t}: is a folder; give an image or a video file")
    if path.suffix.lower() in VIDEO_EXTS:
        return VideoBackdrop(path)
    return ImageBackdrop(read_image(path), name=path.name)


def background_modes(configured: Backdrop | None) -> list[Backdrop | None]:
    """What the ``b`` hotkey cycles through: the configured backdrop, then blur, remove and
    none (each once)."""
    modes: list[Backdrop | None] = [configured]
    for extra in (BlurBackdrop(), ColourBackdrop(REMOVE_COLOUR, name="remove"), None):
        if all((m.name if m else None) != (extra.name if extra else None) for m in modes):
            modes.append(extra)
    return modes
