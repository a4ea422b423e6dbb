"""The filtered video written to a file."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError

log = logging.getLogger(__name__)


class VideoFileSink:
    """A video file (mp4v in .mp4/.m4v/.mov, MJPG otherwise). ``frames`` counts the frames
    sent, for :func:`realtime.sinks.outputs.verify_video` after :meth:`close`."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
        self.writer = cv2.VideoWriter(str(path), fourcc, fps, size)
        if not self.writer.isOpened():
            raise UserError(f"cannot write video {path}: use a .mp4 or .avi name in a writable folder")
        self.path, self.size = path, size
        self.frames = 0
        self.closed = False

    def send(self, bgr: np.ndarray) -> None:
        self.writer.write(bgr)
        self.frames += 1

    def close(self) -> None:
        """Finalise the file (an mp4 gets its index only here); a second call does nothing.
        A file no frame reached holds only a header (44 bytes for mp4) that no player opens:
        it is removed rather than left looking like a result."""
        if self.closed:
            return
        self.closed = True
        self.writer.release()
        if self.frames == 0:
            log.warning("no frames reached %s: removed the empty file", self.path)
            try:
                self.path.unlink()
            except OSError:
                pass
