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

from realtime.errors import UserError

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
    """A video file (mp4v in .mp4/.m4v/.mov, MJPG otherwise). ``frames`` counts the frames
    sent, for :func:`realtime.outputs.verify_video` after :meth:`close`."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
        self.writer = cv2.VideoWriter(str(path), fourcc, fps, size)
        if not self.writer.isOpened():
            raise UserError(f"cannot write video {path}: use a .mp4 or .avi name in a writable folder")
        self.path, self.size = path, size
        self.frames = 0
        self.closed = False

    def send(self, bgr: np.ndarray) -> None:
        self.writer.write(bgr)
        self.frames += 1

    def close(self) -> None:
        """Finalise the file (an mp4 gets its index only here); a second call does nothing.
        A file no frame reached holds only a header (44 bytes for mp4) that no player opens:
        it is removed rather than left looking like a result."""
        if self.closed:
            return
        self.closed = True
        self.writer.release()
        if self.frames == 0:
            log.warning("no frames reached %s: removed the empty file", self.path)
            try:
                self.path.unlink()
            except OSError:
                pass


def display_problem(timeout: float = 3.0) -> str | None:
    """Why a preview window cannot open here, or None.

    OpenCV's Qt backend (the pip wheels' only GUI) does not fail with an error when it cannot
    reach the X server: Qt aborts the whole process (SIGABRT, exit 134, the video being
    written lost). So connect first the way Qt's xcb plugin does, with libxcb's xcb_connect
    (~2 ms, no window; it also fails where the server refuses our X authority), on a thread
    so that a display that never answers costs ``timeout`` seconds, not a hang.
    """
    if not sys.platform.startswith("linux"):
        return None
    display = os.environ.get("DISPLAY", "")
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # Qt was pointed elsewhere (wayland, offscreen) on purpose
    if not display:
        if os.environ.get("WAYLAND_DISPLAY") and not _qt_xcb_only():
            return None
        return "no display for the preview window (DISPLAY is not set)"
    import ctypes
    import ctypes.util
    import threading

    name = ctypes.util.find_library("xcb")
    if name is None:
        return f"no libxcb to reach the X display {display} (install libxcb1)"
    try:
        xcb = ctypes.CDLL(name)
    except OSError as exc:
        return f"cannot load libxcb ({exc}) to reach the X display {display}"
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    result: list[int] = []

    def connect() -> None:
        conn = xcb.xcb_connect(display.encode(), None)
        result.append(xcb.xcb_connection_has_error(conn))
        xcb.xcb_disconnect(conn)

    probe = threading.Thread(target=connect, name="x-display-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    if not result:
        return f"the X display {display} does not answer (DISPLAY={display})"
    if result[0]:
        return f"cannot connect to the X display {display} (DISPLAY={display}: no X server there, or it refuses this user)"
    return None


def _qt_xcb_only() -> bool:
    """True where OpenCV's GUI is a Qt with only the xcb (X11) platform plugin, as in the pip
    wheels: it needs DISPLAY even on a Wayland desktop (XWayland provides one)."""
    platforms = Path(cv2.__file__).parent / "qt" / "plugins" / "platforms"
    names = [p.name for p in platforms.glob("*.so")] if platforms.is_dir() else []
    return bool(names) and all("xcb" in n for n in names)


def check_display() -> None:
    """One :class:`UserError` line instead of Qt's abort when no preview window can open."""
    problem = display_problem()
    if problem:
        raise UserError(f"{problem}: run with --no-preview (e.g. with --virtual-cam or --output)")


class PreviewSink:
    """An OpenCV window. ``last_key`` holds the key pressed during the latest send (or -1)."""

    def __init__(self, title: str = "realtime") -> None:
        check_display()
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
