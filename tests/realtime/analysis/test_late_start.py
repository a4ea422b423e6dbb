"""An analyser first needed in the middle of a live stream (a hotkey picked a face filter)
starts on a thread: the frames meanwhile go on without it instead of stopping for MediaPipe's
start-up (~0.55 s for the face mesh on 2 busy cores). Still images and the start of a stream
keep waiting for it. The analysers here are fakes whose start the test holds on an event."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import realtime.analysis.analysers as analysers
import realtime.signals as signals
from realtime.analysis.analysers import FACES, SMILE, Analysis, AnalysisOptions, AnalyserKind

HANG = 30.0
FRAME = np.zeros((8, 8, 3), np.uint8)


class Fake:
    def __init__(self, value: object) -> None:
        self.value, self.closed = value, False

    def __call__(self, bgr, t, found, hw=None):
        return self.value

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def held(monkeypatch):
    """FACES starts only when the test sets ``go``; SMILE (which requires FACES) at once."""
    go, made = threading.Event(), []

    def faces(options):
        assert go.wait(HANG)
        if getattr(go, "fail", False):
            raise RuntimeError("the face mesh would not start")
        made.append(Fake(("face",)))
        return made[-1]

    monkeypatch.setitem(analysers.ANALYSERS, FACES, AnalyserKind(faces))
    monkeypatch.setitem(analysers.ANALYSERS, SMILE, AnalyserKind(lambda options: Fake("smiling"), requires=(FACES,)))
    return go, made


def wait_started(analysis: Analysis, name: str) -> None:
    thread = analysis._starting.get(name)
    if thread is not None:
        thread.join(HANG)


def test_a_late_analyser_starts_on_a_thread_and_frames_go_on_without_it(held):
    go, made = held
    analysis = Analysis(options=AnalysisOptions(start_late_in_background=True))
    needs = frozenset({SMILE})
    first = analysis(FRAME, 0.0, needs)  # FACES is starting: neither it nor the smile that reads it runs
    assert first.faces == () and first.smile is None and first.ms == {}
    assert analysis(FRAME, 0.1, needs).faces == ()  # still starting: asked once, not again
    go.set()
    wait_started(analysis, FACES)
    after = analysis(FRAME, 0.2, needs)
    assert after.faces == ("face",) and after.smile == "smiling" and len(made) == 1
    analysis.close()
    assert made[0].closed


def test_a_late_start_that_fails_is_raised_on_the_next_frame(held):
    go, _ = held
    go.fail = True
    analysis = Analysis(options=AnalysisOptions(start_late_in_background=True))
    analysis(FRAME, 0.0, frozenset({FACES}))
    go.set()
    wait_started(analysis, FACES)
    with pytest.raises(RuntimeError, match="would not start"):
        analysis(FRAME, 0.1, frozenset({FACES}))


@pytest.fixture
def left_behind(monkeypatch) -> list[threading.Thread]:
    """The threads Analysis.close leaves behind (recorded, not handed to the exit hook)."""
    threads: list[threading.Thread] = []
    monkeypatch.setattr(signals, "leave_behind", threads.extend)
    return threads


def test_an_analyser_made_after_the_stream_closed_is_closed_by_its_thread(held, left_behind):
    go, made = held
    analysis = Analysis(options=AnalysisOptions(start_late_in_background=True))
    analysis(FRAME, 0.0, frozenset({FACES}))
    thread = analysis._starting[FACES]
    analysis.close(timeout=0.0)
    assert left_behind == [thread]  # still inside its start: the process will end without the teardown
    go.set()
    thread.join(HANG)
    assert made[0].closed and analysis.analysers == {}


def test_close_waits_for_a_start_in_progress(held, left_behind):
    """A start that is still running when the stream closes is waited for, so no thread is
    inside MediaPipe when the interpreter tears down."""
    go, made = held
    analysis = Analysis(options=AnalysisOptions(start_late_in_background=True))
    analysis(FRAME, 0.0, frozenset({FACES}))
    releaser = threading.Thread(target=go.set)
    releaser.start()  # before or during close's wait: either way the start ends within it
    analysis.close(timeout=HANG)
    releaser.join()
    assert made and made[0].closed and left_behind == [] and analysis.analysers == {}


def test_without_the_option_a_late_need_waits_for_its_start(held):
    go, _ = held
    go.set()
    analysis = Analysis(options=AnalysisOptions())
    assert analysis(FRAME, 0.0, frozenset({SMILE})).smile == "smiling"  # started in the call, as before
    analysis.close()
