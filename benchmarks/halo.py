"""The bright halo a style network paints around people, measured on faces it has never seen.

    python -m benchmarks.halo [--filter mosaic candy ...] [--variants full fast] [--out DIR]

For each held-out photo and video frame with a person in it (the person mask of MediaPipe's
selfie segmentation, thresholded at 0.5): the change of lightness the filter makes, ΔL =
L(filtered) − L(photo) in gray levels, averaged over a ring 2–12 px outside the person's
outline, minus the same average over the background more than 32 px away. A style that
recolours the room evenly scores 0; a glow along the outline scores its brightness. The
photo itself (no filter) is the baseline row and scores 0 by definition; the spread between
images says how much a number means. Beside it, "faces found": the share of those pictures in
which MediaPipe's face detector (short range, confidence ≥ 0.5) still finds a face after the
filter, so a style that paints the halo away by painting the face away shows. Writes
report.json, report.md and plot.png.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.clone_ratio import add_holdout_args, held_out
from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import UserError, run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"
STYLES = ("mosaic", "candy", "starry_night", "the_scream", "psychedelic")
RING = (2, 12)  # px outside the outline
FAR = 32  # px: the background the ring is compared with
MIN_PERSON = 0.05  # share of the picture: images with less person are skipped


def lightness(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)


def grown(mask: np.ndarray, px: int) -> np.ndarray:
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))) > 0


def regions(person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ring, far background) boolean masks for a 0–1 person mask."""
    inside = (person > 0.5).astype(np.uint8)
    return grown(inside, RING[1]) & ~grown(inside, RING[0]), ~grown(inside, FAR)


def halo(photo: np.ndarray, filtered: np.ndarray, ring: np.ndarray, far: np.ndarray) -> float:
    """Mean ΔL in the ring minus mean ΔL far from the person, gray levels (> 0: a bright halo)."""
    change = lightness(filtered) - lightness(photo)
    return float(change[ring].mean() - change[far].mean())


def people(images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(BGR image, ring, far) for each image with enough person and enough background."""
    from realtime.analysis.segmentation import MaskConfig, PersonSegmenter

    segmenter = PersonSegmenter(MaskConfig(model="general"), static=True)
    out = []
    try:
        for rgb in images:
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            person = segmenter(bgr)
            ring, far = regions(person)
            if (person > 0.5).mean() >= MIN_PERSON and ring.sum() > 500 and far.sum() > 500:
                out.append((bgr, ring, far))
    finally:
        segmenter.close()
    return out


FaceFinder = Callable[[np.ndarray], bool]  # BGR picture -> a face found


def face_finder() -> tuple[FaceFinder, Callable[[], None]]:
    """MediaPipe's short-range face detector as ``bgr -> found``, and its close."""
    import mediapipe as mp

    detector = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)

    def found(bgr: np.ndarray) -> bool:
        return bool(detector.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).detections)

    return found, detector.close


def measure(spec: str, variant: str, cases: list[tuple[np.ndarray, np.ndarray, np.ndarray]], found: FaceFinder) -> dict[str, Any]:
    import realtime

    chain = realtime.load_chain(spec, provider="cpu", variant=variant) if spec != "photo" else None
    values, faces = [], []
    for bgr, ring, far in tqdm(cases, desc=f"{spec} {variant}", unit="image", leave=False):
        out = bgr if chain is None else chain.apply(bgr)
        values.append(halo(bgr, out, ring, far))
        faces.append(found(out))
    v = np.array(values)
    return {"filter": spec, "variant": variant, "mean": round(float(v.mean()), 2), "median": round(float(np.median(v)), 2),
            "p90": round(float(np.percentile(v, 90)), 2), "images": len(v), "faces_found": round(float(np.mean(faces)), 2)}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Halo around people: style networks on held-out faces ({report['machine']})", "",
             f"{report['date']}; {report['images']} held-out images with a person ({', '.join(report['holdout'])}; "
             f"videos every 15th frame). Halo = mean change of lightness (gray levels) in a ring {RING[0]}–{RING[1]} px "
             f"outside the person's outline minus the mean change more than {FAR} px away: 0 = no halo, > 0 = a bright glow. "
             "Faces found: share of the pictures where MediaPipe's face detector still finds a face after the filter.", "",
             "| filter | variant | halo mean | median | p90 | faces found |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['filter']} | {r['variant']} | **{r['mean']}** | {r['median']} | {r['p90']} | {r['faces_found']} |" for r in report["rows"]]
    lines += ["", f"Reproduce: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    rows = report["rows"]
    labels = [f"{r['filter']} {r['variant']}" for r in rows]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.2))
    ax.barh(np.arange(len(rows)), [r["mean"] for r in rows], color=["#999999" if r["filter"] == "photo" else "#dd8452" for r in rows])
    ax.axvline(0, color="k", linewidth=0.8)
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"lightness change {RING[0]}-{RING[1]} px outside the person minus far background (gray levels)")
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root
    from realtime.filters.registry import bundled_filters

    p = command_line("benchmarks.halo", __doc__)
    p.add_argument("--filter", nargs="+", default=list(STYLES), help="bundled filters or ONNX files")
    p.add_argument("--variants", nargs="+", default=["full", "fast"], choices=["full", "fast"],
                   help="fast rows are left out for filters without a fast variant")
    add_holdout_args(p)
    p.add_argument("--short", type=int, default=480, help="short side of the pictures (default: %(default)s)")
    p.add_argument("--out", type=Path, default=RESULTS / "halo-cpu")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    bundled = bundled_filters()
    unknown = [f for f in a.filter if f not in bundled and not Path(f).is_file()]
    if unknown:
        raise UserError(f"unknown filter {', '.join(unknown)}: give bundled names ({', '.join(sorted(bundled))}) or ONNX files")
    cases = people(held_out(a.data or data_root(), a.holdout, a.short))
    if not cases:
        raise UserError("no held-out image has a person in it: check --data and --holdout")
    found, close = face_finder()
    try:
        rows = [measure("photo", "-", cases, found)]
        for spec in a.filter:
            for variant in a.variants:
                if variant == "fast" and not (spec in bundled and bundled[spec].with_suffix(".fast.onnx").is_file()):
                    continue
                rows.append(measure(spec, variant, cases, found))
                print(f"{spec} {variant}: halo {rows[-1]['mean']} gray levels, faces found {rows[-1]['faces_found']:.0%}")
    finally:
        close()
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "holdout": list(a.holdout), "images": len(cases),
              "command": "python -m benchmarks.halo " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
              "rows": rows}
    save_report(a.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
