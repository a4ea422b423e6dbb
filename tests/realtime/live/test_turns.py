"""Frames in flight (realtime.live.turns): the next frame starts while a frame's network runs,
everything else stays one frame at a time in frame order, and the picture is the same as with
one frame at a time."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.analysis.analysers import FrameAnalysis
from realtime.capture.sources import SyntheticSource, VideoSource
from realtime.filters.chain import Chain, build_chain
from realtime.filters.kinds.base import Applied, Settings, aside
from realtime.filters.engine import FilterModel
from realtime.filters.loading import ModelLoader
from realtime.filters.registry import BUNDLED
from realtime.live.loop import LiveLoop, LoopConfig
from realtime.live.process import FrameProcessor
from realtime.live.turns import Turns, TurnsClosed

WAIT_S = 10.0  # reached only when the code under test is wrong (a frame that never comes)


def test_the_next_frame_starts_while_a_network_runs_and_ends_after_the_frame_before():
    turns = Turns()
    log: list[str] = []
    b_started, b_network_done = threading.Event(), threading.Event()
    first, second = turns.next(), turns.next()

    def frame_a() -> None:
        with first:
            log.append("a start")
            with first.aside():  # a's network: b may start meanwhile
                log.append("b started during a's network" if b_started.wait(WAIT_S) else "b never started")
                log.append("b's network ran during a's" if b_network_done.wait(WAIT_S) else "b's network never ran")
            log.append("a end")

    def frame_b() -> None:
        with second:
            log.append("b start")
            b_started.set()
            with second.aside():
                b_network_done.set()  # b's network is done before a's: b must still wait for a's end
            log.append("b end")

    threads = [threading.Thread(target=frame_a), threading.Thread(target=frame_b)]
    threads[1].start()  # b asks first: it still starts after a
    threads[0].start()
    for t in threads:
        t.join(WAIT_S)
    assert log == ["a start", "b start", "b started during a's network", "b's network ran during a's", "a end", "b end"]
    assert second.waited_ms > 0


def test_every_step_but_the_networks_runs_in_frame_order_one_at_a_time():
    turns = Turns()
    inside: list[int] = []  # frames holding their turn right now
    overlaps: list[list[int]] = []
    steps: list[tuple[int, int]] = []  # (frame, step) in the order they ran
    take = threading.Lock()
    frames = iter(range(40))

    def worker() -> None:
        while True:
            with take:
                k = next(frames, None)
                if k is None:
                    return
                turn = turns.next()
            with turn:
                for step in range(3):  # three networks a frame, a step before each and one after
                    inside.append(k)
                    if len(inside) > 1:
                        overlaps.append(list(inside))
                    steps.append((k, step))
                    inside.remove(k)
                    with turn.aside():
                        np.linalg.svd(np.random.default_rng(k).random((60, 60)))  # a little real work, GIL released
                inside.append(k)
                steps.append((k, 3))
                inside.remove(k)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert overlaps == [], "frames held their turn at once"
    for step in range(4):
        assert [k for k, s in steps if s == step] == list(range(40)), f"step {step} out of frame order"
    # only a frame's first step may come before the end of the frame ahead of it
    for n, (k, step) in enumerate(steps):
        ahead_ended = (k - 1, 3) in steps[:n] or k == 0
        assert step == 0 or ahead_ended, f"frame {k} step {step} ran before frame {k - 1} ended"


def test_a_failing_network_lets_the_next_frame_go_on_and_closing_wakes_the_waiting():
    turns = Turns()
    first, second, third = turns.next(), turns.next(), turns.next()
    with pytest.raises(RuntimeError):
        with first:
            with first.aside():
                raise RuntimeError("network failed")
    with second:  # not held up by the frame that failed
        pass
    turns.close()
    with pytest.raises(TurnsClosed):
        with third:
            pass


def test_a_frame_waiting_for_its_turn_gives_up_when_the_loop_stops():
    turns = Turns()
    first, second = turns.next(), turns.next()
    outcome: list[str] = []

    def frame_b() -> None:
        try:
            with second:
                outcome.append("ran")
        except TurnsClosed:
            outcome.append("gave up")

    with first:
        t = threading.Thread(target=frame_b)
        t.start()
        turns.close()
        t.join(WAIT_S)
    assert outcome == ["gave up"]


def test_a_network_that_starts_beside_another_is_told_so():
    turns = Turns()
    first, second = turns.next(), turns.next()
    told: dict[str, bool] = {}
    b_told = threading.Event()

    def frame_a() -> None:
        with first:
            with first.aside() as crowded:
                told["a"] = crowded  # alone
                b_told.wait(WAIT_S)  # b's network starts while this one runs

    def frame_b() -> None:
        with second:
            with second.aside() as crowded:
                told["b"] = crowded
                b_told.set()

    threads = [threading.Thread(target=frame_a), threading.Thread(target=frame_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert told == {"a": False, "b": True}


def test_a_crowded_network_runs_on_its_one_thread_session_with_the_same_picture(face_photo):
    model = FilterModel(BUNDLED / "sketch.fast.onnx", "cpu", threads=2, beside=True)
    assert model.beside_session.get_session_options().intra_op_num_threads == 1
    assert model.session.get_session_options().intra_op_num_threads == 2
    frame = np.ascontiguousarray(face_photo[::2, ::2, ::-1])
    assert np.array_equal(model.infer(frame).image, model.infer(frame, crowded=True).image)
    assert FilterModel(BUNDLED / "sketch.fast.onnx", "cpu").beside_session is None


class Recorder:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def send(self, bgr: np.ndarray) -> None:
        self.frames.append(bgr.copy())

    def close(self) -> None:
        pass


def filtered(video: Path, spec: str, in_flight: int, background: str | None = None) -> tuple[list[np.ndarray], dict]:
    from realtime.compositing.background import background_modes, parse_background

    loader = ModelLoader("cpu", "fast", threads=2, beside=in_flight > 1)
    processor = FrameProcessor([build_chain(spec, loader)], backgrounds=background_modes(parse_background(background)))
    sink = Recorder()
    loop = LiveLoop(VideoSource(video, paced=False, size=(320, 180)), processor, [sink], None,
                    LoopConfig(frames=24, in_flight=in_flight))
    return sink.frames, loop.run().summary()


@pytest.mark.parametrize("spec, background", [("sketch", "blur"), ("big_eyes+aged", None), ("low_light+auto_frame+cartoon", None)])
def test_two_frames_in_flight_give_the_same_video_as_one(face_video, spec, background):
    """A stabilised student with the person mask analysed beside it; a face network after an
    effect (its held change is read before its network and kept after); effects that keep
    state before a network: every frame as with one frame at a time."""
    one, _ = filtered(face_video, spec, 1, background)
    two, stats = filtered(face_video, spec, 2, background)
    assert len(one) == len(two) == 24
    for i, (a, b) in enumerate(zip(one, two)):
        assert np.array_equal(a, b), f"frame {i} differs"
    assert stats["frames_output"] == 24 and "turn_wait" in stats["stages_ms"]


class FailsOnFrame:
    """A 'network' filter that fails on one frame: its network sleeps aside."""

    name = "fails"
    needs: frozenset[str] = frozenset()

    def __init__(self, bad: int) -> None:
        self.bad, self.calls = bad, 0

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        self.calls += 1
        this = self.calls  # the next frame's call may come while this one's network runs
        with aside(settings):
            time.sleep(0.005)
        if this == self.bad:
            raise RuntimeError("the filter failed on frame 5")
        return Applied(bgr)


def test_an_error_in_one_frame_stops_both_process_threads_and_is_raised():
    source = SyntheticSource((64, 48), 30.0)
    source.paced = False
    loop = LiveLoop(source, FrameProcessor([Chain([FailsOnFrame(5)])], track="off", temporal=False), [Recorder()], None,
                    LoopConfig(frames=100, in_flight=2))
    with pytest.raises(RuntimeError, match="failed on frame 5"):
        loop.run()
    assert loop.stats.frames_processed == 4
    assert not any(t.name.startswith("process") and t.is_alive() for t in threading.enumerate())


def test_a_chain_of_two_networks_keeps_one_frame_in_flight(face_video):
    """Only a frame's first network runs beside the frame ahead: with two, a second frame
    would wait in the middle holding an ageing frame, so the second thread takes none."""
    threads: list[str] = []

    class Watched(FrameProcessor):
        def __call__(self, *args, **kwargs):
            threads.append(threading.current_thread().name)
            return super().__call__(*args, **kwargs)

    loader = ModelLoader("cpu", "fast", threads=2, beside=True)
    loop = LiveLoop(VideoSource(face_video, paced=False, size=(320, 180)), Watched([build_chain("aged+cartoon", loader)]),
                    [Recorder()], None, LoopConfig(frames=12, in_flight=2))
    assert loop.run().frames_output == 12
    assert set(threads) == {"process"}
