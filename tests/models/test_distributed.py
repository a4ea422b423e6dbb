"""torchrun training on CPU (gloo): two processes with half the batch each end where one process
with the whole batch does, every process holds the same weights, and the codebook's dead-code
resets (made on rank 0, broadcast) leave the processes identical.

The processes are started with torch.multiprocessing (spawn), each given the variables torchrun
sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, a free MASTER_PORT) and one thread;
each runs the real :func:`models.train_pairs.train`. The reference is the same command in one
process under the same variables (WORLD_SIZE=1): it draws the same samples (sample j of step s
has its own generator under torchrun, whatever the process count) and takes the gradient of
the whole batch at once.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

from tests.conftest import assert_one_line

STEPS = 6
# A cartoon clone with a VQ code to discover (6 codes for cartoon's 4 styles): every step
# gathers the encodings, every 2nd resets the dead codes (4-5 of 6 are dead with 8 encodings).
# norm_groups=4 (the bundled recipes'): with one channel a group (the default 32 on 8 and 16
# channels) a conv bias in front of a GroupNorm is removed by it, its true gradient is exactly
# 0, and Adam turns the float noise it gets instead into steps of ±lr whose sign is chance
# (measured: 2e-3 apart), for weights that change nothing.
CONFIG: dict[str, Any] = dict(holdout=("img0",), channels=(8, 16), blocks_per_level=1, latent_codes=6, reset_every=2,
                              residual_output=True, norm_groups=4, steps=STEPS, batch_size=4, lr=3e-3, save_every=100)
# float32 summation order is all that differs: the 2-process gradient is the mean of two
# 2-sample means (DDP divides by 2 and all-reduces), the reference sums 4 samples in one conv
# backward, ~1e-7 relative in a gradient; Adam's 6 steps of ~lr = 3e-3 carry it into the
# weights as ~1e-6, and a reset copies encodings that carry it too (measured: 4.0e-6, the
# codebook; 1.2e-5 after 20 steps). 5e-5 leaves room for other CPUs' kernels and is still
# 1/170 of the smallest distance a weight tensor moves in the 6 steps (8.6e-3). Measured when
# broken: each process drawing the same samples 0.58 off, the codebook not broadcast 0.77,
# no DDP 0.95.
ATOL = 5e-5


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _worker(rank: int, world: int, port: int, data: str, out: str, config: dict[str, Any]) -> None:
    """One process of a torchrun-style run of models.train_pairs; saves its final weights, the
    codebook after every in-place edit, and rank 0's log lines to OUT/rankR.pt."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from models.data.pairs import CropConfig
    from models.train_pairs import TrainConfig, train
    from models.training.distributed import Distributed
    from models.training.trainer import TrainingRun

    records = _Records()
    logging.getLogger().addHandler(records)
    logging.getLogger().setLevel(logging.INFO)
    edits: list[tuple[Any, list[torch.Tensor]]] = []
    found: dict[str, Any] = {}
    edit, run = Distributed.edit, TrainingRun.run

    def edit_and_keep(self: Distributed, fn: Any, *tensors: torch.Tensor) -> Any:
        result = edit(self, fn, *tensors)
        edits.append((result, [t.detach().clone() for t in tensors]))
        return result

    def run_and_keep(self: TrainingRun, *args: Any, **kwargs: Any) -> Any:
        found["initial"] = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        meta = run(self, *args, **kwargs)
        found["final"] = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        found["history"] = list(self.history)
        return meta

    Distributed.edit, TrainingRun.run = edit_and_keep, run_and_keep  # this spawned process's own classes
    cfg = TrainConfig(out=Path(out) / "run.pt", data=Path(data), crops=CropConfig(crop=32, short_min=48, short_max=64), **config)
    train(cfg)
    torch.save({**found, "edits": edits, "log": records.lines}, Path(out) / f"rank{rank}.pt")


def _spawn(world: int, data: Path, out: Path, config: dict[str, Any] = CONFIG, limit_s: float = 240) -> list[dict[str, Any]]:
    out.mkdir(parents=True)
    ctx = mp.start_processes(_worker, args=(world, _free_port(), str(data), str(out), config), nprocs=world, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + limit_s
    while not ctx.join(timeout=2):  # raises when a process failed (and stops the others)
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail(f"{world}-process run did not finish in {limit_s:.0f} s")
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(world)]


@pytest.fixture(scope="module")
def runs(photo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(both processes of a 2-process run, the one process of the whole-batch reference)."""
    base = tmp_path_factory.mktemp("ddp")
    pair = _spawn(2, photo_folder, base / "two")
    (single,) = _spawn(1, photo_folder, base / "one")
    return pair, single


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


@pytest.mark.slow
def test_two_processes_train_like_one_process_on_the_whole_batch(runs):
    (r0, r1), single = runs
    moved = min(_max_diff({k: v}, {k: single["final"][k]}) for k, v in single["initial"].items())
    diff = _max_diff(r0["final"], single["final"])
    print(f"max |w(2 processes) - w(1 process)| = {diff:.3g}; every weight tensor moved >= {moved:.3g} in {STEPS} steps")
    assert moved > 100 * ATOL  # the tolerance is far below what training changes
    assert diff <= ATOL
    assert all(torch.equal(r0["final"][k], r1["final"][k]) for k in r0["final"])  # every process: the same weights
    # the logged loss is the global batch's (mean over the processes), as one process logs it
    assert len(r0["history"]) == STEPS and r0["history"] == pytest.approx(single["history"], abs=1e-5)
    assert "torchrun: 2 processes (gloo on cpu), global batch 4 = 2 per process × 2" in r0["log"]
    assert r1["log"] == []  # INFO lines: rank 0's only


@pytest.mark.slow
def test_codebook_resets_leave_both_processes_identical(runs):
    (r0, r1), single = runs
    assert len(r0["edits"]) == len(r1["edits"]) == STEPS // CONFIG["reset_every"]
    assert sum(moved for moved, _ in r0["edits"]) > 0  # codes were reset (rank 1 ran no reset itself)
    for (moved0, book0), (moved1, book1) in zip(r0["edits"], r1["edits"]):
        assert moved0 == moved1 and all(torch.equal(a, b) for a, b in zip(book0, book1))
    assert any(line.startswith("step 2: reset") for line in r0["log"])
    # and as the one process resets them
    assert [m for m, _ in r0["edits"]] == [m for m, _ in single["edits"]]


def test_a_global_batch_that_does_not_divide_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from models.train_pairs import main
    from realtime.errors import run_cli

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    code = run_cli(lambda: main(["--out", str(tmp_path / "x.pt"), "--data", str(tmp_path), "--batch", "3"]))
    assert_one_line(code, capsys.readouterr().err, "--batch 3 is the global batch", "multiple of 2")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "global batch" in capsys.readouterr().out
