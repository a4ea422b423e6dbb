"""Landmark jitter on a still face, lag on a moving one, and how still the props sit.

    python -m benchmarks.landmarks [--data DIR] [--frames 180] [--noise 6] [--out benchmarks/results/landmarks-cpu]

The face mesh runs once on every frame of each sequence (tracking mode, no still-frame
reuse, as if every frame had moved), and every smoother is then applied offline to the same
raw landmarks, so they are compared on identical input:

- ``still``: a face photo centred in a 640×480 frame, the same on every frame but for fresh
  Gaussian sensor noise (σ = ``--noise`` gray levels): all landmark motion is jitter;
- ``video``: the still-ish real video liveportrait__d18.mp4 (a head that barely moves): jitter
  as the second difference of each landmark track (RMS(Δ²x)/√6, which equals σ for white
  noise and ignores slow real motion);
- ``moving`` / ``fast``: the photo translated along a known smooth path (a Lissajous curve,
  60 × 25 px, 0.5 Hz / 1 Hz: up to 200 / 400 px/s) with the same noise. Ground truth is known
  up to each landmark's constant offset, which is estimated as the mean of raw − path. Lag =
  the delay τ that best fits the smoothed track to the path delayed by τ; the jitter left on
  a moving face is the RMS residual after that fit.

Smoothers: none (the mesh's own output), One Euro as the tracker runs it (min_cutoff 1 Hz,
β 0.05, d_cutoff 1 Hz) and three neighbours (min_cutoff ½, 2, 4 Hz), and causal moving
averages of N = 1…15 frames. The claim checked: at the lag One Euro has on the moving
face, a moving average (N interpolated to give that lag) jitters more on the still face.
Also the tracker exactly as shipped (it reuses the landmarks when a 64×48 thumbnail barely
changes since the previous frame) against the mesh on every frame: frames reused, distance,
and whether it still sees the blinks (the smallest eye opening); and the jitter of the
glasses' placement (:mod:`realtime.filters.kinds.face_effects`) on
the still face and the video: centre and corners in px and % of the eye distance, scale in
%, roll in degrees.

Writes report.json, report.md and landmarks.png into ``--out``; prints the table.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from models.data.media import data_root
from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import UserError, run_cli
from realtime.analysis.one_euro import OneEuroConfig, OneEuroFilter
from realtime.host import machine

log = logging.getLogger("benchmarks.landmarks")
RESULTS = Path(__file__).resolve().parent / "results"
PHOTO = "skimage__astronaut.png"
VIDEO = "liveportrait__d18.mp4"
FRAME_SIZE = (640, 480)  # width, height
FPS = 30.0
WARMUP = 15  # frames left out of every measurement: the smoothers start from the first value
MA_WINDOWS = tuple(range(1, 16))
ONE_EURO_NEIGHBOURS = (0.5, 2.0, 4.0)  # min_cutoff (Hz) of the One Euro variants on the curve


@dataclass(frozen=True)
class Path2D:
    """A smooth path: offset(t) = (ax·sin 2πft, ay·sin(2πft + π/2)) pixels."""

    ax: float
    ay: float
    hz: float

    def __call__(self, t: np.ndarray) -> np.ndarray:
        w = 2 * math.pi * self.hz * np.asarray(t, np.float64)
        return np.stack([self.ax * np.sin(w), self.ay * np.sin(w + math.pi / 2)], axis=-1)

    @property
    def peak_speed(self) -> float:
        return 2 * math.pi * self.hz * max(self.ax, self.ay)


PATHS = {"moving": Path2D(60.0, 25.0, 0.5), "fast": Path2D(60.0, 25.0, 1.0)}


@dataclass
class Sequence:
    name: str
    raw: np.ndarray  # T×478×2 landmarks (NaN where no face was found)
    t: np.ndarray  # T seconds
    eye_distance: float  # median, px
    path: Path2D | None = None
    shipped: np.ndarray | None = None  # T×478×2 smoothed landmarks of the tracker as shipped
    missed: int = 0
    reused: int = 0  # frames on which the tracker as shipped reused the landmarks without the mesh


def centred(photo: np.ndarray, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """``photo`` centred in a 640×480 frame, shifted by ``offset`` (sub-pixel, bilinear)."""
    h, w = photo.shape[:2]
    m = np.float64([[1, 0, (FRAME_SIZE[0] - w) / 2 + offset[0]], [0, 1, (FRAME_SIZE[1] - h) / 2 + offset[1]]])
    return cv2.warpAffine(photo, m, FRAME_SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def noisy(bgr: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    if sigma <= 0:
        return bgr
    return np.clip(bgr + rng.standard_normal(bgr.shape, dtype=np.float32) * sigma, 0, 255).astype(np.uint8)


def eye_distance(lm: np.ndarray) -> float:
    from realtime.filters.kinds.face_effects import face_points
    from realtime.analysis.tracking import Face

    p = face_points(Face(lm, lm))
    return float(np.hypot(*(p[1] - p[0])))


def run_mesh(name: str, frames: Iterator[np.ndarray], count: int, shipped: bool) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """Raw landmarks of every frame (mesh on each frame, tracking mode), and the landmarks of
    the tracker as shipped (still-frame reuse and One Euro) on the same frames."""
    from realtime.analysis.tracking import FaceTracker

    every = FaceTracker(still_threshold=0)
    as_shipped = FaceTracker() if shipped else None
    raw = np.full((count, 478, 2), np.nan)
    ship = np.full((count, 478, 2), np.nan) if shipped else None
    missed = reused = 0
    try:
        for i, frame in enumerate(tqdm(frames, total=count, desc=name, unit="frame", leave=False)):
            t = i / FPS
            face = every.process(frame, t)
            if face is None:
                missed += 1
            else:
                raw[i] = face.raw
            if as_shipped is not None and ship is not None:
                got = as_shipped.process(frame, t)
                if got is not None:
                    ship[i] = got.landmarks
    finally:
        every.close()
        if as_shipped is not None:
            reused = as_shipped.reused
            as_shipped.close()
    return raw, ship, missed, reused


def video_frames(path: Path, count: int) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise UserError(f"cannot open video {path}")
    try:
        for _ in range(count):
            ok, bgr = cap.read()
            if not ok:
                return
            yield bgr
    finally:
        cap.release()


def record(data: Path, frames: int, sigma: float) -> list[Sequence]:
    photo = cv2.imread(str(data / "faces" / PHOTO))
    if photo is None:
        raise UserError(f"cannot read {data / 'faces' / PHOTO}: is the data folder complete?")
    rng = np.random.default_rng(0)
    t = np.arange(frames) / FPS
    out = []
    still = centred(photo)
    out.append(Sequence("still", *measured(run_mesh("still", (noisy(still, sigma, rng) for _ in range(frames)), frames, shipped=True), t)))
    video = data / "videos" / VIDEO
    cap = cv2.VideoCapture(str(video))
    n = min(frames, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or frames)
    cap.release()
    out.append(Sequence("video", *measured(run_mesh("video", video_frames(video, n), n, shipped=True), t[:n])))
    for name, path in PATHS.items():
        offsets = path(t)
        got = run_mesh(name, (noisy(centred(photo, tuple(o)), sigma, rng) for o in offsets), frames, shipped=True)
        out.append(Sequence(name, *measured(got, t, path)))
    return out


def measured(got: tuple[np.ndarray, np.ndarray | None, int, int], t: np.ndarray, path: Path2D | None = None) -> tuple[Any, ...]:
    """Sequence fields (after the name) from :func:`run_mesh`'s result."""
    raw, ship, missed, reused = got
    eye = float(np.nanmedian([eye_distance(r) for r in raw if np.isfinite(r).all()]))
    return raw, t, eye, path, ship, missed, reused


# ---------------------------------------------------------------------------------------------
# smoothers, applied offline to the raw landmarks


def one_euro(raw: np.ndarray, t: np.ndarray, config: OneEuroConfig) -> np.ndarray:
    f = OneEuroFilter(config)
    out = np.full_like(raw, np.nan)
    for i, x in enumerate(raw):
        if np.isfinite(x).all():
            out[i] = f(x, float(t[i]))
        else:
            f.reset()  # the tracker starts a fresh smoother when it loses the face
    return out


def moving_average(raw: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    """Causal mean of the last ``n`` frames (fewer at the start)."""
    out = np.full_like(raw, np.nan)
    for i in range(len(raw)):
        window = raw[max(0, i - n + 1): i + 1]
        out[i] = window.mean(axis=0)
    return out


# ---------------------------------------------------------------------------------------------
# measures


def still_jitter(x: np.ndarray) -> float:
    """RMS distance of each landmark from its own mean (px), after the warm-up."""
    x = x[WARMUP:]
    x = x[np.isfinite(x).all(axis=(1, 2))]
    return float(np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=-1).mean()))


def hf_jitter(x: np.ndarray, warmup: int = WARMUP) -> float:
    """RMS second difference / √6 per coordinate, as a 2-D distance (px): σ·√2 for white
    noise of σ per coordinate, like :func:`still_jitter`; slow real motion barely counts."""
    x = x[warmup:]
    x = x[np.isfinite(x).all(axis=(1, 2))]
    d2 = x[2:] - 2 * x[1:-1] + x[:-2]
    return float(np.sqrt((d2**2).sum(axis=-1).mean() / 6))


def lag_fit(x: np.ndarray, raw: np.ndarray, t: np.ndarray, path: Path2D) -> dict[str, float]:
    """On a face moving along the known ``path``: the best-fit delay of ``x`` behind it (ms),
    the distance to the true position at that moment (RMS px: what the lag costs), and the
    jitter (RMS(Δ²(x − truth))/√6, px: the shake on top of the motion). Each landmark's
    constant offset from the path is the mean of raw − path (the mesh has no lag)."""
    ok = np.isfinite(raw).all(axis=(1, 2)) & np.isfinite(x).all(axis=(1, 2))
    ok[:WARMUP] = False
    base = (raw[ok] - path(t[ok])[:, None, :]).mean(axis=0)  # 478×2
    centre = (x[ok] - base).mean(axis=1)  # T×2: the mean landmark, less its offset
    taus = np.arange(0.0, 0.4005, 0.001)
    errs = [float(((centre - path(t[ok] - tau)) ** 2).sum(axis=-1).mean()) for tau in taus]
    error = x[ok] - base - path(t[ok])[:, None, :]
    return {"lag_ms": round(float(taus[int(np.argmin(errs))]) * 1000, 1),
            "error_px": round(float(np.sqrt((error**2).sum(axis=-1).mean())), 3),
            "jitter_px": round(hf_jitter(error, warmup=0), 3)}


def prop_jitter(x: np.ndarray, measure: Callable[[np.ndarray], float]) -> dict[str, float]:
    """Jitter of the glasses' placement computed from landmarks ``x``: the point between the
    eyes and the prop's four corners (px, with ``measure``), scale (%), roll (degrees)."""
    from realtime.filters.kinds.face_effects import prop_transform
    from realtime.filters.props import glasses
    from realtime.analysis.tracking import Face

    prop = glasses()
    h, w = prop.rgba.shape[:2]
    points = np.vstack([prop.anchor.points()[:2].mean(axis=0), [[0, 0], [w, 0], [0, h], [w, h]]])
    placed, scale, roll = [], [], []
    for lm in x:
        if not np.isfinite(lm).all():
            continue
        m = prop_transform(Face(lm, lm), prop.anchor)
        placed.append(points @ m[:, :2].T + m[:, 2])
        scale.append(math.hypot(m[0, 0], m[1, 0]))
        roll.append(math.degrees(math.atan2(m[1, 0], m[0, 0])))
    p = np.array(placed)
    s, r = np.array(scale), np.array(roll)
    hf = measure is hf_jitter

    def spread(v: np.ndarray) -> float:
        v = v[WARMUP:]
        return float(np.sqrt((np.diff(v, 2) ** 2).mean() / 6) if hf else v.std())
    return {"centre_px": round(measure(p[:, :1]), 3), "corners_px": round(max(measure(p[:, i: i + 1]) for i in range(1, 5)), 3),
            "scale_pct": round(100 * spread(s) / float(np.mean(s)), 3), "roll_deg": round(spread(r), 3)}


def opening_range(x: np.ndarray) -> tuple[float, float]:
    """Smallest and largest opening (lid gap / eye width) of the image-left eye: a blink shows
    as a small minimum."""
    from realtime.filters.kinds.face_effects import EYES

    e = EYES[0]
    ratio = np.hypot(*(x[:, e.upper] - x[:, e.lower]).T) / np.hypot(*(x[:, e.outer] - x[:, e.inner]).T)
    return float(ratio.min()), float(ratio.max())


def interpolate_at(lag: float, lags: list[float], values: list[float]) -> tuple[float, float]:
    """(value, window N) of the moving-average curve at ``lag``, linear between windows."""
    order = np.argsort(lags)
    ls, vs, ns = np.array(lags)[order], np.array(values)[order], np.array(MA_WINDOWS, np.float64)[order]
    return float(np.interp(lag, ls, vs)), float(np.interp(lag, ls, ns))


def analyse(seqs: list[Sequence], config: OneEuroConfig) -> dict[str, Any]:
    by = {s.name: s for s in seqs}
    smoothers: dict[str, Callable[[Sequence], np.ndarray]] = {"raw": lambda s: s.raw,
                                                             "one_euro": lambda s: one_euro(s.raw, s.t, config)}
    for mc in ONE_EURO_NEIGHBOURS:
        smoothers[f"one_euro_mc{mc:g}"] = lambda s, mc=mc: one_euro(s.raw, s.t, OneEuroConfig(mc, config.beta, config.d_cutoff))
    for n in MA_WINDOWS:
        smoothers[f"ma{n}"] = lambda s, n=n: moving_average(s.raw, s.t, n)
    rows: dict[str, dict[str, Any]] = {}
    smoothed: dict[tuple[str, str], np.ndarray] = {}
    for name, smooth in tqdm(smoothers.items(), desc="smoothers", unit="smoother", leave=False):
        row: dict[str, Any] = {}
        for s in seqs:
            x = smooth(s)
            smoothed[(name, s.name)] = x
            if s.path is not None:
                row[s.name] = lag_fit(x, s.raw, s.t, s.path)
            elif s.name == "still":
                row["still"] = {"jitter_px": round(still_jitter(x), 3), "jitter_hf_px": round(hf_jitter(x), 3)}
            else:
                row[s.name] = {"jitter_hf_px": round(hf_jitter(x), 3)}
        rows[name] = row
    rows["shipped"] = {}
    for s in seqs:
        if s.shipped is None:
            continue
        if s.path is not None:
            rows["shipped"][s.name] = lag_fit(s.shipped, s.raw, s.t, s.path)
        elif s.name == "still":
            rows["shipped"]["still"] = {"jitter_px": round(still_jitter(s.shipped), 3), "jitter_hf_px": round(hf_jitter(s.shipped), 3)}
        else:
            rows["shipped"][s.name] = {"jitter_hf_px": round(hf_jitter(s.shipped), 3)}
    # the tracker as shipped against the mesh on every frame: what the still-frame reuse misses
    compare: dict[str, Any] = {}
    for s in seqs:
        if s.shipped is None:
            continue
        ok = np.isfinite(s.raw).all(axis=(1, 2)) & np.isfinite(s.shipped).all(axis=(1, 2))
        dist = np.hypot(*(s.shipped[ok] - s.raw[ok]).transpose(2, 0, 1))
        compare[s.name] = {"frames": len(s.raw), "reused": s.reused, "rms_px": round(float(np.sqrt((dist**2).mean())), 3),
                           "p99_px": round(float(np.percentile(dist, 99)), 3),
                           "eye_opening_every_frame": [round(v, 3) for v in opening_range(s.raw[ok])],
                           "eye_opening_shipped": [round(v, 3) for v in opening_range(s.shipped[ok])]}
    # the claim: at One Euro's lag a moving average jitters more
    equal: dict[str, Any] = {}
    for moving in PATHS:
        lag = rows["one_euro"][moving]["lag_ms"]
        ma_lags = [rows[f"ma{n}"][moving]["lag_ms"] for n in MA_WINDOWS]
        entry: dict[str, Any] = {"one_euro_lag_ms": lag}
        for seq, key in (("still", "jitter_px"), ("video", "jitter_hf_px"), (moving, "jitter_px"), (moving, "error_px")):
            ma_value, n = interpolate_at(lag, ma_lags, [rows[f"ma{k}"][seq][key] for k in MA_WINDOWS])
            entry[f"{seq}_{key}"] = {"one_euro": rows["one_euro"][seq][key], "moving_average": round(ma_value, 3)}
            entry["ma_window"] = round(n, 2)
        equal[moving] = entry
    props: dict[str, Any] = {}
    for name in ("raw", "one_euro", "shipped"):
        props[name] = {}
        for s in seqs:
            if s.path is not None:
                continue
            x = s.shipped if name == "shipped" else smoothed[(name, s.name)]
            if x is None:
                continue
            j = prop_jitter(x, still_jitter if s.name == "still" else hf_jitter)
            j["centre_pct_eye"] = round(100 * j["centre_px"] / s.eye_distance, 3)
            j["corners_pct_eye"] = round(100 * j["corners_px"] / s.eye_distance, 3)
            props[name][s.name] = j
    n_ma = {m: max(1, round(e["ma_window"])) for m, e in equal.items()}
    for moving, n in n_ma.items():  # the moving average tuned to One Euro's lag, by the nearest whole window
        key = f"ma{n}"
        props.setdefault(key, {})
        for s in seqs:
            if s.path is None and s.name not in props[key]:
                j = prop_jitter(smoothed[(key, s.name)], still_jitter if s.name == "still" else hf_jitter)
                j["centre_pct_eye"] = round(100 * j["centre_px"] / s.eye_distance, 3)
                j["corners_pct_eye"] = round(100 * j["corners_px"] / s.eye_distance, 3)
                props[key][s.name] = j
    traces = {}
    for moving in PATHS:  # for the plot: the mean landmark's x, less its offset, over the first seconds
        s = by[moving]
        ok = np.isfinite(s.raw).all(axis=(1, 2))
        base = (s.raw[ok] - s.path(s.t[ok])[:, None, :]).mean(axis=0)  # type: ignore[misc]
        traces[moving] = {k: (smoothed[(k, moving)] - base).mean(axis=1)[:, 0].tolist()
                          for k in ("raw", "one_euro", f"ma{n_ma[moving]}")}
        traces[moving]["truth"] = s.path(s.t)[:, 0].tolist()  # type: ignore[misc]
        traces[moving]["t"] = s.t.tolist()
    return {"rows": rows, "equal_lag": equal, "props": props, "shipped_vs_every_frame": compare, "traces": traces}


# ---------------------------------------------------------------------------------------------
# report


def table(result: dict[str, Any], seqs: list[Sequence]) -> str:
    rows = result["rows"]
    eye = {s.name: s.eye_distance for s in seqs}
    lines = ["| smoother | still jitter px (% eye) | video jitter px | moving: lag ms, error px, jitter px | fast: lag ms, error px, jitter px |",
             "|---|---|---|---|---|"]
    shown = ["raw", "one_euro", *(f"one_euro_mc{mc:g}" for mc in ONE_EURO_NEIGHBOURS), "shipped", *(f"ma{n}" for n in (2, 3, 4, 5, 6, 8, 10, 12, 15))]
    for name in shown:
        r = rows[name]
        st = r["still"]["jitter_px"]
        mv, fa = r["moving"], r["fast"]
        lines.append(f"| {label(name)} | {st:.3f} ({100 * st / eye['still']:.2f} %) | {r['video']['jitter_hf_px']:.3f} | "
                     f"{mv['lag_ms']:.0f}, {mv['error_px']:.2f}, {mv['jitter_px']:.3f} | {fa['lag_ms']:.0f}, {fa['error_px']:.2f}, {fa['jitter_px']:.3f} |")
    return "\n".join(lines)


def label(name: str) -> str:
    if name == "raw":
        return "none (mesh output)"
    if name == "one_euro":
        return "**One Euro (tracker: min_cutoff 1, β 0.05)**"
    if name.startswith("one_euro_mc"):
        return f"One Euro min_cutoff {name[len('one_euro_mc'):]}"
    if name == "shipped":
        return "tracker as shipped (still reuse + One Euro)"
    return f"moving average {name[2:]} frames"


def equal_table(result: dict[str, Any]) -> str:
    lines = ["| motion | One Euro lag ms | MA window at that lag | still jitter px: One Euro / MA | video jitter px: One Euro / MA | "
             "jitter while moving px: One Euro / MA | error while moving px: One Euro / MA |", "|---|---|---|---|---|---|---|"]
    for moving, e in result["equal_lag"].items():
        cells = " | ".join(f"{v['one_euro']:.3f} / {v['moving_average']:.3f}" for v in
                           (e["still_jitter_px"], e["video_jitter_hf_px"], e[f"{moving}_jitter_px"], e[f"{moving}_error_px"]))
        lines.append(f"| {moving} ({PATHS[moving].peak_speed:.0f} px/s peak) | {e['one_euro_lag_ms']:.0f} | {e['ma_window']:.2f} | {cells} |")
    return "\n".join(lines)


def props_table(result: dict[str, Any]) -> str:
    lines = ["| landmarks | sequence | centre px (% eye) | corners px (% eye) | scale % | roll ° |", "|---|---|---|---|---|---|"]
    for name, seqs in result["props"].items():
        for seq, j in seqs.items():
            lines.append(f"| {label(name)} | {seq} | {j['centre_px']:.3f} ({j['centre_pct_eye']:.2f} %) | "
                         f"{j['corners_px']:.3f} ({j['corners_pct_eye']:.2f} %) | {j['scale_pct']:.3f} | {j['roll_deg']:.3f} |")
    return "\n".join(lines)


def shipped_table(result: dict[str, Any]) -> str:
    lines = ["| sequence | frames reused | distance to every-frame mesh RMS / p99 px | eye opening min–max: every frame | as shipped |",
             "|---|---|---|---|---|"]
    for name, c in result["shipped_vs_every_frame"].items():
        lines.append(f"| {name} | {c['reused']}/{c['frames']} | {c['rms_px']:.2f} / {c['p99_px']:.2f} | "
                     f"{c['eye_opening_every_frame'][0]:.2f}–{c['eye_opening_every_frame'][1]:.2f} | "
                     f"{c['eye_opening_shipped'][0]:.2f}–{c['eye_opening_shipped'][1]:.2f} |")
    return "\n".join(lines)


def markdown(result: dict[str, Any], seqs: list[Sequence], meta: dict[str, Any]) -> str:
    eye = ", ".join(f"{s.name} {s.eye_distance:.0f} px" for s in seqs)
    missed = ", ".join(f"{s.name} {s.missed}/{len(s.raw)}" for s in seqs)
    return "\n".join([
        f"# Landmark jitter and lag — {meta['machine']}", "",
        f"{meta['date']}; {meta['frames']} frames a sequence at {FPS:g} fps, the first {WARMUP} left out; sensor noise σ = {meta['noise']} gray levels; "
        f"photo `{PHOTO}` in a 640×480 frame, video `{VIDEO}`. Eye distance: {eye}. Frames without a face: {missed}.", "",
        "Jitter: RMS distance of each landmark from its mean (still), or RMS(Δ²x)/√6 (video: ignores the slow real motion). "
        "Moving: lag = the delay that best fits the smoothed track to the known path; error = RMS distance to the true position "
        "(what the lag costs); jitter = RMS(Δ²(track − truth))/√6, the shake on top of the motion. "
        "Every smoother works on the same raw landmarks (the mesh run on every frame).", "",
        table(result, seqs), "",
        "## At equal lag", "",
        "The moving average's curve (N = 1…15) interpolated at the lag One Euro has on each moving sequence:", "",
        equal_table(result), "",
        "## The tracker as shipped", "",
        "It skips the mesh and reuses the last landmarks when a 64×48 thumbnail changed by less than 1 gray level since the "
        "previous frame. Against the mesh run on every frame (a blink shows as a small eye opening):", "",
        shipped_table(result), "",
        "## Glasses placement", "",
        "How much the glasses move on a still face (still: spread about the mean; video: second difference), from each set of landmarks:", "",
        props_table(result), "",
        "![jitter against lag](landmarks.png)", ""])


def plot(result: dict[str, Any], seqs: list[Sequence], path: Path) -> None:
    plt = pyplot()

    rows = result["rows"]
    eye = next(s.eye_distance for s in seqs if s.name == "still")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, moving in zip(axes[:2], PATHS):
        ma = [(rows[f"ma{n}"][moving]["lag_ms"], 100 * rows[f"ma{n}"]["still"]["jitter_px"] / eye) for n in MA_WINDOWS]
        ax.plot(*zip(*ma), "o-", color="tab:gray", label="moving average, N = 1…15")
        for n, (x, y) in zip(MA_WINDOWS, ma):
            if n in (1, 2, 4, 8, 15):
                ax.annotate(f"N={n}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        oe = [(rows[k][moving]["lag_ms"], 100 * rows[k]["still"]["jitter_px"] / eye, k) for k in
              [f"one_euro_mc{mc:g}" for mc in ONE_EURO_NEIGHBOURS] + ["one_euro"]]
        ax.plot([o[0] for o in oe[:-1]], [o[1] for o in oe[:-1]], "s", color="tab:blue", alpha=0.5, label="One Euro, min_cutoff ½, 2, 4 Hz")
        ax.plot(oe[-1][0], oe[-1][1], "*", color="tab:blue", markersize=14, label="One Euro as the tracker runs it")
        ax.set_xlabel(f"lag on the {moving} face, ms ({PATHS[moving].peak_speed:.0f} px/s peak)")
        ax.set_ylabel("jitter on the still face, % of eye distance")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    tr = result["traces"]["moving"]
    t = np.array(tr["t"])
    keep = t < 2.5
    ax = axes[2]
    for key, style in (("truth", "k-"), ("raw", "-"), ("one_euro", "-")):
        ax.plot(t[keep], np.array(tr[key])[keep], style, label=label(key).strip("*") if key != "truth" else "true path", linewidth=1.2)
    ma_key = next(k for k in tr if k.startswith("ma"))
    ax.plot(t[keep], np.array(tr[ma_key])[keep], "--", label=label(ma_key) + " (equal lag)", linewidth=1.2)
    ax.set_xlabel("seconds")
    ax.set_ylabel("mean landmark x − offset, px")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.landmarks", __doc__)
    p.add_argument("--data", type=Path, default=data_root(), help="the shared media folder (faces/, videos/)")
    p.add_argument("--frames", type=int, default=180, help="frames a sequence (the video has 216)")
    p.add_argument("--noise", type=float, default=6.0, help="sensor noise σ in gray levels on the photo sequences")
    p.add_argument("--out", type=Path, default=RESULTS / "landmarks-cpu")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (a.data / "faces" / PHOTO).is_file() or not (a.data / "videos" / VIDEO).is_file():
        raise UserError(f"no face data at {a.data} (needs faces/{PHOTO} and videos/{VIDEO}): pass --data DIR or set REALTIME_DATA")
    if a.frames < WARMUP + 30:
        raise UserError(f"--frames must be at least {WARMUP + 30} (the first {WARMUP} are warm-up)")
    from realtime.analysis.tracking import FaceTracker

    probe = FaceTracker(static=True)
    config = _tracker_smoothing(probe)
    probe.close()
    start = time.perf_counter()
    seqs = record(a.data, a.frames, a.noise)
    result = analyse(seqs, config)
    meta = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "frames": a.frames, "noise": a.noise, "fps": FPS, "warmup": WARMUP, "one_euro": vars(config),
            "paths": {k: vars(v) for k, v in PATHS.items()}, "eye_distance_px": {s.name: round(s.eye_distance, 1) for s in seqs},
            "frames_without_face": {s.name: s.missed for s in seqs}, "seconds": round(time.perf_counter() - start, 1)}
    report = {"meta": meta, **{k: v for k, v in result.items() if k != "traces"}}
    save_report(a.out, report, markdown(result, seqs, meta), lambda path: plot(result, seqs, path), "landmarks.png")
    return 0


def _tracker_smoothing(tracker: Any) -> OneEuroConfig:
    """The One Euro settings the tracker smooths with (so the benchmark follows them)."""
    c = tracker.smoothing
    return OneEuroConfig(c.min_cutoff, c.beta, c.d_cutoff)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
