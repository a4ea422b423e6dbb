"""Two frames in flight: while one frame's network runs, the next frame is analysed and
prepared, and its own network starts beside the first.

Why: on a 2-core CPU one ONNX Runtime run does not use two cores well. ``sketch.fast`` at its
852×480 work size took 30–35 ms on two threads and 46 ms on one, so two one-thread runs side by
side finish a frame every 23 ms (43 fps) where one two-thread run at a time manages 29–38 fps;
the run's threads wait on each other after every one of its ~260 small operators, and on a
shared cloud core that wait is long and uneven. Everything around the network (the shrink,
MediaPipe, the stabiliser, the blend) also runs beside the other frame's network instead of
between two networks. A network that starts while another frame's is running runs on one
thread (its model's second session, :class:`realtime.filters.engine.FilterModel`), one that
starts alone on every core, so a frame that has the machine to itself is not slowed (the
model alone, paced at 30 fps: p50 27.6 ms one frame at a time, 46.8 with one thread always,
26.7 this way). In the live loop on the slow 2-core host the loop was behind almost all the
time, so almost every network ran beside another: frames kept ×1.06, end-to-end fps ×1.05,
latency p50 ×1.44 (``benchmarks/results/in-flight-s28-cpu``). A trade, not a default.

What does not change is the picture: everything but the networks still runs one frame at a
time and in frame order (the analysers, the stabilisers and the effects keep the stream's
history). A frame holds its :class:`Turn` from its start to its end and lets go of it only while
one of its networks runs (:meth:`Turn.aside`). Frame *k*+1 may start once frame *k* lets go, but
after its first network it waits until frame *k* is finished. So every step that is not a
network sees the frames in order; the only step that moves is the start of frame *k*+1 (its
analysis and what comes before its first network), which now comes before the end of frame
*k*. They share no state: each filter's state is touched by that filter only, and a filter
before the first network ran for frame *k* before frame *k*+1 began. The one filter whose state
is read before its network and written after it (a face filter's held change, which skips the
network while the face holds still) runs its network first and reads the state after it. Only
a frame's first network runs beside the frame ahead, so a chain of two keeps one frame in flight
(:meth:`realtime.live.process.FrameProcessor.overlaps`).

``--in-flight 1`` keeps one frame at a time.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator


class TurnsClosed(Exception):
    """The loop is stopping: a frame waiting for its turn gives up."""


class Turns:
    """Hands out :class:`Turn` objects in frame order (:meth:`next`) and keeps to the rules above."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._issued = 0  # turns handed out
        self._started = 0  # frames that began (in order)
        self._finished = 0  # frames that ended (in order)
        self._holder: int | None = None
        self._aside = 0  # frames running a network now
        self._closed = False

    def next(self) -> "Turn":
        """The next frame's turn (call it where frames are taken in order)."""
        with self._cond:
            turn = Turn(self, self._issued)
            self._issued += 1
            return turn

    def close(self) -> None:
        """Wake every waiting frame with :class:`TurnsClosed`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _enter(self, k: int, first: bool) -> float:
        """Hold the turn as frame ``k`` (at its start: after frame k−1 started; later: after
        frame k−1 finished); the seconds it waited."""
        begin = time.perf_counter()
        ready = (lambda: self._started == k) if first else (lambda: self._finished == k)
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (self._holder is None and ready()))
            if self._closed:
                raise TurnsClosed()
            self._holder = k
            if first:
                self._started = k + 1
        return time.perf_counter() - begin

    def _leave(self, k: int, finished: bool) -> None:
        with self._cond:
            if self._holder == k:
                self._holder = None
            if finished:
                self._finished = max(self._finished, k + 1)
                self._started = max(self._started, k + 1)
            self._cond.notify_all()

    def _step_aside(self, k: int) -> bool:
        """Let go as frame ``k`` for a network; whether another frame's network is running."""
        with self._cond:
            crowded = self._aside > 0
            self._aside += 1
        self._leave(k, finished=False)
        return crowded

    def _step_back(self, k: int) -> float:
        with self._cond:
            self._aside -= 1
        return self._enter(k, first=False)


class Turn:
    """One frame's place: ``with turn:`` around the frame's work (it waits for the frame's
    start), ``with turn.aside():`` around each of its networks. ``waited_ms``: the time this
    frame spent waiting for the other one."""

    def __init__(self, turns: Turns, k: int) -> None:
        self.turns, self.k = turns, k
        self.waited_ms = 0.0

    def __enter__(self) -> "Turn":
        try:
            self.waited_ms += self.turns._enter(self.k, first=True) * 1000
        except TurnsClosed:
            self.turns._leave(self.k, finished=True)  # the frames after this one are not held up
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.turns._leave(self.k, finished=True)

    @contextmanager
    def aside(self) -> Iterator[bool]:
        """Let the next frame go on while this block (a network) runs; wait for the turn after.
        Gives whether another frame's network is running as this one starts (``crowded``: run
        it on one thread)."""
        crowded = self.turns._step_aside(self.k)
        try:
            yield crowded
        finally:
            self.waited_ms += self.turns._step_back(self.k) * 1000
