"""The run: plan, hand the units to a runner, store each finished unit as it comes back, join
each file as soon as its last segment is in, and say what happened.

The driver is the only writer of outputs: workers (local processes or Ray actors on other
machines) return bytes. A segment is stored atomically in the file's parts folder the moment
it arrives, so an interrupted run loses only the segments in flight; a file is joined once all
its segments are there, while the others are still being filtered.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Protocol, TextIO

from realtime.batch.config import BatchConfig
from realtime.batch.join import join, remove_parts, write_atomic
from realtime.batch.plan import FilePlan, Unit, plan, reason_of
from realtime.batch.segment import UnitResult

log = logging.getLogger(__name__)


class Runner(Protocol):
    name: str

    def run(self, units: list[Unit]) -> Iterator[UnitResult]: ...

    def close(self) -> None: ...


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    frames: int = 0  # frames written by this run (warm-up frames not counted)
    seconds: float = 0.0  # the whole run: planning, start-up, filtering, joining
    startup_s: float = 0.0  # planning and the runner's start (connecting to Ray, say)
    busy_s: float = 0.0  # the units' own time in the workers, added up
    units: int = 0  # units run
    join_s: float = 0.0  # the driver's joining (remuxing) time
    runner: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        """The summary; the runner and the units' times only where a runner ran (nothing was left
        to filter: every file finished before, or none could be read)."""
        total = len(self.done) + len(self.skipped) + len(self.failed)
        head = (f"{total} file{'s' * (total != 1)}: {len(self.done)} filtered, {len(self.skipped)} skipped (finished "
                f"before; --overwrite redoes them), {len(self.failed)} failed")
        if not self.runner:
            return [head]
        return [f"{head}; {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps, start-up {self.startup_s:.1f} s) on {self.runner}",
                f"{self.units} unit{'s' * (self.units != 1)} (a file or a segment of one) took {self.busy_s:.1f} s of worker time; joining took {self.join_s:.2f} s"]


def check_chain(config: BatchConfig) -> None:
    """The chain's names, latent code and background, checked before any work (one line)."""
    from realtime.compositing.background import parse_background
    from realtime.filters.chain import chain_files
    from realtime.live.session import check_latent

    files = chain_files(config.job.filter, "--filter")
    check_latent(config.job.filter, files, config.job.latent)
    backdrop = parse_background(config.job.background)
    getattr(backdrop, "close", lambda: None)()


def make_runner(config: BatchConfig, say: TextIO) -> Runner:
    if config.ray:
        from realtime.batch.ray_runner import RayRunner

        return RayRunner(config.job, config.ray, config.workers, config.gpus_per_worker)
    from realtime.batch.pool import PoolRunner, SerialRunner
    from realtime.filters.providers import probe
    from realtime.sinks.video_file import nvidia_present

    job = config.job
    if config.gpus_per_worker > 0:
        if nvidia_present():
            job = replace(job, gpu=True)
        else:
            print(f"note: --gpus-per-worker {config.gpus_per_worker:g}: no GPU on this machine; running on its CPUs",
                  file=say)
    probe("cuda" if job.gpu and job.provider == "auto" else job.provider)  # a GPU asked for and not there: one line now
    workers = config.workers or os.cpu_count() or 1
    if workers == 1:
        return SerialRunner(replace(job, threads=0))  # one worker: ONNX Runtime on every core
    runner = PoolRunner(job, workers)
    runner.name = f"a process pool of {workers} worker{'s' * (workers != 1)}"
    return runner


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix_str(self, text: str) -> None: ...

    def close(self) -> None: ...


def progress_bar(total: int, enabled: bool) -> object:
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        log.info("no progress bar: pip install tqdm")
        return _NoBar()
    return tqdm(total=total, unit="frame", file=sys.stderr, dynamic_ncols=True, smoothing=0.1, mininterval=0.5)


def run_batch(config: BatchConfig, runner: Runner | None = None, say: TextIO | None = None) -> Summary:
    """The whole run; bad options raise :class:`UserError` before any work. Unreadable files
    are reported by name in the summary (and on ``say``) and the others still finish."""
    started = time.perf_counter()
    say = say or sys.stderr  # looked up now: a test's capture replaces it after import
    check_chain(config)
    plans = plan(config)
    summary = Summary()
    by_key: dict[str, tuple[FilePlan, Unit]] = {}
    left: dict[Path, set[str]] = {}
    errors: dict[Path, list[str]] = {}
    for fp in plans:
        if fp.status == "skipped":
            summary.skipped.append(fp.name)
        elif fp.status == "failed":
            _fail(summary, fp, fp.reason, say)
        else:
            left[fp.output] = {u.key for u in fp.pending}
            errors[fp.output] = []
            by_key.update({u.key: (fp, u) for u in fp.pending})
    units = [u for fp in plans if fp.status == "todo" for u in fp.pending]
    for fp in plans:  # every segment finished in an earlier run: only the join is left
        if fp.status == "todo" and not fp.pending:
            _finish(fp, [], config, summary, say)
    if units:
        runner = runner or make_runner(config, say)
        summary.runner = runner.name
    summary.startup_s = time.perf_counter() - started
    bar = progress_bar(sum(u.frames for u in units), config.progress and bool(units))
    try:
        for result in (runner.run(units) if runner is not None and units else ()):
            fp, unit = by_key[result.key]
            summary.units += 1
            summary.busy_s += result.seconds
            if result.ok:
                write_atomic(fp.output if unit.kind == "image" else fp.part(unit), result.data)
                summary.frames += result.frames
            else:
                where = f"frames {unit.start}..{unit.stop - 1}: " if unit.kind == "segment" and len(fp.units) > 1 else ""
                errors[fp.output].append(where + result.error)
            bar.update(unit.frames)  # type: ignore[attr-defined]
            left[fp.output].discard(result.key)
            if not left[fp.output]:
                _finish(fp, errors[fp.output], config, summary, say)
                bar.set_postfix_str(f"{len(summary.done)} done, {len(summary.failed)} failed")  # type: ignore[attr-defined]
    finally:
        bar.close()  # type: ignore[attr-defined]
        if runner is not None:
            runner.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _fail(summary: Summary, fp: FilePlan, reason: str, say: TextIO) -> None:
    fp.status, fp.reason = "failed", reason
    summary.failed.append((fp.name, reason))
    print(f"failed: {fp.source}: {reason}", file=say)


def _finish(fp: FilePlan, errors: list[str], config: BatchConfig, summary: Summary, say: TextIO) -> None:
    if errors:
        return _fail(summary, fp, errors[0] + (f" (and {len(errors) - 1} more segments)" if len(errors) > 1 else ""), say)
    if fp.kind == "video":
        start = time.perf_counter()
        try:
            join([fp.part(u) for u in fp.units], fp.output, fp.source if config.audio else None, fp.fps)
        except Exception as exc:  # noqa: BLE001 - PyAV's errors (av.FFmpegError) are many types; the others go on
            return _fail(summary, fp, f"joining its segments failed: {reason_of(exc)}", say)
        finally:
            summary.join_s += time.perf_counter() - start
        remove_parts(fp.parts)
    fp.status = "done"
    summary.done.append(fp.name)
    log.info("%s -> %s", fp.source, fp.output)
