"""models.losses.ringing: the training term is the benchmark's measure (before its tone curve), and it has a gradient."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from benchmarks.edge_ringing import edge_profile, edges_of
from models.losses.ringing import RingingLoss, side_deviations
from tests.benchmarks.test_edge_ringing import shapes, unsharp


def sharpened() -> np.ndarray:
    return unsharp(shapes(), 3, 1.0)


def tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255


def test_the_loss_is_the_benchmarks_ringing_squared_and_zero_for_the_content():
    img, sharp = shapes(), sharpened()
    loss = RingingLoss(most=10**6)
    assert float(loss(tensor(img), tensor(img))) == 0
    # the benchmark's profile of the raw change (the benchmark also takes a tone curve off; the loss does not)
    bgr, sharp_bgr = img[..., ::-1].copy(), sharp[..., ::-1].copy()
    change = cv2.cvtColor(sharp_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) - cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    measured = float(np.mean(np.concatenate(side_deviations(edge_profile(change, edges_of(bgr)))) ** 2))
    assert measured > 20
    assert float(loss(tensor(sharp), tensor(img))) * 255**2 == pytest.approx(measured, rel=0.02)


def test_the_gradient_flattens_the_echo_and_a_flat_crop_costs_nothing():
    img = tensor(shapes())
    out = tensor(sharpened()).requires_grad_(True)
    optimiser = torch.optim.Adam([out], lr=0.01)
    loss = RingingLoss()
    first = float(loss(out, img).detach())
    for _ in range(20):
        optimiser.zero_grad()
        value = loss(out, img)
        value.backward()
        optimiser.step()
    assert float(loss(out, img).detach()) < 0.3 * first
    flat = torch.full((2, 3, 64, 64), 0.5)
    assert float(RingingLoss()(flat + 0.1, flat)) == 0


def test_the_style_loss_adds_the_ringing_term_at_its_weight():
    from models.losses.perceptual import RandomFeatures, StyleLoss, StyleLossConfig

    img, sharp = tensor(shapes()), tensor(sharpened())
    plain = StyleLoss(RandomFeatures(), img)(sharp, img)
    weighed = StyleLoss(RandomFeatures(), img, StyleLossConfig(ringing_weight=100.0))(sharp, img)
    assert float(plain["ringing"]) == 0, "off by default"
    assert float(weighed["ringing"]) == pytest.approx(float(RingingLoss()(sharp, img)), rel=1e-5)
    assert float(weighed["total"]) == pytest.approx(float(plain["total"]) + 100 * float(weighed["ringing"]), rel=1e-4)
