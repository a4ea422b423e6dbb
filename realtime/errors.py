"""The one exception type that command-line tools turn into a single clear line, and
:func:`run_cli`, which every command's entry point calls.

Raise :class:`UserError` for anything the user can fix (a missing file, a corrupt model, a
wrong size). The CLIs catch it, print ``error: <message>`` and exit non-zero; nothing else is
caught, so real bugs still show their traceback. Signals are :mod:`realtime.signals`.
"""
from __future__ import annotations

import atexit
import os
import signal
import sys
from typing import Callable

from realtime import signals


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
    an exit code (2; 130, 143, 129), and a closed stdout pipe into a quiet 141. Signals are
    recorded by :mod:`realtime.signals`: a SIGTERM/SIGHUP after which ``main`` still finished
    its outputs (the live run stops on it) exits 128 + the signal too."""
    global _atexit_registered
    signals.install()
    try:
        code = int(main() or 0)
        signals.checkpoint()  # a signal that came during an import and found no safe point since
        if code == 0 and signals.received() in signals.STOP_SIGNALS:
            code = 128 + signals.received()  # type: ignore[operator]
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
        signals.restore()
    if not _atexit_registered:
        atexit.register(signals.ignore_all)
        _atexit_registered = True
    signals.set_exit_code(code)
    return code
