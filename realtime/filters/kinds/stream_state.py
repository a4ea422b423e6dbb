"""What an effect keeps from one frame of a stream to the next (auto_frame's crop, low_light's
denoised frame), kept with the stream, never on the filter.

Filters are stateless: one chain can serve several streams and threads. A stream's memory is
the :class:`~realtime.compositing.temporal.TemporalMemory` its frame processor owns and hands
down with every frame's settings (``Settings.temporal``, as the networks' stabilisers use it);
an effect's state lives in that memory under the effect's key and goes with the stream. It
is None for still images (``Chain.apply``): there is no previous frame, and each effect
treats the frame as a still.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    from realtime.filters.kinds.base import Settings

T = TypeVar("T")
_SERIAL = itertools.count()


def effect_key(name: str) -> tuple[str, int]:
    """A key for one effect object's state: two ``low_light`` in one chain keep apart."""
    return name, next(_SERIAL)


def stream_state(settings: "Settings", key: object, factory: Callable[[], T]) -> T | None:
    """The state ``key`` keeps in the stream of ``settings`` (made by ``factory`` on the stream's
    first frame), or None for a still image (no stream memory)."""
    return settings.temporal.state(key, factory) if settings.temporal is not None else None
