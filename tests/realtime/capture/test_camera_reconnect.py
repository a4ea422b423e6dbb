"""A camera that is unplugged (or taken by another app) and comes back does not end the run.

A fake ``cv2.VideoCapture`` goes in through the seam in realtime.capture.sources: it gives N
frames, then fails every read; the next opens fail until the script lets one succeed. Reads
sleep one frame interval (a camera paces itself); the retry interval is 50 ms, so nothing here
waits longer than that at a time.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import realtime.capture.sources as sources
from realtime.capture.sources import CameraSource, SourceSpec, open_source
from realtime.live.loop import LiveLoop, LoopConfig
from realtime.live.process import FrameProcessor
from realtime.sinks.notice import CAMERA_LOST, with_notice
from tests.conftest import make_onnx_filter

FPS = 50.0


class Script:
    """What the fake cameras do: ``opens`` is one bool per open (True: it opens); each camera
    that opens gives ``frames[k]`` frames (None: no end), then only failed reads."""

    def __init__(self, opens: list[bool], frames: list[int | None]) -> None:
        self.opens, self.frames = list(opens), list(frames)
        self.attempts = 0
        self.lock = threading.Lock()


class FakeCamera:
    script: Script

    def __init__(self, index: int, backend: int = 0) -> None:
        with self.script.lock:
            n = self.script.attempts
            self.script.attempts += 1
            self.opened = self.script.opens[n] if n < len(self.script.opens) else self.script.opens[-1]
            self.left = self.script.frames.pop(0) if self.opened and self.script.frames else None
        self.count = 0

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: 160, cv2.CAP_PROP_FRAME_HEIGHT: 120, cv2.CAP_PROP_FPS: FPS}.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(1 / FPS)
        if not self.opened or (self.left is not None and self.count >= self.left):
            return False, None
        self.count += 1
        return True, np.full((120, 160, 3), self.count % 256, np.uint8)

    def release(self) -> None:
        self.opened = False


@pytest.fixture
def fake_camera(monkeypatch):
    def install(script: Script) -> Script:
        FakeCamera.script = script
        monkeypatch.setattr(sources, "VideoCapture", FakeCamera)
        return script
    return install


@pytest.fixture(autouse=True)
def terminal_signals():
    """Ctrl-C handled as in a foreground terminal, even when the suite runs in the background."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Recorder:
    """A sink that notes, for each frame sent, whether the camera was lost then."""

    def __init__(self, source: CameraSource, on_lost=None) -> None:
        self.source, self.on_lost = source, on_lost
        self.sent: list[bool] = []
        self.times: list[float] = []

    def send(self, bgr: np.ndarray) -> None:
        self.sent.append(self.source.lost)
        self.times.append(time.perf_counter())
        if self.source.lost and self.on_lost is not None:
            self.on_lost()
            self.on_lost = None

    def close(self) -> None:
        pass


def swap_chain(folder: Path):
    from realtime.filters.chain import build_chain
    from realtime.filters.loading import ModelLoader

    return build_chain(str(make_onnx_filter(folder / "swap.onnx")), ModelLoader("cpu", threads=1, frame_hw=(120, 160)))


def test_a_camera_that_comes_back_resumes_and_the_output_keeps_its_rate(fake_camera, tmp_path, caplog):
    """30 frames, then 3 failed opens (about 4 retries of 50 ms), then frames again."""
    script = fake_camera(Script(opens=[True, True, False, False, False, True], frames=[1 + 30, 0, None]))
    # the first camera: 1 frame read by the open check, 30 for the run; the second opens but gives nothing
    source = open_source(SourceSpec("0", fps=FPS, retry_s=0.05))
    assert isinstance(source, CameraSource) and source.retry_s == 0.05
    sink = Recorder(source)
    loop = LiveLoop(source, FrameProcessor([swap_chain(tmp_path)], track="off"), [sink], None,
                    LoopConfig(fps=FPS, frames=90))
    with caplog.at_level(logging.WARNING, logger="realtime.capture.sources"):
        stats = loop.run()
    summary = stats.summary()
    assert summary["reconnects"] == 1 and script.attempts == 6
    assert 0.15 <= summary["camera_lost_s"] < 1.0, summary["camera_lost_s"]
    messages = [r.message for r in caplog.records]
    assert messages[0].startswith("camera 0 lost") and "reconnecting every 0.05 s" in messages[0]
    assert messages[1].startswith("camera 0 back after") and "(reconnect 1)" in messages[1], messages
    lost = [i for i, flag in enumerate(sink.sent) if flag]
    assert lost and lost[-1] < len(sink.sent) - 1, "the run went on after the camera came back"
    assert summary["frames_output"] == 90 and summary["frames_captured"] > 30 + 5  # frames after the outage
    # while lost, the output went on at its rate (the last result re-sent), no gap of more than ~2 intervals
    during = [sink.times[i] for i in lost]
    assert len(during) >= 0.15 * FPS * 0.5 and float(np.max(np.diff(during), initial=0.0)) < 3 / FPS
    assert stats.frames_repeated >= len(lost) - 1
    print(f"camera lost {summary['camera_lost_s']:.3f} s (retry every 0.05 s: {script.attempts - 1} reopens, the last one good), "
          f"{summary['reconnects']} reconnect; {len(lost)} frames sent while lost, largest output gap "
          f"{float(np.max(np.diff(during), initial=0.0)) * 1000:.0f} ms at --fps {FPS:g}")


def test_ctrl_c_ends_the_run_at_once_while_the_camera_is_lost(fake_camera, tmp_path):
    """The camera never comes back and the retry interval is long: Ctrl-C still ends the run
    within a fraction of a second, and the outage is in the stats."""
    fake_camera(Script(opens=[True, False], frames=[1 + 10]))
    source = CameraSource(0, None, FPS, retry_s=30.0)
    sink = Recorder(source, on_lost=lambda: os.kill(os.getpid(), signal.SIGINT))
    loop = LiveLoop(source, FrameProcessor([swap_chain(tmp_path)], track="off"), [sink], None, LoopConfig(fps=FPS))
    t0 = time.perf_counter()
    stats = loop.run()
    took = time.perf_counter() - t0
    assert stats.stopped_by == "SIGINT" and took < 3.0, took
    assert stats.reconnects == 0 and 0 < stats.camera_lost_s < 3.0


def test_a_camera_that_returns_at_another_size_still_gives_the_runs_size(fake_camera, monkeypatch):
    class Bigger(FakeCamera):
        def read(self):
            ok, frame = super().read()
            return ok, (cv2.resize(frame, (320, 240)) if ok else None)

    fake_camera(Script(opens=[True, True], frames=[2, None]))
    made = iter([FakeCamera, Bigger])
    monkeypatch.setattr(sources, "VideoCapture", lambda *args: next(made)(*args))
    source = CameraSource(0, None, FPS, retry_s=0.01)
    assert source.read().shape == (120, 160, 3)  # the first camera's second frame
    frame = source.read()  # lost, then back at 320x240
    assert frame.shape == (120, 160, 3) and source.reconnects == 1 and not source.lost
    source.close()


def test_the_preview_notice_darkens_the_last_frame_and_says_so():
    image = np.full((120, 160, 3), 200, np.uint8)
    shown = with_notice(image, CAMERA_LOST)
    assert shown.shape == image.shape and shown.mean() < image.mean() and image.mean() == 200
