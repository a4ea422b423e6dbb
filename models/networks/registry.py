"""Network architectures by name, for the one checkpoint format: each network module registers
its class and config dataclass; a checkpoint names its architecture and holds the config."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

from torch import nn

from realtime.errors import UserError

ARCHS: dict[str, tuple[type[nn.Module], type]] = {}
M = TypeVar("M", bound=type)


def register(name: str, config: type) -> Callable[[M], M]:
    """Class decorator: ``@register("unet", UNetConfig)``."""
    def add(cls: M) -> M:
        ARCHS[name] = (cls, config)
        return cls
    return add


def arch_name(model: nn.Module) -> str:
    for name, (cls, _) in ARCHS.items():
        if type(model) is cls:
            return name
    raise TypeError(f"no checkpoint architecture registered for {type(model).__name__}")


def build_model(arch: str, config: dict[str, Any]) -> nn.Module:
    if arch not in ARCHS:
        raise UserError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    cls, cfg_cls = ARCHS[arch]
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise UserError(f"{arch} config has unknown fields {unknown}; expected some of {sorted(names)}")
    try:
        return cls(cfg_cls(**config))
    except (TypeError, ValueError) as exc:
        raise UserError(f"invalid {arch} config {config}: {exc}") from None
