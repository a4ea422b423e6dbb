"""low_light: dark frames lifted, their grain removed (more on a stream, where the previous
frame helps), motion not smeared, bright frames left alone, the stream's memory kept with the
stream."""
from __future__ import annotations

import numpy as np
import pytest

from realtime.analysis.analysers import FrameAnalysis
from realtime.compositing.temporal import TemporalMemory
from realtime.filters.kinds.base import EFFECTS, Settings
from realtime.filters.kinds.low_light import LowLight, LowLightConfig, exposure_gain, noise_sigma, spatial_denoise
from tests.conftest import synthetic_photo


def darken(bgr: np.ndarray, rng: np.random.Generator, exposure: float = 0.12, shot: float = 0.003, read: float = 0.004) -> np.ndarray:
    from benchmarks.low_light import Darkening

    return Darkening(exposure, shot, read)(bgr, rng)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float32) - b) ** 2)))


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return synthetic_photo(240, 320, 3)[..., ::-1].copy()


def test_noise_sigma_reads_the_grain_not_the_picture(scene):
    rng = np.random.default_rng(0)
    gray = scene.mean(axis=2).astype(np.uint8)
    noisy = np.clip(gray + rng.normal(0, 8, gray.shape), 0, 255).astype(np.uint8)
    assert noise_sigma(noisy) == pytest.approx(np.sqrt(8**2 + noise_sigma(gray) ** 2), rel=0.2)


def test_exposure_gain_lifts_only_dark_frames():
    config = LowLightConfig()
    dark = np.bincount(np.full(100, 30), minlength=256).astype(float)
    bright = np.bincount(np.full(100, 140), minlength=256).astype(float)
    assert exposure_gain(bright, config) == 1.0
    assert 3 < exposure_gain(dark, config) <= config.max_gain


def test_a_dark_still_is_lifted_and_cleaned(scene):
    rng = np.random.default_rng(1)
    dark = darken(scene, rng)
    out = LowLight().apply(dark, FrameAnalysis(), Settings()).image
    assert out.shape == dark.shape and out.dtype == np.uint8
    assert out.mean() > 2 * dark.mean()
    assert abs(out.mean() - scene.mean()) < 0.3 * scene.mean()
    assert psnr(out, scene) > psnr(dark, scene) + 6


def test_a_bright_frame_is_left_alone(scene):
    out = LowLight().apply(scene, FrameAnalysis(), Settings(temporal=TemporalMemory()))
    assert out.image is scene


def test_the_stream_removes_more_grain_than_a_still(scene):
    rng = np.random.default_rng(2)
    darks = [darken(scene, rng) for _ in range(12)]
    still, stream = LowLight(), LowLight()
    settings = Settings(temporal=TemporalMemory())
    for d in darks:
        out_stream = stream.apply(d, FrameAnalysis(), settings).image
    out_still = still.apply(darks[-1], FrameAnalysis(), Settings()).image
    # against the same lift of the frame darkened without grain: what is left is grain
    clean = LowLight().apply(darken(scene, rng, shot=0, read=0), FrameAnalysis(), Settings()).image
    assert psnr(out_stream, clean) > psnr(out_still, clean) + 2.0


def test_motion_is_not_smeared(scene):
    """A bright square jumps across a still, dark, grainy room: where it was, the stream shows the
    room again at once, not a ghost of the square."""
    rng = np.random.default_rng(3)
    effect, settings = LowLight(), Settings(temporal=TemporalMemory())
    background = scene.copy()
    for i in range(10):
        frame = background.copy()
        frame[60:140, 40:120] = 250
        effect.apply(darken(frame, rng), FrameAnalysis(), settings)
    moved = background.copy()
    moved[60:140, 200:280] = 250
    out = effect.apply(darken(moved, rng), FrameAnalysis(), settings).image
    alone = LowLight().apply(darken(moved, rng), FrameAnalysis(), Settings()).image
    old_place, new_place = (slice(70, 130), slice(50, 110)), (slice(70, 130), slice(210, 270))
    ghost = 0.8 * out[new_place].mean() + 0.2 * alone[old_place].mean()  # what keeping the old frame would show
    assert abs(out[old_place].mean() - alone[old_place].mean()) < 0.2 * abs(ghost - alone[old_place].mean()), "no ghost where the square was"
    assert abs(out[new_place].mean() - alone[new_place].mean()) < 12, "the square is where it is now"


def test_each_stream_keeps_its_own_memory(scene):
    effect = LowLight()
    a, b = Settings(temporal=TemporalMemory()), Settings(temporal=TemporalMemory())
    rng = np.random.default_rng(4)
    dark_a, dark_b = darken(scene, rng), darken(scene[::-1].copy(), rng)
    before = dict(vars(effect))
    for _ in range(5):
        out_a = effect.apply(dark_a, FrameAnalysis(), a).image
        out_b = effect.apply(dark_b, FrameAnalysis(), b).image
    assert psnr(out_a, scene) > 15 and psnr(out_b, scene[::-1]) > 15  # neither stream saw the other's frames
    assert {k: v for k, v in vars(effect).items() if k != "_local"} == {k: v for k, v in before.items() if k != "_local"}


def test_strength_blends_and_the_effect_is_registered(scene):
    assert "low_light" in EFFECTS
    dark = darken(scene, np.random.default_rng(5))
    full = LowLight().apply(dark, FrameAnalysis(), Settings(strength=1.0)).image
    half = LowLight().apply(dark, FrameAnalysis(), Settings(strength=0.5)).image
    assert dark.mean() < half.mean() < full.mean()


def test_spatial_denoise_keeps_a_clean_picture_and_cleans_a_grainy_one(scene):
    import cv2

    clean = cv2.GaussianBlur(scene, (3, 3), 0)  # the scene has grain of its own
    assert psnr(spatial_denoise(clean, noise_sigma(cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY))), clean) > 36
    grainy = np.clip(clean + np.random.default_rng(7).normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
    out = spatial_denoise(grainy, noise_sigma(cv2.cvtColor(grainy, cv2.COLOR_BGR2GRAY)))
    assert psnr(out, clean) > psnr(grainy, clean) + 4


def test_low_light_chains(scene):
    import realtime

    dark = darken(scene, np.random.default_rng(6))
    out = realtime.load_chain("low_light+cartoon", provider="cpu").apply(dark)
    assert out.shape == dark.shape and out.mean() > dark.mean() + 20
