"""What an effect keeps from one frame of a stream to the next (auto_frame's crop, low_light's
denoised frame), kept with the stream, never on the filter.

Filters are stateless: one chain can serve several streams and threads. A stream's memory is
the :class:`~realtime.compositing.temporal.TemporalMemory` its frame processor owns and hands
down with every frame's settings (``Settings.temporal``, the pattern the networks' temporal
stabilisers use); an effect's state is keyed by that memory and by the effect, and lives as
long as the memory does (a weak reference: a stream that ends takes its states with it).
``Settings.temporal`` is None for still images (``Chain.apply``), and with ``--no-temporal``:
there is then no previous frame, and each effect treats the frame as a still.
"""
from __future__ import annotations

import itertools
import threading
import weakref
from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    from realtime.filters.kinds.base import Settings

T = TypeVar("T")
_STATES: "weakref.WeakKeyDictionary[object, dict[object, object]]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_SERIAL = itertools.count()


def effect_key(name: str) -> tuple[str, int]:
    """A key for one effect object's state: two ``low_light`` in one chain keep apart."""
    return name, next(_SERIAL)


def stream_state(settings: "Settings", key: object, factory: Callable[[], T]) -> T | None:
    """The state ``key`` keeps in the stream of ``settings`` (made by ``factory`` on the stream's
    first frame), or None for a still image (no stream memory)."""
    memory = settings.temporal
    if memory is None:
        return None
    with _LOCK:
        states = _STATES.get(memory)
        if states is None:
            states = _STATES[memory] = {}
        state = states.get(key)
        if state is None:
            state = states[key] = factory()
    return state  # type: ignore[return-value]
