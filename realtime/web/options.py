"""What a client may ask for: the filters it can name, and its fields checked into
:class:`ApplyOptions`.

The command line takes any ONNX path and any background file; a web client must not make the
server open files, so here a filter is a bundled name, one of the user's installed filters
(by name), an effect (big_eyes, glasses, crown, ...) or ``none``, chained with ``+``; and a
background is ``none``, ``blur[:S]``, ``remove[:COLOUR]`` or a colour. Every problem with a
request's fields is reported at once, in one line.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

from realtime.compositing.background import BACKDROPS, Backdrop, parse_background, parse_colour
from realtime.filters.chain import NONE, split_spec
from realtime.errors import UserError
from realtime.filters.kinds.base import EFFECTS
from realtime.filters.onnx_format import read_contract
from realtime.filters.library import installed_filters
from realtime.filters.registry import bundled_filters
from realtime.web.errors import RequestError

T = TypeVar("T")
log = logging.getLogger(__name__)
MAX_PARTS = 4  # filters in one chain: more only multiplies the time
ALL = "all"  # latent=all: one tile per variant
WEB_BACKDROPS = ("blur", "remove")  # keywords a client may use (benchmarks register more)
PRESET_CHAINS = ("cartoon+big_eyes", "cartoon+glasses", "starry_night+crown")  # offered where their parts exist


@dataclass(frozen=True)
class FilterInfo:
    name: str
    kind: str  # frame | face (an ONNX filter's contract), effect (no network), none, chain
    latent_names: tuple[str, ...] = ()  # one per latent code; empty when it has none

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "latent_codes": len(self.latent_names),
                "latent_names": list(self.latent_names)}


@dataclass(frozen=True)
class ApplyOptions:
    spec: str  # a checked chain spec
    latent: int | None  # None: every variant (latent=all)
    strength: float
    background: str | None  # a checked keyword or colour; None: the background is kept
    variants: tuple[str, ...] = ()  # the chain's latent names (the grid's labels)

    def backdrop(self) -> Backdrop | None:
        """A fresh backdrop for one request (a colour backdrop keeps a plate of the frame's
        size, so sharing one per text would keep one per colour ever asked for)."""
        return parse_background(self.background)


class Catalogue:
    """The filters the server offers, their contracts read once at start."""

    def __init__(self, filters: Mapping[str, FilterInfo]) -> None:
        self.filters = dict(filters)
        self.chains = tuple(self.chain(spec) for spec in PRESET_CHAINS if all(p in self.filters for p in spec.split("+")))

    @classmethod
    def from_registry(cls) -> "Catalogue":
        filters = {NONE: FilterInfo(NONE, "none")}
        for name, path in bundled_filters().items():
            contract = read_contract(path)
            names = contract.latent_names or tuple(f"code {i}" for i in range(contract.latent_codes))
            filters[name] = FilterInfo(name, contract.kind, names)
        for name, path in installed_filters().items():  # the user's library (a bundled name or effect wins)
            if name in filters or name in EFFECTS:
                continue
            try:
                contract = read_contract(path)
            except UserError as exc:  # a damaged file in the library does not take the page down
                log.warning("your filter %s is left out: %s", name, exc)
                continue
            names = contract.latent_names or tuple(f"code {i}" for i in range(contract.latent_codes))
            filters[name] = FilterInfo(name, contract.kind, names)
        filters.update({name: FilterInfo(name, "effect") for name in EFFECTS})
        return cls(filters)

    def chain(self, spec: str) -> FilterInfo:
        """The chain ``spec`` names (a single filter is a chain of one); its latent codes are
        those of its first filter that has any. 400 for an unknown or unsafe name."""
        try:
            parts = split_spec(spec) or [NONE]
        except ValueError as e:
            raise RequestError(f"filter {spec[:60]!r}: {e}") from None
        unknown = [p for p in parts if p not in self.filters]
        if unknown:
            raise RequestError(f"unknown filter {unknown[0][:60]!r}; choose from {', '.join(self.filters)}, "
                               f"chained with + (e.g. cartoon+glasses)")
        if len(parts) > MAX_PARTS:
            raise RequestError(f"a chain takes at most {MAX_PARTS} filters, got {len(parts)}")
        if len(parts) == 1:
            return self.filters[parts[0]]
        names = next((self.filters[p].latent_names for p in parts if self.filters[p].latent_names), ())
        return FilterInfo("+".join(parts), "chain", names)

    def as_json(self) -> dict[str, Any]:
        return {"filters": [f.as_json() for f in self.filters.values()], "chains": [c.as_json() for c in self.chains]}


def parse_options(fields: Mapping[str, str], catalogue: Catalogue, allow_all: bool = True) -> ApplyOptions:
    """The request's ``filter``, ``latent``, ``strength`` and ``background``, checked; every
    problem in one :class:`RequestError` (400)."""
    problems: list[str] = []
    info = _collect(problems, lambda: catalogue.chain(fields.get("filter") or NONE))
    latent = _collect(problems, lambda: parse_latent(fields.get("latent", "0"), info, allow_all)) if info else 0
    strength = _collect(problems, lambda: parse_strength(fields.get("strength", "1")))
    background = _collect(problems, lambda: check_background(fields.get("background", "none")))
    if problems or info is None:
        raise RequestError("; ".join(problems))
    return ApplyOptions(info.name, latent, strength, background, info.latent_names)


def _collect(problems: list[str], check: Callable[[], T]) -> T | None:
    try:
        return check()
    except UserError as exc:
        problems.append(str(exc))
        return None


def parse_latent(text: str, info: FilterInfo, allow_all: bool) -> int | None:
    codes = len(info.latent_names)
    if text.strip().lower() == ALL:
        if not allow_all:
            raise RequestError("latent=all (a grid of every variant) is for still images only")
        if not codes:
            raise RequestError(f"latent=all: {info.name} has no latent codes (variants); pick a filter that has, e.g. cartoon")
        return None
    try:
        value = int(text)
    except ValueError:
        raise RequestError(f"latent must be a whole number or 'all', got {text[:40]!r}") from None
    top = max(codes, 1)
    if not 0 <= value < top:
        raise RequestError(f"latent {value} is out of range: {info.name} has "
                           f"{f'{codes} latent codes (0..{codes - 1})' if codes else 'no latent codes (use 0)'}")
    return value


def parse_strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise RequestError(f"strength must be a number from 0 to 1, got {text[:40]!r}")
    return value


def check_background(text: str) -> str | None:
    """``text`` when it is a background a client may ask for (parsed once here so that a bad
    argument, blur:7, fails now), None for none; never a file."""
    t = text.strip()
    keyword = t.lower().partition(":")[0]
    if t.lower() in ("", "none", "off"):
        return None
    if keyword in WEB_BACKDROPS and keyword in BACKDROPS or parse_colour(t) is not None:
        try:
            parse_background(t)
        except UserError as exc:  # its messages name the command-line option
            raise RequestError(str(exc).replace("--background ", "background ", 1)) from None
        return t
    raise RequestError(f"background must be none, blur[:0..1], remove[:COLOUR] or a colour (#RRGGBB or a name), "
                       f"got {t[:60]!r}; files are not accepted over the web")
