"""``low_light``: a dark, noisy webcam frame cleaned up (NVIDIA Broadcast's low light).

A frame that is not dark (its mean lightness at or above :attr:`LowLightConfig.target`) comes
back as it went in. A dark one goes through three steps (about 5-6 ms at 640x480 on one core
of the shared 2-core test machine, ``python -m benchmarks.low_light``):

1. **Temporal denoise** (a stream only; the state is the stream's,
   :mod:`realtime.filters.kinds.stream_state`): each pixel is blended with the previous
   *denoised* frame where the picture did not change, and taken as it is where it did, so a
   still room loses most of its grain while a moving hand is not smeared. "Changed" is
   measured on a blurred half-size gray copy (as the temporal stabiliser does) against a
   threshold set by the frame's own noise level (Immerkær's fast noise estimate, 1996, every
   few frames): grainy frames need a larger change to count as motion than clean ones. The
   blend never freezes a pixel (:attr:`LowLightConfig.keep` < 1), so slow change comes through.
2. **Spatial denoise** when the grain, once lifted, would show (:func:`spatial_denoise`): a Lee
   filter on the luminance (flat areas smoothed, edges and texture kept) and the colour from a
   half-size copy (chroma grain is the blotchy part).
3. **Exposure lift** on the luminance: the gain in linear light (as a camera's exposure, with a
   soft shoulder so highlights roll off) that takes the frame's mean lightness to the target,
   found from a 1/8-size histogram and smoothed over time on a stream (the exposure does not
   pump); optional CLAHE (:attr:`LowLightConfig.clahe_clip`, off by default: it cost PSNR and
   SSIM on the benchmark). The curve is applied to a blurred half-size luminance and the
   colours are multiplied by its gain (capped at :attr:`LowLightConfig.max_gain`), so they
   keep their hue and the gain does not amplify the grain pixel by pixel.

``--strength`` blends the lifted frame with the denoised one. A still image (no stream) gets
the spatial denoise and the lift. The measure (PSNR/SSIM against the original of frames
darkened with sensor-like noise, moving pixels apart, and the time) is ``python -m benchmarks.low_light``.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from realtime.analysis.analysers import FrameAnalysis
from realtime.filters.kinds.base import Applied, Settings, register_effect
from realtime.filters.kinds.stream_state import effect_key, stream_state
from realtime.imaging import blend

IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
THUMB_NOISE = 0.14  # the noise of the change map (half-size, 5x5-blurred gray copy) per unit of the gray's noise, measured on white noise


@dataclass(frozen=True)
class LowLightConfig:
    target: float = 0.45  # mean lightness (0-1, sRGB) a dark frame is lifted to
    max_gain: float = 16.0  # the largest exposure gain, in linear light (4 stops)
    knee: float = 0.75  # linear light above which the lifted highlights roll off instead of clipping
    clahe_clip: float = 1.0  # CLAHE's contrast limit on the lifted luminance (1: no CLAHE)
    clahe_tiles: int = 6  # CLAHE's grid, tiles along each side
    gain_blur: float = 1.5  # px of the half-size luminance the gain is computed on (the grain is not amplified pixel by pixel)
    keep: float = 0.8  # weight of the previous denoised frame where nothing moved (noise variance x 0.11 when still)
    spatial_box: int = 5  # px: the window of the spatial denoise (0: none)
    visible_noise: float = 1.0  # gray levels of noise, once lifted, below which the spatial denoise is skipped
    motion_k: float = 3.0  # a change of this many noise sigmas (of the change map) counts as motion
    min_threshold: float = 1.5  # gray levels: the least change that counts as motion, however clean the frame
    exposure_time: float = 0.5  # s: the lift follows a change in lighting with this time constant
    noise_every: int = 4  # frames between two noise estimates on a stream
    max_dt: float = 0.2  # s: a longer gap between frames counts as this much

    def __post_init__(self) -> None:
        if not (0 < self.target < 1 and self.max_gain >= 1 and 0 < self.knee < 1 and self.clahe_clip >= 1
                and self.clahe_tiles >= 1 and 0 <= self.keep < 1 and self.motion_k > 0 and self.exposure_time > 0
                and self.noise_every >= 1 and self.spatial_box >= 0):
            raise ValueError(f"LowLightConfig out of range: {self}")


def noise_sigma(gray: np.ndarray) -> float:
    """The standard deviation of the frame's white noise, in gray levels (Immerkær 1996: the
    mean absolute response to a Laplacian difference that cancels smooth picture content),
    on every other row (half the cost, the same estimate)."""
    rows = gray[::2] if gray.shape[0] >= 16 else gray
    h, w = rows.shape
    if h < 3 or w < 3:
        return 0.0
    response = cv2.filter2D(rows, cv2.CV_16S, IMMERKAER)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) / 6 * cv2.norm(response, cv2.NORM_L1) / response.size)


def spatial_denoise(bgr: np.ndarray, sigma: float, box: int = 5) -> np.ndarray:
    """Grain removed within the frame: the luminance by a Lee filter (each pixel pulled to its
    ``box``-wide local mean by the share of the local variance that noise of ``sigma`` explains:
    flat areas are smoothed, edges and texture, whose variance is far above the noise, kept),
    the colour by a half-size copy (chroma grain is what the eye sees as blotches; colour
    detail below two pixels is not missed). About 2 ms at 640x480."""
    h, w = bgr.shape[:2]
    if min(h, w) < 4:
        return bgr
    base = cv2.resize(cv2.resize(bgr, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR)
    y = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mean = cv2.boxFilter(y, cv2.CV_32F, (box, box))
    var = cv2.subtract(cv2.sqrBoxFilter(y, cv2.CV_32F, (box, box)), cv2.multiply(mean, mean))
    n2 = float(sigma * sigma)
    share = cv2.divide(cv2.max(cv2.subtract(var, n2), 0.0), cv2.max(var, n2))
    luma = cv2.add(mean, cv2.multiply(share, cv2.subtract(y, mean)))
    d = cv2.subtract(luma, cv2.cvtColor(base, cv2.COLOR_BGR2GRAY).astype(np.float32))
    return cv2.add(base, cv2.merge([d, d, d]), dtype=cv2.CV_8U)


def change_thumb(gray: np.ndarray) -> np.ndarray:
    """Blurred half-size copy (float32) the change between frames is measured on."""
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA) if min(h, w) >= 4 else gray
    return cv2.GaussianBlur(small.astype(np.float32), (5, 5), 0)


LEVELS = np.arange(256, dtype=np.float64) / 255.0
LINEAR = np.where(LEVELS <= 0.04045, LEVELS / 12.92, ((LEVELS + 0.055) / 1.055) ** 2.4)  # sRGB level -> linear light


def to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def tone_curve(gain: float, knee: float = 0.75) -> np.ndarray:
    """The 256-entry curve (float, 0-255) of an exposure ``gain`` in linear light, as a camera's
    exposure would, with a soft shoulder above ``knee`` so highlights roll off instead of clipping."""
    y = LINEAR * gain
    over = y > knee
    y[over] = knee + (1 - knee) * np.tanh((y[over] - knee) / (1 - knee))
    return to_srgb(y) * 255.0


GAIN_STEPS = 97  # exposure gains tried per frame, log-spaced from 1 to max_gain (then interpolated)
_TONE_TABLES: dict[tuple[float, float], tuple[np.ndarray, np.ndarray]] = {}


def tone_table(max_gain: float, knee: float) -> tuple[np.ndarray, np.ndarray]:
    """(log gains, their tone curves as rows): made once per (max_gain, knee), so a frame's gain
    is one small matrix product, not a search."""
    key = (max_gain, knee)
    if key not in _TONE_TABLES:
        logs = np.linspace(0.0, math.log(max_gain), GAIN_STEPS)
        _TONE_TABLES[key] = logs, np.stack([tone_curve(math.exp(g), knee) for g in logs])
    return _TONE_TABLES[key]


def exposure_gain(hist: np.ndarray, config: "LowLightConfig") -> float:
    """The linear-light gain (1 .. max_gain) that takes a frame with the gray-level histogram
    ``hist`` to the target mean lightness; 1 when it is not dark."""
    logs, curves = tone_table(config.max_gain, config.knee)
    means = curves @ (hist / max(float(hist.sum()), 1.0))  # the mean lightness at each gain, rising with it
    target = config.target * 255.0
    if means[0] >= target:
        return 1.0
    if means[-1] <= target:
        return config.max_gain
    return math.exp(float(np.interp(target, means, logs)))


@dataclass
class LowLightState:
    """One stream's memory: the previous denoised frame and its change map, the exposure, the noise."""

    prev: np.ndarray | None = None
    prev_thumb: np.ndarray | None = None
    log_gain: float | None = None
    sigma: float = 0.0
    frames: int = 0
    last_t: float | None = None


class LowLight:
    """``low_light``: see the module doc. ``clock``: the time the exposure follows on (seconds;
    the benchmark gives a video's own clock)."""

    name = "low_light"
    needs: frozenset[str] = frozenset()

    def __init__(self, config: LowLightConfig = LowLightConfig(), clock: Callable[[], float] = time.monotonic) -> None:
        self.config, self.clock = config, clock
        self.key = effect_key(self.name)
        self._local = threading.local()  # a cv2.CLAHE keeps buffers: one per thread

    def clahe(self) -> "cv2.CLAHE":
        found = getattr(self._local, "clahe", None)
        if found is None:
            c = self.config
            found = self._local.clahe = cv2.createCLAHE(c.clahe_clip, (c.clahe_tiles, c.clahe_tiles))
        return found

    def denoise(self, bgr: np.ndarray, gray: np.ndarray, state: LowLightState) -> np.ndarray:
        """``bgr`` blended with the stream's previous denoised frame where nothing moved."""
        c = self.config
        thumb = change_thumb(gray)
        if state.frames % c.noise_every == 0 or not state.sigma:
            state.sigma = noise_sigma(gray)
        state.frames += 1
        prev, prev_thumb = state.prev, state.prev_thumb
        if prev is None or prev_thumb is None or prev.shape != bgr.shape:
            state.prev, state.prev_thumb = bgr, thumb
            return bgr
        threshold = max(c.min_threshold, c.motion_k * THUMB_NOISE * state.sigma)
        change = cv2.absdiff(thumb, prev_thumb)
        # full keep up to the threshold, none from twice it
        keep = cv2.min(cv2.max(change, threshold), 2 * threshold)
        keep = cv2.addWeighted(keep, -c.keep / threshold, keep, 0.0, 2 * c.keep)
        state.prev_thumb = cv2.blendLinear(prev_thumb, thumb, keep, 1.0 - keep)  # the output's change map, without remaking it
        h, w = bgr.shape[:2]
        if keep.shape != (h, w):
            keep = cv2.resize(keep, (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.blendLinear(prev, bgr, keep, 1.0 - keep)
        state.prev = out
        return out

    def gain_map(self, gray: np.ndarray, gain: float) -> np.ndarray:
        """Per pixel, what its brightness is multiplied by (float32, the frame's size): the
        exposure's tone curve (then CLAHE) on a blurred half-size luminance, over that luminance."""
        c = self.config
        h, w = gray.shape
        half = cv2.resize(gray, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA) if min(h, w) >= 4 else gray
        base = cv2.GaussianBlur(half, (0, 0), c.gain_blur) if c.gain_blur > 0 else half
        lifted = cv2.LUT(base, np.clip(tone_curve(gain, c.knee) + 0.5, 0, 255).astype(np.uint8))
        if c.clahe_clip > 1:
            lifted = self.clahe().apply(lifted)
        ratio = cv2.divide(lifted.astype(np.float32), cv2.max(base, 1).astype(np.float32))
        ratio = cv2.min(ratio, float(c.max_gain))
        return cv2.resize(ratio, (w, h), interpolation=cv2.INTER_LINEAR) if ratio.shape != (h, w) else ratio

    def lift(self, bgr: np.ndarray, gain: float, gray: np.ndarray | None = None) -> np.ndarray:
        """The exposure lift of ``gain`` (linear light) applied through the luminance: the colours
        are multiplied by the luminance's gain, so they keep their hue."""
        if gain <= 1.001:
            return bgr
        g = self.gain_map(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if gray is None else gray, gain)
        return cv2.multiply(bgr, cv2.merge([g, g, g]), dtype=cv2.CV_8U)

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        c = self.config
        state = stream_state(settings, self.key, LowLightState)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(gray, (max(1, gray.shape[1] // 8), max(1, gray.shape[0] // 8)), interpolation=cv2.INTER_AREA)
        log_gain = wanted = math.log(exposure_gain(np.bincount(small.ravel(), minlength=256).astype(np.float64), c))
        if state is not None:
            now = self.clock()
            if state.log_gain is not None and state.last_t is not None:
                dt = min(max(now - state.last_t, 0.0), c.max_dt)
                log_gain = state.log_gain + (1.0 - math.exp(-dt / c.exposure_time)) * (wanted - state.log_gain)
            state.log_gain, state.last_t = log_gain, now
        gain = math.exp(log_gain)
        if gain < 1.05:  # not dark: the frame as it is (and the denoise starts afresh when it gets dark)
            if state is not None:
                state.prev = state.prev_thumb = None
            return Applied(bgr)
        clean = bgr if state is None else self.denoise(bgr, gray, state)
        sigma = state.sigma if state is not None else noise_sigma(gray)
        if c.spatial_box and sigma * gain ** (1 / 2.4) >= c.visible_noise:  # the grain, once lifted, would show
            clean = spatial_denoise(clean, sigma, c.spatial_box)
            out = self.lift(clean, gain)
        else:
            out = self.lift(clean, gain, gray if clean is bgr else None)
        return Applied(blend(out, clean, settings.strength))


register_effect("low_light", lambda settings: LowLight())
