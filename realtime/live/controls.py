"""Live controls: what the hotkeys change, read by the processing thread as one snapshot per
frame, and the status line drawn on the preview."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

HOTKEYS = """hotkeys: n/p next/previous filter   +/- strength   l next latent code   b next background
         m mirror   f or space toggle filter   s show stats   h this help   q or Esc quit"""


@dataclass(frozen=True)
class ControlState:
    """One frame's view of the live settings."""

    option: int = 0  # which chain: 0 = the one asked for, then each other bundled filter
    strength: float = 1.0
    latent: int = 0
    mirror: bool = False
    enabled: bool = True
    show_stats: bool = False
    background: int = 0  # which background mode: 0 = the one asked for, then blur, remove, none


class Controls:
    """The live settings, changed by key presses on the output thread; :meth:`state` hands
    the processing thread an immutable snapshot."""

    def __init__(self, initial: ControlState, options: int, backgrounds: int = 1) -> None:
        self._state, self.options, self.backgrounds = initial, max(1, options), max(1, backgrounds)
        self._lock = threading.Lock()
        self.quit = False

    def state(self) -> ControlState:
        with self._lock:
            return self._state

    def handle(self, key: int) -> str | None:
        """Apply one key press (-1: none); return the key applied, or None."""
        if key < 0:
            return None
        k = chr(key & 0xFF).lower() if (key & 0xFF) < 128 else ""
        if key & 0xFF == 27 or k == "q":
            self.quit = True
            return "q"
        with self._lock:
            s = self._state
            changes = {
                "n": lambda: replace(s, option=(s.option + 1) % self.options),
                "p": lambda: replace(s, option=(s.option - 1) % self.options),
                "+": lambda: replace(s, strength=round(min(1.0, s.strength + 0.1), 2)),
                "=": lambda: replace(s, strength=round(min(1.0, s.strength + 0.1), 2)),
                "-": lambda: replace(s, strength=round(max(0.0, s.strength - 0.1), 2)),
                "_": lambda: replace(s, strength=round(max(0.0, s.strength - 0.1), 2)),
                "l": lambda: replace(s, latent=s.latent + 1),
                "m": lambda: replace(s, mirror=not s.mirror),
                "f": lambda: replace(s, enabled=not s.enabled),
                " ": lambda: replace(s, enabled=not s.enabled),
                "s": lambda: replace(s, show_stats=not s.show_stats),
                "b": lambda: replace(s, background=(s.background + 1) % self.backgrounds),
            }
            if k in changes:
                self._state = changes[k]()
                return k
        if k == "h":
            print(HOTKEYS, flush=True)
            return k
        return None


def status_line(fps: float, latency_ms: float, provider: str, chain: str, state: ControlState, counts: str = "", background: str = "") -> str:
    text = f"{fps:4.1f} fps  {latency_ms:4.0f} ms  {provider}  {chain}  strength {state.strength:.1f}"
    if background:
        text += f"  background {background}"
    if not state.enabled:
        text += "  [off]"
    if state.show_stats and counts:
        text += "  " + counts
    return text
