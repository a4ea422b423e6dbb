"""A chain of filters (``--filter a+b``) of any kinds, applied in order to one frame.

:meth:`Chain.process` is the live loop's call: the frame's analysis comes in, the image and
per-filter timings come back. :meth:`Chain.apply` filters one still image by itself, running
the analysis its filters need; it is safe to call from several threads at once (each thread
gets its own still-image analysers; models keep nothing about a call).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from realtime.analysis import Analysis, FrameAnalysis
from realtime.errors import UserError
from realtime.kinds import EFFECTS, Filter, Settings, filter_for
from realtime.loading import ModelLoader
from realtime.registry import resolve_filter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainResult:
    image: np.ndarray
    ms: dict[str, float]  # "filter:NAME" (whole call) and "infer:NAME" (inside ONNX Runtime) → milliseconds


class Chain:
    def __init__(self, filters: Sequence[Filter], settings: Settings = Settings()) -> None:
        if not filters:
            raise UserError("a chain needs at least one filter, e.g. --filter cartoon (see --list-filters)")
        self.filters = tuple(filters)
        self.settings = settings  # defaults for calls that pass none
        self.name = "+".join(f.name for f in self.filters)
        self.needs: frozenset[str] = frozenset().union(*(f.needs for f in self.filters))
        self._warned: set[str] = set()
        self._local = threading.local()

    def process(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings | None = None) -> ChainResult:
        settings = settings or self.settings
        ms: dict[str, float] = {}
        if settings.strength <= 0:
            return ChainResult(bgr, ms)
        for f in self.filters:
            start = time.perf_counter()
            applied = f.apply(bgr, analysis, settings)
            ms[f"filter:{f.name}"] = (time.perf_counter() - start) * 1000
            ms[f"infer:{f.name}"] = applied.infer_ms
            if applied.nonfinite and f.name not in self._warned:
                self._warned.add(f.name)  # a log dedupe, not state any result depends on
                log.warning("%s returned NaN or infinite values; passing those frames through unfiltered", f.name)
            bgr = applied.image
        return ChainResult(bgr, ms)

    def apply(self, bgr: np.ndarray, settings: Settings | None = None, **overrides: object) -> np.ndarray:
        """Filter one still BGR uint8 image (any size); ``overrides`` change single settings,
        e.g. ``chain.apply(img, strength=0.5, latent=2)``."""
        if not isinstance(bgr, np.ndarray) or bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3 or 0 in bgr.shape:
            got = f"{bgr.dtype} {bgr.shape}" if isinstance(bgr, np.ndarray) else type(bgr).__name__
            raise UserError(f"Chain.apply takes a BGR uint8 image of shape H×W×3, got {got}")
        settings = replace(settings or self.settings, **overrides)  # type: ignore[arg-type]
        return self.process(bgr, self._still_analysis()(bgr) if self.needs else FrameAnalysis(), settings).image

    def _still_analysis(self) -> Analysis:
        analysis = getattr(self._local, "analysis", None)
        if analysis is None:
            analysis = self._local.analysis = Analysis(self.needs, still_images=True)
        return analysis


def parse_spec(spec: str) -> list[str]:
    parts = [p.strip() for p in str(spec).split("+") if p.strip()]
    if not parts:
        raise UserError("--filter needs a name, e.g. --filter cartoon (see --list-filters)")
    return parts


def chain_files(spec: str) -> list[Path]:
    """The ONNX files a chain spec names (effects without a network are left out); unknown
    names fail here, before anything loads."""
    return [resolve_filter(part) for part in parse_spec(spec) if part not in EFFECTS]


def build_chain(spec: str, loader: ModelLoader, settings: Settings = Settings()) -> Chain:
    """The chain for ``spec`` (bundled names, ONNX paths and effect names joined by ``+``),
    with models from ``loader``."""
    parts = [(part, None) if part in EFFECTS else (part, resolve_filter(part)) for part in parse_spec(spec)]  # every name checked first
    return Chain([EFFECTS[part](settings) if path is None else filter_for(loader.model(path)) for part, path in parts], settings)


def load_chain(spec: str, provider: str = "auto", variant: str = "auto", threads: int = 0, **settings: object) -> Chain:
    """The library entry point: ``load_chain("cartoon").apply(bgr)``. ``settings`` are
    :class:`~realtime.kinds.Settings` fields (strength, latent, work_size)."""
    try:
        defaults = Settings(**settings)  # type: ignore[arg-type]
    except TypeError as exc:
        raise UserError(f"load_chain: {exc} (settings are {', '.join(Settings.__dataclass_fields__)})") from None
    return build_chain(spec, ModelLoader(provider, variant, threads, work_size=defaults.work_size), defaults)
