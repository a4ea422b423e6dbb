"""Face tracking with MediaPipe Face Mesh (0.10.21 ``solutions``, models bundled in the wheel).

Runs on a downscaled copy of the frame, in tracking mode (MediaPipe re-runs its detector only
when it loses the face, so the detection is reused while the face stays in view), and smooths
the 468 landmarks with a One Euro filter. :func:`face_transform` turns landmarks into the
affine map to an upright square face crop.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.imaging import area_down, shrink
from realtime.native import quiet_native_stderr
from realtime.analysis.one_euro import OneEuroConfig, OneEuroFilter

log = logging.getLogger(__name__)
LEFT_EYE, RIGHT_EYE = 33, 263  # outer eye corners in the 468-point mesh


@dataclass
class Face:
    landmarks: np.ndarray  # 478×2 pixel coordinates in the full frame (smoothed): the 468-point mesh + 2×5 iris points
    raw: np.ndarray  # the same before smoothing

    @property
    def box(self) -> tuple[float, float, float, float]:
        x0, y0 = self.landmarks.min(axis=0)
        x1, y1 = self.landmarks.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


THUMB = (64, 48)  # w, h of the thumbnail a still frame is told by


def thumb_box(box: tuple[int, int, int, int], size: tuple[int, int], hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` (x0, y0, x1, y1) in a frame of ``hw`` made a whole number of ``size`` (w, h)
    blocks each way, the nearest number that fits the frame, about the same centre (moved in
    where it would stick out): OpenCV's area resize averages whole blocks on its fast path and
    splits pixels between blocks otherwise, 4x slower (a close-up's 700×670 box at 1280×720:
    1.9 against 0.5 ms, twice on every frame the mesh runs). Rounded to the nearest, not cut,
    so the box is as large as before on average and a frame as often still (three videos at
    three sizes, 150 frames each: 442 still frames against 441; cutting the box down to whole
    blocks left 9 % fewer at 640×480). A side under a block is kept as is."""
    out = []
    for lo, hi, block, limit in ((box[0], box[2], size[0], hw[1]), (box[1], box[3], size[1], hw[0])):
        n = hi - lo
        if n >= block:
            n = min(max(1, round(n / block)), limit // block) * block
        start = min(max(0, (lo + hi - n) // 2), limit - n)
        out.append((start, start + n))
    (x0, x1), (y0, y1) = out
    return x0, y0, x1, y1


class FaceTracker:
    def __init__(
        self, max_side: int = 480, smoothing: OneEuroConfig | None = None, min_confidence: float = 0.5,
        still_threshold: float = 1.0, static: bool = False, max_faces: int = 1,
    ) -> None:
        """``still_threshold``: mean change (0–255) of a 64×48 thumbnail of the faces' box below which the frame
        counts as still and the previous landmarks are reused without running the mesh
        (0 disables). ``static``: every image is unrelated to the one before (no tracking,
        no reuse, no smoothing), for still images. ``max_faces``: faces tracked at once,
        each with its own smoother (matched frame to frame by the nearest centre)."""
        if not 1 <= max_faces <= 16:
            raise ValueError(f"max_faces must be 1..16, got {max_faces}")
        with quiet_native_stderr():
            import mediapipe as mp

            self.mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static, max_num_faces=max_faces, refine_landmarks=True,  # + 10 iris points, +0.6 ms
                min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence,
            )
            # the first call initialises the graph and prints its chatter
            self.mesh.process(np.zeros((48, 64, 3), np.uint8))
        self.max_side = max_side
        self.static = static
        self.still_threshold = 0.0 if static else still_threshold
        self.smoothing = smoothing or OneEuroConfig(min_cutoff=1.0, beta=0.05)
        self.thumb: np.ndarray | None = None  # of the frame the mesh last ran on
        self.box: tuple[int, int, int, int] | None = None  # where the faces were then
        self.last: tuple[Face, ...] = ()
        self.reused = 0
        self.seen_face = False
        self.smoothers: list[OneEuroFilter] = []  # one per face in ``last``, same order

    def process(self, bgr: np.ndarray, t: float) -> Face | None:
        """The first tracked face, or None."""
        faces = self.faces(bgr, t)
        return faces[0] if faces else None

    def faces(self, bgr: np.ndarray, t: float) -> tuple[Face, ...]:
        """Every tracked face (up to ``max_faces``), landmarks smoothed over time."""
        if self.still_threshold > 0:
            thumb = self._thumb(bgr)
            # compared with the frame the mesh last ran on (a smile forming moves < 1 grey level a
            # frame but 3-11 from where it started), over the faces' box (a blink is 1 % of a
            # 640×480 frame: over the whole frame it would never count)
            still = self.thumb is not None and thumb.shape == self.thumb.shape and float(np.abs(thumb - self.thumb).mean()) < self.still_threshold
            if still and self.last:
                self.reused += 1
                return tuple(Face(s(f.raw, t), f.raw) for s, f in zip(self.smoothers, self.last))
        raws = self._detect(bgr)
        self.box = self._box(raws, bgr.shape[:2])
        if self.still_threshold > 0:
            self.thumb = self._thumb(bgr)
        if self.static:
            self.last = tuple(Face(raw, raw) for raw in raws)
            return self.last
        self.smoothers = self._match(raws)
        self.last = tuple(Face(s(raw, t), raw) for s, raw in zip(self.smoothers, raws))
        return self.last

    @staticmethod
    def _box(raws: list[np.ndarray], hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """The faces' bounding box grown by a quarter each way (x0, y0, x1, y1), or None."""
        if not raws:
            return None
        pts = np.concatenate(raws)
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        gx, gy = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
        h, w = hw
        box = (max(0, int(x0 - gx)), max(0, int(y0 - gy)), min(w, int(x1 + gx) + 1), min(h, int(y1 + gy) + 1))
        return box if box[2] - box[0] >= 8 and box[3] - box[1] >= 8 else None

    def _thumb(self, bgr: np.ndarray) -> np.ndarray:
        """64×48 grey thumbnail of the last faces' box (the whole frame when there were none):
        each value the mean of a whole block of pixels, see :func:`thumb_box`."""
        x0, y0, x1, y1 = thumb_box(self.box or (0, 0, bgr.shape[1], bgr.shape[0]), THUMB, bgr.shape[:2])
        crop = bgr[y0:y1, x0:x1]
        gray = cv2.cvtColor(crop if crop.size else bgr, cv2.COLOR_BGR2GRAY)
        kx, ky = gray.shape[1] // THUMB[0], gray.shape[0] // THUMB[1]
        if kx and ky and gray.shape[:2] == (ky * THUMB[1], kx * THUMB[0]):
            return area_down(gray, kx, ky).astype(np.float32)
        return cv2.resize(gray, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)  # a box under a block

    def _match(self, raws: list[np.ndarray]) -> list[OneEuroFilter]:
        """A smoother for each new face: the one of the previous face nearest to it (within
        half a face width), else a fresh one, so each face keeps its own history."""
        free = list(zip((f.raw.mean(axis=0) for f in self.last), self.smoothers))
        out = []
        for raw in raws:
            centre, reach = raw.mean(axis=0), 0.5 * float(np.ptp(raw[:, 0]))
            best = min(range(len(free)), key=lambda i: float(np.hypot(*(free[i][0] - centre))), default=None)
            if best is not None and float(np.hypot(*(free[best][0] - centre))) <= reach:
                out.append(free.pop(best)[1])
            else:
                out.append(OneEuroFilter(self.smoothing))
        return out

    def _detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        h, w = bgr.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = shrink(bgr, round(w * scale), round(h * scale)) if scale < 1 else bgr  # 1280x720: halved, then bilinear
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        if self.seen_face:
            result = self.mesh.process(rgb)
        else:  # MediaPipe logs a warning the first time it projects landmarks
            with quiet_native_stderr():
                result = self.mesh.process(rgb)
        if not result.multi_face_landmarks:
            return []
        self.seen_face = True
        return [np.array([(p.x * w, p.y * h) for p in face.landmark], dtype=np.float64) for face in result.multi_face_landmarks]

    def close(self) -> None:
        self.mesh.close()


def face_transform(face: Face, size: int, margin: float = 1.7) -> np.ndarray:
    """2×3 affine matrix mapping the frame to an upright ``size``² crop around the face."""
    lm = face.landmarks
    dx, dy = lm[RIGHT_EYE] - lm[LEFT_EYE]
    angle = math.degrees(math.atan2(dy, dx))
    x0, y0 = lm.min(axis=0)
    x1, y1 = lm.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0, 8.0) * margin
    m = cv2.getRotationMatrix2D((cx, cy), angle, size / side)
    m[:, 2] += (size / 2 - cx, size / 2 - cy)
    return m


def feather_mask(size: int, feather: float = 0.12) -> np.ndarray:
    """size×size float32 weights: 1 inside an ellipse, falling smoothly to 0 at the edge."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.sqrt(((xx + 0.5) / size * 2 - 1) ** 2 + ((yy + 0.5) / size * 2 - 1) ** 2)
    inner = 1.0 - 2 * feather
    return np.clip((1.0 - r) / (1.0 - inner), 0.0, 1.0).astype(np.float32) if inner < 1 else (r < 1).astype(np.float32)
