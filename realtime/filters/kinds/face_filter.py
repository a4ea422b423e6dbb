"""A network on an aligned square crop around each tracked face, pasted back with a
feathered mask; frames without a face pass through. While a face holds still in its crop, the
network's last change is reused instead of running it (:mod:`realtime.filters.kinds.face_hold`).

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
network did not learn to), in the same pass through Lab (:func:`~realtime.filters.kinds.creases.apply_post`). They
are drawn at full age, after the temporal stabilisation, and scaled by the strength with the
rest of the change in the paste, as the teacher's ``amount`` scales them (its age is a blend of
crop and full age): after, because they are a function of the tracked (One Euro smoothed)
mesh, not network flicker, and blending them toward the previous frame's output would smear
the 1-px lines or leave them behind where the face moved in the crop. A model that does not
ask (any foreign face model) is never touched.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from realtime.analysis.analysers import FACES, FrameAnalysis
from realtime.filters.engine import FilterModel, Inference, NonFiniteOutput
from realtime.filters.kinds.base import Applied, Settings, aside, register_model_kind
from realtime.filters.kinds.creases import AGE_STYLES, AgeStyle, apply_post, sagged_landmarks
from realtime.filters.kinds.face_hold import HeldChange, crop_thumb
from realtime.filters.kinds.stream_state import effect_key, stream_state
from realtime.filters.onnx_format import FilterContract
from realtime.imaging import written_into
from realtime.analysis.tracking import face_transform, feather_mask


@register_model_kind("face")
class FaceFilter:
    needs: frozenset[str] = frozenset({FACES})
    scale_free = True  # on a smaller copy of the frame, its output is its output shrunk (kinds.base.Filter)

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
        self.key = effect_key(f"{self.name}.held")  # each slot's held network change, in the stream's memory

    def post(self, image: np.ndarray, face_landmarks: np.ndarray, m: np.ndarray, latent: int) -> np.ndarray:
        """The contract's post step on the network's output crop ``image`` (BGR), ``m`` the
        frame → crop transform; unchanged when the model asks for none."""
        if not self.creases:
            return image
        style = self.creases[latent % len(self.creases)]
        lm = sagged_landmarks(face_landmarks @ m[:, :2].T + m[:, 2], style.sag)
        return apply_post(image, lm, style, 1.0, texture=self.texture, creases=True, bgr=True)

    @staticmethod
    def input_hw(contract: FilterContract, frame_hw: tuple[int, int] | None, work_size: int | None) -> tuple[int, int]:
        """The aligned square crop, whatever the frame."""
        return contract.fixed_size or (contract.work_size, contract.work_size)

    def network(self, crop: np.ndarray, slot: int, settings: Settings) -> Inference:
        """The network's output on face ``slot``'s aligned ``crop`` and its times, or, in a
        stream while that face holds still, the crop plus the network's last change on it (no
        time in ONNX Runtime; :mod:`realtime.filters.kinds.face_hold`). Raises NonFiniteOutput as
        the model does."""
        if settings.temporal is None:  # a still image: no previous frame
            with aside(settings) as crowded:
                return self.model.infer(crop, settings.latent, crowded)
        early = self._run_beside(crop, settings) if settings.turn is not None else None
        held = stream_state(settings, (self.key, slot), HeldChange)
        assert held is not None
        small = crop_thumb(crop)
        reused = held.reuse(crop, small, settings.latent)
        if reused is not None:  # a network run beside the frame ahead still took its time
            return Inference(reused, early.ms, early.planes_ms) if isinstance(early, Inference) else Inference(reused, 0.0)
        if isinstance(early, NonFiniteOutput):
            raise early
        result = early if early is not None else self.model.infer(crop, settings.latent)
        held.keep(crop, small, result.image, settings.latent)
        return result

    def _run_beside(self, crop: np.ndarray, settings: Settings) -> Inference | NonFiniteOutput:
        """The network first, with frames in flight (``--in-flight 2``): whether the face held
        still is known only once the frame ahead kept its change, after its own network. Waiting
        for that would keep the two networks apart, so the network runs beside the frame ahead
        and the hold decides afterwards, as it would have before: the same picture, for a network
        run on the frames where the held change is used (22–35 % of a talking head's). A NaN
        output is given back, to be raised only where the network would have run."""
        try:
            with aside(settings) as crowded:
                return self.model.infer(crop, settings.latent, crowded)
        except NonFiniteOutput as exc:
            return exc

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        size = self.model.contract.work_size
        out, ms = bgr, 0.0
        steps = dict.fromkeys(("crop", "planes", "creases", "paste") if self.creases else ("crop", "planes", "paste"), 0.0)
        for slot, face in enumerate(analysis.faces):
            start = time.perf_counter()
            m = face_transform(face, size)
            crop = cv2.warpAffine(out, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            steps["crop"] += (time.perf_counter() - start) * 1000
            try:
                result = self.network(crop, slot, settings)
            except NonFiniteOutput:
                return Applied(bgr, ms, nonfinite=True)
            ms += result.ms
            steps["planes"] += result.planes_ms
            image = result.image
            if settings.temporal is not None:  # in the aligned crop: a still face stays still while the head moves
                image = settings.temporal.stabilise((self.name, slot), crop, image, self.steady)
            start = time.perf_counter()
            image = self.post(image, face.landmarks, m, settings.latent)
            posted = time.perf_counter()
            out = paste_change(out, image.astype(np.float32) - crop, self.mask * settings.strength, m)
            if self.creases:
                steps["creases"] += (posted - start) * 1000
            steps["paste"] += (time.perf_counter() - posted) * 1000
        return Applied(out, ms, steps=steps if analysis.faces else {})


def footprint(m: np.ndarray, size: int, hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the frame pixels the ``size``² crop of ``m`` covers, or None."""
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, hw[1]), min(y1, hw[0])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


FIXED = 8  # a change too strong for a byte is warped as int16 in 1/8 grey levels: ±255 × 8 fits, rounding under 1/16
OFFSET = 128  # the usual change, |change| < 127.5 levels, is warped as a byte around 128


def paste_change(frame: np.ndarray, change: np.ndarray, weight: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``frame`` + ``weight`` × ``change`` (both in crop pixels, crop = ``m`` of the frame),
    warped back into the crop's footprint only.

    The product is formed in crop pixels (192² for ``aged``) and warped once, then added with
    saturation: the footprint of a close-up at 1280×720 is ~700² pixels, where warping the
    float change and the weight separately and blending in float took 9 ms of the 14 ms
    ``aged`` spent around its network. The product is warped as bytes around 128 and added by
    one 8-bit ``addWeighted`` (−128), within a grey level of the float result (the byte rounds
    the change to whole levels before it is interpolated): with :func:`warp_up`, a talking
    head's footprint (504×451 at 640×480, 982×720 at 1280×720, 1471×1080 at 1080p) takes 2.7,
    5.7 and 9.5 ms against 5.3, 8.6 and 17.9 ms for the int16 fixed-point warp (1/8 level) and
    its mixed-type add, on the 2-core machine. A change beyond ±127 levels (a strong
    recolouring) takes the int16 path, so nothing is clipped."""
    box = footprint(m, weight.shape[0], frame.shape[:2])
    if box is None:
        return frame
    x0, y0, x1, y1 = box
    inv = cv2.invertAffineTransform(m)
    inv[:, 2] -= (x0, y0)
    weight = weight.astype(np.float32, copy=False)  # numpy's change * weight[..., None] took 8x as long
    weighted = cv2.multiply(change.astype(np.float32, copy=False), cv2.merge((weight, weight, weight)))
    out = frame.copy()
    region = out[y0:y1, x0:x1]
    if float(np.abs(weighted).max()) < OFFSET - 0.5:
        delta = warp_up((weighted + (OFFSET + 0.5)).astype(np.uint8), inv, x1 - x0, y1 - y0, OFFSET)
        written_into(region, cv2.addWeighted(frame[y0:y1, x0:x1], 1.0, delta, 1.0, -float(OFFSET), dst=region))
    else:
        delta = warp_up(np.rint(weighted * FIXED).astype(np.int16), inv, x1 - x0, y1 - y0, 0)
        written_into(region, cv2.addWeighted(frame[y0:y1, x0:x1], 1.0, delta, 1.0 / FIXED, 0.0, dst=region, dtype=cv2.CV_8U))
    return out


def shrink_factor(scale: float) -> int:
    """How many times smaller than the footprint :func:`warp_up` warps a crop blown up ``scale``
    times: 2 from 4x, 3 from 7x, 4 from 10x (k ≤ (scale + 2) / 3): where the direct warp and
    the small warp grown back stay within a grey level on a rough change (measured: at k = 3 a
    scale of 5.5–6.5 leaves 1.1 levels, 7 and up 1.0; at k = 4, 10 and up)."""
    return max(1, int((scale + 2) // 3))


def warp_up(image: np.ndarray, inv: np.ndarray, w: int, h: int, border: int = 0) -> np.ndarray:
    """``cv2.warpAffine(image, inv, (w, h))``, bilinear, ``border`` outside the image. Where the
    crop is blown up 4x or more (a close-up at 720p: 192 crop pixels over ~1000 frame pixels,
    5x; at 1080p ~1500, 7.6x), it is warped to 1/k of the size (:func:`shrink_factor`) and grown
    k times by a plain resize, which costs a third of a warp per pixel. The feathered change holds
    nothing finer than a crop pixel, so the second interpolation moves it by a grey level at
    most (2 at a few pixels in a million: smooth changes, 6 seeds × 21 angles and offsets at 4×,
    7.5× and 10.5×), more at the 1-px creases ``aged`` draws, which it softens a little (real
    ``aged.fast`` changes at 4×: 0.3 % of the pixels more than a level off, the worst 11)."""
    k = shrink_factor(float(np.sqrt(abs(np.linalg.det(inv[:, :2])))))  # from frame pixels per crop pixel
    if k < 2:
        return cv2.warpAffine(image, inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=(border,) * 4)
    sw, sh = -(-w // k), -(-h // k)
    # small pixel u sits at frame pixel k·u + (k − 1)/2 (cv2.resize's centres when growing k times)
    small_of = np.hstack([inv[:, :2] / k, (inv[:, 2:] - (k - 1) / 2) / k])
    small = cv2.warpAffine(image, small_of, (sw, sh), flags=cv2.INTER_LINEAR, borderValue=(border,) * 4)
    return cv2.resize(small, (k * sw, k * sh), interpolation=cv2.INTER_LINEAR)[:h, :w]
