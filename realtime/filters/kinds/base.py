"""The registries of filter kinds and the types every kind shares (why: :mod:`realtime.filters.kinds`)."""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from realtime.errors import UserError

if TYPE_CHECKING:
    from realtime.analysis.analysers import FrameAnalysis
    from realtime.compositing.background import Backdrop
    from realtime.compositing.temporal import TemporalMemory
    from realtime.filters.engine import FilterModel


REGIONS = ("all", "person", "background")
# the steps a filter times around its network (Applied.steps), each a stage of the live stats:
# resize (to the work size and back), planes (the frame to the graph's layout and back), crop (a
# face's aligned crop), creases (a face model's post step), paste (a face's change put back)
STEPS = ("resize", "planes", "crop", "creases", "paste")


@dataclass(frozen=True)
class Settings:
    """Per-call settings of a chain (the live controls change them between frames)."""

    strength: float = 1.0  # 0 = input, 1 = full filter
    latent: int = 0  # latent code (variant) of filters that have them, taken modulo their count
    work_size: int | None = None  # short side frame filters run at (None: each model's own)
    background: "Backdrop | None" = None  # what replaces the background (realtime.compositing.background); None: kept
    region: str = "all"  # where whole-frame filters apply: all, person or background
    temporal: "TemporalMemory | None" = None  # the stream's stabilisers (realtime.compositing.temporal); None: stills
    turn: "InFlight | None" = None  # the frame's place among the live loop's frames in flight; None: alone

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise UserError(f"region must be one of {', '.join(REGIONS)}, got {self.region!r}")

    @property
    def needs(self) -> frozenset[str]:
        """What these settings need analysed besides what the filters need."""
        from realtime.analysis.analysers import PERSON

        return frozenset({PERSON}) if self.background is not None or self.region != "all" else frozenset()


class InFlight(Protocol):
    """A frame's place among the frames in flight (:class:`realtime.live.turns.Turn`): its
    filters run one frame at a time, in frame order, except inside :meth:`aside`. State that a
    filter reads before its network and writes after it would be read before the frame ahead
    wrote it: read it after the network instead (the face filter's held change)."""

    def aside(self) -> AbstractContextManager[bool]:
        """Let the next frame go on while this block (a network) runs; gives whether another
        frame's network is running (then run this one on one thread: ``infer(crowded=…)``)."""
        ...


def aside(settings: Settings) -> AbstractContextManager[bool]:
    """What a filter runs its network in: ``with aside(settings) as crowded: model.infer(x,
    latent, crowded)``."""
    return settings.turn.aside() if settings.turn is not None else nullcontext(False)


@dataclass(frozen=True)
class Applied:
    image: np.ndarray  # BGR uint8, the input's size
    infer_ms: float = 0.0  # time inside ONNX Runtime
    nonfinite: bool = False  # the model returned NaN/inf, so the input was passed through
    # the frame's analysis in the returned image's coordinates, when the filter moved the picture
    # (auto_frame's crop): the filters after it and the background use it; None: unchanged
    analysis: "FrameAnalysis | None" = None
    # milliseconds of the filter's own steps around its network, by step (STEPS); the chain adds
    # them up over its filters and reports each as a stage of the frame
    steps: dict[str, float] = field(default_factory=dict)


class Filter(Protocol):
    """Optional attributes a chain reads: ``scale_free = True`` when the filter's output on a
    smaller copy of the frame (its analysis resized with it) is its output shrunk, to within
    a grey level, and it does not move the picture (a face network, the face effects);
    ``work_hw(hw, settings)`` when it shrinks the frame before its network (a frame filter).
    A chain whose scale-free filters come before such a filter runs them at that filter's size
    (:meth:`realtime.filters.chain.Chain.shrink_ahead`)."""

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

