"""What a frame is analysed for (faces, and later person masks and expressions), computed
once per frame and only when a filter in the chain declares that it needs it.

A frame filter needs nothing, so a chain of style networks never starts MediaPipe (~10 ms a
frame on 2 cores at 640×480); a face filter declares ``FACES``. Each analyser is registered
by the name of what it provides and returns that value; :class:`Analysis` runs the needed
ones and builds one immutable :class:`FrameAnalysis` from what they return.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from realtime.errors import UserError
from realtime.tracking import Face, FaceTracker

FACES = "faces"


@dataclass(frozen=True)
class FrameAnalysis:
    """Everything known about one frame besides its pixels."""

    faces: tuple[Face, ...] = ()  # tracked faces, landmarks smoothed over time
    ms: dict[str, float] = field(default_factory=dict)  # analyser name → milliseconds spent

    @property
    def face(self) -> Face | None:
        return self.faces[0] if self.faces else None


class Analyser(Protocol):
    def __call__(self, bgr: np.ndarray, t: float) -> object: ...

    def close(self) -> None: ...


# name of what it provides (a FrameAnalysis field) → factory(still_images) → analyser
ANALYSERS: dict[str, Callable[[bool], Analyser]] = {}


def register_analyser(name: str) -> Callable[[Callable[[bool], Analyser]], Callable[[bool], Analyser]]:
    if name not in {f for f in FrameAnalysis.__dataclass_fields__ if f != "ms"}:
        raise ValueError(f"{name!r} is not a FrameAnalysis field")

    def add(factory: Callable[[bool], Analyser]) -> Callable[[bool], Analyser]:
        ANALYSERS[name] = factory
        return factory
    return add


class FaceAnalyser:
    """MediaPipe face mesh: tracking mode with One Euro smoothing on a stream, detection on
    every call for unrelated still images."""

    def __init__(self, still_images: bool) -> None:
        self.tracker = FaceTracker(static=still_images)

    def __call__(self, bgr: np.ndarray, t: float) -> tuple[Face, ...]:
        face = self.tracker.process(bgr, t)
        return (face,) if face is not None else ()

    def close(self) -> None:
        self.tracker.close()


register_analyser(FACES)(FaceAnalyser)


class Analysis:
    """The analysers for ``needs``, run on each frame of one stream (their state is that
    stream's history: use one per stream, or ``still_images=True`` for unrelated images)."""

    def __init__(self, needs: frozenset[str], still_images: bool = False) -> None:
        unknown = sorted(needs - set(ANALYSERS))
        if unknown:
            raise UserError(f"no analyser provides {', '.join(unknown)} (known: {', '.join(sorted(ANALYSERS))})")
        self.needs = needs
        self.analysers = {name: ANALYSERS[name](still_images) for name in sorted(needs)}

    def __call__(self, bgr: np.ndarray, t: float | None = None) -> FrameAnalysis:
        t = time.perf_counter() if t is None else t
        values: dict[str, object] = {}
        ms: dict[str, float] = {}
        for name, analyse in self.analysers.items():
            start = time.perf_counter()
            values[name] = analyse(bgr, t)
            ms[name] = (time.perf_counter() - start) * 1000
        return FrameAnalysis(**values, ms=ms)  # type: ignore[arg-type]

    def close(self) -> None:
        for analyser in self.analysers.values():
            analyser.close()
