"""The ``aged`` teacher: an older version of the face, drawn by hand on an aligned face crop.

It works on the crop :func:`realtime.analysis.tracking.face_transform` makes (the face upright and
centred, the eye line level), given the crop's 478 mesh points and a hair mask, and is what
the ``aged`` network clones (FilterClone's idea; the network sees only the crop's pixels):

- **wrinkles**: creases drawn as anti-aliased curves along landmark paths (forehead lines
  between the brows and the top of the mesh, frown lines, crow's feet fanning from the outer
  eye corners, bags under the lower lids, nasolabial folds from the nose wings past the mouth
  corners, marionette lines down from the mouth corners), each a dark groove with a faint lit
  edge below it, shaded into the lightness (Lab L) only, on skin only;
- **skin**: fine texture (lightness detail under 2 px) strengthened, colour a little duller
  and yellower; **lips** paler and thinner;
- **sag**: a smooth warp (a displacement field of Gaussians anchored on landmarks: jowls and
  cheeks down, mouth corners down, lips thinner); the largest shift is 3 % of the eye
  distance, so the warp never folds;
- **grey hair**: the hair mask (the person minus the face oval, above the jaw) desaturated and
  lifted toward white.

Every colour step is a blend whose weight is ``amount × the style's value``, so the teacher at
age ``a`` is, outside the warp, the blend ``(1 − a)·crop + a·teacher(1)``: the runtime's
``--strength`` (a blend of input and output) is the age slider, the way Defacify moves along
an "age" direction. :data:`AGE_STYLES` are the variants the latent code picks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from models.data.face_crops import OUTER_LEFT, OUTER_RIGHT, eye_distance

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


@dataclass(frozen=True)
class AgeStyle:
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


def polygon_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 16) -> np.ndarray:
    """Points of the quadratic Bézier curve p0 → p2 pulled toward p1."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def crease_paths(lm: np.ndarray, style: AgeStyle) -> list[tuple[np.ndarray, float]]:
    """(polyline, depth 0–1) of every wrinkle, in crop pixels, from the landmarks."""
    ed = eye_distance(lm)
    up = np.array([0.0, -1.0])
    paths: list[tuple[np.ndarray, float]] = []
    brow = np.concatenate([lm[list(BROW_LEFT)], lm[list(BROW_RIGHT)][::-1]])  # left to right
    top = float(lm[FOREHEAD_TOP][1])
    brow_y = float(brow[:, 1].mean())
    centre_x = float(lm[FOREHEAD_TOP][0])
    for i in range(style.forehead_lines):  # forehead: brow-shaped lines, flatter and narrower higher up
        t = (i + 1) / (style.forehead_lines + 1) * 0.85
        pts = brow.copy()
        pts[:, 1] = brow_y + (pts[:, 1] - brow_y) * (1 - t) - t * (brow_y - top)
        pts[:, 0] = centre_x + (pts[:, 0] - centre_x) * (0.95 - 0.25 * t)
        pts[:, 1] += 0.02 * ed * np.sin(np.linspace(0, 2 * math.pi, len(pts)) + i)  # skin is not ruled
        paths.append((pts, 0.8 - 0.15 * i / max(1, style.forehead_lines - 1)))
    for inner in (lm[BROW_LEFT[-1]], lm[BROW_RIGHT[-1]]):  # frown lines between the brows
        toward = (lm[FOREHEAD_TOP] - inner) * np.array([0.25, 0.0])
        start = inner + toward + 0.02 * ed * up * -1
        paths.append((np.stack([start, start + 0.16 * ed * up + 0.02 * ed * np.sign(toward[0]) * np.array([-1.0, 0])]), 0.7))
    for corner, side in ((lm[OUTER_LEFT], -1.0), (lm[OUTER_RIGHT], 1.0)):  # crow's feet
        for angle in (-30.0, -8.0, 14.0):
            a = math.radians(angle)
            d = np.array([side * math.cos(a), math.sin(a)])
            start = corner + 0.07 * ed * d
            end = corner + 0.2 * ed * d
            bend = (start + end) / 2 + 0.02 * ed * np.array([0.0, 1.0])
            paths.append((bezier(start, bend, end, 8), 0.75))
    for lid in (LOWER_LID_LEFT, LOWER_LID_RIGHT):  # bags: the lower lid's curve, lower and shorter
        pts = lm[list(lid)]
        centre = pts.mean(axis=0)
        paths.append((centre + (pts - centre) * np.array([0.75, 1.4]) + np.array([0.0, 0.09 * ed]), 0.6))
    for wing, mouth, side in ((NOSE_WING_LEFT, MOUTH_LEFT, -1.0), (NOSE_WING_RIGHT, MOUTH_RIGHT, 1.0)):
        start = lm[wing] + ed * np.array([side * 0.05, -0.02])  # nasolabial fold, bowing outward
        end = lm[mouth] + ed * np.array([side * 0.07, 0.09])
        bow = (start + end) / 2 + ed * np.array([side * 0.06, 0.0])
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
    big = np.zeros((h * s, w * s), np.float32)
    width = max(1, round(style.wrinkle_width * ed * s))
    for pts, depth in crease_paths(lm, style):
        cv2.polylines(big, [np.round(pts * s).astype(np.int32)], False, float(depth), width, cv2.LINE_AA)
    groove = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    soft = max(0.5, style.wrinkle_width * ed * 0.6)
    groove = cv2.GaussianBlur(groove, (0, 0), soft)
    shift = np.float32([[1, 0, 0], [0, 1, max(1.0, style.wrinkle_width * ed * 1.2)]])
    lit = cv2.warpAffine(groove, shift, (w, h), borderMode=cv2.BORDER_CONSTANT) * (1 - np.clip(groove * 3, 0, 1))
    return np.clip(groove, 0, 1), np.clip(lit, 0, 1)


def skin_mask(shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """The face oval minus eyes and lips, soft-edged."""
    ed = eye_distance(lm)
    oval = polygon_mask(shape, lm[list(FACE_OVAL)])
    holes = np.maximum.reduce([polygon_mask(shape, lm[list(p)]) for p in (EYE_LEFT, EYE_RIGHT, LIPS_OUTER)])
    holes = cv2.dilate(holes, np.ones((3, 3), np.uint8), iterations=max(1, round(0.02 * ed)))
    return cv2.GaussianBlur(oval * (1 - holes), (0, 0), max(1.0, 0.03 * ed))


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """Float Lab on OpenCV's 8-bit scale (L 0–255, a and b centred on 128), without the 8-bit
    round trip's error (up to 4 levels): what the teacher leaves alone stays exactly as it was."""
    lab = cv2.cvtColor(rgb.astype(np.float32) * (1 / 255), cv2.COLOR_RGB2LAB)
    return lab * np.float32([2.55, 1, 1]) + np.float32([0, 128, 128])


def from_lab(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor((lab - np.float32([0, 128, 128])) * np.float32([1 / 2.55, 1, 1]), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


def skin_likeness(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """H×W in [0, 1]: how close each pixel's colour is to the face's own skin (median Lab
    over the face oval without eyes and lips; chroma within ~8 and lightness within ~35)."""
    lab = to_lab(rgb)
    inside = skin_mask(rgb.shape[:2], lm) > 0.9
    ref = np.median(lab[inside], axis=0) if inside.any() else lab.reshape(-1, 3).mean(axis=0)
    d = np.sqrt(((lab[..., 1] - ref[1]) ** 2 + (lab[..., 2] - ref[2]) ** 2) / 8.0**2 + ((lab[..., 0] - ref[0]) / 35.0) ** 2)
    return np.clip(2.0 - d, 0.0, 1.0)


def hair_mask(person: np.ndarray, lm: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Hair: the person outside the face oval grown a little and above the jaw line. The
    mesh stops short of the hairline (landmark 10 is about two thirds up the forehead), so in
    a band 0.35 eye distances above the oval skin-coloured pixels are not hair."""
    h, w = person.shape
    ed = eye_distance(lm)
    oval_pts = lm[list(FACE_OVAL)]
    oval = polygon_mask((h, w), oval_pts)
    oval = cv2.dilate(oval, np.ones((3, 3), np.uint8), iterations=max(1, round(0.03 * ed)))
    eye_y = float(lm[[OUTER_LEFT, OUTER_RIGHT], 1].mean())
    raised = oval_pts.copy()
    raised[:, 1] -= 0.35 * ed * np.clip((eye_y - oval_pts[:, 1]) / max(1.0, eye_y - float(oval_pts[:, 1].min())), 0, 1)
    band = np.clip(polygon_mask((h, w), raised) - oval, 0, 1)
    jaw_y = float(lm[list(JAW_LEFT + JAW_RIGHT)][:, 1].min())
    rows = np.clip((jaw_y - np.arange(h, dtype=np.float32)) / max(1.0, 0.15 * ed), 0, 1)[:, None]
    hair = person * (1 - oval) * rows * (1 - band * skin_likeness(rgb, lm))
    return cv2.GaussianBlur(hair, (0, 0), max(1.0, 0.02 * ed))


def sag_field(shape: tuple[int, int], lm: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps for the sag: each output pixel reads from ``p − d(p)``, ``d`` a sum of
    Gaussian bumps (centre, radius, shift) anchored on landmarks."""
    h, w = shape
    ed = eye_distance(lm)
    bumps = []  # (centre, radius in ed, shift in ed)
    for jaw, side in ((JAW_LEFT, -1.0), (JAW_RIGHT, 1.0)):
        for i in jaw:
            bumps.append((lm[i], 0.22, (0.004 * side, 0.012)))  # three overlapping bumps: about 3 % in all
    for cheek in (CHEEK_LEFT, CHEEK_RIGHT):
        bumps.append((lm[cheek], 0.25, (0.0, 0.02)))
    for mouth in (MOUTH_LEFT, MOUTH_RIGHT):
        bumps.append((lm[mouth], 0.08, (0.0, 0.015)))
    for i in UPPER_LIP_TOP:  # thinner lips: the upper lip's edge down, the lower's up
        bumps.append((lm[i], 0.06, (0.0, 0.012)))
    for i in LOWER_LIP_BOTTOM:
        bumps.append((lm[i], 0.06, (0.0, -0.012)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = np.zeros((h, w), np.float32)
    dy = np.zeros((h, w), np.float32)
    for (cx, cy), radius, (sx, sy) in bumps:
        r = radius * ed
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        dx += g * sx * ed * amount
        dy += g * sy * ed * amount
    return xx - dx, yy - dy


def age_face(rgb: np.ndarray, landmarks: np.ndarray, hair: np.ndarray, style: AgeStyle = AGE_STYLES["elderly"],
             amount: float = 1.0) -> np.ndarray:
    """An older ``rgb`` (an aligned H×W×3 uint8 face crop). ``landmarks``: its 478 mesh
    points in crop pixels; ``hair``: H×W float 0–1 (see :func:`hair_mask`); ``amount`` 0–1."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"age_face() needs an H×W×3 uint8 crop, got {rgb.dtype} {rgb.shape}")
    shape = rgb.shape[:2]
    lab = to_lab(rgb)
    skin = skin_mask(shape, landmarks)
    k = amount * skin
    light = lab[..., 0]
    detail = light - cv2.GaussianBlur(light, (0, 0), 2.0)
    light = light + style.texture * k * detail  # rougher skin
    groove, lit = crease_map(shape, landmarks, style)
    light = light * (1 - style.wrinkles * k * groove) + 0.3 * style.wrinkles * k * lit * (255 - light)
    chroma = lab[..., 1:] - 128.0
    chroma *= (1 - style.dull * k)[..., None]
    lips = polygon_mask(shape, landmarks[list(LIPS_OUTER)]) * amount
    chroma *= (1 - style.lips * lips)[..., None]
    lab[..., 2] = chroma[..., 1] + 128.0 + style.warm * k
    lab[..., 1] = chroma[..., 0] + 128.0
    g = hair * amount
    lab[..., 1:] = 128.0 + (lab[..., 1:] - 128.0) * (1 - style.grey * g)[..., None]
    lab[..., 0] = light + style.lift * g * (235.0 - light)
    out = from_lab(lab)
    if style.sag * amount > 0:
        mx, my = sag_field(shape, landmarks, style.sag * amount)
        out = cv2.remap(out, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return out


def aged(crop: np.ndarray, landmarks: np.ndarray, person: np.ndarray, style: AgeStyle) -> np.ndarray:
    """The teacher at full age on one crop (``person``: the uint8 person mask warped into it)."""
    return age_face(crop, landmarks, hair_mask(person.astype(np.float32) / 255.0, landmarks, crop), style)

