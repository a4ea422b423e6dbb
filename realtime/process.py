"""One frame's processing: the analysis its chain needs, the chain, temporal stabilisation.

The frame and the live controls' snapshot come in; the image and the stage timings come back
(:class:`Processed`). The processor owns what lives across frames of one stream: the chains
the hotkeys switch between (built once each), the analysers (face tracking smooths over
time) and the stabiliser (it blends with the previous output).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from realtime.analysis import FACES, Analysis, FrameAnalysis
from realtime.chain import Chain, build_chain
from realtime.controls import ControlState
from realtime.kinds import Settings
from realtime.loading import ModelLoader
from realtime.temporal import TemporalStabilizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processed:
    image: np.ndarray
    chain: str  # the chain's name, e.g. cartoon+candy
    ms: dict[str, float] = field(default_factory=dict)  # stage → milliseconds
    faces: int = 0  # faces found in this frame


class ChainOptions:
    """The chains the n/p hotkeys cycle through: the one asked for, then each other bundled
    filter; each is built on first use and kept."""

    def __init__(self, specs: list[str], loader: ModelLoader, settings: Settings = Settings()) -> None:
        self.specs, self.loader, self.settings = specs, loader, settings
        self.chains: dict[int, Chain] = {}

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, option: int) -> Chain:
        option %= len(self.specs)
        if option not in self.chains:
            self.chains[option] = build_chain(self.specs[option], self.loader, self.settings)
        return self.chains[option]


class FrameProcessor:
    def __init__(self, chains: Sequence[Chain], track: str = "auto", temporal: bool = True) -> None:
        """``chains``: what the n/p hotkeys cycle through (a list, or :class:`ChainOptions`
        that builds them on first use); ``track``: auto = face analysis only while a filter
        needs it, always, off."""
        self.chains, self.track = chains, track
        self.stabilizer = TemporalStabilizer() if temporal else None
        self.analysis: Analysis | None = None
        self.option = 0
        self.analysis = self._analysis_for(chains[0])  # MediaPipe starts before the first frame, not during it

    def _needs(self, chain: Chain) -> frozenset[str]:
        needs = set(chain.needs)
        if self.track == "always":
            needs.add(FACES)
        elif self.track == "off":
            needs.discard(FACES)
        return frozenset(needs)

    def _analysis_for(self, chain: Chain) -> Analysis | None:
        needs = self._needs(chain)
        if self.analysis is not None and self.analysis.needs == needs:
            return self.analysis
        if self.analysis is not None:
            self.analysis.close()
        return Analysis(needs) if needs else None

    def __call__(self, image: np.ndarray, t: float, state: ControlState) -> Processed:
        start = time.perf_counter()
        option = state.option % len(self.chains)
        chain = self.chains[option]
        if option != self.option:  # a hotkey switched filters
            self.option = option
            self.analysis = self._analysis_for(chain)
            if self.stabilizer is not None:
                self.stabilizer.reset()
            log.info("filter: %s", chain.name)
        analysis = self.analysis(image, t) if self.analysis is not None else FrameAnalysis()
        ms = {name if name != FACES else "track": v for name, v in analysis.ms.items()}
        out = image
        if state.enabled:
            result = chain.process(image, analysis, replace(chain.settings, strength=state.strength, latent=state.latent))
            out = result.image
            ms.update(result.ms)
            if self.stabilizer is not None:
                t0 = time.perf_counter()
                out = self.stabilizer(image, out)
                ms["temporal"] = (time.perf_counter() - t0) * 1000
        ms["process"] = (time.perf_counter() - start) * 1000
        # everything done to a frame besides ONNX Runtime and the analysers (MediaPipe)
        ms["non_inference"] = ms["process"] - sum(analysis.ms.values()) - sum(v for k, v in ms.items() if k.startswith("infer:"))
        return Processed(out, chain.name, ms, len(analysis.faces))

    def close(self) -> None:
        if self.analysis is not None:
            self.analysis.close()
