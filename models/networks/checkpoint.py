"""One checkpoint format for every network: weights + architecture config + metadata.

A checkpoint is a ``torch.save`` of a plain dict (loadable with ``weights_only=True``)::

    {"format": "realtime-filter/1", "arch": "unet" | "transformer_net",
     "config": {...dataclass fields...}, "state_dict": {...},
     "meta": {"name": ..., "steps": ..., "val_l1": ..., ...},
     "train_state": {...optimizer, step, rng...}   # only while training; stripped for release}
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from realtime.errors import UserError
from models.networks.registry import arch_name, build_model

FORMAT = "realtime-filter/1"
def describe_mismatch(model: nn.Module, state_dict: dict[str, torch.Tensor], limit: int = 3) -> str | None:
    """None when ``state_dict`` fits ``model`` exactly, else a line naming the first mismatches."""
    expected = model.state_dict()
    problems = []
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k} is {tuple(state_dict[k].shape)}, expected {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:limit])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:limit])})")
    if shapes:
        problems.append(f"{len(shapes)} wrong shapes ({'; '.join(shapes[:limit])})")
    return "; ".join(problems) or None


def load_state_checked(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> nn.Module:
    problem = describe_mismatch(model, state_dict)
    if problem:
        raise UserError(f"{source} does not match {type(model).__name__}: {problem}")
    model.load_state_dict(state_dict)
    return model


def save_checkpoint(
    path: Path, model: nn.Module, meta: dict[str, Any], train_state: dict[str, Any] | None = None
) -> None:
    """Write atomically (temp file + rename) so an interrupted save never loses the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "arch": arch_name(model),
        "config": dataclasses.asdict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta,
    }
    if train_state is not None:
        payload["train_state"] = train_state
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load the raw checkpoint dict, turning every failure into one clear UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"checkpoint {path} is corrupt or not a PyTorch file ({first[:160]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(
            f"{path} is not a {FORMAT} checkpoint; for pytorch/examples .pth files use "
            "`realtime-export import-pytorch-examples`"
        )
    return payload


def load_checkpoint(path: Path) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """Return (model in eval mode, meta, raw payload) for a checkpoint file."""
    payload = read_checkpoint(path)
    model = build_model(payload.get("arch", "?"), payload.get("config", {}))
    load_state_checked(model, payload.get("state_dict", {}), str(path))
    return model.eval(), payload.get("meta", {}), payload


def steps_trained(meta: dict[str, Any]) -> int:
    """Training steps behind a checkpoint: of every leg where it counts them (a student that went
    on from another keeps ``total_steps``), else of its own run."""
    return int(meta.get("total_steps", meta.get("steps", 0)))
