"""Temporal stabilisation: per-frame filters flicker on video; keep what did not change.

It runs on each network's own output at the network's own resolution (a frame filter's work
size, a face filter's aligned crop: :class:`TemporalMemory`), where the flicker is made and
where it costs least: at 1280x720 a fast student's output is 853x480, and the full-size blend
took 4.4 ms of CPU against 1.6 ms there. A face crop follows the face, so a still face holds
still even while the head moves.

Where the *input* did not change since the held output was made, the output is blended towards
the previous *output*; where it changed, the new output is taken as is. The change is measured
on a blurred, downscaled gray copy so camera noise does not count as change, against the input
the held output stands for (its thumbnail, blended like the output), so a slow drift adds up
to a change and is followed within a few grey levels instead of being held back (the
frame-to-frame change it replaced let a 1-level-a-frame drift fall 49 levels behind at keep 0.98).
A filter can carry its own settings (:class:`TemporalConfig`, ``filter.temporal_*`` in its
contract): networks that draw their own 2-px strokes need a firmer hold than the default.

:func:`flicker_and_response` is the metric: mean |out_t − out_t−1| over pixels whose input
did not change (flicker) and over pixels whose input changed (response).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, TypeVar

import cv2
import numpy as np

from realtime.imaging import area_down, mix

T = TypeVar("T")


@dataclass(frozen=True)
class TemporalConfig:
    # chosen by a sweep on the flicker benchmark's videos with the cartoon net at 640x480 (keep
    # 0.6–0.9, threshold 3–10, scale 1/2/4): flicker cut to 33 % while 85 % of the response kept
    keep: float = 0.9  # weight of the previous output where the input is still
    threshold: float = 5.0  # input change (0–255, blurred) at which the new output wins fully
    # input change up to which the old output is held at full ``keep`` (the hold then fades out by
    # ``threshold``): a camera's noise, blurred, changes the map by 1–2 levels and, held at a
    # linear ramp's 70–85 %, is what a stroke-drawing network's flicker is made of (benchmarks.flicker)
    floor: float = 0.0
    scale: int | None = None  # change map at 1/scale resolution; None: the swept 480-line map at any size
    map_lines: int = 480  # the short side the change map is measured at when ``scale`` is None

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.keep < 1.0:
            problems.append(f"keep must be from 0 to below 1 (1 would freeze the picture), got {self.keep:g}")
        if not 0.0 < self.threshold <= 255.0:
            problems.append(f"threshold must be above 0 and at most 255 grey levels, got {self.threshold:g}")
        elif not 0.0 <= self.floor < self.threshold:
            problems.append(f"floor must be from 0 to below the threshold ({self.threshold:g}), got {self.floor:g}")
        if problems:
            raise ValueError("; ".join(problems))

    def keep_table(self) -> np.ndarray:
        """Weight of the old output (in 255ths, :func:`realtime.imaging.mix`'s) for each input change 0–255."""
        change = np.arange(256, dtype=np.float32)
        keep = self.keep * np.clip((self.threshold - change) / (self.threshold - self.floor), 0.0, 1.0)
        return np.round(255 * keep).astype(np.uint8)


def own_config(keep: float | None, threshold: float | None, floor: float | None = None) -> TemporalConfig | None:
    """The settings a filter's contract asks for (``filter.temporal_keep``/``_threshold``/``_floor``),
    the default's for what it leaves out; None when it asks for nothing (the stream's settings).
    Settings the stabiliser cannot use raise ValueError with every reason."""
    given = {k: v for k, v in (("keep", keep), ("threshold", threshold), ("floor", floor)) if v is not None}
    return replace(TemporalConfig(), **given) if given else None


def change_scale(h: int, w: int, config: TemporalConfig) -> int:
    """1/scale of the frame the change map is measured on: the sweep's 480-line map whatever
    the frame size (1280x720: 2, so the map costs what it costs at 640x480; the blurred
    change of one camera pixel is the same change, so the look does not move with the size)."""
    if config.scale is not None:
        return config.scale
    return max(1, round(min(h, w) / config.map_lines))


def thumb(img: np.ndarray, scale: int) -> np.ndarray:
    """Blurred gray copy (uint8) at 1/scale size: what "the input changed" is measured on."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    h, w = g.shape
    small = area_down(g, scale) if scale > 1 else g
    return cv2.GaussianBlur(small, (5, 5), 0)


class TemporalStabilizer:
    """Every step is one pass of an OpenCV kernel on uint8 (gray, blur, absdiff, a table
    look-up, the mixes); the held output's input thumbnail is kept, not recomputed."""

    def __init__(self, config: TemporalConfig | None = None) -> None:
        self.config = config or TemporalConfig()
        self.keep_lut = self.config.keep_table()  # input change → weight of the old output
        self.prev_thumb: np.ndarray | None = None
        self.prev_out: np.ndarray | None = None

    def reset(self) -> None:
        self.prev_thumb = self.prev_out = None

    def __call__(self, frame_in: np.ndarray, frame_out: np.ndarray) -> np.ndarray:
        """Stabilise ``frame_out`` (BGR uint8) given the input it was made from.

        The change is measured against the input the held output stands for (its thumbnail
        blended with the same weights as the output), not against the previous frame: an input
        that drifts slowly (a face turning, the light) adds up until it is a change and the
        output follows within a few grey levels, where frame-to-frame steps below the floor
        would hold the old output for ever (at keep 0.98 a uint8 blend does not move until the
        new output is 25 levels away)."""
        h, w = frame_out.shape[:2]
        cur = thumb(frame_in, change_scale(h, w, self.config))
        ref, prev_out = self.prev_thumb, self.prev_out
        if ref is None or prev_out is None or ref.shape != cur.shape or prev_out.shape != frame_out.shape:
            self.prev_thumb, self.prev_out = cur, frame_out
            return frame_out
        small = cv2.LUT(cv2.absdiff(cur, ref), self.keep_lut)  # on the small map, then resized: fewer look-ups
        self.prev_thumb = mix(ref, cur, small)
        keep = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if small.shape != (h, w) else small
        out = mix(prev_out, frame_out, keep)  # uint8 weights (blendLinear's float maps cost ~0.4 ms more)
        self.prev_out = out
        return out


class TemporalMemory:
    """What one stream keeps from frame to frame, owned by the stream (the live loop's frame
    processor) and handed to the filters with each call's settings (``Settings.temporal``):
    one stabiliser per network output (a frame filter; a face filter's face slot), the state
    of effects that follow the stream (auto_frame's crop, low_light's denoised frame), and the
    time spent stabilising since the last :meth:`take_ms`. ``stabilise=False`` (--no-temporal)
    turns the stabilisers off and keeps the effects' state. ``config`` sets every stabiliser
    (a sweep); None: each filter's own settings (its contract), else the default."""

    def __init__(self, config: TemporalConfig | None = None, stabilise: bool = True) -> None:
        self.config, self.enabled = config, stabilise
        self._stabilisers: dict[object, TemporalStabilizer] = {}
        self._states: dict[object, object] = {}
        self._lock = threading.Lock()
        self._ms = 0.0

    def stabilise(self, key: object, frame_in: np.ndarray, frame_out: np.ndarray,
                  own: TemporalConfig | None = None) -> np.ndarray:
        """``frame_out`` held still where ``frame_in`` did not change since this key's last call;
        ``own``: the settings the filter asks for (:func:`own_config`)."""
        if not self.enabled:
            return frame_out
        start = time.perf_counter()
        stabiliser = self._stabilisers.get(key)
        if stabiliser is None:
            stabiliser = self._stabilisers[key] = TemporalStabilizer(self.config or own)
        out = stabiliser(frame_in, frame_out)
        self._ms += (time.perf_counter() - start) * 1000
        return out

    def state(self, key: object, factory: Callable[[], T]) -> T:
        """The state ``key`` keeps in this stream, made by ``factory`` on its first frame."""
        with self._lock:
            if key not in self._states:
                self._states[key] = factory()
            return self._states[key]  # type: ignore[return-value]

    def take_ms(self) -> float:
        """Milliseconds spent stabilising since the last call."""
        ms, self._ms = self._ms, 0.0
        return ms

    def reset(self) -> None:
        """Forget every previous output and state (another chain took over)."""
        with self._lock:
            self._stabilisers.clear()
            self._states.clear()


def flicker_and_response(inputs: list[np.ndarray], outputs: list[np.ndarray], still: float = 4.0) -> tuple[float, float]:
    """(flicker, response): mean |Δout| (0–255) where |Δin| < ``still`` and where it is larger."""
    flick, resp = [], []
    for a_in, b_in, a_out, b_out in zip(inputs, inputs[1:], outputs, outputs[1:]):
        d_in = np.abs(b_in.astype(np.float32) - a_in).mean(axis=2)
        d_out = np.abs(b_out.astype(np.float32) - a_out).mean(axis=2)
        mask = d_in < still
        if mask.any():
            flick.append(float(d_out[mask].mean()))
        if (~mask).any():
            resp.append(float(d_out[~mask].mean()))
    return float(np.mean(flick)) if flick else 0.0, float(np.mean(resp)) if resp else 0.0
