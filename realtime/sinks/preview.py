"""The preview window (OpenCV), and the check that a display is there before any work: it also
reports the key pressed (for the hotkeys) and whether its window was closed."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError


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
