"""Face effects without a network: big eyes, and props that follow the face (the bundled
glasses and crown, a user's sticker).

Every tracked face gets the effect; a frame without a face comes back as it went in, and a
face cut by the frame's border or turned away is drawn as far as it is visible. Nothing about
a call is kept on the filter (the tracker smooths the landmarks, with One Euro), so one chain
can serve several threads.

``big_eyes``: a radial magnifier around each iris (mesh points 468 and 473, MediaPipe's iris
refinement). Inside an ellipse of radius ``radius`` eye widths along the eye (corner to
corner; the eye is 0.43 eye distances wide, median of 34 faces, so two frontal eyes' regions
never overlap) the output pixel at normalised distance ρ reads the input at
``centre + (p − centre)·(1 − a(1 − ρ²)²)``: magnification 1/(1 − a) at the centre, and both
the displacement and its derivative fall to zero at the ellipse's edge, so there is no seam.
Along any ray the map is monotonic for a < 1, so nothing folds. The ellipse's short axis
shrinks with the eye's opening (lid gap / eye width, 0.28 when open), so when the eye blinks
the magnifier flattens onto the lid line instead of blowing up the skin around it; it is
centred on the iris, so it follows the gaze, and it rolls with the eye's axis. Only the
ellipse's bounding box is remapped (cv2.remap of a box 2 × radius × eye width a side, its maps
computed on the spot with numpy): both eyes of a close-up filling a 640×480 frame (eye
distance 230 px, two 143×142 boxes) take 0.5 ms on one core of the 2-core test machine.

Props (``glasses``, ``crown``, a sticker): the similarity transform (scale, roll, shift; no
shear) that best takes the prop's anchor (eye centres and nose tip in prop pixels, see
:mod:`realtime.filters.props`) onto the face's eye centres (the middle of each eye's corners, which
do not move when the eyes look around, unlike the iris) and nose tip, in closed form by
weighted least squares, the nose at a quarter of an eye's weight. The eyes settle roll and
scale; the nose is the mesh's least consistent of the three under roll (on the astronaut
photo rolled by 8–25°, the nose tip lands 3–4 % of the eye distance away from where the
roll takes it, the eye centres 0.5–2.5 %), so at full weight it would tilt the prop: the
prop's corners were 6.5 % off at weight 1, 5.3 % at ¼, 4.7 % with the eyes alone, while its
jitter on a still face is the same for all (0.18–0.21 % of the eye distance, One Euro on).
The prop is warped (premultiplied alpha, bilinear, from a mip level within √2 of the face's
scale, so a small face does not alias) only into its own bounding box on the frame and
composited there, in uint8: 1.2 ms for the glasses on that close-up, 0.9 ms for the crown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realtime.analysis.analysers import FACES, FrameAnalysis
from realtime.filters.kinds.base import Applied, Filter, Settings, register_effect
from realtime.filters.props import Anchor, Prop, crown, glasses, sticker_prop
from realtime.imaging import written_into
from realtime.analysis.tracking import Face


@dataclass(frozen=True)
class EyePoints:
    """Mesh indices of one eye (MediaPipe 478-point mesh with iris refinement)."""

    iris: int  # iris centre (the next four points are its ring)
    outer: int  # eye corners
    inner: int
    upper: int  # lids, at the middle of the eye
    lower: int


# the eye on the image's left in an upright face (the person's right eye), then the other
EYES = (EyePoints(iris=468, outer=33, inner=133, upper=159, lower=145),
        EyePoints(iris=473, outer=263, inner=362, upper=386, lower=374))
NOSE_TIP = 4
ANCHOR_WEIGHTS = np.array([1.0, 1.0, 0.25])  # eye_left, eye_right, nose in the similarity fit (see the module doc)


@dataclass(frozen=True)
class BigEyesConfig:
    amount: float = 0.4  # a: magnification 1/(1 − a) = 1.67× at the iris at full strength
    radius: float = 1.0  # the magnifier's radius along the eye, in eye widths (corner to corner)
    open_ratio: float = 0.28  # lid gap / eye width of an open eye (median of 34 faces: 0.28)
    min_aspect: float = 0.45  # the magnifier's short / long axis when the eye is closed
    min_eye_px: float = 3.0  # eyes narrower than this (far away, seen edge on) are left alone

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.amount < 0.9:
            problems.append(f"amount must be in 0..0.9 (a magnification up to 10×), got {self.amount}")
        if not 0.1 <= self.radius <= 3.0:
            problems.append(f"radius must be 0.1..3 eye widths, got {self.radius}")
        if not self.open_ratio > 0:
            problems.append(f"open_ratio must be positive, got {self.open_ratio}")
        if not 0.1 <= self.min_aspect <= 1.0:
            problems.append(f"min_aspect must be 0.1..1, got {self.min_aspect}")
        if problems:
            raise ValueError("BigEyesConfig: " + "; ".join(problems))


@dataclass(frozen=True)
class Magnifier:
    """One eye's warp: an ellipse (semi-axes ``rx`` along ``axis``, ``ry`` across) around
    ``centre``, magnifying by 1/(1 − ``amount``) at the centre."""

    centre: tuple[float, float]
    axis: tuple[float, float]  # unit vector along the eye
    rx: float
    ry: float
    amount: float

    def box(self, hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the ellipse's bounding box within an image of ``hw``; None when
        none of it is in the image."""
        (cx, cy), (ux, uy) = self.centre, self.axis
        hx = math.hypot(self.rx * ux, self.ry * uy)
        hy = math.hypot(self.rx * uy, self.ry * ux)
        x0, y0 = max(0, math.floor(cx - hx)), max(0, math.floor(cy - hy))
        x1, y1 = min(hw[1], math.ceil(cx + hx) + 1), min(hw[0], math.ceil(cy + hy) + 1)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def maps(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps (absolute source x, y, float32) for the pixels of ``box``: the
        identity outside the ellipse, so only the ellipse changes."""
        x0, y0, x1, y1 = box
        (cx, cy), (ux, uy) = self.centre, self.axis
        dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
        along = (dx * ux + dy * uy) / self.rx
        across = (dy * ux - dx * uy) / self.ry
        t = np.maximum(1.0 - (along * along + across * across), 0.0)
        s = 1.0 - np.float32(self.amount) * t * t  # source distance / output distance
        return (cx + dx * s).astype(np.float32), (cy + dy * s).astype(np.float32)


def magnifiers(face: Face, amount: float, config: BigEyesConfig = BigEyesConfig()) -> list[Magnifier]:
    """The two eyes' magnifiers of ``face`` (fewer where an eye is too small or its landmarks
    are not finite)."""
    lm = face.landmarks
    out = []
    for eye in EYES:
        if max(eye.iris, eye.outer, eye.inner, eye.upper, eye.lower) >= len(lm):
            continue
        outer, inner = lm[eye.outer], lm[eye.inner]
        width = float(np.hypot(*(inner - outer)))
        centre = lm[eye.iris]
        if not (width >= config.min_eye_px and np.isfinite(centre).all() and np.isfinite(lm[[eye.upper, eye.lower]]).all()):
            continue
        opening = float(np.hypot(*(lm[eye.upper] - lm[eye.lower]))) / width
        aspect = min(1.0, max(config.min_aspect, opening / config.open_ratio))
        rx = config.radius * width
        ux, uy = (inner - outer) / width
        out.append(Magnifier((float(centre[0]), float(centre[1])), (float(ux), float(uy)), rx, rx * aspect, amount))
    return out


class BigEyes:
    """``big_eyes``: magnify each tracked face's eyes (see the module doc)."""

    name = "big_eyes"
    needs: frozenset[str] = frozenset({FACES})
    scale_free = True  # magnifiers sized by the face (kinds.base.Filter)

    def __init__(self, config: BigEyesConfig = BigEyesConfig()) -> None:
        self.config = config

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        amount = self.config.amount * min(1.0, max(0.0, settings.strength))
        if amount <= 0 or not analysis.faces:
            return Applied(bgr)
        out: np.ndarray | None = None
        for face in analysis.faces:
            for m in magnifiers(face, amount, self.config):
                box = m.box(bgr.shape[:2])
                if box is None:
                    continue
                if out is None:
                    out = bgr.copy()  # the input is never written to
                mapx, mapy = m.maps(box)
                x0, y0, x1, y1 = box
                # reads the whole frame (sources may lie outside the box when the eye is cut by the border)
                out[y0:y1, x0:x1] = cv2.remap(out, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return Applied(bgr if out is None else out)


# ---------------------------------------------------------------------------------------------
# props


def face_points(face: Face) -> np.ndarray:
    """3×2: the centres of the image-left and image-right eye (middle of each eye's corners)
    and the nose tip, in frame pixels: what a prop's :class:`~realtime.filters.props.Anchor` maps to."""
    lm = face.landmarks
    left, right = EYES
    return np.array([(lm[left.outer] + lm[left.inner]) / 2, (lm[right.outer] + lm[right.inner]) / 2, lm[NOSE_TIP]], dtype=np.float64)


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray = ANCHOR_WEIGHTS) -> np.ndarray:
    """2×3 matrix of the similarity (uniform scale, rotation, translation; no reflection) that
    takes the points ``src`` (N×2) closest to ``dst`` in weighted least squares, in closed
    form: as complex numbers, dst ≈ z·src + t with z = Σw·conj(s̃)·d̃ / Σw·|s̃|² about the
    weighted centroids."""
    w = np.asarray(weights, np.float64)[: len(src)]
    sc, dc = (w @ src) / w.sum(), (w @ dst) / w.sum()
    s = (src - sc) @ np.array([1, 1j])
    d = (dst - dc) @ np.array([1, 1j])
    z = (w * np.conj(s) * d).sum() / max((w * np.abs(s) ** 2).sum(), 1e-12)
    a, b = z.real, z.imag
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (dc - rot @ sc)[:, None]])


def prop_transform(face: Face, anchor: Anchor) -> np.ndarray:
    """2×3 matrix from the prop's pixels to the frame's for ``face``."""
    return similarity(anchor.points(), face_points(face))


def premultiplied(rgba: np.ndarray) -> np.ndarray:
    """float32 H×W×4: BGR × alpha (0–255) and alpha (0–1), which interpolates without dark
    fringes at the prop's edges."""
    f = rgba.astype(np.float32)
    alpha = f[..., 3:4] / 255.0
    return np.ascontiguousarray(np.concatenate([f[..., :3] * alpha, alpha], axis=-1))


class PropEffect:
    """Draws ``prop`` on every tracked face, opacity = strength (see the module doc)."""

    needs: frozenset[str] = frozenset({FACES})
    scale_free = True  # placed by the face's landmarks (kinds.base.Filter)
    MIN_LEVEL_SIDE = 8  # px: the smallest mip level kept

    def __init__(self, prop: Prop, name: str | None = None) -> None:
        self.prop = prop
        self.name = name or prop.name
        self.anchor = prop.anchor
        h, w = prop.rgba.shape[:2]
        # mip levels, each half the one before (INTER_AREA on premultiplied values): (image, x scale, y scale)
        levels = [(premultiplied(prop.rgba), 1.0, 1.0)]
        while min(levels[-1][0].shape[:2]) >= 2 * self.MIN_LEVEL_SIDE:
            prev = levels[-1][0]
            size = (max(1, round(prev.shape[1] / 2)), max(1, round(prev.shape[0] / 2)))
            levels.append((cv2.resize(prev, size, interpolation=cv2.INTER_AREA), size[0] / w, size[1] / h))
        # made in float, kept as uint8 (alpha × 255): the warp and the compositing run on a
        # quarter of the bytes (glasses on a 1280x720 close-up: 4.4 ms around the mesh -> 1.9,
        # benchmarks/results/fps-720-chains-cpu)
        self.levels: list[tuple[np.ndarray, float, float]] = [
            (np.clip(np.dstack([img[..., :3], img[..., 3:] * 255.0]) + 0.5, 0, 255).astype(np.uint8), sx, sy)
            for img, sx, sy in levels]

    def placement(self, face: Face) -> np.ndarray:
        """2×3 matrix from the prop's (full-size) pixels to the frame's."""
        return prop_transform(face, self.anchor)

    def _level(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mip level nearest the placement's scale and the 2×3 matrix from its pixels to the frame's."""
        scale = math.hypot(m[0, 0], m[1, 0])
        k = min(len(self.levels) - 1, max(0, round(math.log2(1.0 / scale)))) if scale > 0 else len(self.levels) - 1
        image, sx, sy = self.levels[k]
        if k == 0:
            return image, m
        # a level pixel p_k sits at (p_k + 0.5) / s − 0.5 in full-size pixels
        a = m[:, :2] @ np.diag([1 / sx, 1 / sy])
        t = m[:, :2] @ np.array([0.5 / sx - 0.5, 0.5 / sy - 0.5]) + m[:, 2]
        return image, np.hstack([a, t[:, None]])

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        opacity = min(1.0, max(0.0, settings.strength))
        if opacity <= 0 or not analysis.faces:
            return Applied(bgr)
        hgt, wid = bgr.shape[:2]
        out: np.ndarray | None = None
        for face in analysis.faces:
            m = self.placement(face)
            if not np.isfinite(m).all() or math.hypot(m[0, 0], m[1, 0]) < 1e-3:
                continue
            image, mk = self._level(m)
            h, w = image.shape[:2]
            corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]]) @ mk[:, :2].T + mk[:, 2]
            x0, y0 = (max(0, math.floor(v)) for v in corners.min(axis=0))
            x1, y1 = min(wid, math.ceil(corners[:, 0].max()) + 1), min(hgt, math.ceil(corners[:, 1].max()) + 1)
            if x1 <= x0 or y1 <= y0:
                continue  # the prop is outside the frame (a crown above a face at the top)
            shifted = mk.copy()
            shifted[:, 2] -= (x0, y0)
            warped = cv2.warpAffine(image, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
            if out is None:
                out = bgr.copy()
            if opacity < 1.0:
                warped = cv2.convertScaleAbs(warped, alpha=opacity)
            # OpenCV's channel copies, not numpy's strided views of the 4-channel prop, which took
            # 1.1 ms (2.4 at 1080p) to make the colour contiguous against 0.02 (0.04)
            clear = cv2.subtract(255, cv2.extractChannel(warped, 3))  # 255 × (1 − alpha)
            region = out[y0:y1, x0:x1]  # the prop's box, composited in place
            written_into(region, cv2.multiply(region, cv2.merge([clear, clear, clear]), dst=region, scale=1.0 / 255))
            written_into(region, cv2.add(region, cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), dst=region))
        return Applied(bgr if out is None else out)


class StickerEffect(PropEffect):
    """A user's RGBA image as a prop (placement conventions in :mod:`realtime.filters.props`)."""

    def __init__(self, prop: Prop) -> None:
        super().__init__(prop, "sticker")


def sticker_filter(path: str | Path) -> Filter:
    """The filter drawing the sticker at ``path`` (``FILE.png``, ``FILE.png@eyes`` or
    ``FILE.png@head``) on every face; the file is read and checked now, so a bad file is one
    :class:`~realtime.errors.UserError` line before anything starts."""
    return StickerEffect(sticker_prop(path))


register_effect("big_eyes", lambda settings: BigEyes())
register_effect("glasses", lambda settings: PropEffect(glasses()))
register_effect("crown", lambda settings: PropEffect(crown()))
