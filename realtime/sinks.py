"""Where filtered frames go: a preview window, a virtual camera, a video file, or nowhere.

Every sink takes BGR uint8 frames of the output size through :meth:`send`. The preview also
reports the key pressed (for the hotkeys) and whether its window was closed.
"""
from __future__ import annotations

import glob
import logging
import os
import sys
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from export.errors import UserError

log = logging.getLogger(__name__)
CARD_LABEL = "Realtime Filter"
MODPROBE = f'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="{CARD_LABEL}"'


class Sink(Protocol):
    def send(self, bgr: np.ndarray) -> None: ...

    def close(self) -> None: ...


class NullSink:
    def send(self, bgr: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


class VideoFileSink:
    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
        self.writer = cv2.VideoWriter(str(path), fourcc, fps, size)
        if not self.writer.isOpened():
            raise UserError(f"cannot write video {path}: use a .mp4 or .avi name in a writable folder")
        self.size = size

    def send(self, bgr: np.ndarray) -> None:
        self.writer.write(bgr)

    def close(self) -> None:
        self.writer.release()


class PreviewSink:
    """An OpenCV window. ``last_key`` holds the key pressed during the latest send (or -1)."""

    def __init__(self, title: str = "realtime") -> None:
        if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise UserError("no display for the preview window: run with --no-preview (e.g. with --virtual-cam or --output)")
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise UserError(f"cannot open a preview window ({exc.msg.strip() or 'no GUI support'}): use --no-preview") from None
        self.last_key = -1
        self.opened = False

    def send(self, bgr: np.ndarray, status: str = "") -> None:
        if status:
            bgr = bgr.copy()
            cv2.putText(bgr, status, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(bgr, status, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(self.title, bgr)
        self.last_key = cv2.waitKey(1)
        self.opened = True

    @property
    def closed_by_user(self) -> bool:
        if not self.opened:
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


def loopback_devices() -> list[str]:
    """/dev/videoN nodes that belong to v4l2loopback (by their sysfs name or driver)."""
    found = []
    for node in sorted(glob.glob("/sys/devices/virtual/video4linux/video*")):
        found.append("/dev/" + Path(node).name)
    return found


def check_virtual_camera(device: str | None) -> str | None:
    """Fail early with the exact fix when no usable virtual camera device exists."""
    if sys.platform.startswith("linux"):
        devices = loopback_devices()
        if device:
            if not Path(device).exists():
                raise UserError(f"virtual camera {device} does not exist; create one with: {MODPROBE}")
            if not os.access(device, os.W_OK):
                raise UserError(f"virtual camera {device} is not writable: add yourself to the 'video' group (sudo usermod -aG video $USER) and log in again")
            return device
        if not devices:
            raise UserError(f"no v4l2loopback virtual camera found; create one with: {MODPROBE} (package v4l2loopback-dkms)")
        writable = [d for d in devices if os.access(d, os.W_OK)]
        if not writable:
            raise UserError(f"virtual camera {devices[0]} is not writable: add yourself to the 'video' group (sudo usermod -aG video $USER) and log in again")
        return writable[0]
    return device


class VirtualCamSink:
    """pyvirtualcam: v4l2loopback on Linux, OBS Virtual Camera on Windows/macOS.

    ``backend`` selects a registered pyvirtualcam backend (tests register their own); the
    device check only applies to the real v4l2loopback one.
    """

    def __init__(self, size: tuple[int, int], fps: float, device: str | None = None, backend: str | None = None) -> None:
        import pyvirtualcam

        if backend in (None, "v4l2loopback"):
            device = check_virtual_camera(device)
        try:
            self.cam = pyvirtualcam.Camera(size[0], size[1], fps, fmt=pyvirtualcam.PixelFormat.BGR, device=device, backend=backend)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = MODPROBE if sys.platform.startswith("linux") else "install OBS Studio (28+) and start its Virtual Camera once"
            raise UserError(f"cannot open the virtual camera ({reason}); {hint}") from None
        log.info("virtual camera %s (%s) %dx%d @ %.0f fps", self.cam.device, self.cam.backend, size[0], size[1], fps)

    def send(self, bgr: np.ndarray) -> None:
        self.cam.send(bgr)

    def close(self) -> None:
        self.cam.close()
