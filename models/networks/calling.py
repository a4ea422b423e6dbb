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
    vector = grey = None
    if latent_codes(model):
        if code is None:
            raise ValueError("this network has latent codes: give the code's index")
        inner = inner_network(model)
        vector = inner.code_vectors(code.reshape(1)).expand(x.shape[0], -1)
        grey = inner.grey_weights(code.reshape(1))  # a monochrome code's output is grey (None: no such code)
    if isinstance(model, GuidedUpsample):
        return model(x, vector, grey)
    if isinstance(model, UNet):
        return model.decode(x, vector, grey)
    return model(x)


def set_monochrome_codes(model: nn.Module, codes: tuple[int, ...]) -> None:
    """Make ``model``'s output for the latent ``codes`` grey (a student: its inner network's, and
    the inner config it saves); a network without codes takes only ``()``."""
    inner = inner_network(model)
    if not isinstance(inner, UNet):
        if codes:
            raise ValueError(f"{type(inner).__name__} has no latent codes to make grey")
        return
    inner.set_monochrome_codes(tuple(codes))
    if isinstance(model, GuidedUpsample):
        model.config.inner = {**model.config.inner, "monochrome_codes": inner.config.monochrome_codes}
