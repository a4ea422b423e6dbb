"""Signals during a live run: a stop request, never an interruption of the shutdown, and an
exit that does not abort when a thread is still inside C++."""
from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time

from realtime.errors import STOP_SIGNALS, exit_code, signal_name

log = logging.getLogger(__name__)


class StopSignals:
    """While active: Ctrl-C, SIGTERM and SIGHUP ask the run to stop, and never interrupt the
    shutdown that follows.

    The first signal is recorded and the output loop stops within 0.1 s; later ones (a second
    Ctrl-C, ``timeout`` sending its signal to the child and then to the whole group) are only
    counted and logged: raised as KeyboardInterrupt in the middle of the shutdown they left
    the video without its index (44 bytes) and no stats, and the interpreter exited with the
    process thread still inside MediaPipe, which aborts it (``terminate called without an
    active exception``, exit 134). The handler itself only assigns attributes: a handler that
    logs or sets an Event can re-enter the stderr write or the Event's lock it interrupted.
    A signal that was ignored when we started (``nohup`` ignores SIGHUP) stays ignored.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.ignored: list[int] = []
        self._reported = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # signal.signal works in the main thread only
        for sig in (signal.SIGINT, *STOP_SIGNALS):
            current = signal.getsignal(sig)
            if current in (signal.SIG_IGN, None):
                continue
            self._previous[sig] = current
            signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
        self.report()

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        else:
            self.ignored.append(signum)

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str | None:
        return signal_name(self.signum) if self.signum is not None else None

    def report(self) -> None:
        """Log the signals ignored since the last call (from the main thread, not the handler)."""
        new, self._reported = self.ignored[self._reported:], len(self.ignored)
        for signum in new:
            log.warning("%s ignored: still closing the outputs", signal_name(signum))


_stragglers: list[threading.Thread] = []


def _exit_before_teardown(grace: float = 2.0) -> None:
    """atexit, where a pipeline thread did not stop in time (a model switch building a TensorRT
    engine, a camera that stopped answering): the interpreter's teardown makes a daemon thread
    still inside C++ (MediaPipe, ONNX Runtime, OpenCV) exit through frames that may not unwind,
    and the process aborts (``terminate called without an active exception``, exit 134). The
    outputs were closed before the run returned, so flush what is printed and end here."""
    deadline = time.monotonic() + grace
    for t in _stragglers:
        t.join(max(deadline - time.monotonic(), 0.0))
    alive = [t.name for t in _stragglers if t.is_alive()]
    if alive:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(exit_code())


def leave_behind(threads: list[threading.Thread]) -> None:
    if not _stragglers:
        atexit.register(_exit_before_teardown)
    _stragglers.extend(threads)
