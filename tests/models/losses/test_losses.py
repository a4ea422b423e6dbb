from __future__ import annotations

import pytest
import torch

from realtime.errors import UserError
from models.losses.perceptual import RandomFeatures, RandomFeaturesConfig, StyleLoss, VGG16Features, gram, total_variation


def test_gram_of_a_known_tensor():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # C=2, H=1, W=2
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / (2 * 1 * 2)
    torch.testing.assert_close(gram(f)[0], expected)


def test_random_features_are_deterministic_for_a_seed():
    x = torch.rand(1, 3, 64, 64)
    a = RandomFeatures(RandomFeaturesConfig(seed=3))(x)
    b = RandomFeatures(RandomFeaturesConfig(seed=3))(x)
    c = RandomFeatures(RandomFeaturesConfig(seed=4))(x)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert [t.shape[-1] for t in a] == [64, 32, 16, 8]


def test_vgg16_layout_matches_torchvision_keys():
    keys = VGG16Features().state_dict()
    assert "features.0.weight" in keys and "features.21.weight" in keys and tuple(keys["features.21.weight"].shape) == (512, 512, 3, 3)


def test_style_loss_is_zero_for_the_content_and_style_itself_and_tv():
    x = torch.rand(1, 3, 48, 48)
    loss = StyleLoss(RandomFeatures(), x)(x, x)
    assert loss["total"].item() < 1e-6
    assert total_variation(torch.ones(1, 3, 8, 8)).item() == 0


def test_too_small_images_for_the_random_net_give_one_line():
    net = RandomFeatures()
    assert net.min_side == 48  # scale 8 × (11 // 2 + 1)
    with pytest.raises(UserError, match="too small for the random loss network: use at least 48 pixels"):
        net(torch.rand(1, 3, 40, 64))


def test_the_content_loss_is_blind_to_a_glow_and_the_tone_term_sees_it():
    """The halo's cause: the random features are zero-mean filters, so a smooth glow around an
    outline costs the content loss far less than a fine texture of the same RMS change; the
    tone term (lightness over 8×8 blocks) weighs them the other way round."""
    import numpy as np

    from models.losses.perceptual import StyleLossConfig, tone_loss

    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 128, 128, generator=g) * 0.2 + 0.4
    x[..., 40:90, 40:90] = 0.15  # a dark figure on a light ground
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    ring = torch.exp(-(((xx - 65).abs().maximum((yy - 65).abs()) - 30) ** 2) / (2 * 16.0**2))  # a glow around its outline
    texture = torch.nn.functional.avg_pool2d(torch.from_numpy(np.random.default_rng(0).standard_normal((130, 130)).astype(np.float32))[None],
                                             3, 1)[0]  # grain a few pixels wide
    net, cfg = RandomFeatures(), StyleLossConfig()

    def content(y: torch.Tensor) -> float:
        with torch.no_grad():
            fy, fx = net(y), net(x)
            return sum(float(((fy[i] - fx[i]) ** 2).mean() / (fx[i] ** 2).mean()) for i in cfg.content_layers)

    changes = {name: (d / d.pow(2).mean().sqrt() * 0.05)[None, None].expand(1, 3, -1, -1) for name, d in (("glow", ring), ("texture", texture))}
    seen = {name: content((x + d).clamp(0, 1)) for name, d in changes.items()}
    tone = {name: float(tone_loss((x + d).clamp(0, 1), x, 8)) for name, d in changes.items()}
    assert seen["glow"] < 0.1 * seen["texture"]
    assert tone["glow"] > 5 * tone["texture"]
    loss = StyleLoss(net, x, StyleLossConfig(tone_weight=1.0))(x + changes["glow"], x)
    assert float(loss["tone"]) == pytest.approx(tone["glow"], rel=0.05) and float(loss["tone"]) > 0


def test_texture_distance_sees_stroke_direction_size_and_palette():
    """The filter-free judge of models.loss_experiment: zero for the same picture; stripes
    turned by 90° differ in orientation, finer stripes in magnitude, recoloured in colour."""
    import numpy as np

    from models.loss_experiment import texture_distance

    yy, xx = np.mgrid[0:128, 0:128]

    def stripes(along_x: bool, period: float, tint: tuple[int, int, int]) -> np.ndarray:
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * (xx if along_x else yy) / period)
        return (wave[..., None] * np.array(tint)).astype(np.uint8)

    base = stripes(True, 16, (200, 120, 60))
    same = texture_distance(base, base)
    assert same == {"orientation": 0.0, "magnitude": 0.0, "colour": 0.0}
    turned = texture_distance(stripes(False, 16, (200, 120, 60)), base)
    finer = texture_distance(stripes(True, 5, (200, 120, 60)), base)
    recoloured = texture_distance(stripes(True, 16, (60, 120, 200)), base)
    assert turned["orientation"] > 0.8 and turned["colour"] < 0.05
    assert finer["magnitude"] > 0.5 and finer["orientation"] < 0.1
    assert recoloured["colour"] > 0.5 and recoloured["orientation"] < 0.1


def test_the_stroke_term_asks_for_the_paintings_fine_texture_not_just_its_energy():
    """The loss networks' Gram matrices barely see band 0 (a painting's 2-4 px stroke edges); the
    stroke term compares the fine bands' own Gram matrices: zero for the painting itself, about
    1 for a smooth picture, and lower for strokes like the painting's than for stripes of the
    same energy (what an energy term alone was met with). Descending it sharpens a smooth picture."""
    from models.losses.perceptual import BandTexture, StyleLossConfig, band_rms, stroke_loss

    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    grid = ((xx % 6 < 1) | (yy % 6 < 1)).float()  # tiles with 1-px grout, both orientations
    painting = (0.6 - 0.4 * grid).expand(1, 3, 96, 96).clone()
    texture = BandTexture((0, 1))
    target = texture(painting)
    assert stroke_loss(texture(painting), target).item() < 1e-8
    smooth = torch.full_like(painting, 0.5)
    assert stroke_loss(texture(smooth), target).item() == pytest.approx(2.0, abs=1e-4)  # 1 a band: no fine texture at all
    stripes = (0.6 - 0.4 * (xx % 3 < 1).float()).expand(1, 3, 96, 96)  # vertical lines only
    stripes = 0.6 + (stripes - 0.6) * (band_rms(painting, (0,))[0, 0] / band_rms(stripes, (0,))[0, 0])  # same band-0 RMS
    shifted = torch.roll(painting, (2, 3), (2, 3))  # the same tiles elsewhere
    assert stroke_loss(texture(shifted), target).item() < 0.1 * stroke_loss(texture(stripes), target).item()
    blurred = torch.nn.functional.avg_pool2d(painting, 3, 1, 1).requires_grad_(True)
    before = band_rms(blurred, (0,))[0, 0].item()
    stroke_loss(texture(blurred), target).backward()
    sharper = (blurred - 0.05 * blurred.grad / blurred.grad.abs().max()).detach()
    assert band_rms(sharper, (0,))[0, 0].item() > before
    # in StyleLoss: off by default, and a weighted part of the total when asked for
    content = torch.rand(1, 3, 96, 96, generator=g)
    off = StyleLoss(RandomFeatures(RandomFeaturesConfig(maps=8)), painting)(content, content)
    on = StyleLoss(RandomFeatures(RandomFeaturesConfig(maps=8)), painting, StyleLossConfig(stroke_weight=2.0))(content, content)
    assert off["strokes"].item() == 0 and on["strokes"].item() > 0
    assert on["total"].item() == pytest.approx(off["total"].item() + 2.0 * on["strokes"].item(), rel=1e-5)


def test_the_halo_term_charges_a_glow_not_an_even_recolouring_or_fine_strokes():
    """The tone term charges every lightness change, the style's even brightening included, so
    it cannot be weighed high; the halo term only charges the change that differs from its
    32-px surroundings: a glow along an outline, not a brighter picture, and 2-px dabs of the same
    RMS change far less (their 8×8 block means keep a quarter of their amplitude)."""
    import numpy as np

    from models.losses.perceptual import StyleLossConfig, halo_loss, tone_loss

    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 160, 160, generator=g) * 0.2 + 0.4
    x[..., 50:110, 50:110] = 0.15
    yy, xx = torch.meshgrid(torch.arange(160.0), torch.arange(160.0), indexing="ij")
    ring = torch.exp(-(((xx - 80).abs().maximum((yy - 80).abs()) - 36) ** 2) / (2 * 4.0**2))  # 2-12 px outside
    strokes = torch.from_numpy(np.random.default_rng(0).choice([-1.0, 1.0], (80, 80)).astype(np.float32))
    strokes = strokes.repeat_interleave(2, 0).repeat_interleave(2, 1)  # 2-px dabs
    changes = {name: d / d.pow(2).mean().sqrt() * 0.05 for name, d in
               (("glow", ring), ("brighter", torch.ones(160, 160)), ("strokes", strokes))}
    halo = {k: float(halo_loss((x + d).clamp(0, 1), x, 8, 4.0)) for k, d in changes.items()}
    tone = {k: float(tone_loss((x + d).clamp(0, 1), x, 8)) for k, d in changes.items()}
    assert halo["brighter"] < 1e-6 < tone["brighter"]
    assert halo["glow"] > 5 * halo["strokes"]
    assert halo["glow"] > 0.1 * tone["glow"]
    loss = StyleLoss(RandomFeatures(), x, StyleLossConfig(halo_weight=1.0))((x + changes["glow"]).clamp(0, 1), x)
    assert float(loss["halo"]) == pytest.approx(halo["glow"], rel=1e-4)
