"""The per-band loss: the pyramid is benchmarks.bands' to float rounding, and fading costs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.bands import ChangeSums, laplacian_pyramid as cv_pyramid
from models.losses.bands import (BandLossConfig, band_loss, band_terms, chroma_loss, laplacian_pyramid,
                                 luminance_bands, parse_bands)
from models.teachers.classical import SKETCH_STYLES, sketch
from tests.conftest import synthetic_photo


def tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None]


@pytest.mark.parametrize("shape", [(64, 64), (63, 77), (17, 33)])
def test_the_pyramid_is_opencvs(shape):
    g = (np.random.default_rng(0).random(shape) * 255).astype(np.float32)
    ours = laplacian_pyramid(torch.from_numpy(g)[None, None])
    for k, (a, b) in enumerate(zip(cv_pyramid(g), ours)):
        assert b.shape[-2:] == a.shape, k
        np.testing.assert_allclose(b[0, 0].numpy(), a, atol=1e-3, err_msg=f"band {k}")


def test_gain_matches_the_benchmark():
    photo = synthetic_photo(96, 128, 1)
    teacher = sketch(photo, SKETCH_STYLES["charcoal"])
    faded = np.clip(0.6 * teacher.astype(np.float32) + 0.4 * photo, 0, 255)
    sums = ChangeSums()
    sums.add(photo, teacher, faded)
    terms = band_terms(tensor(faded), tensor(teacher), tensor(photo))
    for k in (1, 2, 3):
        assert 1 - terms[f"gain_{k}"].item() == pytest.approx(sums.gain()[k], abs=2e-3)


def test_the_teacher_scores_zero_and_a_faded_copy_more():
    photo = synthetic_photo(96, 128, 2)
    teacher = sketch(photo, SKETCH_STYLES["graphite"])
    p, t = tensor(photo), tensor(teacher)
    cfg = BandLossConfig(gain=1.0)
    assert band_loss(t, t, p, cfg).item() < 1e-6
    losses = [band_loss(p + g * (t - p), t, p, cfg).item() for g in (1.0, 0.75, 0.5, 0.0)]
    assert losses == sorted(losses) and losses[2] > 0.01


def test_the_energy_term_charges_fading_not_a_misplaced_stroke():
    """Strokes of 6 px period drawn half a period off: L1 charges them four times a 50 % fade,
    the energy deficit next to nothing (the gain term is what asks for the right place)."""
    photo = torch.full((1, 3, 64, 64), 0.5)
    stripes = 0.1 * torch.sin(2 * torch.pi * torch.arange(64.0) / 6).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    teacher, off, half = photo + stripes, photo + torch.roll(stripes, 3, dims=-1), photo + 0.5 * stripes
    assert (off - teacher).abs().mean() > 3 * (half - teacher).abs().mean()
    energy = BandLossConfig(bands=(0, 1, 2), weights=(1.0, 1.0, 1.0))
    assert band_loss(off, teacher, photo, energy).item() < 0.1 * band_loss(half, teacher, photo, energy).item()
    gain = BandLossConfig(bands=(0, 1, 2), weights=(1.0, 1.0, 1.0), energy=0.0, gain=1.0)
    assert band_loss(off, teacher, photo, gain).item() > band_loss(half, teacher, photo, gain).item()


def test_gradients_flow_to_the_output_only():
    photo, teacher = tensor(synthetic_photo(64, 64, 3)), tensor(sketch(synthetic_photo(64, 64, 3)))
    out = (photo + 0.5 * (teacher - photo)).requires_grad_(True)
    band_loss(out, teacher, photo, BandLossConfig(gain=1.0)).backward()
    assert out.grad is not None and torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    # one step down the gradient makes the change stronger (less faded)
    stepped = out.detach() - 0.5 * out.grad / out.grad.abs().max()
    before = band_loss(out.detach(), teacher, photo).item()
    assert band_loss(stepped, teacher, photo).item() < before


def test_a_tint_on_a_grey_teacher_costs_its_size():
    teacher = tensor(sketch(synthetic_photo(32, 32, 4)))
    assert chroma_loss(teacher, teacher).item() == 0
    tinted = teacher + torch.tensor([0.02, -0.01, -0.01]).view(1, 3, 1, 1)
    assert chroma_loss(tinted, teacher).item() == pytest.approx(0.04 / 3, rel=1e-4)
    assert chroma_loss(teacher * 0.5, teacher).item() < 1e-6, "a darker grey is no tint"


def test_band_options_parse_and_are_checked():
    assert parse_bands("1,2,3") == ((1, 2, 3), (1.0, 1.0, 1.0))
    assert parse_bands("0:0.5, 1:2") == ((0, 1), (0.5, 2.0))
    with pytest.raises(ValueError):
        BandLossConfig(bands=(4,), weights=(1.0,))
    with pytest.raises(ValueError):
        BandLossConfig(bands=(1, 2), weights=(1.0,))
    with pytest.raises(ValueError):
        luminance_bands(torch.rand(1, 3, 8, 8))


def test_the_chroma_term_sees_a_tint_above_white_when_given_the_raw_output():
    """A student's paper white far above 1, each channel by another amount: clamped it looks grey
    and passes no gradient, but the guided filter carries the tint into the strokes beside it."""
    from models.losses.bands import DetailLoss

    target = torch.full((1, 3, 32, 32), 0.98)
    raw = (target + torch.tensor([0.5, 0.2, 0.3]).view(1, 3, 1, 1)).requires_grad_(True)
    loss = DetailLoss(chroma=1.0)
    assert loss(raw.clamp(0, 1), target, target).item() == 0
    seen = loss(raw.clamp(0, 1), target, target, raw=raw)
    assert seen.item() > 0.05
    seen.backward()
    assert raw.grad[0, 0].mean() > 0 > raw.grad[0, 1].mean(), "red is pushed down, green up"


def test_the_range_term_charges_only_what_lies_outside_0_1():
    from models.losses.bands import DetailLoss

    target = torch.full((1, 3, 8, 8), 0.5)
    inside = torch.rand(1, 3, 8, 8)
    loss = DetailLoss(range=1.0)
    assert loss.active and loss(inside, target, target, raw=inside).item() == 0
    assert loss(inside.clamp(0, 1), target, target, raw=inside + 2).item() > 1
