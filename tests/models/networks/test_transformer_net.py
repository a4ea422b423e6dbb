from __future__ import annotations

import torch

from models.networks.transformer_net import TransformerNet, TransformerNetConfig, drop_legacy_keys, infer_config


def test_parameter_count_matches_johnson_network():
    assert sum(p.numel() for p in TransformerNet().parameters()) == 1_679_235


def test_state_dict_keys_match_pytorch_examples():
    state = TransformerNet().state_dict()
    assert tuple(state["conv1.conv2d.weight"].shape) == (32, 3, 9, 9)
    for key in ["in1.weight", "res1.conv1.conv2d.weight", "res1.in1.weight", "res5.in2.bias",
                "deconv1.conv2d.weight", "deconv3.conv2d.weight", "in5.bias"]:
        assert key in state, key
    assert not any("running" in k for k in state)


def test_output_shape_and_width_parameter():
    small = TransformerNet(TransformerNetConfig(width=8))
    assert sum(p.numel() for p in small.parameters()) < 1_679_235 / 10
    with torch.no_grad():
        assert small(torch.rand(1, 3, 36, 44) * 255).shape == (1, 3, 36, 44)


def test_legacy_running_stats_are_dropped_and_config_inferred():
    state = TransformerNet(TransformerNetConfig(width=16, res_blocks=3)).state_dict()
    legacy = dict(state)
    legacy["in1.running_mean"] = torch.zeros(16)
    legacy["res2.in1.running_var"] = torch.ones(64)
    cleaned = drop_legacy_keys(legacy)
    assert cleaned.keys() == state.keys()
    assert infer_config(cleaned) == TransformerNetConfig(width=16, res_blocks=3)


def test_students_with_small_outer_kernels_keep_size_and_round_trip_their_config():
    cfg = TransformerNetConfig(width=8, res_blocks=2, outer_kernel=3)
    net = TransformerNet(cfg)
    assert net.conv1.conv2d.kernel_size == (3, 3) and net.deconv3.conv2d.kernel_size == (3, 3)
    assert net(torch.rand(1, 3, 28, 40) * 255).shape == (1, 3, 28, 40)
    assert infer_config(net.state_dict()) == cfg
    assert infer_config(TransformerNet().state_dict()).outer_kernel == 9  # pytorch/examples layout
