"""Pixel helpers shared by the rooms."""

from __future__ import annotations

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


def test_a_shrunk_side_is_one_the_network_takes():
    from realtime.imaging import work_shape

    assert work_shape(720, 1280, 480) == (480, 853)
    assert work_shape(720, 1280, 480, multiple=12) == (480, 852)  # 853 would be padded to 864
    assert work_shape(1080, 1920, 480, multiple=16) == (480, 848)
    assert work_shape(480, 640, 480, multiple=12) == (480, 640)  # not shrunk: left as it is (padded by the engine)
    assert work_shape(40, 30, 20, multiple=16) == (32, 16)  # never below one multiple
