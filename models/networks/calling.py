"""How any filter network of ours is called: the latent-code lookup and the per-architecture call.

A UNet's ``forward`` returns its training outputs (reconstruction, VQ terms), so filtering
goes through ``decode`` with a code's vector; a fast student (:class:`GuidedUpsample`) takes
the vector of its inner network's codebook; a Johnson network takes the frame alone. Export
(the ONNX graph), distillation (teacher and student) and the checkpoint benchmarks all call
networks through :func:`run_filter`, so the three cannot drift apart.
"""
from __future__ import annotations

import torch
from torch import nn

from models.networks.guided import GuidedUpsample
from models.networks.unet import UNet


def inner_network(model: nn.Module) -> nn.Module:
    """The network that owns the codebook: a student's inner network, else the model itself."""
    return model.net if isinstance(model, GuidedUpsample) else model


def latent_codes(model: nn.Module) -> int:
    """How many latent codes ``model`` takes (0: none)."""
    inner = inner_network(model)
    return inner.config.latent_codes if isinstance(inner, UNet) else 0


def run_filter(model: nn.Module, x: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
    """``model`` on a batch ``x`` in its input range, with the code index ``code`` (int64,
    one element) where the model has codes; unclamped output in the same range."""
    vector = None
    if latent_codes(model):
        if code is None:
            raise ValueError("this network has latent codes: give the code's index")
        vector = inner_network(model).code_vectors(code.reshape(1)).expand(x.shape[0], -1)
    if isinstance(model, GuidedUpsample):
        return model(x, vector)
    if isinstance(model, UNet):
        return model.decode(x, vector)
    return model(x)
