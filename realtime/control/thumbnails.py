"""The gallery's thumbnails: every filter applied to the user's own current frame, off the
live loop and out of its process.

:meth:`Thumbnails.refresh` keeps a small copy of the newest camera frame (the control thread
reads the loop's reference to it; it never waits for the loop). :meth:`Thumbnails.render` hands
it, on one thread of its own, to a child process that holds the models
(:mod:`realtime.control.thumbnail_worker`: at a lower priority, one core at most, and its memory
gone with it once the gallery rests: ``idle_s`` without a thumbnail asked for); each chain's
picture is cached for the current frame.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from realtime.control.thumbnail_worker import WorkerProcess, WorkerStopped
from realtime.errors import UserError

log = logging.getLogger(__name__)
WIDTH = 192  # thumbnails' width in pixels
IDLE_S = 60.0  # the child ends after this long without a thumbnail to draw


class Thumbnails:
    def __init__(self, provider: str = "auto", variant: str = "auto", width: int = WIDTH, threads: int = 1,
                 idle_s: float = IDLE_S) -> None:
        self.provider, self.variant, self.width, self.threads, self.idle_s = provider, variant, width, threads, idle_s
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="thumbnails")  # the one thread that talks to the child
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self.generation = 0
        self._cache: dict[tuple[int, str, int], bytes] = {}
        self._worker: WorkerProcess | None = None  # only the pool's thread touches it
        self.started: list[int] = []  # the process id of each child started, in order
        self._last_use = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False

    def refresh(self, image: np.ndarray, mirror: bool = False) -> tuple[int, int, int]:
        """A small copy of ``image`` (mirrored as the preview is) for the next renders;
        (generation, width, height)."""
        h, w = image.shape[:2]
        height = max(2, round(h * self.width / w))
        small = cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA)
        if mirror:
            small = cv2.flip(small, 1)
        with self._lock:
            self._frame = small
            self.generation += 1
            self._cache.clear()
            return self.generation, self.width, height

    @property
    def ready(self) -> bool:
        return self._frame is not None

    def render(self, spec: str, latent: int = 0) -> "Future[bytes]":
        """``spec`` (checked by the caller) applied to the refreshed frame, as a JPEG."""
        with self._lock:
            if self._frame is None:
                raise UserError("no frame yet: ask RefreshThumbnails first")
            key = (self.generation, spec, latent)
            cached = self._cache.get(key)
            frame = self._frame
        if cached is not None:
            done: Future[bytes] = Future()
            done.set_result(cached)
            return done
        return self._pool.submit(self._render, key, frame, spec, latent)

    def _render(self, key: tuple[int, str, int], frame: np.ndarray, spec: str, latent: int) -> bytes:
        if self._worker is None:
            self._worker = WorkerProcess()
            self.started.append(self._worker.pid)
            log.debug("thumbnails: process %d started", self._worker.pid)
        try:
            data = self._worker.draw(frame, spec, latent, self.provider, self.variant, self.threads)
        except WorkerStopped:
            self._worker.close()
            self._worker = None  # the next thumbnail starts a new one
            raise
        finally:
            self._used()
        with self._lock:
            if key[0] == self.generation:
                self._cache[key] = data
        return data

    @property
    def worker_pid(self) -> int | None:
        """The child's process id while it runs (None before the first thumbnail and once it rested)."""
        worker = self._worker
        return worker.pid if worker is not None else None

    def _used(self) -> None:
        """Note a thumbnail drawn; the child is ended ``idle_s`` after the last one."""
        with self._lock:
            self._last_use = time.monotonic()
            if self._timer is None and not self._closed:
                self._arm(self.idle_s)

    def _arm(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._idle)
        self._timer.daemon = True
        self._timer.start()

    def _idle(self) -> None:
        with self._lock:
            left = self._last_use + self.idle_s - time.monotonic()
            if self._closed:
                return
            if left > 0:  # drawn since the timer was set: wait the rest
                self._arm(left)
                return
            self._timer = None
        try:  # in the pool's turn, after any thumbnail still being drawn
            self._pool.submit(self._stop_if_idle)
        except RuntimeError:  # closed meanwhile
            pass

    def _stop_if_idle(self) -> None:
        with self._lock:
            if time.monotonic() - self._last_use < self.idle_s:
                return  # asked for again meanwhile: its own timer is set
        if self._worker is not None:
            log.debug("thumbnails: process %d ends (no thumbnail for %.0f s)", self._worker.pid, self.idle_s)
            self._worker.close()
            self._worker = None

    def close(self) -> None:
        """Stop drawing: what was asked and not begun is cancelled; the child is told to end (it
        finishes the thumbnail it draws) and reaped on a thread of its own, so the run's end
        does not wait for it."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        worker = self._worker
        if worker is not None:
            worker.stop()
            threading.Thread(target=self._reap, args=(worker,), name="thumbnails-end").start()

    def _reap(self, worker: WorkerProcess) -> None:
        self._pool.shutdown(wait=True)  # the thumbnail being drawn, if any, is answered first
        worker.close()
