"""--on-smile and --events: the trigger switches the chain and logs each change with its frame."""
from __future__ import annotations

import json
from typing import Mapping

import cv2
import numpy as np
import pytest

import realtime
import realtime.analysis.analysers as analysis
from realtime.analysis.analysers import FACES, SMILE, AnalyserKind, AnalysisOptions
from realtime.analysis.expressions import Smile
from realtime.filters.chain import Chain
from realtime.live.controls import ControlState
from realtime.live.process import Event, FrameProcessor, Triggers


class ScriptedSmile:
    """A smile analyser that smiles from 0.3 s to 0.6 s of the stream (frames 9-17 at 30 fps)."""

    def __init__(self, options: AnalysisOptions) -> None:
        pass

    def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object], hw: tuple[int, int] | None = None) -> Smile:
        on = 0.3 - 1e-6 <= t < 0.6 - 1e-6
        return Smile(2.0 if on else 0.0, on, True)

    def close(self) -> None:
        pass


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setitem(analysis.ANALYSERS, SMILE, AnalyserKind(ScriptedSmile))


def test_the_smile_chain_takes_over_while_smiling_and_every_change_is_logged(scripted, tmp_path):
    out, events = tmp_path / "o.mp4", tmp_path / "e.jsonl"
    config = realtime.RunConfig(filter="none", on_smile="candy", events=events, source="synthetic", size=(160, 120),
                                fps=30.0, frames=30, fast=True, preview=False, output=out, provider="cpu", temporal=False)
    realtime.run(config)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines == [{"frame": 9, "t": 0.3, "event": "smile", "on": True},
                     {"frame": 18, "t": 0.6, "event": "smile", "on": False}]
    raw = realtime.RunConfig(filter="none", source="synthetic", size=(160, 120), frames=30, fast=True, preview=False,
                             output=tmp_path / "raw.mp4", temporal=False)
    realtime.run(raw)
    a, b = cv2.VideoCapture(str(out)), cv2.VideoCapture(str(tmp_path / "raw.mp4"))
    diffs = [float(np.abs(a.read()[1].astype(int) - b.read()[1]).mean()) for _ in range(30)]
    styled = [i for i, d in enumerate(diffs) if d > 10]
    assert styled == list(range(9, 18)), diffs


def test_the_processor_reports_changes_as_return_values(scripted):
    candy = realtime.load_chain("candy", provider="cpu")
    processor = FrameProcessor([Chain([])], temporal=False, triggers=Triggers(on_smile=candy))
    frame = np.full((64, 64, 3), 100, np.uint8)
    results = [processor(frame, i / 30, ControlState()) for i in range(20)]
    assert [(i, r.events) for i, r in enumerate(results) if r.events] == [(9, (Event("smile", True),)), (18, (Event("smile", False),))]
    assert [r.chain for r in results[8:11]] == ["none", "candy", "candy"] and results[18].chain == "none"
    processor.close()


def test_the_smile_runs_after_the_face_mesh_it_reads():
    assert analysis.run_order(frozenset({SMILE})) == [FACES, SMILE]
    assert analysis.run_order(frozenset({SMILE, FACES, "person"})) == [FACES, "person", SMILE]
    with pytest.raises(realtime.UserError, match="no analyser provides"):
        analysis.run_order(frozenset({"aura"}))


def test_events_file_is_checked_before_work(tmp_path):
    with pytest.raises(realtime.UserError, match="--events"):
        realtime.run(realtime.RunConfig(filter="none", on_smile="candy", events=tmp_path, source="synthetic",
                                        frames=2, preview=False))
