"""Fast students: guided upsampling, its export, distillation, and the SSIM used to judge them."""
from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
import torch

from models.losses.quality import ssim
from realtime.errors import UserError
from realtime.host import machine
from export.onnx_export import contract_for, export_model
from export.parity import check_parity
from models.networks.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from models.distill import DistillConfig, distill
from models.networks.guided import GuidedConfig, GuidedUpsample, detail_upsample, guided_upsample
from models.networks.features import luminance
from models.data.pairs import CropConfig
from models.networks.transformer_net import TransformerNet, TransformerNetConfig
from models.networks.unet import UNet, UNetConfig
from tests.conftest import synthetic_photo
from tests.models.tiny_student import tiny_distill


def test_guided_upsampling_reproduces_a_local_linear_function_of_the_input_at_full_size():
    full = torch.from_numpy(synthetic_photo(64, 96, 0)).permute(2, 0, 1)[None].float() / 255
    low = torch.nn.functional.avg_pool2d(full, 2)
    out = guided_upsample(low, 0.8 * luminance(low) + 0.1, full, radius=2, eps=1e-6)
    expected = 0.8 * luminance(full) + 0.1
    assert (out - expected).abs().mean() < 2e-3
    # sharper than plain bilinear upsampling of the same low-resolution result
    plain = torch.nn.functional.interpolate(0.8 * luminance(low) + 0.1, size=(64, 96), mode="bilinear", align_corners=False)
    assert (out - expected).abs().mean() < 0.5 * (plain - expected).abs().mean()


def test_detail_upsampling_gives_back_the_frame_and_keeps_what_the_guided_filter_blurs():
    """With gain 1 and the shrunk frame as the network's output, the frame itself comes back
    (the detail below the low size is added back exactly). And the reason it exists: a hard
    colour border in the output that the frame's lightness does not have (a cartoon band
    switching inside a smooth ramp) is blurred by the guided filter's window means over 5×5
    low pixels, while bilinear upsampling keeps it within a low pixel."""
    full = torch.from_numpy(synthetic_photo(48, 72, 4)).permute(2, 0, 1)[None].float() / 255
    low = torch.nn.functional.avg_pool2d(full, 3)
    assert torch.allclose(detail_upsample(low, low, full, torch.ones(1, 3, 1, 1)), full, atol=1e-6)
    ramp = torch.linspace(0, 1, 72).view(1, 1, 1, 72).expand(1, 3, 48, 72)
    target = (ramp > 0.5).float()  # a band edge the lightness ramp does not announce
    low_in, low_out = torch.nn.functional.avg_pool2d(ramp, 3), torch.nn.functional.avg_pool2d(target, 3)
    detail = (detail_upsample(low_in, low_out, ramp, torch.zeros(1, 3, 1, 1)) - target).abs().mean()
    guided = (guided_upsample(low_in, low_out, ramp, radius=2, eps=1e-3) - target).abs().mean()
    assert detail < 0.5 * guided, (float(detail), float(guided))


def test_a_student_refuses_an_unknown_upsampler():
    with pytest.raises(ValueError, match="upsample must be one of guided, detail, gains"):
        GuidedUpsample(GuidedConfig(inner={"width": 4, "res_blocks": 1}, upsample="nearest"))


def test_a_fine_head_starts_as_the_student_and_draws_a_band_no_upsampler_can():
    """Zero weights: the student is unchanged (an --init student starts where it was). Trained,
    it draws a one-pixel checkerboard, finer than the low size, that the frame does not have:
    what a painting's stroke edges are to a student at half the size."""
    torch.manual_seed(0)
    net = TransformerNet(TransformerNetConfig(4, 1, 3))
    plain = GuidedUpsample(dataclasses.replace(GuidedUpsample.around(net, factor=2).config, upsample="detail"), net=net).eval()
    fine = GuidedUpsample(dataclasses.replace(plain.config, fine=True), net=net).eval()
    fine.detail_gain = plain.detail_gain
    x = torch.rand(1, 3, 32, 48) * 255
    with torch.no_grad():
        assert torch.equal(fine(x), plain(x))
    checker = ((torch.arange(32)[:, None] + torch.arange(48)[None]) % 2).float().expand(1, 3, 32, 48) * 40.0
    with torch.no_grad():
        fine.fine.conv.bias.copy_(torch.tensor([0.0, 1.0, 1.0, 0.0] * 3) * 40.0)  # sub-pixel phases (0,1) and (1,0)
        drawn = fine(x) - plain(x)
    assert torch.allclose(drawn, checker, atol=1e-3)


def test_a_fine_head_needs_a_low_size_and_reads_either_network():
    with pytest.raises(ValueError, match="factor ≥ 2"):
        GuidedUpsample(GuidedConfig(inner={"width": 4, "res_blocks": 1}, factor=1, fine=True))
    unet = GuidedUpsample(GuidedConfig(arch="unet", inner={"channels": (8, 16), "blocks_per_level": 1, "num_downsamples": 1,
                                                            "norm_groups": 4}, fine=True))
    assert unet.fine is not None and unet.fine.conv.in_channels == 8


def test_guided_student_checkpoint_export_and_parity(tmp_path):
    torch.manual_seed(0)
    nets = (TransformerNet(TransformerNetConfig(4, 1)),
            UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4)))
    for net, upsample in itertools.product(nets, ("guided", "detail", "gains")):
        edges = (1.0,) if upsample == "gains" else ()  # the gain maps' edge channel exports too
        model = GuidedUpsample(dataclasses.replace(GuidedUpsample.around(net, factor=2).config, upsample=upsample, gain_edges=edges),
                               net=net).eval()
        assert model.size_multiple == 2 * net.size_multiple
        save_checkpoint(tmp_path / "g.pt", model, {"name": "g"})
        loaded, _, _ = load_checkpoint(tmp_path / "g.pt")
        assert loaded.config.upsample == upsample and (loaded.detail_gain is not None) == (upsample != "guided")
        assert (loaded.gains is not None) == (upsample == "gains") and loaded.config.gain_edges == edges
        if loaded.gains is not None:  # a trained head draws maps: exported with the code bias
            torch.nn.init.normal_(loaded.gains.out.weight, std=0.1)
        contract = contract_for(loaded, "g")
        assert contract.latent_codes == (2 if isinstance(net, UNet) else 0)
        path = export_model(loaded, contract, tmp_path / "g.onnx")
        check_parity(loaded, path, contract, "fp32")
    # the fine head's sub-pixel rearrangement exports (ONNX DepthToSpace) and keeps parity, on either network
    for net, factor in zip(nets, (2, 3)):
        model = GuidedUpsample(dataclasses.replace(GuidedUpsample.around(net, factor=factor).config, upsample="detail", fine=True),
                               net=net)
        torch.nn.init.normal_(model.fine.conv.weight, std=0.1 if isinstance(net, TransformerNet) else 0.01)
        save_checkpoint(tmp_path / "f.pt", model.eval(), {"name": "f"})
        loaded, _, _ = load_checkpoint(tmp_path / "f.pt")
        assert loaded.fine is not None and torch.equal(loaded.fine.conv.weight, model.fine.conv.weight)
        contract = contract_for(loaded, "f")
        check_parity(loaded, export_model(loaded, contract, tmp_path / "f.onnx"), contract, "fp32")


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    img = synthetic_photo(64, 64, 2)
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    assert ssim(img, img) == 1.0
    assert 0.2 < ssim(img, noisy) < 0.9
    assert ssim(img, noisy) > ssim(img, 255 - img)


def test_distilling_a_teacher_lowers_the_loss_and_reports_ssim(tmp_path, photo_folder, monkeypatch):
    import export.release as release
    from realtime.filters.registry import fast_variant

    monkeypatch.setattr(release, "ROOT", tmp_path)
    torch.manual_seed(0)
    for name, teacher in (("style", TransformerNet(TransformerNetConfig(8, 1))),
                          ("cartoon", UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2,
                                                      residual_output=True, norm_groups=4)))):
        save_checkpoint(tmp_path / f"{name}.pt", teacher, {"name": name})
        cfg = DistillConfig(teacher=tmp_path / f"{name}.pt", out=tmp_path / f"{name}_fast.pt", images=photo_folder, holdout=("img0",),
                            width=4, res_blocks=1, channels=(4, 8), steps=30, batch_size=2, save_every=15,
                            crops=CropConfig(crop=32, short_min=48, short_max=64), lr=5e-3)
        meta = distill(cfg)
        history = read_checkpoint(cfg.out)["train_state"]["history"]
        assert np.mean(history[-6:]) < np.mean(history[:6]), name
        assert 0 < meta["val_ssim"] <= 1
        student, _, _ = load_checkpoint(cfg.out)
        assert isinstance(student, GuidedUpsample) and student.config.factor == 2
        # released beside its teacher as NAME.fast.onnx, which --variant auto picks on CPU
        assert release.main([str(cfg.out), "--work-size", "64"]) == 0
        bundled = tmp_path / "realtime" / "bundled"
        card = json.loads((bundled / f"{name}.fast.json").read_text())
        assert card["teacher"] == name and card["factor"] == 2 and card["validation_ssim_to_teacher"] == meta["val_ssim"]
        assert card["cpu_ms_640x480_frame"] > 0
        from realtime.filters.engine import FilterModel

        assert FilterModel(bundled / f"{name}.fast.onnx", "cpu").name == name, "the same filter as its teacher"
        # released under another name (a teacher retrained under a scratch name): --name decides the filter
        assert release.main([str(cfg.out), "--work-size", "64", "--name", f"re{name}.fast"]) == 0
        assert FilterModel(bundled / f"re{name}.fast.onnx", "cpu").name == f"re{name}"
        (bundled / f"{name}.onnx").write_bytes(b"")  # the teacher's file beside it
        assert fast_variant(bundled / f"{name}.onnx") == bundled / f"{name}.fast.onnx"
    save_checkpoint(tmp_path / "anon.pt", student, {"name": "anon"})
    with pytest.raises(UserError, match="no validation SSIM or teacher name"):
        release.main([str(tmp_path / "anon.pt")])


def test_a_student_at_a_third_of_the_size_validates_and_refuses_a_crop_it_cannot_divide(tmp_path, photo_folder):
    """Before: at factor 3 the 256-px validation squares did not divide and the run crashed at
    its first save (a shape mismatch deep in the UNet)."""

    cfg = tiny_distill(tmp_path, photo_folder, out="t_fast.pt", crop=36, factor=3)
    assert 0 < distill(cfg)["val_ssim"] <= 1
    from export.model_card import cpu_times

    student, _, _ = load_checkpoint(cfg.out)
    path = export_model(student, contract_for(student, "t", work_size=64), tmp_path / "t.fast.onnx")
    times = cpu_times(path, 720, student.size_multiple)
    assert times.pop("cpu_ms_on") == machine(), "the card says which CPU its times are from"
    assert all(v > 0 for v in times.values())  # 256² and 640×480 padded to 6
    with pytest.raises(UserError, match="--crop 32 must be a multiple of 6"):
        distill(dataclasses.replace(cfg, crops=CropConfig(crop=32, short_min=48, short_max=64), out=tmp_path / "u.pt"))


def test_a_detail_head_starts_as_the_identity_and_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4))
    plain = GuidedUpsample.around(net, factor=3).eval()
    headed = GuidedUpsample(dataclasses.replace(plain.config, detail=8, detail_tones=2), net=net).eval()
    x = torch.rand(1, 3, 48, 60)
    code = net.code_vectors(torch.tensor([1]))
    assert torch.equal(plain(x, code), headed(x, code)), "a new head adds exactly nothing until it is trained"
    torch.nn.init.normal_(headed.detail.out.weight, std=0.1)  # a trained head: exported with the code bias
    save_checkpoint(tmp_path / "h.pt", headed, {"name": "h"})
    loaded, _, _ = load_checkpoint(tmp_path / "h.pt")
    assert loaded.config.detail == 8 and not torch.equal(loaded(x, code), plain(x, code))
    contract = contract_for(loaded, "h")
    check_parity(loaded, export_model(loaded, contract, tmp_path / "h.onnx"), contract, "fp32")


def test_a_detail_head_separates_colours_of_one_lightness_that_guided_upsampling_mixes():
    """What the head is for: the guided output is, in every window, a function of the lightness
    alone, so two colours of one lightness get one output colour (here the target swaps red
    and green). The head sees each full-size pixel's colour and learns it in a few steps."""
    torch.manual_seed(0)
    full = torch.from_numpy(synthetic_photo(60, 60, 3)).permute(2, 0, 1)[None].float() / 255
    target = full[:, [1, 0, 2]]
    low = torch.nn.functional.avg_pool2d(full, 3)
    guided = guided_upsample(low, torch.nn.functional.avg_pool2d(target, 3), full, radius=1, eps=1e-3).detach()
    from models.networks.guided import DetailHead

    head = DetailHead(hidden=8, edges=0)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(200):
        loss = (head(guided, full, low, None) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    before = float((guided - target).abs().mean())
    after = float((head(guided, full, low, None) - target).abs().mean().detach())
    assert after < 0.5 * before, (before, after)


def test_distilling_from_a_trained_student_adds_a_head_and_refuses_another_shape(tmp_path, photo_folder):
    cfg = tiny_distill(tmp_path, photo_folder)
    distill(cfg)
    plain, _, _ = load_checkpoint(cfg.out)
    headed_cfg = dataclasses.replace(cfg, out=tmp_path / "headed.pt", detail=4, init=cfg.out, steps=1, lr=0.0)
    meta = distill(headed_cfg)
    assert meta["total_steps"] == 5 and meta["steps"] == 1, "a continued student counts the steps of every leg"
    headed, _, _ = load_checkpoint(headed_cfg.out)
    x = torch.rand(1, 3, 32, 32)
    assert headed.config.detail == 4 and torch.equal(headed(x), plain(x)), "starts where the plain student stopped"
    detail_cfg = dataclasses.replace(headed_cfg, out=tmp_path / "detail.pt", detail=0, upsample="detail")
    distill(detail_cfg)
    switched, _, _ = load_checkpoint(detail_cfg.out)
    same_net = all(torch.equal(v, plain.net.state_dict()[k]) for k, v in switched.net.state_dict().items())
    assert switched.config.upsample == "detail" and same_net, "a guided student goes on with bilinear + detail upsampling"
    resized_cfg = dataclasses.replace(detail_cfg, out=tmp_path / "half.pt", factor=4)
    distill(resized_cfg)
    resized, _, _ = load_checkpoint(resized_cfg.out)
    same_net = all(torch.equal(v, plain.net.state_dict()[k]) for k, v in resized.net.state_dict().items())
    assert resized.config.factor == 4 and same_net, "a student's network goes on at another size factor"
    with pytest.raises(UserError, match="--init .* is not a student of this shape"):
        distill(dataclasses.replace(headed_cfg, channels=(4, 4), out=tmp_path / "other.pt"))


def test_the_export_command_names_a_students_codes_after_its_teachers_styles(tmp_path, monkeypatch, capsys):
    """Before: ``realtime-export onnx`` read the codes off the student's own config, which has
    none (they belong to its inner network), so a fast cartoon lost its style names."""
    import sys

    from export.cli import entry
    from realtime.filters.onnx_format import read_contract

    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4))
    save_checkpoint(tmp_path / "s.pt", GuidedUpsample.around(net, factor=2), {"name": "s", "style_codes": {"bold": 0, "soft": 1}})
    monkeypatch.setattr(sys, "argv", ["realtime-export", "onnx", str(tmp_path / "s.pt"), "-o", str(tmp_path / "s.onnx"), "--work-size", "64"])
    assert entry() == 0, capsys.readouterr().err
    contract = read_contract(tmp_path / "s.onnx")
    assert contract.latent_codes == 2 and contract.latent_names == ("bold", "soft")


def test_export_distillation_and_benchmarks_call_a_network_the_same_way():
    """One call for every consumer (models.networks.calling.run_filter): the ONNX wrapper and the
    distillation's runner give the same image for the same code."""
    from export.onnx_export import ExportWrapper
    from models.networks.calling import run_filter
    from models.distill import Runner

    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=3, norm_groups=4)).eval()
    x = torch.rand(2, 3, 24, 24)
    for model in (net, GuidedUpsample.around(net, factor=2).eval()):
        wrapped = ExportWrapper(model)(x, torch.tensor([2]))
        assert torch.allclose(wrapped, Runner(model)(model, x, 2), atol=1e-6)
        assert not torch.allclose(wrapped, Runner(model)(model, x, 0), atol=1e-3), "the code changes the picture"
    with pytest.raises(ValueError, match="give the code's index"):
        run_filter(net, x)


def test_distilling_a_clone_of_a_classical_teacher_reports_the_clone_ratio(tmp_path, photo_folder):
    """The full network's checkpoint names its classical teacher; the student's validation then
    scores against that teacher too (best code per style), not only against the network."""
    from models.distill import Runner, teacher_ratio

    torch.manual_seed(0)
    teacher = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, residual_output=True, norm_groups=4))
    save_checkpoint(tmp_path / "c.pt", teacher, {"name": "cartoon", "teacher": "cartoon"})
    cfg = DistillConfig(teacher=tmp_path / "c.pt", out=tmp_path / "c_fast.pt", images=photo_folder, holdout=("img0",),
                        channels=(4, 8), steps=4, batch_size=2, save_every=4, crops=CropConfig(crop=32, short_min=48, short_max=64))
    meta = distill(cfg)
    assert 0 < meta["val_ratio"] < 5 and 0 < meta["val_ssim"] <= 1

    class PhotoRunner(Runner):  # a "student" that gives back the photo
        def __call__(self, model, x01, code):
            return x01

    student = GuidedUpsample.around(TransformerNet(TransformerNetConfig(4, 1)), factor=1)
    ratio = teacher_ratio(student, PhotoRunner(student), [synthetic_photo(48, 48, 5)], "cartoon", torch.device("cpu"))
    assert ratio == pytest.approx(1.0, abs=0.01), "the photo is exactly as far from the teacher as the photo"


def test_a_student_can_copy_the_classical_filter_its_teacher_was_cloned_from(tmp_path, photo_folder):
    """``--target classical``: each code's target is the filter in the style that code stands
    for (the clone ratio is measured against the filter, and a full network is only 0.45 of
    the way there for oil). A teacher cloned from no filter, or one whose codes name no style
    for each code, is refused before training."""
    from models.distill import classical_target
    from models.teachers.classical import STYLED_TEACHERS

    fn, styles = STYLED_TEACHERS["oil"]
    codes = {"fine": 2, "bold": 0, "impasto": 1}
    target = classical_target({"teacher": "oil", "style_codes": codes}, 3)
    x = torch.from_numpy(synthetic_photo(48, 64, 5)).permute(2, 0, 1)[None].float() / 255
    rgb = synthetic_photo(48, 64, 5)
    for name, code in codes.items():
        want = torch.from_numpy(fn(rgb, styles[name])).permute(2, 0, 1)[None].float() / 255
        assert torch.allclose(target(x, code), want, atol=1 / 255 + 1e-6), name
    assert not torch.allclose(target(x, 0), target(x, 2)), "the codes draw different styles"
    with pytest.raises(UserError, match="--target classical needs a clone of a classical filter"):
        classical_target({"teacher": None}, 0)
    with pytest.raises(UserError, match="do not name a oil style for each of its 3 codes"):
        classical_target({"teacher": "oil", "style_codes": {"fine": 0, "bold": 1}}, 3)

    teacher = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, residual_output=True, norm_groups=4,
                              latent_codes=3))
    save_checkpoint(tmp_path / "t.pt", teacher, {"name": "oil", "teacher": "oil", "style_codes": codes})
    cfg = DistillConfig(teacher=tmp_path / "t.pt", out=tmp_path / "s.pt", images=photo_folder, holdout=("img0",),
                        channels=(4, 8), factor=2, steps=2, batch_size=2, save_every=2, target="classical",
                        crops=CropConfig(crop=32, short_min=48, short_max=64), lr=5e-3)
    meta = distill(cfg)
    assert "val_ratio" in meta and meta["train_config"]["target"] == "classical"


@pytest.mark.parametrize("upsample", ["guided", "detail", "gains"])
def test_a_students_monochrome_code_stays_grey_through_upsampling_and_head(upsample):
    """The frame's own detail (``detail``) and a detail head put the frame's colour back; the
    student's output for a monochrome code is still grey, for the others not."""
    from models.networks.calling import run_filter, set_monochrome_codes
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4))
    cfg = dataclasses.replace(GuidedUpsample.around(net, factor=2).config, upsample=upsample, detail=4)
    model = GuidedUpsample(cfg, net=net).eval()
    with torch.no_grad():
        model.detail.out.weight.normal_()  # a trained head, not the identity it starts as
    set_monochrome_codes(model, (0,))
    assert model.config.inner["monochrome_codes"] == (0,)
    x = torch.rand(2, 3, 24, 32)
    with torch.no_grad():
        grey, colour = (run_filter(model, x, torch.tensor([k])) for k in (0, 1))
    assert float((grey.amax(dim=1) - grey.amin(dim=1)).max()) == 0.0
    assert float((colour.amax(dim=1) - colour.amin(dim=1)).max()) > 0.05


def test_gain_maps_start_as_the_detail_student_and_can_flatten_texture_while_keeping_an_edge():
    """Untrained maps are the detail upsampler with the frame's detail taken in lightness (on a
    grey frame: exactly it). And the reason they exist: a teacher that flattens a texture but
    keeps (and darkens) an outline needs the frame's detail weighed 0 in one place and more than
    1 in another; maps drawn at the low size can, one gain cannot (the best single gain still
    leaves most of the error)."""
    from models.networks.guided import GainMaps

    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4))
    plain = GuidedUpsample(dataclasses.replace(GuidedUpsample.around(net, factor=3).config, upsample="detail"), net=net).eval()
    mapped = GuidedUpsample(dataclasses.replace(plain.config, upsample="gains"), net=net).eval()
    mapped.detail_gain.data.copy_(plain.detail_gain.data)
    grey = torch.rand(1, 1, 48, 60).expand(1, 3, 48, 60)
    code = net.code_vectors(torch.tensor([1]))
    with torch.no_grad():
        assert torch.allclose(plain(grey, code), mapped(grey, code), atol=1e-6)

    # left half: a fine texture the teacher removes; right half: an edge it darkens by half again
    h, w, f = 48, 96, 3
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    texture = 0.5 + 0.08 * ((xx + yy) % 2).float() - 0.04
    edge = torch.where((xx - 72).abs() <= 1, torch.tensor(0.2), torch.tensor(0.6))
    frame = torch.where(xx < 48, texture, edge).float().view(1, 1, h, w).expand(1, 3, h, w)
    teacher = torch.where(xx < 48, torch.tensor(0.5), torch.where((xx - 72).abs() <= 1, torch.tensor(0.0), torch.tensor(0.6)))
    teacher = teacher.float().view(1, 1, h, w).expand(1, 3, h, w)
    low_in, low_out = (torch.nn.functional.avg_pool2d(t, f) for t in (frame, teacher))
    best_one_gain = min((detail_upsample(low_in, low_out, frame, torch.full((1, 3, 1, 1), g)) - teacher).abs().mean().item()
                        for g in torch.linspace(0, 2, 41).tolist())
    head = GainMaps(hidden=8)  # fitted to this one picture: what maps drawn at the low size can do
    gain = torch.ones(1, 3, 1, 1)
    opt = torch.optim.Adam(head.parameters(), lr=0.02)
    for _ in range(300):
        opt.zero_grad()
        loss = (head(low_in, low_out, frame, gain, None) - teacher).abs().mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        maps = head(low_in, low_out, frame, gain, None)
    assert (maps - teacher).abs().mean().item() < 0.5 * best_one_gain, ((maps - teacher).abs().mean().item(), best_one_gain)


def test_a_student_with_a_fine_head_trains_on_noisy_input_against_the_clean_target(tmp_path, photo_folder):
    """--fine and --input-noise together: the head is saved and reloaded, the noise is the
    camera-like noise of the style training's stability term (same seed, same noise)."""
    from models.train_style import camera_noise

    x = torch.full((2, 3, 64, 64), 0.5)
    a, b = camera_noise(x, 4.0, 7, 3), camera_noise(x, 4.0, 7, 3)
    assert torch.equal(a, b) and abs(float((a - x).std()) * 255 - 4.0) < 0.3
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "t.pt", TransformerNet(TransformerNetConfig(4, 1, 3)), {"name": "t"})
    cfg = DistillConfig(teacher=tmp_path / "t.pt", out=tmp_path / "t_fast.pt", images=photo_folder, holdout=("img0",),
                        width=4, res_blocks=1, outer_kernel=3, factor=2, upsample="detail", fine=True, input_noise=4.0,
                        steps=3, batch_size=2, save_every=3, crops=CropConfig(crop=32, short_min=48, short_max=64), lr=5e-3)
    assert 0 < distill(cfg)["val_ssim"] <= 1
    student, meta, _ = load_checkpoint(cfg.out)
    assert student.fine is not None and float(student.fine.conv.weight.detach().abs().sum()) > 0, "the head trained"
    assert meta["train_config"]["input_noise"] == "4.0"


def test_a_colour_head_starts_as_the_student_and_draws_each_codes_affine_colour_map():
    """Zero at the start (a continued student is unchanged); trained, it lifts a flat grey by a
    level-dependent amount, as the watercolour's ``out + 0.1·(250 − out)`` does, which the UNet's
    normalised features cannot over a flat picture, and each code draws its own map."""
    from models.networks.guided import ColourHead

    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4,
                          residual_output=True))
    plain = GuidedUpsample(dataclasses.replace(GuidedUpsample.around(net, factor=2).config, upsample="gains"), net=net).eval()
    headed = GuidedUpsample(dataclasses.replace(plain.config, colour=True), net=net).eval()
    headed.detail_gain, headed.gains = plain.detail_gain, plain.gains
    codes = net.code_vectors(torch.tensor([0, 1]))
    x = torch.rand(2, 3, 24, 32)
    with torch.no_grad():
        assert torch.equal(headed(x, codes), plain(x, codes))
        head = headed.colour
        assert isinstance(head, ColourHead) and head.map is not None
        # code 0: −0.1·x + 0.98 (the lift toward a paper of 250/255); code 1 zero: a linear layer of the code vector
        # cannot give two codes any maps, so solve for the weights that give code 0 its map and code 1 none
        target = torch.cat([(-0.1 * torch.eye(3)).flatten(), torch.full((3,), 0.098)])
        v = torch.cat([codes, torch.ones(2, 1)], dim=1)  # [code vector, 1] → 12 numbers, by least squares
        w = torch.linalg.lstsq(v, torch.stack([target, torch.zeros(12)])).solution
        head.map.weight.copy_(w[:-1].T)
        head.map.bias.copy_(w[-1])
        for grey in (120.0, 200.0):
            flat = torch.full((2, 3, 24, 32), grey / 255)
            change = (headed(flat, codes) - plain(flat, codes)) * 255
            assert torch.allclose(change[0], torch.full_like(change[0], 0.1 * (250 - grey)), atol=0.05)
            assert float(change[1].abs().max()) < 0.05, "the other code keeps its own (zero) map"


def test_a_colour_head_exports_with_parity_and_a_student_takes_one_on_from_its_checkpoint(tmp_path, photo_folder):
    torch.manual_seed(0)
    for net in (TransformerNet(TransformerNetConfig(4, 1)),
                UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4))):
        model = GuidedUpsample(dataclasses.replace(GuidedUpsample.around(net, factor=2).config, upsample="detail", colour=True),
                               net=net)
        params = model.colour.map if model.colour.map is not None else None
        with torch.no_grad():
            for p in (params.parameters() if params is not None else [model.colour.fixed]):
                p.normal_(std=0.05)
        save_checkpoint(tmp_path / "c.pt", model.eval(), {"name": "c"})
        loaded, _, _ = load_checkpoint(tmp_path / "c.pt")
        assert loaded.colour is not None and loaded.config.colour
        contract = contract_for(loaded, "c")
        check_parity(loaded, export_model(loaded, contract, tmp_path / "c.onnx"), contract, "fp32")
    cfg = tiny_distill(tmp_path, photo_folder, steps=2, upsample="gains")
    distill(cfg)
    distill(dataclasses.replace(cfg, out=tmp_path / "colour.pt", colour=True, init=cfg.out, steps=1, lr=0.0))
    plain, _, _ = load_checkpoint(cfg.out)
    coloured, _, _ = load_checkpoint(tmp_path / "colour.pt")
    x = torch.rand(1, 3, 32, 32)
    assert coloured.colour is not None and torch.equal(coloured(x), plain(x)), "starts where the plain student stopped"


def test_a_monochrome_code_stays_grey_with_a_colour_head():
    from models.networks.calling import run_filter, set_monochrome_codes
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2, norm_groups=4))
    model = GuidedUpsample(dataclasses.replace(GuidedUpsample.around(net, factor=2).config, colour=True), net=net).eval()
    with torch.no_grad():
        model.colour.map.bias.copy_(torch.tensor([0.2, 0, 0, 0, 0, 0, 0, 0, -0.3, 0.1, 0, -0.1]))  # a strong tint
    set_monochrome_codes(model, (0,))
    x = torch.rand(2, 3, 24, 32)
    with torch.no_grad():
        grey, colour = (run_filter(model, x, torch.tensor([k])) for k in (0, 1))
    assert float((grey.amax(dim=1) - grey.amin(dim=1)).max()) == 0.0
    assert float((colour.amax(dim=1) - colour.amin(dim=1)).max()) > 0.05
