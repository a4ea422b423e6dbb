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
import queue
import threading
from concurrent.futures import Future

import cv2
import numpy as np

from realtime.control.thumbnail_worker import WorkerProcess, WorkerStopped
from realtime.errors import UserError

log = logging.getLogger(__name__)
WIDTH = 192  # thumbnails' width in pixels
IDLE_S = 60.0  # the child ends after this long without a thumbnail to draw
Job = tuple["Future[bytes]", tuple[int, str, int], np.ndarray]  # the answer, (generation, spec, latent), the frame


class Thumbnails:
    def __init__(self, provider: str = "auto", variant: str = "auto", width: int = WIDTH, threads: int = 1,
                 idle_s: float = IDLE_S) -> None:
        self.provider, self.variant, self.width, self.threads, self.idle_s = provider, variant, width, threads, idle_s
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self.generation = 0
        self._cache: dict[tuple[int, str, int], bytes] = {}
        self._jobs: queue.Queue[Job | None] = queue.Queue()  # None: closed
        self._thread: threading.Thread | None = None  # the one thread that talks to the child, from the first thumbnail
        self._worker: WorkerProcess | None = None  # only that thread changes it
        self.started: list[int] = []  # the process id of each child started, in order
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
        future: Future[bytes] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the thumbnails are closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="thumbnails", daemon=True)
                self._thread.start()
            self._jobs.put((future, key, frame))
        return future

    @property
    def worker_pid(self) -> int | None:
        """The child's process id while it runs (None before the first thumbnail and once it rested)."""
        worker = self._worker
        return worker.pid if worker is not None else None

    def _serve(self) -> None:
        """The thumbnails asked for, one at a time; the child ends once none was asked for in
        ``idle_s`` (the gallery rests), and when :meth:`close` ends the queue."""
        while True:
            try:
                job = self._jobs.get(timeout=self.idle_s if self._worker is not None else None)
            except queue.Empty:
                self._end_worker(f"no thumbnail for {self.idle_s:.0f} s")
                continue
            if job is None:
                break
            future, key, frame = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._render(key, frame))
                except Exception as exc:  # the caller's to say, in one line
                    future.set_exception(exc)
        self._end_worker("closed")

    def _render(self, key: tuple[int, str, int], frame: np.ndarray) -> bytes:
        _, spec, latent = key
        if self._worker is None:
            self._worker = WorkerProcess()
            self.started.append(self._worker.pid)
            log.debug("thumbnails: process %d started", self._worker.pid)
        try:
            data = self._worker.draw(frame, spec, latent, self.provider, self.variant, self.threads)
        except WorkerStopped:
            self._end_worker("it stopped")  # the next thumbnail starts a new one
            raise
        with self._lock:
            if key[0] == self.generation:
                self._cache[key] = data
        return data

    def _end_worker(self, why: str) -> None:
        if self._worker is not None:
            log.debug("thumbnails: process %d ends (%s)", self._worker.pid, why)
            self._worker.close()
            self._worker = None

    def close(self) -> None:
        """Stop drawing: what was asked and not begun is cancelled; the child is told to end at
        once (it answers the thumbnail it draws) and is reaped by the thumbnails' thread, so the
        run's end does not wait for it."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
            self._jobs.put(None)
        worker = self._worker
        if worker is not None:
            worker.stop()
