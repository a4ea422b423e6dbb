"""Props for the face: the bundled ones drawn here with OpenCV, and a user's sticker loaded
and checked before the first frame.

A prop is a straight-alpha BGRA image and an :class:`Anchor`: where the two eye centres and
the nose tip of a face go in the prop's pixel coordinates. The face effect
(:mod:`realtime.filters.kinds.face_effects`) fits the similarity transform (scale, roll, shift) that
takes these three points onto the face's landmarks, so a prop rolls with the head and scales
with the face.

Anchors are built from one canonical face, in units of the eye distance ``d`` (eye centre to
eye centre) from the point between the eyes, x along the eyes, y down the face: eyes at
(∓0.5, 0), nose tip (mesh point 4) at (0, 0.54). The 0.54 is the median over the 34 faces
MediaPipe finds in ``shared/data/faces`` (0.25–0.93 over them, with the head's pitch; the
mesh's forehead top, point 10, is at −0.87 d and the chin at 1.88 d). Giving the prop the
same proportions as a face means the three-point fit is exact on an average face: the nose
only settles the residual, it does not pull the prop.

Bundled props are drawn at :data:`DRAW_EYE_PX` = 160 pixels per eye distance with 4×
supersampling, so their edges are anti-aliased. A face at arm's length in 640×480 has an eye
distance of about 60 px (the effect then uses a mip level shrunk by INTER_AREA); the
close-up video liveportrait__d3 at 640×480 has 230 px, where the prop is enlarged 1.4×.

A user's sticker (``--sticker FILE.png``) has no anchor of its own; it is placed by a
convention, chosen by a suffix on the file name (no sidecar file):

- ``FILE.png`` or ``FILE.png@eyes`` (glasses-like, the default): the sticker's visible part
  (its alpha bounding box) is centred on the point between the eyes and spans
  :data:`EYES_SPAN` = 2.2 eye distances across (the width of a pair of glasses);
- ``FILE.png@head`` (hat-like): it spans :data:`HEAD_SPAN` = 2.6 eye distances, centred above
  the eyes, its bottom edge :data:`HEAD_LIFT` = 1.0 eye distance above the eye line (the
  hairline: the mesh's forehead top is at 0.87), so it sits on the head.

Every problem with the file is one :class:`~realtime.errors.UserError` line saying what to do.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError
from realtime.capture.image_header import HeaderError, read_header
from realtime.native import quiet_native_stderr

log = logging.getLogger(__name__)

NOSE_DROP = 0.54  # nose tip (mesh 4) below the eye line, in eye distances (median of 34 faces)
DRAW_EYE_PX = 160  # eye distance of the bundled props as drawn, in prop pixels
SUPERSAMPLE = 4  # bundled props are drawn 4× larger and shrunk with INTER_AREA (anti-aliasing)

EYES_SPAN = 2.2  # a glasses-like sticker's width, in eye distances
HEAD_SPAN = 2.6  # a hat-like sticker's width, in eye distances
HEAD_LIFT = 1.0  # a hat-like sticker's bottom edge above the eye line, in eye distances
PLACEMENTS = ("eyes", "head")

MAX_STICKER_SIDE = 4096  # px: larger is a photo, not a sticker (and 64 MB of BGRA to warp)
MIN_STICKER_SIDE = 4  # px of visible content
MAX_STICKER_BYTES = 32 * 1024 * 1024
DO_WHAT = "save it as a PNG with transparency"


@dataclass(frozen=True)
class Anchor:
    """Where the face goes in a prop's pixel coordinates (x right, y down; may lie outside the
    image, e.g. a crown's eyes are below it). ``eye_left`` is the eye on the image's left in an
    upright face: mesh points 33/133, the person's right eye."""

    eye_left: tuple[float, float]
    eye_right: tuple[float, float]
    nose: tuple[float, float]

    def __post_init__(self) -> None:
        pts = self.points()
        if not np.isfinite(pts).all():
            raise ValueError(f"anchor points must be finite, got {pts.tolist()}")
        if np.hypot(*(pts[1] - pts[0])) < 1.0:
            raise ValueError("the anchor's eyes must be at least 1 px apart")

    def points(self) -> np.ndarray:
        """3×2 float64: eye_left, eye_right, nose."""
        return np.array([self.eye_left, self.eye_right, self.nose], dtype=np.float64)

    @property
    def eye_distance(self) -> float:
        return float(np.hypot(*(np.subtract(self.eye_right, self.eye_left))))

    @classmethod
    def canonical(cls, between_eyes: tuple[float, float], eye_distance: float) -> "Anchor":
        """The canonical face with the point between its eyes at ``between_eyes`` and its eyes
        ``eye_distance`` pixels apart, upright."""
        x, y, d = float(between_eyes[0]), float(between_eyes[1]), float(eye_distance)
        return cls((x - 0.5 * d, y), (x + 0.5 * d, y), (x, y + NOSE_DROP * d))


@dataclass(frozen=True)
class Prop:
    name: str
    rgba: np.ndarray  # H×W×4 uint8 BGRA, straight (not premultiplied) alpha
    anchor: Anchor

    def __post_init__(self) -> None:
        if self.rgba.dtype != np.uint8 or self.rgba.ndim != 3 or self.rgba.shape[2] != 4:
            raise ValueError(f"a prop is an H×W×4 uint8 image, got {self.rgba.dtype} {self.rgba.shape}")


def placement_anchor(width: int, height: int, placement: str) -> Anchor:
    """The anchor of a ``width``×``height`` sticker placed by convention (see the module doc)."""
    if placement == "eyes":
        d = width / EYES_SPAN
        return Anchor.canonical((width / 2 - 0.5, height / 2 - 0.5), d)
    if placement == "head":
        d = width / HEAD_SPAN
        return Anchor.canonical((width / 2 - 0.5, height - 0.5 + HEAD_LIFT * d), d)
    raise UserError(f"unknown sticker placement {placement!r}: use FILE.png@{' or FILE.png@'.join(PLACEMENTS)}")


# ---------------------------------------------------------------------------------------------
# bundled props, drawn here


class _Canvas:
    """A premultiplied float BGRA canvas drawn at ``SUPERSAMPLE``× with OpenCV shapes, then
    shrunk with INTER_AREA: each output pixel's alpha is the covered share of its 16
    subpixels, so edges are anti-aliased and filled shapes have no stair steps."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h, self.s = width, height, SUPERSAMPLE
        self.px = np.zeros((height * self.s, width * self.s, 4), np.float32)  # premultiplied BGR 0–255, alpha 0–1

    def mask(self) -> np.ndarray:
        return np.zeros(self.px.shape[:2], np.uint8)

    def pt(self, x: float, y: float) -> tuple[int, int]:
        """A prop-pixel point (pixel centres at integers) on the supersampled grid."""
        return round((x + 0.5) * self.s - 0.5), round((y + 0.5) * self.s - 0.5)

    def n(self, length: float) -> int:
        return max(1, round(length * self.s))

    def paint(self, mask: np.ndarray, bgr: tuple[int, int, int], alpha: float = 1.0) -> None:
        """Composite ``bgr`` with ``alpha`` where ``mask`` is set, over what is there."""
        x, y, w, h = cv2.boundingRect(mask)  # only where the shape is: a full 4× canvas pass is ~25 ms
        if w == 0 or h == 0:
            return
        a = (mask[y:y + h, x:x + w].astype(np.float32) / 255.0) * alpha
        px = self.px[y:y + h, x:x + w]
        px[..., :3] = np.array(bgr, np.float32) * a[..., None] + px[..., :3] * (1 - a[..., None])
        px[..., 3] = a + px[..., 3] * (1 - a)

    def image(self) -> np.ndarray:
        """Straight-alpha BGRA uint8 at the prop's size."""
        small = cv2.resize(self.px, (self.w, self.h), interpolation=cv2.INTER_AREA)
        alpha = small[..., 3:4]
        bgr = np.where(alpha > 1e-6, small[..., :3] / np.maximum(alpha, 1e-6), 0.0)
        return np.concatenate([np.clip(bgr + 0.5, 0, 255), np.clip(alpha * 255 + 0.5, 0, 255)], axis=-1).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def glasses(eye_px: int = DRAW_EYE_PX) -> Prop:
    """Round-cornered dark frames with lightly tinted lenses, a bridge and the start of the
    temples; the lens centres are the eye centres."""
    d = float(eye_px)
    w, h = round(2.3 * d), round(0.9 * d)
    cx, cy = w / 2 - 0.5, 0.42 * d
    c = _Canvas(w, h)
    lens_w, lens_h, frame = 0.40 * d, 0.30 * d, 0.055 * d  # half sizes: a lens spans 0.8 d, eyes are 1 d apart
    tint, rim, shine = (70, 45, 25), (25, 25, 30), (255, 255, 255)

    def lens(mask: np.ndarray, ex: float, grow: float) -> None:
        """A rounded rectangle (a superellipse drawn as a polygon) around eye x ``ex``."""
        t = np.linspace(0, 2 * np.pi, 240, endpoint=False)
        ax, ay = lens_w + grow, lens_h + grow
        x = ex + ax * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 0.6
        y = cy + 0.03 * d + ay * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** 0.6
        cv2.fillPoly(mask, [np.array([c.pt(a, b) for a, b in zip(x, y)], np.int32)], 255, cv2.LINE_AA)

    eyes = (cx - 0.5 * d, cx + 0.5 * d)
    glass = c.mask()
    for ex in eyes:
        lens(glass, ex, 0.0)
    c.paint(glass, tint, 0.28)
    highlight = c.mask()
    for ex in eyes:  # a soft reflection across each lens's upper corner
        cv2.line(highlight, c.pt(ex - 0.22 * d, cy - 0.05 * d), c.pt(ex - 0.05 * d, cy - 0.2 * d), 255, c.n(0.05 * d), cv2.LINE_AA)
    c.paint(highlight, shine, 0.35)
    outer = c.mask()
    for ex in eyes:
        lens(outer, ex, frame)
    ring = cv2.subtract(outer, glass)  # the frame: the grown lens less the lens, both edges anti-aliased
    bridge = c.mask()
    cv2.ellipse(bridge, c.pt(cx, cy + 0.02 * d), (c.n(0.13 * d), c.n(0.08 * d)), 0, 200, 340, 255, c.n(0.05 * d), cv2.LINE_AA)
    for sign in (-1, 1):  # temples: from the outer edge of each frame towards the ears
        x0 = cx + sign * (0.5 * d + lens_w + 0.5 * frame)
        cv2.line(bridge, c.pt(x0, cy - 0.1 * d), c.pt(cx + sign * 1.14 * d, cy - 0.13 * d), 255, c.n(0.05 * d), cv2.LINE_AA)
    c.paint(np.maximum(ring, bridge), rim, 1.0)
    return Prop("glasses", c.image(), Anchor.canonical((cx, cy), d))


@functools.lru_cache(maxsize=None)
def crown(eye_px: int = DRAW_EYE_PX) -> Prop:
    """A gold crown with five points and jewels, sitting on the head: its band's bottom edge
    1.05 eye distances above the eye line, 2.3 eye distances wide."""
    d = float(eye_px)
    w, h = round(2.5 * d), round(1.22 * d)
    cx, bottom = w / 2 - 0.5, h - 0.04 * d
    c = _Canvas(w, h)
    gold, dark_gold, outline = (40, 185, 235), (20, 120, 175), (10, 60, 95)
    half, band = 1.1 * d, 0.28 * d
    tips = 5
    xs = np.linspace(cx - half, cx + half, tips)
    top = bottom - 1.05 * d
    poly = [(cx - half, bottom), (cx - half, bottom - band)]
    rises = [top + (0.12 * d if i in (0, tips - 1) else 0.05 * d if i in (1, tips - 2) else 0.0) for i in range(tips)]
    for i, (x, rise) in enumerate(zip(xs, rises)):  # points rising from the band, the middle one tallest
        if i > 0:
            poly.append(((xs[i - 1] + x) / 2, bottom - band - 0.18 * d))  # the dip between two points
        poly.append((x, rise))
    poly += [(cx + half, bottom - band), (cx + half, bottom)]
    shape = c.mask()
    cv2.fillPoly(shape, [np.array([c.pt(x, y) for x, y in poly], np.int32)], 255, cv2.LINE_AA)
    c.paint(shape, gold)
    shade = c.mask()  # the band a shade darker, for depth
    cv2.rectangle(shade, c.pt(cx - half, bottom - band), c.pt(cx + half, bottom), 255, -1, cv2.LINE_AA)
    shade[shape == 0] = 0
    c.paint(shade, dark_gold, 0.6)
    edge = c.mask()
    cv2.polylines(edge, [np.array([c.pt(x, y) for x, y in poly], np.int32)], True, 255, c.n(0.03 * d), cv2.LINE_AA)
    cv2.line(edge, c.pt(cx - half, bottom - band), c.pt(cx + half, bottom - band), 255, c.n(0.025 * d), cv2.LINE_AA)
    c.paint(edge, outline)
    balls = c.mask()
    for x, rise in zip(xs, rises):
        cv2.circle(balls, c.pt(x, rise), c.n(0.06 * d), 255, -1, cv2.LINE_AA)
    c.paint(balls, gold)
    for x, colour in zip(np.linspace(cx - 0.7 * d, cx + 0.7 * d, 3), [(60, 40, 200), (180, 60, 30), (60, 40, 200)]):
        jewel = c.mask()
        cv2.circle(jewel, c.pt(x, bottom - band / 2), c.n(0.085 * d), 255, -1, cv2.LINE_AA)
        c.paint(jewel, colour)
        glint = c.mask()
        cv2.circle(glint, c.pt(x - 0.03 * d, bottom - band / 2 - 0.03 * d), c.n(0.025 * d), 255, -1, cv2.LINE_AA)
        c.paint(glint, (255, 255, 255), 0.8)
    return Prop("crown", c.image(), Anchor.canonical((cx, bottom + 1.05 * d), d))


BUNDLED = {"glasses": glasses, "crown": crown}


# ---------------------------------------------------------------------------------------------
# a user's sticker


def split_placement(spec: str | Path) -> tuple[Path, str]:
    """``FILE.png@head`` → (FILE.png, "head"); a path without a known suffix → (path, "eyes")."""
    text = str(spec)
    for placement in PLACEMENTS:
        if text.endswith("@" + placement):
            return Path(text[: -len(placement) - 1]), placement
    return Path(text), "eyes"


def load_sticker(spec: str | Path) -> tuple[np.ndarray, Anchor]:
    """A user's sticker as (straight-alpha BGRA uint8 cropped to its visible part, anchor by
    the placement convention), or one :class:`UserError` line: missing file, not a PNG/WebP,
    too large (checked from the header before decoding), corrupt, no alpha channel, or fully
    transparent."""
    path, placement = split_placement(spec)
    if not path.exists():
        raise UserError(f"sticker {path} does not exist: give the path of a PNG with transparency")
    if not path.is_file():
        raise UserError(f"sticker {path} is not a file: give the path of a PNG with transparency")
    size = path.stat().st_size
    if size > MAX_STICKER_BYTES:
        raise UserError(f"sticker {path} is {size / 2**20:.0f} MB (at most {MAX_STICKER_BYTES // 2**20} MB): {DO_WHAT}, at most {MAX_STICKER_SIDE} px a side")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"sticker {path} cannot be read ({exc.strerror or exc}): check its permissions") from None
    if data[:3] == b"\xff\xd8\xff":  # a JPEG cannot hold transparency
        raise UserError(f"sticker {path} is a JPEG and has no alpha channel: {DO_WHAT}")
    try:
        header = read_header(data)
    except HeaderError:
        header = None
    if header is None or header.format not in ("png", "webp"):
        raise UserError(f"sticker {path} is not a PNG or WebP image: {DO_WHAT}")
    fmt, w, h = header.format.upper(), header.width, header.height
    if w > MAX_STICKER_SIDE or h > MAX_STICKER_SIDE:
        raise UserError(f"sticker {path} is {w}×{h} px (at most {MAX_STICKER_SIDE} px a side): scale it down")
    with quiet_native_stderr():  # libpng/libwebp print their own complaint about a broken file
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise UserError(f"sticker {path} is not a readable {fmt} (corrupt or cut short): {DO_WHAT} again")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UserError(f"sticker {path} has {image.dtype} pixels: {DO_WHAT} (8 bits a channel)")
    if image.ndim == 3 and image.shape[2] == 2:  # gray + alpha
        image = np.dstack([image[..., 0]] * 3 + [image[..., 1]])
    if image.ndim != 3 or image.shape[2] != 4:
        raise UserError(f"sticker {path} has no alpha channel: {DO_WHAT}")
    alpha = image[..., 3]
    if not alpha.any():
        raise UserError(f"sticker {path} is fully transparent: nothing would be drawn; {DO_WHAT} around a visible picture")
    if alpha.min() == 255:
        log.warning("sticker %s has no transparent pixels: it will be drawn as a rectangle", path)
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    image = np.ascontiguousarray(image[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1])
    vh, vw = image.shape[:2]
    if min(vh, vw) < MIN_STICKER_SIDE:
        raise UserError(f"sticker {path}'s visible part is {vw}×{vh} px (at least {MIN_STICKER_SIDE} a side): use a larger picture")
    return image, placement_anchor(vw, vh, placement)


def sticker_prop(spec: str | Path) -> Prop:
    rgba, anchor = load_sticker(spec)
    return Prop("sticker", rgba, anchor)
