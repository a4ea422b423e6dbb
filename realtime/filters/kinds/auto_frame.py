"""``auto_frame``: keep the face(s) framed, like a camera operator (NVIDIA Broadcast's auto frame).

The output is a crop of the frame, of the frame's aspect, scaled back to the frame's size
(one ``cv2.warpAffine``, sub-pixel, so a slow pan does not step by whole pixels). The crop
the faces call for (:func:`framing`): around the box of every tracked face, the faces'
centre a little above the middle (:attr:`AutoFrameConfig.headroom`), its height between the
whole frame and the portrait framing where the faces fill :attr:`AutoFrameConfig.fill` of it;
``--strength`` is the zoom amount: 0 the whole frame, 1 the portrait, never more than
:attr:`AutoFrameConfig.max_zoom`. The crop always lies inside the frame.

The crop on screen follows that target smoothly (:class:`CropMotion`): a new target is taken
only when it moved by more than a dead zone (a head that nods does not move the picture), the
crop's centre and height then glide to it as a critically damped spring (no overshoot, no
oscillation; Game Programming Gems 4's SmoothDamp), their speed capped at
:attr:`AutoFrameConfig.max_speed` frame heights a second and their speeding up at
:attr:`AutoFrameConfig.max_accel` (an ease-in: a pan starts gently). When the faces are lost the crop
waits :attr:`AutoFrameConfig.hold_s`, then eases back to the whole frame.

That motion is the stream's, not the filter's: it lives in the stream's memory
(:mod:`realtime.filters.kinds.stream_state`, handed down with each frame's settings), so one
chain serves several streams. A still image (no stream memory) is framed at once. The faces
come from the frame's analysis; what auto_frame returns carries that analysis moved with the
picture (:func:`moved_analysis`), so face effects, face filters and a background after it in a
chain (``auto_frame+glasses``) land on the faces and the person where they are in the crop.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import cv2
import numpy as np

from realtime.analysis.analysers import FACES, FrameAnalysis
from realtime.filters.kinds.base import Applied, Settings, register_effect
from realtime.filters.kinds.stream_state import effect_key, stream_state


@dataclass(frozen=True)
class AutoFrameConfig:
    fill: float = 0.45  # share of the crop's height the faces' box takes in the portrait framing (strength 1)
    fill_width: float = 0.7  # ... and at most this share of its width (two faces side by side)
    headroom: float = 0.42  # the faces' centre sits this far down the crop (0.5 = the middle)
    max_zoom: float = 3.0  # the crop is never smaller than 1/max_zoom of the frame (upscaling blurs)
    max_speed: float = 0.5  # frame heights per second: the crop's centre and height move at most this fast
    max_accel: float = 1.5  # frame heights per second²: how fast it may speed up (an ease-in; it slows down as the spring does)
    smooth_time: float = 0.3  # s: the spring's time constant (95 % of a step in about 4 of these)
    dead_zone: float = 0.06  # share of the crop's height: a target that moved less is not followed
    hold_s: float = 1.5  # s without a face before the crop eases back to the whole frame
    max_dt: float = 0.1  # s: a longer gap between frames (a stall) counts as this much time

    def __post_init__(self) -> None:
        if not (0.05 <= self.fill <= 1 and 0.05 <= self.fill_width <= 1 and 0 < self.headroom < 1 and self.max_zoom >= 1
                and self.max_speed > 0 and self.max_accel > 0 and self.smooth_time > 0 and self.dead_zone >= 0 and self.hold_s >= 0):
            raise ValueError(f"AutoFrameConfig out of range: {self}")


Crop = tuple[float, float, float]  # (centre x, centre y, height) in frame pixels; the width follows the frame's aspect


def faces_box(analysis: FrameAnalysis) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) around every tracked face with finite landmarks, None without one."""
    boxes = [f.box for f in analysis.faces if np.isfinite(f.landmarks).all()]
    if not boxes:
        return None
    b = np.array(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def full_frame(hw: tuple[int, int]) -> Crop:
    h, w = hw
    return w / 2, h / 2, float(h)


def clamp_crop(crop: Crop, hw: tuple[int, int], config: AutoFrameConfig) -> Crop:
    """``crop`` made to fit: its height between frame/max_zoom and the frame's, inside the frame."""
    h, w = hw
    cx, cy, ch = crop
    ch = min(float(h), max(h / config.max_zoom, ch))
    cw = ch * w / h
    return min(max(cx, cw / 2), w - cw / 2), min(max(cy, ch / 2), h - ch / 2), ch


def framing(box: tuple[float, float, float, float] | None, hw: tuple[int, int], strength: float,
            config: AutoFrameConfig = AutoFrameConfig()) -> Crop:
    """The crop the faces in ``box`` call for at zoom amount ``strength`` (0..1); the whole
    frame without faces or at strength 0."""
    h, w = hw
    if box is None or strength <= 0:
        return full_frame(hw)
    x0, y0, x1, y1 = box
    fh, fw = max(y1 - y0, 1.0), max(x1 - x0, 1.0)
    portrait = max(fh / config.fill, fw / config.fill_width * h / w)  # the crop height at which the faces fill it
    ch = h - min(1.0, strength) * (h - min(float(h), portrait))
    cx, fy = (x0 + x1) / 2, (y0 + y1) / 2
    return clamp_crop((cx, fy + (0.5 - config.headroom) * ch, ch), hw, config)


def smooth_damp(current: float, target: float, velocity: float, smooth_time: float, dt: float) -> tuple[float, float]:
    """One step of a critically damped spring from ``current`` towards ``target``: (position,
    velocity). Game Programming Gems 4, ch. 1.10 (the exponential's Padé form); never overshoots."""
    omega = 2.0 / smooth_time
    x = omega * dt
    decay = 1.0 / (1.0 + x + 0.48 * x * x + 0.235 * x * x * x)
    change = current - target
    temp = (velocity + omega * change) * dt
    velocity = (velocity - omega * temp) * decay
    out = target + (change + temp) * decay
    if (target - current > 0) == (out > target):  # passed the target: stop on it
        out, velocity = target, 0.0
    return out, velocity


@dataclass
class CropMotion:
    """One stream's crop: where it is, how fast it moves, what it is heading for."""

    hw: tuple[int, int] | None = None
    crop: Crop = (0.0, 0.0, 0.0)
    velocity: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    target: Crop = (0.0, 0.0, 0.0)
    last_t: float | None = None
    last_face_t: float = -math.inf

    def step(self, wanted: Crop, has_face: bool, t: float, hw: tuple[int, int], config: AutoFrameConfig) -> Crop:
        """Move the crop towards ``wanted`` for the time since the last frame; the new crop."""
        if self.hw != hw or self.last_t is None:  # the first frame, or the size changed: start on the target
            self.hw, self.crop, self.target, self.velocity = hw, wanted, wanted, [0.0, 0.0, 0.0]
            self.last_t, self.last_face_t = t, (t if has_face else -math.inf)
            return self.crop
        dt = min(max(t - self.last_t, 0.0), config.max_dt)
        self.last_t = t
        if has_face:
            self.last_face_t = t
        elif t - self.last_face_t < config.hold_s:
            wanted = self.target  # a face lost for a moment: hold the framing
        tx, ty, th = self.target
        if max(abs(wanted[0] - tx), abs(wanted[1] - ty), abs(wanted[2] - th)) > config.dead_zone * th:
            self.target = wanted
        if dt <= 0:
            return self.crop
        new, vel = [], []
        for k in range(3):
            p, v = smooth_damp(self.crop[k], self.target[k], self.velocity[k], config.smooth_time, dt)
            new.append(p)
            vel.append(v)
        # the limits, on the centre (as a vector) and on the height: speed at most max_speed frame
        # heights / s, and speeding up by at most max_accel frame heights / s² (slowing down is the spring's)
        speed_cap, accel = config.max_speed * hw[0], config.max_accel * hw[0] * dt
        for dims in ((0, 1), (2,)):
            step = [new[k] - self.crop[k] for k in dims]
            speed = math.hypot(*step) / dt
            before = math.hypot(*(self.velocity[k] for k in dims))
            allowed = min(speed_cap, max(before + accel, 0.0)) if speed > before else speed_cap
            if speed > allowed:
                for k, d in zip(dims, step):
                    new[k] = self.crop[k] + d * allowed / speed
                    vel[k] = d * allowed / speed / dt
        self.crop = clamp_crop((new[0], new[1], new[2]), hw, config)
        self.velocity = vel
        return self.crop


def crop_transform(hw: tuple[int, int], crop: Crop) -> tuple[float, float, float] | None:
    """(scale, x0, y0): a point x of the frame is at (x - x0) * scale in the output (continuous
    pixel coordinates, 0 at the left edge); None when the crop is the whole frame."""
    h, w = hw
    cx, cy, ch = crop
    scale = h / ch
    if abs(scale - 1.0) < 1e-3 and abs(cx - w / 2) < 0.05 and abs(cy - h / 2) < 0.05:
        return None
    return scale, cx - ch * w / h / 2, cy - ch / 2


def _warp(image: np.ndarray, transform: tuple[float, float, float]) -> np.ndarray:
    scale, x0, y0 = transform
    h, w = image.shape[:2]
    # output pixel centre (u + 0.5) shows the frame at x0 + (u + 0.5) / scale (pixel centres at +0.5)
    m = np.array([[scale, 0.0, -x0 * scale + 0.5 * scale - 0.5], [0.0, scale, -y0 * scale + 0.5 * scale - 0.5]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def render(bgr: np.ndarray, crop: Crop) -> np.ndarray:
    """The crop scaled to the frame's size (bilinear, sub-pixel); the frame itself when the crop is it."""
    transform = crop_transform(bgr.shape[:2], crop)
    return bgr if transform is None else _warp(bgr, transform)


def moved_analysis(analysis: FrameAnalysis, transform: tuple[float, float, float]) -> FrameAnalysis:
    """The analysis in the cropped picture's coordinates: the faces' landmarks moved and scaled
    as the picture was, the person mask warped with it; so face effects after auto_frame in a
    chain draw on the faces where they now are, and a background goes behind the person."""
    scale, x0, y0 = transform
    offset = np.array([x0, y0], dtype=np.float32)

    def move(points: np.ndarray) -> np.ndarray:
        return ((points - offset) * scale).astype(points.dtype, copy=False)

    faces = tuple(replace(f, landmarks=move(f.landmarks), raw=move(f.raw)) for f in analysis.faces)
    person = _warp(analysis.person, transform) if analysis.person is not None else None
    return replace(analysis, faces=faces, person=person)


class AutoFrame:
    """``auto_frame``: see the module doc. ``clock``: the time the motion runs on (seconds; the
    benchmark gives a video's own clock); the motion itself is the stream's."""

    name = "auto_frame"
    needs: frozenset[str] = frozenset({FACES})

    def __init__(self, config: AutoFrameConfig = AutoFrameConfig(), clock: Callable[[], float] = time.monotonic) -> None:
        self.config, self.clock = config, clock
        self.key = effect_key(self.name)

    def motion(self, settings: Settings) -> CropMotion | None:
        """This filter's crop motion in the stream of ``settings`` (None for a still image)."""
        return stream_state(settings, self.key, CropMotion)

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        hw = bgr.shape[:2]
        box = faces_box(analysis)
        wanted = framing(box, hw, settings.strength, self.config)
        motion = self.motion(settings)
        crop = wanted if motion is None else motion.step(wanted, box is not None, self.clock(), hw, self.config)
        transform = crop_transform(hw, crop)
        if transform is None:
            return Applied(bgr)
        return Applied(_warp(bgr, transform), analysis=moved_analysis(analysis, transform))


register_effect("auto_frame", lambda settings: AutoFrame())
