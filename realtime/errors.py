"""The one exception type that command-line tools turn into a single clear line, and the exit
codes of a process that is stopped by a signal.

Raise :class:`UserError` for anything the user can fix (a missing file, a corrupt model, a
wrong size). The CLIs catch it, print ``error: <message>`` and exit non-zero; nothing else is
caught, so real bugs still show their traceback.

Signals: Ctrl-C raises KeyboardInterrupt (Python's own handler); :func:`run_cli` makes SIGTERM
(``kill``, ``timeout``, a service manager) and SIGHUP (a closed terminal) raise
:class:`Interrupted`, a KeyboardInterrupt, so the ``finally`` blocks that close files run for
them too instead of the process dying with a half-written file (an mp4 without its index is
44 unplayable bytes). A command that finishes its outputs after such a signal calls
:func:`stopped_by` and exits 128 + the signal (143, 129: the shell convention).
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from typing import Callable

log = logging.getLogger(__name__)

# SIGTERM everywhere; SIGHUP where it exists (not on Windows)
STOP_SIGNALS: tuple[int, ...] = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class UserError(Exception):
    """An error caused by input the user can fix; its message says how."""


def below_minimum(options: object, minimums: tuple[tuple[str, float], ...]) -> list[str]:
    """One ``--name must be at least LOW, got VALUE`` per option of ``options`` (an argparse
    namespace or a config) under its minimum; options left unset (None) are skipped. Callers
    collect these with their other problems and raise one UserError naming every one."""
    return [f"--{name.replace('_', '-')} must be at least {low}, got {getattr(options, name)}"
            for name, low in minimums if getattr(options, name) is not None and getattr(options, name) < low]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), for one-line errors."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C raises KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _Exit:
    """What the process will exit with: read by atexit handlers that must end it early."""

    stopped_by: int | None = None  # the signal after which the outputs were finished
    code: int = 0


def stopped_by(signum: int) -> None:
    """Record that a signal stopped the run and its outputs were finished after it: once ``main``
    returns, :func:`run_cli` exits 128 + ``signum`` for SIGTERM/SIGHUP (Ctrl-C is the normal
    way to end a live run and keeps exit code 0)."""
    _Exit.stopped_by = signum


def exit_code() -> int:
    """The exit code :func:`run_cli` returned last (0 before it returned)."""
    return _Exit.code


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def _install(handler: Callable[[int, object], None] | int) -> dict[int, object]:
    """Point the stop signals at ``handler``, except where they are ignored (``nohup`` ignores
    SIGHUP on purpose) or not handled from Python; return the handlers to restore."""
    previous: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # signal.signal works in the main thread only
    for sig in STOP_SIGNALS:
        current = signal.getsignal(sig)
        if current in (signal.SIG_IGN, None):
            continue
        previous[sig] = current
        signal.signal(sig, handler)
    return previous


def _restore(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def _ignore_at_exit() -> None:
    """atexit: the outputs are closed; a Ctrl-C or SIGTERM during the interpreter's teardown
    (up to ~1 s with ONNX Runtime and MediaPipe loaded) would only turn a clean exit into one
    killed by the signal."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, *STOP_SIGNALS):
            if signal.getsignal(sig) is not None:
                signal.signal(sig, signal.SIG_IGN)


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's flush at exit would otherwise fail on the
    closed pipe again and print 'Exception ignored ... BrokenPipeError'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (pytest's capture)
        pass


_atexit_registered = False


def run_cli(main: Callable[[], int | None]) -> int:
    """Run ``main`` and turn a :class:`UserError`, Ctrl-C, SIGTERM or SIGHUP into one line and
    an exit code (2; 130, 143, 129), and a closed stdout pipe into a quiet 141."""
    global _atexit_registered
    _Exit.stopped_by = None
    previous = _install(_raise_interrupted)
    try:
        code = int(main() or 0)
        if code == 0 and _Exit.stopped_by in STOP_SIGNALS:
            code = 128 + _Exit.stopped_by
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        code = 128 + getattr(exc, "signum", signal.SIGINT)
    except BrokenPipeError:  # stdout was a pipe that closed (`realtime ... | head -1`): nothing to say it to
        _silence_stdout()
        code = 128 + getattr(signal, "SIGPIPE", 13)  # 141, as if SIGPIPE had ended us (Python ignores it)
    finally:
        _restore(previous)
    if not _atexit_registered:
        atexit.register(_ignore_at_exit)
        _atexit_registered = True
    _Exit.code = code
    return code
