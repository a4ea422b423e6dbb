"""The frame's analysis runs beside the chain's first filters when they need none
(``cartoon --background blur``: the network and the person's mask at once), and the chain waits
for it only where it is first needed; the picture is the same as one analysed first."""
from __future__ import annotations

import threading
from typing import Mapping

import numpy as np
import pytest

import realtime.analysis.analysers as analysers
from realtime.analysis.analysers import PERSON, AnalyserKind, AnalysisOptions, FrameAnalysis
from realtime.compositing.background import ColourBackdrop
from realtime.filters.chain import Chain
from realtime.filters.kinds.base import Applied, Settings
from realtime.live.controls import ControlState
from realtime.live.process import FrameProcessor

WAIT_S = 10.0  # only reached when the two sides do not run at the same time (the failure)


class Brighten:
    """A filter that needs no analysis (like a style network); logs what it saw."""

    name = "brighten"
    needs: frozenset[str] = frozenset()

    def __init__(self, log: list[str], wait_for: threading.Event | None = None, then: threading.Event | None = None) -> None:
        self.log, self.wait_for, self.then = log, wait_for, then
        self.threads: list[str] = []

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        self.threads.append(threading.current_thread().name)
        if self.wait_for is not None:  # the analysis has started: proof that both run at once
            self.log.append("analysis started" if self.wait_for.wait(WAIT_S) else "analysis never started")
        self.log.append(f"brighten (person known: {analysis.person is not None})")
        if self.then is not None:
            self.then.set()
        return Applied(np.clip(bgr.astype(np.int16) + 40, 0, 255).astype(np.uint8))


class PersonOnly:
    """A filter that needs the mask: darkens what is not the person."""

    name = "person-only"
    needs: frozenset[str] = frozenset({PERSON})

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        self.log.append(f"person-only (person known: {analysis.person is not None})")
        return Applied((bgr * analysis.person[..., None]).astype(np.uint8))


def left_half(shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    mask[:, : shape[1] // 2] = 1.0
    return mask


def test_the_chain_asks_for_the_analysis_once_where_it_is_first_needed():
    log: list[str] = []
    frame = np.full((8, 10, 3), 100, np.uint8)

    def analysed() -> FrameAnalysis:
        log.append("analysis")
        return FrameAnalysis(person=left_half(frame.shape[:2]))

    chain = Chain([Brighten(log), PersonOnly(log)])
    assert chain.leading_free(Settings()) == 1 and chain.leading_free(Settings(region="person")) == 0
    waited = chain.process(frame, analysed, Settings()).image
    assert log == ["brighten (person known: False)", "analysis", "person-only (person known: True)"]
    first = chain.process(frame, FrameAnalysis(person=left_half(frame.shape[:2])), Settings()).image
    assert np.array_equal(waited, first)

    log.clear()  # a background needs the mask after every filter
    Chain([Brighten(log)]).process(frame, analysed, Settings(background=ColourBackdrop((0, 0, 0))))
    assert log == ["brighten (person known: False)", "analysis"]
    log.clear()  # where the filters apply to the person only, the mask is needed first
    Chain([Brighten(log)]).process(frame, analysed, Settings(region="person"))
    assert log == ["analysis", "brighten (person known: True)"]


class Gate:
    """A person analyser that starts, then holds until the filter beside it has run: it can only
    finish when both run at the same time. Records its thread."""

    started, filtered = threading.Event(), threading.Event()
    threads: list[str] = []
    log: list[str] = []

    def __init__(self, options: AnalysisOptions) -> None:
        pass

    def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object], hw: tuple[int, int] | None = None) -> np.ndarray:
        Gate.threads.append(threading.current_thread().name)
        Gate.started.set()
        Gate.log.append("mask done" if Gate.filtered.wait(WAIT_S) else "filter never ran beside the mask")
        Gate.filtered.clear()
        return left_half(bgr.shape[:2])

    def close(self) -> None:
        pass


@pytest.fixture
def gate(monkeypatch):
    Gate.started.clear()
    Gate.filtered.clear()
    Gate.threads, Gate.log = [], []
    monkeypatch.setitem(analysers.ANALYSERS, PERSON, AnalyserKind(Gate))
    return Gate


def test_the_processor_analyses_beside_the_first_filters_and_gives_the_same_picture(gate):
    brighten = Brighten(gate.log, wait_for=gate.started, then=gate.filtered)
    green = ColourBackdrop((0, 255, 0))
    processor = FrameProcessor([Chain([brighten])], temporal=False, backgrounds=[green])
    frame = np.full((12, 16, 3), 100, np.uint8)
    results = []
    for i in range(3):
        gate.started.clear()
        results.append(processor(frame, i / 30, ControlState()))
    processor.close()
    assert gate.log == ["analysis started", "brighten (person known: False)", "mask done"] * 3
    assert all(name.startswith("analysis") for name in gate.threads)
    assert not any(name.startswith("analysis") for name in brighten.threads)
    expected = Chain([Brighten([])]).process(frame, FrameAnalysis(person=left_half((12, 16))), Settings(background=green)).image
    for r in results:
        assert np.array_equal(r.image, expected) and r.background == green.name
        assert {"person", "analysis_wait", "background", "non_inference"} <= set(r.ms)
        assert r.ms["analysis_wait"] <= r.ms["process"]


def test_a_chain_that_needs_the_analysis_first_is_analysed_first(monkeypatch):
    threads: list[str] = []

    class Mask:
        def __init__(self, options: AnalysisOptions) -> None:
            pass

        def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object], hw: tuple[int, int] | None = None) -> np.ndarray:
            threads.append(threading.current_thread().name)
            return left_half(bgr.shape[:2])

        def close(self) -> None:
            pass

    monkeypatch.setitem(analysers.ANALYSERS, PERSON, AnalyserKind(Mask))
    log: list[str] = []
    processor = FrameProcessor([Chain([PersonOnly(log), Brighten(log)])], temporal=False)
    frame = np.full((12, 16, 3), 100, np.uint8)
    result = processor(frame, 0.0, ControlState())
    processor.close()
    assert log == ["person-only (person known: True)", "brighten (person known: True)"]
    assert threads == [threading.current_thread().name] and "analysis_wait" not in result.ms


class HalfNet:
    """A frame filter that runs at half the frame's size (like a network's work size)."""

    name = "half-net"
    needs: frozenset[str] = frozenset()

    def work_hw(self, hw: tuple[int, int], settings: Settings) -> tuple[int, int]:
        return hw[0] // 2, hw[1] // 2

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        return Applied(bgr)


def test_the_processor_asks_for_the_mask_at_the_size_the_chain_composes_at(monkeypatch):
    """A chain that composes a scale-free background on its shrunk copy gets the mask at that
    size; below full strength (it composes at full size then) the frame's."""
    asked: list[tuple[int, int] | None] = []

    class Mask:
        def __init__(self, options: AnalysisOptions) -> None:
            pass

        def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object], hw: tuple[int, int] | None = None) -> np.ndarray:
            asked.append(hw)
            return left_half(hw or bgr.shape[:2])

        def close(self) -> None:
            pass

    monkeypatch.setitem(analysers.ANALYSERS, PERSON, AnalyserKind(Mask))
    green = ColourBackdrop((0, 255, 0))
    processor = FrameProcessor([Chain([HalfNet()])], temporal=False, backgrounds=[green])
    frame = np.full((24, 32, 3), 100, np.uint8)
    full = processor(frame, 0.0, ControlState())
    weaker = processor(frame, 1 / 30, ControlState(strength=0.5))
    processor.close()
    assert asked == [(12, 16), None]
    expected = Chain([HalfNet()]).process(frame, FrameAnalysis(person=left_half((24, 32))), Settings(background=green)).image
    assert full.image.shape == frame.shape and np.array_equal(full.image, expected)
    assert weaker.image.shape == frame.shape
