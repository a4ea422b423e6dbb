"""Live controls: what the hotkeys and the control plane change, read by the processing and
output threads as one immutable :class:`ControlState` snapshot per frame, and the status line
drawn on the preview.

Who changes what:

- :class:`Controls` holds the snapshot. Key presses (the output thread), the control plane
  (:mod:`realtime.control`, its own thread) and the chain loader replace it under a lock;
  the threads of the loop only read it, once per frame, so a change applies at the next frame.
- :class:`Choices` is what the indices in the snapshot mean: the chains (``option``,
  ``on_smile``) and backgrounds (``background``) of the run. A chain asked for that is not
  built yet is built on the chain loader's thread while the loop keeps running the current
  one; only then is its index posted to :class:`Controls`, so the processing thread never
  waits for a model to load.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from realtime.compositing.background import Backdrop, parse_background
from realtime.errors import UserError, first_line
from realtime.filters.chain import NONE, Chain, build_chain, chain_files, split_spec
from realtime.filters.kinds.base import REGIONS

log = logging.getLogger(__name__)

HOTKEYS = """hotkeys: n/p next/previous filter   1-9 favourites   +/- strength   l next latent code   b next background
         m mirror the preview   f or space toggle filter   s show stats   h this help   q or Esc quit"""
FILTER, ON_SMILE = "filter", "on_smile"  # what a chosen chain becomes: the filter, or the smile trigger's chain


@dataclass(frozen=True)
class ControlState:
    """One frame's view of the live settings."""

    option: int = 0  # which chain (an index of Choices): 0 = the one asked for, then each other bundled filter, then added ones
    strength: float = 1.0
    latent: int = 0
    mirror: bool = False  # the preview shows a mirror image; what the call sees is not flipped (mirror_output)
    enabled: bool = True
    show_stats: bool = False
    background: int = 0  # which background mode: 0 = the one asked for, then blur, remove, none, then added ones
    mirror_output: bool = False  # the virtual camera and the file are flipped too
    virtual_cam: bool = False  # the virtual camera is open (the output thread opens and closes it)
    on_smile: int = -1  # the chain (an index of Choices) that takes over while the person smiles; -1: none


class Controls:
    """The live settings: :meth:`state` hands the loop's threads an immutable snapshot;
    :meth:`handle` (key presses, output thread) and :meth:`update` (the control plane, the
    chain loader) replace it. ``version`` counts the changes (a watcher compares it)."""

    def __init__(self, initial: ControlState, options: int, backgrounds: int = 1) -> None:
        self._state, self.options, self.backgrounds = initial, max(1, options), max(1, backgrounds)
        self._lock = threading.Lock()
        self.quit = False
        self.version = 0
        self._favourites: tuple[str, ...] = ()
        self.choices: Choices | None = None  # set by the loop: n/p and 1-9 then load chains off the loop

    def state(self) -> ControlState:
        with self._lock:
            return self._state

    def update(self, **changes: Any) -> ControlState:
        """Replace some fields of the snapshot at once; the new snapshot is returned."""
        return self.change(lambda s: replace(s, **changes))

    def change(self, fn: Callable[[ControlState], ControlState]) -> ControlState:
        """Replace the snapshot with ``fn(snapshot)``, atomically (nothing else changes it between)."""
        with self._lock:
            new = fn(self._state)
            if new != self._state:
                self._state = new
                self.version += 1
            return self._state

    @property
    def favourites(self) -> tuple[str, ...]:
        """Chain specs for the keys 1-9 (and the control plane's ``Favourite`` request)."""
        with self._lock:
            return self._favourites

    @favourites.setter
    def favourites(self, specs: Sequence[str]) -> None:
        with self._lock:
            self._favourites = tuple(specs)
            self.version += 1

    def handle(self, key: int) -> str | None:
        """Apply one key press (-1: none); return the key applied, or None."""
        if key < 0:
            return None
        k = chr(key & 0xFF).lower() if (key & 0xFF) < 128 else ""
        if key & 0xFF == 27 or k == "q":
            self.quit = True
            return "q"
        if self.choices is not None and k in ("n", "p"):
            self._quietly(lambda: self.choices.step(1 if k == "n" else -1))  # type: ignore[union-attr]
            return k
        if k and k in "123456789":
            if self.choices is None or int(k) > len(self.favourites):
                return None
            self._quietly(lambda: self.choices.favourite(int(k)))  # type: ignore[union-attr]
            return k
        changes: dict[str, Callable[[ControlState], ControlState]] = {
            "n": lambda s: replace(s, option=(s.option + 1) % self.options),
            "p": lambda s: replace(s, option=(s.option - 1) % self.options),
            "+": lambda s: replace(s, strength=round(min(1.0, s.strength + 0.1), 2)),
            "=": lambda s: replace(s, strength=round(min(1.0, s.strength + 0.1), 2)),
            "-": lambda s: replace(s, strength=round(max(0.0, s.strength - 0.1), 2)),
            "_": lambda s: replace(s, strength=round(max(0.0, s.strength - 0.1), 2)),
            "l": lambda s: replace(s, latent=s.latent + 1),
            "m": lambda s: replace(s, mirror=not s.mirror),
            "f": lambda s: replace(s, enabled=not s.enabled),
            " ": lambda s: replace(s, enabled=not s.enabled),
            "s": lambda s: replace(s, show_stats=not s.show_stats),
            "b": lambda s: replace(s, background=(s.background + 1) % self._background_count()),
        }
        if k in changes:
            self.change(changes[k])
            return k
        if k == "h":
            print(HOTKEYS, flush=True)
            return k
        return None

    def _background_count(self) -> int:
        return len(self.choices.backgrounds) if self.choices is not None else self.backgrounds

    @staticmethod
    def _quietly(action: Callable[[], object]) -> None:
        """A key's action that may refuse (a favourite naming a filter that no longer exists):
        one log line, never an exception on the output thread."""
        try:
            action()
        except UserError as exc:
            log.warning("%s", exc)


@dataclass(frozen=True)
class Choice:
    """What one chain index means: the spec (names joined by ``+``) and the filter region."""

    spec: str
    region: str


def normal_spec(spec: str) -> str:
    """``' cartoon + glasses'`` → ``'cartoon+glasses'``; ValueError for an empty or bad spec."""
    return "+".join(split_spec(spec)) or NONE


class Choices:
    """The chains and backgrounds a :class:`ControlState` indexes, and the chain loader.

    ``chains`` is the processor's: :class:`~realtime.live.process.ChainOptions` (built on
    first use, new specs may be added) or a plain list of built chains (a fixed set).
    ``backgrounds`` is the processor's list of backdrops (new ones are appended: the
    processor reads ``backgrounds[index]`` each frame); ``background`` the text that asked
    for the first one. Indices only grow, and an index is posted only once its entry is
    complete, so the processing thread never sees a half-added chain.
    """

    def __init__(self, controls: Controls, chains: Sequence[Chain], backgrounds: list[Backdrop | None],
                 background: str | None = None) -> None:
        self.controls, self.chains, self.backgrounds = controls, chains, backgrounds
        self.region = str(getattr(getattr(chains, "settings", None), "region", "all"))
        specs = list(getattr(chains, "specs", None) or [c.name for c in chains])
        self._labels = [Choice(self._normal(s), self.region) for s in specs]
        self._background_labels = [_background_label(b, background if i == 0 else None) for i, b in enumerate(backgrounds)]
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._tickets = {FILTER: 0, ON_SMILE: 0}
        self.loading: str | None = None  # the spec being built, for the control plane's state
        self.failed: tuple[str, str] | None = None  # (spec, one line) of the last build that failed
        controls.choices = self

    @staticmethod
    def _normal(spec: str) -> str:
        try:
            return normal_spec(spec)
        except ValueError:
            return spec

    # ------------------------------------------------------------------ reading
    def label(self, index: int) -> Choice:
        with self._lock:
            return self._labels[index % len(self._labels)]

    def labels(self) -> list[Choice]:
        with self._lock:
            return list(self._labels)

    def background_label(self, index: int) -> str:
        with self._lock:
            return self._background_labels[index % len(self._background_labels)]

    def background_labels(self) -> list[str]:
        with self._lock:
            return list(self._background_labels)

    def chain(self, index: int) -> Chain:
        """The built chain at ``index`` (the processing thread's call, for the smile trigger)."""
        return self.chains[index]

    def find(self, spec: str, region: str) -> int | None:
        want = Choice(self._normal(spec), region)
        with self._lock:
            return next((i for i, c in enumerate(self._labels) if c == want), None)

    def _built(self, index: int) -> bool:
        built = getattr(self.chains, "chains", None)  # ChainOptions keeps what it built; a list is all built
        return built is None or index in built

    # ------------------------------------------------------------------ choosing
    def choose(self, spec: str, region: str | None = None, slot: str = FILTER) -> "Future[int]":
        """Make ``spec`` (in ``region``; default: the current filter's) the filter, or the
        smile trigger's chain (``slot`` on_smile). Unknown names and regions raise
        :class:`UserError` here; a chain not built yet is built on the loader thread and
        posted when ready (the loop keeps its current chain meanwhile). When several are
        asked for quickly, only the last one is posted. The future holds the index."""
        region = region or self.label(self.controls.state().option).region
        if region not in REGIONS:
            raise UserError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
        try:
            spec = normal_spec(spec)
        except ValueError as exc:
            raise UserError(f"filter {spec[:60]!r}: {exc}") from None
        index = self.find(spec, region)
        if index is None:
            chain_files(spec)  # unknown names fail here, in the caller's thread (and supersede nothing)
            if not hasattr(self.chains, "specs"):
                raise UserError(f"this run has a fixed set of chains; {spec} is not one of them")
        with self._lock:
            self._tickets[slot] += 1
            ticket = self._tickets[slot]
        if index is not None and self._built(index):
            return _done(self._post(slot, index, ticket))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="chain-loader")
        self.loading = spec
        return self._pool.submit(self._build, spec, region, index, slot, ticket)

    def _build(self, spec: str, region: str, index: int | None, slot: str, ticket: int) -> int:
        try:
            if index is not None:
                self.chains[index]  # ChainOptions builds it with the run's settings and keeps it
            else:
                chains: Any = self.chains
                settings = replace(chains.settings, region=region)
                chain = build_chain(spec, chains.loader, settings, chains.extra)
                with self._lock:  # the entry is whole before its index exists
                    index = len(self._labels)
                    chains.chains[index] = chain
                    chains.specs.append(spec)
                    self._labels.append(Choice(spec, region))
        except Exception as exc:
            self.failed = (spec, first_line(exc))
            log.warning("could not load %s: %s", spec, first_line(exc))
            raise
        finally:
            if self.loading == spec:
                self.loading = None
        return self._post(slot, index, ticket)

    def _post(self, slot: str, index: int, ticket: int) -> int:
        with self._lock:
            if ticket != self._tickets[slot]:
                return index  # a later request superseded this one
        if slot == FILTER:
            self.controls.update(option=index)
        else:
            self.controls.update(on_smile=index)
        return index

    def clear_on_smile(self) -> None:
        with self._lock:
            self._tickets[ON_SMILE] += 1
        self.controls.update(on_smile=-1)

    def add_chain(self, chain: Chain, region: str | None = None) -> int:
        """A chain built already (the smile trigger's at the start), as a new index."""
        chains: Any = self.chains
        with self._lock:
            index = len(self._labels)
            if hasattr(chains, "specs"):
                chains.chains[index] = chain
                chains.specs.append(chain.name)
            elif isinstance(chains, list):
                chains.append(chain)
            else:
                raise UserError("this run has a fixed set of chains")
            self._labels.append(Choice(self._normal(chain.name), region or self.region))
        return index

    def step(self, delta: int) -> "Future[int]":
        """The next (previous) chain, as the n (p) key does."""
        labels = self.labels()
        current = self.controls.state().option % len(labels)
        target = labels[(current + delta) % len(labels)]
        return self.choose(target.spec, target.region)

    def favourite(self, n: int) -> "Future[int]":
        """Favourite ``n`` (1-9), as the key ``n`` does."""
        favourites = self.controls.favourites
        if not 1 <= n <= len(favourites):
            raise UserError(f"favourite {n} is not set ({len(favourites)} favourites)")
        return self.choose(favourites[n - 1])

    def background_index(self, text: str | None) -> int:
        """The background index for ``text`` (a label already there, or a new backdrop
        parsed now: a bad one raises :class:`UserError`)."""
        label = _text_label(text)
        with self._lock:
            if label in self._background_labels:
                return self._background_labels.index(label)
        backdrop = parse_background(label)
        with self._lock:
            self.backgrounds.append(backdrop)
            self._background_labels.append(label)
            return len(self.backgrounds) - 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _text_label(text: str | None) -> str:
    t = "none" if text is None else str(text).strip()
    return "none" if t.lower() in ("", "none", "off", "keep") else t


def _background_label(backdrop: Backdrop | None, text: str | None) -> str:
    if text is not None:
        return _text_label(text)
    return "none" if backdrop is None else backdrop.name


def _done(value: int) -> "Future[int]":
    future: Future[int] = Future()
    future.set_result(value)
    return future


def fps_text(fps: float, new_fps: float | None = None) -> str:
    """'30.0 fps', or '15.2 fps (30 sent)' while re-sent frames fill the rate: the picture moves at
    the first number, the call gets the second (GetStats carries it as ``fps_text``: the studio page and
    ``realtime ctl status`` show it)."""
    if new_fps is not None and new_fps < fps - 1.0:
        return f"{new_fps:4.1f} fps ({fps:.0f} sent)"
    return f"{fps:4.1f} fps"


def status_line(fps: float, latency_ms: float, provider: str, chain: str, state: ControlState, counts: str = "",
                background: str = "", new_fps: float | None = None) -> str:
    text = f"{fps_text(fps, new_fps)}  {latency_ms:4.0f} ms  {provider}  {chain}  strength {state.strength:.1f}"
    if background:
        text += f"  background {background}"
    if not state.enabled:
        text += "  [off]"
    if state.show_stats and counts:
        text += "  " + counts
    return text
