"""What a frame is analysed for (faces, the person's mask, the smile), computed once per frame
and only when a filter in the chain declares that it needs it.

A frame filter needs nothing, so a chain of style networks never starts MediaPipe (~10 ms a
frame on 2 cores at 640×480); a face filter declares ``FACES``, a background ``PERSON``, the
smile trigger ``SMILE``. Each analyser is registered by the name of what it provides (a
:class:`FrameAnalysis` field), may require what others provide (the smile reads the face
landmarks), and returns its value; :class:`Analysis` runs the needed ones in order and builds
one immutable :class:`FrameAnalysis` from what they return.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Protocol

import numpy as np

from realtime.errors import UserError
from realtime.analysis.tracking import Face, FaceTracker

if TYPE_CHECKING:
    from realtime.analysis.expressions import Smile

FACES = "faces"
PERSON = "person"
SMILE = "smile"


@dataclass(frozen=True)
class FrameAnalysis:
    """Everything known about one frame besides its pixels."""

    faces: tuple[Face, ...] = ()  # tracked faces, landmarks smoothed over time
    person: np.ndarray | None = None  # H×W float32 in 0..1: how much each pixel is the person
    smile: "Smile | None" = None  # the smile score and trigger state of the first face
    ms: dict[str, float] = field(default_factory=dict)  # analyser name → milliseconds spent

    @property
    def face(self) -> Face | None:
        return self.faces[0] if self.faces else None


@dataclass(frozen=True)
class AnalysisOptions:
    """How the analysers run; one set per stream."""

    still_images: bool = False  # unrelated images: no tracking, no smoothing, no reuse
    max_faces: int = 2  # faces tracked at once
    segmentation: str = "landscape"  # MediaPipe selfie segmentation model: landscape (fast) or general


class Analyser(Protocol):
    def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object]) -> object: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class AnalyserKind:
    factory: Callable[[AnalysisOptions], Analyser]
    requires: tuple[str, ...] = ()  # what it reads from ``found`` (run first)


# name of what it provides (a FrameAnalysis field) → how to make it
ANALYSERS: dict[str, AnalyserKind] = {}


def register_analyser(name: str, requires: tuple[str, ...] = ()) -> Callable[[Callable[[AnalysisOptions], Analyser]], Callable[[AnalysisOptions], Analyser]]:
    if name not in {f for f in FrameAnalysis.__dataclass_fields__ if f != "ms"}:
        raise ValueError(f"{name!r} is not a FrameAnalysis field")

    def add(factory: Callable[[AnalysisOptions], Analyser]) -> Callable[[AnalysisOptions], Analyser]:
        ANALYSERS[name] = AnalyserKind(factory, requires)
        return factory
    return add


@register_analyser(FACES)
class FaceAnalyser:
    """MediaPipe face mesh: tracking mode with One Euro smoothing on a stream, detection on
    every call for unrelated still images."""

    def __init__(self, options: AnalysisOptions) -> None:
        self.tracker = FaceTracker(static=options.still_images, max_faces=options.max_faces)

    def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object]) -> tuple[Face, ...]:
        return self.tracker.faces(bgr, t)

    def close(self) -> None:
        self.tracker.close()


def run_order(needs: frozenset[str]) -> list[str]:
    """``needs`` and what they require, each after what it requires."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"analysers require each other: {' -> '.join(path + (name,))}")
        if name not in ANALYSERS:
            raise UserError(f"no analyser provides {name} (known: {', '.join(sorted(ANALYSERS))})")
        for required in ANALYSERS[name].requires:
            visit(required, path + (name,))
        order.append(name)

    for name in sorted(needs):
        visit(name, ())
    return order


class Analysis:
    """The analysers of one stream (their state is that stream's history: use one per stream,
    or ``still_images=True`` options for unrelated images). Those for ``needs`` start now
    (MediaPipe's graphs take 50-300 ms to start: before the first frame, not during it); a
    call may ask for others (a hotkey turned the background on), which start then and stay."""

    def __init__(self, needs: frozenset[str] = frozenset(), options: AnalysisOptions = AnalysisOptions()) -> None:
        self.needs, self.options = needs, options
        self.analysers: dict[str, Analyser] = {}
        try:
            self._start(needs)
        except BaseException:
            self.close()
            raise

    def _start(self, needs: frozenset[str]) -> list[str]:
        order = run_order(needs)
        for name in order:
            if name not in self.analysers:
                self.analysers[name] = ANALYSERS[name].factory(self.options)
        return order

    def __call__(self, bgr: np.ndarray, t: float | None = None, needs: frozenset[str] | None = None) -> FrameAnalysis:
        """The frame's analysis for ``needs`` (default: those given at the start); analysers
        not needed on this frame do not run."""
        t = time.perf_counter() if t is None else t
        values: dict[str, object] = {}
        ms: dict[str, float] = {}
        for name in self._start(self.needs if needs is None else needs):
            start = time.perf_counter()
            values[name] = self.analysers[name](bgr, t, values)
            ms[name] = (time.perf_counter() - start) * 1000
        return FrameAnalysis(**values, ms=ms)  # type: ignore[arg-type]

    def close(self) -> None:
        for analyser in self.analysers.values():
            analyser.close()
        self.analysers.clear()
