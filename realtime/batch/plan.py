"""Inputs -> work units, and what a rerun can skip.

A video is probed by demuxing its packets (no decoding: a few ms per 1000 frames), which gives
every frame's presentation time; a segment is then the frames with indexes ``start..stop-1``,
named by those times (:class:`Unit`), so a worker can seek to the keyframe before its warm-up
and keep exactly its own frames. A video whose packets carry no usable times is one segment.

Resume state lives beside the outputs: ``OUT/.batch/NAME/`` holds the finished segments
(``seg-00003.mp4``, each renamed into place whole) and ``plan.json`` (the source's size and
mtime and the options' fingerprint): parts made from another source or with other options
are removed, not joined. A finished output (renamed from ``.partial`` at the end) is skipped
unless ``--overwrite`` (or unless it has a parts folder: a later ``--overwrite`` run of it
was cut short, and this run finishes it).
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from realtime.batch.config import BatchConfig
from realtime.media import IMAGE_EXTS, VIDEO_EXTS
from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)
VIDEO_OUT = {".mp4", ".m4v", ".mov", ".mkv"}  # kept as they are; any other video is written as .mp4
IMAGE_OUT = {".png", ".jpg", ".jpeg"}  # kept; any other image is written as .png
STATE_DIR = ".batch"
OUT_TIME_BASE = Fraction(1, 90000)


@dataclass(frozen=True)
class Unit:
    """One row of work: a segment of a video, or an image. Only primitives (a Ray Data row)."""

    kind: str  # "segment" or "image"
    key: str  # unique in the run: "NAME#INDEX"
    source: str  # the input's path (the same path on every node of a cluster)
    suffix: str  # the output's suffix (an image's encoding; a segment's container)
    index: int = 0  # the segment's place in its file
    start: int = 0  # frames start..stop-1 are written
    stop: int = 0
    warm: int = 0  # frames warm..start-1 are filtered and dropped (the overlap)
    warm_pts: int = 0  # presentation times (stream time base) of frames warm, start and stop-1
    start_pts: int = 0
    last_pts: int = 0
    origin_pts: int = 0  # the video's first frame: time 0 of the output
    tb_num: int = 1  # the stream's time base
    tb_den: int = 1
    fps: float = 30.0
    timed: bool = True  # False: the packets had no usable times; one segment, frames counted

    @property
    def frames(self) -> int:
        return max(1, self.stop - self.start) if self.kind == "segment" else 1

    def to_row(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class FilePlan:
    source: Path
    output: Path
    kind: str  # "video" or "image"
    units: list[Unit] = field(default_factory=list)  # every unit of the file
    pending: list[Unit] = field(default_factory=list)  # those still to do
    frames: int = 0
    fps: float = 30.0
    status: str = "todo"  # todo, skipped (finished before), failed
    reason: str = ""

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def parts(self) -> Path:
        return self.output.parent / STATE_DIR / self.output.name

    def part(self, unit: Unit) -> Path:
        return self.parts / f"seg-{unit.index:05d}.mp4"  # H.264 in MP4 whatever the output's container


def expand_inputs(inputs: tuple[Path, ...], out: Path) -> list[Path]:
    """Files as given; a folder gives its videos and images (sorted, not recursive). A path
    that does not exist is a typo: one line before any work."""
    files: list[Path] = []
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise UserError(f"no such file: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                           and (p.suffix.lower() in IMAGE_EXTS or p.suffix.lower() in VIDEO_EXTS))
            if not found:
                raise UserError(f"{path} holds no videos or images ({', '.join(sorted(VIDEO_EXTS | IMAGE_EXTS))})")
            files += found
        else:
            files.append(path)
    return files


def output_for(source: Path, out: Path) -> Path:
    suffix = source.suffix.lower()
    if suffix in IMAGE_EXTS:
        return out / (source.name if suffix in IMAGE_OUT else source.stem + ".png")
    return out / (source.name if suffix in VIDEO_OUT else source.stem + ".mp4")


def check_outputs(files: list[Path], out: Path) -> dict[Path, Path]:
    """source -> output; two inputs that would write the same output, or an output that is
    an input, are refused before any work."""
    outputs: dict[Path, Path] = {}
    seen: dict[Path, Path] = {}
    sources = {f.resolve() for f in files}
    for f in files:
        o = output_for(f, out)
        if o.resolve() in sources:
            raise UserError(f"--out {out}: {f} would be overwritten by its own result; choose another --out folder")
        if o in seen and seen[o].resolve() != f.resolve():
            raise UserError(f"{seen[o]} and {f} would both be written to {o}; filter them into different --out folders")
        seen[o] = f
        outputs[f] = o
    return outputs


def plan(config: BatchConfig) -> list[FilePlan]:
    """Every input's plan: probed, split into units, the finished ones left out. Unreadable
    inputs are plans with status ``failed`` and the reason (the others still run)."""
    files = expand_inputs(config.inputs, config.out)
    outputs = check_outputs(list(dict.fromkeys(files)), config.out)
    config.out.mkdir(parents=True, exist_ok=True)  # the options are good: from here on, work
    plans = []
    for source, output in outputs.items():
        kind = "image" if source.suffix.lower() in IMAGE_EXTS else "video"
        fp = FilePlan(source, output, kind)
        plans.append(fp)
        if output.exists() and not config.overwrite and not fp.parts.exists():  # parts: a later run was cut short
            fp.status = "skipped"
            continue
        try:
            if kind == "image":
                fp.units = [Unit("image", f"{output.name}#0", str(source), output.suffix.lower())]
                fp.frames = 1
            else:
                probe_video(fp, config)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported by name, the others go on
            fp.status, fp.reason = "failed", reason_of(exc)
            continue
        fp.pending = list(fp.units) if kind == "image" else resume(fp, config)
    return plans


def reason_of(exc: BaseException) -> str:
    return first_line(exc) if not getattr(exc, "strerror", None) else str(exc.strerror)  # type: ignore[attr-defined]


def probe_video(fp: FilePlan, config: BatchConfig) -> None:
    import av

    with av.open(str(fp.source)) as container:
        if not container.streams.video:
            raise UserError("no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        fps = float(rate)
        tb = stream.time_base or Fraction(1, 90000)  # read while open: a closed stream's fields are freed memory
        times: list[int | None] = [(p.pts if p.pts is not None else p.dts) for p in container.demux(stream) if p.size]
    if not times:
        raise UserError("no video frames")
    timed = None not in times and len(set(times)) == len(times)
    pts = sorted(t for t in times if t is not None) if timed else []
    fp.frames, fp.fps = len(times), fps
    step = config.segment_frames if timed else len(times)
    suffix = fp.output.suffix.lower()
    units = []
    for index, start in enumerate(range(0, len(times), step)):
        stop = min(start + step, len(times))
        warm = max(0, start - config.overlap) if timed else 0
        units.append(Unit("segment", f"{fp.output.name}#{index}", str(fp.source), suffix, index, start, stop, warm,
                          pts[warm] if timed else 0, pts[start] if timed else 0, pts[stop - 1] if timed else 0,
                          pts[0] if timed else 0, tb.numerator, tb.denominator, fps, timed))
    fp.units = units


def resume(fp: FilePlan, config: BatchConfig) -> list[Unit]:
    """The units whose finished part is not there yet; parts of another source version or
    other options are removed first."""
    stat = fp.source.stat()
    state = {"source": str(fp.source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
             "options": config.fingerprint(), "units": len(fp.units)}
    marker = fp.parts / "plan.json"
    if fp.parts.exists():
        try:
            old = json.loads(marker.read_text())
        except (OSError, ValueError):
            old = None
        if old != state or config.overwrite:
            log.info("%s: earlier parts are from %s: starting over", fp.name,
                     "--overwrite" if config.overwrite else "another source or other options")
            shutil.rmtree(fp.parts)
    if not fp.parts.exists():
        fp.parts.mkdir(parents=True)
        tmp = marker.with_name("plan.json.partial")
        tmp.write_text(json.dumps(state))
        tmp.replace(marker)
    return [u for u in fp.units if not fp.part(u).exists()]
