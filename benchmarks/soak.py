"""Soak: the live loop for an hour, watched minute by minute for leaks and slow-downs.

    python -m benchmarks.soak [--minutes 60] [--filter aged+cartoon] [--background blur]
        [--source VIDEO|synthetic] [--size WxH] [--fps 30] [--threads 1] [--out benchmarks/results/soak-cpu]

Runs :func:`realtime.run` (the real session: source, analysis, chain, background, stabiliser,
paced output) on a looped video from the shared media (``models.data.media.data_root()``/videos)
with a chain that needs every per-frame analyser (faces for ``aged``, the person mask for
``--background blur``). A sampler thread closes a window every ``--window-s`` seconds (60 by
default; a tenth of the run when it is shorter than 10 minutes) and records the process's
resident memory (VmRSS, not the peak), the latency p50/p95 of the results output in that window
(output time − capture time, the user's view) and the output frame rate.

The run's length is counted in output frames (minutes × 60 × fps, ``--frames`` of the run): the
paced output sends each new result and re-sends the newest one when inference is behind, at a
little off ``--fps`` (31.4 of 30 in the 60-minute run on one core), so the wall time differs
from ``--minutes`` by as much (that run: 57.3 minutes); the report gives both.

Pass criteria, after a warm-up (``--warmup-minutes``, 5, or a quarter of a shorter run):
RSS growth from the end of the warm-up to the end of the run < 5 %, and p95 drift (median p95 of
the last 5 windows over that of the first 5 after the warm-up, minus 1) < 10 %.
Writes report.json, report.md and plot.png under ``--out``.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import UserError, below_minimum, run_cli
from realtime.live.stats import RunStats, percentiles
from realtime.host import machine

log = logging.getLogger("benchmarks.soak")
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_VIDEO = "face_recognition__short_hamilton_clip.mp4"
RSS_LIMIT_PCT, P95_LIMIT_PCT = 5.0, 10.0


def rss_mb() -> float:
    """The process's resident memory now (VmRSS), in MB; the peak where /proc is not there."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    from realtime.live.stats import peak_rss_mb

    return peak_rss_mb() or 0.0


@dataclass
class SoakStats(RunStats):
    """RunStats that also keeps the latencies and output count of the current window."""

    window_latency_ms: list[float] = field(default_factory=list)
    window_outputs: int = 0

    def output(self, now: float, captured: float, repeated: bool) -> None:
        super().output(now, captured, repeated)
        with self.lock:
            self.window_outputs += 1
            if not repeated:
                self.window_latency_ms.append((now - captured) * 1000)

    def take_window(self) -> tuple[list[float], int]:
        with self.lock:
            taken = self.window_latency_ms, self.window_outputs
            self.window_latency_ms, self.window_outputs = [], 0
        return taken


class Sampler(threading.Thread):
    """Closes a window every ``window_s`` seconds from the first output on."""

    def __init__(self, stats: SoakStats, window_s: float) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.stats, self.window_s = stats, window_s
        self.windows: list[dict[str, Any]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while self.stats.first_output is None and not self.done.wait(0.05):
            pass
        self.stats.take_window()  # start-up's outputs (none, or the first one) belong to no window
        start = last = time.perf_counter()
        while not self.done.wait(max(last + self.window_s - time.perf_counter(), 0.0)):
            self._close(start, last)
            last = time.perf_counter()

    def _close(self, start: float, last: float) -> None:
        now = time.perf_counter()
        latency, outputs = self.stats.take_window()
        p = percentiles(latency, (50, 95))
        self.windows.append({"index": len(self.windows), "end_s": round(now - start, 2),
                             "fps": round(outputs / (now - last), 2) if now > last else 0.0,
                             "latency_p50_ms": p["p50"], "latency_p95_ms": p["p95"], "new_results": len(latency),
                             "rss_mb": rss_mb()})
        w = self.windows[-1]
        log.info("window %d (%.0f s): %.1f fps, latency p50 %.0f / p95 %.0f ms, RSS %.1f MB", w["index"], w["end_s"],
                 w["fps"], w["latency_p50_ms"], w["latency_p95_ms"], w["rss_mb"])

    def stop(self) -> None:
        self.done.set()
        self.join(5)


def drift(windows: list[dict[str, Any]], warmup_s: float, group: int = 5) -> dict[str, Any]:
    """RSS growth and p95 drift after the warm-up (see the module's docstring). ``group``
    windows on each side, fewer when the run has fewer than 4 × group windows after the warm-up."""
    after = [w for w in windows if w["end_s"] > warmup_s + 1e-6 and w["new_results"] > 0]
    if len(after) < 2:
        return {"windows_after_warmup": len(after), "rss_growth_pct": None, "p95_drift_pct": None, "passed": None}
    k = max(1, min(group, len(after) // 4))
    ref_rss, end_rss = after[0]["rss_mb"], after[-1]["rss_mb"]
    ref_p95 = float(np.median([w["latency_p95_ms"] for w in after[:k]]))
    end_p95 = float(np.median([w["latency_p95_ms"] for w in after[-k:]]))
    rss_growth = (end_rss / ref_rss - 1) * 100 if ref_rss > 0 else 0.0
    p95_drift = (end_p95 / ref_p95 - 1) * 100 if ref_p95 > 0 else 0.0
    return {"windows_after_warmup": len(after), "group": k, "rss_start_mb": ref_rss, "rss_end_mb": end_rss,
            "rss_max_mb": max(w["rss_mb"] for w in after), "rss_growth_pct": round(rss_growth, 2),
            "p95_start_ms": round(ref_p95, 2), "p95_end_ms": round(end_p95, 2), "p95_drift_pct": round(p95_drift, 2),
            "rss_ok": rss_growth < RSS_LIMIT_PCT, "p95_ok": p95_drift < P95_LIMIT_PCT,
            "passed": rss_growth < RSS_LIMIT_PCT and p95_drift < P95_LIMIT_PCT}


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 60.0
    filter: str = "aged+cartoon"
    background: str | None = "blur"
    source: str = ""  # empty: the default shared video
    size: tuple[int, int] | None = None
    fps: float = 30.0
    threads: int = 1
    window_s: float | None = None
    warmup_minutes: float = 5.0
    provider: str = "cpu"

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    def window(self) -> float:
        return self.window_s or (60.0 if self.minutes >= 10 else self.seconds / 10)

    def warmup_s(self) -> float:
        return min(self.warmup_minutes * 60, self.seconds / 4)


def default_source() -> str:
    from models.data.media import data_root

    video = data_root() / "videos" / DEFAULT_VIDEO
    if not video.is_file():
        raise UserError(f"the soak's video {video} is not there: give --source VIDEO or --source synthetic "
                        "(or set REALTIME_DATA to the shared data folder)")
    return str(video)


def soak(opts: SoakOptions) -> dict[str, Any]:
    from realtime import RunConfig, run

    source = opts.source or default_source()
    frames = max(1, round(opts.seconds * opts.fps))  # the paced output keeps --fps (re-sends when behind)
    config = RunConfig(filter=opts.filter, background=opts.background, source=source, size=opts.size, fps=opts.fps,
                       preview=False, loop=True, frames=frames, threads=opts.threads, provider=opts.provider)
    stats = SoakStats()
    sampler = Sampler(stats, opts.window())
    sampler.start()
    t0 = time.perf_counter()
    try:
        summary = run(config, stats=stats).summary()
    finally:
        sampler.stop()
    windows = sampler.windows
    return {"machine": machine(), "python": sys.version.split()[0],
            "options": {**opts.__dict__, "source": source, "window_s": opts.window(), "warmup_s": opts.warmup_s()},
            "wall_s": round(time.perf_counter() - t0, 1), "windows": windows, "result": drift(windows, opts.warmup_s()),
            "run": summary}


def markdown(report: dict[str, Any]) -> str:
    o, r, s = report["options"], report["result"], report["run"]

    def fmt(v: Any, unit: str = "") -> str:
        return "n/a" if v is None else f"{v}{unit}"

    verdict = {True: "PASS", False: "FAIL", None: "too short to judge"}[r.get("passed")]
    lines = [f"# Soak: {o['filter']} --background {o['background']}, {o['minutes']:g} min", "",
             f"Machine: {report['machine']} (ONNX Runtime threads {o['threads']}, provider {s['provider']}). "
             f"Source: `{Path(o['source']).name}` looped at {o['fps']:g} fps. Windows of {o['window_s']:g} s, "
             f"warm-up {o['warmup_s']:g} s. Wall time {report['wall_s']} s.", "",
             f"**{verdict}**: RSS growth after the warm-up {fmt(r.get('rss_growth_pct'), ' %')} (limit {RSS_LIMIT_PCT:g} %: "
             f"{fmt(r.get('rss_start_mb'))} -> {fmt(r.get('rss_end_mb'))} MB, max {fmt(r.get('rss_max_mb'))}); "
             f"p95 latency drift {fmt(r.get('p95_drift_pct'), ' %')} (limit {P95_LIMIT_PCT:g} %: "
             f"{fmt(r.get('p95_start_ms'))} -> {fmt(r.get('p95_end_ms'))} ms).", "",
             f"Whole run: {s['frames_output']} frames out at {s['fps_output']} fps, {s['frames_processed']} processed, "
             f"{s['frames_dropped']} dropped (newest frame wins), latency p50/p95/p99 {s['latency_ms']['p50']:.0f} / "
             f"{s['latency_ms']['p95']:.0f} / {s['latency_ms']['p99']:.0f} ms, peak RSS {s['peak_rss_mb']} MB.", "",
             "| window | end s | fps | latency p50 ms | latency p95 ms | new results | RSS MB |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {w['index']} | {w['end_s']} | {w['fps']} | {w['latency_p50_ms']} | {w['latency_p95_ms']} | "
              f"{w['new_results']} | {w['rss_mb']} |" for w in report["windows"]]
    lines += ["", "Reproduce: `taskset -c 1 .venv/bin/python -m benchmarks.soak --minutes "
              f"{o['minutes']:g} --out benchmarks/results/soak-cpu`", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    w = report["windows"]
    x = [v["end_s"] / 60 for v in w]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(x, [v["rss_mb"] for v in w], "o-", ms=3, color="#4c72b0")
    axes[0].set_ylabel("RSS MB")
    axes[1].plot(x, [v["latency_p50_ms"] for v in w], "o-", ms=3, label="p50", color="#55a868")
    axes[1].plot(x, [v["latency_p95_ms"] for v in w], "o-", ms=3, label="p95", color="#c44e52")
    axes[1].set_ylabel("latency ms")
    axes[1].legend(fontsize=8)
    axes[2].plot(x, [v["fps"] for v in w], "o-", ms=3, color="#dd8452")
    axes[2].set_ylabel("output fps")
    axes[2].set_xlabel("minutes")
    warm = report["options"]["warmup_s"] / 60
    for ax in axes:
        ax.axvline(warm, color="k", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    o = report["options"]
    fig.suptitle(f"soak: {o['filter']} --background {o['background']} ({report['machine']})", fontsize=10)
    save_figure(fig, path, dpi=110)


def parse(argv: list[str] | None) -> tuple[SoakOptions, Path]:
    from realtime.cli import _size

    p = command_line("benchmarks.soak", __doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0, help="how long the loop runs (fractions allowed; default 60)")
    p.add_argument("--filter", default="aged+cartoon", help="chain (default aged+cartoon: faces)")
    p.add_argument("--background", default="blur", help="background mode (default blur: the person mask); 'none' for none")
    p.add_argument("--source", default="", help=f"video, image or synthetic (default ../shared/data/videos/{DEFAULT_VIDEO})")
    p.add_argument("--size", type=_size, help="frame size WxH (default: the source's)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default 1: the run is pinned to a core)")
    p.add_argument("--window-s", type=float, help="seconds a window (default 60, a tenth of runs under 10 minutes)")
    p.add_argument("--warmup-minutes", type=float, default=5.0, help="not judged (default 5, at most a quarter of the run)")
    p.add_argument("--provider", default="cpu", choices=["auto", "tensorrt", "cuda", "cpu"])
    p.add_argument("--out", type=Path, default=RESULTS / "soak-cpu")
    a = p.parse_args(argv)
    problems = below_minimum(a, (("minutes", 0.01), ("fps", 1), ("threads", 0), ("warmup_minutes", 0), ("window_s", 0.1)))
    if problems:
        raise UserError("; ".join(problems))
    background = None if a.background in ("", "none") else a.background
    return SoakOptions(a.minutes, a.filter, background, a.source, a.size, a.fps, a.threads, a.window_s,
                       a.warmup_minutes, a.provider), a.out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    opts, out = parse(argv)
    report = soak(opts)
    save_report(out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
