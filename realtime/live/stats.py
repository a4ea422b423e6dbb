"""Counters, latency percentiles and per-stage timings for one run; written as JSON at exit."""
from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from array import array
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from realtime.errors import UserError


def percentiles(values: list[float] | deque[float], ps: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    if not values:
        return {f"p{p}": 0.0 for p in ps}
    arr = np.asarray(values, dtype=np.float64)
    return {f"p{p}": round(float(np.percentile(arr, p)), 3) for p in ps}


class StreamingPercentiles:
    """Percentiles of a stream of milliseconds in bounded memory.

    A list of every value costs 32 bytes a value (an 8-byte pointer and a 24-byte float): a run
    records ~11 values a frame (latency and ~10 stages), 1.2 M values and ~38 MB an hour at 30
    fps, without end. Here the first ``exact`` values (4 096: 2 minutes of one stage at 30 fps)
    are kept, so short runs report numpy's exact percentiles; every value also goes into a
    log-bucket histogram (DDSketch's: bucket i holds (γ^(i-1), γ^i] with γ = 1.01005, reported
    as 2γ^i/(γ+1)), whose order statistics are within ``REL_ERROR`` = 0.5 % of the true ones.
    1 µs to 10^7 ms (2.8 hours) is 2 303 buckets of 8 bytes: 18 KB however long the run, and
    ~1.5 µs a value. Values at or below 1 µs share the lowest bucket (the summary rounds to
    1 µs anyway); results are clamped to the exact minimum and maximum seen.
    """

    REL_ERROR = 0.005
    GAMMA = (1 + REL_ERROR) / (1 - REL_ERROR)
    LOWEST_MS, HIGHEST_MS = 1e-3, 1e7
    _LOG_GAMMA = math.log(GAMMA)
    _FIRST = math.ceil(math.log(LOWEST_MS) / _LOG_GAMMA)
    BUCKETS = math.ceil(math.log(HIGHEST_MS) / _LOG_GAMMA) - _FIRST + 1

    def __init__(self, exact: int = 4096) -> None:
        self.count = 0
        self.min, self.max = math.inf, -math.inf
        self.exact_limit = exact
        self.exact: array | None = array("d")  # dropped once it would exceed exact_limit
        self.counts = array("q", bytes(8 * self.BUCKETS))

    def add(self, ms: float) -> None:
        self.count += 1
        if ms < self.min:
            self.min = ms
        if ms > self.max:
            self.max = ms
        if self.exact is not None:
            if len(self.exact) < self.exact_limit:
                self.exact.append(ms)
            else:
                self.exact = None
        self.counts[self._bucket(ms)] += 1

    def _bucket(self, ms: float) -> int:
        if not ms > self.LOWEST_MS:  # also NaN and negative values
            return 0
        return min(math.ceil(math.log(ms) / self._LOG_GAMMA) - self._FIRST, self.BUCKETS - 1)

    def _value(self, bucket: int) -> float:
        return 2 * self.GAMMA ** (bucket + self._FIRST) / (self.GAMMA + 1)

    def __len__(self) -> int:
        return self.count

    def percentiles(self, ps: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
        """numpy's default (linear) percentiles: exact while all values are kept, else from
        the histogram's order statistics, interpolated the same way."""
        if self.count == 0:
            return {f"p{p}": 0.0 for p in ps}
        if self.exact is not None:
            return percentiles(self.exact, ps)
        cum = np.cumsum(np.frombuffer(self.counts, dtype=np.int64))
        out = {}
        for p in ps:
            rank = p / 100 * (self.count - 1)
            k = math.floor(rank)
            low = self._order_statistic(cum, k)
            high = self._order_statistic(cum, min(k + 1, self.count - 1))
            out[f"p{p}"] = round(low + (rank - k) * (high - low), 3)
        return out

    def _order_statistic(self, cum: np.ndarray, k: int) -> float:
        """The k-th smallest value (0-based), within REL_ERROR; the ends are exact."""
        if k == 0:
            return self.min
        if k == self.count - 1:
            return self.max
        bucket = int(np.searchsorted(cum, k, side="right"))
        value = min(self.min, self.LOWEST_MS) if bucket == 0 else self._value(bucket)  # 0: zeros and below 1 µs
        return min(max(value, self.min), self.max)

    def nbytes(self) -> int:
        """Bytes held for the values (the histogram and the exact values while kept)."""
        exact = self.exact.buffer_info()[1] * self.exact.itemsize if self.exact is not None else 0
        return self.counts.buffer_info()[1] * self.counts.itemsize + exact


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``runs`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def process_age_s() -> float | None:
    """Seconds since this process started (interpreter start-up and imports included); None off Linux."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = float(f.read().rsplit(")", 1)[1].split()[19])  # field 22: start time after boot
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return round(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, in MB (None where the OS does not say).

    On Linux this is VmHWM of /proc/self/status: ``ru_maxrss`` survives exec, so a process
    started by a big parent (a benchmark that holds PyTorch) would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux


@dataclass
class RunStats:
    frames_captured: int = 0
    frames_processed: int = 0
    frames_output: int = 0
    frames_dropped: int = 0  # captured frames replaced before processing (newest frame wins)
    frames_repeated: int = 0  # outputs that re-sent an older result because inference was behind
    face_frames: int = 0
    provider: str = "?"
    in_flight: int = 1  # frames processed at once (realtime.live.turns)
    filters: str = ""
    started: float = field(default_factory=time.perf_counter)
    first_output: float | None = None
    first_output_process_age: float | None = None  # seconds since the process started, at the first output
    latency_ms: StreamingPercentiles = field(default_factory=StreamingPercentiles)
    stages_ms: dict[str, StreamingPercentiles] = field(default_factory=lambda: defaultdict(StreamingPercentiles))
    recent_output: deque[float] = field(default_factory=lambda: deque(maxlen=60))
    recent_new: deque[bool] = field(default_factory=lambda: deque(maxlen=60))  # whether each of recent_output was new
    recent_latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=30))
    stopped_by: str | None = None  # the signal that ended the run (SIGINT, SIGTERM, SIGHUP)
    camera_lost_s: float = 0.0  # seconds a camera gave no frames (the output repeated the last one)
    reconnects: int = 0  # times a lost camera came back
    camera_released_s: float = 0.0  # seconds the camera was released because no app read the output (--ondemand)
    releases: int = 0  # times it was released
    frames_idle: int = 0  # idle pictures sent meanwhile (not counted in frames_output)
    camera: dict[str, Any] | None = None  # a camera's name, the format asked (size, fps, fourcc) and the one it gave
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stage(self, name: str, ms: float) -> None:
        with self.lock:
            self.stages_ms[name].add(ms)

    def output(self, now: float, captured: float, repeated: bool) -> None:
        with self.lock:
            self.frames_output += 1
            self.frames_repeated += int(repeated)
            if not repeated:  # latency of new results; a re-sent frame is old on purpose
                ms = (now - captured) * 1000
                self.latency_ms.add(ms)
                self.recent_latency_ms.append(ms)
            self.recent_output.append(now)
            self.recent_new.append(not repeated)
            if self.first_output is None:
                self.first_output = now
                self.first_output_process_age = process_age_s()

    def live_fps(self) -> float:
        """Frames sent a second lately, re-sends included (what keeps a call's rate)."""
        r = self.recent_output
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) > 1 and r[-1] > r[0] else 0.0

    def new_fps(self) -> float:
        """New results a second lately (what makes the picture move): the share of the recent
        frames sent that were new, times their rate, so it falls to 0 while only re-sends go out."""
        with self.lock:
            new = list(self.recent_new)
        return self.live_fps() * sum(new) / len(new) if new else 0.0

    def live_latency(self) -> float:
        with self.lock:
            recent = list(self.recent_latency_ms)
        return float(np.median(recent)) if recent else 0.0

    def summary(self, dropped: int | None = None) -> dict[str, Any]:
        """The run as JSON-ready numbers (``dropped``: camera frames the loop skipped so far;
        default: the count recorded when the run ended)."""
        dropped = self.frames_dropped if dropped is None else dropped
        with self.lock:
            end = time.perf_counter()
            span = (self.recent_output[-1] if self.recent_output else end) - (self.first_output or self.started)
            return {
                "frames_captured": self.frames_captured,
                "frames_processed": self.frames_processed,
                "frames_output": self.frames_output,
                "frames_dropped": dropped,
                "frames_repeated": self.frames_repeated,
                "fps_output": round((self.frames_output - 1) / span, 2) if span > 0 and self.frames_output > 1 else 0.0,
                "latency_ms": self.latency_ms.percentiles(),
                "stages_ms": {k: v.percentiles((50, 95)) for k, v in sorted(self.stages_ms.items())},
                "provider": self.provider,
                "in_flight": self.in_flight,
                "filters": self.filters,
                "face_frames": self.face_frames,
                "time_to_first_output_s": round((self.first_output or end) - self.started, 3),  # after loading
                "time_to_first_output_from_process_start_s": self.first_output_process_age,  # imports + loading included
                "peak_rss_mb": peak_rss_mb(),
                "duration_s": round(end - self.started, 3),
                "stopped_by": self.stopped_by,
                "camera_lost_s": self.camera_lost_s,
                "reconnects": self.reconnects,
                **({"camera_released_s": self.camera_released_s, "releases": self.releases, "frames_idle": self.frames_idle}
                   if self.releases else {}),
                **({"camera": self.camera} if self.camera else {}),
            }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write through a temporary file in the same folder, then rename: a full disk, a signal
    or a crash mid-write leaves the previous file whole (or none), never a truncated JSON.
    A failure is one :class:`UserError` line: a run that reports success must have its stats."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w") as f:
            f.write(json.dumps(data, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise UserError(f"cannot write the stats file {path}: {exc.strerror or exc}") from None
