"""Counters, latency percentiles and per-stage timings for one run; written as JSON at exit."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np


def percentiles(values: list[float] | deque[float], ps: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    if not values:
        return {f"p{p}": 0.0 for p in ps}
    arr = np.asarray(values, dtype=np.float64)
    return {f"p{p}": round(float(np.percentile(arr, p)), 3) for p in ps}


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
    frames_repeated: int = 0  # outputs that re-sent an older result because inference was behind
    face_frames: int = 0
    provider: str = "?"
    filters: str = ""
    started: float = field(default_factory=time.perf_counter)
    first_output: float | None = None
    first_output_process_age: float | None = None  # seconds since the process started, at the first output
    latency_ms: list[float] = field(default_factory=list)
    stages_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    recent_output: deque[float] = field(default_factory=lambda: deque(maxlen=60))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stage(self, name: str, ms: float) -> None:
        with self.lock:
            self.stages_ms[name].append(ms)

    def output(self, now: float, captured: float, repeated: bool) -> None:
        with self.lock:
            self.frames_output += 1
            self.frames_repeated += int(repeated)
            if not repeated:  # latency of new results; a re-sent frame is old on purpose
                self.latency_ms.append((now - captured) * 1000)
            self.recent_output.append(now)
            if self.first_output is None:
                self.first_output = now
                self.first_output_process_age = process_age_s()

    def live_fps(self) -> float:
        r = self.recent_output
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) > 1 and r[-1] > r[0] else 0.0

    def live_latency(self) -> float:
        return float(np.median(self.latency_ms[-30:])) if self.latency_ms else 0.0

    def summary(self, dropped: int) -> dict[str, Any]:
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
                "latency_ms": percentiles(self.latency_ms),
                "stages_ms": {k: percentiles(v, (50, 95)) for k, v in sorted(self.stages_ms.items())},
                "provider": self.provider,
                "filters": self.filters,
                "face_frames": self.face_frames,
                "time_to_first_output_s": round((self.first_output or end) - self.started, 3),  # after loading
                "time_to_first_output_from_process_start_s": self.first_output_process_age,  # imports + loading included
                "peak_rss_mb": peak_rss_mb(),
                "duration_s": round(end - self.started, 3),
            }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
