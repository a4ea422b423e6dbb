"""Where frames come from: a camera, a video file, a still image, or a synthetic pattern.

Every source returns BGR uint8 frames from :meth:`read` (None at the end) and says whether the
loop should pace it (``live``: a camera paces itself; a file is paced to its fps unless
``--fast``).
"""
from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from realtime.errors import UserError
from realtime.imaging import to_bgr
from realtime.native import quiet_native_stderr

log = logging.getLogger(__name__)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


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


class CameraSource:
    live, paced = True, False

    def __init__(self, index: int, size: tuple[int, int] | None, fps: float, fourcc: str = "MJPG") -> None:
        backend = cv2.CAP_DSHOW if sys.platform == "win32" else cv2.CAP_ANY
        self.cap = cv2.VideoCapture(index, backend)
        if not self.cap.isOpened():
            raise UserError(f"camera {index} does not open: is it connected and not used by another app? (see `realtime --list-cameras`)")
        if fourcc:
            self.cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
        if size:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        self.cap.set(cv2.CAP_PROP_FPS, fps)
        got = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or fps
        log.info("camera %d: asked %s @ %.0f fps %s, got %dx%d @ %.1f fps %s", index,
                 f"{size[0]}x{size[1]}" if size else "default", fps, fourcc, got[0], got[1], self.fps,
                 _fourcc_text(self.cap.get(cv2.CAP_PROP_FOURCC)))
        if size and got != tuple(size):
            self.cap.release()
            raise UserError(f"camera {index} refuses {size[0]}x{size[1]} (it offers {got[0]}x{got[1]}): use --size {got[0]}x{got[1]}")
        self.size = got
        ok, _ = self.cap.read()
        if not ok:
            self.cap.release()
            raise UserError(f"camera {index} opened but gives no frames: close other apps using it, or try another index")

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        return to_bgr(frame) if ok else None

    def close(self) -> None:
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


def open_source(spec: SourceSpec) -> Source:
    text = spec.text.strip()
    if text.isdigit():
        return CameraSource(int(text), spec.size, spec.fps)
    source: Source
    if text == "synthetic":
        source = SyntheticSource(spec.size or (640, 480), spec.fps)
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise UserError(f"source {text!r} is not a camera index, 'synthetic', or an existing file")
        if path.suffix.lower() in IMAGE_EXTS:
            source = ImageSource(path, spec.fps, spec.size)
        else:
            source = VideoSource(path, spec.paced, spec.loop, spec.size)
    source.paced = spec.paced  # type: ignore[misc]
    return source


def list_cameras(max_index: int = 8) -> list[tuple[int, tuple[int, int]]]:
    """Indices that open, with their default size."""
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i)
        if cap.isOpened():
            found.append((i, (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))))
        cap.release()
    return found
