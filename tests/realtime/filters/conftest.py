"""Fixtures the face-filter tests share."""
from __future__ import annotations

import numpy as np
import pytest

from realtime.analysis.tracking import Face, FaceTracker


def track_one(bgr: np.ndarray) -> Face:
    """The face a still-image tracker finds in ``bgr`` (one must be there)."""
    tracker = FaceTracker(static=True, max_faces=1)
    try:
        face = tracker.process(bgr, 0.0)
    finally:
        tracker.close()
    assert face is not None
    return face


@pytest.fixture(scope="module")
def tracked(face_photo) -> tuple[np.ndarray, Face]:
    """The astronaut (BGR) and her tracked face."""
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    return bgr, track_one(bgr)
