"""Bring other people's weights into the contract: pytorch/examples .pth, FilterClone .plist,
and foreign ONNX files.

Weights are read, never fetched: the user downloads them; we convert what they give us.
"""
from __future__ import annotations

import logging
import plistlib
import re
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import torch
from torch import nn

from realtime.errors import UserError
from realtime.errors import first_line
from realtime.filters.onnx_format import require_file
from models.networks.checkpoint import FORMAT as CHECKPOINT_FORMAT
from models.networks.checkpoint import describe_mismatch, load_state_checked
from models.networks.transformer_net import TransformerNet, drop_legacy_keys, infer_config
from models.networks.unet import UNet, UNetConfig

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- pytorch/examples .pth
def load_pytorch_examples(path: Path) -> TransformerNet:
    """A fast_neural_style checkpoint (a bare state dict, legacy running stats allowed)."""
    path = require_file(path, "weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{path} is corrupt or not a PyTorch state dict ({first_line(exc)}): download it again") from None
    if isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT:
        raise UserError(f"{path} is a realtime checkpoint, not pytorch/examples weights: use `realtime-export onnx {path}`")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise UserError(f"{path} does not hold a state dict of named tensors: is it a fast_neural_style .pth file?")
    state = drop_legacy_keys(state)
    check_finite(state, path)
    config = infer_config(state)
    if not (1 <= config.width <= 4096 and 1 <= config.outer_kernel <= 31 and config.res_blocks <= MAX_RES_BLOCKS):
        raise UserError(f"{path} is not a TransformerNet we can build: width {config.width}, outer kernel "
                        f"{config.outer_kernel}, {config.res_blocks} residual blocks (pytorch/examples: 32, 9, 5)")
    return build_checked(lambda: TransformerNet(config), state, path)


Net = TypeVar("Net", bound=nn.Module)
MAX_RES_BLOCKS = 64  # pytorch/examples has 5; a key like res99999999 must not build a giant network


def build_checked(make: Callable[[], Net], state: dict[str, torch.Tensor], path: Path) -> Net:
    """``make()`` with ``state`` loaded. The shapes are compared on a skeleton on the meta device
    first, so weights that do not fit the network allocate nothing before the error."""
    try:
        with torch.device("meta"):
            skeleton = make()
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"{path}: the network its weights describe cannot be built ({first_line(exc)})") from None
    problem = describe_mismatch(skeleton, state)
    if problem:
        raise UserError(f"{path} does not match {type(skeleton).__name__}: {problem}")
    model = make()
    load_state_checked(model, state, str(path))
    return model.eval()


def check_finite(state: dict[str, torch.Tensor], source: Path | str) -> None:
    """Weights with NaN or infinity would only show up as a failed parity check after the export."""
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise UserError(f"{source}: tensor {key} holds NaN or infinite values; the weights are damaged, get them again")


# ---------------------------------------------------------------- FilterClone .plist
def _snake(name: str) -> str:
    name = name.lstrip("_")
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/lists → {'a.0.b': leaf}; a leaf is bytes or a {data, shape} dict."""
    if isinstance(tree, dict) and not ({"data"} <= set(tree) and isinstance(tree.get("data"), bytes)):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{_snake(str(k))}."))
        return out
    if isinstance(tree, list) and tree and not isinstance(tree[0], (int, float)):
        out = {}
        for i, v in enumerate(tree):
            out.update(_flatten(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: tree}


def _tensor(leaf: Any, shape: tuple[int, ...], key: str) -> torch.Tensor:
    """One float32 tensor of ``shape`` from a plist leaf (raw bytes, or a {data, shape} dict)."""
    data, shape_given = (leaf.get("data"), leaf.get("shape", list(shape))) if isinstance(leaf, dict) else (leaf, list(shape))
    if not isinstance(data, bytes):
        raise UserError(f"plist entry {key} is {type(data).__name__}, not float32 tensor data (bytes)")
    if not isinstance(shape_given, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape_given):
        raise UserError(f"plist entry {key} has shape {shape_given!r}; a shape is a list of whole numbers, e.g. {list(shape)}")
    if tuple(shape_given) != shape:
        raise UserError(f"plist tensor {key} has shape {tuple(shape_given)}, expected {shape} for this config")
    if len(data) != 4 * int(np.prod(shape)):
        raise UserError(f"plist tensor {key} has {len(data)} bytes, expected {4 * int(np.prod(shape))} "
                        f"(float32 × shape {shape}); the file is damaged or from another network")
    arr = np.frombuffer(data, dtype="<f4")
    if not np.isfinite(arr).all():
        raise UserError(f"plist tensor {key} holds NaN or infinite values; the weights are damaged, get them again")
    return torch.from_numpy(arr.copy()).reshape(shape)


CONFIG_EXAMPLE = "e.g. {channels = [32, 64, 64, 128], blocksPerLevel = 2}"


def _config_int(cfg: dict[str, Any] | list[Any], key: str | int, default: int, low: int, high: int) -> int:
    """A whole number from the plist config (``cfg[key]``, a channel list by index), within [low, high]."""
    value = cfg[key] if isinstance(cfg, list) else cfg.get(key, default)  # type: ignore[index]
    name = f"channels[{key}]" if isinstance(cfg, list) else key
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UserError(f"plist config {name} must be a whole number from {low} to {high}, got {value!r} ({CONFIG_EXAMPLE})")
    return value


def _unet_config(config: Any, flat: dict[str, Any]) -> UNetConfig:
    if isinstance(config, list):
        config = {"channels": config}
    if not isinstance(config, dict) or "channels" not in {_snake(str(k)) for k in config}:
        raise UserError(f"plist 'config' must hold the channel list ({CONFIG_EXAMPLE})")
    cfg = {_snake(str(k)): v for k, v in config.items()}
    channels = cfg["channels"]
    if not isinstance(channels, list) or not 1 <= len(channels) <= 8:
        raise UserError(f"plist config channels must be a list of 1 to 8 channel counts, got {channels!r} ({CONFIG_EXAMPLE})")
    levels = tuple(_config_int(cfg["channels"], i, 0, 1, 4096) for i in range(len(channels)))
    code_dim = _config_int(cfg, "code_dim", 3, 1, 1024)
    codebook = next((v for k, v in flat.items() if k.endswith("codebook")), None)
    data = codebook.get("data") if isinstance(codebook, dict) else codebook
    codes = len(data) // 4 // code_dim if isinstance(data, bytes) else 0
    blocks_key = "blocks_per_level" if "blocks_per_level" in cfg else "num_res_blocks"
    try:
        return UNetConfig(
            channels=levels,
            blocks_per_level=_config_int(cfg, blocks_key, 2, 0, 64),
            num_downsamples=_config_int(cfg, "num_downsamples", min(2, len(levels) - 1), 0, len(levels) - 1),
            latent_codes=_config_int(cfg, "latent_codes", codes, 0, 65536),
            code_dim=code_dim,
        )
    except ValueError as exc:
        raise UserError(f"plist config {config} is not a valid UNet config: {exc}") from None


def load_filterclone_plist(path: Path) -> UNet:
    """FilterClone weights: binary plist with ``config`` and a nested ``model`` tree.

    Keys are matched to our UNet's parameter names after dropping leading underscores and
    turning camelCase into snake_case; GroupNorm scales stored as (scale − 1) under ``gian``
    become ``weight`` + 1.
    """
    path = require_file(path, "weights file")
    try:
        with path.open("rb") as fh:
            root = plistlib.load(fh)
    except Exception as exc:  # plistlib raises many types for a damaged file
        raise UserError(f"{path} is corrupt or not a property list ({type(exc).__name__}): "
                        "pass the FilterClone weights .plist, or get it again") from None
    if not isinstance(root, dict):
        raise UserError(f"{path}: expected a dictionary with 'config' and 'model' at the top of the plist, "
                        f"found a {type(root).__name__}")
    root = {str(k).lstrip("_"): v for k, v in root.items()}
    if "model" not in root or "config" not in root:
        raise UserError(f"{path}: a FilterClone plist needs 'config' and 'model' entries; found {sorted(root)}")
    if not isinstance(root["model"], dict):
        raise UserError(f"{path}: plist 'model' must be a dictionary of named tensors, found a {type(root['model']).__name__}")
    flat = _flatten(root["model"])
    config = _unet_config(root["config"], flat)
    with torch.device("meta"):  # shapes only: a config that does not fit the file allocates nothing
        expected = UNet(config).state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, leaf in flat.items():
        target = re.sub(r"\.gian$", ".weight", key)
        if target not in expected:
            state[target] = torch.empty(0)  # reported as unexpected below
            continue
        tensor = _tensor(leaf, tuple(expected[target].shape), key)
        state[target] = tensor + 1.0 if key.endswith(".gian") else tensor
    return build_checked(lambda: UNet(config), state, path)


def write_filterclone_plist(model: UNet, path: Path) -> None:
    """Write ``model`` in FilterClone's plist layout (used by the tests and for round trips)."""
    tree: dict[str, Any] = {}
    norms = {n for n, m in model.named_modules() if isinstance(m, torch.nn.GroupNorm)}
    for name, tensor in model.state_dict().items():
        parts = name.split(".")
        owner, leaf = ".".join(parts[:-1]), parts[-1]
        value = tensor.detach().float().numpy()
        if owner in norms and leaf == "weight":
            leaf, value = "gian", value - 1.0
        node = tree
        for part in parts[:-1]:
            node = node.setdefault("_" + part, {})
        node["_" + leaf] = {"data": value.astype("<f4").tobytes(), "shape": list(value.shape)}
    cfg = model.config
    with Path(path).open("wb") as fh:
        plistlib.dump({"config": {"channels": list(cfg.channels), "blocksPerLevel": cfg.blocks_per_level},
                       "model": tree}, fh, fmt=plistlib.FMT_BINARY)


# ---------------------------------------------------------------- foreign ONNX
def import_foreign_onnx(src: Path, dst: Path, name: str, overrides: dict[str, Any]) -> Path:
    """The same graph with our contract added; the contract is inferred from the input shape
    (a fixed 1×3×224×224 input means fixed_size 224x224) and ``overrides`` win."""
    import onnx

    from realtime.filters.onnx_format import FilterContract
    from realtime.filters.onnx_format import check_float_io, load_model_proto, make_parent, save_atomic, write_contract

    src, dst = Path(src), Path(dst)
    proto = load_model_proto(src, weights=True)
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise UserError(f"{src} is corrupt or not a valid ONNX file ({type(exc).__name__}: {first_line(exc)})") from None
    inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if len(inputs) != 1:
        raise UserError(f"{src} has {len(inputs)} inputs; a filter takes exactly one image input")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] not in (0, 3)):
        raise UserError(f"{src} input {inputs[0].name} has shape {shape}; a filter takes N×3×H×W")
    check_float_io(proto, inputs[0].name, src)
    contract = FilterContract.infer(name, shape, **overrides)
    model_hw = tuple(shape[2:])
    if contract.fixed_size and all(isinstance(d, int) and d > 0 for d in model_hw) and contract.fixed_size != model_hw:
        raise UserError(f"{src} takes {model_hw[1]}x{model_hw[0]} images only; drop --fixed-size or pass "
                        f"--fixed-size {model_hw[1]}x{model_hw[0]}")
    write_contract(proto, contract)
    make_parent(dst)
    tmp = dst.with_name(dst.name + ".check.onnx")
    save_atomic(proto, tmp)
    try:
        _check_runs(tmp, src, inputs[0].name, contract)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("imported %s as %s: %s", src, dst, contract)
    return dst


def _check_runs(path: Path, src: Path, input_name: str, contract: Any) -> None:
    """Prove the imported model runs: one image at the size the contract says, an image back."""
    import onnxruntime as ort

    from export.parity import random_images

    h, w = contract.fixed_size or (contract.work_size, contract.work_size)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own types for unsupported graphs
        raise UserError(f"ONNX Runtime cannot load {src} ({first_line(exc)}); it cannot run as a filter") from None
    try:
        out = session.run(None, {input_name: random_images(1, h, w) * contract.scale})[0]
    except Exception as exc:
        raise UserError(f"{src} failed on a {h}x{w} image ({first_line(exc)}); if it needs one size, "
                        "pass --fixed-size WxH (or a --work-size it accepts)") from None
    if out.ndim != 4 or out.shape[1] != 3:
        raise UserError(f"{src} returns shape {list(out.shape)}, not an N×3×H×W image; it is not an image filter")
