"""The filters a control client may name: ``none``, the bundled filters, your installed ones
(:mod:`realtime.filters.library`, where present) and the effects, with their latent names
read once from each file's contract.

A client of the control plane names filters, never files: a chain is checked here to hold
only known names (a path on the command line stays usable because the run already holds it;
see :meth:`realtime.control.target.LiveTarget.set_filter`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.errors import UserError
from realtime.filters.chain import NONE, split_spec
from realtime.filters.kinds.base import EFFECTS
from realtime.filters.onnx_format import read_contract
from realtime.filters.registry import bundled_filters, resolve_filter

MAX_PARTS = 4  # filters in one chain: more only multiplies the time


@dataclass(frozen=True)
class FilterInfo:
    name: str
    kind: str  # frame | face (an ONNX filter's contract), effect (no network), none
    latent_names: tuple[str, ...] = ()
    yours: bool = False  # installed by the user (realtime-export install / clone)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "latent_names": list(self.latent_names), "yours": self.yours}


def installed() -> dict[str, Path]:
    """Your installed filters, where this version has a library of them."""
    try:
        from realtime.filters.library import installed_filters
    except ImportError:
        return {}
    return installed_filters()


@functools.lru_cache(maxsize=256)
def _contract_names(path: Path) -> tuple[str, str, tuple[str, ...]]:
    c = read_contract(path)
    return c.kind, c.name, c.latent_names or tuple(f"code {i}" for i in range(c.latent_codes))


def filters() -> list[FilterInfo]:
    """Every filter a client may pick, in the gallery's order."""
    out = [FilterInfo(NONE, "none")]
    bundled = bundled_filters()
    for name, path in bundled.items():
        kind, _, names = _contract_names(path)
        out.append(FilterInfo(name, kind, names))
    for name, path in installed().items():
        if name in bundled or name in EFFECTS:
            continue
        try:
            kind, _, names = _contract_names(path)
        except UserError:
            continue  # unreadable: realtime --list-filters says why
        out.append(FilterInfo(name, kind, names, yours=True))
    out += [FilterInfo(name, "effect") for name in EFFECTS]
    return out


def known_names() -> set[str]:
    return {f.name for f in filters()}


def check_spec(spec: object, allowed: set[str] | None = None) -> str:
    """``spec`` normalised (``a+b``) when every name in it is a known filter (or the whole spec
    is in ``allowed``: the chains the run holds already); otherwise one line saying why."""
    if not isinstance(spec, str):
        raise UserError(f"filter must be text such as cartoon or cartoon+glasses, got {spec!r}")
    try:
        parts = split_spec(spec) or [NONE]
    except ValueError as exc:
        raise UserError(f"filter {spec[:60]!r}: {exc}") from None
    normal = "+".join(parts)
    if allowed is not None and normal in allowed:
        return normal
    names = known_names()
    unknown = [p for p in parts if p not in names]
    if unknown:
        raise UserError(f"unknown filter {unknown[0][:60]!r}; choose from {', '.join(sorted(names))}, chained with + "
                        f"(e.g. cartoon+glasses)")
    if len(parts) > MAX_PARTS:
        raise UserError(f"a chain takes at most {MAX_PARTS} filters, got {len(parts)}")
    return normal


def latent_names(spec: str) -> tuple[str, ...]:
    """The latent variants of a chain: those of its first filter that has any."""
    for part in split_spec(spec):
        if part in EFFECTS:
            continue
        try:
            names = _contract_names(resolve_filter(part))[2]
        except UserError:
            continue
        if names:
            return names
    return ()
