"""Ctrl-C, SIGTERM and SIGHUP: one handler that records the signal, and the places that act on it.

A handler that raises runs between two bytecodes of whatever the main thread is doing. In the
middle of an import or of a C extension's initialisation (ONNX Runtime's pybind11 module calls
back into Python while it loads) the exception is turned into ``ImportError: initialization
failed`` and a traceback; in the middle of building the frame processor it left MediaPipe's
graph unclosed. So the handler here never raises there: it records the signal, and the code
acts on it at the next safe point.

- :func:`install` / :func:`restore` (what :func:`realtime.errors.run_cli` does for every
  command): outside a :func:`deferred` region and outside an import, the first signal raises
  :class:`Interrupted` (a KeyboardInterrupt) at once, as Python's own Ctrl-C does, so a
  training loop or the web server stops where it is; inside, it is only recorded.
- :func:`deferred`: a region where no signal raises (the live run, from its start-up to its
  last closed file). Start-up calls :func:`checkpoint` between its steps (each model loaded,
  the source opened): a recorded signal raises there. The running loop polls
  :func:`requested` and stops within 0.1 s. Later signals are counted and logged from the
  main thread (:func:`report`), never from the handler: a handler that logs or sets an Event
  can re-enter the stderr write or the lock it interrupted.
- A signal ignored when we started (``nohup`` ignores SIGHUP) stays ignored.

Exit codes: :func:`realtime.errors.run_cli` exits 128 + SIGTERM/SIGHUP (143, 129) when one
was received, 130 when Ctrl-C interrupted a command, 0 when Ctrl-C ended a live run normally.
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Iterator

log = logging.getLogger(__name__)

# SIGTERM everywhere; SIGHUP where it exists (not on Windows)
STOP_SIGNALS: tuple[int, ...] = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
HANDLED: tuple[int, ...] = (signal.SIGINT, *STOP_SIGNALS)
_IMPORT_FILES = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP, raised where Python raises KeyboardInterrupt for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@dataclass
class _Record:
    signum: int | None = None  # the first signal since install()
    later: list[int] = field(default_factory=list)  # the ones after it
    raised: bool = False  # the first one has been raised as Interrupted
    reported: int = 0  # how many of ``later`` were logged
    installs: int = 0  # nested install() calls
    deferred: int = 0  # nested deferred() regions
    previous: dict[int, object] = field(default_factory=dict)


_state = _Record()


def _importing(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename in _IMPORT_FILES:
            return True
        frame = frame.f_back
    return False


def _handle(signum: int, frame: FrameType | None) -> None:
    s = _state
    if s.signum is None:
        s.signum = signum
    else:
        s.later.append(signum)
    if s.deferred == 0 and not s.raised and not _importing(frame):
        s.raised = True
        raise Interrupted(signum)


def install() -> None:
    """Point Ctrl-C, SIGTERM and SIGHUP at the recording handler (main thread only; nested
    calls count). The first install starts a fresh record."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal works in the main thread only
    s = _state
    s.installs += 1
    if s.installs > 1:
        return
    s.signum, s.later, s.raised, s.reported = None, [], False, 0
    for sig in HANDLED:
        current = signal.getsignal(sig)
        if current in (signal.SIG_IGN, None):
            continue  # ignored on purpose (nohup), or not set from Python
        s.previous[sig] = current
        signal.signal(sig, _handle)


def restore() -> None:
    """Undo :func:`install` (the last of nested calls puts the previous handlers back)."""
    if threading.current_thread() is not threading.main_thread():
        return
    s = _state
    s.installs -= 1
    if s.installs > 0:
        return
    for sig, handler in s.previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]
    s.previous.clear()
    report()
    s.signum, s.later, s.raised, s.reported = None, [], False, 0


@contextmanager
def deferred() -> Iterator[None]:
    """A region no signal interrupts: it is recorded, raised by :func:`checkpoint`, and polled
    by the live loop through :func:`requested`."""
    install()
    _state.deferred += 1
    try:
        yield
    finally:
        _state.deferred -= 1
        report()
        restore()


def checkpoint() -> None:
    """A safe point: raise :class:`Interrupted` for a signal recorded and not yet acted on
    (in the main thread, where signals are handled; elsewhere it does nothing)."""
    s = _state
    if s.signum is not None and not s.raised and threading.current_thread() is threading.main_thread():
        s.raised = True
        raise Interrupted(s.signum)


def stopped_on() -> None:
    """The live loop stopped on the recorded signal: it is acted on (no checkpoint raises it)."""
    _state.raised = True


def requested() -> bool:
    """A signal arrived since :func:`install`."""
    return _state.signum is not None


def received() -> int | None:
    """The first signal since :func:`install` (None if none)."""
    return _state.signum


def report() -> None:
    """Log the signals after the first one, not logged yet (main thread, not the handler)."""
    s = _state
    new, s.reported = s.later[s.reported:], len(s.later)
    for signum in new:
        log.warning("%s ignored: still closing the outputs", signal_name(signum))


def ignore_all() -> None:
    """Ignore the stop signals from here on (the interpreter's teardown, after the outputs
    are closed: a signal there would only turn a clean exit into one killed by it)."""
    if threading.current_thread() is threading.main_thread():
        for sig in HANDLED:
            if signal.getsignal(sig) is not None:
                signal.signal(sig, signal.SIG_IGN)


class _Exit:
    code: int = 0  # what run_cli returned last, for an exit that must skip the teardown


def set_exit_code(code: int) -> None:
    _Exit.code = code


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
        os._exit(_Exit.code)


def leave_behind(threads: list[threading.Thread]) -> None:
    if not _stragglers:
        atexit.register(_exit_before_teardown)
    _stragglers.extend(threads)


def join_or_leave_behind(threads: list[threading.Thread], timeout: float) -> list[threading.Thread]:
    """Wait up to ``timeout`` s in all for ``threads`` to end; those still running are left
    behind (:func:`leave_behind`) and returned."""
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0.0))
    stuck = [t for t in threads if t.is_alive()]
    if stuck:
        leave_behind(stuck)
    return stuck
