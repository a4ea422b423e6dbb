"""The files a run writes: checked before any work starts, verified after they are closed.

The stats file is written at the very end and the video after minutes or hours of work, so a
path that cannot be written, found only then, loses the whole run; and a path that is the
source video (or a link to it) destroys the user's input. :func:`check_outputs` refuses such
paths up front (a few stat calls and one probe file, ~1 ms); :func:`verify_video` reopens the
finished video (with PyAV): a file can be cut short by a full disk or a folder removed under
it, and a run that reports success must have its video whole.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from realtime.errors import UserError
from realtime.sinks.video_file import CONTAINERS, HINT, container_format

log = logging.getLogger(__name__)
# what VideoFileSink writes (H.264: fragmented MP4 in the first three, Matroska, AVI); any
# other name is refused before the models load (container_format), not when the file opens
VIDEO_SUFFIXES = tuple(CONTAINERS)


def same_file(a: Path, b: Path) -> bool:
    """One file under two names: equal resolved paths (symlinks, ``..``) or, where both exist,
    the same device and inode (hard links, bind mounts, case-insensitive file systems)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(outputs: dict[str, Path | None], inputs: list[tuple[str, Path | None]]) -> None:
    """Refuse, in one :class:`UserError` line, an output (flag → path) that is a folder or a
    device, that is one of the inputs ((flag, path) pairs) or another output, or whose folder cannot
    be created or written. Folders that do not exist yet are created (the run would create them)."""
    named = {flag: Path(p).expanduser() for flag, p in outputs.items() if p is not None}
    for flag, path in named.items():
        _check_kind(flag, path)
        for other_flag, other in inputs:
            if other is not None and same_file(path, other):
                raise UserError(f"{flag} {path} is the {other_flag} file {other}: writing it would destroy your input; "
                                "choose another file name")
    flags = list(named)
    for i, a in enumerate(flags):
        for b in flags[i + 1:]:
            if same_file(named[a], named[b]):
                raise UserError(f"{a} and {b} are the same file {named[a]}: give each its own name")
    for flag, path in named.items():
        _check_folder(flag, path)


def _check_kind(flag: str, path: Path) -> None:
    if path.is_dir():
        example = path / {"--output": "out.mp4", "--events": "events.jsonl"}.get(flag, "stats.json")
        raise UserError(f"{flag} {path} is a folder: give a file name in it, e.g. {example}")
    if flag == "--output":
        container_format(path)  # a name PyAV cannot write: one line, before any work
    if path.exists() and not path.is_file():
        raise UserError(f"{flag} {path} is not a regular file (a device, pipe or socket): give a file name in a folder")
    if path.is_file() and not os.access(path, os.W_OK):
        raise UserError(f"{flag} {path} is read-only: choose another file name or make it writable")


def _check_folder(flag: str, path: Path) -> None:
    """The nearest existing ancestor must be a folder; the folder is created and a probe file is
    written in it (permission bits do not tell: root ignores them, a read-only mount does not)."""
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{flag} {path}: {existing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot create the folder {folder} ({exc.strerror or exc})") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot write in the folder {folder} ({exc.strerror or exc})") from None


def verify_video(path: Path, frames: int) -> None:
    """After the writer is closed: the file exists, reopens, holds the ``frames`` written (1
    less tolerated) and its first and last frames decode. Counts packets without decoding
    them (~5 µs each: 0.5 s for an hour at 30 fps) and decodes the first frame and the last
    keyframe's group. Nothing to check when no frame was written (the sink removed the file)."""
    if frames == 0:
        return
    try:
        size = path.stat().st_size
    except OSError:
        raise UserError(f"the video {path} is missing after writing {frames} frames: {HINT}") from None
    count, ok = video_packets(path)
    if not ok:
        raise UserError(f"the video {path} is unreadable after writing {frames} frames ({size} bytes): {HINT}")
    if count < frames - 1:
        raise UserError(f"the video {path} holds {count} of the {frames} frames written ({size} bytes): {HINT}")
    log.debug("verified %s: %d frames, %d bytes", path, count, size)


def video_packets(path: Path) -> tuple[int, bool]:
    """(video packets in the file, whether its first and last frames decode)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0, False
            stream = container.streams.video[0]
            count, last_key = 0, None
            for packet in container.demux(stream):
                if packet.size:
                    count += 1
                    if packet.is_keyframe:
                        last_key = packet.pts
            if count == 0:
                return 0, False
            container.seek(0, stream=stream)
            first = next(iter(container.decode(stream)), None)
            container.seek(last_key or 0, stream=stream, backward=True)
            last = None
            for last in container.decode(stream):
                pass
            return count, first is not None and last is not None
    except (av.FFmpegError, OSError, StopIteration, ValueError):
        return 0, False
