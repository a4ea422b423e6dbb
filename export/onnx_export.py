"""Checkpoint → ONNX with dynamic height/width, clamped output and the filter contract.

The exported graph takes ``input`` (N×3×H×W float in the model's range) and, for UNets with a
latent code, ``latent`` (int64 [1], the code index); it returns ``output`` clamped to the
input range. Every export is followed by :func:`export.parity.check_parity`.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from export.contract import FilterContract, has_contract
from export.errors import UserError
from models.guided import GuidedUpsample
from models.transformer_net import TransformerNet
from models.unet import UNet

log = logging.getLogger(__name__)
OPSET = 18


class ExportWrapper(nn.Module):
    """What the ONNX graph computes: the network plus the latent lookup and the output clamp."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.inner = model.net if isinstance(model, GuidedUpsample) else model
        self.high = 255.0 if model.input_range == "0-255" else 1.0
        self.has_latent = latent_codes(model) > 0

    def forward(self, x: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        code = self.inner.code_vectors(latent.reshape(1)).expand(x.shape[0], -1) if self.has_latent else None
        if isinstance(self.model, GuidedUpsample):
            y = self.model(x, code)
        elif isinstance(self.model, UNet):
            y = self.model.decode(x, code)
        else:
            y = self.model(x)
        return y.clamp(0.0, self.high)


def latent_codes(model: nn.Module) -> int:
    inner = model.net if isinstance(model, GuidedUpsample) else model
    return inner.config.latent_codes if isinstance(inner, UNet) else 0


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            wrapper, args, dynamo=True, input_names=names, output_names=["output"],
            dynamic_shapes=shapes, opset_version=OPSET, verbose=False, external_data=False,
        )
    proto = program.model_proto
    del proto.metadata_props[:]
    for key, value in contract.to_props().items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = f"{contract.name}: {type(model).__name__} filter exported by realtime-export"
    onnx.checker.check_model(proto)
    save_atomic(proto, path)
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def make_parent(path: Path) -> None:
    """Create the folder ``path`` goes in; a folder that cannot be made gives one clear line."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder for {path} ({exc.strerror or exc}): choose another output path") from None


def save_atomic(proto: onnx.ModelProto, path: Path) -> None:
    """Write ``proto`` to ``path`` through a temporary file, so a failed write never leaves half a model."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        onnx.save(proto, str(tmp))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path} ({exc.strerror or exc}): choose another output path or free some space") from None


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a non-empty file; otherwise one clear line saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder: pass the file itself")
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist")
    if path.stat().st_size == 0:
        raise UserError(f"{what} {path} is empty (0 bytes): the download or save was cut short; get the file again")
    return path


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), for one-line errors."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def load_model_proto(path: Path, weights: bool = False) -> onnx.ModelProto:
    """The ONNX model in ``path``; a missing, empty, corrupt or graph-less file gives one clear line
    (``onnx.load`` reads an empty or foreign file as an empty model without complaint)."""
    path = require_file(path, "model file")
    try:
        proto = onnx.load(str(path), load_external_data=weights)
    except OSError as exc:  # unreadable, or (with weights) an external-data file missing
        raise UserError(f"cannot read {path} ({exc.strerror or first_line(exc)}): check the file, its permissions "
                        "and any external-data files beside it") from None
    except Exception as exc:  # protobuf and onnx raise many types for a damaged file
        raise UserError(f"{path} is corrupt or not an ONNX file ({first_line(exc)}): export or download it again") from None
    if not proto.ir_version or not proto.graph.node or not proto.graph.output:
        raise UserError(f"{path} is corrupt or not an ONNX file (it holds no model graph): export or download it again")
    return proto


def read_contract(path: Path) -> FilterContract:
    """The contract stored in an ONNX file (without loading the weights into a session)."""
    proto = load_model_proto(path)
    return FilterContract.from_props({p.key: p.value for p in proto.metadata_props}, fallback_name=Path(path).stem)


def check_float_io(proto: onnx.ModelProto, input_name: str, path: Path) -> None:
    """Realtime feeds float32 images and reads float32 images: say so for other input/output types."""
    outputs = list(proto.graph.output[:1])
    image = [i for i in proto.graph.input if i.name == input_name][:1]
    for kind, value in (("input", image), ("output", outputs)):
        elem = value[0].type.tensor_type.elem_type if value else onnx.TensorProto.UNDEFINED
        if elem != onnx.TensorProto.FLOAT:
            dtype = onnx.TensorProto.DataType.Name(elem).lower()
            fix = ("convert it keeping float32 inputs and outputs (onnxconverter-common convert_float_to_float16(..., "
                   "keep_io_types=True), as `realtime-export onnx --fp16` does)" if elem == onnx.TensorProto.FLOAT16
                   else "export it with a float32 N×3×H×W image input and output")
            name = value[0].name if value else "none"
            raise UserError(f"{Path(path).name} has a {dtype} image {kind} ({name!r}); filters take and return float32 images: {fix}")


def inspect_filter(path: Path) -> tuple[FilterContract, bool]:
    """(contract, stored): the contract realtime will run the model in ``path`` with, after the
    checks realtime makes when it loads it (one image input, float32 image in and out, a graph it
    can add frame I/O to); ``stored`` is False when the file has no ``filter.*`` metadata and the
    contract was inferred from the input shape, as realtime does."""
    from realtime.engine import image_input, model_contract
    from realtime.frame_graph import with_frame_io

    path = Path(path)
    proto = load_model_proto(path)
    input_name, _ = image_input(proto, path)
    check_float_io(proto, input_name, path)
    out = proto.graph.output[0].type.tensor_type
    if out.HasField("shape") and len(out.shape.dim) != 4:
        raise UserError(f"{path.name} is not an image filter: its output has {len(out.shape.dim)} dimensions, not N×3×H×W")
    channels = out.shape.dim[1] if out.HasField("shape") else None
    if channels is not None and channels.HasField("dim_value") and channels.dim_value != 3:
        raise UserError(f"{path.name} is not an image filter: it returns {channels.dim_value} channels, a filter returns 3 (RGB)")
    contract = model_contract(proto, path)
    try:
        with_frame_io(proto, input_name, contract.scale)
    except ValueError as exc:
        raise UserError(f"{path.name} is not an image filter realtime can run: {exc}") from None
    return contract, has_contract({p.key: p.value for p in proto.metadata_props})


def write_contract(proto: onnx.ModelProto, contract: FilterContract) -> None:
    """Replace the ``filter.*`` metadata of ``proto`` with ``contract`` (other keys kept)."""
    keep = [(p.key, p.value) for p in proto.metadata_props if not p.key.startswith("filter.")]
    del proto.metadata_props[:]
    for key, value in keep + list(contract.to_props().items()):
        proto.metadata_props.add(key=key, value=value)
