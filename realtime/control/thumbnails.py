"""The gallery's thumbnails: every filter applied to the user's own current frame, off the
live loop.

:meth:`Thumbnails.refresh` keeps a small copy of the newest camera frame (the control thread
reads the loop's reference to it; it never waits for the loop). :meth:`Thumbnails.render`
runs on one worker thread of its own, with its own model loader (ONNX Runtime with one
thread, so it takes at most one core from the loop, and only while a page asks), at a lower
scheduling priority where the system has one per thread (Linux: nice 10), so the loop's
threads go first; each chain's picture is cached for the current frame.
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from realtime.errors import UserError

log = logging.getLogger(__name__)
WIDTH = 192  # thumbnails' width in pixels
QUALITY = 80
NICE = 10  # the worker's priority below the loop's (Linux, per thread)


def _lower_priority() -> None:
    """Make this thread yield to the loop's (Linux: a thread is a task with its own nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: the same priority as the loop
        log.debug("thumbnails run at the loop's priority")


class Thumbnails:
    def __init__(self, provider: str = "auto", variant: str = "auto", width: int = WIDTH, threads: int = 1) -> None:
        self.provider, self.variant, self.width, self.threads = provider, variant, width, threads
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="thumbnails", initializer=_lower_priority)
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self.generation = 0
        self._cache: dict[tuple[int, str, int], bytes] = {}
        self._loader: Any = None
        self._chains: dict[str, Any] = {}

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
        chain = self._chain(spec, frame.shape[:2])
        out = chain.apply(frame, latent=latent)
        ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        if not ok:
            raise UserError(f"could not encode the thumbnail of {spec}")
        data = jpeg.tobytes()
        with self._lock:
            if key[0] == self.generation:
                self._cache[key] = data
        return data

    def _chain(self, spec: str, hw: tuple[int, int]) -> Any:
        from realtime.filters.chain import build_chain
        from realtime.filters.loading import ModelLoader

        if self._loader is None:
            self._loader = ModelLoader(self.provider, self.variant, self.threads, frame_hw=hw)
        if spec not in self._chains:
            self._chains[spec] = build_chain(spec, self._loader)
        return self._chains[spec]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
