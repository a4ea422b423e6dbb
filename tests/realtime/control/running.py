"""A real ``realtime --source VIDEO --virtual-cam`` in its own process (the digest backend of
tests.realtime.control.recorder standing in for v4l2loopback), found the way realtime ctl finds
it, and what its virtual camera receives compared with what a filter makes of the video."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from models.data.media import data_root
from realtime.compositing.background import cover
from realtime.control import instances
from realtime.control.ctl import call
from tests.conftest import synthetic_photo
from tests.processes import foreground
from tests.realtime.control import recorder
from tests.realtime.control.helpers import wait_for

ROOT = Path(__file__).resolve().parents[3]
SIZE = (320, 240)


def still_video(path: Path) -> Path:
    """Two seconds of one picture (the shared astronaut where there, a generated photo
    otherwise) as an .mp4: a video source whose frames a test can predict."""
    photo = data_root() / "faces" / "skimage__astronaut.png"
    image = cv2.imread(str(photo)) if photo.is_file() else cv2.cvtColor(synthetic_photo(480, 640, 3), cv2.COLOR_RGB2BGR)
    image = cover(image, *SIZE)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, SIZE)
    for _ in range(30):
        writer.write(image)
    writer.release()
    return path


def first_frame(video: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def expected(frame: np.ndarray, spec: str, **settings: Any) -> np.ndarray:
    """The digest of ``spec`` applied to ``frame`` by the library (the same files on CPU)."""
    from realtime.filters.chain import load_chain

    return recorder.digest(load_chain(spec, provider="cpu").apply(frame, **settings))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


@dataclass
class Running:
    proc: subprocess.Popen[str]
    instance: instances.Instance
    frames: Path

    def call(self, name: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return call(self.instance, name, data, timeout=130)

    def items(self) -> list[dict[str, Any]]:
        return recorder.read(self.frames)

    def sent(self) -> list[np.ndarray]:
        return [i["d"] for i in self.items() if "d" in i]

    def latest(self) -> np.ndarray | None:
        sent = self.sent()
        return sent[-1] if sent else None

    def shows(self, target: np.ndarray, *others: np.ndarray, what: str = "", timeout: float = 30.0) -> np.ndarray:
        """Wait until the virtual camera's newest frame is close to ``target`` and clearly
        nearer to it than to each of ``others``; that frame."""
        def near() -> np.ndarray | None:
            latest = self.latest()
            if latest is None:
                return None
            d = distance(latest, target)
            return latest if d < 10 and all(d < 0.5 * distance(latest, o) for o in others) else None
        try:
            return wait_for(near, timeout, what or "the frames asked for")
        except AssertionError as exc:
            latest = self.latest()
            far = [round(distance(latest, o), 1) for o in (target, *others)] if latest is not None else "no frame"
            raise AssertionError(f"{exc}; the newest frame's distances to the target and the others: {far}") from None


def ctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``realtime ctl ARGS`` as a desktop shortcut runs it: its own process."""
    return subprocess.run([sys.executable, "-m", "realtime.cli", "ctl", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=150, env=env or dict(os.environ))


@contextmanager
def running_realtime(video: Path, frames: Path, *args: str, timeout: float = 90.0) -> Iterator[Running]:
    """``realtime --source VIDEO --loop --virtual-cam ARGS`` until the block ends (then Ctrl-C,
    and it must exit 0)."""
    env = {**os.environ, "RECORDER_OUT": str(frames)}
    proc = subprocess.Popen(foreground([sys.executable, "-m", "tests.realtime.control.recorder", "--source", str(video),
                                        "--loop", "--virtual-cam", "--virtual-cam-backend", "digest", "--no-preview",
                                        "--fps", "15", *args]),
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def started() -> instances.Instance | None:
            if proc.poll() is not None:
                raise AssertionError(f"realtime exited with {proc.returncode}: {proc.communicate()[1][-2000:]}")
            return next((i for i in instances.running() if i.pid == proc.pid), None)
        instance = wait_for(started, timeout, "realtime's control plane")
        wait_for(lambda: frames.exists() and recorder.read(frames)[-1:] and "d" in recorder.read(frames)[-1], timeout,
                 "frames in the virtual camera")
        yield Running(proc, instance, frames)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"realtime did not stop on Ctrl-C: {err[-2000:]}")
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr: {err[-3000:]!r}; stdout: {out[-1000:]!r}"
    assert "Traceback" not in err, err[-3000:]
