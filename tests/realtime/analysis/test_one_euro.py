"""One Euro smoothing of landmarks."""

from __future__ import annotations

import numpy as np

from realtime.analysis.one_euro import OneEuroConfig, OneEuroFilter


def test_one_euro_smooths_noise_and_follows_a_step():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=0.05))
    t = np.arange(120) / 30.0
    noisy = 100 + rng.normal(0, 2, 120)
    smooth = np.array([f(np.array([v]), ti)[0] for v, ti in zip(noisy, t)])
    assert smooth[30:].std() < 0.5 * noisy[30:].std()
    f.reset()
    step = np.where(np.arange(60) < 30, 0.0, 200.0)
    out = np.array([f(np.array([v]), ti)[0] for v, ti in zip(step, t[:60])])
    assert out[40] > 150, "a fast move must be followed within a few frames"
