"""The smile trigger: how much a face smiles, from the face-mesh landmarks alone, and an on/off
state that a filter can switch on without flickering.

No blendshape model is available offline, so the score is geometry on the 468-point mesh
(standard MediaPipe indices), measured in a frame fixed to the eyes: x along the line between
the two eye centres (each the mean of its two corners, 33/133 and 362/263, which stay put when
the eyes squint in a real smile), y perpendicular to it towards the chin, and every length
divided by the distance between the eye centres. Head roll, the distance to the camera and the
frame size therefore do not change a feature (``tests/realtime/analysis/test_expressions.py`` rotates and scales
real landmarks); yaw shrinks mouth and eye distance together.

Two cues, both needed (:func:`smile_score`); the ranges are 5th–95th percentiles over the 627
hand-labelled frames of ``benchmarks/data/smile_labels.csv``:

* ``width``: mouth corners 61↔291 in eye distances: 0.60–0.90 in the non-smile frames (median
  0.78, the population neutral), 0.84–1.13 in the smiles. Alone it separates the labelled
  frames with AUC 0.96 — but a teeth-clenched grimace (clip d3, frames 9–18) is as wide
  (0.95–0.99) and so is a shout (d18: 1.0–1.05).
* ``lift``: how far the corners sit above the centre line of the inner lips (13/14), for the
  lower of the two corners so that a one-sided smirk (d3 36–48: one corner +0.06, the other
  −0.07) does not count: 0.01–0.11 in smiles (median 0.08), median 0.00 otherwise, −0.07 in
  the grimace.

The score is ``min(mean, weaker + cue_gap)`` of the two cues, each scaled so that 1 is a clear
smile (``width`` +18 % over neutral, ``lift`` +0.05 over neutral): a mouth stretched twice as
wide as a smile's but with no lift scores at most 0.5. An open mouth also "lifts" the corners relative to the
mouth centre, so an opening over ``shout_open`` = 0.45 of the mouth width (the most in a
labelled laugh: 0.46; shouts 0.44–0.84, surprise 0.37–0.57) fades the score to 0 at 0.65.

Calibration: on a stream, the first ``calibration_s`` = 3 s with a face collect the user's
features; frames that smile by population values or have the mouth open (talking moves the
width by ±10 %) are left out, and the median of the rest is the user's neutral — taken only
halfway (``calibration_weight`` 0.5) from the population neutral and clipped to plausible
values, because a person does not keep still for the first seconds: the labelled clips begin
with smiles (d0 from 0.84 s), laughter (d12 from 0.8 s), pouts (d18) and talk (tpsmm, where
only 16–47 % of the first 3 s is at rest). With fewer than 10 rest frames or 20 % of the
frames the population neutral stays. Until calibration ends the population neutral is used
(``Smile.calibrated`` False), so a smile in the first seconds still counts. Ten seconds without
a face start a new calibration (someone else may sit down). On these clips calibration moves
pooled F1 by about +0.01 (``benchmarks/results/smile-cpu``): they hold no long rest at the start.
Still images (``still_images=True``) never calibrate and have no hold time.

Trigger (:meth:`SmileDetector.trigger`): on once the score has stayed ≥ ``on_threshold`` (1.0)
for ``hold_ms`` = 300 ms — a smile, not a syllable: single talking frames reach 1.2–1.5 — and
off once it has stayed < ``off_threshold`` (0.7, hysteresis) for ``release_ms`` = 200 ms; after
going off it stays off for ``cooldown_ms`` = 1 s, so a filter chosen by it does not flicker
between choices. No face scores 0 and goes off by the same rules. The features, score and
trigger cost ~0.03 ms a frame after the face mesh.

The landmarks must follow the face: :class:`realtime.analysis.tracking.FaceTracker` with its default
``still_threshold`` (1.0) reuses the last landmarks while consecutive frames differ by less than
one grey level, and a smile forming over ten frames never crosses that, so on the labelled clips
the landmarks froze (d0: 77 of 78 frames reused, d18: 215 of 216) and pooled F1 fell from 0.64 to
0.43 (``benchmarks/smile.py``, row "tracker default").
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping, cast

import numpy as np

from realtime.analysis.analysers import FACES, SMILE, AnalysisOptions, register_analyser
from realtime.errors import UserError
from realtime.analysis.tracking import Face

log = logging.getLogger(__name__)

# MediaPipe face mesh indices
LEFT_EYE = (33, 133)  # outer, inner corner of the eye on the image's left
RIGHT_EYE = (362, 263)  # inner, outer corner of the eye on the image's right
MOUTH_LEFT, MOUTH_RIGHT = 61, 291  # mouth corners
UPPER_INNER, LOWER_INNER = 13, 14  # inner lip midpoints
MESH_POINTS = 468


@dataclass(frozen=True)
class Smile:
    """How much the first face smiles, and the trigger state."""

    score: float  # ~0 neutral, >= 1 a clear smile (relative to the neutral face)
    on: bool  # the trigger, after hold time, release time and cooldown
    calibrated: bool  # the neutral is the user's own (False: population values)


@dataclass(frozen=True)
class MouthFeatures:
    """Mouth shape in eye-distance units, independent of head roll, position and scale."""

    width: float  # corner to corner
    lift: float  # the lower corner's height above the inner-lip centre line (+ = up)
    lift_mean: float  # the same for the mean of the two corners
    opening: float  # inner-lip gap / width

    def as_array(self) -> np.ndarray:
        return np.array([self.width, self.lift, self.lift_mean, self.opening])


@dataclass(frozen=True)
class Neutral:
    """The features of a face at rest (the reference a smile is measured from)."""

    width: float = 0.78  # median of the neutral frames of the seven labelled clips
    lift: float = 0.005  # lower corner: 0.00-0.01 at rest (mean corner ~0.01)


POPULATION = Neutral()
# neutral values outside these are measurement trouble (a profile view, a hand over the mouth)
NEUTRAL_RANGE = {"width": (0.62, 0.95), "lift": (-0.04, 0.04)}
# calibration needs this many rest frames and this share of the frames seen (talking
# leaves 16-47 % of 3 s at rest in the labelled clips; a median of fewer is noise)
MIN_REST_FRAMES, REST_SHARE = 10, 0.2


@dataclass(frozen=True)
class SmileConfig:
    """The smile score's scales and the trigger's timing; every field is checked at creation."""

    on_threshold: float = 1.0  # score that turns the trigger on (after hold_ms)
    off_threshold: float = 0.7  # score below which it turns off (after release_ms): hysteresis
    hold_ms: float = 300.0  # the score must stay >= on_threshold this long before on
    release_ms: float = 200.0  # ... and < off_threshold this long before off
    cooldown_ms: float = 1000.0  # after going off, it stays off at least this long
    calibration_s: float = 3.0  # face time whose rest frames make the user's neutral
    calibration_weight: float = 0.5  # 0: population neutral only, 1: the user's median only
    recalibrate_after_s: float = 10.0  # no face this long: the next face is calibrated anew
    width_gain: float = 0.18  # relative widening that scores 1
    lift_gain: float = 0.05  # corner lift (eye distances) that scores 1
    cue_gap: float = 0.5  # the score is at most the weaker cue + this (both cues needed)
    shout_open: float = 0.45  # open/width ratio from which the score fades (to 0 at +0.2)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise UserError("smile settings: " + "; ".join(problems))

    def problems(self) -> list[str]:
        p = []
        for name in ("on_threshold", "off_threshold", "width_gain", "lift_gain", "cue_gap", "shout_open"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                p.append(f"{name} must be a positive number, got {v!r}")
        for name in ("hold_ms", "release_ms", "cooldown_ms", "calibration_s", "recalibrate_after_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                p.append(f"{name} must be a number >= 0, got {v!r}")
        w = self.calibration_weight
        if not (isinstance(w, (int, float)) and 0 <= w <= 1):
            p.append(f"calibration_weight must be in 0..1, got {w!r}")
        on, off = self.on_threshold, self.off_threshold
        if all(isinstance(x, (int, float)) and math.isfinite(x) for x in (on, off)) and not off < on:
            p.append(f"off_threshold ({off}) must be below on_threshold ({on}) for hysteresis")
        return p


def eye_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Origin (left eye centre), unit x (towards the right eye), unit y (towards the chin) and
    the eye distance in pixels."""
    lm = np.asarray(landmarks, dtype=np.float64)
    left = lm[list(LEFT_EYE)].mean(axis=0)
    right = lm[list(RIGHT_EYE)].mean(axis=0)
    axis = right - left
    eye = float(np.hypot(*axis))
    if not eye > 1e-6:
        raise ValueError("the eye centres coincide: not a face")
    ux = axis / eye
    uy = np.array([-ux[1], ux[0]])  # x rotated +90°: in image coordinates (y down), towards the chin
    return left, ux, uy, eye


def mouth_features(landmarks: np.ndarray) -> MouthFeatures:
    """The mouth's width, corner lift and opening from 468 (or 478) mesh landmarks in pixels."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] < MESH_POINTS or lm.shape[1] != 2:
        raise ValueError(f"expected ≥{MESH_POINTS}×2 face-mesh landmarks, got {lm.shape}")
    origin, _, uy, eye = eye_frame(lm)

    def down(i: int) -> float:  # how far below the eye line, in eye distances
        return float((lm[i] - origin) @ uy) / eye

    width = float(np.hypot(*(lm[MOUTH_RIGHT] - lm[MOUTH_LEFT]))) / eye
    upper, lower = down(UPPER_INNER), down(LOWER_INNER)
    centre = (upper + lower) / 2
    lift_left, lift_right = centre - down(MOUTH_LEFT), centre - down(MOUTH_RIGHT)
    return MouthFeatures(
        width=width,
        lift=min(lift_left, lift_right),
        lift_mean=(lift_left + lift_right) / 2,
        opening=max(0.0, lower - upper) / max(width, 1e-6),
    )


def smile_score(f: MouthFeatures, neutral: Neutral, config: SmileConfig) -> float:
    """~0 at the neutral face, 1 at a clear smile; grimaces, smirks, talking and shouts stay low."""
    widen = (f.width / neutral.width - 1.0) / config.width_gain
    lift = (f.lift - neutral.lift) / config.lift_gain
    score = min((widen + lift) / 2, min(widen, lift) + config.cue_gap)
    shout = min(1.0, max(0.0, (config.shout_open + 0.2 - f.opening) / 0.2))
    return float(max(score, 0.0) * shout)


@dataclass
class Calibration:
    """The user's rest frames collected during the first seconds with a face."""

    face_s: float = 0.0  # seconds with a face so far
    last_t: float | None = None
    samples: list[MouthFeatures] = field(default_factory=list)
    seen: int = 0

    def neutral(self, weight: float) -> Neutral:
        """Median of the rest frames, ``weight`` of the way from the population neutral and
        clipped to plausible values; the population neutral when fewer than ``REST_SHARE`` of
        the frames (or ``MIN_REST_FRAMES``) were at rest."""
        if len(self.samples) < max(MIN_REST_FRAMES, REST_SHARE * self.seen):
            log.info("smile calibration: %d of %d frames at rest, keeping population values", len(self.samples), self.seen)
            return POPULATION
        width = float(np.median([s.width for s in self.samples]))
        lift = float(np.median([s.lift for s in self.samples]))
        values = {}
        for name, own in (("width", width), ("lift", lift)):
            lo, hi = NEUTRAL_RANGE[name]
            pop = getattr(POPULATION, name)
            values[name] = float(np.clip(pop + weight * (own - pop), lo, hi))
        log.info("smile calibration: %d rest frames of %d, own width %.3f lift %.3f -> neutral %s",
                 len(self.samples), self.seen, width, lift, values)
        return Neutral(**values)


class SmileDetector:
    """Smile score and trigger for one stream (or unrelated still images)."""

    def __init__(self, config: SmileConfig = SmileConfig(), still_images: bool = False) -> None:
        self.config = config
        self.still_images = still_images
        self.neutral = POPULATION
        self.calibrated = False
        self.calibration = Calibration()
        self.on = False
        self.off_at: float | None = None  # when the trigger last went off
        self.pending_since: float | None = None  # when the score first crossed towards the other state
        self.last_face_t: float | None = None

    def __call__(self, face: Face | None, t: float) -> Smile:
        score = self.score(face, t)
        if self.still_images:
            self.on = score >= self.config.on_threshold
            return Smile(score, self.on, False)
        self.trigger(score, t)
        return Smile(score, self.on, self.calibrated)

    def score(self, face: Face | None, t: float) -> float:
        if face is None:
            self.calibration.last_t = None
            if self.last_face_t is not None and t - self.last_face_t > self.config.recalibrate_after_s and self.calibrated:
                log.info("smile: no face for %.1f s, the next face is calibrated anew", t - self.last_face_t)
                self.neutral, self.calibrated, self.calibration = POPULATION, False, Calibration()
            return 0.0
        self.last_face_t = t
        try:
            f = mouth_features(face.landmarks)
        except ValueError as exc:
            log.debug("smile: unusable landmarks (%s)", exc)
            return 0.0
        if not np.all(np.isfinite(f.as_array())):
            return 0.0
        if not self.still_images and not self.calibrated:
            self._calibrate(f, t)
        return smile_score(f, self.neutral, self.config)

    def _calibrate(self, f: MouthFeatures, t: float) -> None:
        c = self.calibration
        if c.last_t is not None:  # face time: gaps without a face (or stalls over 0.5 s) do not count
            c.face_s += min(max(t - c.last_t, 0.0), 0.5)
        c.last_t = t
        c.seen += 1
        # at rest: not smiling by population values, mouth closed (talking moves width ±10 %)
        if smile_score(f, POPULATION, self.config) < 0.5 and f.opening < 0.1:
            c.samples.append(f)
        if c.face_s >= self.config.calibration_s:
            self.neutral = c.neutral(self.config.calibration_weight)
            self.calibrated = True

    def trigger(self, score: float, t: float) -> bool:
        """Advance the on/off state with the score at time ``t`` (seconds); the new state."""
        cfg = self.config
        wants = score >= cfg.on_threshold if not self.on else not (score < cfg.off_threshold)
        if wants == self.on:
            self.pending_since = None
            return self.on
        if self.pending_since is None:
            self.pending_since = t
        if self.on:  # off once the score has stayed low for release_ms
            ready = (t - self.pending_since) * 1000 >= cfg.release_ms
        else:  # on once it has stayed high for hold_ms, and not within cooldown_ms of going off
            cooled = self.off_at is None or (t - self.off_at) * 1000 >= cfg.cooldown_ms
            ready = (t - self.pending_since) * 1000 >= cfg.hold_ms and cooled
        if ready:
            self.on = not self.on
            self.pending_since = None
            if not self.on:
                self.off_at = t
            log.debug("smile trigger %s at %.3f s (score %.2f)", "on" if self.on else "off", t, score)
        return self.on


@register_analyser(SMILE, requires=(FACES,))
class SmileAnalyser:
    """The smile of the first face found by the face analyser."""

    def __init__(self, options: AnalysisOptions) -> None:
        self.detector = SmileDetector(still_images=options.still_images)

    def __call__(self, bgr: np.ndarray, t: float, found: Mapping[str, object], hw: tuple[int, int] | None = None) -> Smile:
        faces = cast("tuple[Face, ...]", found.get(FACES) or ())
        return self.detector(faces[0] if faces else None, t)

    def close(self) -> None:
        pass
