"""Does a filter look the same at every camera size? Speed must not come from a blurrier picture.

    python -m benchmarks.look_across_sizes [--filter cartoon ...] [--sizes 1280x720 1920x1080]
        [--source VIDEO] [--frames 8] [--out benchmarks/results/NAME]

For each filter (run as realtime runs it: ``--variant auto``) and each size, frames of the
source at that size are filtered and the output is shrunk to the 480-line size of the same
aspect (1280x720 -> 853x480); the same frames shrunk to 480 lines first are filtered there.
The two must match: SSIM >= 0.95, and in every band that holds >= 10 % of the 480-line
output's change from the photo, the band gain G_k of the large output measured against the
480-line one (:mod:`benchmarks.bands`: 1 = the same change, 0.5 = half of it) within 0.05 of
1. The 480-line size keeps the frame's aspect, so a 16:9 frame is never squeezed into 4:3 (a
squeeze changes every stroke's width, which is not what this measures).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.bands import ChangeSums
from benchmarks.sampling import parse_sizes, sample_frames
from realtime.errors import UserError, below_minimum, run_cli
from realtime.host import machine
from benchmarks.reporting import command_line, pyplot, save_figure

log = logging.getLogger("benchmarks.look_across_sizes")
RESULTS = Path(__file__).resolve().parent / "results"
LINES = 480  # the reference size's short side
SSIM_GOAL, GAIN_TOLERANCE, BAND_SHARE = 0.95, 0.05, 0.10
BANDS = (1, 2, 3)  # judged bands (band 0, single pixels, is below any camera's own detail at 480 lines)


def reference_size(w: int, h: int) -> tuple[int, int]:
    """(width, height) with the short side at :data:`LINES` and the same aspect."""
    scale = LINES / min(w, h)
    return round(w * scale), round(h * scale)


def compare(chain: Any, frames: list[np.ndarray]) -> dict[str, Any]:
    """SSIM and per-band gain of ``chain``'s output on ``frames`` (all one size), shrunk to the
    reference size, against its output on the frames shrunk first."""
    from models.losses.quality import ssim

    h, w = frames[0].shape[:2]
    rw, rh = reference_size(w, h)
    sums = ChangeSums()
    scores = []
    for frame in frames:
        small = cv2.resize(frame, (rw, rh), interpolation=cv2.INTER_AREA)
        at_reference = chain.apply(small)
        at_size = cv2.resize(chain.apply(frame), (rw, rh), interpolation=cv2.INTER_AREA)
        scores.append(ssim(at_size, at_reference))
        rgb = [cv2.cvtColor(x, cv2.COLOR_BGR2RGB) for x in (small, at_reference, at_size)]
        sums.add(*rgb)  # photo, "teacher" = the reference output, "network" = the large output
    share, gains = sums.share(), sums.gain()
    judged = [k for k in BANDS if share[k] >= BAND_SHARE]
    worst = max((abs(gains[k] - 1.0) for k in judged), default=0.0)
    result = {"size": f"{w}x{h}", "reference": f"{rw}x{rh}", "ssim": round(float(np.mean(scores)), 4),
              "band_gain": [round(float(g), 3) for g in gains], "band_share": [round(float(s), 3) for s in share],
              "judged_bands": judged, "worst_gain_gap": round(float(worst), 3)}
    result["pass"] = bool(result["ssim"] >= SSIM_GOAL and worst <= GAIN_TOLERANCE)
    return result


def measure(specs: list[str], sizes: list[tuple[int, int]], source: str, count: int, provider: str = "cpu") -> list[dict[str, Any]]:
    from realtime.filters.chain import load_chain

    rows = []
    for size in sizes:
        frames = sample_frames(source, size, count)
        for spec in specs:
            chain = load_chain(spec, provider=provider, variant="auto")
            row = {"filter": spec, **compare(chain, frames)}
            rows.append(row)
            log.info("%s %s: SSIM %.3f, gains %s", spec, row["size"], row["ssim"], row["band_gain"])
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| filter | size | vs | SSIM | G_1 | G_2 | G_3 | judged bands | worst |G-1| | goal |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        g = r["band_gain"]
        lines.append(f"| {r['filter']} | {r['size']} | {r['reference']} | {r['ssim']} | {g[1]} | {g[2]} | {g[3]} | "
                     f"{', '.join(map(str, r['judged_bands'])) or '—'} | {r['worst_gain_gap']} | {'pass' if r['pass'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows)), 4))
    x = np.arange(len(rows))
    ax.bar(x, [r["ssim"] for r in rows], color=["tab:green" if r["pass"] else "tab:red" for r in rows])
    ax.axhline(SSIM_GOAL, color="gray", linestyle="--", linewidth=1, label=f"goal {SSIM_GOAL}")
    ax.set_xticks(x, [f"{r['filter']} {r['size']}" for r in rows], rotation=40, ha="right", fontsize=7)
    ax.set_ylim(min(0.8, min((r["ssim"] for r in rows), default=1.0) - 0.02), 1.0)
    ax.set_ylabel("SSIM to the 480-line output")
    ax.legend()
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root
    from realtime.filters.registry import bundled_filters

    p = command_line("benchmarks.look_across_sizes", __doc__)
    p.add_argument("--filter", nargs="*", help="bundled names, ONNX files or chains (default: every bundled filter)")
    p.add_argument("--sizes", nargs="*", default=["1280x720", "1920x1080"])
    p.add_argument("--source", default=str(data_root() / "videos" / "liveportrait__d18.mp4"))
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--out", type=Path, default=RESULTS / "look-across-sizes-cpu")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    bad = below_minimum(a, (("frames", 1),))
    if bad:
        raise UserError("; ".join(bad))
    sizes = parse_sizes(a.sizes)
    rows = measure(a.filter or list(bundled_filters()), sizes, a.source, a.frames)
    a.out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "source": a.source, "frames": a.frames}
    (a.out / "report.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    table = markdown(rows)
    plot(rows, a.out / "plot.png")
    (a.out / "report.md").write_text(f"# The look across sizes — {meta['machine']}\n\n{meta['date']}; `{a.source}`, {a.frames} frames.\n\n"
                                     + (__doc__ or "").split("\n\n", 2)[2] + "\n" + table)
    print(table)
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
