"""What the control plane costs the live loop: the same run without it (``--no-control``), with
it and no page open, and with the studio page open.

    python -m benchmarks.control_cost [--source VIDEO] [--filter cartoon] [--frames 600]
        [--paced-seconds 20] [--repeats 2] [--browser] [--out benchmarks/results/control-cost-cpu]

Each run is the real command, ``realtime --source VIDEO --no-preview --filter F``, in its own
process with its own config folder, in two modes:

- ``--fast --frames N``: the loop as fast as it goes (no pacing, no drops): throughput (fps)
  is what the control plane's work takes away;
- ``--fps 30 --loop`` for ``--paced-seconds``: a call's rate; the fps must hold, and latency
  and dropped frames show whether the loop felt the page.

"studio open" is what the page keeps open while it shows: the MJPEG preview and the event
stream, read by a client in this process as soon as the run's instance file appears (with
``--browser``: the real page in headless Chromium, thumbnails of every filter included).

Whole-run fps and CPU time move a lot on a shared machine (and ONNX Runtime's threads spin
while they wait, so CPU time follows the load too). So the child also samples the CPU time of
each of its threads (``/proc/self/task``, Linux) and sums them by role: the control plane's
own threads (``control``, ``control-preview``, ``thumbnails``) and the thumbnails' own process
(its CPU time once it ended, with the run), the loop's (``process``,
``capture``, the main thread: output and start-up) and the rest (ONNX Runtime's and
MediaPipe's pools). The control plane's share of one core over the run is its cost, measured
directly. Cases run in turn (A B C A B C ...), and the medians are reported.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from models.data.media import data_root
from realtime.errors import UserError, run_cli
from realtime.host import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CASES = ("no control", "control, page closed", "studio open")


CONTROL_THREADS = ("control", "control-preview", "thumbnails")


def child(argv: list[str]) -> int:
    """One run of realtime in this process (``--child CPU.json REALTIME ARGS``), its threads'
    CPU time written by role."""
    import threading
    import time

    out = Path(argv[0])
    tick = os.sysconf("SC_CLK_TCK")
    seen: dict[int, tuple[str, float]] = {}
    stop = threading.Event()

    def cpu(tid: int) -> float | None:
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / tick

    def sample() -> None:
        names = {t.native_id: t.name for t in threading.enumerate()}
        for entry in os.listdir("/proc/self/task"):
            tid = int(entry)
            value = cpu(tid)
            if value is not None:
                name = names.get(tid) or seen.get(tid, ("other", 0.0))[0]
                seen[tid] = (name, value)

    def watch() -> None:
        while not stop.wait(0.05):
            sample()
    watcher = threading.Thread(target=watch, name="cpu-watch", daemon=True)
    watcher.start()
    from realtime.cli import main as realtime_main

    start = time.perf_counter()
    code = realtime_main(argv[1:])
    sample()
    stop.set()
    for thread in threading.enumerate():  # the thumbnails' thread reaps their process once closed
        if thread.name == "thumbnails":
            thread.join(30)
    drawn = resource.getrusage(resource.RUSAGE_CHILDREN)  # that process: the only child of a run
    roles: dict[str, float] = {"control plane": 0.0, "thumbnails": 0.0, "loop threads": 0.0, "main (output, start-up)": 0.0,
                               "other": 0.0}
    for name, value in seen.values():
        base = name.split("_")[0]
        role = ("thumbnails" if base == "thumbnails" else "control plane" if base in CONTROL_THREADS else "loop threads" if base in ("process", "capture", "chain-loader")
                else "main (output, start-up)" if base == "MainThread" else None if base == "cpu-watch" else "other")
        if role is not None:
            roles[role] += value
    roles["thumbnails"] += drawn.ru_utime + drawn.ru_stime
    out.write_text(json.dumps({"roles": roles, "wall_s": time.perf_counter() - start}))
    return code


@dataclass
class Row:
    mode: str  # fast | paced
    case: str
    fps: float
    cpu_ms_per_frame: float
    latency_p50_ms: float
    latency_p95_ms: float
    dropped: int
    frames: int
    output_p50_ms: float  # the output thread's stage per frame (sinks, preview, the FrameTap's copy)
    output_p95_ms: float
    control_cpu_s: float  # the control plane's own threads, the whole run (thumbnails included)
    control_core_pct: float  # ... as a share of one core over the run
    thumbnails_cpu_s: float  # of which the gallery's thumbnails (only when a page asks)
    main_cpu_s: float  # the main thread: output and start-up (imports, loading)
    preview_frames: int = 0  # MJPEG frames the open page received
    events: int = 0


class StudioClient:
    """What the studio page keeps open, read until the run ends."""

    def __init__(self, pid: int, browser: bool) -> None:
        self.pid, self.browser = pid, browser
        self.preview_frames = self.events = 0
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _instance(self) -> Any:
        from realtime.control import instances

        while not self.stop.is_set():
            found = next((i for i in instances.running() if i.pid == self.pid), None)
            if found is not None:
                return found
            self.stop.wait(0.01)
        return None

    def _run(self) -> None:
        instance = self._instance()
        if instance is None:
            return
        if self.browser:
            self._chromium(instance)
            return
        for path, reader in (("/api/v1/preview.mjpg", self._count_jpegs), ("/api/v1/events", self._count_events)):
            t = threading.Thread(target=self._stream, args=(instance, path, reader), daemon=True)
            t.start()
            self.threads.append(t)

    def _stream(self, instance: Any, path: str, reader: Any) -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=30)
            conn.request("GET", path, headers={"X-Realtime-Token": instance.token})
            reader(conn.getresponse())
        except (OSError, http.client.HTTPException):
            pass  # the run ended

    def _count_jpegs(self, response: Any) -> None:
        for line in iter(response.fp.readline, b""):
            if line.lower().startswith(b"content-length:"):
                size = int(line.split(b":")[1])
                response.fp.readline()
                response.fp.read(size)
                self.preview_frames += 1

    def _count_events(self, response: Any) -> None:
        for line in iter(response.fp.readline, b""):
            self.events += line.startswith(b"event:")

    def _chromium(self, instance: Any) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = next(p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p)
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
            options.add_argument(arg)
        chrome = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            chrome.get(instance.studio)
            while not self.stop.wait(0.5):
                try:
                    self.preview_frames = int(chrome.execute_script("return document.body.dataset.previewFrames") or 0)
                except Exception:
                    break
        finally:
            chrome.quit()

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


def run_case(args: argparse.Namespace, mode: str, case: str, out: Path) -> Row:
    stats, threads = out / "stats.json", out / "threads.json"
    command = [sys.executable, "-m", "benchmarks.control_cost", "--child", str(threads), "--source", str(args.source),
               "--no-preview", "--filter", args.filter, "--stats", str(stats)]
    command += ["--fast", "--loop", "--frames", str(args.frames)] if mode == "fast" else \
        ["--fps", "30", "--loop", "--frames", str(30 * args.paced_seconds)]
    if case == "no control":
        command.append("--no-control")
    with tempfile.TemporaryDirectory(prefix="control-cost-") as config:
        env = {**os.environ, "REALTIME_CONFIG_DIR": config}
        os.environ["REALTIME_CONFIG_DIR"] = config  # where the client finds the instance file
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        client = StudioClient(proc.pid, args.browser) if case == "studio open" else None
        if client is not None:
            client.start()
        err = proc.communicate()[1]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if client is not None:
            client.close()
    if proc.returncode != 0:
        raise UserError(f"realtime failed ({mode}, {case}): {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    summary = json.loads(stats.read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = summary["stages_ms"]["output"]
    roles = json.loads(threads.read_text())
    control = roles["roles"]["control plane"] + roles["roles"]["thumbnails"]
    return Row(mode, case, summary["fps_output"], round(cpu * 1000 / summary["frames_output"], 2), summary["latency_ms"]["p50"],
               summary["latency_ms"]["p95"], summary["frames_dropped"], summary["frames_output"], output["p50"], output["p95"],
               round(control, 3), round(100 * control / roles["wall_s"], 3), round(roles["roles"]["thumbnails"], 3),
               round(roles["roles"]["main (output, start-up)"], 2),
               client.preview_frames if client else 0, client.events if client else 0)


def median_row(rows: list[Row]) -> dict[str, Any]:
    first = rows[0]
    return {"mode": first.mode, "case": first.case, "runs": len(rows),
            **{k: round(statistics.median(getattr(r, k) for r in rows), 2)
               for k in ("fps", "cpu_ms_per_frame", "latency_p50_ms", "latency_p95_ms", "dropped", "frames", "output_p50_ms",
                         "output_p95_ms", "control_cpu_s", "control_core_pct", "thumbnails_cpu_s", "main_cpu_s", "preview_frames", "events")},
            "fps_range": [min(r.fps for r in rows), max(r.fps for r in rows)]}


def pieces(source: Path, repeats: int = 200) -> dict[str, float]:
    """The control plane's own work per preview frame, timed alone at the source's frame size
    and at 1280x720: the output thread's copy (FrameTap.offer) and the JPEG on the control
    plane's thread (Preview.next_jpeg); at the tap's 5 fps, the share of one core."""
    import time

    import cv2

    from realtime.control.server import Preview
    from realtime.live.loop import FrameTap

    cap = cv2.VideoCapture(str(source))
    frame = cap.read()[1]
    cap.release()
    out: dict[str, float] = {}
    for label, image in (("source", frame), ("1280x720", cv2.resize(frame, (1280, 720)))):
        tap = FrameTap(fps=1e9, watch_s=1e9)
        tap.watch()
        t0 = time.perf_counter()
        for _ in range(repeats):
            tap.offer(image)
        copy_ms = (time.perf_counter() - t0) * 1000 / repeats
        preview = Preview(tap)
        t0 = time.perf_counter()
        for i in range(repeats // 4):
            tap.offer(image)
            preview.next_jpeg(tap._seq - 1, 0.0)
        encode_ms = (time.perf_counter() - t0) * 1000 / (repeats // 4) - copy_ms
        preview.close()
        idle = FrameTap()
        t0 = time.perf_counter()
        for _ in range(repeats * 10):
            idle.offer(image)
        out[f"{label}: tap copy ms"] = round(copy_ms, 3)
        out[f"{label}: JPEG encode ms"] = round(encode_ms, 3)
        out[f"{label}: offer, nobody watching, ms"] = round((time.perf_counter() - t0) * 1000 / (repeats * 10), 5)
        out[f"{label}: share of one core at 5 fps, %"] = round((copy_ms + encode_ms) * 5 / 1000 * 100, 2)
    return out


def report_text(args: argparse.Namespace, table: list[dict[str, Any]], parts: dict[str, float]) -> str:
    lines = [f"# Control plane cost ({machine()})", "",
             f"`realtime --source {Path(args.source).name} --no-preview --filter {args.filter}`; "
             f"fast: `--fast --loop --frames {args.frames}`; paced: `--fps 30 --loop` for {args.paced_seconds} s; "
             f"studio open: {'headless Chromium on /studio' if args.browser else 'the MJPEG preview and the event stream read'}; "
             f"median of {args.repeats} runs each.", "",
             "| mode | case | fps (min..max) | control plane CPU s (% of one core) | of which thumbnails | main thread CPU s | CPU ms / frame, all threads | "
             "output thread ms p50 / p95 | latency p50 / p95 ms | dropped | preview frames | events |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table:
        lines.append(f"| {r['mode']} | {r['case']} | {r['fps']:.1f} ({r['fps_range'][0]:.1f}..{r['fps_range'][1]:.1f}) | "
                     f"{r['control_cpu_s']:.2f} ({r['control_core_pct']:.2f} %) | {r['thumbnails_cpu_s']:.2f} | {r['main_cpu_s']:.2f} | "
                     f"{r['cpu_ms_per_frame']:.1f} | {r['output_p50_ms']:.2f} / {r['output_p95_ms']:.2f} | "
                     f"{r['latency_p50_ms']:.0f} / {r['latency_p95_ms']:.0f} | {r['dropped']:.0f} | {r['preview_frames']:.0f} | {r['events']:.0f} |")
    for mode in ("fast", "paced"):
        rows = {r["case"]: r for r in table if r["mode"] == mode}
        if len(rows) == 3:
            base, page = rows["no control"], rows["studio open"]
            lines.append("")
            lines.append(f"{mode}: studio open vs no control: fps {100 * (page['fps'] / base['fps'] - 1):+.1f} %, "
                         f"CPU per frame {100 * (page['cpu_ms_per_frame'] / base['cpu_ms_per_frame'] - 1):+.1f} %, "
                         f"output thread p50 {page['output_p50_ms'] - base['output_p50_ms']:+.2f} ms")
    lines += ["", "The pieces alone (this process, no loop running):", "", "| piece | value |", "|---|---:|"]
    lines += [f"| {k} | {v:g} |" for k, v in parts.items()]
    return "\n".join(lines) + "\n"


def plot(table: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, label in ((axes[0], "fps", "fps"), (axes[1], "cpu_ms_per_frame", "CPU ms per frame")):
        names = [f"{r['mode']}\n{r['case']}" for r in table]
        ax.bar(range(len(table)), [r[key] for r in table], color=["#888", "#5b8fd9", "#d98b5b"] * 2)
        ax.set_xticks(range(len(table)), names, fontsize=6)
        ax.set_title(label)
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    p = command_line("benchmarks.control_cost", __doc__)
    p.add_argument("--source", type=Path, default=data_root() / "videos" / "liveportrait__d18.mp4")
    p.add_argument("--filter", default="cartoon")
    p.add_argument("--frames", type=int, default=600, help="frames of each --fast run")
    p.add_argument("--paced-seconds", type=int, default=20)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--modes", nargs="+", default=["fast", "paced"], choices=["fast", "paced"])
    p.add_argument("--browser", action="store_true", help="the real page in headless Chromium (selenium)")
    p.add_argument("--out", type=Path, default=RESULTS / "control-cost-cpu")
    args = p.parse_args(argv)
    if not args.source.is_file():
        raise UserError(f"--source {args.source} does not exist (the shared media: ../shared/data or $REALTIME_DATA)")
    rows: dict[tuple[str, str], list[Row]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            for i in range(args.repeats):
                for case in CASES:
                    row = run_case(args, mode, case, Path(tmp))
                    rows.setdefault((mode, case), []).append(row)
                    print(f"{mode:5s} {case:22s} run {i + 1}: {row.fps:.1f} fps, {row.cpu_ms_per_frame:.1f} CPU ms/frame, "
                          f"latency p50 {row.latency_p50_ms:.0f} ms, {row.dropped} dropped, {row.preview_frames} preview frames",
                          flush=True)
    table = [median_row(r) for r in rows.values()]
    parts = pieces(args.source)
    report = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}, "table": table, "pieces": parts,
              "runs": {f"{m}/{c}": [asdict(r) for r in rs] for (m, c), rs in rows.items()}}
    save_report(args.out, report, report_text(args, table, parts), lambda path: plot(table, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
