"""A notice drawn over the preview (never over what the virtual camera or the file receive)."""
from __future__ import annotations

import cv2
import numpy as np

CAMERA_LOST = "camera lost, reconnecting"
CAMERA_STARTING = "starting the camera"
CAMERA_RELEASED = "camera off: no app reads the virtual camera"


def with_notice(bgr: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``bgr`` darkened, with ``text`` in a band across its middle."""
    h, w = bgr.shape[:2]
    out = (bgr * 0.5).astype(np.uint8)
    scale = max(0.4, min(w, h) / 480)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    y = h // 2
    cv2.rectangle(out, (0, y - th - 12), (w, y + 12), (0, 0, 0), -1)
    cv2.putText(out, text, (max(4, (w - tw) // 2), y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 200, 255), 2, cv2.LINE_AA)
    return out


def idle_card(w: int, h: int, text: str = CAMERA_STARTING) -> np.ndarray:
    """What the virtual camera shows while the webcam is released (--ondemand): an app that
    opens it sees this for the half second the camera takes to start."""
    return with_notice(np.full((h, w, 3), 48, np.uint8), text)
