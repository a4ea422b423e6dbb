from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from models.networks.unet import UNet, UNetConfig


def test_default_unet_is_filterclone_shape():
    model = UNet()
    assert model.config.channels == (32, 64, 64, 128) and model.size_multiple == 4
    with torch.no_grad():
        out = model(torch.rand(2, 3, 48, 64))
    assert out.image.shape == (2, 3, 48, 64) and out.indices is None


def test_latent_unet_trains_with_target_and_runs_with_index():
    model = UNet(UNetConfig(channels=(8, 16, 16, 32), blocks_per_level=1, latent_codes=5))
    x, y = torch.rand(3, 3, 32, 40), torch.rand(3, 3, 32, 40)
    out = model(x, target=y)
    assert out.image.shape == x.shape and out.indices.shape == (3,) and out.vq_loss.item() > 0
    out.image.mean().backward()  # straight-through: the encoder gets gradients from the image
    assert model.encoder.head.weight.grad is not None and model.encoder.head.weight.grad.abs().sum() > 0
    with torch.no_grad():
        a = model(x, latent=torch.tensor([0, 0, 0])).image
        b = model(x, latent=torch.tensor([1, 1, 1])).image
    assert not torch.allclose(a, b), "different codes must give different outputs"


def test_latent_unet_needs_a_code():
    model = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2))
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 16, 16))


def test_dead_codes_move_to_encoder_outputs():
    model = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=4))
    candidates = torch.full((5, 3), 7.0)
    moved = model.quantizer.reset_codes(torch.tensor([True, False, True, False]), candidates)
    assert moved == 2
    assert torch.allclose(model.quantizer.codebook[0], torch.full((3,), 7.0), atol=0.1)


def test_edge_input_channels_match_the_teachers_difference_of_gaussians():
    import cv2

    from models.networks.features import EdgeFeatures
    from tests.conftest import synthetic_photo

    img = synthetic_photo(64, 80, 3)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    dog = EdgeFeatures(((1.2, 3.0), (1.5, 4.0)))(x)[0].numpy() / 10 * 255
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for channel, (c, s) in zip(dog, ((1.2, 3.0), (1.5, 4.0))):
        ref = cv2.GaussianBlur(gray, (0, 0), s, borderType=cv2.BORDER_REPLICATE) - cv2.GaussianBlur(gray, (0, 0), c, borderType=cv2.BORDER_REPLICATE)
        assert np.abs(channel - ref).max() < 1.5  # gray levels; cv2 rounds its gray conversion
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, edge_sigmas=((1.2, 3.0),)))
    assert net(x, latent=torch.tensor([1])).image.shape == x.shape


def test_lightness_bands_are_a_linear_read_out_of_the_tone_features():
    """The cartoon's staircase of lightness bands (6 here), from a ramp of lightness: a
    least-squares fit on 16 tone frequencies (the bands' first two harmonics) comes within a
    gray level or so, a fit on the lightness alone (what the network starts from) is off by
    ~8 levels."""
    from models.teachers.classical import soft_bands
    from models.networks.features import ToneFeatures

    ramp = torch.linspace(0, 1, 512).view(1, 1, 1, -1).expand(1, 3, 1, 512)
    target = torch.from_numpy(soft_bands(np.linspace(0, 255, 512, dtype=np.float32), 6, 0.35)).double()

    def residual(features: torch.Tensor) -> float:
        a = torch.cat([features.reshape(features.shape[1], 512).T.double(), torch.ones(512, 2, dtype=torch.float64)[:, :1],
                       torch.linspace(0, 255, 512, dtype=torch.float64)[:, None]], dim=1)
        fit = a @ torch.linalg.lstsq(a, target[:, None]).solution
        return float((fit[:, 0] - target).abs().mean())

    alone, tones = residual(torch.zeros(1, 0, 1, 512)), residual(ToneFeatures(16)(ramp))
    assert alone > 6 and tones < 0.2 * alone, (alone, tones)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, tone_frequencies=4))
    assert net(torch.rand(1, 3, 16, 16)).image.shape == (1, 3, 16, 16)
    with pytest.raises(ValueError):
        UNetConfig(tone_frequencies=-1)


def test_features_are_the_two_pass_blurs_and_the_sines_they_stand_for():
    """The edge channels pad once on all four sides and the tone channels come as blocks for one
    concatenation (both for speed): the same values as a blur padded before each pass and as
    sin/cos of k·2πL."""
    from models.networks.features import EdgeFeatures, ToneFeatures, gaussian_kernel, luminance, separable_blur

    torch.manual_seed(0)
    x = torch.rand(2, 3, 40, 56)
    lum = luminance(x)
    sigmas = ((1.2, 3.0), (1.5, 4.0))
    ref = torch.cat([separable_blur(lum, gaussian_kernel(s)) - separable_blur(lum, gaussian_kernel(c)) for c, s in sigmas], dim=1) * 10
    assert torch.allclose(EdgeFeatures(sigmas)(x), ref, atol=1e-5)
    theta = lum * (2 * math.pi)
    for f in (1, 3, 16):
        k = torch.arange(1, f + 1, dtype=torch.float32).view(1, -1, 1, 1)
        tones = ToneFeatures(f)
        assert torch.allclose(tones(x), torch.cat([torch.sin(k * theta), torch.cos(k * theta)], dim=1), atol=1e-4)
        assert torch.equal(torch.cat(tones.planes(x), dim=1), tones(x))


def test_the_exported_unet_concatenates_its_inputs_once(tmp_path):
    """Every Concat copies all it is given; the input, edge, tone and code channels go to the
    first convolution through one (the last tone step's and the code's own took 1.6 ms of the
    cartoon student's 35 at 512×384 before)."""
    import onnx

    from export.onnx_export import contract_for, export_model

    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2,
                          edge_sigmas=((1.2, 3.0),), tone_frequencies=4)).eval()
    path = export_model(net, contract_for(net, "feat", work_size=64), tmp_path / "feat.onnx")
    graph = onnx.load(str(path)).graph
    first_conv = next(n for n in graph.node if n.op_type == "Conv" and "input_conv" in n.input[1])
    feeding = next(n for n in graph.node if first_conv.input[0] in n.output)
    # the frame, the edges, the last step's four tone blocks, the code
    assert feeding.op_type == "Concat" and len(feeding.input) == 1 + 1 + 4 + 1, [feeding.op_type, list(feeding.input)]


def channel_spread(img: torch.Tensor) -> float:
    """Largest difference between two colour channels of an N×3×H×W image (0: grey)."""
    return float((img.amax(dim=1) - img.amin(dim=1)).max())


def test_a_monochrome_code_gives_exactly_grey_output_and_the_others_colour():
    torch.manual_seed(0)
    model = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=3, norm_groups=4,
                            residual_output=True, monochrome_codes=(1,))).eval()
    x = torch.rand(3, 3, 16, 24)
    with torch.no_grad():
        out = model(x, latent=torch.tensor([0, 1, 2])).image
        plain = UNet(dataclasses.replace(model.config, monochrome_codes=()))
        plain.load_state_dict(model.state_dict())
        before = plain.eval()(x, latent=torch.tensor([0, 1, 2])).image
    assert channel_spread(out[1:2]) == 0.0, "the monochrome code's three channels must be equal"
    assert channel_spread(out[0:1]) > 0.05 and channel_spread(out[2:3]) > 0.05
    torch.testing.assert_close(out[[0, 2]], before[[0, 2]])  # other codes untouched
    # the grey is the output's own Rec. 601 luma (OpenCV's RGB2GRAY, what the benchmarks measure)
    luma = (before[1] * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(dim=0)
    torch.testing.assert_close(out[1, 0], luma)


def test_monochrome_codes_are_config_not_weights(tmp_path):
    from models.networks.checkpoint import load_checkpoint, save_checkpoint
    cfg = UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=3, monochrome_codes=(2, 0))
    model = UNet(cfg)
    assert model.config.monochrome_codes == (0, 2) and "grey_mask" not in model.state_dict()
    save_checkpoint(tmp_path / "m.pt", model, {})
    loaded, _, payload = load_checkpoint(tmp_path / "m.pt")
    assert loaded.config.monochrome_codes == (0, 2) and loaded.grey_mask.tolist() == [1.0, 0.0, 1.0]
    # a checkpoint from before the flag (no such config field) loads with no monochrome code
    del payload["config"]["monochrome_codes"]
    torch.save(payload, tmp_path / "old.pt")
    old, _, _ = load_checkpoint(tmp_path / "old.pt")
    assert old.config.monochrome_codes == () and old.grey_weights(torch.tensor([0])) is None
    with pytest.raises(ValueError):
        UNetConfig(latent_codes=2, monochrome_codes=(2,))
