"""``--ondemand``: the webcam is on only while an app reads the virtual camera.

A camera left on all day keeps its light on and costs the whole filter chain (a network filter
takes one of two cores at 640x480) for a picture nobody sees. So a watcher thread counts the
virtual camera's readers (:mod:`realtime.sinks.readers`); after ``release_after_s`` (3 s: an
app that opens the device only to list it, as browsers do, does not cycle the camera) with
none it pauses the camera source, which releases the device from its own thread; the output
then sends an idle picture once a second (``idle_fps``), so the virtual camera stays a
working device that apps can open. When one opens it, inotify wakes the watcher within
milliseconds and the source reopens the camera: the first real frame follows after the
camera's own start-up (~0.2-0.5 s for USB webcams), within the second the issue asks for.
Someone watching the studio page's preview counts as a reader too.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from realtime.sinks.readers import ReaderCount

log = logging.getLogger(__name__)


class Pausable(Protocol):
    paused: bool

    def pause(self) -> None: ...

    def resume(self) -> None: ...


@dataclass(frozen=True)
class OnDemandConfig:
    release_after_s: float = 3.0  # no reader this long: release the camera
    idle_fps: float = 1.0  # the idle picture's rate while released
    poll_s: float = 1.0  # count again at least this often (a reader that opened before the watch)


class OnDemand:
    """The watcher thread: readers -> :meth:`Pausable.pause` / :meth:`Pausable.resume`."""

    def __init__(self, readers: ReaderCount, source: Pausable, cfg: OnDemandConfig = OnDemandConfig(),
                 watched: Callable[[], bool] = lambda: False, clock: Callable[[], float] = time.monotonic) -> None:
        self.readers, self.source, self.cfg, self.watched, self.clock = readers, source, cfg, watched, clock
        self.stop = threading.Event()
        self.released = False  # what this watcher asked last
        self._thread = threading.Thread(target=self._run, name="ondemand", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def step(self, last_reader: float) -> float:
        """One decision: returns when a reader was last seen (a reader now: now)."""
        now = self.clock()
        if self.readers.count() > 0 or self.watched():
            if self.released:
                log.info("an app reads the virtual camera: opening the camera")
                self.released = False
                self.source.resume()
            return now
        if not self.released and now - last_reader >= self.cfg.release_after_s:
            log.info("no app has read the virtual camera for %.0f s: releasing the camera", now - last_reader)
            self.released = True
            self.source.pause()
        return last_reader

    def _run(self) -> None:
        last_reader = self.clock()
        try:
            while not self.stop.is_set():
                last_reader = self.step(last_reader)
                left = self.cfg.release_after_s - (self.clock() - last_reader)
                self.readers.wait(self.cfg.poll_s if self.released or left <= 0 else min(self.cfg.poll_s, left))
        except Exception:  # the count failed (the device went away): keep the camera on
            log.warning("on-demand: cannot count the virtual camera's readers any more; the camera stays on", exc_info=True)
            if self.released:
                self.source.resume()

    def close(self) -> None:
        self.stop.set()  # a paused source stays released: the loop's shutdown interrupts its read
        if self._thread.ident is not None:  # started
            self.readers.interrupt()
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():  # stuck in the count itself: it ends with the process
                log.warning("on-demand watcher still busy at the end of the run")
                return
        self.readers.close()
