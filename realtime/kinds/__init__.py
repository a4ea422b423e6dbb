"""Filter kinds: what a chain is made of, registered in one place.

A filter is anything with a ``name``, the analysis it ``needs`` (see :mod:`realtime.analysis`)
and ``apply(bgr, analysis, settings) -> Applied``; a model kind also says what size its
model sees (``input_hw``, for the warm-up before the first frame). Two registries make them:

- :data:`MODEL_KINDS`: an ONNX file's ``filter.kind`` (``frame``, ``face``) → the class that
  runs such a model (:mod:`realtime.kinds.frame_filter`, :mod:`realtime.kinds.face_filter`);
- :data:`EFFECTS`: a name usable in ``--filter a+b`` → a filter without a network (warps,
  stickers, background compositing), made from the chain's settings.

Adding a kind is one module that calls :func:`register_model_kind` or :func:`register_effect`
when imported (and one line importing it below). Per-frame values (strength, latent code)
come in as :class:`Settings` and results go back as :class:`Applied`: nothing about a call is
kept on the filter, so one chain can serve several threads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from realtime.errors import UserError

if TYPE_CHECKING:
    from realtime.analysis import FrameAnalysis
    from realtime.background import Backdrop
    from realtime.engine import FilterModel


REGIONS = ("all", "person", "background")


@dataclass(frozen=True)
class Settings:
    """Per-call settings of a chain (the live controls change them between frames)."""

    strength: float = 1.0  # 0 = input, 1 = full filter
    latent: int = 0  # latent code (variant) of filters that have them, taken modulo their count
    work_size: int | None = None  # short side frame filters run at (None: each model's own)
    background: "Backdrop | None" = None  # what replaces the background (realtime.background); None: kept
    region: str = "all"  # where whole-frame filters apply: all, person or background

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise UserError(f"region must be one of {', '.join(REGIONS)}, got {self.region!r}")

    @property
    def needs(self) -> frozenset[str]:
        """What these settings need analysed besides what the filters need."""
        from realtime.analysis import PERSON

        return frozenset({PERSON}) if self.background is not None or self.region != "all" else frozenset()


@dataclass(frozen=True)
class Applied:
    image: np.ndarray  # BGR uint8, the input's size
    infer_ms: float = 0.0  # time inside ONNX Runtime
    nonfinite: bool = False  # the model returned NaN/inf, so the input was passed through


class Filter(Protocol):
    name: str
    needs: frozenset[str]

    def apply(self, bgr: np.ndarray, analysis: "FrameAnalysis", settings: Settings) -> Applied: ...


MODEL_KINDS: dict[str, Callable[["FilterModel"], Filter]] = {}
EFFECTS: dict[str, Callable[[Settings], Filter]] = {}


def register_model_kind(kind: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        MODEL_KINDS[kind] = cls
        return cls
    return add


def register_effect(name: str, factory: Callable[[Settings], Filter]) -> None:
    EFFECTS[name] = factory


def filter_for(model: "FilterModel") -> Filter:
    """The filter that runs ``model``, by the kind in its contract."""
    return MODEL_KINDS[model.contract.kind](model)


from realtime.kinds import face_effects, face_filter, frame_filter  # noqa: E402,F401  (they register themselves)
