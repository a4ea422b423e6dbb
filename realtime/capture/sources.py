"""Where frames come from: a camera, a video file, a still image, or a synthetic pattern.

Every source returns BGR uint8 frames from :meth:`read` (None at the end) and says whether the
loop should pace it (``live``: a camera paces itself; a file is paced to its fps unless
``--fast``).
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Protocol

import cv2
import numpy as np

from realtime.capture.cameras import camera_backend, cameras_line, list_cameras, pick_camera
from realtime.errors import UserError
from realtime.imaging import to_bgr
from realtime.media import IMAGE_EXTS, VIDEO_EXTS
from realtime.native import quiet_native_stderr

log = logging.getLogger(__name__)


class Source(Protocol):
    fps: float
    size: tuple[int, int]  # (width, height)
    live: bool  # frames arrive in real time by themselves
    paced: bool  # the loop should pace reads to fps (files); False = as fast as possible

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def _fourcc_text(value: float) -> str:
    code = int(value)
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\x00") or "?"


# the seam a test sets to a fake camera (tests/realtime/capture/test_camera_reconnect.py);
# None: cv2.VideoCapture, looked up at each open
VideoCapture: Callable[..., Any] | None = None
RETRY_S = 1.0  # a lost camera is tried again this often


class CameraSource:
    """A camera. When reads fail (unplugged, taken by another app) it does not end the run:
    :meth:`read` waits, tries to open the camera again every ``retry_s`` seconds and returns
    the next frame once it is back (``lost`` says it is waiting, ``lost_s`` and ``reconnects``
    count it); the live loop meanwhile keeps its output rate with the last result.
    :meth:`interrupt` (the loop's shutdown) ends the wait at once: read then returns None."""

    live, paced = True, False

    def __init__(self, index: int, size: tuple[int, int] | None, fps: float, fourcc: str | None = "MJPG",
                 retry_s: float = RETRY_S, name: str = "") -> None:
        self.index, self.asked, self.asked_fps, self.fourcc, self.retry_s = index, size, fps, fourcc, retry_s
        self.label = f"camera {index}" + (f" ({name})" if name else "")
        self.lost_since: float | None = None
        self.lost_total = 0.0
        self.reconnects = 0
        self._closing = threading.Event()
        self._wake = threading.Event()  # set by resume() and interrupt(): a paused read looks again
        self._wanted = True  # False while paused (no app reads the output: --ondemand)
        self.paused = False  # the camera is released now
        self.paused_total = 0.0
        self.pauses = 0
        self._paused_since = 0.0
        self.cap: Any = self._open()
        if not self.cap.isOpened():
            raise UserError(f"{self.label} does not open: is it connected and not used by another app? (see `realtime --list-cameras`)")
        got = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        got_fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = got_fps if math.isfinite(got_fps) and 0 < got_fps <= 1000 else fps
        self.format = {"camera": self.label,
                       "asked": {"size": f"{size[0]}x{size[1]}" if size else "default", "fps": fps, "fourcc": fourcc or "default"},
                       "got": {"size": f"{got[0]}x{got[1]}", "fps": round(self.fps, 2),
                               "fourcc": _fourcc_text(self.cap.get(cv2.CAP_PROP_FOURCC))}}
        asked, gave = self.format["asked"], self.format["got"]
        log.info("%s: asked %s @ %g fps %s, got %s @ %g fps %s", self.label, asked["size"], asked["fps"], asked["fourcc"],
                 gave["size"], gave["fps"], gave["fourcc"])
        if size and got != tuple(size):  # the run goes on at what the camera gives; --output-size fixes what the call sees
            log.warning("%s gives %dx%d, not the %dx%d asked for (it does not offer that size with %s): running at "
                        "%dx%d; --output-size %dx%d keeps what the call sees at that size", self.label, got[0], got[1],
                        size[0], size[1], fourcc or "its default format", got[0], got[1], size[0], size[1])
        self.size = got
        ok, _ = self.cap.read()
        if not ok:
            self.cap.release()
            raise UserError(f"{self.label} opened but gives no frames: close other apps using it, or try another camera (realtime --list-cameras)")

    def _open(self) -> Any:
        cap = (VideoCapture or cv2.VideoCapture)(self.index, camera_backend())
        if cap.isOpened():
            if self.fourcc:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
            if self.asked:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.asked[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.asked[1])
            cap.set(cv2.CAP_PROP_FPS, self.asked_fps)
        return cap

    @property
    def lost(self) -> bool:
        return self.lost_since is not None

    @property
    def lost_s(self) -> float:
        """Seconds without a camera so far (the current outage included)."""
        now = time.perf_counter()
        return self.lost_total + (now - self.lost_since if self.lost_since is not None else 0.0)

    def pause(self) -> None:
        """Release the camera (its light goes off) at the next read, until :meth:`resume`.
        Called from another thread; the capture thread itself releases and reopens, since
        releasing a VideoCapture in the middle of its read() can crash."""
        self._wanted = False

    def resume(self) -> None:
        """Open the camera again (a paused read returns its next frame)."""
        self._wanted = True
        self._wake.set()

    def _sleep_while_paused(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None
        self.paused, self._paused_since = True, time.perf_counter()
        self.pauses += 1
        log.info("%s released: no app reads the output", self.label)
        while not self._wanted and not self._closing.is_set():
            self._wake.wait()
            self._wake.clear()
        gone = time.perf_counter() - self._paused_since
        self.paused_total += gone
        self.paused = False
        if not self._closing.is_set():
            started = time.perf_counter()
            cap = self._open()
            if cap.isOpened():
                self.cap = cap
                log.info("%s back after %.1f s released (opened in %.0f ms)", self.label, gone,
                         (time.perf_counter() - started) * 1000)
            else:  # taken meanwhile: the lost-camera retries take over
                cap.release()
                self._lose()

    @property
    def paused_s(self) -> float:
        """Seconds released so far (the current pause included)."""
        return self.paused_total + (time.perf_counter() - self._paused_since if self.paused else 0.0)

    def read(self) -> np.ndarray | None:
        while not self._closing.is_set():
            if not self._wanted:
                self._sleep_while_paused()
                continue
            if self.cap is not None:
                ok, frame = self.cap.read()
                if ok and frame is not None:
                    if self.lost_since is not None:
                        self._back()
                    return self._fit(to_bgr(frame))
                self._lose()
            if self._closing.wait(self.retry_s):
                break
            cap = self._open()
            if cap.isOpened():
                self.cap = cap
            else:
                cap.release()
        return None

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        """A camera that came back at another size still gives frames of the run's size."""
        if (frame.shape[1], frame.shape[0]) != self.size:
            return cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        return frame

    def _lose(self) -> None:
        if self.lost_since is None:
            self.lost_since = time.perf_counter()
            log.warning("%s lost (no frame: unplugged, or taken by another app): reconnecting every %g s",
                        self.label, self.retry_s)
        if self.cap is not None:
            self.cap.release()
            self.cap = None

    def _back(self) -> None:
        assert self.lost_since is not None
        gone = time.perf_counter() - self.lost_since
        self.lost_total += gone
        self.lost_since = None
        self.reconnects += 1
        log.warning("%s back after %.1f s (reconnect %d)", self.label, gone, self.reconnects)

    def interrupt(self) -> None:
        """End a wait for a lost or released camera now (from another thread): read returns None."""
        self._closing.set()
        self._wake.set()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        if self.lost_since is not None:  # the outage counts up to the end of the run
            self.lost_total += time.perf_counter() - self.lost_since
            self.lost_since = None
        if self.cap is not None:
            self.cap.release()


class VideoSource:
    def __init__(self, path: Path, paced: bool = True, loop: bool = False, size: tuple[int, int] | None = None) -> None:
        if not path.is_file():
            raise UserError(f"video {path} does not exist")
        self.path, self.loop = path, loop
        with quiet_native_stderr():  # FFmpeg's lines about a stream it cannot probe (a broken sound track)
            self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise UserError(f"cannot open video {path}: unsupported or corrupt file")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else 30.0  # some containers say 0 or 90000
        ok, first = self.cap.read()  # a file OpenCV opens may still hold no decodable frame
        if not ok or first is None:
            self.cap.release()
            raise UserError(f"video {path} has no frames it can decode (empty, truncated or an unsupported codec)")
        self.pending: np.ndarray | None = first
        native = (first.shape[1], first.shape[0])
        self.resize = tuple(size) if size and tuple(size) != native else None
        self.size = self.resize or native
        self.live = False
        self.paced = paced

    def read(self) -> np.ndarray | None:
        if self.pending is not None:
            ok, frame, self.pending = True, self.pending, None
        else:
            ok, frame = self.cap.read()
        if not ok and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok:
            return None
        frame = to_bgr(frame)
        return cv2.resize(frame, self.resize, interpolation=cv2.INTER_AREA) if self.resize else frame

    def close(self) -> None:
        self.cap.release()


class ImageSource:
    """A still image, repeated forever (paced to ``fps``)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int] | None = None) -> None:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise UserError(f"cannot read image {path}")
        self.image = to_bgr(image)
        if size:
            self.image = cv2.resize(self.image, tuple(size), interpolation=cv2.INTER_AREA)
        self.fps, self.live, self.paced = fps, False, True
        self.size = (self.image.shape[1], self.image.shape[0])

    def read(self) -> np.ndarray | None:
        return self.image.copy()

    def close(self) -> None:
        pass


class SyntheticSource:
    """A moving test pattern (colour bars, a moving disc, a clock bar): no media needed."""

    def __init__(self, size: tuple[int, int], fps: float) -> None:
        self.size, self.fps, self.live, self.paced = size, fps, False, True
        w, h = size
        bars = np.array([[192, 192, 192], [0, 192, 192], [192, 192, 0], [0, 192, 0], [192, 0, 192], [0, 0, 192], [192, 0, 0]], np.uint8)
        self.base = np.ascontiguousarray(np.repeat(bars[np.arange(w) * 7 // w][None], h, axis=0))
        self.t = 0

    def read(self) -> np.ndarray | None:
        w, h = self.size
        img = self.base.copy()
        phase = self.t / max(self.fps, 1)
        center = (int(w / 2 + w / 3 * math.cos(phase)), int(h / 2 + h / 4 * math.sin(2 * phase)))
        cv2.circle(img, center, max(4, min(w, h) // 8), (40, 80, 230), -1)
        cv2.rectangle(img, (0, h - h // 12), (int(w * ((self.t % 60) / 60)), h), (255, 255, 255), -1)
        self.t += 1
        return img

    def close(self) -> None:
        pass


@dataclass
class SourceSpec:
    text: str = "0"
    size: tuple[int, int] | None = None  # (width, height)
    fps: float = 30.0
    paced: bool = True  # files in real time; False = as fast as possible
    loop: bool = False
    retry_s: float = RETRY_S  # a lost camera is tried again this often
    fourcc: str | None = "MJPG"  # the pixel format asked of a camera (None: its default); MJPG gives most webcams 720p30


SourceKind = Literal["camera", "synthetic", "file", "missing file", "camera name"]


@dataclass(frozen=True)
class SourceName:
    """What a --source value names, read the same way by the check before work, the opening
    and the sound track's copy: a camera's index, ``synthetic``, an existing file (or folder of
    pictures), a missing file (a picture's or a video's suffix, or a folder in it) or else a
    camera's name (or a part of it)."""
    kind: SourceKind
    text: str
    path: Path | None = None  # the file, for "file" and "missing file"

    @classmethod
    def of(cls, text: str | None) -> SourceName:
        text = str(text if text is not None else "").strip()
        if text.isdigit():
            return cls("camera", text)
        if text == "synthetic":
            return cls("synthetic", text)
        path = Path(text).expanduser()
        if text and path.exists():
            return cls("file", text, path)
        if path.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS or "/" in text or os.sep in text:
            return cls("missing file", text, path)
        return cls("camera name", text)

    def check(self) -> None:
        """A --source that names a file must exist: said before any work, with the other problems."""
        if self.kind == "missing file":
            raise UserError(f"--source {self.text}: no such file (a camera goes by its index or name: realtime --list-cameras)")


def source_file(text: str | None) -> Path | None:
    """The existing file behind a --source value (None for a camera, 'synthetic' or a missing path)."""
    name = SourceName.of(text)
    return name.path if name.kind == "file" else None


def check_source_file(text: str) -> None:
    SourceName.of(text).check()


def open_source(spec: SourceSpec) -> Source:
    name = SourceName.of(spec.text)
    name.check()
    if name.kind == "camera":
        return CameraSource(int(name.text), spec.size, spec.fps, spec.fourcc, retry_s=spec.retry_s)
    source: Source
    if name.kind == "synthetic":
        source = SyntheticSource(spec.size or (640, 480), spec.fps)
    elif name.kind == "camera name":
        cameras = list_cameras()
        camera = pick_camera(name.text, cameras)
        if camera is None:
            raise UserError(f"source {name.text!r} is not a camera index, a camera name, 'synthetic', or an existing file "
                            f"({cameras_line(cameras)}; see realtime --list-cameras)")
        return CameraSource(camera.index, spec.size, spec.fps, spec.fourcc, retry_s=spec.retry_s, name=camera.name)
    else:
        assert name.path is not None
        if name.path.suffix.lower() in IMAGE_EXTS:
            source = ImageSource(name.path, spec.fps, spec.size)
        else:
            source = VideoSource(name.path, spec.paced, spec.loop, spec.size)
    source.paced = spec.paced  # type: ignore[misc]
    return source
