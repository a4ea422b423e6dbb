"""Checkpoint → ONNX with dynamic height/width, clamped output and the filter contract.

The exported graph takes ``input`` (N×3×H×W float in the model's range) and, for UNets with a
latent code, ``latent`` (int64 [1], the code index); it returns ``output`` clamped to the
input range. Every export is followed by :func:`export.parity.check_parity`.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx
import torch
from torch import nn

from realtime.errors import UserError
from realtime.filters.onnx_format import FilterContract, make_parent, save_atomic, write_contract
from models.networks.calling import latent_codes, run_filter
from models.networks.guided import GuidedUpsample
from models.networks.transformer_net import TransformerNet
from models.networks.unet import UNet

log = logging.getLogger(__name__)
OPSET = 18


class ExportWrapper(nn.Module):
    """What the ONNX graph computes: the network (:func:`models.networks.calling.run_filter`: latent
    lookup and the call) plus the output clamp."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.high = 255.0 if model.input_range == "0-255" else 1.0
        self.has_latent = latent_codes(model) > 0

    def forward(self, x: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        return run_filter(self.model, x, latent).clamp(0.0, self.high)


def contract_for(model: nn.Module, name: str, **overrides: object) -> FilterContract:
    """The contract a network of ours implies; ``overrides`` set kind, work_size, licence…"""
    base: dict[str, object] = dict(
        name=name,
        input_range=model.input_range,
        size_multiple=model.size_multiple,
        latent_codes=latent_codes(model),
    )
    base.update({k: v for k, v in overrides.items() if v is not None})
    return FilterContract(**base)  # type: ignore[arg-type]


def sample_inputs(wrapper: ExportWrapper, h: int, w: int, batch: int = 1) -> tuple[torch.Tensor, ...]:
    x = torch.rand(batch, 3, h, w) * wrapper.high
    return (x, torch.zeros(1, dtype=torch.int64)) if wrapper.has_latent else (x,)


def _not_torchvision(record: logging.LogRecord) -> bool:
    return "torchvision is not installed" not in record.getMessage()


@contextmanager
def quiet_registry() -> Iterator[None]:
    """torch's ONNX exporter logs, at WARNING and on every export, a line for each of
    torchvision's four operators it skips because torchvision is not installed (none of our
    networks uses them, and the lock leaves torchvision out): four lines of noise above the
    parity check. Those lines are left out; anything else its registry says comes through."""
    registry = logging.getLogger("torch.onnx._internal.exporter._registration")
    registry.addFilter(_not_torchvision)
    try:
        yield
    finally:
        registry.removeFilter(_not_torchvision)


def export_model(model: nn.Module, contract: FilterContract, path: Path) -> Path:
    """Write ``model`` as ONNX to ``path`` with ``contract`` in its metadata."""
    if not isinstance(model, (UNet, TransformerNet, GuidedUpsample)):
        raise UserError(f"cannot export {type(model).__name__}: only UNet, TransformerNet and GuidedUpsample are supported")
    path = Path(path)
    make_parent(path)
    wrapper = ExportWrapper(model.eval().float().cpu()).eval()
    m = contract.size_multiple
    args = sample_inputs(wrapper, 16 * m, 24 * m, batch=2)
    h, w = torch.export.Dim("h", min=1, max=4096 // m), torch.export.Dim("w", min=1, max=4096 // m)
    shapes: dict[str, object] = {"x": {0: torch.export.Dim("batch", min=1, max=64), 2: m * h, 3: m * w}}
    names = ["input"]
    if wrapper.has_latent:
        shapes["latent"] = None
        names.append("latent")
    with warnings.catch_warnings(), quiet_registry():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            wrapper, args, dynamo=True, input_names=names, output_names=["output"],
            dynamic_shapes=shapes, opset_version=OPSET, verbose=False, external_data=False,
        )
    proto = program.model_proto
    write_contract(proto, contract)
    proto.doc_string = f"{contract.name}: {type(model).__name__} filter exported by realtime-export"
    onnx.checker.check_model(proto)
    save_atomic(proto, path)
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


