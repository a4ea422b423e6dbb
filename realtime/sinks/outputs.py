"""The files a run writes: checked before any work starts, verified after they are closed.

The stats file is written at the very end and the video after minutes or hours of work, so a
path that cannot be written, found only then, loses the whole run; and a path that is the
source video (or a link to it) destroys the user's input. :func:`check_outputs` refuses such
paths up front (a few stat calls and one probe file, ~1 ms); :func:`verify_video` reopens the
finished video, since OpenCV's writer reports no write error: on a full disk it "succeeds"
and leaves an mp4 without its index (unplayable) or an avi with fewer frames.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import cv2

from realtime.errors import UserError
from realtime.native import quiet_native_stderr

log = logging.getLogger(__name__)
# what VideoFileSink writes (mp4v in the first three, MJPG in the others); OpenCV refuses the
# rest only when the writer opens, after the models have loaded, with C++ errors on stderr
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")


def input_path(text: str | None) -> Path | None:
    """The file behind a --source value (None for a camera index, 'synthetic' or a missing path)."""
    if text is None:
        return None
    text = str(text).strip()
    if not text or text.isdigit() or text == "synthetic":
        return None
    path = Path(text).expanduser()
    return path if path.exists() else None


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
        example = path / ("out.mp4" if flag == "--output" else "stats.json")
        raise UserError(f"{flag} {path} is a folder: give a file name in it, e.g. {example}")
    if flag == "--output" and path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UserError(f"{flag} {path}: name the video {', '.join(VIDEO_SUFFIXES[:-1])} or {VIDEO_SUFFIXES[-1]}, e.g. "
                        f"{path.with_suffix('.mp4').name}")
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
    """After the writer is closed: the file exists, reopens, says it holds the ``frames``
    written (1 less tolerated: containers that count by duration round) and its last frame
    decodes. Reads 2 frames whatever the length (~10 ms). Nothing to check when no frame was
    written (the sink removed the empty file)."""
    if frames == 0:
        return
    hint = "the disk may be full, or the folder was removed during the run"
    try:
        size = path.stat().st_size
    except OSError:
        raise UserError(f"the video {path} is missing after writing {frames} frames: {hint}") from None
    with quiet_native_stderr():  # FFmpeg's own "moov atom not found" line: the error below says it
        cap = cv2.VideoCapture(str(path))
        try:
            opened = cap.isOpened()
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if opened else 0
            ok = opened and cap.read()[0]
            if ok and count > 1:
                cap.set(cv2.CAP_PROP_POS_FRAMES, count - 1)
                ok = cap.read()[0]
        finally:
            cap.release()
    if not opened or not ok:
        raise UserError(f"the video {path} is unreadable after writing {frames} frames ({size} bytes): {hint}")
    if count < frames - 1:
        raise UserError(f"the video {path} holds {count} of the {frames} frames written ({size} bytes): {hint}")
    log.debug("verified %s: %d frames, %d bytes", path, count, size)
