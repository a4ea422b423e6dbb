"""The ``aged`` teacher: an older version of the face, drawn by hand on an aligned face crop.

It works on the crop :func:`realtime.analysis.tracking.face_transform` makes (the face upright and
centred, the eye line level), given the crop's 478 mesh points and a hair mask, and is what
the ``aged`` network clones (FilterClone's idea; the network sees only the crop's pixels):

- **skin**: colour a little duller and yellower; **lips** paler and thinner;
- **sag**: a smooth warp (a displacement field of Gaussians anchored on landmarks: jowls and
  cheeks down, mouth corners down, lips thinner); the largest shift is 3 % of the eye
  distance, so the warp never folds;
- **grey hair**: the hair mask (the person minus the face oval, above the jaw) desaturated and
  lifted toward white;
- **rough skin**, on the sagged face: fine texture (lightness detail under 2 px) strengthened
  (:func:`realtime.filters.kinds.creases.apply_texture`);
- **wrinkles**, the last step, on the sagged face: creases drawn as anti-aliased curves along
  landmark paths (forehead, frown lines, crow's feet, bags, nasolabial folds, marionette lines),
  each a dark groove with a faint lit edge below it, shaded into the lightness (Lab L) only, on
  skin only. They are drawn by the runtime's :mod:`realtime.filters.kinds.creases` with the
  landmarks moved by the sag: a network cannot clone ~1-px lines placed by landmarks it must
  guess, so the ``aged`` network clones :func:`aged_base` (everything else) and the face
  filter draws the creases after it with the tracked mesh (``teacher = creases(aged_base)``).
  The small CPU student did not learn to strengthen 2-px texture either: ``aged.fast`` clones
  :func:`aged_smooth` and the runtime draws texture and creases
  (``teacher = creases(texture(aged_smooth))``).

Every colour step is a blend whose weight is ``amount × the style's value``, so the teacher at
age ``a`` is, outside the warp, the blend ``(1 − a)·crop + a·teacher(1)``: the runtime's
``--strength`` (a blend of input and output) is the age slider, the way Defacify moves along
an "age" direction. :data:`AGE_STYLES` are the variants the latent code picks.
"""
from __future__ import annotations

import cv2
import numpy as np

# the crease drawing, the styles and the landmark paths live in the runtime, which draws the
# creases after the network (one copy of the logic)
from realtime.filters.kinds.creases import (  # noqa: F401  (re-exported: the teacher's vocabulary)
    AGE_STYLES, BROW_LEFT, BROW_RIGHT, CHEEK_LEFT, CHEEK_RIGHT, CHIN, EYE_LEFT, EYE_RIGHT, FACE_OVAL, FOREHEAD_TOP,
    JAW_LEFT, JAW_RIGHT, LIPS_OUTER, LOWER_LID_LEFT, LOWER_LID_RIGHT, LOWER_LIP_BOTTOM, MOUTH_LEFT, MOUTH_RIGHT,
    NOSE_WING_LEFT, NOSE_WING_RIGHT, OUTER_LEFT, OUTER_RIGHT, UPPER_LIP_TOP, AgeStyle, apply_creases, apply_post, apply_texture,
    bezier, crease_map, crease_paths, eye_distance, from_lab, polygon_mask, sag_shift, sagged_landmarks, skin_mask, to_lab,
)


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
    Gaussian bumps (centre, radius, shift) anchored on landmarks
    (:func:`realtime.filters.kinds.creases.sag_shift`)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = sag_shift(xx, yy, lm, amount)
    return xx - dx, yy - dy


def age_face(rgb: np.ndarray, landmarks: np.ndarray, hair: np.ndarray, style: AgeStyle = AGE_STYLES["elderly"],
             amount: float = 1.0, creases: bool = True, texture: bool = True) -> np.ndarray:
    """An older ``rgb`` (an aligned H×W×3 uint8 face crop). ``landmarks``: its 478 mesh
    points in crop pixels; ``hair``: H×W float 0–1 (see :func:`hair_mask`); ``amount`` 0–1.
    The texture and then the creases are the last steps (drawn on the sagged face with the
    sagged landmarks ``s = sagged_landmarks(landmarks, style.sag × amount)``), so ``age_face(...)``
    is ``apply_post(age_face(..., creases=False, texture=False), s, style, amount)`` (within a grey level of
    ``apply_creases(apply_texture(...))``, the two steps one after the other);
    ``creases=False`` / ``texture=False`` leave those steps out."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"age_face() needs an H×W×3 uint8 crop, got {rgb.dtype} {rgb.shape}")
    shape = rgb.shape[:2]
    lab = to_lab(rgb)
    skin = skin_mask(shape, landmarks)
    k = amount * skin
    light = lab[..., 0]
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
    sagged = sagged_landmarks(landmarks, style.sag * amount)
    return apply_post(out, sagged, style, amount, texture=texture, creases=creases)  # rougher skin, then creases


def aged(crop: np.ndarray, landmarks: np.ndarray, person: np.ndarray, style: AgeStyle) -> np.ndarray:
    """The teacher at full age on one crop (``person``: the uint8 person mask warped into it)."""
    return age_face(crop, landmarks, hair_mask(person.astype(np.float32) / 255.0, landmarks, crop), style)


def aged_base(crop: np.ndarray, landmarks: np.ndarray, person: np.ndarray, style: AgeStyle) -> np.ndarray:
    """:func:`aged` without the creases: what the network clones when the runtime draws the
    creases after it (``python -m models.train_pairs --teacher aged --post creases``)."""
    return age_face(crop, landmarks, hair_mask(person.astype(np.float32) / 255.0, landmarks, crop), style, creases=False)


def aged_smooth(crop: np.ndarray, landmarks: np.ndarray, person: np.ndarray, style: AgeStyle) -> np.ndarray:
    """:func:`aged` without the rough skin and the creases: what a network clones when the
    runtime draws both after it (``python -m models.train_pairs --teacher aged --post texture+creases``)."""
    return age_face(crop, landmarks, hair_mask(person.astype(np.float32) / 255.0, landmarks, crop), style,
                    creases=False, texture=False)
