"""What a loss network punishes: a blur of σ=1 against a 1-pixel shift, on face photos.

    python -m benchmarks.loss_sensitivity [--data DIR] [--size 256] [--out DIR]

A style or clone network that blurs strokes away should cost more than one that draws them a
pixel off. For each photo under ``<data>/faces`` (short side --size, centre crop --size²; all are
unseen by every loss network here: the random filters are not trained, MediaPipe's networks
were trained elsewhere), two changes of the same photo: a Gaussian blur of σ=1 (reflect border)
and a shift of one pixel to the right (the edge column repeated). For each loss, the ratio
loss(blur) / loss(shift), over all photos at once (the sums' ratio) and per photo (median):

- pixel L1: mean |y − x|;
- the random loss network (``--loss-net random``, models.losses.perceptual.RandomFeatures) at
  each of its scales 1, 2, 4, 8: the content loss StyleLoss uses, MSE(f(y), f(x)) / mean f(x)²;
- MediaPipe's pose_landmark_full, face_landmark and selfie_segmentation networks
  (models.losses.tflite_net.PretrainedFeatures) at each stage output (strides 2, 4, 8, 16),
  the same normalised MSE.

A ratio above 1 means the loss punishes the blur more than the shift. Writes report.json,
report.md and plot.png (the ratios per layer, log scale). Skips, with a message and exit code 0,
when the faces folder is absent.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"
PRETRAINED = {"pose": ("pose_landmark_full", (0, 1, 2, 3)), "face": ("face_landmark", (0, 1, 2, 3)),
              "selfie": ("selfie_segmentation", (0, 1, 2))}


def gaussian_blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Separable Gaussian blur (radius 3σ, reflected border) of N×C×H×W."""
    r = int(np.ceil(3 * sigma))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=x.dtype) ** 2 / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def shift_right(x: torch.Tensor, px: int = 1) -> torch.Tensor:
    """The image moved ``px`` pixels to the right, its first column repeated."""
    return torch.cat([x[..., :1].expand(*x.shape[:-1], px), x[..., :-px]], dim=-1)


def face_photos(folder: Path, size: int) -> tuple[list[str], torch.Tensor]:
    """(file names, N×3×size×size RGB 0–1): every photo in ``folder``, short side ``size``, centre crop."""
    from models.data.media import IMAGE_EXTS, fit_short_side, list_media, read_rgb

    names, out = [], []
    for path in list_media(folder, IMAGE_EXTS):
        if path.parent != folder:
            continue  # faces/noface/ holds pictures without a face
        img = fit_short_side(read_rgb(path), size)
        y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        out.append(torch.from_numpy(np.ascontiguousarray(img[y : y + size, x : x + size]).astype(np.float32) / 255).permute(2, 0, 1))
        names.append(path.name)
    return names, torch.stack(out) if out else torch.empty(0, 3, size, size)


def feature_losses(features: list[torch.Tensor], changed: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per layer, per image: MSE(f(y), f(x)) / mean f(x)² (StyleLoss's normalised content loss)."""
    return [((b - a) ** 2).flatten(1).mean(1) / (a**2).flatten(1).mean(1).clamp_min(1e-12) for a, b in zip(features, changed)]


def measure(x: torch.Tensor, nets: dict[str, tuple[Callable[[torch.Tensor], list[torch.Tensor]], list[str]]],
            batch: int = 4) -> list[dict[str, Any]]:
    """One row per loss and layer: blur and shift losses (means) and their ratios."""
    blurred, shifted = gaussian_blur(x), shift_right(x)
    rows: list[dict[str, Any]] = []

    def row(loss: str, layer: str, lb: torch.Tensor, ls: torch.Tensor, seconds: float) -> None:
        rows.append({"loss": loss, "layer": layer, "blur": float(lb.mean()), "shift": float(ls.mean()),
                     "ratio": float(lb.sum() / ls.sum()), "ratio_median": float((lb / ls).median()),
                     "ratio_min": float((lb / ls).min()), "ratio_max": float((lb / ls).max()), "seconds": round(seconds, 2)})

    row("pixel L1", "pixels", (blurred - x).abs().flatten(1).mean(1), (shifted - x).abs().flatten(1).mean(1), 0.0)
    for name, (net, layers) in nets.items():
        start = time.perf_counter()
        lb: list[list[torch.Tensor]] = [[] for _ in layers]
        ls: list[list[torch.Tensor]] = [[] for _ in layers]
        with torch.no_grad():
            for i in range(0, len(x), batch):
                fx, fb, fs = net(x[i : i + batch]), net(blurred[i : i + batch]), net(shifted[i : i + batch])
                for k, (b, s) in enumerate(zip(feature_losses(fx, fb), feature_losses(fx, fs))):
                    lb[k].append(b)
                    ls[k].append(s)
        seconds = (time.perf_counter() - start) / 3  # per pass over the photos
        for k, layer in enumerate(layers):
            row(name, layer, torch.cat(lb[k]), torch.cat(ls[k]), seconds)
    return rows


def loss_networks(models: list[str]) -> dict[str, tuple[Callable[[torch.Tensor], list[torch.Tensor]], list[str]]]:
    from models.losses.perceptual import RandomFeatures
    from models.losses.tflite_net import PretrainedFeatures, PretrainedFeaturesConfig

    nets: dict[str, Any] = {}
    if "random" in models:
        r = RandomFeatures()
        nets["random (--loss-net random)"] = (r, [f"scale 1/{s}" for s in r.config.scales])
    for key in models:
        if key in PRETRAINED:
            model, stages = PRETRAINED[key]
            nets[f"{model} (--loss-net {key})"] = (PretrainedFeatures(PretrainedFeaturesConfig(model, stages)),
                                                   [f"stage {s} (stride {2 ** (s + 1)})" for s in stages])
    return nets


def report_text(report: dict[str, Any]) -> str:
    lines = [
        "# Loss sensitivity: blur σ=1 against a 1-pixel shift",
        "",
        f"{report['machine']}; {report['photos']} face photos from `{report['folder']}` at {report['size']}×{report['size']} "
        f"(centre crops). `python -m benchmarks.loss_sensitivity` (docstring: what is measured).",
        "",
        "ratio = loss(blur σ=1) / loss(1-px shift), summed over the photos; above 1 the loss punishes the blur more. "
        "Feature losses are StyleLoss's normalised content loss, MSE(f(y), f(x)) / mean f(x)², per layer. "
        "Median, min and max are per photo; seconds: one pass of the loss network over all photos (1 thread).",
        "",
        "| loss | layer | ratio | median | min–max | loss(blur) | loss(shift) | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(f"| {r['loss']} | {r['layer']} | **{r['ratio']:.2f}** | {r['ratio_median']:.2f} | {r['ratio_min']:.2f}–{r['ratio_max']:.2f} "
                     f"| {r['blur']:.4g} | {r['shift']:.4g} | {r['seconds']} |")
    lines += ["", f"Reproduce: `{report['command']}`", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any]) -> Callable[[Path], None]:
    def draw(path: Path) -> None:
        plt = pyplot()

        rows = report["rows"]
        fig, ax = plt.subplots(figsize=(9, 4.2))
        colours: dict[str, str] = {}
        for i, r in enumerate(rows):
            first = r["loss"] not in colours
            c = colours.setdefault(r["loss"], f"C{len(colours)}")
            ax.bar(i, r["ratio"], color=c, label=r["loss"] if first else None)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)), [r["layer"].replace(" (", "\n(") for r in rows], rotation=90, fontsize=7)
        ax.set_ylabel("loss(blur σ=1) / loss(1-px shift)")
        ax.set_title("what each loss punishes more: blur (>1) or a 1-pixel shift (<1)")
        ax.legend(fontsize=7)
        save_figure(fig, path, dpi=110)

    return draw


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root

    p = command_line("benchmarks.loss_sensitivity", __doc__)
    p.add_argument("--data", type=Path, default=None, help="the shared media folder (default ../shared/data or $REALTIME_DATA)")
    p.add_argument("--size", type=int, default=256, help="crop side (a multiple of 16 for the stride-16 stages)")
    p.add_argument("--models", nargs="+", default=["random", "pose", "face", "selfie"], choices=["random", *PRETRAINED])
    p.add_argument("--out", type=Path, default=RESULTS / "loss-sensitivity-cpu")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    folder = (a.data or data_root()) / "faces"
    names, x = face_photos(folder, a.size) if folder.is_dir() else ([], None)
    if not names:
        print(f"skipped: no face photos under {folder} (give --data or set REALTIME_DATA)")
        return 0
    rows = measure(x, loss_networks(a.models))
    command = " ".join(["python -m benchmarks.loss_sensitivity", *(sys.argv[1:] if argv is None else argv)])
    report = {"machine": machine(), "folder": str(folder), "size": a.size, "photos": len(names), "files": names,
              "sigma": 1.0, "shift_px": 1, "rows": rows, "command": command}
    save_report(a.out, report, report_text(report), plot(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
