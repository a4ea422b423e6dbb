"""auto_frame: the crop the faces call for, its smooth motion (speed cap, no overshoot, dead
zone, hold), the stream's state kept with the stream (not on the filter), and chains."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from realtime.analysis.analysers import FrameAnalysis
from realtime.analysis.tracking import Face
from realtime.compositing.temporal import TemporalMemory
from realtime.filters.kinds.auto_frame import AutoFrame, AutoFrameConfig, CropMotion, faces_box, framing, render
from realtime.filters.kinds.base import EFFECTS, Settings

HW = (480, 640)


def face_at(x0: float, y0: float, x1: float, y1: float) -> Face:
    """A face whose landmarks span the box (x0, y0)-(x1, y1)."""
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(x0, x1, 478), rng.uniform(y0, y1, 478)])
    pts[:2] = [[x0, y0], [x1, y1]]
    return Face(landmarks=pts, raw=pts.copy())


def frames_of(face_boxes, clock, effect, settings, step=1 / 30):
    """Run ``effect`` over faces at the boxes given, one frame each; the crops it showed."""
    crops = []
    img = np.zeros((*HW, 3), np.uint8)
    for box in face_boxes:
        clock["t"] += step
        analysis = FrameAnalysis(faces=(face_at(*box),) if box else ())
        effect.apply(img, analysis, settings)
        crops.append(effect.motion(settings).crop)
    return np.array(crops)


def test_the_framing_centres_the_faces_keeps_the_aspect_and_stays_inside():
    config = AutoFrameConfig()
    cx, cy, ch = framing((100, 150, 200, 280), HW, 1.0, config)
    cw = ch * 640 / 480
    assert ch == pytest.approx(130 / config.fill)
    assert cx - cw / 2 >= 0 and cy - ch / 2 >= 0 and cx + cw / 2 <= 640 and cy + ch / 2 <= 480
    assert cx - cw / 2 <= 100 and cx + cw / 2 >= 200 and cy - ch / 2 <= 150 and cy + ch / 2 >= 280  # the face is in it
    assert framing((100, 150, 200, 280), HW, 0.0) == (320, 240, 480)  # strength 0: no zoom
    assert framing(None, HW, 1.0) == (320, 240, 480)  # no face: the whole frame
    half = framing((100, 150, 200, 280), HW, 0.5)[2]
    assert ch < half < 480  # strength is the zoom amount
    tiny = framing((300, 200, 310, 212), HW, 1.0)
    assert tiny[2] == pytest.approx(480 / config.max_zoom)  # never more than max_zoom


def test_render_is_the_crop_scaled_up():
    img = np.zeros((*HW, 3), np.uint8)
    img[200:280, 280:360] = 255  # a white square in the middle
    assert render(img, (320, 240, 480)) is img
    out = render(img, (320, 240, 240))  # 2x zoom on the centre
    assert out.shape == img.shape
    assert out[162:318, 242:398].min() == 255  # the 80 px square is 160 px now, still in the middle
    assert out[:156].max() == 0 and out[:, :236].max() == 0


def test_the_crop_moves_smoothly_at_a_capped_speed_and_never_overshoots():
    config = AutoFrameConfig()
    clock = {"t": 0.0}
    effect, settings = AutoFrame(config, clock=lambda: clock["t"]), Settings(temporal=TemporalMemory())
    left, right = (60, 150, 160, 280), (480, 150, 580, 280)
    crops = frames_of([left] * 10 + [right] * 150, clock, effect, settings)
    speed = np.hypot(*np.diff(crops[:, :2], axis=0).T) * 30
    limit = config.max_speed * HW[0]
    assert speed.max() <= limit + 1e-6, (speed.max(), limit)
    x = crops[10:, 0]
    assert np.all(np.diff(x) >= -1e-9), "the crop goes one way to its target, no overshoot or wobble"
    target = framing(right, HW, 1.0, config)[0]
    assert x[-1] == pytest.approx(target, abs=0.5)
    assert (np.abs(np.diff(crops, axis=0)) < 1e-9).all(axis=1)[:9].all(), "a still face: the crop holds still"
    accel = np.diff(crops[:, 0], n=2) * 30**2
    speeding_up = np.diff(np.abs(np.diff(crops[:, 0]))) > 0
    assert accel[speeding_up].max() <= config.max_accel * HW[0] + 1e-6, "a pan starts gently (ease-in)"
    assert np.abs(accel).max() < 4 * limit / config.smooth_time, "and slows down as the spring does, no jolt"


def test_small_moves_are_inside_the_dead_zone():
    clock = {"t": 0.0}
    effect, settings = AutoFrame(clock=lambda: clock["t"]), Settings(temporal=TemporalMemory())
    rng = np.random.default_rng(1)
    boxes = [(200 + d, 150 + e, 300 + d, 280 + e) for d, e in rng.uniform(-4, 4, (60, 2))]
    crops = frames_of(boxes, clock, effect, settings)
    assert np.ptp(crops, axis=0).max() == 0.0, "a nodding head does not move the picture"


def test_a_lost_face_holds_then_eases_back_to_the_whole_frame():
    config = AutoFrameConfig(hold_s=1.0)
    clock = {"t": 0.0}
    effect, settings = AutoFrame(config, clock=lambda: clock["t"]), Settings(temporal=TemporalMemory())
    crops = frames_of([(200, 150, 300, 280)] * 5 + [None] * 20 + [None] * 200, clock, effect, settings)
    assert np.allclose(crops[5:25], crops[4]), "held while the face is briefly lost"
    assert crops[-1] == pytest.approx((320, 240, 480), abs=0.5)


def test_each_stream_keeps_its_own_crop_and_the_filter_keeps_none():
    clock = {"t": 0.0}
    effect = AutoFrame(clock=lambda: clock["t"])
    a, b = Settings(temporal=TemporalMemory()), Settings(temporal=TemporalMemory())
    left, right = (60, 150, 160, 280), (480, 150, 580, 280)
    before = dict(vars(effect))
    for _ in range(60):
        clock["t"] += 1 / 30
        img = np.zeros((*HW, 3), np.uint8)
        effect.apply(img, FrameAnalysis(faces=(face_at(*left),)), a)
        effect.apply(img, FrameAnalysis(faces=(face_at(*right),)), b)
    assert effect.motion(a).crop[0] < 320 < effect.motion(b).crop[0]
    assert vars(effect) == before, "nothing about a stream is kept on the filter"
    assert effect.motion(Settings()) is None  # a still image has no stream


def test_streams_on_several_threads_do_not_mix():
    effect = AutoFrame()
    results = {}

    def stream(name, box):
        settings = Settings(temporal=TemporalMemory())
        img = np.zeros((*HW, 3), np.uint8)
        for _ in range(40):
            effect.apply(img, FrameAnalysis(faces=(face_at(*box),)), settings)
        results[name] = effect.motion(settings).target

    threads = [threading.Thread(target=stream, args=(n, b)) for n, b in (("l", (60, 150, 160, 280)), ("r", (480, 150, 580, 280)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["l"][0] < 320 < results["r"][0]


def test_a_still_is_framed_at_once():
    img = np.zeros((*HW, 3), np.uint8)
    img[150:280, 60:160] = 200
    out = AutoFrame().apply(img, FrameAnalysis(faces=(face_at(60, 150, 160, 280),)), Settings()).image
    assert out.shape == img.shape and out.mean() > 2 * img.mean()  # zoomed onto the bright face


def test_frame_size_changes_restart_the_motion():
    motion = CropMotion()
    config = AutoFrameConfig()
    motion.step((320, 240, 300), True, 0.0, HW, config)
    crop = motion.step((160, 120, 150), True, 0.033, (240, 320), config)
    assert crop == (160, 120, 150)


def test_auto_frame_is_an_effect_and_chains_with_a_network(face_photo):
    import cv2

    import realtime

    assert "auto_frame" in EFFECTS
    bgr = cv2.cvtColor(face_photo, cv2.COLOR_RGB2BGR)
    bgr = cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_AREA)
    chain = realtime.load_chain("auto_frame+cartoon", provider="cpu")
    assert chain.needs == frozenset({"faces"})
    framed = realtime.load_chain("auto_frame", provider="cpu").apply(bgr)
    assert framed.shape == bgr.shape and not np.array_equal(framed, bgr)
    out = chain.apply(bgr)
    assert out.shape == bgr.shape and math.isfinite(float(out.mean()))


def test_what_follows_auto_frame_in_a_chain_sees_the_faces_and_the_mask_where_the_crop_put_them():
    """A bright dot under a landmark and a mask square: after the crop, the moved landmark
    lands on the moved dot, and the warped mask on the warped square."""
    from realtime.filters.chain import Chain
    from realtime.filters.kinds.base import Applied

    img = np.zeros((*HW, 3), np.uint8)
    face = face_at(250, 180, 390, 330)
    x, y = face.landmarks[5]
    img[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3] = 255
    person = np.zeros(HW, np.float32)
    person[150:350, 220:420] = 1.0
    seen = []

    class Recorder:
        name, needs = "recorder", frozenset()

        def apply(self, bgr, analysis, settings):
            seen.append((bgr, analysis))
            return Applied(bgr)

    chain = Chain([AutoFrame(), Recorder()], Settings(strength=1.0))
    out = chain.process(img, FrameAnalysis(faces=(face,), person=person)).image
    bgr, moved = seen[0]
    assert bgr is out and out is not img  # it zoomed in
    mx, my = moved.faces[0].landmarks[5]
    ys, xs = np.nonzero(out[:, :, 0] > 100)
    assert abs(xs.mean() - mx) < 1.5 and abs(ys.mean() - my) < 1.5  # the dot is where its landmark says
    assert moved.faces[0].raw.shape == face.raw.shape
    crop = framing(faces_box(FrameAnalysis(faces=(face,))), HW, 1.0, AutoFrameConfig())  # a still: framed at once
    square = np.zeros((*HW, 3), np.uint8)
    square[150:350, 220:420] = 255
    expected = render(square, crop)[:, :, 0].astype(np.float32) / 255
    assert np.abs(moved.person - expected).max() < 0.01  # the mask moved with the picture
