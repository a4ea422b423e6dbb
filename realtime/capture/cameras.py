"""Cameras by name: what ``--list-cameras`` shows and how ``--source "Logitech"`` finds one.

A camera index is not stable: plug a second camera in, or let a virtual camera take
/dev/video0, and index 0 is another device. A name is what the user sees in every other app.
The names come from ``cv2_enumerate_cameras`` (V4L2's sysfs names on Linux, DirectShow's on
Windows, AVFoundation's on macOS), which numbers them the way ``cv2.VideoCapture(index,
backend)`` opens them with the same backend; :func:`camera_backend` is that backend, and
:class:`~realtime.capture.sources.CameraSource` opens with it too, so a name and its index
always mean the same device. Listing opens no camera (no light comes on): on Linux it reads
sysfs and asks each node for its capabilities; virtual cameras (v4l2loopback, our own
output among them) are marked, so a run never reads what it writes by mistake.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import cv2

from realtime.errors import UserError

# the seam tests set to a fake enumeration: backend -> objects with index, name, path
ENUMERATE: Callable[[int], list[Any]] | None = None
SYSFS = "/sys/class/video4linux"


@dataclass(frozen=True)
class Camera:
    index: int  # what cv2.VideoCapture(index, camera_backend()) opens
    name: str
    path: str = ""  # /dev/videoN on Linux, the device path elsewhere ("" when unknown)
    virtual: bool = False  # a v4l2loopback device (another app's output, or ours)

    def describe(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"camera {self.index}: {self.name}{where}{'  virtual' if self.virtual else ''}"


def camera_backend() -> int:
    """The OpenCV backend whose indices the enumeration gives, per system."""
    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "win32":
        return cv2.CAP_DSHOW
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_ANY


def _is_loopback(path: str) -> bool:
    """A v4l2loopback node: its sysfs entry is under /sys/devices/virtual (no hardware behind it)."""
    if not path.startswith("/dev/video"):
        return False
    return "/devices/virtual/" in os.path.realpath(os.path.join(SYSFS, os.path.basename(path)))


def list_cameras() -> list[Camera]:
    """Every camera the system names, in index order; opens none of them."""
    backend = camera_backend()
    if ENUMERATE is not None:
        found = ENUMERATE(backend)
    else:
        try:
            from cv2_enumerate_cameras import enumerate_cameras
        except ImportError:  # an install without it: indices that open, without names
            return _probe_indices(backend)
        found = enumerate_cameras(backend)
    cameras = {int(c.index): Camera(int(c.index), str(c.name or f"camera {c.index}").strip(), str(c.path or ""),
                                    _is_loopback(str(c.path or ""))) for c in found}
    return [cameras[i] for i in sorted(cameras)]


def _probe_indices(backend: int, max_index: int = 8) -> list[Camera]:
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i, backend)
        if cap.isOpened():
            found.append(Camera(i, f"camera {i}"))
        cap.release()
    return found


def pick_camera(text: str, cameras: list[Camera]) -> Camera | None:
    """The one camera ``text`` names: the whole name (any case) first, else a part of it.
    None when no name contains it; a name that matches two or more cameras is an error that
    lists them (an index or more of the name picks one)."""
    wanted = text.strip().casefold()
    if not wanted:
        return None
    exact = [c for c in cameras if c.name.casefold() == wanted]
    matches = exact or [c for c in cameras if wanted in c.name.casefold()]
    if len(matches) > 1:
        listed = "; ".join(c.describe() for c in matches)
        raise UserError(f"camera name {text!r} matches {len(matches)} cameras ({listed}): "
                        f"use more of the name or the index, e.g. --source {matches[0].index}")
    return matches[0] if matches else None


def cameras_line(cameras: list[Camera]) -> str:
    """The cameras in a few words for an error line."""
    if not cameras:
        return "no cameras found"
    return "cameras: " + "; ".join(f"{c.index} {c.name!r}" for c in cameras)
