"""Which offline (random-feature) loss network stylises best? Gatys stills, side by side.

    python -m models.loss_experiment [--size 192] [--steps 150] [--out docs/experiments/offline_loss]

Each candidate configuration of :class:`RandomFeatures` stylises the same content photo with
the same style images by Gatys optimisation. Numbers are measured by *independent* judges,
random networks with other seeds than the one optimised against (so a candidate cannot win by
fitting its own features): style distance = mean Gram error to the style image, content
distance = feature error to the photo, both relative to the starting point (the photo).
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
from models.losses import RandomFeatures, RandomFeaturesConfig, StyleLossConfig, gram
from models.media import data_root, fit_short_side, read_rgb
from models.style_images import style_thumbnail
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
STYLES = ("neural_style__starry_night.jpg", "pytorch_examples__mosaic.jpg", "neural_style__the_scream.jpg")


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
    return {"style_distance": float(np.mean(style_d)), "content_distance": float(np.mean(content_d))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--content", type=Path, default=data_root() / "faces" / "skimage__astronaut.png")
    p.add_argument("--out", type=Path, default=Path("docs/experiments/offline_loss"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    content = fit_short_side(read_rgb(a.content), a.size)
    styles = {name: read_rgb(data_root() / "styles" / name) for name in STYLES}
    results: dict[str, dict] = {}
    rows = []
    for cand, (net_cfg, loss_cfg) in CANDIDATES.items():
        tiles = [content]
        results[cand] = {"net": asdict(net_cfg), "loss": asdict(loss_cfg), "styles": {}}
        for name, style in styles.items():
            start = time.perf_counter()
            image, history = stylize(content, style, RandomFeatures(net_cfg), GatysConfig(size=a.size, steps=a.steps), loss_cfg)
            scores = judge(image, content, style)
            base = judge(content, content, style)
            results[cand]["styles"][name] = {
                **scores, "style_distance_start": base["style_distance"],
                "loss_start": history[0], "loss_end": history[-1], "seconds": round(time.perf_counter() - start, 1)}
            tiles.append(image[: content.shape[0], : content.shape[1]])
            print(f"{cand:22s} {name:32s} style {base['style_distance']:.3f}→{scores['style_distance']:.3f} "
                  f"content {scores['content_distance']:.3f}", flush=True)
        rows.append(np.concatenate(tiles, 1))
    header = np.concatenate([content] + [style_thumbnail(s, name, *content.shape[:2]) for name, s in styles.items()], 1)
    sheet = np.concatenate([header] + rows, 0)
    a.out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.out / "sheet.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    (a.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {a.out}/sheet.jpg and results.json (rows: {', '.join(CANDIDATES)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
