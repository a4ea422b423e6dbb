"""How close a cloned filter comes to its teacher on faces it has never seen, as a user runs it.

    python -m benchmarks.clone_ratio --filter cartoon [--variants full fast]

For each held-out photo and video frame (the files training leaves out: ``--holdout``) at the
network's work size, each teacher style and each latent code: ratio = L1(network, teacher) /
L1(photo, teacher), where the network is the bundled ONNX file run by ``realtime`` (the full
network or its fast CPU variant). 1.0 = no closer to the teacher than the photo itself, 0 = the
teacher exactly. Each style's row takes the code that comes closest (the issue's measure); the
table also says which code that was, so variants that share a code show. Writes report.json,
report.md and plot.png into ``--out``.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.reporting import machine, save_report
from realtime.errors import UserError, run_cli

RESULTS = Path(__file__).resolve().parent / "results"
HOLDOUT = ("skimage__astronaut", "liveportrait__d18", "face_recognition__obama", "3ddfa__emma", "skimage__coffee")


def held_out(data: Path, holdout: tuple[str, ...], short: int, every: int = 15) -> list[np.ndarray]:
    """The held-out photos and every ``every``-th frame of held-out videos, short side ``short``, RGB."""
    from models.media import IMAGE_EXTS, VIDEO_EXTS, fit_short_side, list_media, read_rgb, read_video_frames

    out = []
    for path in list_media(data, IMAGE_EXTS | VIDEO_EXTS):
        if path.stem in holdout:
            frames = read_video_frames(path, every) if path.suffix.lower() in VIDEO_EXTS else [read_rgb(path)]
            out += [fit_short_side(f, short) for f in frames]
    if not out:
        raise UserError(f"none of {', '.join(holdout)} is under {data} (give --data or set REALTIME_DATA)")
    return out


def ratios(spec: str, variant: str, teacher: str, images: list[np.ndarray]) -> dict[str, Any]:
    """Per teacher style: the best code, its ratio, and every code's ratio."""
    import realtime
    from models.teachers import STYLED_TEACHERS

    fn, styles = STYLED_TEACHERS[teacher]
    chain = realtime.load_chain(spec, provider="cpu", variant=variant)
    codes = max(1, chain.filters[0].model.contract.latent_codes)
    net_err = np.zeros((len(styles), codes))
    photo_err = np.zeros(len(styles))
    for rgb in tqdm(images, desc=f"{spec} {variant}", unit="image", leave=False):
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        outs = [cv2.cvtColor(chain.apply(bgr, latent=k), cv2.COLOR_BGR2RGB).astype(np.float32) for k in range(codes)]
        for i, style in enumerate(styles.values()):
            target = fn(rgb, style).astype(np.float32)
            photo_err[i] += np.abs(rgb - target).mean()
            net_err[i] += [np.abs(o - target).mean() for o in outs]
    table = net_err / photo_err[:, None]
    rows = {name: {"best_code": int(table[i].argmin()), "ratio": round(float(table[i].min()), 3),
                   "by_code": [round(float(r), 3) for r in table[i]]} for i, name in enumerate(styles)}
    return {"filter": spec, "variant": variant, "teacher": teacher, "styles": rows,
            "mean_ratio": round(float(table.min(axis=1).mean()), 3),
            "distinct_codes": len({r["best_code"] for r in rows.values()})}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Clone ratio: network vs teacher on held-out faces ({report['machine']})", "",
             f"{report['date']}; {report['images']} held-out images ({', '.join(report['holdout'])}; videos every "
             f"15th frame) at each filter's work size. Ratio = L1(network, teacher) / L1(photo, teacher): 1 = no closer "
             "than the photo, 0 = the teacher. Best code per teacher style.", "",
             "| filter | variant | style | best code | ratio | every code |", "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        for style, s in r["styles"].items():
            lines.append(f"| {r['filter']} | {r['variant']} | {style} | {s['best_code']} | {s['ratio']} | {' / '.join(map(str, s['by_code']))} |")
    lines += ["", "| filter | variant | mean ratio | styles on distinct codes |", "|---|---|---|---|"]
    lines += [f"| {r['filter']} | {r['variant']} | **{r['mean_ratio']}** | {r['distinct_codes']} of {len(r['styles'])} |" for r in report["rows"]]
    lines += ["", f"Reproduce: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values = [], []
    for r in report["rows"]:
        for style, s in r["styles"].items():
            labels.append(f"{r['filter']} {r['variant']} {style}")
            values.append(s["ratio"])
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(labels) + 1.2))
    ax.barh(np.arange(len(labels)), values, color="#4c72b0")
    ax.axvline(0.5, color="k", linestyle="--", linewidth=1, label="goal 0.5")
    ax.axvline(1.0, color="gray", linestyle=":", linewidth=1, label="the photo")
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("L1(network, teacher) / L1(photo, teacher)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from models.media import data_root
    from models.teachers import STYLED_TEACHERS
    from realtime.onnx_format import read_contract
    from realtime.registry import resolve_filter

    p = argparse.ArgumentParser(prog="python -m benchmarks.clone_ratio", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filter", nargs="+", default=["cartoon"], help="bundled filters cloned from a teacher of the same name")
    p.add_argument("--variants", nargs="+", default=["full", "fast"], choices=["full", "fast"])
    p.add_argument("--data", type=Path, default=None, help="the shared media folder (default ../shared/data or $REALTIME_DATA)")
    p.add_argument("--holdout", default=",".join(HOLDOUT), help="file stems training left out")
    p.add_argument("--out", type=Path, default=RESULTS / "clone-ratio-cpu")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    unknown = [f for f in a.filter if f not in STYLED_TEACHERS]
    if unknown:
        raise UserError(f"no teacher for {', '.join(unknown)}: clone ratios exist for {', '.join(STYLED_TEACHERS)}")
    holdout = tuple(s for s in a.holdout.split(",") if s)
    data = a.data or data_root()
    rows, count = [], 0
    for spec in a.filter:
        images = held_out(data, holdout, read_contract(resolve_filter(spec)).work_size)
        count = len(images)
        for variant in a.variants:
            rows.append(ratios(spec, variant, spec, images))
            print(f"{spec} {variant}: mean ratio {rows[-1]['mean_ratio']}, {rows[-1]['distinct_codes']} distinct codes")
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "holdout": list(holdout), "images": count,
              "command": "python -m benchmarks.clone_ratio " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
              "rows": rows}
    save_report(a.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
