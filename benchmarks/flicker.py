"""Flicker of a filter on real videos, with and without temporal stabilisation.

    python -m benchmarks.flicker --filter cartoon [--videos V1.mp4 V2.mp4] [--frames 60]
    python -m benchmarks.flicker --filter realtime/bundled/candy.fast.onnx --keep 0.98 --floor 2   # a sweep

flicker = mean |out_t − out_t−1| (0–255) over pixels whose input did not change;
response = the same over pixels whose input changed. Stabilisation should cut flicker while
keeping the response (no ghosting, no frozen face). Each filter is steadied with its own
settings (its contract's ``filter.temporal_keep``/``_threshold``/``_floor``, else the runtime's default),
as the live loop does; ``--keep``/``--threshold``/``--floor`` set every stabiliser instead (a sweep's rows
are named with them). Prints a table and writes JSON + Markdown; filters measured earlier with
the same videos and frames stay in the report.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError, run_cli
from realtime.filters.chain import load_chain
from realtime.imaging import work_shape
from realtime.filters.registry import resolve_filter
from realtime.compositing.temporal import TemporalConfig, TemporalMemory, flicker_and_response, own_config
from realtime.filters.onnx_format import read_contract
from benchmarks.reporting import command_line

DEFAULT_VIDEOS = ("liveportrait__d18.mp4", "liveportrait__d9.mp4", "tpsmm__driving.mp4")


def read_frames(path: Path, count: int, short: int = 360) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise UserError(f"cannot open video {path}")
    frames = []
    while len(frames) < count:
        ok, bgr = cap.read()
        if not ok:
            break
        h, w = bgr.shape[:2]
        sh, sw = work_shape(h, w, short)
        frames.append(cv2.resize(bgr, (sw, sh), interpolation=cv2.INTER_AREA) if (sh, sw) != (h, w) else bgr)
    cap.release()
    return frames


def measure(model_path: Path, video: Path, frames: int, config: TemporalConfig | None = None) -> dict[str, float]:
    """Flicker and response off and on; ``config``: every stabiliser's settings (None: each filter's own)."""
    f = load_chain(str(model_path), provider="cpu", variant="full")
    inputs = read_frames(video, frames)
    raw = [f.apply(i) for i in inputs]
    memory = TemporalMemory(config)  # as the live loop stabilises: each network's output, at its own size
    steady = [f.apply(i, temporal=memory) for i in inputs]
    fr, rr = flicker_and_response(inputs, raw)
    fs, rs = flicker_and_response(inputs, steady)
    return {"flicker_off": round(fr, 3), "flicker_on": round(fs, 3), "response_off": round(rr, 3), "response_on": round(rs, 3),
            "flicker_ratio": round(fs / fr, 3) if fr else 0.0, "response_kept": round(rs / rr, 3) if rr else 0.0}


def settings_used(model_path: Path, config: TemporalConfig | None) -> str:
    """The stabiliser settings a row was measured with, as the report says them."""
    used = config or read_contract(model_path).temporal()
    whose = "set" if config else "its own" if used else "default"
    return f"{describe(used or TemporalConfig())} ({whose})"


def describe(config: TemporalConfig) -> str:
    return f"keep {config.keep:g}, threshold {config.threshold:g}" + (f", floor {config.floor:g}" if config.floor else "")


def row_name(spec: str, config: TemporalConfig | None) -> str:
    """A filter's row: its name (a model file's stem), with a sweep's settings."""
    name = Path(spec).stem if spec.endswith(".onnx") else spec
    return f"{name} ({describe(config)})" if config else name


def read_report(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def merged(old: dict | None, new: dict) -> dict:
    """The earlier report with the filters just measured replaced, when both used the same videos and frames."""
    if not old or old.get("frames") != new["frames"] or old.get("videos") != new["videos"]:
        return new
    fresh = set(new["mean"])
    per_video = {k: v for k, v in old.get("per_video", {}).items() if k.split("/")[0] not in fresh}
    mean = {k: v for k, v in old.get("mean", {}).items() if k not in fresh}
    return {**new, "per_video": {**per_video, **new["per_video"]}, "mean": {**mean, **new["mean"]}}


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root

    p = command_line("benchmarks.flicker", __doc__)
    p.add_argument("--filter", required=True, action="append", help="bundled name or ONNX file (repeatable)")
    p.add_argument("--videos", nargs="*", type=Path)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--keep", type=float, help="set every stabiliser's keep (a sweep; default: each filter's own)")
    p.add_argument("--threshold", type=float, help="set every stabiliser's threshold, grey levels (a sweep)")
    p.add_argument("--floor", type=float, help="set every stabiliser's floor, grey levels (a sweep)")
    p.add_argument("--json", type=Path, default=Path("benchmarks/results/flicker-s21-cpu/flicker.json"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    videos = a.videos or [data_root() / "videos" / v for v in DEFAULT_VIDEOS]
    try:
        config = own_config(a.keep, a.threshold, a.floor)  # None: each filter's own
    except ValueError as exc:
        raise UserError(f"--keep/--threshold/--floor: {exc}") from None
    paths = {spec: resolve_filter(spec) for spec in a.filter}  # every name checked before any work
    results, used = {}, {}
    print(f"{'filter':12s} {'video':34s} {'flicker off':>11s} {'on':>6s} {'response off':>12s} {'on':>6s}")
    for spec, path in paths.items():
        name = row_name(spec, config)
        used[name] = settings_used(path, config)
        for video in videos:
            r = measure(path, video, a.frames, config)
            results[f"{name}/{video.name}"] = r
            print(f"{name:12s} {video.name:34s} {r['flicker_off']:11.2f} {r['flicker_on']:6.2f} {r['response_off']:12.2f} {r['response_on']:6.2f}")
    summary = {}
    for name in used:
        rows = [r for k, r in results.items() if k.startswith(f"{name}/")]
        summary[name] = {**{k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0]}, "stabiliser": used[name]}
    report = {"per_video": results, "mean": summary, "frames": a.frames, "videos": [v.name for v in videos]}
    report = merged(read_report(a.json), report)
    summary = report["mean"]
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| filter | flicker off → on | response off → on | flicker left | response kept | stabiliser |",
             "|---|---|---|---|---|---|"]
    for name, m in summary.items():
        lines.append(f"| {name} | {m['flicker_off']:.2f} → {m['flicker_on']:.2f} | {m['response_off']:.2f} → {m['response_on']:.2f} "
                     f"| {m['flicker_ratio']:.0%} | {m['response_kept']:.0%} | {m.get('stabiliser', 'default (before the field)')} |")
    table = "\n".join(lines) + "\n"
    a.json.with_suffix(".md").write_text(f"Mean over {', '.join(v.name for v in videos)} ({a.frames} frames each), 0–255 scale.\n\n" + table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
