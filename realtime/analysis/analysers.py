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

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Mapping, Protocol

import numpy as np

from realtime.errors import UserError
from realtime.imaging import shrink
from realtime.signals import join_or_leave_behind
from realtime.analysis.tracking import Face, FaceTracker

if TYPE_CHECKING:
    from realtime.analysis.expressions import Smile

log = logging.getLogger(__name__)
FACES = "faces"
PERSON = "person"
SMILE = "smile"


@dataclass(frozen=True)
class FrameAnalysis:
    """Everything known about one frame besides its pixels."""

    faces: tuple[Face, ...] = ()  # tracked faces, landmarks smoothed over time
    # H×W: how much each pixel is the person, uint8 in 255ths as the person analyser makes it
    # (a float32 0..1 mask is taken too: realtime.compositing.background.in_255ths); the frame's
    # size, or the size the chain asked for (Analysis' ``sizes``: realtime.filters.chain.Chain.sizes_for)
    person: np.ndarray | None = None
    smile: "Smile | None" = None  # the smile score and trigger state of the first face
    ms: dict[str, float] = field(default_factory=dict)  # analyser name → milliseconds spent

    @property
    def face(self) -> Face | None:
        return self.faces[0] if self.faces else None

    def resized(self, hw: tuple[int, int], new_hw: tuple[int, int]) -> "FrameAnalysis":
        """This analysis of an ``hw`` (h, w) frame for the same frame resized to ``new_hw``: the
        landmarks scaled about pixel centres as ``cv2.resize`` maps them, the person mask
        resized as the frame is (:func:`realtime.imaging.shrink`)."""
        (h, w), (nh, nw) = hw, new_hw
        scale = np.array([nw / w, nh / h], dtype=np.float32)

        def move(points: np.ndarray) -> np.ndarray:
            return ((points + 0.5) * scale - 0.5).astype(points.dtype, copy=False)

        faces = tuple(replace(f, landmarks=move(f.landmarks), raw=move(f.raw)) for f in self.faces)
        person = shrink(self.person, nw, nh) if self.person is not None else None
        return replace(self, faces=faces, person=person)


@dataclass(frozen=True)
class AnalysisOptions:
    """How the analysers run; one set per stream."""

    still_images: bool = False  # unrelated images: no tracking, no smoothing, no reuse
    max_faces: int = 2  # faces tracked at once
    segmentation: str = "landscape"  # MediaPipe selfie segmentation model: landscape (fast) or general
    # an analyser first needed in the middle of a stream (a hotkey chose a face filter) starts on
    # a thread while frames go on without it, instead of holding the stream for its start-up
    start_late_in_background: bool = False


class Analyser(Protocol):
    def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object], hw: tuple[int, int] | None = None) -> object:
        """The frame's value; ``found``: what the analysers before it returned; ``hw``: the (h, w)
        an image result is wanted at (None: the frame's; a result that is no image ignores it)."""

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

    def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object], hw: tuple[int, int] | None = None) -> tuple[Face, ...]:
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
    (MediaPipe's graphs take 50-300 ms to start, the face mesh ~0.55 s on 2 busy cores: before
    the first frame, not during it). A call may ask for others (a hotkey turned the background
    on), which start then and stay; with ``start_late_in_background`` they start on a thread
    and the frames until they run go without them (a face filter shows the frame unchanged for
    half a second) rather than the stream stopping for that half second."""

    def __init__(self, needs: frozenset[str] = frozenset(), options: AnalysisOptions = AnalysisOptions()) -> None:
        self.needs, self.options = needs, options
        self.analysers: dict[str, Analyser] = {}
        self._starting: dict[str, threading.Thread] = {}
        self._failed: dict[str, BaseException] = {}
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._start(needs, wait=True)
        except BaseException:
            self.close()
            raise

    def _start(self, needs: frozenset[str], wait: bool) -> list[str]:
        """The analysers of ``needs`` that can run now, in order (those still starting, and
        those requiring one, left out)."""
        ready: list[str] = []
        for name in run_order(needs):
            with self._lock:
                failed = self._failed.pop(name, None)
                have = name in self.analysers
                starting = name in self._starting
            if failed is not None:
                raise failed
            if not have and not starting:
                if wait:
                    self.analysers[name] = ANALYSERS[name].factory(self.options)
                    have = True
                else:
                    self._start_later(name)
            if have and all(r in ready for r in ANALYSERS[name].requires):
                ready.append(name)
        return ready

    def _start_later(self, name: str) -> None:
        log.info("starting %s analysis in the background; frames go on without it until it runs", name)

        def make() -> None:
            try:
                analyser = ANALYSERS[name].factory(self.options)
            except BaseException as exc:  # raised on the stream's next frame
                with self._lock:
                    self._failed[name] = exc
                    self._starting.pop(name, None)
                return
            with self._lock:
                self._starting.pop(name, None)
                if not self._closed:
                    self.analysers[name] = analyser
                    return
            analyser.close()  # the stream ended meanwhile

        thread = threading.Thread(target=make, name=f"start-{name}", daemon=True)
        with self._lock:
            self._starting[name] = thread
        thread.start()

    def __call__(self, bgr: np.ndarray, t: float | None = None, needs: frozenset[str] | None = None,
                 sizes: Mapping[str, tuple[int, int]] | None = None) -> FrameAnalysis:
        """The frame's analysis for ``needs`` (default: those given at the start); analysers
        not needed on this frame do not run. ``sizes``: (h, w) an image result is wanted at, by
        name, where it is not the frame's (``{PERSON: (384, 683)}``: Chain.sizes_for)."""
        sizes = sizes or {}
        t = time.perf_counter() if t is None else t
        values: dict[str, object] = {}
        ms: dict[str, float] = {}
        wait = not self.options.start_late_in_background
        for name in self._start(self.needs if needs is None else needs, wait):
            start = time.perf_counter()
            values[name] = self.analysers[name](bgr, t, values, sizes.get(name))
            ms[name] = (time.perf_counter() - start) * 1000
        return FrameAnalysis(**values, ms=ms)  # type: ignore[arg-type]

    def close(self, timeout: float = 5.0) -> None:
        """Close every analyser; one still starting is closed by its thread when it is made,
        which is waited for up to ``timeout`` s: a thread still inside MediaPipe's start when
        the interpreter tears down can crash the process on its way out. One that does not
        finish in time is left behind, and the process ends without that teardown
        (:func:`realtime.signals.join_or_leave_behind`)."""
        with self._lock:
            self._closed = True
            analysers, self.analysers = list(self.analysers.values()), {}
            starting = list(self._starting.values())
        for analyser in analysers:
            analyser.close()
        stuck = join_or_leave_behind(starting, timeout)
        if stuck:
            log.warning("%s still starting after %.1f s; left behind", " and ".join(t.name for t in stuck), timeout)
