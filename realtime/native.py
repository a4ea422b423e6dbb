"""Native libraries (MediaPipe, TFLite, OpenCV's FFmpeg) write their start-up chatter straight to
file descriptor 2, past Python's logging: silence it around the calls that make it."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence C++ log lines (MediaPipe/TFLite start-up chatter) written straight to fd 2."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
