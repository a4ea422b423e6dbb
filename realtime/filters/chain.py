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
from typing import Callable, Sequence

import numpy as np

from realtime.analysis.analysers import PERSON, Analysis, AnalysisOptions, FrameAnalysis
from realtime.compositing.background import Backdrop, parse_background
from realtime.errors import UserError
from realtime.filters.kinds.base import EFFECTS, Filter, Settings, filter_for
from realtime.filters.kinds.frame_filter import grow
from realtime.filters.loading import ModelLoader
from realtime.filters.registry import resolve_filter
from realtime.imaging import shrink

log = logging.getLogger(__name__)
NONE = "none"  # --filter none: no network filter (a background only, say)


def add_ms(ms: dict[str, float], step: str, start: float) -> None:
    """The milliseconds since ``start`` (``time.perf_counter``) added to ``ms[step]``: the
    chain's shrink ahead and its grow back are both ``resize``, with the filters' own."""
    ms[step] = ms.get(step, 0.0) + (time.perf_counter() - start) * 1000


@dataclass(frozen=True)
class ChainResult:
    image: np.ndarray
    # milliseconds: "filter:NAME" (whole call), "infer:NAME" (inside ONNX Runtime), "background", and
    # each step around the networks (kinds.base.STEPS: "resize", "paste", …) over the whole chain
    ms: dict[str, float]


class Chain:
    def __init__(self, filters: Sequence[Filter], settings: Settings = Settings()) -> None:
        """``filters`` may be empty (``--filter none``): the chain then only composites the
        background its settings ask for."""
        self.filters = tuple(filters)
        self.settings = settings  # defaults for calls that pass none
        self.name = "+".join(f.name for f in self.filters) or NONE
        self.needs: frozenset[str] = frozenset().union(*(f.needs for f in self.filters))
        self.networks = sum(hasattr(f, "model") for f in self.filters)  # filters that run an ONNX model
        self._warned: set[str] = set()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._backdrops: dict[str, Backdrop | None] = {}  # --background texts given to apply(), parsed once

    def needs_for(self, settings: Settings) -> frozenset[str]:
        """The analysis one call with ``settings`` needs: the filters' and the background's."""
        return self.needs | settings.needs

    def sizes_for(self, hw: tuple[int, int], settings: Settings) -> dict[str, tuple[int, int]]:
        """The analysis results this chain reads at a size other than the frame's ``hw`` with
        ``settings`` (the ``sizes`` of :class:`realtime.analysis.analysers.Analysis`): the person
        mask, at the shrunk copy's size, when the chain composes a scale-free background there
        (:meth:`shrink_ahead`). It reads no full-size mask then, and the mask is refined at
        that size: 683×384 is 28 % of a 720p frame's pixels, 13 % of a 1080p frame's."""
        ahead = self.shrink_ahead(hw, settings)
        return {PERSON: ahead[1]} if ahead is not None and self._composes_small(ahead[0], settings) else {}

    def leading_free(self, settings: Settings) -> int:
        """How many filters at the start of the chain need no analysis with ``settings``: they
        can run while the frame is still being analysed (``cartoon --background blur``: the
        network and the person's mask at the same time)."""
        if settings.region != "all":
            return 0
        count = 0
        for f in self.filters:
            if f.needs:
                break
            count += 1
        return count

    def shrink_ahead(self, hw: tuple[int, int], settings: Settings) -> tuple[int, tuple[int, int]] | None:
        """(i, small_hw) when filter ``i`` shrinks the frame to ``small_hw`` before its network
        anyway and only scale-free work is around it: the filters before it (``aged+cartoon``,
        ``big_eyes+glasses+cartoon`` at 720p and up) or, when it is the last, a scale-free
        background (``cartoon --background blur``). The chain then shrinks the frame first, runs
        that work on the small copy with the analysis resized, and grows the result back as
        filter ``i`` would have grown its output. The picture is the same within the rounding
        and the person mask's edge (what filter ``i`` saw is the scale-free filters' output
        shrunk; the blur or colour behind the person is smooth), for a fraction of the pixels:
        ``cartoon``'s 683x384 is 28 % of a 720p frame. Only at full strength over the whole
        frame, where filter ``i``'s output is all that is left of the frame."""
        if settings.strength < 1.0 or settings.region != "all":
            return None
        for i, f in enumerate(self.filters):
            if not getattr(f, "scale_free", False):
                work_hw = getattr(f, "work_hw", None)
                if work_hw is None or (i == 0 and not self._composes_small(i, settings)):
                    return None
                small = work_hw(hw, settings)
                return (i, small) if small != hw else None
        return None

    def _composes_small(self, i: int, settings: Settings) -> bool:
        """Whether filter ``i`` is the last and a scale-free background follows it."""
        return i == len(self.filters) - 1 and getattr(settings.background, "scale_free", False)

    def process(self, bgr: np.ndarray, analysis: FrameAnalysis | Callable[[], FrameAnalysis],
                settings: Settings | None = None) -> ChainResult:
        """``analysis``: the frame's, or a call that waits for it (analysed elsewhere meanwhile):
        it is called once, when the first filter or the background that needs it comes."""
        settings = settings or self.settings
        ms: dict[str, float] = {}
        pending = analysis if callable(analysis) else None
        if pending is not None:
            analysis = FrameAnalysis()
        full_hw = bgr.shape[:2]
        ahead = self.shrink_ahead(full_hw, settings)  # None below full strength
        compose_small = ahead is not None and self._composes_small(ahead[0], settings)
        small_hw = full_hw if ahead is None else ahead[1]
        if ahead is not None:
            start = time.perf_counter()
            bgr = shrink(bgr, small_hw[1], small_hw[0])
            add_ms(ms, "resize", start)
        made: list[tuple[FrameAnalysis, FrameAnalysis]] = []  # the last analysis resized, and it at the small size

        def small(of: FrameAnalysis) -> FrameAnalysis:
            """``of`` at the shrunk size, made once per analysis (the mask is resized once a frame)."""
            if not made or made[0][0] is not of:
                made[:] = [(of, of.resized(full_hw, small_hw))]
            return made[0][1]

        if settings.strength > 0:
            for i, f in enumerate(self.filters):
                if pending is not None and (f.needs or settings.region != "all"):
                    analysis, pending = pending(), None
                seen = small(analysis) if ahead is not None and i <= ahead[0] else analysis
                start = time.perf_counter()
                applied = f.apply(bgr, seen, settings)
                ms[f"filter:{f.name}"] = (time.perf_counter() - start) * 1000
                ms[f"infer:{f.name}"] = applied.infer_ms
                for step, took in applied.steps.items():
                    ms[step] = ms.get(step, 0.0) + took  # a step may come in more than one filter
                if applied.nonfinite and f.name not in self._warned:
                    self._warned.add(f.name)  # a log dedupe, not state any result depends on
                    log.warning("%s returned NaN or infinite values; passing those frames through unfiltered", f.name)
                bgr = applied.image
                if ahead is not None and i == ahead[0] and not compose_small:
                    # scale-free filters do not move the picture: the full-size analysis holds (a frame
                    # the network failed on comes back as the shrunk input, grown)
                    start = time.perf_counter()
                    bgr = grow(bgr, full_hw)
                    add_ms(ms, "resize", start)
                if applied.analysis is not None:  # the picture moved (auto_frame): so did the faces and the mask
                    analysis = applied.analysis
        if pending is not None and settings.background is not None:
            analysis, pending = pending(), None
        if settings.background is not None and analysis.person is not None:
            start = time.perf_counter()
            bgr = settings.background.compose(bgr, small(analysis).person if compose_small else analysis.person)
            ms["background"] = (time.perf_counter() - start) * 1000
        if compose_small:
            start = time.perf_counter()
            bgr = grow(bgr, full_hw)
            add_ms(ms, "resize", start)
        return ChainResult(bgr, ms)

    def apply(self, bgr: np.ndarray, settings: Settings | None = None, **overrides: object) -> np.ndarray:
        """Filter one still BGR uint8 image (any size); ``overrides`` change single settings,
        e.g. ``chain.apply(img, strength=0.5, latent=2, background="blur")``."""
        if not isinstance(bgr, np.ndarray) or bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3 or 0 in bgr.shape:
            got = f"{bgr.dtype} {bgr.shape}" if isinstance(bgr, np.ndarray) else type(bgr).__name__
            raise UserError(f"Chain.apply takes a BGR uint8 image of shape H×W×3, got {got}")
        if isinstance(overrides.get("background"), str):  # read each file once, not on every call
            overrides["background"] = self._backdrop(overrides["background"])  # type: ignore[arg-type]
        settings = make_settings(settings or self.settings, **overrides)
        needs = self.needs_for(settings)
        analysis = self._still_analysis()(bgr, needs=needs, sizes=self.sizes_for(bgr.shape[:2], settings)) if needs else FrameAnalysis()
        return self.process(bgr, analysis, settings).image

    def _backdrop(self, text: str) -> "Backdrop | None":
        with self._lock:
            if text not in self._backdrops:
                self._backdrops[text] = parse_background(text)
            return self._backdrops[text]

    def _still_analysis(self) -> Analysis:
        analysis = getattr(self._local, "analysis", None)
        if analysis is None:
            analysis = self._local.analysis = Analysis(options=AnalysisOptions(still_images=True, segmentation="general"))
        return analysis


def make_settings(base: Settings = Settings(), **changes: object) -> Settings:
    """``base`` with ``changes``; a background may be given as text (``"blur:0.8"``)."""
    if isinstance(changes.get("background"), str):
        changes["background"] = parse_background(changes["background"])  # type: ignore[arg-type]
    try:
        return replace(base, **changes)  # type: ignore[arg-type]
    except TypeError as exc:
        raise UserError(f"{exc} (settings are {', '.join(Settings.__dataclass_fields__)})") from None


def split_spec(spec: str) -> list[str]:
    """The names in ``a+b+c``; ``none`` (alone) is the empty chain. ValueError (the reason, no
    option name: the CLI and the web server word it for their users) for an empty spec, an
    empty name between ``+`` signs (``cartoon+`` is a typo, not ``cartoon``) or ``none`` in a chain."""
    parts = [p.strip() for p in str(spec).split("+")]
    if parts == [""]:
        raise ValueError("a filter name is needed, e.g. cartoon, or none")
    if "" in parts:
        raise ValueError(f"{spec!r} has an empty name between '+' signs")
    if parts == [NONE]:
        return []
    if NONE in parts:
        raise ValueError("'none' cannot be chained with other filters")
    return parts


def parse_spec(spec: str, flag: str = "--filter") -> list[str]:
    """:func:`split_spec` for a command line's ``flag``: a one-line :class:`UserError` that names it."""
    try:
        return split_spec(spec)
    except ValueError as e:
        raise UserError(f"{flag} {spec}: {e} (see --list-filters)") from None


def chain_files(spec: str, flag: str | None = None) -> list[Path]:
    """The ONNX files a chain spec names (effects without a network are left out); unknown
    names fail here, before anything loads, in a line that starts with ``flag`` where one is
    given (a run with --filter and --on-smile says which of the two)."""
    parts = parse_spec(spec, flag or "--filter")
    try:
        return [resolve_filter(part) for part in parts if part not in EFFECTS]
    except UserError as e:
        if flag is None:
            raise
        raise UserError(f"{flag}: {e}") from None


def build_chain(spec: str, loader: ModelLoader, settings: Settings = Settings(), extra: Sequence[Filter] = ()) -> Chain:
    """The chain for ``spec`` (bundled names, ONNX paths and effect names joined by ``+``),
    with models from ``loader``, then ``extra`` filters (a user's sticker)."""
    parts = [(part, None) if part in EFFECTS else (part, resolve_filter(part)) for part in parse_spec(spec)]  # every name checked first
    filters = [EFFECTS[part](settings) if path is None else filter_for(loader.model(path)) for part, path in parts]
    return Chain([*filters, *extra], settings)


def load_chain(spec: str, provider: str = "auto", variant: str = "auto", threads: int = 0, **settings: object) -> Chain:
    """The library entry point: ``load_chain("cartoon").apply(bgr)``. ``settings`` are
    :class:`~realtime.filters.kinds.Settings` fields (strength, latent, work_size, background such
    as ``"blur"``, region)."""
    defaults = make_settings(**settings)
    return build_chain(spec, ModelLoader(provider, variant, threads, work_size=defaults.work_size), defaults)
