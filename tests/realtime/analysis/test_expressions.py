"""The smile trigger (realtime/analysis/expressions.py) and its benchmark (benchmarks/smile.py).

Landmarks come from the face mesh on real photos in ../shared/data/faces (skipped when the
data is absent); geometric edits of those landmarks (mouth corners moved out and up, one corner
only, the jaw dropped) stand in for expressions the photos do not show.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.errors import UserError, run_cli
from realtime.analysis.expressions import (
    LOWER_INNER, MOUTH_LEFT, MOUTH_RIGHT, POPULATION, Smile, SmileConfig, SmileDetector, eye_frame,
    mouth_features, smile_score,
)
from realtime.analysis.tracking import Face, FaceTracker
from tests.conftest import assert_one_line

FPS = 30.0
NEUTRAL_PHOTO = "face_recognition__rose_leslie_img1.jpg"  # closed mouth, at rest
SMILING = ("dlib__Tom_Cruise_avp_2014_4.jpg", "face_recognition__obama.jpg", "skimage__astronaut.png", "mediapipe__sergey.png")
NOT_SMILING = (NEUTRAL_PHOTO, "face_recognition__kit_harington_john2.jpeg", "liveportrait__s2.jpg", "deepface__img59.jpg",
               "liveportrait__d9.jpg",  # a scream: mouth wide open
               "liveportrait__d8.jpg")  # a frown with the lips pushed up
LABELS = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "smile_labels.csv"


@pytest.fixture(scope="module")
def photo_faces(data_dir: Path) -> dict[str, Face]:
    tracker = FaceTracker(static=True)
    try:
        faces = {}
        for name in {*SMILING, *NOT_SMILING}:
            bgr = cv2.imread(str(data_dir / "faces" / name))
            assert bgr is not None, name
            face = tracker.process(bgr, 0.0)
            assert face is not None, f"no face found in {name}"
            faces[name] = face
        return faces
    finally:
        tracker.close()


@pytest.fixture
def neutral(photo_faces: dict[str, Face]) -> np.ndarray:
    return photo_faces[NEUTRAL_PHOTO].landmarks.copy()


def edited(lm: np.ndarray, moves: dict[int, tuple[float, float]]) -> np.ndarray:
    """``lm`` with points moved by (along the eyes, towards the chin) in eye distances."""
    _, ux, uy, eye = eye_frame(lm)
    out = lm.copy()
    for i, (dx, dy) in moves.items():
        out[i] = out[i] + eye * (dx * ux + dy * uy)
    return out


def smile_of(lm: np.ndarray, out: float = 0.09, up: float = 0.07) -> np.ndarray:
    """Both corners pulled out (each by ``out`` eye distances) and up."""
    return edited(lm, {MOUTH_LEFT: (-out, -up), MOUTH_RIGHT: (out, -up)})


def face(lm: np.ndarray) -> Face:
    return Face(lm, lm)


# --- features -------------------------------------------------------------------------------

@pytest.mark.parametrize("angle, scale, shift", [(-35.0, 0.5, (10.0, -40.0)), (20.0, 2.3, (300.0, 90.0)), (90.0, 1.0, (0.0, 0.0))])
def test_features_ignore_head_roll_scale_and_position(face_photo: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> None:
    tracker = FaceTracker(static=True)
    try:
        found = tracker.process(cv2.cvtColor(face_photo, cv2.COLOR_RGB2BGR), 0.0)
    finally:
        tracker.close()
    assert found is not None
    lm = found.landmarks
    m = cv2.getRotationMatrix2D((200.0, 150.0), angle, scale)
    m[:, 2] += shift
    moved = lm @ m[:, :2].T + m[:, 2]
    a, b = mouth_features(lm), mouth_features(moved)
    np.testing.assert_allclose(b.as_array(), a.as_array(), rtol=1e-9, atol=1e-12)
    # and the image really changed: rotated landmarks, different pixel distances
    assert not np.allclose(moved, lm, atol=1.0)


def test_features_refuse_what_is_not_a_face() -> None:
    with pytest.raises(ValueError, match="landmarks"):
        mouth_features(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="eye"):
        mouth_features(np.zeros((478, 2)))


# --- score ----------------------------------------------------------------------------------

def test_smiling_photos_score_higher_than_neutral_ones(photo_faces: dict[str, Face]) -> None:
    scores = {n: SmileDetector(still_images=True)(photo_faces[n], 0.0) for n in photo_faces}
    smiling = {n: scores[n].score for n in SMILING}
    other = {n: scores[n].score for n in NOT_SMILING}
    assert min(smiling.values()) > max(other.values()), (smiling, other)
    assert all(scores[n].on for n in SMILING), smiling
    assert not any(scores[n].on for n in NOT_SMILING), other  # neutral, a scream, a frown
    assert scores["dlib__Tom_Cruise_avp_2014_4.jpg"].score >= 2.0
    assert not any(s.calibrated for s in scores.values())


def test_a_smile_needs_both_wider_mouth_and_raised_corners(neutral: np.ndarray) -> None:
    cfg = SmileConfig()

    def score(lm: np.ndarray) -> float:
        return smile_score(mouth_features(lm), POPULATION, cfg)

    assert score(neutral) < 0.3
    assert score(smile_of(neutral)) >= 1.0
    # a grimace: the corners pulled far apart but not up
    assert score(edited(neutral, {MOUTH_LEFT: (-0.15, 0.0), MOUTH_RIGHT: (0.15, 0.0)})) < cfg.off_threshold
    # a smirk: one corner up and out, the other where it was
    assert score(edited(neutral, {MOUTH_LEFT: (-0.18, -0.09)})) < cfg.off_threshold
    # a shout: the smile's corners, but the jaw dropped (lower lip far down)
    shout = edited(smile_of(neutral), {LOWER_INNER: (0.0, 0.75)})
    assert mouth_features(shout).opening > 0.65
    assert score(shout) == 0.0
    # a laugh opens the mouth less and still counts
    laugh = edited(smile_of(neutral), {LOWER_INNER: (0.0, 0.2)})
    assert score(laugh) >= 1.0


# --- trigger --------------------------------------------------------------------------------

def feed(detector: SmileDetector, scores: list[float], start: float = 0.0) -> list[bool]:
    return [detector.trigger(s, start + i / FPS) for i, s in enumerate(scores)]


def test_a_single_frame_spike_does_not_turn_it_on() -> None:
    d = SmileDetector()
    assert not any(feed(d, [0.0] * 10 + [3.0] + [0.0] * 30))
    # nor does a score that flips every frame
    assert not any(feed(d, [3.0, 0.0] * 45, start=2.0))


def test_a_held_smile_turns_it_on_after_the_hold_time() -> None:
    cfg = SmileConfig()
    on = feed(SmileDetector(cfg), [0.0] * 30 + [1.5] * 30)
    first = on.index(True)
    held_ms = (first - 30) * 1000 / FPS
    assert cfg.hold_ms <= held_ms < cfg.hold_ms + 1000 / FPS + 1e-6
    assert all(on[first:])


def test_hysteresis_and_release_time() -> None:
    cfg = SmileConfig()
    d = SmileDetector(cfg)
    feed(d, [1.5] * 20)
    assert d.on
    between = (cfg.on_threshold + cfg.off_threshold) / 2
    assert all(feed(d, [between] * 60, start=1.0))  # below on but above off: stays on
    short_dip = int(cfg.release_ms / 1000 * FPS) - 2
    assert all(feed(d, [0.0] * short_dip + [1.5] * 5, start=3.0))  # a dip shorter than the release time
    on = feed(d, [0.0] * 30, start=4.0)
    assert not on[-1]
    assert on.index(False) * 1000 / FPS >= cfg.release_ms - 1e-6


def test_cooldown_keeps_it_off_after_it_went_off() -> None:
    cfg = SmileConfig(cooldown_ms=1000.0)
    d = SmileDetector(cfg)
    feed(d, [1.5] * 20)
    off = feed(d, [0.0] * 10, start=1.0)
    off_frame = off.index(False)
    t_off = 1.0 + off_frame / FPS
    again = feed(d, [1.5] * 60, start=1.0 + 10 / FPS)
    t_on = 1.0 + 10 / FPS + again.index(True) / FPS
    assert t_on - t_off >= cfg.cooldown_ms / 1000 - 1e-6
    # without the cooldown it comes back after the hold time
    d = SmileDetector(SmileConfig(cooldown_ms=0.0))
    feed(d, [1.5] * 20)
    feed(d, [0.0] * 10, start=1.0)
    again = feed(d, [1.5] * 60, start=1.0 + 10 / FPS)
    assert again.index(True) / FPS < 0.5


def test_a_smiling_face_switches_it_on_and_losing_the_face_switches_it_off(neutral: np.ndarray) -> None:
    cfg = SmileConfig()
    d = SmileDetector(cfg)
    results: list[Smile] = []
    for i in range(30):  # 1 s at rest
        results.append(d(face(neutral), i / FPS))
    for i in range(30, 60):  # 1 s smiling
        results.append(d(face(smile_of(neutral)), i / FPS))
    assert not any(r.on for r in results[:30])
    assert results[-1].on and results[-1].score >= 1.0
    lost = [d(None, (60 + i) / FPS) for i in range(30)]
    assert all(r.score == 0.0 for r in lost)
    assert lost[0].on  # not at once: through the same release time as a fading smile
    assert not lost[-1].on


def test_still_images_have_no_hold_time_and_no_calibration(neutral: np.ndarray) -> None:
    d = SmileDetector(still_images=True)
    assert d(face(smile_of(neutral)), 0.0).on
    r = d(face(neutral), 0.01)
    assert not r.on and not r.calibrated
    assert not d(None, 0.02).on


def test_calibration_learns_the_users_neutral_without_their_smiles(neutral: np.ndarray) -> None:
    cfg = SmileConfig(calibration_s=3.0, calibration_weight=0.5)
    # a user whose mouth at rest is 10 % wider than the population's
    own = edited(neutral, {MOUTH_LEFT: (-0.04, 0.0), MOUTH_RIGHT: (0.04, 0.0)})
    own_width = mouth_features(own).width
    d = SmileDetector(cfg)
    first = d(face(own), 0.0)
    assert not first.calibrated
    frames = [own] * 45 + [smile_of(own, out=0.15, up=0.1)] * 30 + [own] * 20  # smiles for 1 s of the 3
    results = [d(face(lm), (1 + i) / FPS) for i, lm in enumerate(frames)]
    assert results[-1].calibrated
    assert not results[60].calibrated  # not before calibration_s
    expected = POPULATION.width + 0.5 * (own_width - POPULATION.width)
    assert d.neutral.width == pytest.approx(expected, abs=0.002)  # the smiling second was left out
    # after calibration the user's rest face scores lower than by population values
    assert d(face(own), 4.0).score <= smile_score(mouth_features(own), POPULATION, cfg)


def test_calibration_starts_again_for_the_next_face_after_a_long_absence(neutral: np.ndarray) -> None:
    cfg = SmileConfig(calibration_s=1.0, recalibrate_after_s=5.0)
    d = SmileDetector(cfg)
    for i in range(40):
        d(face(neutral), i / FPS)
    assert d.calibrated
    d(None, 3.0)
    assert d.calibrated  # a short absence keeps the calibration
    d(None, 10.0)
    assert not d.calibrated
    assert not d(face(neutral), 10.1).calibrated


# --- config ---------------------------------------------------------------------------------

def test_config_names_every_problem_in_one_error() -> None:
    with pytest.raises(UserError) as err:
        SmileConfig(on_threshold=0.5, off_threshold=0.8, hold_ms=-1, calibration_weight=2.0, lift_gain=0.0,
                    cooldown_ms=math.nan)
    message = str(err.value)
    for name in ("off_threshold (0.8) must be below on_threshold (0.5)", "hold_ms", "calibration_weight", "lift_gain", "cooldown_ms"):
        assert name in message, message
    assert "\n" not in message
    SmileConfig()  # the defaults are valid


# --- analysis -------------------------------------------------------------------------------

def test_the_smile_analyser_runs_after_the_face_mesh(data_dir: Path) -> None:
    from realtime.analysis.analysers import FACES, SMILE, Analysis, AnalysisOptions, run_order

    assert run_order(frozenset({SMILE})) == [FACES, SMILE]
    analysis = Analysis(frozenset({SMILE}), AnalysisOptions(still_images=True))
    try:
        smiling = analysis(cv2.imread(str(data_dir / "faces" / "dlib__Tom_Cruise_avp_2014_4.jpg")), 0.0)
        rest = analysis(cv2.imread(str(data_dir / "faces" / NEUTRAL_PHOTO)), 0.1)
        empty = analysis(np.full((240, 320, 3), 128, np.uint8), 0.2)
    finally:
        analysis.close()
    assert smiling.faces and isinstance(smiling.smile, Smile)
    assert smiling.smile.on and smiling.smile.score >= 1.0
    assert rest.smile is not None and not rest.smile.on
    assert empty.faces == () and empty.smile == Smile(0.0, False, False)
    assert set(smiling.ms) == {FACES, SMILE}


# --- labels and benchmark ------------------------------------------------------------------

def test_the_labels_file_is_well_formed() -> None:
    with LABELS.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert rows and set(rows[0]) == {"video", "frame", "smile"}
    keys = [(r["video"], int(r["frame"])) for r in rows]
    assert len(keys) == len(set(keys)), "a frame is labelled twice"
    assert len(rows) >= 300
    smiles = sum(int(r["smile"]) for r in rows)
    assert 50 <= smiles <= len(rows) - 300
    assert all(r["smile"] in ("0", "1") and int(r["frame"]) >= 0 and r["video"].endswith(".mp4") for r in rows)


def test_benchmark_without_data_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.smile import main

    code = run_cli(lambda: main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]))
    assert code == 2
    assert_one_line(code, capsys.readouterr().err, "no videos folder", "REALTIME_DATA")
    assert not (tmp_path / "out").exists()


def test_benchmark_on_one_labelled_video(data_dir: Path, tmp_path: Path) -> None:
    import json

    from benchmarks.smile import main

    labels = tmp_path / "labels.csv"
    with LABELS.open() as src:
        lines = [line for line in src if line.startswith("video,") or line.startswith("liveportrait__d0.mp4,")]
    labels.write_text("".join(lines))
    assert main(["--data", str(data_dir), "--labels", str(labels), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    ours = report["methods"]["ours"]["videos"]["liveportrait__d0.mp4"]
    assert ours["tp"] + ours["fn"] == 16  # the labelled smiles of d0
    assert ours["recall"] >= 0.6 and ours["precision"] >= 0.8
    assert (tmp_path / "out" / "report.md").read_text().startswith("# Smile trigger")
    assert (tmp_path / "out" / "smile.png").stat().st_size > 10_000
