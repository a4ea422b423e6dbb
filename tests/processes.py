"""Child processes as a terminal's foreground job starts them, whatever runs the suite.

A suite started as a background job (``.ci/run &``, ``nohup``) runs with SIGINT ignored, and a
child inherits an ignored disposition through exec: ``realtime`` rightly leaves an ignored
Ctrl-C alone (``nohup`` semantics), so a test's Ctrl-C would never reach it. The wrapper below
resets the dispositions in the child before exec. It is a separate ``python -c``, not
``preexec_fn``: preexec_fn runs Python in the forked child of a threaded parent (this suite has
ONNX Runtime, MediaPipe, Ray and web-server threads), which can deadlock before exec (Python's
docs); a SIGHUP test whose child hung there is the one hang seen in a fresh-clone run.

Libraries called in the suite's own process can also change its handlers: ``ray.init`` installs
a SIGTERM handler that ``ray.shutdown`` leaves behind. ``kept_signal_handlers`` puts them back.
"""
from __future__ import annotations

import shutil
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_WRAPPER = ("import os, resource, signal, sys\n"
            "hup, fsize = sys.argv[1], int(sys.argv[2])\n"
            "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
            "if hup != 'inherit':\n"
            "    signal.signal(signal.SIGHUP, signal.SIG_IGN if hup == 'ignore' else signal.SIG_DFL)\n"
            "if fsize:\n"
            "    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))\n"
            "os.execv(sys.argv[3], sys.argv[3:])\n")


def foreground(args: list[str], hup: str = "inherit", file_size: int = 0) -> list[str]:
    """``args`` started as from a terminal's foreground job: Ctrl-C handled; SIGHUP handled by
    default ("terminal": the suite may itself run under ``nohup``), ignored ("nohup") or as
    inherited; optionally RLIMIT_FSIZE (a write past ``file_size`` bytes fails with EFBIG,
    Python ignores SIGXFSZ: a hermetic full disk)."""
    hup = {"terminal": "default", "nohup": "ignore"}.get(hup, hup)
    program = args if Path(args[0]).is_absolute() else [shutil.which(args[0]) or args[0], *args[1:]]
    return [sys.executable, "-c", _WRAPPER, hup, str(file_size), *program]


@contextmanager
def kept_signal_handlers() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP's handlers as they were before the block, whatever it set."""
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in kept.items():
            signal.signal(s, handler)
