"""The face network is held while the face holds still: its last change reused, the network not run."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime.analysis.analysers import FrameAnalysis
from realtime.compositing.temporal import TemporalMemory
from realtime.filters.engine import FilterModel
from realtime.filters.kinds.base import Settings, filter_for
from realtime.filters.kinds.face_hold import HOLD_BELOW
from tests.conftest import make_onnx_filter


@pytest.fixture
def counted(tmp_path):
    """A face filter (a channel swap in its crop) and the list its network's calls go into."""
    model = FilterModel(make_onnx_filter(tmp_path / "swap.onnx", {"filter.latent_codes": "2"}, kind="face"), "cpu")
    calls: list[int] = []
    infer = model.infer

    def counting(crop: np.ndarray, latent: int = 0, crowded: bool = False):
        calls.append(latent)
        return infer(crop, latent, crowded)

    model.infer = counting  # type: ignore[method-assign]
    return filter_for(model), calls


def test_a_still_face_runs_the_network_once_and_reuses_its_change(tracked, counted):
    bgr, face = tracked
    f, calls = counted
    settings = Settings(temporal=TemporalMemory())
    analysis = FrameAnalysis(faces=(face,))
    first = f.apply(bgr, analysis, settings)
    assert len(calls) == 1 and first.infer_ms > 0 and np.abs(first.image.astype(int) - bgr).max() > 20
    for _ in range(4):
        again = f.apply(bgr, analysis, settings)
        assert np.array_equal(again.image, first.image) and again.infer_ms == 0.0
    assert len(calls) == 1
    # a change within the hold (a grey level everywhere) reuses the change on the new crop: for this
    # linear network that is its own output, so the hold lands where running it would
    brighter = cv2.add(bgr, np.full_like(bgr, 1))
    held = f.apply(brighter, analysis, settings).image
    assert len(calls) == 1
    fresh = f.apply(brighter, analysis, Settings(temporal=TemporalMemory())).image
    assert len(calls) == 2 and np.abs(held.astype(int) - fresh).max() <= 1


def test_the_network_runs_again_when_the_face_changes_or_the_code_does(tracked, counted):
    bgr, face = tracked
    f, calls = counted
    settings = Settings(temporal=TemporalMemory())
    analysis = FrameAnalysis(faces=(face,))
    f.apply(bgr, analysis, settings)
    moved = cv2.add(bgr, np.full_like(bgr, 4 * HOLD_BELOW))  # the light changed
    f.apply(moved, analysis, settings)
    assert len(calls) == 2
    f.apply(moved, analysis, Settings(latent=1, temporal=settings.temporal))  # another variant
    assert calls == [0, 0, 1]
    f.apply(moved, analysis, Settings(latent=1, temporal=settings.temporal))
    assert calls == [0, 0, 1]


def test_a_still_image_and_another_stream_always_run_the_network(tracked, counted):
    bgr, face = tracked
    f, calls = counted
    analysis = FrameAnalysis(faces=(face,))
    for _ in range(3):
        f.apply(bgr, analysis, Settings())  # Chain.apply: no stream memory
    assert len(calls) == 3
    f.apply(bgr, analysis, Settings(temporal=TemporalMemory()))
    f.apply(bgr, analysis, Settings(temporal=TemporalMemory()))  # each stream holds its own
    assert len(calls) == 5
