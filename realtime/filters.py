"""Applying filter models to frames: whole-frame and face-crop filters, strength, chains.

A ``frame`` filter runs on the whole frame at its work size (short side) and is resized back;
a ``face`` filter runs on an aligned square crop around the tracked face and is pasted back
with a feathered mask. A chain applies its filters in order. A model that returns NaN makes
its filter pass the frame through, with one warning.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.engine import FilterModel, NonFiniteOutput
from realtime.tracking import Face, face_transform, feather_mask

log = logging.getLogger(__name__)


@dataclass
class FilterSettings:
    strength: float = 1.0  # 0 = input, 1 = full filter
    enabled: bool = True
    work_size: int | None = None  # override the model's short side for frame filters


def work_shape(h: int, w: int, short: int) -> tuple[int, int]:
    """(height, width) after shrinking so the short side is at most ``short`` (never enlarged)."""
    scale = min(1.0, short / min(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def blend(filtered: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    if strength >= 1.0:
        return filtered
    if strength <= 0.0:
        return original
    return cv2.addWeighted(filtered, strength, original, 1.0 - strength, 0.0)


class AppliedFilter:
    def __init__(self, model: FilterModel, settings: FilterSettings) -> None:
        self.model, self.settings = model, settings
        self.warned = False
        self._mask = feather_mask(model.contract.work_size) if model.contract.kind == "face" else None

    @property
    def name(self) -> str:
        return self.model.name

    def apply(self, bgr: np.ndarray, face: Face | None) -> np.ndarray:
        try:
            if self.model.contract.kind == "face":
                return self._apply_face(bgr, face)
            return self._apply_frame(bgr)
        except NonFiniteOutput as exc:
            if not self.warned:
                log.warning("%s; passing frames through unfiltered", exc)
                self.warned = True
            return bgr

    def _apply_frame(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        sh, sw = work_shape(h, w, self.settings.work_size or self.model.contract.work_size)
        small = cv2.resize(bgr, (sw, sh), interpolation=cv2.INTER_AREA) if (sh, sw) != (h, w) else bgr
        out = self.model.run(small)
        if (sh, sw) != (h, w):
            out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
        return blend(out, bgr, self.settings.strength)

    def _apply_face(self, bgr: np.ndarray, face: Face | None) -> np.ndarray:
        if face is None:
            return bgr
        size = self.model.contract.work_size
        m = face_transform(face, size)
        crop = cv2.warpAffine(bgr, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        styled = self.model.run(crop)
        h, w = bgr.shape[:2]
        inv = cv2.invertAffineTransform(m)
        back = cv2.warpAffine(styled, inv, (w, h), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(self._mask, inv, (w, h), flags=cv2.INTER_LINEAR)[..., None] * self.settings.strength
        return (bgr * (1.0 - alpha) + back * alpha + 0.5).astype(np.uint8)


class FilterChain:
    """Filters applied one after the other (``--filter a+b``); timings per filter."""

    def __init__(self, filters: list[AppliedFilter]) -> None:
        self.filters = filters
        self.enabled = True

    @property
    def needs_face(self) -> bool:
        return any(f.model.contract.kind == "face" for f in self.filters)

    @property
    def name(self) -> str:
        return "+".join(f.name for f in self.filters)

    def apply(self, bgr: np.ndarray, face: Face | None, stages: dict[str, float]) -> np.ndarray:
        if not self.enabled:
            return bgr
        for f in self.filters:
            if not f.settings.enabled or f.settings.strength <= 0:
                continue
            start = time.perf_counter()
            f.model.last_run_ms = 0.0
            bgr = f.apply(bgr, face)
            stages[f"filter:{f.name}"] = (time.perf_counter() - start) * 1000
            stages[f"infer:{f.name}"] = f.model.last_run_ms
        return bgr
