"""One frame's processing: the analysis its chain needs, then the chain, whose networks are
stabilised over time (:mod:`realtime.compositing.temporal`).

The frame and the live controls' snapshot come in; the image and the stage timings come back
(:class:`Processed`). The processor owns what lives across frames of one stream: the chains
the hotkeys switch between (built once each), the analysers (face tracking smooths over
time) and the stream's memory (each network's previous output, the effects' state), handed to the chain with
each frame's settings.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from realtime.analysis.analysers import FACES, SMILE, Analysis, AnalysisOptions, FrameAnalysis
from realtime.compositing.background import Backdrop
from realtime.filters.chain import Chain, build_chain
from realtime.live.controls import ControlState
from realtime.filters.kinds.base import Filter, Settings
from realtime.filters.loading import ModelLoader
from realtime.compositing.temporal import TemporalMemory
from realtime.live.turns import Turn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """A trigger changed state on this frame (``--events`` writes one JSON line each)."""

    event: str  # e.g. "smile"
    on: bool


@dataclass(frozen=True)
class Processed:
    image: np.ndarray
    chain: str  # the chain's name, e.g. cartoon+candy
    ms: dict[str, float] = field(default_factory=dict)  # stage → milliseconds
    faces: int = 0  # faces found in this frame
    events: tuple[Event, ...] = ()  # triggers that changed on this frame
    background: str = ""  # the background mode in use ("" = kept)


class ChainOptions:
    """The chains the n/p hotkeys cycle through: the one asked for, then each other bundled
    filter; each is built on first use and kept."""

    def __init__(self, specs: list[str], loader: ModelLoader, settings: Settings = Settings(), extra: Sequence[Filter] = ()) -> None:
        """``extra``: filters added to the end of every chain (a user's sticker stays on)."""
        self.specs, self.loader, self.settings, self.extra = specs, loader, settings, tuple(extra)
        self.chains: dict[int, Chain] = {}

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, option: int) -> Chain:
        option %= len(self.specs)
        if option not in self.chains:
            self.chains[option] = build_chain(self.specs[option], self.loader, self.settings, self.extra)
        return self.chains[option]


@dataclass(frozen=True)
class Triggers:
    """Chains that take over while a trigger is on."""

    on_smile: Chain | None = None  # --on-smile NAME: this chain while the person smiles


class FrameProcessor:
    def __init__(self, chains: Sequence[Chain], track: str = "auto", temporal: bool = True,
                 backgrounds: Sequence[Backdrop | None] = (None,), triggers: Triggers = Triggers(),
                 options: AnalysisOptions = AnalysisOptions()) -> None:
        """``chains``: what the n/p hotkeys cycle through (a list, or :class:`ChainOptions`
        that builds them on first use); ``track``: auto = face analysis only while a filter
        needs it, always, off; ``backgrounds``: what the b hotkey cycles through (the first
        is used at the start); ``triggers``: chains that take over while a trigger is on."""
        self.chains, self.track, self.backgrounds, self.triggers = chains, track, list(backgrounds) or [None], triggers
        self.temporal = TemporalMemory(stabilise=temporal)  # --no-temporal: effects keep their state, no stabiliser runs
        self.option = 0
        self.shown = chains[0]  # the chain whose output was last shown (a trigger may have swapped it)
        self.smiling = False
        self._pool: ThreadPoolExecutor | None = None  # the analysis thread of :meth:`_overlapped`
        # MediaPipe starts before the first frame, not during it
        self.analysis = Analysis(self._needs(chains[0], replace(chains[0].settings, background=self.backgrounds[0])), options)

    def _needs(self, chain: Chain, settings: Settings) -> frozenset[str]:
        needs = set(chain.needs_for(settings))
        if self.triggers.on_smile is not None:
            needs |= {SMILE} | self.triggers.on_smile.needs_for(settings)
        if self.track == "always":
            needs.add(FACES)
        elif self.track == "off":
            needs.discard(FACES)
        return frozenset(needs)

    def __call__(self, image: np.ndarray, t: float, state: ControlState, turn: Turn | None = None) -> Processed:
        """``turn``: the frame's place among the frames in flight (:mod:`realtime.live.turns`):
        its networks run aside while the next frame goes on; None: one frame at a time."""
        start = time.perf_counter()
        waited = turn.waited_ms if turn is not None else 0.0
        option = state.option % len(self.chains)
        chain = self.chains[option]
        if option != self.option:  # a hotkey switched filters
            self.option = option
            log.info("filter: %s", chain.name)
        backdrop = self.backgrounds[state.background % len(self.backgrounds)]
        settings = replace(chain.settings, strength=state.strength, latent=state.latent, background=backdrop,
                           turn=turn)
        needs = self._needs(chain, settings)
        # results at the size the chain reads them; with a trigger, the chain that reads them is not known yet
        sizes = chain.sizes_for(image.shape[:2], settings) if state.enabled and self.triggers.on_smile is None else {}
        events: list[Event] = []
        beside: AnalysisBeside | None = None
        if state.enabled and needs and self.triggers.on_smile is None and chain.leading_free(settings):
            # the chain's first filters need no analysis: they run while the frame is analysed
            beside = self._beside(image, t, needs, sizes)
        else:
            analysis = self.analysis(image, t, needs, sizes)
            if analysis.smile is not None and analysis.smile.on != self.smiling:
                self.smiling = analysis.smile.on
                events.append(Event("smile", self.smiling))
                log.info("smile %s", "on" if self.smiling else "off")
            if self.smiling and self.triggers.on_smile is not None:
                chain = self.triggers.on_smile
        if chain is not self.shown:
            self.shown = chain
            self.temporal.reset()
        out, chain_ms = image, {}
        if state.enabled:
            try:
                result = chain.process(image, beside or analysis, replace(settings, temporal=self.temporal))
            finally:
                if beside is not None:
                    analysis = beside()  # never two analyses at once, even when the chain failed
            out, chain_ms = result.image, result.ms
        ms = {name if name != FACES else "track": v for name, v in analysis.ms.items()}
        ms.update(chain_ms)
        if state.enabled and self.temporal.enabled:
            ms["temporal"] = self.temporal.take_ms()  # inside the filters' times, reported on its own too
        # the analysis's time on this thread: all of it, or only the wait when it ran beside the filters
        analysed_here = sum(analysis.ms.values()) if beside is None else beside.waited
        if beside is not None:
            ms["analysis_wait"] = beside.waited
        if turn is not None:  # waiting for the frame before this one to finish, after a network
            ms["turn_wait"] = turn.waited_ms - waited
        ms["process"] = (time.perf_counter() - start) * 1000
        # everything done to a frame besides ONNX Runtime, the analysers (MediaPipe) and waiting for its turn
        ms["non_inference"] = (ms["process"] - analysed_here - ms.get("turn_wait", 0.0)
                               - sum(v for k, v in ms.items() if k.startswith("infer:")))
        return Processed(out, chain.name, ms, len(analysis.faces), tuple(events), backdrop.name if backdrop else "")

    def overlaps(self) -> bool:
        """Whether a frame may start while the one ahead runs its network: only while the chain
        in use has at most one network. Only a frame's first network runs beside the frame
        ahead's (:mod:`realtime.live.turns`), so with two (``aged+cartoon``) the second frame
        waits in the middle, holding a frame that grows old: on 2 cores 14.7 → 12.0 fps and a
        live p50 of 87 → 207 ms at 640×480. Read from another thread: one attribute."""
        return self.shown.networks <= 1

    def _beside(self, image: np.ndarray, t: float, needs: frozenset[str], sizes: dict[str, tuple[int, int]]) -> "AnalysisBeside":
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="analysis")
        return AnalysisBeside(self._pool.submit(self.analysis, image, t, needs, sizes))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.analysis.close()
        for backdrop in self.backgrounds:
            close = getattr(backdrop, "close", None)
            if close is not None:
                close()


class AnalysisBeside:
    """A frame's analysis running on the analysis thread while the chain's first filters run
    (at 1280x720, ``cartoon --background blur`` spent 4 ms on the person's mask before its
    24 ms network); calling it waits for the result and counts the wait. One frame's analysis
    at a time, in frame order: the analysers keep the stream's history."""

    def __init__(self, future: Future[FrameAnalysis]) -> None:
        self.future, self.waited = future, 0.0

    def __call__(self) -> FrameAnalysis:
        begin = time.perf_counter()
        try:
            return self.future.result()
        finally:
            self.waited += (time.perf_counter() - begin) * 1000
