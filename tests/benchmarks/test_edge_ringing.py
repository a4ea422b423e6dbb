"""benchmarks.edge_ringing: what it charges (a halo along every outline, echoes of it) and what
it does not (the photo, an even recolouring, noise laid at random)."""
from __future__ import annotations

import cv2
import numpy as np

from benchmarks.edge_ringing import edge_profile, edge_ringing, edges_of, unexplained_change


def shapes() -> np.ndarray:
    """A 240×240 grey picture with a dark disc and a bright square: strong edges of both signs."""
    img = np.full((240, 240, 3), 128, np.uint8)
    cv2.circle(img, (80, 120), 40, (40, 40, 40), -1)
    cv2.rectangle(img, (140, 70), (200, 170), (220, 220, 220), -1)
    return img


def unsharp(img: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    f = img.astype(np.float32)
    return np.clip(f + amount * (f - cv2.GaussianBlur(f, (0, 0), sigma)), 0, 255).astype(np.uint8)


def test_a_halo_along_every_outline_rings_and_grows_with_it_while_the_photo_a_recolouring_and_a_tone_curve_do_not():
    img = shapes()
    edges = edges_of(img)
    assert len(edges) > 300
    brighter = np.clip(img.astype(int) + 25, 0, 255).astype(np.uint8)
    noise = np.clip(img + np.random.default_rng(0).normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    assert edge_ringing(img, img, edges) == 0
    assert edge_ringing(img, brighter, edges) < 0.5
    contrast = cv2.LUT(img, np.clip((np.arange(256) - 128) * 1.4 + 128, 0, 255).astype(np.uint8))
    assert edge_ringing(img, contrast, edges) < 0.5, "a tone curve is a palette, not ringing"
    assert edge_ringing(img, noise, edges) < 1.0, "strokes at random average out along the edges"
    weak, strong = edge_ringing(img, unsharp(img, 3, 0.5), edges), edge_ringing(img, unsharp(img, 3, 1.0), edges)
    assert 2 < weak < strong and strong > 8


def test_the_profile_is_bright_on_the_bright_side_of_an_overshoot():
    img = shapes()
    edges = edges_of(img)
    p = edge_profile(unexplained_change(img, unsharp(img, 3, 1.0)), edges)
    middle = len(p) // 2
    assert p[middle + 3] > 5 and p[middle - 3] < -5, "d > 0 is the bright side: overshoot up there, undershoot below"


def test_echoes_of_the_outline_ring_though_they_brighten_nothing_on_average():
    """Parallel bands a few px outside every outline (a Johnson network's echo): the mean change
    near the edge is about 0, its RMS is not."""
    img = shapes()
    edges = edges_of(img)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    outline = cv2.Canny(gray, 100, 200)
    distance = cv2.distanceTransform(255 - outline, cv2.DIST_L2, 5)
    echo = img.astype(np.float32) + (20 * np.sin(2 * np.pi * distance / 8) * (distance >= 2) * (distance <= 12))[..., None]
    echoed = np.clip(echo, 0, 255).astype(np.uint8)
    p = edge_profile(unexplained_change(img, echoed), edges)
    assert abs(float(p[np.abs(np.arange(len(p)) - len(p) // 2) >= 2].mean())) < 3
    assert edge_ringing(img, echoed, edges) > 8


def test_a_picture_without_strong_edges_has_no_ringing_number():
    flat = np.full((120, 120, 3), 90, np.uint8)
    edges = edges_of(flat)
    assert len(edges) == 0 and np.isnan(edge_ringing(flat, flat, edges))
