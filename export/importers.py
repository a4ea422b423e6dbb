"""Bring other people's weights into the contract: pytorch/examples .pth, FilterClone .plist,
and foreign ONNX files.

Weights are read, never fetched: the user downloads them; we convert what they give us.
"""
from __future__ import annotations

import logging
import plistlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.errors import UserError
from models.checkpoint import load_state_checked
from models.transformer_net import TransformerNet, drop_legacy_keys, infer_config
from models.unet import UNet, UNetConfig

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- pytorch/examples .pth
def load_pytorch_examples(path: Path) -> TransformerNet:
    """A fast_neural_style checkpoint (a bare state dict, legacy running stats allowed)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{path} is corrupt or not a PyTorch state dict ({str(exc).splitlines()[0][:120]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} does not hold a state dict of tensors")
    state = drop_legacy_keys(state)
    model = TransformerNet(infer_config(state))
    return load_state_checked(model, state, str(path)).eval()


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
    if isinstance(leaf, dict):
        data, shape_given = leaf.get("data"), tuple(leaf.get("shape", shape))
    else:
        data, shape_given = leaf, shape
    if not isinstance(data, bytes):
        raise UserError(f"plist entry {key} is not float32 tensor data")
    arr = np.frombuffer(data, dtype="<f4")
    if arr.size != int(np.prod(shape_given)) or int(np.prod(shape_given)) != int(np.prod(shape)):
        raise UserError(f"plist tensor {key} has {arr.size} values, expected shape {shape}")
    return torch.from_numpy(arr.copy()).reshape(shape)


def _unet_config(config: Any, flat: dict[str, Any]) -> UNetConfig:
    if isinstance(config, list):
        config = {"channels": config}
    if not isinstance(config, dict) or "channels" not in {_snake(k) for k in config}:
        raise UserError("plist 'config' must hold the channel list (e.g. [32, 64, 64, 128])")
    cfg = {_snake(k): v for k, v in config.items()}
    codebook = next((v for k, v in flat.items() if k.endswith("codebook")), None)
    code_dim = int(cfg.get("code_dim", 3))
    codes = 0
    if codebook is not None:
        data = codebook["data"] if isinstance(codebook, dict) else codebook
        codes = len(data) // 4 // code_dim
    return UNetConfig(
        channels=tuple(int(c) for c in cfg["channels"]),
        blocks_per_level=int(cfg.get("blocks_per_level", cfg.get("num_res_blocks", 2))),
        num_downsamples=int(cfg.get("num_downsamples", min(2, len(cfg["channels"]) - 1))),
        latent_codes=int(cfg.get("latent_codes", codes)),
        code_dim=code_dim,
    )


def load_filterclone_plist(path: Path) -> UNet:
    """FilterClone weights: binary plist with ``config`` and a nested ``model`` tree.

    Keys are matched to our UNet's parameter names after dropping leading underscores and
    turning camelCase into snake_case; GroupNorm scales stored as (scale − 1) under ``gian``
    become ``weight`` + 1.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file {path} does not exist")
    try:
        with path.open("rb") as fh:
            root = plistlib.load(fh)
    except Exception as exc:
        raise UserError(f"{path} is corrupt or not a property list ({type(exc).__name__})") from None
    if not isinstance(root, dict):
        raise UserError(f"{path}: expected a dictionary at the top of the plist")
    root = {k.lstrip("_"): v for k, v in root.items()}
    if "model" not in root or "config" not in root:
        raise UserError(f"{path}: a FilterClone plist needs 'config' and 'model' entries; found {sorted(root)}")
    flat = _flatten(root["model"])
    model = UNet(_unet_config(root["config"], flat))
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, leaf in flat.items():
        target = re.sub(r"\.gian$", ".weight", key)
        if target not in expected:
            state[target] = torch.empty(0)  # reported as unexpected below
            continue
        tensor = _tensor(leaf, tuple(expected[target].shape), key)
        state[target] = tensor + 1.0 if key.endswith(".gian") else tensor
    return load_state_checked(model, state, str(path)).eval()


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
    import onnxruntime as ort

    from export.contract import FilterContract
    from export.onnx_export import write_contract
    from export.parity import random_images

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise UserError(f"model file {src} does not exist")
    try:
        proto = onnx.load(str(src))
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise UserError(f"{src} is corrupt or not a valid ONNX file ({type(exc).__name__})") from None
    inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if len(inputs) != 1:
        raise UserError(f"{src} has {len(inputs)} inputs; a filter takes exactly one image input")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] not in (0, 3)):
        raise UserError(f"{src} input {inputs[0].name} has shape {shape}; a filter takes N×3×H×W")
    contract = FilterContract.infer(name, shape, **overrides)
    write_contract(proto, contract)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(dst))
    # prove the result runs: one image at the size the contract says
    h, w = contract.fixed_size or (contract.work_size, contract.work_size)
    session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    out = session.run(None, {inputs[0].name: random_images(1, h, w) * contract.scale})[0]
    if out.ndim != 4 or out.shape[1] != 3:
        dst.unlink()
        raise UserError(f"{src} returns shape {list(out.shape)}, not an N×3×H×W image; it is not an image filter")
    log.info("imported %s as %s: %s", src, dst, contract)
    return dst
