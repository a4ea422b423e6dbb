"""The units on this machine: a standard-library process pool, one loaded chain per process.

Processes are *spawned*, not forked: MediaPipe and ONNX Runtime start threads, and a fork
copies a process with its threads' locks held. Spawning costs each worker a fresh interpreter
and its imports (~1-2 s on this 2-core machine, paid once, in parallel), then the models load
once per worker. Each worker runs ONNX Runtime, OpenCV and x264 on one thread: N workers on N
cores beat one worker on N threads (the per-frame work is small and does not split well).

Ctrl-C in the terminal reaches the workers too; they ignore it and the driver stops them, so
the finished segments stay and a rerun resumes.
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator

from realtime.batch.config import FilterJob
from realtime.batch.plan import Unit
from realtime.batch.segment import ChainWorker, UnitResult

log = logging.getLogger(__name__)
_worker: ChainWorker | None = None
_load_error: str = ""


def _start(job: FilterJob, level: int) -> None:
    global _worker, _load_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when to stop
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        _worker = ChainWorker(job)
    except Exception as exc:  # noqa: BLE001 - said with every unit this worker gets
        from realtime.errors import first_line

        _load_error = f"the chain did not load: {first_line(exc)}"


def _run(unit: Unit) -> UnitResult:
    if _worker is None:
        return UnitResult(unit.key, False, _load_error or "the chain did not load")
    return _worker(unit)


class SerialRunner:
    """The units one after another in this process (``--workers 1``: a pool of one would only
    add a process start and a copy of every segment). Its one worker keeps the process's
    threading as it is (ONNX Runtime on ``job.threads``; 0: every core)."""

    name = "this process"

    def __init__(self, job: FilterJob) -> None:
        self.job = job

    def run(self, units: list[Unit]) -> Iterator[UnitResult]:
        if not units:
            return
        try:
            worker = ChainWorker(self.job, own_process=False)
        except Exception as exc:  # noqa: BLE001 - the same answer a pool gives
            from realtime.errors import first_line

            for unit in units:
                yield UnitResult(unit.key, False, f"the chain did not load: {first_line(exc)}")
            return
        for unit in units:
            yield worker(unit)

    def close(self) -> None:
        pass


class PoolRunner:
    """``run(units)`` yields each unit's result as it finishes (any order)."""

    name = "process pool"

    def __init__(self, job: FilterJob, workers: int) -> None:
        self.job, self.workers = job, workers
        self.pool: ProcessPoolExecutor | None = None

    def run(self, units: list[Unit]) -> Iterator[UnitResult]:
        if not units:
            return
        self.pool = ProcessPoolExecutor(max_workers=min(self.workers, len(units)),
                                        mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start, initargs=(self.job, logging.getLogger().level))
        pending: dict[Future[UnitResult], Unit] = {self.pool.submit(_run, u): u for u in units}
        finished = False
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    unit = pending.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        yield UnitResult(unit.key, False, "its worker process died (out of memory, or a crash in native code)")
            finished = True
        finally:
            if finished and self.pool is not None:  # every worker is idle: let them exit by themselves
                self.pool.shutdown(wait=True)
                self.pool = None
            self.close()

    def close(self) -> None:
        """Stop at once: queued units are cancelled and running workers ended (their units
        are not written, so a rerun does them)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public handle on them
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
