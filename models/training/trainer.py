"""What every trainer here shares: Adam with a cosine schedule, a progress bar, periodic
atomic checkpoints that can be resumed exactly (optimizer, schedule, step, RNG states), and a
save on Ctrl-C so no work is lost. Under torchrun (:mod:`models.training.distributed`) only rank
0 shows the bar, validates and writes checkpoints, and the logged loss is the global batch's.
"""
from __future__ import annotations

import argparse
import logging
import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from realtime.errors import UserError
from models.networks.checkpoint import load_state_checked, read_checkpoint, save_checkpoint

if TYPE_CHECKING:
    from models.training.distributed import Distributed

log = logging.getLogger(__name__)


def add_run_args(p: argparse.ArgumentParser, steps: int, lr: float, batch: int, crop: int) -> None:
    """The options every trainer here shares."""
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (and --resume from)")
    p.add_argument("--name", help="filter name stored in the checkpoint (default: the --out file name)")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=batch,
                   help="global batch (default %(default)s); under torchrun each of the N processes draws batch/N, "
                        "so it must divide by N")
    p.add_argument("--crop", type=int, default=crop, help="training crop side in pixels")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--resume", action="store_true", help="continue from --out where it stopped")


def check_loss_weights(a: argparse.Namespace, *names: str) -> None:
    """Refuse negative loss weights (``a.face_weight``, ...) in one line that names each one."""
    wrong = [f"--{n.replace('_', '-')} is a loss weight, 0 or more; got {getattr(a, n)}" for n in names if getattr(a, n) < 0]
    if wrong:
        raise UserError("; ".join(wrong))


def parse_ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(c) for c in text.split(","))
    except ValueError:
        raise UserError(f"{option} must be comma-separated integers, got {text!r}") from None


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but this PyTorch build sees no CUDA GPU; use --device cpu")
    return torch.device(name)


class TrainingRun:
    def __init__(self, model: torch.nn.Module, out: Path, steps: int, lr: float, seed: int, name: str,
                 resume: bool = False, save_every: int = 250, dist: Distributed | None = None) -> None:
        """``model``: the bare network (saved, validated); the training step may call a DDP
        wrapper of it. ``dist``: this process's place under torchrun (None: one process)."""
        torch.manual_seed(seed)
        self.model, self.out, self.steps, self.name, self.save_every = model, Path(out), steps, name, save_every
        self.dist = dist
        self.is_main = dist is None or dist.is_main
        self.rng = random.Random(seed)
        self.opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
        self.step, self.history = 0, []
        self.meta: dict[str, Any] = {}
        if resume and self.out.is_file():
            self._resume()

    def _resume(self) -> None:
        payload = read_checkpoint(self.out)
        state = payload.get("train_state")
        if state is None:
            raise UserError(f"{self.out} has no training state to resume from (it was released); train into a new --out")
        load_state_checked(self.model, payload["state_dict"], str(self.out))
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.step, self.history = state["step"], list(state["history"])
        self.meta = dict(payload.get("meta", {}))
        self.rng.setstate(state["python_rng"])
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed %s at step %d", self.out, self.step)

    def save(self, **meta: Any) -> None:
        self.meta.update(meta, name=self.name, steps=self.step, history=self.history[-50:],
                         saved=time.strftime("%Y-%m-%d %H:%M:%S"))
        save_checkpoint(self.out, self.model, self.meta, train_state={
            "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(), "step": self.step,
            "history": self.history, "python_rng": self.rng.getstate(), "torch_rng": torch.get_rng_state()})

    def run(self, train_step: Callable[[], torch.Tensor], after_step: Callable[[int], None] | None = None,
            on_save: Callable[[], dict[str, Any]] | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call ``train_step`` (returns the loss to minimise and log) until ``steps``.

        ``after_step(step)`` runs after each optimiser step (on every process: a collective
        in it must run everywhere); ``on_save()`` returns metadata (e.g. validation numbers) to
        store with each checkpoint, and runs on rank 0 only, as do the saves.
        """
        self.model.train()
        bar = tqdm(total=self.steps, initial=self.step, desc=f"train {self.name}", unit="step", dynamic_ncols=True,
                   disable=not self.is_main)
        try:
            while self.step < self.steps:
                loss = train_step()
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.sched.step()
                self.step += 1
                value = self.dist.mean(loss.detach()) if self.dist is not None else float(loss.detach())
                self.history.append(round(value, 6))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(self.history[-50:]):.4f}")
                if after_step is not None:
                    after_step(self.step)
                if self.is_main and (self.step % self.save_every == 0 or self.step == self.steps):
                    extra = on_save() if on_save is not None else {}
                    if extra:
                        bar.write(f"step {self.step}: " + ", ".join(f"{k} {v}" for k, v in extra.items()))
                    self.save(**(meta or {}), **extra)
        except KeyboardInterrupt:
            bar.close()
            if not self.is_main:
                raise
            self.save(**(meta or {}))
            log.warning("interrupted at step %d; saved %s (continue with --resume)", self.step, self.out)
            raise
        bar.close()
        return self.meta
