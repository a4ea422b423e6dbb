"""--loss-net random+pose: the random features' layers, then the pose network's, as one loss
network; --content-layers/--style-layers pick among them, checked before training starts."""
from __future__ import annotations

import argparse

import pytest
import torch

from models.losses.perceptual import (STACKED_LAYERS, FeatureStack, RandomFeatures, StyleLoss, StyleLossConfig, add_loss_args,
                                      loss_network, loss_options)
from realtime.errors import UserError

pytest.importorskip("tflite", reason="the tflite package (train extra) is not installed")


def options(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_loss_args(p)
    return p.parse_args(list(argv))


def test_layers_default_per_network_and_parse():
    assert loss_options(options()).content_layers == StyleLossConfig().content_layers
    stacked = loss_options(options("--loss-net", "random+pose"))
    assert (stacked.content_layers, stacked.style_layers) == STACKED_LAYERS
    chosen = loss_options(options("--loss-net", "random+pose", "--content-layers", "5,6", "--style-layers", "0,4"))
    assert (chosen.content_layers, chosen.style_layers) == ((5, 6), (0, 4))
    with pytest.raises(UserError, match="--style-layers takes layer numbers"):
        loss_options(options("--style-layers", "0,x"))
    with pytest.raises(UserError, match="start at 0"):
        loss_options(options("--content-layers", "-1"))


def test_the_stack_is_the_random_layers_then_the_pose_stages():
    try:
        stack = loss_network("random+pose")
    except (UserError, FileNotFoundError) as e:
        pytest.skip(f"mediapipe's pose model is not available: {e}")
    assert isinstance(stack, FeatureStack) and isinstance(stack.nets[0], RandomFeatures)
    x = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    feats = stack(x)
    alone = RandomFeatures()(x)
    assert len(feats) == 8 and all(torch.equal(a, b) for a, b in zip(feats[:4], alone))
    assert [f.shape[-1] for f in feats[4:]] == [48, 24, 12, 6]  # the pose stages at strides 2, 4, 8, 16
    assert stack.min_side == RandomFeatures().min_side
    with pytest.raises(UserError, match="layer 9 does not exist: this loss network has layers 0-7"):
        StyleLoss(stack, x, StyleLossConfig(content_layers=(5,), style_layers=(0, 9)))
