"""A network on the whole frame: shrunk to its work size (short side), run, resized back
(:func:`grow`; a chain that shrank the frame before the filters ahead of it grows it itself)."""
from __future__ import annotations

import time

import cv2
import numpy as np

from realtime.analysis.analysers import FrameAnalysis
from realtime.filters.engine import FilterModel, NonFiniteOutput
from realtime.compositing.background import mix
from realtime.imaging import blend, shrink, work_shape
from realtime.filters.kinds.base import Applied, Settings, aside, register_model_kind
from realtime.filters.onnx_format import FilterContract


@register_model_kind("frame")
class FrameFilter:
    needs: frozenset[str] = frozenset()

    def __init__(self, model: FilterModel) -> None:
        self.model = model
        self.name = model.name
        self.steady = model.contract.temporal()  # its own stabiliser settings, or None: the stream's

    @staticmethod
    def input_hw(contract: FilterContract, frame_hw: tuple[int, int] | None, work_size: int | None) -> tuple[int, int] | None:
        """(h, w) the model sees for frames of ``frame_hw`` (None: not known yet)."""
        if contract.fixed_size or frame_hw is None:
            return contract.fixed_size
        return work_shape(*frame_hw, work_size or contract.work_size)

    def work_hw(self, hw: tuple[int, int], settings: Settings) -> tuple[int, int]:
        """(h, w) the frame is shrunk to before the network (the frame's own when not larger)."""
        return work_shape(*hw, settings.work_size or self.model.contract.work_size)

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        h, w = bgr.shape[:2]
        sh, sw = self.work_hw((h, w), settings)
        start = time.perf_counter()
        small = shrink(bgr, sw, sh) if (sh, sw) != (h, w) else bgr
        shrunk = time.perf_counter()
        try:
            with aside(settings) as crowded:
                result = self.model.infer(small, settings.latent, crowded)
        except NonFiniteOutput:
            return Applied(bgr, nonfinite=True)
        out = result.image
        if settings.temporal is not None:  # at the work size, before the upscale: where the flicker is made
            out = settings.temporal.stabilise(self.name, small, out, self.steady)
        growing = time.perf_counter()
        out = grow(out, (h, w))
        steps = {"resize": (shrunk - start + time.perf_counter() - growing) * 1000, "planes": result.planes_ms}
        return Applied(in_region(blend(out, bgr, settings.strength), bgr, analysis.person, settings.region), result.ms, steps=steps)


def grow(out: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A network's output at its work size back at the frame's ``hw`` (unchanged when it is).
    Bicubic: at 1280x720 the 853x480 result shrunk back for a 480-line viewer kept 0.93 of its
    band-1 change with bilinear, 0.99 with bicubic, for 0.1 ms more (benchmarks.look_across_sizes)."""
    h, w = hw
    return out if out.shape[:2] == (h, w) else cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC)


def in_region(filtered: np.ndarray, original: np.ndarray, person: np.ndarray | None, region: str) -> np.ndarray:
    """``filtered`` on the person or the background only (the other part stays ``original``);
    everywhere when ``region`` is all or no mask was made."""
    if region == "all" or person is None:
        return filtered
    return mix(filtered, original, person) if region == "person" else mix(original, filtered, person)
