"""Which offline (random-feature) loss network stylises best? Gatys stills, side by side.

    python -m models.loss_experiment [--size 192] [--steps 150] [--candidates NAME ...] [--out DIR]

Each candidate configuration of :class:`RandomFeatures` stylises the same content photo with
the same style images by Gatys optimisation. Numbers are measured by *independent* judges,
random networks with other seeds than the one optimised against (so a candidate cannot win by
fitting its own features): style distance = mean Gram error to the style image, content
distance = feature error to the photo, both relative to the starting point (the photo).
Those judges are small random networks themselves, and every candidate drives their Gram
error to about 1 % of the start, so a second judge owes nothing to random filters at all:
:func:`texture_stats`, the energy of the lightness gradients per orientation (8 bins) and
their magnitude quantiles at four scales, and the colour histogram: stroke direction, stroke
size and palette, compared with the style image's.
Writes a contact sheet (rows: candidates, columns: styles) and results.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch

from realtime.errors import run_cli
from models.losses.perceptual import RandomFeatures, RandomFeaturesConfig, StyleLossConfig, gram
from models.data.media import data_root, fit_short_side, read_rgb
from models.teachers.style_images import style_thumbnail
from models.stylize_image import GatysConfig, stylize, to_tensor

CANDIDATES: dict[str, tuple[RandomFeaturesConfig, StyleLossConfig]] = {
    "k3-7 s1-8 m32": (RandomFeaturesConfig(kernel_sizes=(3, 5, 7), maps=32), StyleLossConfig(style_weight=5.0)),
    "k3-7 s1-8 m32 sw20": (RandomFeaturesConfig(kernel_sizes=(3, 5, 7), maps=32), StyleLossConfig(style_weight=20.0)),
    "k3-11 s1-8 m48": (RandomFeaturesConfig(kernel_sizes=(3, 5, 7, 11), maps=48), StyleLossConfig(style_weight=5.0)),
    "k3 s1-16 m64": (RandomFeaturesConfig(kernel_sizes=(3,), scales=(1, 2, 4, 8, 16), maps=64),
                     StyleLossConfig(style_weight=5.0, style_layers=(0, 1, 2, 3, 4))),
    "k5-9 s2-8 m48": (RandomFeaturesConfig(kernel_sizes=(5, 9), scales=(2, 4, 8), maps=48),
                      StyleLossConfig(style_weight=5.0, style_layers=(0, 1, 2), content_layers=(0,))),
}
# Ustyuzhaninov et al. (2016, 2017): one layer of random filters reaches textures close to
# VGG's once it has hundreds of maps per scale; the bundled loss has 4 × 48 = 192.
CANDIDATES.update({
    "k3-11 s1-8 m128": (RandomFeaturesConfig(kernel_sizes=(3, 5, 7, 11), maps=128), StyleLossConfig(style_weight=5.0)),
    "k3-11 s1-8 m256": (RandomFeaturesConfig(kernel_sizes=(3, 5, 7, 11), maps=256), StyleLossConfig(style_weight=5.0)),
})
STYLES = ("neural_style__starry_night.jpg", "pytorch_examples__mosaic.jpg", "neural_style__the_scream.jpg")


def texture_stats(rgb: np.ndarray, scales: tuple[int, ...] = (1, 2, 4, 8), bins: int = 8) -> dict[str, np.ndarray]:
    """Filter-free texture statistics of an RGB uint8 image: per scale, the share of gradient
    energy in each of ``bins`` orientations and the 50/90/99 % gradient magnitudes (relative to
    the image's mean lightness); and an 8×8 histogram of the Lab colour (a, b)."""
    lum = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    orient, mags = [], []
    for s in scales:
        img = cv2.resize(lum, (lum.shape[1] // s, lum.shape[0] // s), interpolation=cv2.INTER_AREA) if s > 1 else lum
        gx, gy = cv2.Sobel(img, cv2.CV_32F, 1, 0), cv2.Sobel(img, cv2.CV_32F, 0, 1)
        mag, angle = np.hypot(gx, gy), np.mod(np.arctan2(gy, gx), np.pi)
        hist = np.bincount(np.minimum((angle / np.pi * bins).astype(int), bins - 1).ravel(), mag.ravel(), bins)
        orient.append(hist / max(hist.sum(), 1e-9))
        mags.append(np.percentile(mag, (50, 90, 99)) / max(float(img.mean()), 1e-3))
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    colour = np.histogram2d(lab[..., 1].ravel(), lab[..., 2].ravel(), bins=8, range=((0, 256), (0, 256)))[0]
    return {"orientation": np.array(orient), "magnitude": np.array(mags), "colour": colour / colour.sum()}


def texture_distance(image: np.ndarray, style: np.ndarray) -> dict[str, float]:
    """How far ``image``'s :func:`texture_stats` are from ``style``'s (0 = the same): orientation
    = mean total-variation distance of the orientation shares, magnitude = mean relative error of
    the magnitude quantiles, colour = total-variation distance of the colour histograms."""
    a, b = texture_stats(image), texture_stats(style)
    return {"orientation": float(0.5 * np.abs(a["orientation"] - b["orientation"]).sum(axis=1).mean()),
            "magnitude": float((np.abs(a["magnitude"] - b["magnitude"]) / b["magnitude"].clip(1e-6)).mean()),
            "colour": float(0.5 * np.abs(a["colour"] - b["colour"]).sum())}


@torch.no_grad()
def judge(image: np.ndarray, content: np.ndarray, style: np.ndarray, seeds: tuple[int, ...] = (101, 202)) -> dict[str, float]:
    x, c = to_tensor(image), to_tensor(content)
    s = to_tensor(fit_short_side(style, min(image.shape[:2])))
    style_d, content_d = [], []
    for seed in seeds:
        net = RandomFeatures(RandomFeaturesConfig(seed=seed, kernel_sizes=(3, 5, 9), maps=32))
        fx, fc, fs = net(x), net(c), net(s)
        style_d.append(np.mean([float((gram(a) - gram(b)).pow(2).mean() / gram(b).pow(2).mean()) for a, b in zip(fx, fs)]))
        content_d.append(np.mean([float((a - b).pow(2).mean() / b.pow(2).mean()) for a, b in zip(fx, fc)]))
    stats = texture_distance(image, fit_short_side(style, min(image.shape[:2])))
    return {"style_distance": float(np.mean(style_d)), "content_distance": float(np.mean(content_d)),
            **{f"texture_{k}": v for k, v in stats.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.loss_experiment", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--content", type=Path, default=data_root() / "faces" / "skimage__astronaut.png")
    p.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES), metavar="NAME",
                   help=f"which loss networks to compare (default all: {', '.join(CANDIDATES)})")
    p.add_argument("--out", type=Path, default=Path("docs/experiments/offline_loss"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    content = fit_short_side(read_rgb(a.content), a.size)
    styles = {name: read_rgb(data_root() / "styles" / name) for name in STYLES}
    results: dict[str, dict] = {}
    rows = []
    header = np.concatenate([content] + [style_thumbnail(s, name, *content.shape[:2]) for name, s in styles.items()], 1)
    a.out.mkdir(parents=True, exist_ok=True)
    bases = {name: judge(content, content, style) for name, style in styles.items()}  # the photo's scores: where each row starts
    for cand in a.candidates:
        net_cfg, loss_cfg = CANDIDATES[cand]
        tiles = [content]
        results[cand] = {"net": asdict(net_cfg), "loss": asdict(loss_cfg), "styles": {}}
        for name, style in styles.items():
            start = time.perf_counter()
            image, history = stylize(content, style, RandomFeatures(net_cfg), GatysConfig(size=a.size, steps=a.steps), loss_cfg)
            scores, base = judge(image, content, style), bases[name]
            results[cand]["styles"][name] = {
                **scores, **{f"{k}_start": base[k] for k in base if k != "content_distance"},
                "loss_start": history[0], "loss_end": history[-1], "seconds": round(time.perf_counter() - start, 1)}
            tiles.append(image[: content.shape[0], : content.shape[1]])
            print(f"{cand:22s} {name:32s} style {base['style_distance']:.3f}→{scores['style_distance']:.3f} "
                  f"content {scores['content_distance']:.3f} texture orientation {base['texture_orientation']:.3f}→"
                  f"{scores['texture_orientation']:.3f} magnitude {base['texture_magnitude']:.3f}→{scores['texture_magnitude']:.3f} "
                  f"colour {base['texture_colour']:.3f}→{scores['texture_colour']:.3f}", flush=True)
        rows.append(np.concatenate(tiles, 1))
        # written after every candidate: a long run stopped part way keeps what it measured
        sheet = np.concatenate([header] + rows, 0)
        cv2.imwrite(str(a.out / "sheet.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        (a.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {a.out}/sheet.jpg and results.json (rows: {', '.join(a.candidates)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
