"""Ringing at strong edges: the lightness change a filter locks to the photo's outlines.

The halo (:mod:`benchmarks.halo`) looks at one outline, the person's, and at one sign, a glow.
A style network can also echo every strong edge: a dark rim, a bright overshoot, parallel bands
a few pixels apart (a Johnson network's ringing). Strokes and tiles laid at random around an
edge average out over thousands of edge pixels; what is left is locked to the edges.

For each strong edge pixel of the photo (Canny, thresholds 100/200, on its lightness blurred
with σ 1.5 px; at least 25 px from the border) the change the filter makes is sampled along the
edge's normal at d = −24…24 px (bilinear; d > 0 the bright side) and averaged over the picture's
edge pixels: a profile p(d). The change is L(out) less the best per-pixel tone curve of the
photo's lightness (:func:`unexplained_change`): a style's palette is not ringing. Each side's p
at 2 ≤ |d| ≤ 12 is taken against that side's own mean at 16 ≤ |d| ≤ 24 (a region recoloured
is not ringing either), and the ringing is the RMS of that over both sides, in grey levels.

On the 19 held-out pictures of the style benchmark at 384 px: the photo 0; an unsharp mask of
σ 3 px and amount 1 (a visible halo along every outline) 7.7, of σ 2 and 0.5 2.4; a Gaussian
blur of σ 2 px 4.9 (the edge's own lightness spread out); noise of σ 20 levels 0.4; the picture
20 levels brighter 0.01, its contrast × 1.4 0.16.
"""
from __future__ import annotations

import cv2
import numpy as np

from benchmarks.halo import lightness
from models.losses.ringing import OFFSETS, Edges, side_deviations, strong_edges


def edges_of(bgr: np.ndarray) -> Edges:
    """The strong edges of a BGR photo (:func:`models.losses.ringing.strong_edges`, which the training term uses too)."""
    return strong_edges(lightness(bgr))


def unexplained_change(photo: np.ndarray, filtered: np.ndarray) -> np.ndarray:
    """L(filtered) less what the best per-pixel tone curve of the photo's lightness predicts (the
    mean L(filtered) of each of the photo's 256 grey levels): a filter that maps each grey to
    another (contrast, gamma, a posterisation) leaves nothing here, whatever it does at edges."""
    before = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    after = lightness(filtered)
    counts = np.bincount(before.ravel(), minlength=256)
    sums = np.bincount(before.ravel(), weights=after.ravel(), minlength=256)
    seen = counts > 0
    curve = np.interp(np.arange(256), np.flatnonzero(seen), sums[seen] / counts[seen]).astype(np.float32)
    return after - curve[before]


def edge_profile(change: np.ndarray, edges: Edges) -> np.ndarray:
    """Mean of ``change`` (a float32 map) at each of :data:`OFFSETS` px along the edges' normals."""
    map_x = edges.x[:, None] + OFFSETS[None, :] * edges.nx[:, None]
    map_y = edges.y[:, None] + OFFSETS[None, :] * edges.ny[:, None]
    return cv2.remap(change, map_x, map_y, cv2.INTER_LINEAR).mean(axis=0)


def edge_ringing(photo: np.ndarray, filtered: np.ndarray, edges: Edges) -> float:
    """RMS of each side's profile 2–12 px from the edges against its own level 16–24 px away
    (grey levels; 0 = nothing locked to the edges); NaN where the photo has no strong edge."""
    if not len(edges):
        return float("nan")
    profile = edge_profile(unexplained_change(photo, filtered), edges)
    return float(np.sqrt(np.mean(np.concatenate(side_deviations(profile)) ** 2)))
