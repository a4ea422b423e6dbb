"""The units on a Ray cluster through Ray Data: one row per unit, an actor pool in which each
actor holds one loaded chain (:class:`~realtime.batch.segment.ChainWorker`) and filters one
row at a time. A row holds only the unit's descriptor (a path and a frame range, ~300 bytes);
what comes back is the finished segment (H.264, ~1-2 MB per 10 s at 640x480), so the
decoded frames never cross the network. The inputs must be readable at the same path on
every node (a shared folder); the outputs are written by the driver.

Resources, and why:

* **Fractional CPUs per actor.** Ray Data needs CPU for its own read tasks besides the actor
  pool: 2 actors x 1 CPU on a 2-CPU cluster take every CPU and the read of the rows never
  schedules (the run hangs). So the actors share all CPUs but one:
  ``(cluster CPUs - 1) / actors``, at most 1 and at least 0.1 (0.5 each for 2 actors on 2
  CPUs). Each actor still runs on one thread (:func:`~realtime.batch.segment.single_threaded`),
  so the fraction is only how Ray counts it.
* **One ONNX Runtime thread per actor** (``FilterJob.threads``), and ``OMP_NUM_THREADS=1``.
* **``--gpus-per-worker F``**: each actor asks Ray for F GPUs (0.25: four actors share one
  GPU) and runs the CUDA provider. A cluster without GPUs is refused in one line before any
  work: the actors would otherwise wait for a GPU forever.
"""
from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any, Iterator

import numpy as np

from realtime.batch.config import FilterJob
from realtime.batch.plan import Unit
from realtime.batch.segment import UnitResult
from realtime.ray_cluster import start_ray
from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)
UNIT_FIELDS = [f.name for f in fields(Unit)]
RESULT_FIELDS = [f.name for f in fields(UnitResult)]


def actor_cpus(cluster_cpus: float, actors: int) -> float:
    """The CPUs each actor asks for: all but one CPU shared among the actors, 0.1..1."""
    return round(min(1.0, max(0.1, (cluster_cpus - 1) / max(1, actors))), 2)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class UnitActor:
    """One Ray Data actor: the chain loads once in ``__init__``; each call filters a batch of
    rows (one row per batch)."""

    def __init__(self, job: dict[str, Any]) -> None:
        from realtime.batch.segment import ChainWorker

        self.error = ""
        self.worker: ChainWorker | None = None
        try:
            self.worker = ChainWorker(FilterJob(**job))
        except Exception as exc:  # noqa: BLE001 - said with every row this actor gets
            self.error = f"the chain did not load: {first_line(exc)}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = []
        for i in range(len(batch["key"])):
            unit = Unit(**{name: _plain(batch[name][i]) for name in UNIT_FIELDS})
            results.append(self.worker(unit) if self.worker is not None else UnitResult(unit.key, False, self.error))
        out = {name: np.array([getattr(r, name) for r in results]) for name in RESULT_FIELDS if name != "data"}
        data = np.empty(len(results), dtype=object)
        data[:] = [r.data for r in results]
        out["data"] = data
        return out


class RayRunner:
    """``run(units)`` yields each unit's result as Ray Data streams it back (any order)."""

    name = "Ray Data"

    def __init__(self, job: FilterJob, address: str, workers: int | None, gpus_per_worker: float) -> None:
        try:
            import ray
        except ImportError:
            raise UserError("--ray needs Ray Data: pip install 'realtime-filters[scale]' (ray[data], pyarrow)") from None
        self.started = start_ray(address)
        resources = ray.cluster_resources()
        self.cpus = float(resources.get("CPU", 1))
        self.gpus = float(resources.get("GPU", 0))
        if gpus_per_worker > 0 and self.gpus == 0:
            self.close()
            raise UserError(f"--gpus-per-worker {gpus_per_worker:g}: the Ray cluster has no GPUs "
                            f"({self.cpus:g} CPUs): leave the option out to run on its CPUs")
        self.actors = workers or max(1, int(self.cpus))
        if gpus_per_worker > 0:
            self.actors = min(self.actors, max(1, int(self.gpus / gpus_per_worker)))
        self.job = FilterJob(**{**job.to_dict(), "gpu": gpus_per_worker > 0})
        self.gpus_per_worker = gpus_per_worker
        self.cpus_per_actor = actor_cpus(self.cpus, self.actors)
        log.info("Ray: %g CPUs, %g GPUs; %d actors x %g CPU%s", self.cpus, self.gpus, self.actors, self.cpus_per_actor,
                 f" x {gpus_per_worker:g} GPU" if gpus_per_worker else "")

    def run(self, units: list[Unit]) -> Iterator[UnitResult]:
        if not units:
            return
        import ray
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the driver's one bar says it
        context.execution_options.preserve_order = False  # each result as soon as it is done
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        actors = min(self.actors, len(units))
        ds = ray.data.from_items([u.to_row() for u in units], override_num_blocks=len(units))
        ds = ds.map_batches(UnitActor, fn_constructor_kwargs={"job": self.job.to_dict()}, batch_size=1,
                            batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
                            num_cpus=self.cpus_per_actor, num_gpus=self.gpus_per_worker or None)
        for batch in ds.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=0):
            for i in range(len(batch["key"])):
                yield UnitResult(**{name: _plain(batch[name][i]) for name in RESULT_FIELDS})

    def close(self) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False
