"""low_light on darkened video, and auto_frame's smoothness on held video.

    python -m benchmarks.low_light [--videos NAME ...] [--frames 60] [--exposure 0.12]
        [--framing-videos NAME ...] [--framing-frames 300] [--out benchmarks/results/low-light-cpu]

**Low light.** Frames of the shared videos (``../shared/data/videos``; no network is trained
on them for this effect, nothing is fitted to them) at 640x480 are darkened the way a dim
room darkens a webcam picture: to linear light, times ``--exposure``, Poisson-Gaussian sensor
noise added there (variance ``--shot`` x signal + ``--read``², seeded), back to sRGB, 8 bits.
Three pictures are compared with the original frame: the darkened frame itself, ``low_light``
on each frame alone (a still: the lift, no denoise), and ``low_light`` on the stream (the
lift and the temporal denoise, the frames in order with the video's clock): PSNR and SSIM
(:func:`models.losses.quality.ssim`) over every frame after the first, and PSNR over the
pixels that moved since the previous frame (the original's blurred gray changed by more than
6 levels): where a denoise that smears motion would lose. The time per frame of the effect
is measured on the stream (p50, ms, one process on the shared 2-core machine).

**Framing.** ``auto_frame`` (strength 1) on held videos with MediaPipe's face tracking, the
motion on the video's clock: the crop box each frame (centre x, y and height, px), raw (the
framing each frame's faces call for, no smoothing) against the smoothed crop the effect
shows. Jerk is the third finite difference of the crop's centre over time (px/s³, RMS and
95th percentile), speed the first (px/s, max, against the configured limit); "moving" is the
share of frames where the crop moved by more than 0.1 px.

Writes report.json, report.md, plot.png and sheet.jpg (original | darkened | low_light) into ``--out``.
``--dark-video FILE.avi`` only writes darkened frames as a video, for ``benchmarks.fps --source``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from models.data.media import data_root
from models.losses.quality import ssim
from realtime.errors import UserError, run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"
VIDEOS = ("liveportrait__d18", "facenet__video", "tpsmm__driving", "liveportrait__d3")
# close-ups fill the frame already (nothing to frame): those are shown at half size, as a person twice as far away
FRAMING_VIDEOS = ("face_recognition__short_hamilton_clip", "liveportrait__d9@0.5", "tpsmm__driving@0.5")
SIZE = (640, 480)
MOVED = 6.0  # gray levels (blurred) a pixel of the original must change by to count as moving
log = logging.getLogger("benchmarks.low_light")


def video_path(name: str) -> Path:
    path = data_root() / "videos" / f"{name}.mp4"
    if not path.is_file():
        raise UserError(f"video {path} not found (set REALTIME_DATA to the shared data folder)")
    return path


def read_frames(path: Path, count: int, size: tuple[int, int] = SIZE) -> tuple[list[np.ndarray], float]:
    """The first ``count`` frames, centre-cropped to the aspect of ``size`` and resized to it (BGR), and the fps."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    w, h = size
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        fh, fw = frame.shape[:2]
        if fw * h > fh * w:
            cw = fh * w // h
            frame = frame[:, (fw - cw) // 2 : (fw - cw) // 2 + cw]
        else:
            ch = fw * h // w
            frame = frame[(fh - ch) // 2 : (fh - ch) // 2 + ch]
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    cap.release()
    return frames, fps


def to_linear(bgr: np.ndarray) -> np.ndarray:
    x = bgr.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    x = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Darkening:
    exposure: float = 0.12  # share of the light that reaches the sensor (-3 EV)
    shot: float = 0.003  # Poisson (shot) noise variance per unit of linear signal
    read: float = 0.004  # Gaussian read noise sigma, linear

    def __call__(self, bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lin = to_linear(bgr) * self.exposure
        sigma = np.sqrt(self.shot * lin + self.read**2)
        return to_srgb(lin + rng.standard_normal(lin.shape).astype(np.float32) * sigma)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    d = (a.astype(np.float32) - b.astype(np.float32)) ** 2
    if mask is not None:
        if not mask.any():
            return float("nan")
        d = d[mask]
    mse = float(d.mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def moving_mask(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    g0, g1 = (cv2.GaussianBlur(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float32), (5, 5), 0) for x in (prev, cur))
    return np.abs(g1 - g0) > MOVED


def low_light_video(name: str, frames: int, darkening: Darkening, seed: int) -> dict[str, Any]:
    from realtime.analysis.analysers import FrameAnalysis
    from realtime.compositing.temporal import TemporalMemory
    from realtime.filters.kinds.base import Settings
    from realtime.filters.kinds.low_light import LowLight

    originals, fps = read_frames(video_path(name), frames)
    rng = np.random.default_rng(seed)
    darks = [darkening(f, rng) for f in originals]
    clock = {"t": 0.0}
    stream, still = LowLight(clock=lambda: clock["t"]), LowLight()
    stream_settings, still_settings = Settings(temporal=TemporalMemory()), Settings()
    rows: dict[str, list[float]] = {k: [] for k in ("psnr_dark", "psnr_lift", "psnr_stream", "ssim_dark", "ssim_lift", "ssim_stream",
                                                    "moving_psnr_lift", "moving_psnr_stream", "ms")}
    sample = None
    for i, (orig, dark) in enumerate(zip(originals, darks)):
        clock["t"] = i / fps
        start = time.perf_counter()
        out = stream.apply(dark, FrameAnalysis(), stream_settings).image
        rows["ms"].append((time.perf_counter() - start) * 1000)
        lift = still.apply(dark, FrameAnalysis(), still_settings).image
        if i == 0:
            continue  # the stream has no previous frame yet: it is the still
        rows["psnr_dark"].append(psnr(dark, orig))
        rows["psnr_lift"].append(psnr(lift, orig))
        rows["psnr_stream"].append(psnr(out, orig))
        if i % 3 == 1:
            rows["ssim_dark"].append(ssim(dark, orig))
            rows["ssim_lift"].append(ssim(lift, orig))
            rows["ssim_stream"].append(ssim(out, orig))
        mask = moving_mask(originals[i - 1], orig)
        if mask.mean() > 0.002:
            rows["moving_psnr_lift"].append(psnr(lift, orig, mask))
            rows["moving_psnr_stream"].append(psnr(out, orig, mask))
        if i == len(originals) // 2:
            sample = np.hstack([orig, dark, out])
    summary = {k: round(float(np.nanmean(v)), 3) if v else None for k, v in rows.items() if k != "ms"}
    summary["ms_p50"] = round(float(np.median(rows["ms"][1:])), 2)
    summary["frames"] = len(originals)
    summary["mean_luma_original"] = round(float(np.mean([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).mean() for f in originals])), 1)
    summary["mean_luma_dark"] = round(float(np.mean([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).mean() for f in darks])), 1)
    summary["faces_found_original"], summary["faces_found_dark"] = (faces_found(originals, fps), faces_found(darks, fps))
    return {"video": name, "summary": summary, "psnr_per_frame": {k: [round(v, 2) for v in rows[k]] for k in
                                                                 ("psnr_dark", "psnr_lift", "psnr_stream")}, "sample": sample}


def faces_found(frames: list[np.ndarray], fps: float) -> float:
    """Share of ``frames`` in which MediaPipe's tracking finds a face (what auto_frame and the face
    effects see: the analysis runs on the frame the camera gives, dark or not)."""
    from realtime.analysis.analysers import FACES, Analysis

    analysis = Analysis(frozenset({FACES}))
    try:
        return round(float(np.mean([bool(analysis(f, i / fps).faces) for i, f in enumerate(frames)])), 3)
    finally:
        analysis.close()


def write_dark_video(name: str, frames: int, darkening: Darkening, path: Path, seed: int) -> Path:
    """The darkened frames of ``name`` as a video (lossless-ish MJPG in .avi, or mp4v), for
    ``python -m benchmarks.fps --source PATH`` to time a chain on frames low_light really works on."""
    originals, fps = read_frames(video_path(name), frames)
    rng = np.random.default_rng(seed)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, SIZE)
    for f in originals:
        writer.write(darkening(f, rng))
    writer.release()
    return path


def jerk_stats(track: np.ndarray, fps: float) -> dict[str, float]:
    """``track``: frames x 3 (cx, cy, h). Speed and jerk of the centre, px/s and px/s³."""
    centre = track[:, :2]
    v = np.diff(centre, axis=0) * fps
    j = np.diff(centre, n=3, axis=0) * fps**3
    jn = np.hypot(j[:, 0], j[:, 1]) if len(j) else np.zeros(1)
    speed = np.hypot(v[:, 0], v[:, 1]) if len(v) else np.zeros(1)
    step = np.abs(np.diff(track, axis=0)).max(axis=1) if len(track) > 1 else np.zeros(1)
    return {"jerk_rms": round(float(np.sqrt(np.mean(jn**2))), 1), "jerk_p95": round(float(np.percentile(jn, 95)), 1),
            "speed_max": round(float(speed.max()), 1), "zoom_speed_max": round(float(np.abs(np.diff(track[:, 2])).max() * fps), 1) if len(track) > 1 else 0.0,
            "largest_step_px": round(float(step.max()), 2), "moving_share": round(float((step > 0.1).mean()), 3)}


def far_away(frame: np.ndarray, scale: float) -> np.ndarray:
    """``frame`` shrunk by ``scale`` in the middle of a frame of its size, the border mirrored:
    the same scene with the person further from the camera."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    top, left = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    return cv2.copyMakeBorder(small, top, h - small.shape[0] - top, left, w - small.shape[1] - left, cv2.BORDER_REFLECT)


def framing_video(spec: str, frames: int) -> dict[str, Any]:
    """auto_frame's crop on ``spec``: a video stem, ``@S`` to show it at scale S (a wider shot)."""
    from realtime.analysis.analysers import FACES, Analysis
    from realtime.filters.kinds.auto_frame import AutoFrameConfig, CropMotion, faces_box, framing

    name, _, scale = spec.partition("@")
    originals, fps = read_frames(video_path(name), frames)
    if scale:
        originals = [far_away(f, float(scale)) for f in originals]
    config = AutoFrameConfig()
    analysis = Analysis(frozenset({FACES}))
    motion = CropMotion()
    raw, smooth, found = [], [], 0
    try:
        for i, frame in enumerate(originals):
            t = i / fps
            box = faces_box(analysis(frame, t))
            found += box is not None
            wanted = framing(box, frame.shape[:2], 1.0, config)
            raw.append(wanted)
            smooth.append(motion.step(wanted, box is not None, t, frame.shape[:2], config))
    finally:
        analysis.close()
    raw_a, smooth_a = np.array(raw), np.array(smooth)
    return {"video": spec, "frames": len(originals), "fps": fps, "faces_found": round(found / max(1, len(originals)), 3),
            "speed_limit_px_s": round(config.max_speed * SIZE[1], 1), "raw": jerk_stats(raw_a, fps), "smoothed": jerk_stats(smooth_a, fps),
            "track_raw": raw_a.round(2).tolist(), "track_smoothed": smooth_a.round(2).tolist()}


def plot(path: Path, light: list[dict[str, Any]], frames: list[dict[str, Any]]) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    first = light[0]
    for key, label in (("psnr_dark", "darkened"), ("psnr_lift", "low_light, each frame alone"), ("psnr_stream", "low_light on the stream")):
        axes[0].plot(first["psnr_per_frame"][key], label=label)
    axes[0].set(title=f"PSNR to the original, {first['video']}", xlabel="frame", ylabel="dB")
    axes[0].legend(fontsize=8)
    names = [r["video"].split("__")[-1] for r in light]
    x = np.arange(len(names))
    for k, (key, label) in enumerate((("psnr_dark", "darkened"), ("psnr_lift", "alone"), ("psnr_stream", "stream"))):
        axes[1].bar(x + (k - 1) * 0.27, [r["summary"][key] for r in light], 0.27, label=label)
    axes[1].set(xticks=x, xticklabels=names, title="mean PSNR per video", ylabel="dB")
    axes[1].legend(fontsize=8)
    if frames:
        f = frames[0]
        raw, smooth = np.array(f["track_raw"]), np.array(f["track_smoothed"])
        t = np.arange(len(raw)) / f["fps"]
        axes[2].plot(t, raw[:, 0], lw=0.8, alpha=0.7, label="crop centre x, raw")
        axes[2].plot(t, smooth[:, 0], lw=1.6, label="crop centre x, auto_frame")
        axes[2].plot(t, raw[:, 2], lw=0.8, alpha=0.7, label="crop height, raw")
        axes[2].plot(t, smooth[:, 2], lw=1.6, label="crop height, auto_frame")
        axes[2].set(title=f"framing, {f['video']}", xlabel="s", ylabel="px")
        axes[2].legend(fontsize=8)
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.low_light", __doc__)
    p.add_argument("--videos", nargs="*", default=list(VIDEOS), help="videos (stems under ../shared/data/videos) to darken")
    p.add_argument("--frames", type=int, default=60, help="frames of each video (from its start)")
    p.add_argument("--exposure", type=float, default=Darkening.exposure)
    p.add_argument("--shot", type=float, default=Darkening.shot)
    p.add_argument("--read", type=float, default=Darkening.read)
    p.add_argument("--framing-videos", nargs="*", default=list(FRAMING_VIDEOS),
                   help="videos auto_frame's smoothness is measured on (NAME@0.5: shown at half size, a wider shot)")
    p.add_argument("--framing-frames", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS / "low-light-cpu")
    p.add_argument("--dark-video", type=Path, metavar="FILE.avi",
                   help="only write the first --videos entry darkened (--frames frames) to FILE.avi, e.g. for benchmarks.fps --source")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.frames < 3 or a.framing_frames < 4:
        raise UserError("--frames must be at least 3 and --framing-frames at least 4")
    darkening = Darkening(a.exposure, a.shot, a.read)
    if a.dark_video:
        print(f"wrote {write_dark_video(a.videos[0], a.frames, darkening, a.dark_video, a.seed)}")
        return 0
    light = [low_light_video(v, a.frames, darkening, a.seed + i) for i, v in enumerate(a.videos)]
    framed = [framing_video(v, a.framing_frames) for v in a.framing_videos]
    cols = ("psnr_dark", "psnr_lift", "psnr_stream", "ssim_dark", "ssim_lift", "ssim_stream", "moving_psnr_lift", "moving_psnr_stream")
    mean = {k: round(float(np.mean([r["summary"][k] for r in light if r["summary"][k] is not None])), 3) for k in cols}
    lines = [
        "# low_light and auto_frame — " + machine(), "",
        f"{time.strftime('%Y-%m-%d')}; {a.frames} frames of each video at {SIZE[0]}x{SIZE[1]}, darkened to exposure {a.exposure} "
        f"with Poisson-Gaussian noise (shot {a.shot}, read {a.read}, linear light), seed {a.seed}. Measured against the original "
        "frame: the darkened frame, low_light on each frame alone (the lift only), and low_light on the stream (lift + temporal "
        "denoise). Frame 0 is left out (the stream has no previous frame). The machine is shared with other work: times are "
        "those of a loaded 2-core CPU.", "",
        "| video | mean luma orig / dark | PSNR dark | PSNR alone | PSNR stream | SSIM dark | SSIM alone | SSIM stream | moving-pixel PSNR alone / stream | ms p50 | faces found orig / dark |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in light:
        s = r["summary"]
        lines.append(f"| {r['video']} | {s['mean_luma_original']} / {s['mean_luma_dark']} | {s['psnr_dark']} | {s['psnr_lift']} | "
                     f"**{s['psnr_stream']}** | {s['ssim_dark']} | {s['ssim_lift']} | **{s['ssim_stream']}** | "
                     f"{s['moving_psnr_lift']} / {s['moving_psnr_stream']} | {s['ms_p50']} | "
                     f"{s['faces_found_original']:.0%} / {s['faces_found_dark']:.0%} |")
    lines.append(f"| mean | | {mean['psnr_dark']} | {mean['psnr_lift']} | **{mean['psnr_stream']}** | {mean['ssim_dark']} | "
                 f"{mean['ssim_lift']} | **{mean['ssim_stream']}** | {mean['moving_psnr_lift']} / {mean['moving_psnr_stream']} | | |")
    lines += ["", "Moving-pixel PSNR: over the pixels whose original changed since the previous frame; the stream's temporal "
              "denoise must not lose there against the frame alone (it would if it smeared motion). Faces found: the share of "
              "frames where MediaPipe's tracking finds a face, on the original and on the darkened frame (the analysis sees the "
              "camera's frame, before low_light: auto_frame and face effects in a dark room depend on it).", "",
              "## auto_frame: smoothness of the crop (strength 1, MediaPipe face tracking, the video's clock)", "",
              "| video | frames | faces found | crop | jerk RMS px/s³ | jerk p95 px/s³ | max speed px/s (limit) | max zoom speed px/s | largest step px | frames moving |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for f in framed:
        for kind in ("raw", "smoothed"):
            s = f[kind]
            lines.append(f"| {f['video']} | {f['frames']} | {f['faces_found']:.0%} | {kind} | {s['jerk_rms']} | {s['jerk_p95']} | "
                         f"{s['speed_max']} ({f['speed_limit_px_s']}) | {s['zoom_speed_max']} | {s['largest_step_px']} | {s['moving_share']:.0%} |")
    lines += ["", "raw: the crop each frame's faces call for (no smoothing); smoothed: what auto_frame shows (dead zone, critically "
              "damped spring, speed cap). Jerk from the third finite difference of the crop centre.", "",
              "Reproduce: `python -m benchmarks.low_light` (defaults: --videos " + " ".join(VIDEOS) + " --frames 60 --framing-videos "
              + " ".join(FRAMING_VIDEOS) + " --framing-frames 300)", ""]
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "darkening": {"exposure": a.exposure, "shot": a.shot, "read": a.read},
              "low_light": [{k: v for k, v in r.items() if k != "sample"} for r in light],
              "mean": mean, "framing": framed}
    a.out.mkdir(parents=True, exist_ok=True)
    sample = next((r["sample"] for r in light if r["sample"] is not None), None)
    if sample is not None:
        cv2.imwrite(str(a.out / "sheet.jpg"), cv2.resize(sample, (sample.shape[1] // 2, sample.shape[0] // 2), interpolation=cv2.INTER_AREA),
                    [cv2.IMWRITE_JPEG_QUALITY, 85])
    save_report(a.out, report, "\n".join(lines), lambda path: plot(path, light, framed))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
