"""A network on an aligned square crop around each tracked face, pasted back with a
feathered mask; frames without a face pass through.

What is pasted is the network's *change* to the crop, not its output: the crop is usually
smaller than the face in the frame (a close-up in a 640×480 frame spans a 340-px square,
the ``aged`` network sees 192 px), so pasting the output would blur the whole face, while
the change keeps the frame's own detail wherever the filter leaves the face alone. Only the
crop's footprint on the frame (its bounding box) is warped back, whatever the frame's size.

A model whose contract asks for a post step (``filter.post``) gets it drawn on its output crop
before the change is taken: ``creases`` (the ``aged`` filter) draws the wrinkles of the latent
code's style (``filter.post_styles``) from the face's landmarks mapped into the crop, sagged as
the network sags the face (:mod:`realtime.filters.kinds.creases`; ~1 ms a face at 192 px);
``texture+creases`` strengthens the skin's fine texture first (``aged.fast``, whose small
network did not learn to). They
are drawn at full age, after the temporal stabilisation, and scaled by the strength with the
rest of the change in the paste, as the teacher's ``amount`` scales them (its age is a blend of
crop and full age): after, because they are a function of the tracked (One Euro smoothed)
mesh, not network flicker, and blending them toward the previous frame's output would smear
the 1-px lines or leave them behind where the face moved in the crop. A model that does not
ask (any foreign face model) is never touched.
"""
from __future__ import annotations

import cv2
import numpy as np

from realtime.analysis.analysers import FACES, FrameAnalysis
from realtime.filters.engine import FilterModel, NonFiniteOutput
from realtime.filters.kinds.base import Applied, Settings, register_model_kind
from realtime.filters.kinds.creases import AGE_STYLES, AgeStyle, apply_creases, apply_texture, sagged_landmarks
from realtime.filters.onnx_format import FilterContract
from realtime.analysis.tracking import face_transform, feather_mask


@register_model_kind("face")
class FaceFilter:
    needs: frozenset[str] = frozenset({FACES})

    def __init__(self, model: FilterModel) -> None:
        self.model = model
        self.name = model.name
        self.mask = feather_mask(model.contract.work_size)
        contract = model.contract
        self.steady = contract.temporal()  # its own stabiliser settings, or None: the stream's
        # the age style of each latent code (fixed per model: looked up once), and whether the
        # rougher skin is drawn before the creases
        self.creases: tuple[AgeStyle, ...] = tuple(AGE_STYLES[s] for s in contract.post_styles) if contract.post else ()
        self.texture = contract.post == "texture+creases"

    def post(self, image: np.ndarray, face_landmarks: np.ndarray, m: np.ndarray, latent: int) -> np.ndarray:
        """The contract's post step on the network's output crop ``image`` (BGR), ``m`` the
        frame → crop transform; unchanged when the model asks for none."""
        if not self.creases:
            return image
        style = self.creases[latent % len(self.creases)]
        lm = sagged_landmarks(face_landmarks @ m[:, :2].T + m[:, 2], style.sag)
        if self.texture:
            image = apply_texture(image, lm, style, 1.0, bgr=True)
        return apply_creases(image, lm, style, 1.0, bgr=True)

    @staticmethod
    def input_hw(contract: FilterContract, frame_hw: tuple[int, int] | None, work_size: int | None) -> tuple[int, int]:
        """The aligned square crop, whatever the frame."""
        return contract.fixed_size or (contract.work_size, contract.work_size)

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        size = self.model.contract.work_size
        h, w = bgr.shape[:2]
        out, ms = bgr, 0.0
        for slot, face in enumerate(analysis.faces):
            m = face_transform(face, size)
            crop = cv2.warpAffine(out, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            try:
                result = self.model.infer(crop, settings.latent)
            except NonFiniteOutput:
                return Applied(bgr, ms, nonfinite=True)
            ms += result.ms
            image = result.image
            if settings.temporal is not None:  # in the aligned crop: a still face stays still while the head moves
                image = settings.temporal.stabilise((self.name, slot), crop, image, self.steady)
            image = self.post(image, face.landmarks, m, settings.latent)
            out = paste_change(out, image.astype(np.float32) - crop, self.mask * settings.strength, m)
        return Applied(out, ms)


def footprint(m: np.ndarray, size: int, hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the frame pixels the ``size``² crop of ``m`` covers, or None."""
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, hw[1]), min(y1, hw[0])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


FIXED = 8  # the weighted change is warped as int16 in 1/8 grey levels: ±255 × 8 fits, rounding stays under 1/16


def paste_change(frame: np.ndarray, change: np.ndarray, weight: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``frame`` + ``weight`` × ``change`` (both in crop pixels, crop = ``m`` of the frame),
    warped back into the crop's footprint only.

    The product is formed in crop pixels (192² for ``aged``) and warped once, as int16 fixed
    point, then added with saturation: the footprint of a close-up at 1280×720 is ~700² pixels,
    where warping the float change and the weight separately and blending in float took 9 ms
    of the 14 ms ``aged`` spent around its network; this takes ~2 ms (:func:`warp_up`)."""
    box = footprint(m, weight.shape[0], frame.shape[:2])
    if box is None:
        return frame
    x0, y0, x1, y1 = box
    inv = cv2.invertAffineTransform(m)
    inv[:, 2] -= (x0, y0)
    weighted = np.rint(change * (weight[..., None] * FIXED)).astype(np.int16)
    delta = warp_up(weighted, inv, x1 - x0, y1 - y0)
    out = frame.copy()
    out[y0:y1, x0:x1] = cv2.addWeighted(frame[y0:y1, x0:x1], 1.0, delta, 1.0 / FIXED, 0.0, dtype=cv2.CV_8U)
    return out


HALF_FROM = 4.0  # frame pixels per crop pixel from which the warp runs at half size


def warp_up(image: np.ndarray, inv: np.ndarray, w: int, h: int) -> np.ndarray:
    """``cv2.warpAffine(image, inv, (w, h))``, bilinear. Where the crop is blown up 4x or more
    (a close-up at 1080p: 192 crop pixels over ~1000 frame pixels), it is warped to half the
    size and doubled by a plain resize, a third of the time (12.0 -> 4.5 ms for a 1300-px box):
    the feathered change holds nothing finer than a crop pixel, 4 frame pixels or more, so the
    second interpolation moves it by at most 1 grey level (2 on the aged network's real output,
    on 1 pixel in 50 000)."""
    scale = float(np.sqrt(abs(np.linalg.det(inv[:, :2]))))  # frame pixels per crop pixel
    if scale < HALF_FROM:
        return cv2.warpAffine(image, inv, (w, h), flags=cv2.INTER_LINEAR)
    hw, hh = (w + 1) // 2, (h + 1) // 2
    # half pixel u sits at frame pixel 2u + 0.5 (cv2.resize's centres when doubling)
    half = np.hstack([inv[:, :2] / 2, (inv[:, 2:] - 0.5) / 2])
    small = cv2.warpAffine(image, half, (hw, hh), flags=cv2.INTER_LINEAR)
    return cv2.resize(small, (2 * hw, 2 * hh), interpolation=cv2.INTER_LINEAR)[:h, :w]
