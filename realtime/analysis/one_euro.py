"""The One Euro filter (Casiez et al. 2012): little jitter when still, little lag when moving.

A low-pass filter whose cutoff rises with the signal's speed. Works on numpy arrays of any
shape (e.g. 468×2 face landmarks), each value filtered independently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class OneEuroConfig:
    min_cutoff: float = 1.0  # Hz: lower = smoother when still
    beta: float = 0.05  # higher = less lag when moving (scaled to the signal's units/s)
    d_cutoff: float = 1.0  # Hz: cutoff for the speed estimate


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    def __init__(self, config: OneEuroConfig | None = None) -> None:
        self.config = config or OneEuroConfig()
        self.reset()

    def reset(self) -> None:
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    def __call__(self, value: np.ndarray, t: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self.x is None or self.t is None or self.x.shape != value.shape or t <= self.t:
            self.x, self.dx, self.t = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self.t
        c = self.config
        dx = (value - self.x) / dt
        self.dx = self.dx + _alpha(c.d_cutoff, dt) * (dx - self.dx)
        cutoff = c.min_cutoff + c.beta * np.abs(self.dx)
        self.x = self.x + _alpha(cutoff, dt) * (value - self.x)
        self.t = t
        return self.x.copy()
