"""Training on several GPUs (or CPU processes) with ``torchrun``: one process per device, each
with the whole network, DistributedDataParallel averaging the gradients.

    torchrun --nproc-per-node 4 -m models.train_pairs --teacher cartoon --batch 32 --out runs/cartoon.pt

Why: the bundled cartoon clone (2,200 steps at batch 8) took ~50 min on one CPU core, ~1.4 s
a step, most of it the teacher drawing each crop (cartoon's bold style 120 ms a 192-px crop)
and the UNet's forward and backward. With N processes each draws and runs batch/N of a step's
crops, and one all-reduce a step averages the gradients: 0.53 M parameters (2.1 MB) for that
recipe, 2.25 M (9 MB) for the default --channels 32,64,64,128, small next to a step's compute,
so a step should take close to 1/N the time, or the batch grow N times at the same speed
(expected, not measured: the machine this was written on has no GPU; tests run 2 CPU processes).

What the commands get from here (:func:`session`, a :class:`Distributed`):

- **started from the environment** torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
  ``MASTER_ADDR``/``MASTER_PORT``): backend ``nccl`` on CUDA with each process on its
  ``LOCAL_RANK`` GPU, ``gloo`` on CPU. Without those variables nothing changes: one process,
  the command's own sequence of batches, bit for bit the run it was before.
- **the batch**: ``--batch`` is the global batch; each of the N processes draws ``batch / N``
  (a batch that does not divide is refused in one line). Under torchrun, sample ``j`` of step
  ``s`` is drawn with its own ``random.Random(f"{seed}:{s}:{j}")`` and process ``r`` draws
  samples ``r·b .. r·b + b − 1``: a per-rank shard of the step (DistributedSampler's job for
  these on-the-fly draws), the same samples whatever N, and resumable from the step alone.
- **rank 0 only**: checkpoints, validation, sample sheets, the progress bar and INFO logs.
- **in-place edits** outside the optimizer step (the VQ codebook's k-means start and dead-code
  resets): made on rank 0, then its tensors are broadcast (:meth:`Distributed.edit`).
- **resume**: every process reads the same ``--out`` (on a shared disk across nodes), so all
  start from the same weights, optimizer state and step.
"""
from __future__ import annotations

import logging
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, TypeVar

import torch
import torch.distributed as td
from torch import nn

from realtime.errors import UserError
from models.training.trainer import pick_device

log = logging.getLogger(__name__)
T = TypeVar("T")
ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """True when torchrun (or another launcher that sets its variables) started this process."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE"))


def main_process() -> bool:
    """True unless torchrun started this process as another rank than 0 (who prints results)."""
    return not launched() or int(os.environ["RANK"]) == 0


@dataclass
class Distributed:
    """This process's place in the run; one process and no group when not launched by torchrun."""

    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    active: bool = False  # a process group is up (torchrun, even with one process)
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def per_rank(self, global_batch: int) -> int:
        return global_batch // self.world

    def wrap(self, model: nn.Module, find_unused: bool = False,
             forward: Callable[..., Any] | None = None) -> Callable[..., Any]:
        """What the training step calls instead of ``model``: DDP around it (or around a thin
        module whose forward is ``forward(model, *args)``) under torchrun, else the model (or
        that function) itself. ``find_unused``: some parameters get no gradient in some steps
        (a UNet's encoder when the teacher names the codes, its codebook in the VQ warm-up);
        DDP leaves those at ``grad None`` as one process would, so Adam skips them alike."""
        if not self.active:
            return model if forward is None else (lambda *a, **k: forward(model, *a, **k))
        module = model if forward is None else _Forward(model, forward)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)

    def draw(self, draw: Callable[[int, random.Random], T], rng: random.Random, global_batch: int, step: int, seed: int) -> T:
        """This process's part of step ``step``'s batch: ``draw(size, rng)`` makes a batch (a
        tensor, or a tuple of tensors and Nones). One process: ``draw(global_batch, rng)``,
        the command's own sequence. Under torchrun: samples ``rank·b .. rank·b + b − 1`` of
        the step, each drawn alone with its own seeded generator (see the module docstring)."""
        if not self.active:
            return draw(global_batch, rng)
        b = self.per_rank(global_batch)
        return collate([draw(1, random.Random(f"{seed}:{step}:{j}")) for j in range(self.rank * b, (self.rank + 1) * b)])

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar over the processes (the global batch's loss, for the log)."""
        if not self.active:
            return float(value)
        v = value.detach().reshape(1).to(self.device, torch.float64)
        td.all_reduce(v)
        return float(v) / self.world

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` (one row per sample) of every process, concatenated in rank order: the whole
        global batch's rows in the order one process would have them."""
        if not self.active:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world)]
        td.all_gather(parts, t.contiguous())
        return torch.cat(parts)

    def edit(self, fn: Callable[[], T], *tensors: torch.Tensor) -> T:
        """Run the in-place edit ``fn`` on rank 0 only and broadcast ``tensors`` (what it
        changes) from there, so every process holds the same weights; every process returns
        rank 0's result. Every process must call it at the same step."""
        if not self.active:
            return fn()
        result = fn() if self.is_main else None
        for t in tensors:
            td.broadcast(t.detach(), src=0)
        box = [result]
        td.broadcast_object_list(box, src=0, device=self.device if self.backend == "nccl" else None)
        return box[0]  # type: ignore[return-value]

    def barrier(self) -> None:
        if self.active and self.backend == "nccl":
            td.barrier(device_ids=[self.device.index])
        elif self.active:
            td.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. writes a cache), the others after it, reading it."""
        if self.active and not self.is_main:
            self.barrier()
        yield
        if self.active and self.is_main:
            self.barrier()


class _Forward(nn.Module):
    """A module whose forward is ``fn(model, ...)``: DDP can then wrap a call that is not the
    model's own forward (a student called through run_filter) and own all its parameters."""

    def __init__(self, model: nn.Module, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(self.model, *args, **kwargs)


def collate(parts: Sequence[Any]) -> Any:
    """Per-sample batches → one batch: tensors concatenated, tuples column by column, and a
    column with a None in it (a sample whose style is unknown) None, as models.data.pairs.batch."""
    if any(p is None for p in parts):
        return None
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(list(parts))
    if isinstance(parts[0], tuple):
        return tuple(collate(list(col)) for col in zip(*parts))
    raise TypeError(f"cannot collate {type(parts[0]).__name__}")


def start(device_name: str, global_batch: int) -> Distributed:
    """This process's :class:`Distributed`; under torchrun, also the process group."""
    if not launched():
        return Distributed(pick_device(device_name))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if global_batch % world:
        if rank == 0:  # one line, not one per process
            near = " or ".join(str(n) for n in (global_batch // world * world, (global_batch // world + 1) * world) if n)
            raise UserError(f"--batch {global_batch} is the global batch, split evenly over the {world} processes "
                            f"torchrun started: give a multiple of {world} (e.g. {near})")
        raise SystemExit(2)
    device = pick_device(device_name)
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise UserError(f"process {rank} has LOCAL_RANK {local} but this machine sees {torch.cuda.device_count()} GPU(s): "
                            "give --nproc-per-node at most the GPU count")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    owned = not td.is_initialized()
    if owned:
        td.init_process_group(backend, device_id=device if backend == "nccl" else None)
    dist = Distributed(device, rank, world, local, True, td.get_backend())
    return dist if owned else _Borrowed(**vars(dist))


class _Borrowed(Distributed):
    """A group the caller set up: used, not torn down."""


@contextmanager
def session(device_name: str, global_batch: int) -> Iterator[Distributed]:
    """:func:`start`, the log line that says how the batch is split, rank 0's logs only, and
    the group torn down afterwards (after a barrier: rank 0 may still be writing the last
    checkpoint when the others finish)."""
    dist = start(device_name, global_batch)
    root, level = logging.getLogger(), logging.getLogger().level
    if dist.active:
        if not dist.is_main:
            root.setLevel(logging.WARNING)
        log.info("torchrun: %d processes (%s on %s), global batch %d = %d per process × %d", dist.world, dist.backend,
                 dist.device.type, global_batch, dist.per_rank(global_batch), dist.world)
    ok = False
    try:
        yield dist
        ok = True
    finally:
        root.setLevel(level)
        if dist.active and not isinstance(dist, _Borrowed) and td.is_initialized():
            if ok:
                dist.barrier()
            td.destroy_process_group()
