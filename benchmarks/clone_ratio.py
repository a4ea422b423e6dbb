"""How close a cloned filter comes to its teacher on faces it has never seen, as a user runs it.

    python -m benchmarks.clone_ratio --filter cartoon [--variants full fast]

For each held-out photo and video frame (the files training leaves out: ``--holdout``) at the
network's work size, each teacher style and each latent code: ratio = L1(network, teacher) /
L1(photo, teacher), where the network is the bundled ONNX file run by ``realtime`` (the full
network or its fast CPU variant). 1.0 = no closer to the teacher than the photo itself, 0 = the
teacher exactly. Each style's row takes the code that comes closest (the issue's measure); the
table also says which code that was, so variants that share a code show. Writes report.json,
report.md and plot.png into ``--out``.

    python -m benchmarks.clone_ratio --filter cartoon --checkpoint runs/cartoon.pt [--guided-factor 3]

scores training checkpoints instead (PyTorch, CPU), to compare runs before one is released;
``--guided-factor F`` runs a full network at 1/F of the size with the guided upsampling of the
fast students (:mod:`models.networks.guided`), untrained for it: where a student of that factor starts.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from models.data.media import HOLDOUT
from models.losses.quality import clone_ratio_table
from realtime.errors import UserError, run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"


def held_out(data: Path, holdout: tuple[str, ...], short: int, every: int = 15) -> list[np.ndarray]:
    """The held-out photos and every ``every``-th frame of held-out videos, short side ``short``, RGB."""
    from models.data.media import IMAGE_EXTS, VIDEO_EXTS, fit_short_side, list_media, read_rgb, read_video_frames

    out = []
    for path in list_media(data, IMAGE_EXTS | VIDEO_EXTS):
        if path.stem in holdout:
            frames = read_video_frames(path, every) if path.suffix.lower() in VIDEO_EXTS else [read_rgb(path)]
            out += [fit_short_side(f, short) for f in frames]
    if not out:
        raise UserError(f"none of {', '.join(holdout)} is under {data} (give --data or set REALTIME_DATA)")
    return out


def stems(text: str) -> tuple[str, ...]:
    """``a,b,,c`` -> ``("a", "b", "c")``: the --holdout list."""
    return tuple(s for s in text.split(",") if s)


def add_holdout_args(p: argparse.ArgumentParser) -> None:
    """--data and --holdout (parsed into a tuple of file stems): where the held-out faces are
    and which files they are."""
    p.add_argument("--data", type=Path, default=None, help="the shared media folder (default ../shared/data or $REALTIME_DATA)")
    p.add_argument("--holdout", type=stems, default=HOLDOUT, help=f"file stems training left out (default {','.join(HOLDOUT)})")


def teacher_images(filters: list[str], data: Path | None, holdout: tuple[str, ...]) -> Iterator[tuple[str, list[np.ndarray]]]:
    """(filter, its held-out images at the filter's work size) for filters cloned from a
    classical teacher of the same name; an unknown one is refused before any work."""
    from models.data.media import data_root
    from models.teachers.classical import STYLED_TEACHERS
    from realtime.filters.onnx_format import read_contract
    from realtime.filters.registry import resolve_filter

    unknown = [f for f in filters if f not in STYLED_TEACHERS]
    if unknown:
        raise UserError(f"no teacher for {', '.join(unknown)}: cloned filters are {', '.join(STYLED_TEACHERS)}")
    for spec in filters:
        yield spec, held_out(data or data_root(), holdout, read_contract(resolve_filter(spec)).work_size)


Apply = Callable[[np.ndarray, int], np.ndarray]  # (RGB uint8, code) -> RGB uint8 of the same size


def bundled(spec: str, variant: str) -> tuple[Apply, int]:
    """The bundled ONNX filter as ``realtime`` runs it, and its number of codes."""
    import realtime

    chain = realtime.load_chain(spec, provider="cpu", variant=variant)

    def apply(rgb: np.ndarray, code: int) -> np.ndarray:
        return cv2.cvtColor(chain.apply(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), latent=code), cv2.COLOR_BGR2RGB)

    return apply, max(1, chain.filters[0].model.contract.latent_codes)


def checkpoint(path: Path, guided_factor: int = 0) -> tuple[Apply, int]:
    """A training checkpoint run by PyTorch (optionally at 1/guided_factor size with guided
    upsampling), the frame edge-padded to the network's size multiple, and its number of codes."""
    import torch

    from export.onnx_export import ExportWrapper
    from models.networks.calling import latent_codes
    from models.networks.checkpoint import load_checkpoint
    from models.networks.guided import GuidedUpsample

    model, _, _ = load_checkpoint(path)
    if guided_factor:
        if isinstance(model, GuidedUpsample):
            raise UserError(f"{path} is already a fast student; --guided-factor wraps a full network")
        model = GuidedUpsample.around(model, factor=guided_factor).eval()
    graph = ExportWrapper(model).eval()  # what the exported file computes: code lookup, network, clamp
    m = model.size_multiple

    @torch.no_grad()
    def apply(rgb: np.ndarray, code: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        padded = cv2.copyMakeBorder(rgb, 0, -h % m, 0, -w % m, cv2.BORDER_REPLICATE)
        x = torch.from_numpy(padded).permute(2, 0, 1)[None].float() * (graph.high / 255.0)
        y = graph(x, torch.tensor([code])) if graph.has_latent else graph(x)
        y = (y[0, :, :h, :w] * (255.0 / graph.high)).permute(1, 2, 0).numpy()
        return (y + 0.5).astype(np.uint8)

    return apply, max(1, latent_codes(model))


def ratios(label: str, variant: str, teacher: str, images: list[np.ndarray], apply: Apply, codes: int) -> dict[str, Any]:
    """Per teacher style: the best code, its ratio, and every code's ratio."""
    from models.teachers.classical import STYLED_TEACHERS

    fn, styles = STYLED_TEACHERS[teacher]
    table = clone_ratio_table(tqdm(images, desc=f"{label} {variant}", unit="image", leave=False), apply, codes, fn, styles)
    rows = {name: {"best_code": int(table[i].argmin()), "ratio": round(float(table[i].min()), 3),
                   "by_code": [round(float(r), 3) for r in table[i]]} for i, name in enumerate(styles)}
    return {"filter": label, "variant": variant, "teacher": teacher, "styles": rows,
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
    plt = pyplot()

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
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.clone_ratio", __doc__)
    p.add_argument("--filter", nargs="+", default=["cartoon"], help="bundled filters cloned from a teacher of the same name")
    p.add_argument("--variants", nargs="+", default=["full", "fast"], choices=["full", "fast"])
    add_holdout_args(p)
    p.add_argument("--checkpoint", type=Path, nargs="+", help="score these training checkpoints (PyTorch) instead of the bundled files")
    p.add_argument("--guided-factor", type=int, default=0, help="with --checkpoint: run each at 1/F size with guided upsampling")
    p.add_argument("--out", type=Path, default=RESULTS / "clone-ratio-cpu")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if a.checkpoint and len(a.filter) != 1:
        raise UserError("--checkpoint scores networks of one teacher: give exactly one --filter")
    if a.guided_factor and not a.checkpoint or a.guided_factor < 0:
        raise UserError("--guided-factor needs --checkpoint and a factor of 1 or more")
    missing = [str(c) for c in a.checkpoint or [] if not c.is_file()]
    if missing:
        raise UserError(f"checkpoint {', '.join(missing)} does not exist")
    rows, count = [], 0
    for spec, images in teacher_images(a.filter, a.data, a.holdout):
        count = len(images)
        runs = ([(str(c), f"guided 1/{a.guided_factor}" if a.guided_factor else "checkpoint", checkpoint(c, a.guided_factor))
                 for c in a.checkpoint] if a.checkpoint else [(spec, v, bundled(spec, v)) for v in a.variants])
        for label, variant, (apply, codes) in runs:
            rows.append(ratios(label, variant, spec, images, apply, codes))
            print(f"{label} {variant}: mean ratio {rows[-1]['mean_ratio']}, {rows[-1]['distinct_codes']} distinct codes")
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "holdout": list(a.holdout), "images": count,
              "command": "python -m benchmarks.clone_ratio " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
              "rows": rows}
    save_report(a.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
