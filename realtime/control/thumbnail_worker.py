"""The gallery's thumbnails are drawn in a process of their own, which ends when the gallery
rests, so their models leave the camera's process with it.

Every filter the studio page shows is loaded to draw its thumbnail: in the camera's own process
that kept ten networks and MediaPipe's face mesh (for the face effects) for the rest of the call,
RSS 215 → 613 MB after one look at the gallery (`cartoon` on a 720p clip), and freeing them in
place gave back little of it (ONNX Runtime's and MediaPipe's allocations stay in the heap). Here
they live in a child started for the first thumbnail (about half a second to import, then each
model as it is first asked for), at a lower priority (nice 10, one thread for ONNX Runtime and
OpenCV: at most one core, and the loop's threads go first) and ended by the parent after it has
drawn nothing for a while (:class:`realtime.control.thumbnails.Thumbnails`): the memory goes back
to the system whole.

The child reads requests (a small frame, the chain, the latent code, the provider) from stdin
and answers each with the JPEG or a one-line error, length-prefixed pickles between two
processes of this package. It is in a session of its own, so a terminal's Ctrl-C goes to the
camera's process alone, which ends it by closing the pipe; the pipe's end (the parent gone,
even killed) ends it too. Its stderr (ONNX Runtime's and MediaPipe's own logging) goes to a
file the parent reads the last line of when it stops unasked.
"""
from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)
NICE = 10  # below the camera's process
QUALITY = 80  # JPEG quality
_HEAD = struct.Struct("<4sQ")  # a mark, then the pickle's length
_MARK = b"RTF1"
_LARGEST = 64 << 20  # no answer (a JPEG) or request (a small frame) comes near it


class WorkerStopped(RuntimeError):
    """The child ended before it answered (it crashed, or was killed)."""


def send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEAD.pack(_MARK, len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or None where the stream ended (cleanly or in the middle of one) or
    holds something that is not one (bytes another writer left in the pipe)."""
    head = stream.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return None
    mark, size = _HEAD.unpack(head)
    if mark != _MARK or size > _LARGEST:
        return None
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None


class WorkerProcess:
    """The parent's handle on one child: :meth:`draw` asks it for one thumbnail; one caller at a time."""

    def __init__(self) -> None:
        self._log = tempfile.TemporaryFile()
        package_root = str(Path(__file__).resolve().parents[2])  # the child imports this same package
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "realtime.control.thumbnail_worker"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                            env={**os.environ, "PYTHONPATH": path}, start_new_session=os.name == "posix")
        except OSError:
            self._log.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def draw(self, frame: np.ndarray, spec: str, latent: int, provider: str, variant: str, threads: int) -> bytes:
        """The JPEG of ``spec`` on ``frame``; UserError with the child's one line where it could
        not draw it, WorkerStopped where the child is gone."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"frame": frame, "spec": spec, "latent": latent, "provider": provider, "variant": variant, "threads": threads}
        try:
            send(self.process.stdin, request)
            reply = receive(self.process.stdout)
        except (OSError, ValueError):  # the pipe broke (the child is gone) or was closed (stop())
            reply = None
        if reply is None:
            raise WorkerStopped(f"the thumbnails' process stopped ({self._why()})")
        kind, value = reply
        if kind == "error":
            raise UserError(value)
        return value

    def _why(self) -> str:
        try:
            code = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "no answer"
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return f"exit code {code}" + (f": {lines[-1][:160]}" if lines else "")

    def stop(self) -> None:
        """Tell the child to end: its stdin closed, it answers the thumbnail it draws and exits."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:  # a write that was cut off: the child is ending anyway
            pass

    def close(self, timeout: float = 2.0) -> None:
        """End the child (:meth:`stop`; killed after ``timeout``) and wait for it."""
        self.stop()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self._log):
            if stream is not None:
                stream.close()


class Drawer:
    """The child's side: the models, loaded as first asked for and kept while it lives."""

    def __init__(self) -> None:
        self._loader: Any = None
        self._key: tuple[Any, ...] | None = None
        self._chains: dict[str, Any] = {}

    def draw(self, frame: np.ndarray, spec: str, latent: int, provider: str, variant: str, threads: int) -> bytes:
        import cv2

        from realtime.filters.chain import build_chain
        from realtime.filters.loading import ModelLoader

        key = (provider, variant, threads, frame.shape[:2])
        if key != self._key:  # another frame size (the camera changed) or provider: fresh models
            self._loader, self._key, self._chains = ModelLoader(provider, variant, threads, frame_hw=frame.shape[:2]), key, {}
        if spec not in self._chains:
            self._chains[spec] = build_chain(spec, self._loader)
        out = self._chains[spec].apply(frame, latent=latent)
        ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        if not ok:
            raise UserError(f"could not encode the thumbnail of {spec}")
        return jpeg.tobytes()


def main() -> int:
    """The child: answer requests on stdin until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the camera's process ends it, by closing the pipe
    try:
        os.nice(NICE)
    except (AttributeError, OSError):  # not POSIX, or not allowed: the camera's priority
        pass
    import cv2

    cv2.setNumThreads(1)
    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything written to stdout, by Python or a native library, goes to the log, not into the answers
    sys.stdout = sys.stderr
    drawer = Drawer()
    while (request := receive(requests)) is not None:
        try:
            reply: tuple[str, object] = ("ok", drawer.draw(**request))
        except Exception as exc:  # a chain that fails: its one line goes back, the child goes on
            reply = ("error", first_line(exc))
        send(replies, reply)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
