"""A chain runs its scale-free filters (face networks, face effects) and a blurred background
on the frame already shrunk to the size of the frame filter between them, and the picture stays
the one each step at full size gives (Chain.shrink_ahead)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.losses.quality import ssim
from realtime.analysis.analysers import PERSON, Analysis, AnalysisOptions, FrameAnalysis
from realtime.analysis.tracking import Face
from realtime.compositing.background import BlurBackdrop, ImageBackdrop
from realtime.filters.chain import Chain, load_chain
from realtime.filters.engine import FilterModel
from realtime.filters.kinds.base import STEPS, Applied, Settings, filter_for
from realtime.imaging import shrink
from tests.conftest import make_onnx_filter
from tests.realtime.filters.conftest import track_one


class Recorder:
    """A scale-free effect that records the frame size and the face it was given."""

    name = "recorder"
    needs = frozenset({"faces"})
    scale_free = True

    def __init__(self) -> None:
        self.seen: list[tuple[tuple[int, int], np.ndarray]] = []

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        self.seen.append((bgr.shape[:2], analysis.faces[0].landmarks.copy()))
        return Applied(bgr)


class Mover:
    """Not scale-free (it moves the picture, like auto_frame)."""

    name = "mover"
    needs = frozenset({"faces"})

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        return Applied(bgr)


@pytest.fixture
def frame720(face_photo) -> np.ndarray:
    """The astronaut (BGR) stretched to 1280x720."""
    return cv2.resize(np.ascontiguousarray(face_photo[..., ::-1]), (1280, 720), interpolation=cv2.INTER_AREA)


@pytest.fixture
def frame_filter(tmp_path):
    path = make_onnx_filter(tmp_path / "swap.onnx", {"filter.work_size": "480"})
    return filter_for(FilterModel(path))


def face_at(points: np.ndarray) -> FrameAnalysis:
    return FrameAnalysis(faces=(Face(landmarks=points, raw=points.copy()),))


def test_scale_free_filters_before_a_frame_filter_run_at_its_size(frame_filter):
    recorder = Recorder()
    chain = Chain([recorder, frame_filter])
    frame = np.zeros((720, 1280, 3), np.uint8)
    # the frame's corner pixel centres and its middle, in frame pixels
    points = np.array([[0.0, 0.0], [1279.0, 719.0], [639.5, 359.5]], np.float32)
    out = chain.process(frame, face_at(points)).image
    assert out.shape == frame.shape
    assert chain.shrink_ahead((720, 1280), Settings()) == (1, (480, 853))
    (hw, seen), = recorder.seen
    assert hw == (480, 853)
    # pixel centres map to pixel centres as cv2.resize maps them: (x + 0.5) * scale - 0.5
    scale = np.array([853 / 1280, 480 / 720], np.float32)
    np.testing.assert_allclose(seen, (points + 0.5) * scale - 0.5, atol=1e-4)
    assert seen[2] == pytest.approx([426.0, 239.5], abs=0.01)  # the middle stays the middle


def test_no_shrink_where_the_picture_would_change(frame_filter):
    recorder = Recorder()
    free_then_frame = Chain([recorder, frame_filter])
    assert free_then_frame.shrink_ahead((720, 1280), Settings(strength=0.5)) is None  # the frame's own detail is blended back
    assert free_then_frame.shrink_ahead((720, 1280), Settings(region="person")) is None  # the rest of the frame stays full size
    assert free_then_frame.shrink_ahead((480, 640), Settings()) is None  # nothing to shrink
    assert Chain([frame_filter]).shrink_ahead((720, 1280), Settings()) is None  # it shrinks by itself
    blur, picture = BlurBackdrop(), ImageBackdrop(np.zeros((10, 10, 3), np.uint8))
    assert Chain([frame_filter]).shrink_ahead((720, 1280), Settings(background=blur)) == (0, (480, 853))  # and the blur after it
    assert Chain([frame_filter]).shrink_ahead((720, 1280), Settings(background=picture)) is None  # a picture keeps its detail
    assert Chain([frame_filter, recorder]).shrink_ahead((720, 1280), Settings(background=blur)) is None
    assert Chain([recorder]).shrink_ahead((720, 1280), Settings()) is None  # no frame filter: nothing is shrunk
    assert Chain([Mover(), recorder, frame_filter]).shrink_ahead((720, 1280), Settings()) is None
    assert Chain([recorder, Mover(), frame_filter]).shrink_ahead((720, 1280), Settings()) is None
    chain = Chain([recorder, frame_filter])
    points = np.array([[100.0, 100.0]], np.float32)
    chain.process(np.zeros((720, 1280, 3), np.uint8), face_at(points), Settings(strength=0.5))
    assert recorder.seen[-1][0] == (720, 1280)


@pytest.mark.parametrize("spec", ["aged+cartoon", "big_eyes+glasses+cartoon"])
def test_the_call_chains_give_the_picture_of_each_filter_at_full_size(frame720, spec):
    """The bundled chains at 1280x720: the same picture as each filter run on the full frame in
    turn (measured on four faces at 720p and 1080p: SSIM 0.998-0.9997, mean 0.07-0.48 levels;
    what differs is a cartoon outline that moves by a pixel where its input moved by a level)."""
    frame = frame720
    analysis = FrameAnalysis(faces=(track_one(frame),))
    chain = load_chain(spec)
    assert chain.shrink_ahead(frame.shape[:2], chain.settings) is not None
    out = chain.process(frame, analysis).image
    reference = frame
    for f in chain.filters:
        reference = f.apply(reference, analysis, chain.settings).image
    assert ssim(out, reference) >= 0.995
    assert float(np.abs(out.astype(np.float32) - reference).mean()) <= 1.0


def test_a_blurred_background_behind_a_frame_filter_gives_the_picture_at_full_size(frame720):
    """``cartoon --background blur`` at 1280x720: the network's output and the blur composed on
    its 683x384 output, then grown, against composing on the grown output (measured on eight
    frames of two talking-head videos: SSIM 0.998-0.999, mean 0.26-0.44 levels, the rest
    along the person's edge)."""
    frame = frame720
    chain = load_chain("cartoon", background="blur")
    analysis = Analysis(needs=chain.needs_for(chain.settings), options=AnalysisOptions(still_images=True))
    try:
        found = analysis(frame)
    finally:
        analysis.close()
    assert found.person is not None
    assert chain.shrink_ahead(frame.shape[:2], chain.settings) == (0, (384, 683))
    out = chain.process(frame, found).image
    cartoon = chain.filters[0].apply(frame, found, chain.settings).image
    reference = chain.settings.background.compose(cartoon, found.person)
    assert out.shape == frame.shape
    assert ssim(out, reference) >= 0.995
    assert float(np.abs(out.astype(np.float32) - reference).mean()) <= 1.0


def test_a_chain_composing_on_its_shrunk_copy_asks_for_the_mask_at_that_size(frame720):
    """``cartoon --background blur`` reads the person mask only on the 683x384 copy it composes
    on: it asks the analysis for the mask at that size (refined there, not at full size and
    shrunk), and the picture is the one the full-size mask gives (measured on eight faces at
    720p and 1080p: SSIM >= 0.9996, mean 0.035-0.054 levels)."""
    frame = frame720
    chain = load_chain("cartoon", background="blur")
    sizes = chain.sizes_for(frame.shape[:2], chain.settings)
    assert sizes == {PERSON: (384, 683)}
    assert chain.sizes_for(frame.shape[:2], Settings(strength=0.5, background=chain.settings.background)) == {}
    assert load_chain("cartoon").sizes_for(frame.shape[:2], load_chain("cartoon").settings) == {}
    assert load_chain("none", background="blur").sizes_for(frame.shape[:2], load_chain("none", background="blur").settings) == {}
    analysis = Analysis(needs=chain.needs_for(chain.settings), options=AnalysisOptions(still_images=True))
    try:
        full, small = analysis(frame), analysis(frame, sizes=sizes)
    finally:
        analysis.close()
    assert full.person.shape == frame.shape[:2] and small.person.shape == (384, 683)
    moved = np.abs(small.person.astype(np.int16) - shrink(full.person, 683, 384))
    assert moved.mean() < 0.5 and (moved > 2).mean() < 0.02
    a, b = chain.process(frame, full).image, chain.process(frame, small).image
    assert ssim(a, b) >= 0.999 and float(np.abs(a.astype(np.float32) - b).mean()) <= 0.2


def test_the_chain_times_each_step_around_its_networks(frame720):
    """Each step around the networks is a stage of its own (``kinds.base.STEPS``): the shrink
    ahead and the grow back, the frames' planes, the face's crop, creases and paste; each is a
    part of its filter's call (or of the chain's, for the shrink ahead and the grow)."""
    analysis = FrameAnalysis(faces=(track_one(frame720),))
    chain = load_chain("aged+cartoon")
    ms = chain.process(frame720, analysis).ms
    assert set(STEPS) <= set(ms) and all(ms[step] > 0 for step in STEPS), ms
    aged = ms["filter:aged"] - ms["infer:aged"]
    assert ms["crop"] + ms["creases"] + ms["paste"] <= aged
    assert ms["planes"] <= aged + ms["filter:cartoon"] - ms["infer:cartoon"]
    # no face in the frame: the face filter has no step to time
    alone = load_chain("aged")
    ms = alone.process(frame720, FrameAnalysis()).ms
    assert "filter:aged" in ms and not set(STEPS) & set(ms)
    # a blurred background composed on the shrunk copy: the grow back is a resize, not the background's
    blurred = load_chain("cartoon", background="blur")
    person = np.full(frame720.shape[:2], 255, np.uint8)
    person[:, :400] = 0
    ms = blurred.process(frame720, FrameAnalysis(person=person)).ms
    assert {"resize", "planes", "background"} <= set(ms) and "crop" not in ms
