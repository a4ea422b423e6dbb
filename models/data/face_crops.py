"""Aligned face crops for face-region filters (``aged``): the training pairs and validation set.

Every face the mesh finds in the shared photos and in every 5th video frame is cut out the
way the runtime cuts it (:func:`realtime.analysis.tracking.face_transform`, so the network learns on
exactly the crops it will see), together with its 478 landmarks in crop pixels and the
person mask (MediaPipe selfie segmentation, general model) warped into the crop. Finding
faces takes minutes on a CPU, so the crops are cached in one ``.npz`` per (data folder, size).
"""
from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from tqdm import tqdm

from models.data.media import IMAGE_EXTS, VIDEO_EXTS, list_media, read_rgb, read_video_frames
from realtime.errors import UserError

log = logging.getLogger(__name__)

# (crop, landmarks, person mask, rng) → (output, index of the style drawn, or None): see models.data.pairs.styled
FaceDraw = Callable[[np.ndarray, np.ndarray, np.ndarray, random.Random], tuple[np.ndarray, "int | None"]]


@dataclass(frozen=True)
class FaceCrops:
    images: np.ndarray  # N×S×S×3 uint8 RGB
    landmarks: np.ndarray  # N×478×2 float32, crop pixels
    person: np.ndarray  # N×S×S uint8, 255 = person
    sources: tuple[str, ...]  # file stem of each crop

    def __len__(self) -> int:
        return len(self.images)

    def split(self, holdout: set[str]) -> tuple["FaceCrops", "FaceCrops"]:
        """(train, validation): a crop is validation when its file is in ``holdout``."""
        val = np.array([s in holdout for s in self.sources], bool)
        return self._take(~val), self._take(val)

    def _take(self, keep: np.ndarray) -> "FaceCrops":
        return FaceCrops(self.images[keep], self.landmarks[keep], self.person[keep],
                         tuple(s for s, k in zip(self.sources, keep) if k))


def scale_of(m: np.ndarray) -> float:
    """The scale of a 2×3 similarity transform."""
    return float(np.hypot(m[0, 0], m[0, 1]))


def warp_crop(rgb: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """The ``size``² crop ``m`` maps to. A shrinking ``m`` is split into an area-filtered
    resize and the rest: warpAffine alone samples bilinearly and would alias fine detail."""
    s = scale_of(m)
    if s < 1:
        rgb = cv2.resize(rgb, (0, 0), fx=s, fy=s, interpolation=cv2.INTER_AREA)
        m = m.copy()
        m[:, :2] /= s
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


OUTER_LEFT, OUTER_RIGHT = 33, 263  # outer eye corners (MediaPipe face mesh)


def eye_distance(lm: np.ndarray) -> float:
    """Pixels between the outer eye corners of face-mesh landmarks ``lm`` (N×2)."""
    return float(np.hypot(*(lm[OUTER_RIGHT] - lm[OUTER_LEFT])))


def crops_of(rgb: np.ndarray, tracker: object, segmenter: object, size: int, min_eye_px: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(crop, landmarks, person) for each face in one picture whose eyes are ``min_eye_px`` apart or more."""
    from realtime.analysis.tracking import face_transform

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    faces = tracker.faces(bgr, 0.0)  # type: ignore[attr-defined]
    if not faces:
        return []
    person = segmenter(bgr)  # type: ignore[operator]
    out = []
    for face in faces:
        if eye_distance(face.landmarks) < min_eye_px:
            continue
        m = face_transform(face, size)
        crop = warp_crop(rgb, m, size)
        lm = face.landmarks @ m[:, :2].T + m[:, 2]
        mask = cv2.warpAffine(person, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out.append((crop, lm.astype(np.float32), np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)))
    return out


def find_face_crops(root: Path, size: int = 256, video_every: int = 5, min_eye_px: float = 40.0) -> FaceCrops:
    """Every face in the photos and sampled video frames under ``root``, aligned at ``size``²."""
    from realtime.analysis.segmentation import MaskConfig, PersonSegmenter
    from realtime.analysis.tracking import FaceTracker

    files = list_media(root, IMAGE_EXTS | VIDEO_EXTS)
    files = [p for p in files if "styles" not in p.parts and "noface" not in p.parts]
    if not files:
        raise UserError(f"no photos or videos under {root}: pass --data or set REALTIME_DATA")
    tracker = FaceTracker(static=True, max_faces=16, max_side=1280)
    segmenter = PersonSegmenter(MaskConfig(model="general"), static=True)
    images, marks, persons, sources = [], [], [], []
    try:
        for path in tqdm(files, desc="finding faces", unit="file"):
            frames = read_video_frames(path, video_every) if path.suffix.lower() in VIDEO_EXTS else [read_rgb(path)]
            for rgb in frames:
                for crop, lm, person in crops_of(rgb, tracker, segmenter, size, min_eye_px):
                    images.append(crop)
                    marks.append(lm)
                    persons.append(person)
                    sources.append(path.stem)
    finally:
        tracker.close()
        segmenter.close()
    if not images:
        raise UserError(f"no faces found under {root}")
    return FaceCrops(np.stack(images), np.stack(marks), np.stack(persons), tuple(sources))


def cached_face_crops(root: Path, cache_dir: Path, size: int = 256) -> FaceCrops:
    """:func:`find_face_crops`, cached in ``cache_dir`` under a key of the file list and size."""
    files = sorted(str(p.relative_to(root)) + f":{p.stat().st_size}" for p in list_media(root, IMAGE_EXTS | VIDEO_EXTS))
    key = hashlib.sha1(("\n".join(files) + f"\n{size}").encode()).hexdigest()[:12]
    path = cache_dir / f"face_crops_{size}_{key}.npz"
    if path.is_file():
        z = np.load(path)
        return FaceCrops(z["images"], z["landmarks"], z["person"], tuple(str(s) for s in z["sources"]))
    crops = find_face_crops(root, size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=crops.images, landmarks=crops.landmarks, person=crops.person, sources=np.array(crops.sources))
    log.info("cached %d face crops in %s", len(crops), path)
    return crops


def jitter(size: int, rng: random.Random, shift: float = 0.03, scale: float = 0.05, roll: float = 4.0) -> np.ndarray:
    """A small random similarity (2×3) about the crop's centre: the live tracker's crops wobble
    by about this much, so the network should not depend on the exact alignment."""
    c = size / 2
    m = cv2.getRotationMatrix2D((c, c), rng.uniform(-roll, roll), 1 + rng.uniform(-scale, scale))
    m[:, 2] += (rng.uniform(-shift, shift) * size, rng.uniform(-shift, shift) * size)
    return m


class FaceTeacherPairs:
    """Training pairs: a random crop (mirrored half the time, jittered), and ``teacher`` on it."""

    def __init__(self, crops: FaceCrops, teacher: FaceDraw, size: int, flip: bool = True) -> None:
        """``size``: the network's crop side; the teacher draws on the cached (larger) crop and
        both are shrunk afterwards, so thin wrinkles stay anti-aliased."""
        if not len(crops):
            raise UserError("no face crops to train on")
        self.crops, self.teacher, self.size, self.flip = crops, teacher, size, flip

    def sample(self, rng: random.Random) -> tuple[np.ndarray, np.ndarray, int | None]:
        i = rng.randrange(len(self.crops))
        img, lm, person = self.crops.images[i], self.crops.landmarks[i], self.crops.person[i]
        out, code = self.teacher(img, lm, person, rng)
        side = img.shape[0]
        m = jitter(side, rng)
        src, dst = (cv2.resize(cv2.warpAffine(a, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101),
                               (self.size, self.size), interpolation=cv2.INTER_AREA) for a in (img, out))
        if self.flip and rng.random() < 0.5:
            src, dst = src[:, ::-1], dst[:, ::-1]
        return np.ascontiguousarray(src), np.ascontiguousarray(dst), code
