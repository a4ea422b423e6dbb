"""A file's finished segments joined in order into its output, without re-encoding, with the
source's sound; written as ``NAME.partial`` and renamed into place whole.

Remuxing copies the H.264 packets as they are (a 10 s 640x480 segment: ~5 ms), so the join
costs nothing next to the filtering. It works because every segment was encoded with the same
settings and size (the same stream header) and carries its frames' own times from the
source's first frame (:mod:`realtime.batch.segment`): the packets need no retiming. Segments
whose headers differ (made by another encoder, say) are refused with the reason, not joined
into a file players would show wrong.

The sound is :class:`realtime.sinks.audio.AudioCarrier` (the live tool's ``--output`` uses
it): each source audio packet before the next video packet's time, copied when the container
takes the codec, else re-encoded to AAC.
"""
from __future__ import annotations

import logging
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

from realtime.batch.plan import OUT_TIME_BASE
from realtime.errors import UserError

log = logging.getLogger(__name__)
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def partial_path(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def write_atomic(path: Path, data: bytes) -> None:
    """``path`` appears whole or not at all (a crash leaves only ``.partial``)."""
    tmp = partial_path(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def join(parts: list[Path], output: Path, audio_from: Path | None, fps: float) -> int:
    """Remux ``parts`` (in order) into ``output``; returns the number of video packets."""
    import av

    fmt = CONTAINERS.get(output.suffix.lower(), "mp4")
    tmp = partial_path(output)
    options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
    inputs = [av.open(str(p)) for p in parts]
    try:
        header = inputs[0].streams.video[0].codec_context.extradata
        for path, inp in zip(parts, inputs):
            if inp.streams.video[0].codec_context.extradata != header:
                raise UserError(f"{path.name} was encoded with other settings than {parts[0].name}: rerun with --overwrite")
        with av.open(str(tmp), "w", format=fmt, options=options) as out:
            video = out.add_stream_from_template(inputs[0].streams.video[0])
            audio = None
            if audio_from is not None:
                from realtime.sinks.audio import AudioCarrier

                audio = AudioCarrier(audio_from, out)
                if audio.stream is None:
                    audio = None
            packets, last = _copy(inputs, video, out, audio)
            if audio is not None:
                audio.write_until(last + 1 / fps, out)
                audio.close(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for inp in inputs:
            inp.close()
    os.replace(tmp, output)
    return packets


def start_of(inp: Any) -> Fraction:
    """A segment's first frame's time, which its file's comment holds (:mod:`.segment`)."""
    from realtime.batch.segment import START_TAG

    comment = str(inp.metadata.get("comment", ""))
    if not comment.startswith(START_TAG):
        raise UserError("a segment without its start time (made by another version): rerun with --overwrite")
    return int(comment[len(START_TAG):]) * OUT_TIME_BASE


def _copy(inputs: list[Any], video: Any, out: Any, audio: Any) -> tuple[int, float]:
    packets, last = 0, 0.0
    last_dts: Fraction | None = None
    for inp in inputs:
        start, shift = start_of(inp), None
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            if shift is None:  # the segment's first packet is its first frame (no B-frames)
                shift = round(start / packet.time_base) - packet.pts
            packet.pts += shift
            packet.dts += shift
            dts = packet.dts * packet.time_base
            if last_dts is not None and dts <= last_dts:  # the muxer would refuse it with a bare EINVAL
                raise UserError(f"{Path(inp.name).name}: a frame at {float(dts):.4f} s does not come after the one at "
                                f"{float(last_dts):.4f} s (segment start {float(start):.4f} s): rerun with --overwrite")
            last_dts = dts
            at = float(packet.pts * packet.time_base)
            if audio is not None:
                audio.write_until(at, out)
            packet.stream = video
            out.mux(packet)
            packets += 1
            last = max(last, at)
    return packets, last


def remove_parts(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()  # OUT/.batch, once no other file's parts are left in it
    except OSError:
        pass
