"""One ONNX filter model in one ONNX Runtime session, driven by the filter contract.

:class:`FilterModel` takes RGB float32 images in 0–1 (H×W×3), pads them to the model's size
multiple (or resizes to its fixed size), scales to its input range, runs it and returns the
same layout. A model that returns NaN/inf is caught here, not in the picture.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from export.contract import FilterContract, has_contract
from export.errors import UserError
from realtime.providers import ShapeProfile, create_session, short_name

log = logging.getLogger(__name__)


class NonFiniteOutput(RuntimeError):
    """The model produced NaN or infinite values for this frame."""


class FilterModel:
    def __init__(self, path: Path, provider: str = "auto", threads: int = 0, **overrides: object) -> None:
        self.path = Path(path)
        self.session, used = create_session(self.path, provider, ShapeProfile(), threads)
        self.provider = short_name(used)
        inputs = self.session.get_inputs()
        images = [i for i in inputs if len(i.shape) == 4]
        if len(images) != 1:
            raise UserError(f"{self.path.name} is not an image filter: it needs one N×3×H×W input, has {[(i.name, i.shape) for i in inputs]}")
        self.input_name = images[0].name
        self.latent_name = next((i.name for i in inputs if i.name == "latent"), None)
        props = self.session.get_modelmeta().custom_metadata_map
        if has_contract(props):
            contract = FilterContract.from_props(props, fallback_name=self.path.stem)
            contract = replace(contract, **overrides) if overrides else contract  # type: ignore[arg-type]
        else:
            log.info("%s has no filter metadata: inferring the contract from its input shape", self.path.name)
            contract = FilterContract.infer(self.path.stem, images[0].shape, **overrides)
        self.contract = contract
        out_shape = self.session.get_outputs()[0].shape
        if len(out_shape) != 4:
            raise UserError(f"{self.path.name} is not an image filter: its output has shape {out_shape}")
        self.latent = 0

    @property
    def name(self) -> str:
        return self.contract.name

    def set_latent(self, code: int) -> None:
        if self.contract.latent_codes:
            self.latent = code % self.contract.latent_codes

    def prepare(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """H×W×3 float 0–1 → model input (1×3×H'×W') and the original size to crop back to."""
        h, w = rgb.shape[:2]
        c = self.contract
        if c.fixed_size:
            rgb = cv2.resize(rgb, (c.fixed_size[1], c.fixed_size[0]), interpolation=cv2.INTER_AREA)
        else:
            m = c.size_multiple
            ph, pw = (-h) % m, (-w) % m
            if ph or pw:
                rgb = cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_REFLECT_101 if min(h, w) > 1 else cv2.BORDER_REPLICATE)
        x = rgb.transpose(2, 0, 1)[None]
        x = np.ascontiguousarray(x * c.scale if c.scale != 1.0 else x, dtype=np.float32)
        return x, (h, w)

    def run(self, rgb: np.ndarray) -> np.ndarray:
        """Filter one H×W×3 float32 RGB image in 0–1; returns the same shape."""
        x, (h, w) = self.prepare(rgb)
        feeds = {self.input_name: x}
        if self.latent_name:
            feeds[self.latent_name] = np.array([self.latent], dtype=np.int64)
        y = self.session.run(None, feeds)[0][0]
        if not np.isfinite(y).all():
            raise NonFiniteOutput(f"{self.name} returned NaN or infinite values")
        y = y.transpose(1, 2, 0)
        if self.contract.scale != 1.0:
            y = y * (1.0 / self.contract.scale)
        if self.contract.fixed_size:
            return np.clip(cv2.resize(y, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
        return np.clip(y[:h, :w], 0.0, 1.0)

    def warmup(self, size: tuple[int, int] | None = None) -> None:
        """Run once before the first frame so the first real frame is not slow."""
        s = self.contract.work_size
        h, w = size or self.contract.fixed_size or (s, s * 4 // 3)
        self.run(np.full((h, w, 3), 0.5, np.float32))
