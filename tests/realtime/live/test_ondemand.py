"""``--ondemand``: the camera is released while no app reads the virtual camera and comes back
when one opens it.

The parts: the reader count of a real file watched with inotify and counted from /proc (a
child process plays the app), the watcher's decisions on a fake clock, and a whole run with a
fake camera (the ``sources.VideoCapture`` seam), a registered pyvirtualcam backend that keeps
what it is sent, and a reader count the test sets (the ``readers.OPEN`` seam). Every wait here
is on an event the code sets, with a generous bound only against a hang."""
from __future__ import annotations

import functools
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam

import realtime.capture.sources as sources
import realtime.live.session as session
import realtime.sinks.readers as readers
from realtime.config import RunConfig
from realtime.live.ondemand import OnDemand, OnDemandConfig
from realtime.sinks.notice import idle_card
from tests.conftest import assert_one_line, run_realtime

HANG = 30.0  # seconds: only a hang ever waits this long


# ---------------------------------------------------------------- the count, on a real file
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify and /proc are Linux's")
def test_a_process_that_opens_the_device_is_counted_and_wakes_the_watch(tmp_path):
    device = tmp_path / "video9"
    device.write_bytes(b"")
    watch = readers.DeviceReaders(str(device))
    try:
        assert watch.count() == 0 and watch.wait(0.0) is False
        stopper = threading.Thread(target=watch.interrupt)
        stopper.start()
        assert watch.wait(HANG) is False  # interrupted, not woken by the device
        stopper.join()
        watch.close()
        watch = readers.DeviceReaders(str(device))
        with open(device, "rb"):  # this process's own handle (the writer) is never a reader
            assert watch.count() == 0
        watch.wait(0.0)  # our own open and close
        app = subprocess.Popen([sys.executable, "-c", f"f = open({str(device)!r}, 'rb'); print('open', flush=True); input()"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert app.stdout.readline().strip() == "open"
            assert watch.wait(HANG) is True  # the open woke it
            assert watch.count() == 1
        finally:
            app.communicate("\n", timeout=HANG)
        assert watch.wait(HANG) is True  # the close (at exit) woke it
        assert watch.count() == 0
    finally:
        watch.close()


def test_the_count_needs_linux_or_says_to_run_without(monkeypatch):
    monkeypatch.setattr(readers, "OPEN", None)
    monkeypatch.setattr(readers.sys, "platform", "darwin")
    with pytest.raises(readers.UserError, match="needs Linux's v4l2loopback.*without --ondemand"):
        readers.open_readers("/dev/video9")


# ---------------------------------------------------------------- the watcher's decisions
class Count:
    """A reader count the test sets; each wait blocks until the test allows one more step."""

    def __init__(self) -> None:
        self.n = 0
        self.steps = threading.Semaphore(0)
        self.closed = False

    def count(self) -> int:
        return self.n

    def wait(self, timeout: float) -> bool:
        return self.steps.acquire(timeout=HANG)

    def interrupt(self) -> None:
        self.steps.release(1000)

    def close(self) -> None:
        self.closed = True


class Source:
    paused = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def test_released_only_after_the_grace_period_and_back_at_the_first_reader():
    now = [100.0]
    count, source = Count(), Source()
    watched = [False]
    od = OnDemand(count, source, OnDemandConfig(release_after_s=3.0), watched=lambda: watched[0], clock=lambda: now[0])
    last = od.step(now[0])
    now[0] += 2.9
    last = od.step(last)
    assert source.calls == []  # a browser that opened the device to list it does not cycle the camera
    now[0] += 0.2
    last = od.step(last)
    assert source.calls == ["pause"]
    now[0] += 60
    last = od.step(last)
    assert source.calls == ["pause"]  # asked once
    count.n = 1
    last = od.step(last)
    assert source.calls == ["pause", "resume"] and last == now[0]
    count.n = 0
    now[0] += 3.0
    last = od.step(last)
    assert source.calls == ["pause", "resume", "pause"]
    watched[0] = True  # someone watching the studio page's preview is a reader
    od.step(last)
    assert source.calls[-1] == "resume"


# ---------------------------------------------------------------- a whole run
class Camera:
    """A fake webcam: frames of value 200, paced by the test (each read waits for a permit
    while the camera is wanted), and events for its opens and releases."""
    opened = threading.Semaphore(0)
    released = threading.Event()
    count = 0

    def __init__(self, index: int, backend: int = 0) -> None:
        Camera.count += 1
        self.open = True
        Camera.opened.release()

    def isOpened(self) -> bool:
        return self.open

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: 160, cv2.CAP_PROP_FRAME_HEIGHT: 120, cv2.CAP_PROP_FPS: 30.0}.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray]:
        threading.Event().wait(1 / 30)  # a camera paces itself
        return True, np.full((120, 160, 3), 200, np.uint8)

    def release(self) -> None:
        self.open = False
        Camera.released.set()


class Backend:
    """A pyvirtualcam backend that sorts what it is sent into camera frames and idle pictures."""
    instance: "Backend | None" = None
    made = threading.Event()

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self.size = (width, height)
        self.sent: list[str] = []
        self.cond = threading.Condition()
        self.idle = idle_card(width, height)
        Backend.instance = self
        Backend.made.set()

    def send(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame).reshape(self.size[1], self.size[0], 3)
        kind = "idle" if np.array_equal(frame, self.idle) else "camera" if abs(float(frame.mean()) - 200) < 30 else "other"
        with self.cond:
            self.sent.append(kind)
            self.cond.notify_all()

    def wait_for(self, kind: str, after: int) -> int:
        with self.cond:
            assert self.cond.wait_for(lambda: kind in self.sent[after:], HANG), f"no {kind} frame after {after}: {self.sent[after:][-10:]}"
            return len(self.sent)

    def device(self) -> str:
        return "/dev/video-test"

    def native_fourcc(self) -> int | None:
        return None

    def close(self) -> None:
        pass


def test_a_run_releases_the_camera_sends_the_idle_picture_and_reopens_for_an_app(monkeypatch, tmp_path, swap_onnx):
    Camera.opened, Camera.released, Camera.count = threading.Semaphore(0), threading.Event(), 0
    monkeypatch.setattr(sources, "VideoCapture", Camera)
    pyvirtualcam.register_backend("ondemand-test", Backend)
    count = Count()
    monkeypatch.setattr(readers, "OPEN", lambda device: count)
    now = [0.0]
    monkeypatch.setattr(session, "OnDemand", functools.partial(OnDemand, clock=lambda: now[0]))
    Backend.instance, Backend.made = None, threading.Event()
    loops = []
    attached = threading.Event()

    def attach(loop):
        loops.append(loop)
        attached.set()
        return lambda: None

    config = RunConfig(filter=str(swap_onnx), source="0", preview=False, virtual_cam=True,
                       virtual_cam_backend="ondemand-test", ondemand=True, stats=tmp_path / "s.json")
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(stats=session.run(config, attach=attach)), daemon=True)
    run.start()
    try:
        assert Camera.opened.acquire(timeout=HANG) and attached.wait(HANG) and Backend.made.wait(HANG)
        # the first frames are the camera's, filtered (swap_onnx swaps channels: still mean 200)
        assert wait_backend().wait_for("camera", 0)
        # nobody reads it: 3 s on the watcher's clock later it is released
        now[0] += 3.0
        count.steps.release()
        assert Camera.released.wait(HANG)
        seen = wait_backend().wait_for("idle", 0)
        # an app opens the virtual camera: the camera opens again and its frames come back
        count.n = 1
        count.steps.release()
        assert Camera.opened.acquire(timeout=HANG)
        wait_backend().wait_for("camera", seen)
    finally:
        attached.wait(HANG)
        loops[0].controls.quit = True
        run.join(HANG)
    assert not run.is_alive()
    stats = result["stats"].summary()
    assert stats["releases"] == 1 and stats["frames_idle"] >= 1 and stats["camera_released_s"] > 0
    assert Camera.count == 2 and count.closed


def wait_backend() -> Backend:
    assert Backend.instance is not None
    return Backend.instance


@pytest.mark.parametrize("args, expected", [
    (("--source", "0", "--ondemand"), ["--ondemand", "add --virtual-cam"]),
    (("--source", "synthetic", "--ondemand", "--virtual-cam", "--virtual-cam-backend", "ondemand-test"), ["is not a camera"]),
    (("--source", "0", "--ondemand", "--virtual-cam", "--output", "x.mp4"), ["a recording needs the camera"]),
])
def test_ondemand_without_what_it_needs_is_one_line(monkeypatch, capsys, tmp_path, swap_onnx, args, expected):
    pyvirtualcam.register_backend("ondemand-test", Backend)
    monkeypatch.chdir(tmp_path)
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", swap_onnx, "--no-preview", "--no-control", *args), *expected)
    assert not Path(tmp_path / "x.mp4").exists()


def test_the_control_plane_says_whether_the_camera_is_on_released_or_lost():
    from types import SimpleNamespace

    from realtime.control.ctl import summary
    from realtime.control.target import LiveTarget

    def camera(**source):
        return LiveTarget.camera_state(SimpleNamespace(loop=SimpleNamespace(source=SimpleNamespace(**source))))

    assert camera(live=False) is None  # a file
    assert camera(live=True, paused=False, lost=False) == "on"
    assert camera(live=True, paused=True, lost=False) == "released"
    assert camera(live=True, paused=False, lost=True) == "lost"
    state = {"filter": "cartoon", "enabled": True, "strength": 1.0, "background": "none", "region": "all",
             "mirror": False, "mirror_output": False, "virtual_cam": True, "camera": "released"}
    assert "camera released (no app reads the virtual camera)" in summary(state)
