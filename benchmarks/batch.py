"""python -m benchmarks.batch: ``realtime batch`` through one process, the process pool, Ray Data
on a one-machine cluster and Ray Data on a two-node cluster on this machine (a head, which Ray
puts on the machine's own address, and a second raylet on 127.0.0.2, one CPU each), on every
held video (../shared/data/videos).

Each way is a fresh ``python -m realtime.batch`` (what a user runs) and reports frames per
second of the whole run, start-up (the wall time of a run with one small image: interpreter,
workers or cluster, the models), the peak memory of every process it started (summed over the
process tree, sampled every 0.2 s from /proc), the time of a rerun of the finished run (all
skipped) and the workers' own time per frame, from which the speed of N nodes is projected:
``N * cores / (worker seconds per frame)``, capped by the driver's own serial work (joining).

    python -m benchmarks.batch [--filter cartoon] [--segment-frames 60] [--out benchmarks/results/batch-cpu]
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.host import machine

LINE = re.compile(r"(\d+) frames in ([\d.]+) s \(([\d.]+) fps, start-up ([\d.]+) s\)")
BUSY = re.compile(r"(\d+) units took ([\d.]+) s of worker time; joining took ([\d.]+) s")


@dataclass
class Result:
    way: str
    frames: int
    seconds: float
    fps: float
    startup_s: float  # a run of one small image, end to end
    peak_mb: float  # every process of the run, summed, at its highest
    resume_s: float  # the same command again once finished (everything skipped)
    busy_s: float  # the workers' own time, added up
    units: int
    join_s: float
    workers: int


def tree_rss_mb(roots: list[int]) -> float:
    """Resident memory of ``roots`` and all their descendants (from /proc), in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += children.get(pid, [])
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def timed(cmd: list[str], also: list[int] = (), env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak MB of the command's tree and of ``also``'s trees, stdout)."""
    peak = [0.0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mb([proc.pid, *also]))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {err.strip()[-600:]}")
    return wall, peak[0], out


def measure(way: str, inputs: list[Path], image: Path, work: Path, extra: list[str], args: argparse.Namespace,
            workers: int, also: list[int] = (), env: dict[str, str] | None = None) -> Result:
    base = [sys.executable, "-m", "realtime.batch", "--filter", args.filter, "--segment-frames", str(args.segment_frames),
            "--no-progress", *extra]
    startup, _, _ = timed([*base, str(image), "--out", str(work / f"{way}-startup")], also, env)
    wall, peak, out = timed([*base, *map(str, inputs), "--out", str(work / way)], also, env)
    resume, _, _ = timed([*base, *map(str, inputs), "--out", str(work / way)], also, env)
    m, b = LINE.search(out), BUSY.search(out)
    assert m and b, out
    result = Result(way, int(m[1]), wall, int(m[1]) / wall, startup, peak, resume, float(b[2]), int(b[1]), float(b[3]), workers)
    print(f"{way}: {result.fps:.1f} fps, start-up {startup:.1f} s, peak {peak:.0f} MB, resume {resume:.1f} s", flush=True)
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TwoNodes:
    """A Ray head and a second raylet on 127.0.0.2, one CPU each, in their own temp folder.

    Ray puts the head on the machine's own address (it rewrites 127.0.0.1), so the second node
    needs another loopback address to be a node of its own; all traffic stays on this machine.
    Ray 2.60's ``ray start --head`` turns on token authentication: the cluster gets a token of
    its own here (``RAY_AUTH_TOKEN`` in ``self.env``, which every process of the run is given),
    so nothing is written to ~/.ray. Both ``ray start --block`` processes are this benchmark's
    and are stopped by their group id."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="rb-"))  # short: Ray's socket paths have a length limit
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        ray = str(Path(sys.executable).with_name("ray"))
        common = ["--num-cpus", "1", "--object-store-memory", str(300 * 2**20), "--block", "--disable-usage-stats"]
        self.procs = [subprocess.Popen([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port),
                                        "--include-dashboard", "false", "--temp-dir", str(self.temp), *common],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                       env=self.env)]
        self._wait(1)
        self.procs.append(subprocess.Popen([ray, "start", "--address", self.address, "--node-ip-address", "127.0.0.2", *common],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                           env=self.env))
        self._wait(2)

    def _wait(self, cpus: int, timeout: float = 90) -> None:
        probe = (f"import ray; ray.init(address='{self.address}', logging_level='ERROR'); "
                 f"import sys; sys.exit(0 if ray.cluster_resources().get('CPU', 0) >= {cpus} else 1)")
        end = time.time() + timeout
        while time.time() < end:
            if subprocess.run([sys.executable, "-c", probe], capture_output=True, env=self.env).returncode == 0:
                return
            time.sleep(1)
        self.close()
        raise RuntimeError(f"the two-node Ray cluster did not reach {cpus} CPUs in {timeout:.0f} s")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def close(self) -> None:
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)  # our own group: ray start and the raylet, GCS, workers it started
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)


def projection(results: list[Result], cores_per_node: int, nodes: list[int]) -> dict[str, list[float]]:
    """Frames per second N nodes of ``cores_per_node`` would give, from the pool's worker time
    per frame (measured with every core busy) and the driver's joining per frame."""
    pool = next(r for r in results if r.way == "process pool")
    per_frame = pool.busy_s / pool.frames
    join_per_frame = max(pool.join_s, 1e-6) / pool.frames
    return {"nodes": nodes, "fps": [min(n * cores_per_node / per_frame, 1 / join_per_frame) for n in nodes],
            "worker_s_per_frame": [per_frame] * len(nodes)}


def plot(results: list[Result], proj: dict[str, list[float]], path: Path) -> None:
    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r.way for r in results]
    a.bar(names, [r.fps for r in results], color="tab:blue")
    a.set_ylabel("frames per second (whole run)")
    a.set_title("realtime batch on this machine")
    a.set_ylim(0, max(r.fps for r in results) * 1.35)  # room for the labels above the bars
    a.tick_params(axis="x", rotation=15)
    for i, r in enumerate(results):
        a.text(i, r.fps, f"{r.fps:.1f}\nstart {r.startup_s:.0f} s\n{r.peak_mb:.0f} MB", ha="center", va="bottom", fontsize=8)
    b.plot(proj["nodes"], proj["fps"], "o-")
    b.set_xlabel("nodes (projected)")
    b.set_ylabel("frames per second")
    b.set_title("projected from the pool's worker time per frame")
    save_figure(fig, path, dpi=110)


def main() -> int:
    p = command_line("benchmarks.batch", __doc__)
    p.add_argument("--filter", default="cartoon")
    p.add_argument("--segment-frames", type=int, default=60)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/batch-cpu"))
    p.add_argument("--skip-two-nodes", action="store_true")
    args = p.parse_args()
    from models.data.media import data_root

    videos = sorted((data_root() / "videos").glob("*.mp4"))
    if not videos:
        print(f"error: the shared test videos are not at {data_root() / 'videos'} (set REALTIME_DATA)", file=sys.stderr)
        return 2
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    image = work / "one.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(image), np.full((120, 160, 3), 128, np.uint8))
    results: list[Result] = []
    try:
        results.append(measure("one process", videos, image, work, ["--workers", "1"], args, 1))
        results.append(measure("process pool", videos, image, work, ["--workers", str(cores)], args, cores))
        results.append(measure("Ray Data, local", videos, image, work, ["--ray", "local", "--workers", str(cores)], args, cores))
        if not args.skip_two_nodes:
            cluster = TwoNodes()
            try:
                results.append(measure("Ray Data, 2 nodes", videos, image, work, ["--ray", cluster.address, "--workers", "2"],
                                       args, 2, also=cluster.pids, env=cluster.env))
            finally:
                cluster.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    proj = projection(results, cores, [1, 2, 4, 8, 16])
    frames = results[0].frames
    rows = "\n".join(f"| {r.way} | {r.workers} | {r.fps:.1f} | {r.seconds:.1f} | {r.startup_s:.1f} | {r.peak_mb:.0f} | "
                     f"{r.resume_s:.1f} | {r.busy_s / r.frames * 1000:.0f} |" for r in results)
    text = (f"# realtime batch, CPU ({machine()})\n\n{args.filter} on every held video ({len(videos)}: {', '.join(v.name for v in videos)}; {frames} frames), segments of "
            f"{args.segment_frames} frames, default overlap; each way a fresh `python -m realtime.batch`.\n\n"
            "| way | workers | fps | seconds | start-up s (one image) | peak MB (all its processes) | rerun s (all skipped) "
            "| worker ms per frame |\n|---|---|---|---|---|---|---|---|\n" + rows +
            "\n\nProjected (the pool's worker time per frame with every core busy; nodes of "
            f"{cores} cores; capped by the driver's joining): " +
            ", ".join(f"{n} nodes {f:.0f} fps" for n, f in zip(proj["nodes"], proj["fps"])) + ".\n")
    report = {"machine": machine(), "filter": args.filter, "videos": [v.name for v in videos], "frames": frames,
              "segment_frames": args.segment_frames, "results": [asdict(r) for r in results], "projection": proj}
    save_report(args.out, report, text, lambda path: plot(results, proj, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
