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
