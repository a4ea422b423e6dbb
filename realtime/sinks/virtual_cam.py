"""The virtual camera that Zoom, Meet and OBS read (pyvirtualcam: v4l2loopback on Linux, OBS
Virtual Camera elsewhere)."""
from __future__ import annotations

import glob
import logging
import os
import sys
from pathlib import Path

import numpy as np

from realtime.errors import UserError

log = logging.getLogger(__name__)
CARD_LABEL = "Realtime Filter"
MODPROBE = f'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="{CARD_LABEL}"'


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

        self.size = tuple(size)
        if backend in (None, "v4l2loopback"):
            device = check_virtual_camera(device)
        try:
            self.cam = pyvirtualcam.Camera(size[0], size[1], fps, fmt=pyvirtualcam.PixelFormat.BGR, device=device, backend=backend)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = MODPROBE if sys.platform.startswith("linux") else "install OBS Studio (28+) and start its Virtual Camera once"
            raise UserError(f"cannot open the virtual camera ({reason}); {hint}") from None
        log.info("virtual camera %s (%s) %dx%d @ %.0f fps", self.cam.device, self.cam.backend, size[0], size[1], fps)

    @property
    def device(self) -> str:
        """The device apps open (/dev/videoN on Linux)."""
        return str(self.cam.device)

    def send(self, bgr: np.ndarray) -> None:
        self.cam.send(bgr)

    def close(self) -> None:
        self.cam.close()
