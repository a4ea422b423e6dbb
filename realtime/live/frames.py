"""Frames as they travel through the loop, and the one-slot hand-off between threads."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class Frame:
    """A captured image (BGR uint8, H×W×3) with its id and capture time (perf_counter s)."""

    id: int
    captured: float
    image: np.ndarray
    stages: dict[str, float] = field(default_factory=dict)  # stage name → milliseconds
    t: float = 0.0  # the frame's time in the stream, seconds from the first frame (a file's own clock)


class Slot(Generic[T]):
    """A one-item mailbox where the newest item wins: ``put`` replaces what was not taken.

    ``dropped`` counts items replaced before anyone took them.
    """

    def __init__(self) -> None:
        self._item: T | None = None
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def put_when_empty(self, item: T, stop: threading.Event) -> None:
        """Wait until the previous item was taken (back-pressure for unpaced sources), then put."""
        with self._cond:
            while self._item is not None and not self._closed and not stop.is_set():
                self._cond.wait(0.05)
            self._item = item
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> T | None:
        """Wait for an item (or close) and take it; None on timeout or when closed and empty."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        with self._cond:
            while self._item is None and not self._closed:
                remaining = None if deadline is None else deadline - time.perf_counter()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
