"""Background blur and the person mask: speed end to end and mask quality, ours next to a
naive baseline.

    python -m benchmarks.background [--data ../shared/data] [--out benchmarks/results/background-cpu]
        [--frames 300] [--skip-speed] [--skip-quality]

**The baseline** is what a first attempt (and Linux-Fake-Background-Webcam) does: the model's
mask upsampled and thresholded at 0.5, dilated, its edge blurred; the background is the whole
frame Gaussian-blurred, so the person bleeds into it. It is registered as a backdrop
(``--background naive_blur``) so that it runs through the very same live loop as ours.

**Speed** (real video, resized to the case's size, through :func:`realtime.run`): a run paced
like a 30 fps camera for the latency a user sees (p50/p95/p99, share of frames processed) and
an unpaced run for throughput.

**Mask quality, without hand labels:**

- *synthetic ground truth*: the green-screen video (liveportrait__d0) keyed into an exact
  person mask, pasted onto new rooms (photos and paintings): IoU with the truth, and the
  halo: the mean error, in grey levels, of the blurred background in a 4-24 px ring around
  the person against the true room blurred without the person;
- *edge alignment*: the share of mask-boundary pixels within 2 px of an image edge (Canny);
- *temporal stability*: IoU of consecutive masks on frames where the picture barely moved;
- *model agreement*: IoU between the landscape and the general model's masks.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from models.data.media import data_root
from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.compositing.background import BlurBackdrop, blur_sigma, cover, masked_blur, mix, register_backdrop
from realtime.errors import UserError, run_cli
from realtime.analysis.segmentation import MaskConfig, PersonSegmenter
from realtime.host import machine

log = logging.getLogger("benchmarks.background")
RESULTS = Path(__file__).resolve().parent / "results"
SPEED_VIDEO = "liveportrait__d9.mp4"  # a webcam-like talking head in a room
STABILITY_VIDEOS = ["liveportrait__d18.mp4", "liveportrait__d9.mp4", "tpsmm__driving.mp4", "liveportrait__d13.mp4"]
GREEN_SCREEN = "liveportrait__d0.mp4"
ROOMS = ["faces/noface/neural_style__tubingen.jpg", "faces/noface/neural_style__hoovertowernight.jpg",
         "faces/noface/face_alignment__grass.jpg", "faces/noface/pytorch_examples__amber.jpg",
         "styles/neural_style__starry_night.jpg", "styles/neural_style__shipwreck.jpg"]


# ---------------------------------------------------------------------------------- the baseline
def naive_mask(raw: np.ndarray, size: tuple[int, int], dilate: int = 5, feather: int = 7) -> np.ndarray:
    """The model's mask upsampled, thresholded at 0.5, dilated and its edge blurred (LFBW)."""
    w, h = size
    hard = (cv2.resize(raw, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.uint8)
    hard = cv2.dilate(hard, np.ones((dilate, dilate), np.uint8))
    return cv2.blur(hard.astype(np.float32), (feather, feather))


def naive_blur(bgr: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """The whole frame blurred (the person bleeds into the room) and mixed by the mask."""
    return mix(bgr, cv2.GaussianBlur(bgr, (0, 0), sigma), mask)


class NaiveBlurBackdrop:
    """``--background naive_blur``: the baseline through the live loop. It receives our refined
    mask and coarsens it the baseline's way (threshold, dilate, blur)."""

    name = "naive_blur"

    def compose(self, bgr: np.ndarray, person: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        mask = naive_mask(person, (w, h))
        return naive_blur(bgr, mask, blur_sigma(BlurBackdrop().strength, bgr.shape))


register_backdrop("naive_blur")(lambda arg: NaiveBlurBackdrop())


# ---------------------------------------------------------------------------------- media
def video_frames(path: Path, limit: int | None = None, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while limit is None or n < limit:
            ok, frame = cap.read()
            if not ok:
                return
            yield cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if size else frame
            n += 1
    finally:
        cap.release()


def key_green(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A green-screen frame → (the frame cropped of its black letterbox bars, the exact person
    mask as float32 0/1): green = hue 35-90 with saturation and value above 60."""
    rows = np.where(frame.mean(axis=(1, 2)) > 12)[0]
    frame = frame[rows.min():rows.max() + 1]
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    green = cv2.inRange(hsv, (35, 60, 60), (90, 255, 255))
    person = cv2.morphologyEx(255 - green, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return frame, (person > 127).astype(np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def ring(mask: np.ndarray, inner: int, outer: int) -> np.ndarray:
    """Background pixels between ``inner`` and ``outer`` px from the person."""
    dist = cv2.distanceTransform((mask < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    return (dist > inner) & (dist <= outer)


def edge_alignment(mask: np.ndarray, frame: np.ndarray, tolerance: int = 2) -> float:
    """Share of the mask's boundary pixels within ``tolerance`` px of an image edge."""
    boundary = cv2.morphologyEx((mask > 0.5).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    if not boundary.any():
        return float("nan")
    edges = cv2.Canny(cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (3, 3), 0), 40, 120)
    near = cv2.dilate(edges, np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)) > 0
    return float(near[boundary].mean())


class Masks:
    """Ours (stream mode: temporal smoothing, guided refinement) and the baseline's, side by
    side from one model run per frame."""

    def __init__(self, model: str = "landscape", static: bool = False) -> None:
        self.ours = PersonSegmenter(MaskConfig(model=model, still_threshold=0.0), static=static)

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = frame.shape[:2]
        mine = self.ours(frame)
        return mine, naive_mask(self.ours.raw, (w, h))  # the same model output, coarsened the naive way

    def close(self) -> None:
        self.ours.close()


# ---------------------------------------------------------------------------------- quality
def synthetic_truth(data: Path, frames: int) -> dict[str, Any]:
    video = data / "videos" / GREEN_SCREEN
    rooms = [cv2.imread(str(data / r)) for r in ROOMS if (data / r).is_file()]
    if not rooms:
        raise UserError(f"no room images under {data} (expected {ROOMS[0]} …)")
    out: dict[str, list[float]] = {k: [] for k in ("iou_ours", "iou_naive", "halo_ours", "halo_naive", "halo_plain_ours")}
    keyed = [key_green(f) for f in video_frames(video, frames)]
    for r, room in enumerate(tqdm(rooms, desc="synthetic rooms", unit="room")):
        masks = Masks(static=False)  # one stream per room: the person moves over a still room
        for frame, truth in keyed:
            h, w = frame.shape[:2]
            back = cover(room, w, h)
            composite = mix(frame, back, truth)
            ours, naive = masks(composite)
            out["iou_ours"].append(iou(ours, truth))
            out["iou_naive"].append(iou(naive, truth))
            sigma = blur_sigma(BlurBackdrop().strength, composite.shape)
            ideal = cv2.GaussianBlur(back, (0, 0), sigma)  # the true room, blurred without anyone in front
            near = ring(truth, 4, 24)
            ours_bg = masked_blur(composite, ours, sigma)
            naive_bg = cv2.GaussianBlur(composite, (0, 0), sigma)
            out["halo_ours"].append(float(np.abs(ours_bg[near].astype(np.float32) - ideal[near]).mean()))
            out["halo_naive"].append(float(np.abs(naive_bg[near].astype(np.float32) - ideal[near]).mean()))
            # the same normalised blur given the naive mask: how much is the blur, how much the mask
            out["halo_plain_ours"].append(float(np.abs(masked_blur(composite, naive, sigma)[near].astype(np.float32) - ideal[near]).mean()))
        masks.close()
    return {k: round(float(np.mean(v)), 4) for k, v in out.items()} | {"frames": len(keyed), "rooms": len(rooms)}


def stability_and_edges(data: Path, frames: int, still: float = 2.0) -> dict[str, Any]:
    rows = {}
    for name in tqdm(STABILITY_VIDEOS, desc="videos", unit="video"):
        path = data / "videos" / name
        if not path.is_file():
            continue
        masks, other = Masks("landscape"), Masks("general")
        prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        stats: dict[str, list[float]] = {k: [] for k in ("stable_ours", "stable_naive", "edge_ours", "edge_naive", "agree_ours", "agree_naive")}
        for frame in video_frames(path, frames, size=None):
            ours, naive = masks(frame)
            ours_g, naive_g = other(frame)
            stats["edge_ours"].append(edge_alignment(ours, frame))
            stats["edge_naive"].append(edge_alignment(naive, frame))
            stats["agree_ours"].append(iou(ours, ours_g))
            stats["agree_naive"].append(iou(naive, naive_g))
            small = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (64, 48), interpolation=cv2.INTER_AREA).astype(np.float32)
            if prev is not None and float(np.abs(small - prev[0]).mean()) < still:
                stats["stable_ours"].append(iou(ours, prev[1]))
                stats["stable_naive"].append(iou(naive, prev[2]))
            prev = (small, ours, naive)
        masks.close()
        other.close()
        rows[name] = {k: round(float(np.nanmean(v)), 4) if v else None for k, v in stats.items()}
        rows[name]["still_pairs"] = len(stats["stable_ours"])
    return rows


# ---------------------------------------------------------------------------------- speed
SPEED_CASES = [  # (label, filter, size (w, h))
    ("blur 1280x720", "none", (1280, 720)),
    ("cartoon + blur 640x480", "cartoon", (640, 480)),
]


def speed(data: Path, frames: int) -> list[dict[str, Any]]:
    from realtime import RunConfig, run

    source = str(data / "videos" / SPEED_VIDEO)
    rows = []
    cases = [(label, spec, size, bg) for label, spec, size in SPEED_CASES for bg in ("blur", "naive_blur")]
    for label, spec, size, background in tqdm(cases, desc="speed runs", unit="case"):
        row: dict[str, Any] = {"case": label, "background": background, "size": f"{size[0]}x{size[1]}"}
        for mode, fast in (("live", False), ("unpaced", True)):
            config = RunConfig(filter=spec, background=background, source=source, size=size, preview=False, fast=fast,
                               fps=30.0, frames=frames, loop=True, provider="cpu")
            s = run(config).summary()
            row[mode] = {"fps_output": s["fps_output"], "latency_ms": s["latency_ms"],
                         "processed_share": round(s["frames_processed"] / max(1, s["frames_captured"]), 3),
                         "stages_ms": {k: v["p50"] for k, v in s["stages_ms"].items()}}
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------- README pictures
def pictures(data: Path, folder: Path) -> list[Path]:
    """docs/background_astronaut.jpg (photo | blur | a painting behind her | removed) and
    docs/background_hair.jpg (the hair edge, 2× crop: naive blur | ours)."""
    import realtime

    photo = cv2.imread(str(data / "faces" / "skimage__astronaut.png"))
    painting = data / "styles" / "neural_style__shipwreck.jpg"  # Turner: public domain
    tiles = [photo] + [realtime.load_chain("none", background=bg).apply(photo) for bg in ("blur:0.6", str(painting), "remove")]
    folder.mkdir(parents=True, exist_ok=True)
    strip = folder / "background_astronaut.jpg"
    cv2.imwrite(str(strip), np.concatenate([cv2.resize(t, (320, 320), interpolation=cv2.INTER_AREA) for t in tiles], 1),
                [cv2.IMWRITE_JPEG_QUALITY, 88])
    segmenter = PersonSegmenter(MaskConfig(model="general"), static=True)
    ours_mask = segmenter(photo)
    h, w = photo.shape[:2]
    sigma = blur_sigma(0.6, photo.shape)
    naive = naive_blur(photo, naive_mask(segmenter.raw, (w, h)), sigma)
    ours = mix(photo, masked_blur(photo, ours_mask, sigma), ours_mask)
    segmenter.close()
    y0, y1, x0, x1 = 0, 150, 120, 330  # her hair against the wall
    crops = [cv2.resize(img[y0:y1, x0:x1], None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST) for img in (naive, ours)]
    for crop, label in zip(crops, ("naive: whole-frame blur, dilated mask", "ours: masked blur, guided mask")):
        cv2.putText(crop, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 3, cv2.LINE_AA)
        cv2.putText(crop, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
    hair = folder / "background_hair.jpg"
    cv2.imwrite(str(hair), np.concatenate(crops, 1), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return [strip, hair]


# ---------------------------------------------------------------------------------- report
def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Background blur and person masks ({report['machine']})", ""]
    if report.get("speed"):
        lines += ["## Speed, end to end from a real video (" + SPEED_VIDEO + ", resized)", "",
                  "| case | background | live fps | processed | p50 ms | p95 ms | p99 ms | unpaced fps | person ms | background ms |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in report["speed"]:
            live, fast = r["live"], r["unpaced"]
            lat = live["latency_ms"]
            lines.append(f"| {r['case']} | {r['background']} | {live['fps_output']:.1f} | {live['processed_share']:.0%} | "
                         f"{lat['p50']:.0f} | {lat['p95']:.0f} | {lat['p99']:.0f} | {fast['fps_output']:.1f} | "
                         f"{fast['stages_ms'].get('person', 0):.1f} | {fast['stages_ms'].get('background', 0):.1f} |")
        lines.append("")
    if report.get("synthetic"):
        s = report["synthetic"]
        lines += ["## Synthetic ground truth (green screen keyed, pasted on " f"{s['rooms']} rooms, {s['frames']} frames each)", "",
                  "| | ours | naive |", "|---|---|---|",
                  f"| IoU with the true mask | {s['iou_ours']:.3f} | {s['iou_naive']:.3f} |",
                  f"| halo: blurred room error 4-24 px from the person (grey levels) | {s['halo_ours']:.2f} | {s['halo_naive']:.2f} |",
                  f"| (normalised blur with the naive mask) | {s['halo_plain_ours']:.2f} | |", ""]
    if report.get("videos"):
        lines += ["## Real videos (no labels)", "",
                  "| video | edge alignment ours | naive | stability (IoU, still frames) ours | naive | still pairs | model agreement ours | naive |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, v in report["videos"].items():
            fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
            lines.append(f"| {name} | {fmt(v['edge_ours'])} | {fmt(v['edge_naive'])} | {fmt(v['stable_ours'])} | "
                         f"{fmt(v['stable_naive'])} | {v['still_pairs']} | {fmt(v['agree_ours'])} | {fmt(v['agree_naive'])} |")
        lines.append("")
    lines += ["Reproduce: `" + report["command"] + "`", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    panels = [p for p in ("speed", "synthetic", "videos") if report.get(p)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if panel == "speed":
            labels = [f"{r['case']}\n{r['background']}" for r in report["speed"]]
            ax.bar(range(len(labels)), [r["live"]["latency_ms"]["p95"] for r in report["speed"]], color="#4c72b0", label="p95 latency (ms), live")
            ax.bar(range(len(labels)), [r["unpaced"]["fps_output"] for r in report["speed"]], color="#dd8452", alpha=0.6, width=0.4, label="unpaced fps")
            ax.axhline(30, color="k", lw=0.8, ls="--")
            ax.axhline(50, color="r", lw=0.8, ls=":")
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
            ax.legend(fontsize=7)
            ax.set_title("speed (2-core CPU)")
        elif panel == "synthetic":
            s = report["synthetic"]
            ax.bar([0, 1], [s["halo_ours"], s["halo_naive"]], color=["#55a868", "#c44e52"])
            ax.set_xticks([0, 1], ["ours", "naive"])
            ax.set_ylabel("halo: grey-level error near the person")
            ax.set_title(f"IoU ours {s['iou_ours']:.3f} / naive {s['iou_naive']:.3f}")
        else:
            names = list(report["videos"])
            x = np.arange(len(names))
            for i, (key, label) in enumerate([("edge_ours", "edge ours"), ("edge_naive", "edge naive"),
                                              ("stable_ours", "stability ours"), ("stable_naive", "stability naive")]):
                ax.bar(x + i * 0.2, [report["videos"][n][key] or 0 for n in names], width=0.2, label=label)
            ax.set_xticks(x + 0.3, [n.split("__")[-1] for n in names], fontsize=7)
            ax.set_ylim(0, 1.05)
            ax.legend(fontsize=7)
            ax.set_title("real videos")
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.background", __doc__)
    p.add_argument("--data", type=Path, default=None, help="the shared media folder (default ../shared/data or $REALTIME_DATA)")
    p.add_argument("--out", type=Path, default=RESULTS / "background-cpu")
    p.add_argument("--frames", type=int, default=300, help="frames per speed run (default 300: 10 s at 30 fps)")
    p.add_argument("--quality-frames", type=int, default=80, help="frames per video for the mask quality (default 80)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--pictures", type=Path, default=None, metavar="DIR", help="also write the README pictures to DIR (e.g. docs)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = args.data or data_root()
    if not (data / "videos" / SPEED_VIDEO).is_file():
        raise UserError(f"the shared media are not at {data} (give --data DIR or set REALTIME_DATA)")
    if args.frames < 10 or args.quality_frames < 2:
        raise UserError("--frames must be at least 10 and --quality-frames at least 2")
    report: dict[str, Any] = {"machine": machine(),
                              "command": "python -m benchmarks.background " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
                              "date": time.strftime("%Y-%m-%d")}
    if not args.skip_quality:
        report["synthetic"] = synthetic_truth(data, args.quality_frames)
        report["videos"] = stability_and_edges(data, args.quality_frames)
    if not args.skip_speed:
        report["speed"] = speed(data, args.frames)
    if args.pictures:
        for path in pictures(data, args.pictures):
            print(f"picture: {path}")
    save_report(args.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
