"""What one batch run is asked to do: :class:`FilterJob` (what every worker needs to build the
chain, small and picklable: it crosses to each process or Ray actor once) and
:class:`BatchConfig` (the whole run). Every value is checked when the config is made and all
problems are reported in one line, before any file is opened or any model loaded.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from realtime.errors import UserError

REGIONS = ("all", "person", "background")
PROVIDERS = ("auto", "tensorrt", "cuda", "cpu")
VARIANTS = ("auto", "full", "fast")
TRACKS = ("auto", "always", "off")
# 300 frames = 10 s at 30 fps: with the 30-frame overlap below the warm-up costs 10 % more
# decoding and filtering, and a 640x480 segment (~1-2 MB of H.264) is what crosses the network
SEGMENT_FRAMES = 300
# the temporal stabiliser keeps 0.9 of the previous output where the input is still
# (realtime.compositing.temporal), so a different start state decays as 0.9**n: 0.9**30 = 4 %
# of the difference (under 0.2 of 255 for a 4-level flicker) at the first frame that is kept
OVERLAP = 30


@dataclass(frozen=True)
class FilterJob:
    """The chain and its settings, as the live command's options name them."""

    filter: str = "none"
    background: str | None = None
    filter_region: str = "all"
    strength: float = 1.0
    latent: int = 0
    variant: str = "auto"
    provider: str = "auto"
    work_size: int | None = None
    temporal: bool = True
    track: str = "auto"
    crf: int = 18  # x264 quality: 0 lossless, 18 close to the source (default), 23 x264's own default, 51 worst
    threads: int = 1  # ONNX Runtime threads per worker: the workers are the parallelism (0: every core)
    # what a worker does with ``provider auto`` when it has a GPU share (Ray's num_gpus)
    gpu: bool = False

    def problems(self) -> list[str]:
        out: list[str] = []
        if not isinstance(self.filter, str) or not self.filter.strip():
            out.append("choose a filter with --filter NAME, or --filter none with a --background")
        if self.filter.strip() == "none" and self.background is None:
            out.append("choose a filter with --filter NAME (see realtime --list-filters) or a --background")
        if not (isinstance(self.strength, (int, float)) and math.isfinite(self.strength) and 0 <= self.strength <= 1):
            out.append(f"--strength must be 0..1, got {self.strength!r}")
        if not 0 <= self.latent <= 1024:
            out.append(f"--latent must be 0..1024, got {self.latent}")
        if self.work_size is not None and not 32 <= self.work_size <= 4096:
            out.append(f"--work-size must be 32..4096, got {self.work_size}")
        for name, allowed in (("filter_region", REGIONS), ("provider", PROVIDERS), ("variant", VARIANTS), ("track", TRACKS)):
            if getattr(self, name) not in allowed:
                out.append(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if not 0 <= self.crf <= 51:
            out.append(f"--crf must be 0..51, got {self.crf}")
        if not 0 <= self.threads <= 256:
            out.append(f"threads must be 0..256, got {self.threads}")
        return out

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class BatchConfig:
    inputs: tuple[Path, ...]
    out: Path
    job: FilterJob = field(default_factory=FilterJob)
    audio: bool = True
    workers: int | None = None  # None: one per core here (pool) or per CPU of the cluster (Ray)
    ray: str | None = None  # None: a process pool here; auto, local or a cluster address
    gpus_per_worker: float = 0.0
    segment_frames: int = SEGMENT_FRAMES
    overlap: int = OVERLAP
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        problems = self.job.problems()
        if not self.inputs:
            problems.append("give at least one video, image or folder")
        if self.workers is not None and not 1 <= self.workers <= 1024:
            problems.append(f"--workers must be 1..1024, got {self.workers}")
        if not (math.isfinite(self.gpus_per_worker) and 0 <= self.gpus_per_worker <= 16):
            problems.append(f"--gpus-per-worker must be 0..16, got {self.gpus_per_worker:g}")
        if not 1 <= self.segment_frames <= 10**7:
            problems.append(f"--segment-frames must be at least 1, got {self.segment_frames}")
        if not 0 <= self.overlap <= 10**5:
            problems.append(f"--overlap must be 0 or more, got {self.overlap}")
        if problems:
            raise UserError("; ".join(problems))

    def fingerprint(self) -> str:
        """What a finished segment depends on besides its source: a rerun with other options
        does not reuse its segments."""
        what = {"job": self.job.to_dict(), "segment_frames": self.segment_frames, "overlap": self.overlap}
        what["job"].pop("threads")  # type: ignore[union-attr]  (the same pixels with any thread count)
        return hashlib.sha1(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]
