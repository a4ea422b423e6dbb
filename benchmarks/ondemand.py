"""What ``--ondemand`` costs and how fast it answers an app.

    python -m benchmarks.ondemand [--filter cartoon] [--video liveportrait__d18] [--seconds 5]
        [--trials 20] [--out benchmarks/results/ondemand-cpu]

**Count.** The reader count scans ``/proc/*/fd`` (:func:`realtime.sinks.readers.openers`):
its time on this machine, with the number of processes it looked at (p50/p95 of 50 scans).

**Wake.** ``--trials`` times, a child process opens a watched file (the stand-in for an app
opening /dev/videoN; inotify treats both alike) and notes ``time.monotonic()`` just before
its ``open()``; the watcher (:class:`~realtime.sinks.readers.DeviceReaders`) wakes and counts
again: the latency from the app's open to a count of one (ms).

**Live.** A whole run of ``--filter`` at 640x480 into a virtual camera (a registered
pyvirtualcam backend that notes the time of each frame), its "camera" a video file played at
30 fps through the camera seam (``realtime.capture.sources.VideoCapture``), the reader count
set by the benchmark: ``--seconds`` with an app reading, then none (the camera is released
after the 3 s grace), ``--seconds`` released, then an app again. Process CPU time per second
of wall time in each phase (100% = one core), and the time from the reader's arrival to the
first camera frame at the virtual camera. A real webcam adds its own start-up (~0.2-0.5 s for
USB cameras, not measurable here) to that last figure.

Writes report.json, report.md and plot.png into ``--out``.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from models.data.media import data_root
from realtime.errors import UserError, run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"
log = logging.getLogger("benchmarks.ondemand")


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def measure_scan(reps: int = 50) -> dict[str, Any]:
    from realtime.sinks.readers import openers

    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        openers("/dev/null-ondemand-benchmark")
        times.append((time.perf_counter() - t0) * 1000)
    processes = sum(1 for p in os.listdir("/proc") if p.isdigit())
    return {"processes": processes, "ms_p50": pct(times, 50), "ms_p95": pct(times, 95)}


def measure_wake(trials: int) -> dict[str, Any]:
    from realtime.sinks.readers import DeviceReaders

    latencies = []
    with tempfile.TemporaryDirectory() as tmp:
        device = Path(tmp) / "video99"
        device.write_bytes(b"")
        watch = DeviceReaders(str(device))
        try:
            for _ in range(trials):
                app = subprocess.Popen([sys.executable, "-c", "import time, sys\ntime.sleep(0.2)\nt = time.monotonic()\n"
                                        f"f = open({str(device)!r}, 'rb')\nprint(t, flush=True)\nsys.stdin.read()"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                while watch.count() == 0:
                    watch.wait(5.0)
                seen = time.monotonic()
                opened = float(app.stdout.readline())
                latencies.append((seen - opened) * 1000)
                app.communicate("", timeout=10)
                while watch.count() != 0:
                    watch.wait(5.0)
        finally:
            watch.close()
    return {"trials": trials, "ms_p50": pct(latencies, 50), "ms_p95": pct(latencies, 95), "ms_max": round(max(latencies), 2),
            "all_ms": [round(v, 2) for v in latencies]}


class FileCamera:
    """A video file played as a camera: paced to 30 fps, looping (cv2.VideoCapture's shape)."""
    path: Path
    opens = 0

    def __init__(self, index: int, backend: int = 0) -> None:
        self.cap = cv2.VideoCapture(str(self.path))
        self.next = time.perf_counter()
        FileCamera.opens += 1

    def isOpened(self) -> bool:
        return self.cap.isOpened()

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0, cv2.CAP_PROP_FPS: 30.0}.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.next += 1 / 30
        delay = self.next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            self.next = time.perf_counter()
        ok, frame = self.cap.read()
        if not ok:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return ok, cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA) if ok else None

    def release(self) -> None:
        self.cap.release()


class Readers:
    """The reader count the benchmark sets; a wait returns at a change."""

    def __init__(self) -> None:
        self.n = 1
        self.cond = threading.Condition()
        self.stopped = False

    def set(self, n: int) -> None:
        with self.cond:
            self.n = n
            self.cond.notify_all()

    def count(self) -> int:
        return self.n

    def wait(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait(timeout) and not self.stopped

    def interrupt(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def close(self) -> None:
        pass


class Backend:
    """A pyvirtualcam backend that notes when each frame came and whether it was the idle picture."""
    instance: "Backend | None" = None

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any) -> None:
        from realtime.sinks.notice import idle_card

        self.size, self.idle = (width, height), idle_card(width, height)
        self.frames: list[tuple[float, bool]] = []
        Backend.instance = self

    def send(self, frame: np.ndarray) -> None:
        w, h = self.size
        self.frames.append((time.perf_counter(), bool(np.array_equal(np.asarray(frame).reshape(h, w, 3), self.idle))))

    def device(self) -> str:
        return "/dev/video-benchmark"

    def native_fourcc(self) -> int | None:
        return None

    def close(self) -> None:
        pass


def measure_live(filter_spec: str, video: Path, seconds: float) -> dict[str, Any]:
    import pyvirtualcam

    import realtime.capture.sources as sources
    import realtime.sinks.readers as readers
    from realtime.config import RunConfig
    from realtime.live.session import run

    FileCamera.path, FileCamera.opens = video, 0
    sources.VideoCapture = FileCamera
    count = Readers()
    readers.OPEN = lambda device: count
    pyvirtualcam.register_backend("benchmark-ondemand", Backend)
    loops: list[Any] = []
    started = threading.Event()

    def attach(loop: Any) -> Any:
        loops.append(loop)
        started.set()
        return lambda: None

    config = RunConfig(filter=filter_spec, source="0", preview=False, virtual_cam=True,
                       virtual_cam_backend="benchmark-ondemand", ondemand=True)
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(stats=run(config, attach=attach)), daemon=True)
    runner.start()
    if not started.wait(120):
        raise UserError("the run did not start within 2 minutes")
    time.sleep(2.0)  # warm-up: the models' first frames

    def phase(name: str) -> dict[str, float]:
        cpu0, t0 = time.process_time(), time.perf_counter()
        n0 = len(Backend.instance.frames) if Backend.instance else 0
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        sent = (Backend.instance.frames if Backend.instance else [])[n0:]
        return {"cpu_percent": round(100 * cpu / wall, 1), "frames_per_s": round(len(sent) / wall, 2),
                "idle_share": round(sum(idle for _, idle in sent) / max(len(sent), 1), 3)}

    phases = {"app reading": phase("on")}
    count.set(0)
    released_at = time.perf_counter()
    while not loops[0].source.paused and time.perf_counter() - released_at < 30:
        time.sleep(0.05)
    release_s = time.perf_counter() - released_at
    time.sleep(1.5)  # the last result's re-sends end; the idle picture takes over
    phases["no app (released)"] = phase("released")
    n0 = len(Backend.instance.frames)
    back = time.perf_counter()
    count.set(1)
    first = None
    while first is None and time.perf_counter() - back < 30:
        time.sleep(0.005)
        first = next((t for t, idle in Backend.instance.frames[n0:] if not idle), None)
    loops[0].controls.quit = True
    runner.join(60)
    stats = result["stats"].summary() if "stats" in result else {}
    return {"filter": filter_spec, "video": video.name, "phases": phases, "release_after_s": round(release_s, 2),
            "app_to_first_camera_frame_ms": round((first - back) * 1000, 1) if first else None,
            "camera_opens": FileCamera.opens, "releases": stats.get("releases"), "frames_idle": stats.get("frames_idle")}


def render(report: dict[str, Any]) -> str:
    scan, wake, live = report["scan"], report["wake"], report["live"]
    lines = [f"# --ondemand: its cost and its answer to an app — {report['machine']}", "",
             f"{report['date']}. One process on the shared 2-core machine (other jobs ran beside it: upper bounds).", "",
             "| measure | value |", "|---|---|",
             f"| reader count: one scan of /proc ({scan['processes']} processes) | p50 {scan['ms_p50']} ms, p95 {scan['ms_p95']} ms |",
             f"| an app's open() → the watcher counts it ({wake['trials']} trials, inotify) | p50 {wake['ms_p50']} ms, "
             f"p95 {wake['ms_p95']} ms, max {wake['ms_max']} ms |",
             f"| the last app leaves → camera released | {live['release_after_s']} s (3 s after the last count that saw a "
             "reader; counts come at least once a second) |",
             f"| an app again → first camera frame at the virtual camera (a real webcam adds its start-up) | "
             f"{live['app_to_first_camera_frame_ms']} ms |", "",
             f"## The live run: `{live['filter']}` at 640x480, camera = {live['video']} at 30 fps", "",
             "| phase | process CPU (100% = one core) | frames/s to the virtual camera | idle pictures |", "|---|---|---|---|"]
    for name, p in live["phases"].items():
        lines.append(f"| {name} | {p['cpu_percent']}% | {p['frames_per_s']} | {p['idle_share']:.0%} |")
    lines += ["", f"Reproduce: `{report['command']}`", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    phases = report["live"]["phases"]
    a.bar(list(phases), [p["cpu_percent"] for p in phases.values()], color=["#c44", "#4a4"])
    a.set_ylabel("process CPU, % of one core")
    a.set_title(f"{report['live']['filter']} at 640x480: camera on vs released")
    b.hist(report["wake"]["all_ms"], bins=15, color="#48c")
    b.set_xlabel("app open() → counted, ms")
    b.set_title("inotify wake of the reader count")
    save_figure(fig, path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.ondemand", __doc__)
    p.add_argument("--filter", default="cartoon")
    p.add_argument("--video", default="liveportrait__d18")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--out", type=Path, default=RESULTS / "ondemand-cpu")
    args = p.parse_args(argv)
    if not sys.platform.startswith("linux"):
        raise UserError("this benchmark measures Linux's reader count (inotify, /proc); run it on Linux")
    if args.seconds <= 0 or args.trials < 1:
        raise UserError("--seconds must be above 0 and --trials at least 1")
    video = data_root() / "videos" / f"{args.video}.mp4"
    if not video.is_file():
        raise UserError(f"video {video} not found (set REALTIME_DATA to the shared data folder)")
    logging.basicConfig(level=logging.WARNING)
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
              "command": " ".join(["python -m benchmarks.ondemand", *(argv if argv is not None else sys.argv[1:])]),
              "scan": measure_scan(), "wake": measure_wake(args.trials), "live": measure_live(args.filter, video, args.seconds)}
    save_report(args.out, report, render(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
