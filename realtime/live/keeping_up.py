"""Whether the loop keeps up with its camera, and what to try when it does not.

A camera gives 30 frames a second whatever the filter costs; when a frame takes longer than
33 ms, the loop skips frames (newest frame wins) and the call sees a jerky picture. Nothing
says why: the preview's counter is easy to miss and a virtual camera has none. So the loop
watches its own frames: over each 10 s of one chain (after 3 s to settle once it is loaded),
the share of the camera's frames it processed; under 80 % (a 30 fps camera seen at 24 fps or
less), it says once, in one line, what the chain keeps and what would help on this machine (a
smaller camera mode sent at the call's size: `aged+cartoon` at 720p kept 57-60 % of the frames
on the 2-core machine on a busy day, 66-72 % at 640x360; docs/virtual-camera.md). The line
comes again only after the chain or the size changes.

The count comes from the frames' own numbers (ids given by the capture thread in order), so
skipped frames are counted without reading another thread's counters: a pure function of
the frames processed, which the tests drive with made-up times.
"""
from __future__ import annotations

from dataclasses import dataclass


def smaller_size(w: int, h: int) -> tuple[int, int] | None:
    """The camera mode to suggest for a ``w``×``h`` frame: 640×480 (every fast variant keeps up at it
    on 2 cores: the README's table), or 640×360 for a wide frame, so the call keeps its framing
    (a 4:3 picture scaled to cover 16:9 loses a quarter of its height); turned for a portrait
    frame. None when the frame is no larger."""
    sw, sh = (640, 360) if max(w, h) >= 1.6 * min(w, h) else (640, 480)
    if h > w:
        sw, sh = sh, sw
    return (sw, sh) if w * h > sw * sh else None


@dataclass(frozen=True)
class KeepUpConfig:
    window_s: float = 10.0  # how long the share is measured over
    settle_s: float = 3.0  # time after a chain (or size) change before measuring: its first frames load caches
    share: float = 0.8  # processed / captured below which it is said

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and self.settle_s >= 0 and 0 < self.share <= 1):
            raise ValueError(f"KeepUpConfig needs window_s > 0, settle_s >= 0 and 0 < share <= 1, got {self}")


def advice(chain: str, size: tuple[int, int], kept_fps: float, camera_fps: float, in_flight: int = 1,
           cores: int = 1) -> str:
    """The one line said when ``chain`` at ``size`` (w, h) keeps ``kept_fps`` of ``camera_fps``, in a
    run of ``in_flight`` frames at once (``--in-flight``; 2 is offered where it is 1) on ``cores``
    cores (it helps only with two or more)."""
    w, h = size
    tries = []
    small = smaller_size(w, h)
    if small is not None:
        sw, sh = small
        tries.append(f"--size {sw}x{sh} --output-size {w}x{h} (the filter at {sw}x{sh}, the call still at {w}x{h})")
    if in_flight == 1 and cores >= 2:
        tries.append("--in-flight 2 (more frames, more delay)")
    if "+" in chain:
        tries.append("a shorter chain")
    try_ = f"; try {' or '.join(tries)}" if tries else ""
    return (f"{chain} keeps {kept_fps:.0f} of the camera's {camera_fps:.0f} frames a second at {w}x{h} on this "
            f"machine (the rest are skipped){try_}")


class KeepUpWatch:
    """Fed every processed frame of a paced (live) run; returns the line to say, once."""

    def __init__(self, cfg: KeepUpConfig = KeepUpConfig(), in_flight: int = 1, cores: int = 1) -> None:
        """``in_flight`` and ``cores``: the run's, for :func:`advice`."""
        self.cfg, self.in_flight, self.cores = cfg, in_flight, cores
        self._key: tuple[str, tuple[int, int]] | None = None
        self._since = 0.0  # capture time the key took over
        self._start: tuple[float, int] | None = None  # (capture time, frame id) the window opened at
        self._count = 0  # frames processed in the window, the opening one included
        self._said: set[tuple[str, tuple[int, int]]] = set()
        self.behind = ""  # the last line said while it still holds (cleared when the chain keeps up again)

    def frame(self, chain: str, size: tuple[int, int], frame_id: int, captured: float) -> str | None:
        """One processed frame: its chain, its size (w, h), the capture thread's ``frame_id``
        and capture time (s). Returns the line the first time a window of this chain and size
        falls short, else None."""
        key = (chain, size)
        if key != self._key:
            self._key, self._since, self._start, self._count, self.behind = key, captured, None, 0, ""
            return None
        if captured - self._since < self.cfg.settle_s:
            return None
        if self._start is None:
            self._start, self._count = (captured, frame_id), 1
            return None
        self._count += 1
        t0, id0 = self._start
        span = captured - t0
        if span < self.cfg.window_s:
            return None
        kept, offered = self._count, frame_id - id0 + 1  # the window's ends both counted
        self._start, self._count = (captured, frame_id), 1  # the next window opens at this frame
        if kept >= self.cfg.share * offered:
            self.behind = ""
            return None
        self.behind = advice(chain, size, (kept - 1) / span, (offered - 1) / span, self.in_flight, self.cores)
        if key in self._said:
            return None
        self._said.add(key)
        return self.behind
