"""Pixel helpers shared by the rooms."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime.imaging import to_bgr


@pytest.mark.parametrize("shape,dtype", [((77, 101), np.uint8), ((60, 90, 4), np.uint8), ((50, 70, 1), np.uint8),
                                         ((40, 40, 3), np.float32), ((30, 50, 3), np.uint16)])
def test_odd_frames_become_bgr_uint8(shape, dtype):
    image = (np.random.rand(*shape) * (1 if dtype == np.float32 else 200)).astype(dtype)
    out = to_bgr(image)
    assert out.dtype == np.uint8 and out.shape == (shape[0], shape[1], 3) and out.flags.c_contiguous


@pytest.mark.parametrize("size, to", [((720, 1280), (853, 480)), ((1080, 1920), (853, 480)), ((480, 640), (512, 384)), ((721, 1281), (640, 360))])
def test_shrink_counts_every_source_pixel_and_lands_on_the_size(size, to):
    """Area averaging by the whole factor, then bilinear: close to plain area averaging (which
    costs 6-8x more at fractional factors) on a detailed image, and exactly the size asked."""
    import cv2

    from realtime.imaging import shrink

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (*size, 3), np.uint8), (0, 0), 1.0)
    out = shrink(img, *to)
    assert out.shape == (to[1], to[0], 3)
    area = cv2.resize(img, to, interpolation=cv2.INTER_AREA)
    assert np.abs(out.astype(int) - area).mean() < 4.0


def test_a_shrunk_frame_keeps_its_aspect_to_the_pixel():
    from realtime.imaging import work_shape

    assert work_shape(720, 1280, 480) == (480, 853)
    assert work_shape(1080, 1920, 480) == (480, 853)  # every 16:9 camera: the grid of a 480-line frame
    assert work_shape(480, 640, 480) == (480, 640)  # not shrunk: left as it is (padded by the engine)
    assert work_shape(40, 30, 20) == (27, 20)


class _GridModel:
    """A stand-in for a network that draws its own strokes: a checkerboard of 2-px squares on its own
    pixel grid, after padding to its size multiple as the engine does."""

    name = "grid"

    def __init__(self, work_size: int, multiple: int) -> None:
        from realtime.filters.onnx_format import FilterContract

        self.contract = FilterContract(name="grid", work_size=work_size, size_multiple=multiple)

    def infer(self, bgr: np.ndarray, latent: int = 0, crowded: bool = False):
        from realtime.filters.engine import Inference, padding

        h, w = bgr.shape[:2]
        ph, pw = padding(h, w, self.contract.size_multiple)
        yy, xx = np.mgrid[: h + ph, : w + pw]
        strokes = ((yy // 2 + xx // 2) % 2 * 60).astype(np.int16)[:h, :w, None]
        return Inference(np.clip(bgr.astype(np.int16) // 2 + strokes, 0, 255).astype(np.uint8), 0.0)


def test_strokes_land_on_the_same_grid_at_720p_as_at_480_lines():
    """The 720p frame is run at 853x480, the 480-line frame's own size, so a texture the network
    draws on its pixel grid comes out where it does at 480 lines (a side rounded to the size
    multiple, 852, moved every stroke of candy's: SSIM 0.90 against the 480-line output)."""
    import cv2

    from realtime.analysis.analysers import FrameAnalysis
    from realtime.filters.kinds.base import Settings
    from realtime.filters.kinds.frame_filter import FrameFilter

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), np.uint8), (0, 0), 8.0)
    small = cv2.resize(big, (853, 480), interpolation=cv2.INTER_AREA)
    f = FrameFilter(_GridModel(480, 12))  # type: ignore[arg-type]
    at_720 = f.apply(big, FrameAnalysis(), Settings()).image
    at_480 = f.apply(small, FrameAnalysis(), Settings()).image
    # the 720p output shrunk back to 853x480 keeps the checkerboard in phase with the 480-line one
    # (with the side rounded to 852: SSIM 0.63)
    from models.losses.quality import ssim

    back = cv2.resize(at_720, (853, 480), interpolation=cv2.INTER_AREA)
    assert ssim(back, at_480) >= 0.95


def test_an_opencv_result_lands_in_the_region_it_was_given():
    """OpenCV writes into a strided view given as ``dst`` and returns it; a new array is copied in."""
    from realtime.imaging import written_into

    frame = np.zeros((40, 60, 3), np.uint8)
    region = frame[5:25, 10:50]
    written_into(region, cv2.add(region, np.full(region.shape, 7, np.uint8), dst=region))
    assert frame[5:25, 10:50].min() == 7 and frame.sum() == 7 * region.size
    written_into(region, np.full(region.shape, 9, np.uint8))  # not the view: copied in
    assert frame[5:25, 10:50].min() == 9 and frame.sum() == 9 * region.size


@pytest.mark.parametrize("shape, kx, ky", [((720, 1280, 3), 4, 4), ((1080, 1920, 3), 6, 6), ((360, 640), 8, 8),
                                           ((672, 640), 10, 14), ((90, 96), 3, 3), ((721, 1281, 3), 4, 4)])
def test_area_down_gives_each_blocks_mean(shape, kx, ky):
    """Halvings while both factors are even, then the odd rest: each block's mean within half a
    grey level a step (each rounds); sides that do not divide evenly get OpenCV's one area
    resize, as before."""
    from realtime.imaging import area_down

    image = np.random.default_rng(1).integers(0, 256, shape, np.uint8)
    out = area_down(image, kx, ky)
    h, w = shape[0] // ky, shape[1] // kx
    assert out.shape == (h, w, *shape[2:]) and out.dtype == np.uint8
    if shape[0] % ky or shape[1] % kx:
        assert np.array_equal(out, cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))
        return
    steps, fx, fy = 0, kx, ky
    while fx % 2 == 0 and fy % 2 == 0:
        steps, fx, fy = steps + 1, fx // 2, fy // 2
    steps += fx > 1 or fy > 1
    means = image.reshape(h, ky, w, kx, *shape[2:]).mean(axis=(1, 3))
    assert np.abs(out - means).max() <= 0.5 * steps and np.abs(out - means).mean() <= 0.3 * steps
