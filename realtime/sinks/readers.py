"""Who reads the virtual camera: the count that lets ``--ondemand`` release the webcam.

v4l2loopback does not count its readers anywhere a user can read (no sysfs attribute, and an
app such as Chrome opens the node read-write like the writer does), so the count is the
number of *other* processes that hold the device open, from their ``/proc/PID/fd`` links.
Scanning every process costs ~5-20 ms on a desktop with a few hundred of them, too much to
repeat ten times a second, so the scan runs only when inotify says something opened or
closed the node (``IN_OPEN``/``IN_CLOSE_*``; our own frames are writes, which it is not asked
about) and otherwise once every ``poll_s`` (1 s) for an app that opened it before the watch.
An app that opens the camera is seen within a few milliseconds of its ``open()``.

Other systems: the OBS virtual camera on Windows (a DirectShow filter) and macOS (a CoreMedia
IO extension) tell the writer nothing about their readers, so on-demand release is Linux only.
"""
from __future__ import annotations

import logging
import os
import select
import sys
from pathlib import Path
from typing import Callable, Protocol

from realtime.errors import UserError

log = logging.getLogger(__name__)


class ReaderCount(Protocol):
    def count(self) -> int: ...

    def wait(self, timeout: float) -> bool:
        """Return True when something may have opened or closed the device, False after ``timeout`` s."""

    def interrupt(self) -> None:
        """End a wait now and every later one at once (from another thread: the end of the run)."""

    def close(self) -> None: ...


def openers(device: str, proc: str = "/proc", exclude: int | None = None) -> int:
    """Processes other than ``exclude`` (default: this one) with ``device`` open. Processes of
    other users cannot be looked into and are not counted (a call app runs as the user)."""
    exclude = os.getpid() if exclude is None else exclude
    target = os.path.realpath(device)
    found = 0
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit() and int(p) != exclude]
    except OSError:
        return 0
    for pid in pids:
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == target:
                    found += 1
                    break
            except OSError:
                continue
    return found


class DeviceReaders:
    """The readers of a device node (Linux): :func:`openers`, rescanned when inotify wakes."""

    def __init__(self, device: str, proc: str = "/proc") -> None:
        from inotify_simple import INotify, flags

        self.device, self.proc = device, proc
        self._wake_r, self._wake_w = os.pipe()  # interrupt() writes a byte: the select returns
        self.inotify = INotify()
        try:
            self.inotify.add_watch(device, flags.OPEN | flags.CLOSE_WRITE | flags.CLOSE_NOWRITE)
        except OSError as exc:
            self.close()
            raise UserError(f"cannot watch {device} for apps that read it ({exc.strerror}): run without --ondemand") from None

    def count(self) -> int:
        return openers(self.device, self.proc)

    def wait(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.inotify, self._wake_r], [], [], max(0.0, timeout))
        if self.inotify in ready:
            self.inotify.read(timeout=0)  # which events does not matter: count again
            return True
        return False

    def interrupt(self) -> None:
        os.write(self._wake_w, b"x")

    def close(self) -> None:
        self.inotify.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


# the seam tests set to a fake count: device path -> ReaderCount
OPEN: Callable[[str], ReaderCount] | None = None


def open_readers(device: str) -> ReaderCount:
    """The reader count of the virtual camera at ``device`` (one line when this system has none)."""
    if OPEN is not None:
        return OPEN(device)
    if not sys.platform.startswith("linux"):
        raise UserError("--ondemand needs Linux's v4l2loopback: the OBS virtual camera on this system does not say "
                        "whether an app reads it; run without --ondemand (the camera stays on)")
    if not Path(device).exists():
        raise UserError(f"--ondemand: the virtual camera {device} is not a device this system can watch; run without --ondemand")
    return DeviceReaders(device)
