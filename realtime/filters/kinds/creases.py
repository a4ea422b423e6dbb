"""Wrinkles drawn on an aligned face crop from its face-mesh landmarks: the ``aged`` filter's creases.

The ``aged`` network cannot draw them: creases are ~1 px wide and placed by landmarks it would
have to guess from pixels, so a clone averages them away. The face filter has the mesh at run
time, so the creases are drawn *after* the network (a model asks for it in its contract:
``filter.post = creases``, :class:`realtime.filters.onnx_format.FilterContract`), and the
teacher (:mod:`models.teachers.aging`) draws them the same way, with this module, as its last
step: teacher = :func:`apply_creases` (crease-free teacher, sagged landmarks).

Creases are anti-aliased curves along landmark paths (forehead lines between the brows and the
top of the mesh, frown lines, crow's feet fanning from the outer eye corners, bags under the
lower lids, nasolabial folds from the nose wings past the mouth corners, marionette lines down
from the mouth corners), each a dark groove with a faint lit edge below it, shaded into the
lightness (Lab L) only, on skin only. They are drawn on the *sagged* face: the teacher's sag
warp (:func:`sag_shift`) moves the skin, so the landmarks are moved with it
(:func:`sagged_landmarks`) before the paths are laid.

Only the face's box (the face oval grown by the blurs' reach) is worked on: a 192² crop costs
about a millisecond. numpy and OpenCV only (the runtime never imports torch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from realtime.analysis.tracking import LEFT_EYE as OUTER_LEFT, RIGHT_EYE as OUTER_RIGHT
from realtime.imaging import written_into

# MediaPipe face mesh indices (468 points + 10 iris points), on the upright crop: "left" is the
# image's left (the person's right side)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
BROW_LEFT = (70, 63, 105, 66, 107)  # outer → inner
BROW_RIGHT = (300, 293, 334, 296, 336)
LOWER_LID_LEFT = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LOWER_LID_RIGHT = (263, 249, 390, 373, 374, 380, 381, 382, 362)
EYE_LEFT = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYE_RIGHT = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
NOSE_WING_LEFT, NOSE_WING_RIGHT = 129, 358
MOUTH_LEFT, MOUTH_RIGHT = 61, 291
FOREHEAD_TOP, CHIN = 10, 152
JAW_LEFT, JAW_RIGHT = (172, 136, 150), (397, 365, 379)
CHEEK_LEFT, CHEEK_RIGHT = 205, 425
UPPER_LIP_TOP, LOWER_LIP_BOTTOM = (37, 0, 267), (84, 17, 314)
LANDMARKS = 478  # the mesh's 468 points + 2×5 iris points


@dataclass(frozen=True)
class AgeStyle:
    """One variant of the ``aged`` teacher (the latent code picks one). The crease drawing uses
    ``wrinkles``, ``wrinkle_width``, ``forehead_lines`` and ``sag`` (where the skin moved); the
    rest are the teacher's colour and hair steps (:mod:`models.teachers.aging`)."""

    wrinkles: float = 0.35  # darkening at the bottom of a crease (fraction of the lightness)
    wrinkle_width: float = 0.012  # crease width, in eye distances
    forehead_lines: int = 3
    grey: float = 0.9  # hair desaturation
    lift: float = 0.55  # hair lightness pulled this far toward white
    sag: float = 1.0  # warp amount (1 = jowls down 3 % of the eye distance)
    texture: float = 0.8  # extra fine skin detail (1 = doubled)
    dull: float = 0.25  # skin chroma lost
    warm: float = 2.0  # Lab b added to the skin (yellowing)
    lips: float = 0.45  # lip chroma lost (paler lips)

    def __post_init__(self) -> None:
        bad = [name for name, value in vars(self).items() if value < 0]
        if bad:
            raise ValueError(f"AgeStyle values must be >= 0: {', '.join(bad)}")


AGE_STYLES: dict[str, AgeStyle] = {
    # three visibly different old faces (the latent code picks one)
    "elderly": AgeStyle(),
    "greying": AgeStyle(wrinkles=0.2, forehead_lines=2, grey=0.75, lift=0.3, sag=0.5, texture=0.4, dull=0.12, warm=1.0, lips=0.2),
    "weathered": AgeStyle(wrinkles=0.45, wrinkle_width=0.015, forehead_lines=4, grey=0.2, lift=0.05, sag=0.8,
                          texture=1.6, dull=0.1, warm=6.0, lips=0.35),
}


def eye_distance(lm: np.ndarray) -> float:
    """Pixels between the outer eye corners of face-mesh landmarks ``lm`` (N×2)."""
    return float(np.hypot(*(lm[OUTER_RIGHT] - lm[OUTER_LEFT])))


def polygon_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


@lru_cache(maxsize=None)
def _bezier_weights(n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.stack([(1 - t) ** 2, 2 * (1 - t) * t, t**2])  # fixed per point count: computed once


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 16) -> np.ndarray:
    """Points of the quadratic Bézier curve p0 → p2 pulled toward p1."""
    w0, w1, w2 = _bezier_weights(n)  # n×1 each: p0, p1, p2 may be (2,) or (K, 1, 2) for K curves at once
    return w0 * p0 + w1 * p1 + w2 * p2


@lru_cache(maxsize=None)
def _forehead(lines: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """What is fixed per style for the forehead lines: each line's height ``t`` (0 at the brows),
    its width factor, its ripple (in eye distances, one value per brow point) and depth."""
    t = (np.arange(lines) + 1) / (lines + 1) * 0.85
    ripple = 0.02 * np.sin(np.linspace(0, 2 * math.pi, len(BROW_LEFT) + len(BROW_RIGHT))[None, :] + np.arange(lines)[:, None])
    return t, 0.95 - 0.25 * t, ripple, tuple(0.8 - 0.15 * i / max(1, lines - 1) for i in range(lines))


_BROWS = list(BROW_LEFT) + list(BROW_RIGHT)[::-1]  # left to right
_CROW_ANGLES = np.radians([-30.0, -8.0, 14.0])
_CROW_DIRECTIONS = np.stack([np.cos(_CROW_ANGLES), np.sin(_CROW_ANGLES)], axis=1)  # the right eye's; x mirrored on the left
_LIDS = (list(LOWER_LID_LEFT), list(LOWER_LID_RIGHT))


def crease_paths(lm: np.ndarray, style: AgeStyle) -> list[tuple[np.ndarray, float]]:
    """(polyline, depth 0–1) of every wrinkle, in crop pixels, from the landmarks."""
    ed = eye_distance(lm)
    paths: list[tuple[np.ndarray, float]] = []
    brow = lm[_BROWS]
    top_x, top_y = float(lm[FOREHEAD_TOP][0]), float(lm[FOREHEAD_TOP][1])
    brow_y = float(brow[:, 1].mean())
    if style.forehead_lines:  # forehead: brow-shaped lines, flatter and narrower higher up, rippled (skin is not ruled)
        t, narrow, ripple, depths = _forehead(style.forehead_lines)
        ys = brow_y + (brow[None, :, 1] - brow_y) * (1 - t[:, None]) - (t * (brow_y - top_y))[:, None] + ed * ripple
        xs = top_x + (brow[None, :, 0] - top_x) * narrow[:, None]
        paths += [(pts, depth) for pts, depth in zip(np.stack([xs, ys], axis=2), depths)]
    for inner in (lm[BROW_LEFT[-1]], lm[BROW_RIGHT[-1]]):  # frown lines between the brows
        toward = (top_x - inner[0]) * 0.25
        start = np.array([inner[0] + toward, inner[1] + 0.02 * ed])
        end = start + (-0.02 * ed * np.sign(toward), -0.16 * ed)
        paths.append((np.stack([start, end]), 0.7))
    for corner, side in ((lm[OUTER_LEFT], -1.0), (lm[OUTER_RIGHT], 1.0)):  # crow's feet
        d = _CROW_DIRECTIONS * (side, 1.0)
        start, end = corner + 0.07 * ed * d, corner + 0.2 * ed * d
        bend = (start + end) / 2 + (0.0, 0.02 * ed)
        paths += [(pts, 0.75) for pts in bezier(start[:, None], bend[:, None], end[:, None], 8)]
    for lid in _LIDS:  # bags: the lower lid's curve, lower and shorter
        pts = lm[lid]
        centre = pts.mean(axis=0)
        paths.append((centre + (pts - centre) * (0.75, 1.4) + (0.0, 0.09 * ed), 0.6))
    for wing, mouth, side in ((NOSE_WING_LEFT, MOUTH_LEFT, -1.0), (NOSE_WING_RIGHT, MOUTH_RIGHT, 1.0)):
        start = lm[wing] + ed * np.array([side * 0.05, -0.02])  # nasolabial fold, bowing outward
        end = lm[mouth] + ed * np.array([side * 0.07, 0.09])
        bow = (start + end) / 2 + (ed * side * 0.06, 0.0)
        paths.append((bezier(start, bow, end), 1.0))
        m = lm[mouth] + ed * np.array([side * 0.02, 0.03])  # marionette line, down toward the jaw
        paths.append((bezier(m, m + ed * np.array([side * 0.03, 0.12]), m + ed * np.array([side * 0.02, 0.24]), 10), 0.8))
    return paths


def crease_map(shape: tuple[int, int], lm: np.ndarray, style: AgeStyle) -> tuple[np.ndarray, np.ndarray]:
    """(groove, lit edge) maps in [0, 1]: the creases drawn at 4× and shrunk (anti-aliased),
    softened by their own width; the lit edge is the groove moved down a width."""
    h, w = shape
    ed = eye_distance(lm)
    s = 4
    big = np.zeros((h * s, w * s), np.uint8)  # depth in 1/255 steps: 8-bit anti-aliasing is 4x faster than float's
    width = max(1, round(style.wrinkle_width * ed * s))
    for pts, depth in crease_paths(lm, style):
        cv2.polylines(big, [np.round(pts * s).astype(np.int32)], False, round(255 * depth), width, cv2.LINE_AA)
    groove = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255)
    soft = max(0.5, style.wrinkle_width * ed * 0.6)
    groove = cv2.GaussianBlur(groove, (0, 0), soft)
    down = max(1.0, style.wrinkle_width * ed * 1.2)  # the lit edge: the groove moved down (linear between rows)
    whole, part = int(down), down - int(down)
    lit = np.zeros_like(groove)
    if whole < h:
        lit[whole:] = groove[: h - whole] * (1 - part)
    if whole + 1 < h:
        lit[whole + 1:] += groove[: h - whole - 1] * part
    lit *= 1 - np.clip(groove * 3, 0, 1)
    return np.clip(groove, 0, 1), np.clip(lit, 0, 1)


def skin_mask(shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """The face oval minus eyes and lips, soft-edged."""
    ed = eye_distance(lm)
    oval = polygon_mask(shape, lm[list(FACE_OVAL)])
    holes = np.maximum.reduce([polygon_mask(shape, lm[list(p)]) for p in (EYE_LEFT, EYE_RIGHT, LIPS_OUTER)])
    holes = cv2.dilate(holes, np.ones((3, 3), np.uint8), iterations=max(1, round(0.02 * ed)))
    return cv2.GaussianBlur(oval * (1 - holes), (0, 0), max(1.0, 0.03 * ed))


# OpenCV's float Lab (L 0–100, a and b around 0) ↔ its 8-bit scale, as one per-pixel affine map:
# ``cv2.transform`` gives the same floats as numpy's ``lab * (2.55, 1, 1) + (0, 128, 128)`` in a
# tenth of the time (numpy loops over the three channels one pixel at a time: 0.41 → 0.03 ms on
# a 129×147 face box, on the 2-core machine)
_TO_8BIT_SCALE = np.float32([[2.55, 0, 0, 0], [0, 1, 0, 128], [0, 0, 1, 128]])
_FROM_8BIT_SCALE = np.float32([[1 / 2.55, 0, 0, 0], [0, 1, 0, -128], [0, 0, 1, -128]])


def to_lab(image: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Float Lab on OpenCV's 8-bit scale (L 0–255, a and b centred on 128), without the 8-bit
    round trip's error (up to 4 levels): what the teacher leaves alone stays exactly as it was."""
    lab = cv2.cvtColor(image.astype(np.float32) * (1 / 255), cv2.COLOR_BGR2LAB if bgr else cv2.COLOR_RGB2LAB)
    return cv2.transform(lab, _TO_8BIT_SCALE)


def from_lab(lab: np.ndarray, bgr: bool = False) -> np.ndarray:
    image = cv2.cvtColor(cv2.transform(lab, _FROM_8BIT_SCALE), cv2.COLOR_LAB2BGR if bgr else cv2.COLOR_LAB2RGB)
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- the sag: where the skin moved
SAG_BUMPS = (  # (landmarks, radius in eye distances, shift (x, y) in eye distances at amount 1)
    *((i, 0.22, (-0.004, 0.012)) for i in JAW_LEFT),  # jowls: three overlapping bumps a side, about 3 % in all
    *((i, 0.22, (0.004, 0.012)) for i in JAW_RIGHT),
    *((i, 0.25, (0.0, 0.02)) for i in (CHEEK_LEFT, CHEEK_RIGHT)),  # cheeks down
    *((i, 0.08, (0.0, 0.015)) for i in (MOUTH_LEFT, MOUTH_RIGHT)),  # mouth corners down
    *((i, 0.06, (0.0, 0.012)) for i in UPPER_LIP_TOP),  # thinner lips: the upper lip's edge down, the lower's up
    *((i, 0.06, (0.0, -0.012)) for i in LOWER_LIP_BOTTOM),
)
_SAG_AT = np.array([b[0] for b in SAG_BUMPS])
_SAG_RADIUS = np.array([b[1] for b in SAG_BUMPS], np.float32)
_SAG_SHIFT = np.array([b[2] for b in SAG_BUMPS], np.float32)


def sag_shift(x: np.ndarray, y: np.ndarray, lm: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """The sag displacement ``d`` (dx, dy in pixels) at points (x, y) of any shape: the warped
    face shows at ``p`` what the face had at ``p − d(p)``. ``d`` is a sum of Gaussian bumps
    anchored on landmarks (:data:`SAG_BUMPS`: jowls and cheeks down, mouth corners down, lips
    thinner); the largest total shift is 3 % of the eye distance, so the warp never folds."""
    ed = eye_distance(lm)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    dx = np.zeros(x.shape, np.float32)
    dy = np.zeros(x.shape, np.float32)
    for (cx, cy), radius, (sx, sy) in zip(lm[_SAG_AT].astype(np.float32), _SAG_RADIUS * ed, _SAG_SHIFT * (ed * amount)):
        g = np.exp((x - cx) ** 2 * (-0.5 / (radius * radius)) + (y - cy) ** 2 * (-0.5 / (radius * radius)))
        dx += g * sx
        dy += g * sy
    return dx, dy


def _sag_at_points(points: np.ndarray, lm: np.ndarray, amount: float) -> np.ndarray:
    """:func:`sag_shift` at N points at once (N×2 → N×2), as one N×bumps array."""
    ed = eye_distance(lm)
    at = lm[_SAG_AT]
    d2 = np.subtract.outer(points[:, 0], at[:, 0]) ** 2 + np.subtract.outer(points[:, 1], at[:, 1]) ** 2  # (numpy is slow on N×B×2)
    g = np.exp(d2 * (-0.5 / (_SAG_RADIUS.astype(np.float64) * ed) ** 2))
    return g @ (_SAG_SHIFT.astype(np.float64) * ed * amount)


def sagged_landmarks(lm: np.ndarray, amount: float, iterations: int = 2) -> np.ndarray:
    """Where the landmarks ``lm`` land after the sag warp of ``amount``: the ``p`` with
    ``p − d(p) = q`` for each landmark ``q``, by fixed-point steps: ``d`` changes by at most a fifth
    of a step over a step, so two leave under 0.1 px."""
    lm = np.asarray(lm, np.float64)
    if amount <= 0:
        return lm
    p = lm
    for _ in range(iterations):
        p = lm + _sag_at_points(p, lm, amount)
    return p


# ---------------------------------------------------------------- drawing
def face_box(shape: tuple[int, int], lm: np.ndarray, style: AgeStyle) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the part of the crop the creases can touch: the face oval's box grown by
    the skin mask's and the grooves' blur reach, the lit edge's shift and a line's width."""
    ed = eye_distance(lm)
    reach = 4 * max(1.0, 0.03 * ed) + 4 * max(0.5, style.wrinkle_width * ed * 0.6) + 2.5 * style.wrinkle_width * ed + 3
    reach += 2 * max(1, round(0.02 * ed))  # the eye/lip holes' dilation
    oval = lm[list(FACE_OVAL)]
    h, w = shape
    x0, y0 = np.floor(oval.min(axis=0) - reach).astype(int)
    x1, y1 = np.ceil(oval.max(axis=0) + reach).astype(int)
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def face_skin(image: np.ndarray, landmarks: np.ndarray, style: AgeStyle, strength: float,
              step: str) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """What a post step on the crop ``image`` works on: (x0, y0) of the face's box
    (:func:`face_box`), the landmarks in the box, and ``strength`` × the skin mask there; None
    when the step draws nothing (strength 0, no face, an empty box). Bad input raises one line
    naming ``step``."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{step}() needs an H×W×3 uint8 crop, got {image.dtype} {image.shape}")
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 2 or lm.shape[0] < LANDMARKS - 10 or lm.shape[1] != 2:
        raise ValueError(f"{step}() needs the face mesh's landmarks as N×2 (N ≥ 468), got {lm.shape}")
    if strength <= 0 or eye_distance(lm) < 1.0:
        return None
    x0, y0, x1, y1 = face_box(image.shape[:2], lm, style)
    if x1 <= x0 or y1 <= y0:
        return None
    local = lm - (x0, y0)
    return x0, y0, local, strength * skin_mask((y1 - y0, x1 - x0), local)


def apply_post(image: np.ndarray, landmarks: np.ndarray, style: AgeStyle, amount: float = 1.0, texture: bool = True,
               creases: bool = True, bgr: bool = False) -> np.ndarray:
    """``image`` (an aligned H×W×3 uint8 face crop, RGB, or BGR when ``bgr``) with the rougher
    skin (``texture``: :func:`apply_texture`) and then the creases (``creases``:
    :func:`apply_creases`) of ``style`` drawn at ``amount`` (0–1), ``landmarks`` its 478 mesh
    points in crop pixels (already sagged when the face was: :func:`sagged_landmarks`).

    Both steps in one pass: one skin mask, one trip through Lab and back, one copy of the crop
    (the two steps one after the other: 4.1 → 3.3 ms on a 126×150 face box, on the 2-core
    machine). The creases read the textured lightness before it is rounded to 8 bits, so the
    result is within a grey level of the two passes, except on the few pixels where the 8-bit
    image between them clipped a colour (the teacher draws its last steps with this function
    too). Lightness only: a and b untouched; worked on the face's box only (:func:`face_box`).

    The whole box goes through Lab and back, but only the pixels a step moves are copied into
    the result: the float round trip is off by a level now and then, and what a step leaves
    alone stays exactly as it was. Box-wide arrays and one masked copy, not the moved pixels
    gathered and scattered one by one: 5.0 → 2.7 ms for ``aged.fast``'s 192-px crop (a 129×147
    box, 10,307 pixels moved; medians of 8 interleaved rounds on the 2-core machine)."""
    kt = style.texture * amount if texture else 0.0
    kc = style.wrinkles * amount if creases else 0.0
    step = "apply_post" if texture and creases else "apply_texture" if texture else "apply_creases"
    found = face_skin(image, landmarks, style, 1.0 if kt > 0 or kc > 0 else 0.0, step)
    if found is None:
        return image
    x0, y0, local, skin = found
    h, w = skin.shape
    lab = to_lab(image[y0:y0 + h, x0:x0 + w], bgr)
    light = lab[..., 0]
    moved = np.zeros((h, w), bool)
    if kt > 0:  # L ← L + t·k·(L − G₂(L)), clipped as the 8-bit image between the two steps holds it
        change = kt * skin * (light - cv2.GaussianBlur(light, (0, 0), 2.0))
        moved |= np.abs(change) > 0.05  # only the pixels whose lightness moves by 1/20 of a level
        light = np.clip(light + change, 0, 255)
    if kc > 0:  # L ← L·(1 − w·k·groove) + 0.3·w·k·lit·(255 − L)
        groove, lit = crease_map((h, w), local, style)
        dark, light_up = kc * skin * groove, 0.3 * kc * skin * lit
        moved |= (dark + light_up) * 255 > 0.05  # a tenth of the box
        light = light * (1 - dark) + light_up * (255 - light)
    if not moved.any():
        return image
    lab[..., 0] = light
    out = image.copy()
    region = out[y0:y0 + h, x0:x0 + w]
    written_into(region, cv2.copyTo(from_lab(lab, bgr), moved.view(np.uint8), region))
    return out


def apply_creases(image: np.ndarray, landmarks: np.ndarray, style: AgeStyle, amount: float = 1.0,
                  bgr: bool = False) -> np.ndarray:
    """``image`` (an aligned H×W×3 uint8 face crop, RGB, or BGR when ``bgr``) with the creases of
    ``style`` drawn at ``amount`` (0–1; 0 returns it unchanged), ``landmarks`` its 478 mesh points
    in crop pixels (already sagged when the face was: :func:`sagged_landmarks`).

    Lightness only: L ← L·(1 − w·k·groove) + 0.3·w·k·lit·(255 − L), w the style's ``wrinkles``
    and k = amount × the skin mask; a and b untouched. Worked on the face's box only
    (:func:`face_box`): outside it nothing changes."""
    return apply_post(image, landmarks, style, amount, texture=False, creases=True, bgr=bgr)


def apply_texture(image: np.ndarray, landmarks: np.ndarray, style: AgeStyle, amount: float = 1.0,
                  bgr: bool = False) -> np.ndarray:
    """``image`` (an aligned H×W×3 uint8 face crop, RGB, or BGR when ``bgr``) with its fine skin
    texture strengthened as ``style`` ages it: L ← L + t·k·(L − G₂(L)), t the style's ``texture``,
    k = amount × the skin mask, G₂ a Gaussian blur of σ 2 px; a and b untouched. The teacher's
    rougher skin, drawn after the network like the creases (``filter.post = texture+creases``):
    the small CPU student (8-48 channels at 160 px) did not learn to make 2-px detail stronger
    than the photo's (its band-1 gain stayed at 0.61-0.65 with it in the targets); the runtime
    can. Worked on the face's box only (:func:`face_box`)."""
    return apply_post(image, landmarks, style, amount, texture=True, creases=False, bgr=bgr)
