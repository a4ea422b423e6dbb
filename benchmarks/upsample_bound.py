"""How close a fast student could come at best: the teacher's own output shrunk, then upsampled.

    python -m benchmarks.upsample_bound --filter cartoon oil [--factor 3]

A fast student runs its network at 1/factor of the frame size and brings the result back to
full size. Give it a perfect network (the classical teacher's own output at full size, shrunk
by ``factor``) and what is left is the upsampler's error. For each held-out photo and video
frame and each teacher style, the clone ratio L1(upsampled, teacher) / L1(photo, teacher)
(:func:`models.losses.quality.clone_ratio_table`) and the band-1 gain and amplitude G_1, A_1
(:class:`benchmarks.bands.ChangeSums`, all styles pooled; the look issue's goal is G ≥ 0.75,
0.85 ≤ A ≤ 1.2) of each upsampler: plain bilinear and bicubic, the students' guided filter
(:func:`models.networks.guided.guided_upsample`), bilinear plus the frame's own detail
(:func:`models.networks.guided.detail_upsample`, gain 1), and the gain maps of
:class:`models.networks.guided.GainMaps` at their best (:func:`best_gain_maps`: fitted to the
teacher by least squares, then made as smooth as the low size can draw them). It bounds the
upsampler, not the student: a trained student's error at the low size comes on top of this.
Writes report.json, report.md and plot.png.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from benchmarks.clone_ratio import add_holdout_args, teacher_images
from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from models.losses.quality import clone_ratio_table
from realtime.errors import UserError, run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"
# (frame shrunk, output shrunk, frame, the teacher's full-size picture) -> output, 0–1 tensors; only
# the best-fit gain maps look at the teacher's picture (a bound, not an upsampler a student has)
Upsampler = Callable[[Any, Any, Any, Any], Any]
GAIN_MAPS = "gain maps (best fit)"
GAIN_EDGES = 1.5  # σ of the edges the second best-fit row adds (distill --gain-edges 1.5)


def best_gain_maps(low_in: Any, low_out: Any, full: Any, target: Any, edges: tuple[float, ...] = (), eps: float = 1e-4) -> Any:
    """The best :class:`~models.networks.guided.GainMaps` output: its maps (the weights of the dark
    and the bright half of the frame's detail, and of each edge channel's) fitted to the teacher's
    lightness change by least squares over windows of 2·factor + 1 full-size pixels, then shrunk
    to the low size and grown back bilinearly as the head's maps are. 0–1 tensors, N×3×H×W."""
    import torch
    from torch.nn import functional as F

    from models.networks.features import luminance
    from models.networks.guided import FineEdges

    size = full.shape[-2:]
    factor = size[0] // low_out.shape[-2]
    up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
    base = up(low_out)
    d = luminance(full) - up(luminance(low_in))
    halves = [d] + ([FineEdges(edges)(full)] if edges else [])
    feats = torch.cat([part for h in halves for part in (h.clamp(max=0), h.clamp(min=0))], dim=1)  # N×K×H×W
    k, r = feats.shape[1], 2 * factor
    box = lambda t: F.avg_pool2d(t, 2 * r + 1, 1, r, count_include_pad=False)  # noqa: E731
    gram = box(torch.einsum("nihw,njhw->nijhw", feats, feats).flatten(1, 2)).view(feats.shape[0], k, k, *size)
    rhs = box(feats * (luminance(target) - luminance(base)))
    a = torch.linalg.solve(gram.permute(0, 3, 4, 1, 2) + eps * torch.eye(k), rhs.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    a = up(F.avg_pool2d(a, factor))
    return base + (a * feats).sum(dim=1, keepdim=True)


def upsamplers() -> dict[str, Upsampler]:
    import torch
    from torch.nn import functional as F

    from models.networks.guided import detail_upsample, guided_upsample

    def resize(mode: str) -> Upsampler:
        return lambda low_in, low_out, full, target: F.interpolate(low_out, size=full.shape[-2:], mode=mode, align_corners=False)

    return {"bilinear": resize("bilinear"), "bicubic": resize("bicubic"),
            "guided (students, r 2, eps 1e-3)": lambda low_in, low_out, full, target: guided_upsample(low_in, low_out, full, 2, 1e-3),
            "bilinear + frame detail": lambda low_in, low_out, full, target: detail_upsample(low_in, low_out, full, torch.ones(1, 3, 1, 1)),
            GAIN_MAPS: best_gain_maps,
            f"gain maps + edges σ {GAIN_EDGES} (best fit)": lambda low_in, low_out, full, target: best_gain_maps(
                low_in, low_out, full, target, (GAIN_EDGES,))}


def bound(teacher: str, images: list[np.ndarray], factor: int) -> dict[str, dict[str, float]]:
    """Per upsampler with a perfect low-size output: the mean clone ratio over the teacher's
    styles, and G_1, A_1 with every picture and style pooled."""
    import torch
    from torch.nn import functional as F

    from benchmarks.bands import ChangeSums
    from models.teachers.classical import STYLED_TEACHERS

    fn, styles = STYLED_TEACHERS[teacher]
    crops = [img[: img.shape[0] // factor * factor, : img.shape[1] // factor * factor] for img in images]

    def tensor(rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255

    done: dict[tuple[int, int], np.ndarray] = {}

    def target(rgb: np.ndarray, style: Any) -> np.ndarray:
        """The teacher's picture, drawn once per image and style (every upsampler and the
        ratio's own comparison use it)."""
        key = (id(rgb), id(style))
        if key not in done:
            done[key] = fn(rgb, style)
        return done[key]

    out = {}
    for name, up in upsamplers().items():
        ratios, sums = [], ChangeSums()
        for style_name, style in tqdm(styles.items(), desc=f"{teacher}: {name}", unit="style", leave=False):
            def apply(rgb: np.ndarray, code: int, style: Any = style) -> np.ndarray:
                x, t = tensor(rgb), target(rgb, style)
                with torch.no_grad():
                    y = up(F.avg_pool2d(x, factor), F.avg_pool2d(tensor(t), factor), x, tensor(t))
                result = (y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
                sums.add(rgb, t, result)
                return result

            ratios.append(float(clone_ratio_table(crops, apply, 1, target, {style_name: style})[0, 0]))
        out[name] = {"ratio": round(float(np.mean(ratios)), 3), "G_1": round(float(sums.gain()[1]), 3),
                     "A_1": round(float(sums.amplitude()[1]), 3)}
    return out


def markdown(report: dict[str, Any]) -> str:
    names = list(report["rows"][0]["ratios"])
    lines = [f"# Upsampler bound: a perfect network at 1/{report['factor']} size ({report['machine']})", "",
             f"{report['date']}; {report['images']} held-out images ({', '.join(report['holdout'])}; videos every 15th frame) "
             "at each filter's work size. The teacher's own output shrunk "
             f"{report['factor']}× and upsampled: what is left for a student whose network were perfect. Per upsampler: "
             "the clone ratio L1(upsampled, teacher) / L1(photo, teacher), mean over the teacher's styles (goal ≤ 0.5), "
             "and band 1's gain G_1 and amplitude A_1, all styles pooled (goal G ≥ 0.75, 0.85 ≤ A ≤ 1.2). "
             f"*{GAIN_MAPS}*: the maps of the `gains` upsampler fitted to the teacher, as smooth as the low size draws them.",
             "", "| teacher | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {r['teacher']} | " + " | ".join(
        f"{v['ratio']} (G_1 {v['G_1']}, A_1 {v['A_1']})" for v in (r["ratios"][n] for n in names)) + " |" for r in report["rows"]]
    lines += ["", f"Reproduce: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    names = list(report["rows"][0]["ratios"])
    fig, ax = plt.subplots(figsize=(7, 3))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        ax.bar(np.arange(len(report["rows"])) + i * width, [r["ratios"][name]["ratio"] for r in report["rows"]], width, label=name)
    ax.axhline(0.5, color="k", linestyle="--", linewidth=1, label="goal 0.5")
    ax.set_xticks(np.arange(len(report["rows"])) + 0.4 - width / 2, [r["teacher"] for r in report["rows"]])
    ax.set_ylabel("clone ratio (perfect network)")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.upsample_bound", __doc__)
    p.add_argument("--filter", nargs="+", default=["cartoon", "oil"], help="cloned filters with a teacher of the same name")
    p.add_argument("--factor", type=int, default=3, help="the student's size factor (default: %(default)s)")
    add_holdout_args(p)
    p.add_argument("--out", type=Path, default=RESULTS / "upsample-bound-cpu")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not 2 <= a.factor <= 8:
        raise UserError(f"--factor {a.factor}: give 2 to 8 (the students run at 1/2 to 1/4)")
    rows, count = [], 0
    for spec, images in teacher_images(a.filter, a.data, a.holdout):
        count = len(images)
        rows.append({"teacher": spec, "ratios": bound(spec, images, a.factor)})
        print(f"{spec}: {rows[-1]['ratios']}")
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "holdout": list(a.holdout), "images": count,
              "factor": a.factor, "command": "python -m benchmarks.upsample_bound " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
              "rows": rows}
    save_report(a.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
