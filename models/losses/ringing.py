"""Ringing at strong edges, as a training loss: the change a network locks to its input's outlines.

A style network can echo every strong edge of its input, bands of alternating sign 6–10 px apart
parallel to the outline (``benchmarks.edge_ringing`` measures it: the style networks of 2026-12-06
score 6.5–19 grey levels, an unsharp mask of σ 3 px 7.7). The halo term cannot see them: it
averages 8×8 blocks. This term samples the change L(output) − L(content) along the normals of
the content's strong edges (found once per crop with OpenCV's Canny, no gradient) at −24…24 px,
averages each offset over the crop's edge pixels, and charges the mean square of each side's
2–12 px against that side's own level 16–24 px out: strokes laid at random around an edge
average out, an echo does not. In (0–1)² units: a ringing of 12 grey levels costs 0.0022.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from models.networks.features import luminance

NEAR = (2, 12)  # px from the edge: where a glow, a rim or an echo is
FAR = (16, 24)  # px: each side's own level, that a recolouring moves too
CANNY = (100, 200)  # strong edges only
BLUR = 1.5  # σ px of the blur the edges are found on (camera noise is not an edge)
OFFSETS = np.arange(-FAR[1], FAR[1] + 1, dtype=np.float32)
SIDES = tuple((np.flatnonzero((np.abs(OFFSETS) >= NEAR[0]) & (np.abs(OFFSETS) <= NEAR[1]) & side),
               np.flatnonzero((np.abs(OFFSETS) >= FAR[0]) & (np.abs(OFFSETS) <= FAR[1]) & side))
              for side in (OFFSETS > 0, OFFSETS < 0))  # (near, far) offsets of the bright side, then the dark side


@dataclass(frozen=True)
class Edges:
    """A picture's strong edge pixels: positions and unit normals toward the bright side (float32)."""

    x: np.ndarray
    y: np.ndarray
    nx: np.ndarray
    ny: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def every(self, most: int) -> "Edges":
        """At most ``most`` of them, evenly spaced along the scan order."""
        if len(self) <= most:
            return self
        pick = np.linspace(0, len(self) - 1, most).round().astype(int)
        return Edges(self.x[pick], self.y[pick], self.nx[pick], self.ny[pick])


def strong_edges(gray: np.ndarray) -> Edges:
    """The strong edges of a grey picture (float or uint8, 0–255) far enough from the border to sample both sides."""
    blurred = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), BLUR)
    edges = cv2.Canny(np.clip(blurred, 0, 255).astype(np.uint8), *CANNY) > 0
    gx, gy = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    h, w = blurred.shape
    margin = FAR[1] + 1
    inside = np.zeros_like(edges)
    inside[margin:h - margin, margin:w - margin] = True
    ys, xs = np.nonzero(edges & inside & (magnitude > 1e-3))
    m = magnitude[ys, xs]
    return Edges(xs.astype(np.float32), ys.astype(np.float32), gx[ys, xs] / m, gy[ys, xs] / m)


def side_deviations(profile: np.ndarray | torch.Tensor) -> list:
    """Each side's near offsets less that side's far mean (numpy or torch, same code)."""
    return [profile[near] - profile[far].mean() for near, far in SIDES]


class RingingLoss:
    """Mean square of the edge-locked change over the crops that have strong edges (0 for a batch without)."""

    def __init__(self, most: int = 2048) -> None:
        self.most = most  # edge pixels sampled per crop: the mean of thousands is already steady

    def __call__(self, output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        change = luminance(output) - luminance(content)  # (B, 1, H, W)
        grey = (luminance(content.detach())[:, 0] * 255).cpu().numpy()
        h, w = change.shape[-2:]
        offsets = torch.from_numpy(OFFSETS).to(change)
        losses = []
        for b in range(change.shape[0]):
            edges = strong_edges(grey[b]).every(self.most)
            if not len(edges):
                continue
            x, y, nx, ny = (torch.from_numpy(v).to(change) for v in (edges.x, edges.y, edges.nx, edges.ny))
            px = x[:, None] + offsets[None, :] * nx[:, None]
            py = y[:, None] + offsets[None, :] * ny[:, None]
            grid = torch.stack((2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1), dim=-1)[None]  # align_corners: pixel centres
            profile = F.grid_sample(change[b:b + 1], grid, mode="bilinear", align_corners=True)[0, 0].mean(dim=0)
            losses.append(torch.cat(side_deviations(profile)).pow(2).mean())
        return torch.stack(losses).mean() if losses else change.new_zeros(())
