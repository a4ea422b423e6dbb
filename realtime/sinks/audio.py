"""The source video's sound carried into the filtered video, in sync.

The filtered frames carry their stream time (a file's own clock: frame ``i`` is at ``i / fps``
from the file's first video frame), so the sound needs no clock of its own: each audio packet
of the source is written at its own time minus the source's video start, and the video sink
interleaves them by time (:meth:`AudioCarrier.write_until` before each video frame). Frames that
are dropped, repeated or processed ``--fast`` do not move the sound: only the video's
timestamps say where each picture belongs.

The packets are stream-copied when the output container takes their codec (AAC, MP3, ALAC,
AC-3 into MP4/MOV; anything into MKV); otherwise they are decoded and re-encoded to AAC. A source
whose sound cannot be decoded gives a video without sound and one warning line. The sound
stops where the video stops; a ``--loop`` source has sound for its first pass only (a second
pass would need the file's exact video length to offset the sound by, which the frame count of
a variable-rate file does not give).
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import av.logging

from realtime.native import quiet_native_stderr

log = logging.getLogger(__name__)
# codecs each output format takes as they are (else re-encoded to AAC)
COPYABLE: dict[str, set[str] | None] = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s16be"},
    "matroska": None,  # None: any codec
}
DECODE_PROBE_PACKETS = 8  # packets decoded at open to know the sound decodes at all


AAC_BIT_RATE = 128_000


def _aac(rate: int, layout: str) -> Any:
    ctx = av.CodecContext.create("aac", "w")
    ctx.sample_rate, ctx.layout, ctx.format, ctx.bit_rate = rate, layout, "fltp", AAC_BIT_RATE
    ctx.time_base = Fraction(1, rate)
    return ctx


class AudioCarrier:
    """The first audio stream of ``source`` written into ``output`` (an open PyAV output
    container, before its first packet). ``stream`` is None when the source has no usable
    sound (then every call does nothing)."""

    def __init__(self, source: Path, output: Any) -> None:
        self.stream: Any = None
        self.copy = False
        self.done = False
        self.written = 0
        self._pending: Any = None
        self._input: Any = None
        self._packets: Iterator[Any] | None = None
        try:
            self._input = av.open(str(source))
        except (av.FFmpegError, OSError) as exc:
            log.warning("the sound of %s cannot be read (%s): writing the video without sound", source.name, exc)
            return
        if not self._input.streams.audio:
            log.info("%s has no sound", source.name)
            self._close_input()
            return
        self._in = self._input.streams.audio[0]
        video = self._input.streams.video[0] if self._input.streams.video else None
        # time 0 of the filtered video is the source's first video frame
        self.start_s = float(video.start_time * video.time_base) if video is not None and video.start_time is not None else 0.0
        with quiet_native_stderr(), av.logging.Capture():  # FFmpeg's lines about bad data: the warning says it once
            reason = self._decodes()
        if reason is not None:
            log.warning("the sound of %s cannot be decoded (%s): writing the video without sound", source.name, reason)
            self._close_input()
            return
        self._input.seek(0)
        codec = self._in.codec_context.name
        allowed = COPYABLE.get(output.format.name, set())
        self.copy = allowed is None or codec in allowed
        try:
            if self.copy:
                self.stream = output.add_stream_from_template(self._in)
            else:
                rate = self._in.codec_context.sample_rate or 48000
                layout = "mono" if self._in.codec_context.layout.nb_channels == 1 else "stereo"
                _aac(rate, layout).open()  # refused here, before a stream is added to the file
                self.stream = output.add_stream("aac", rate=rate, layout=layout, format="fltp")
                self.stream.codec_context.bit_rate = AAC_BIT_RATE
        except (av.FFmpegError, ValueError) as exc:
            log.warning("the sound of %s (%s) cannot go into a .%s file (%s): writing the video without sound",
                        source.name, codec, output.format.name, exc)
            self.stream = None
            self._close_input()
            return
        self._packets = self._input.demux(self._in)
        log.info("sound of %s: %s, %s", source.name, codec, "copied" if self.copy else "re-encoded to AAC")

    def _decodes(self) -> str | None:
        """None when the first packets decode to samples, else the reason."""
        try:
            got = 0
            for i, packet in enumerate(self._input.demux(self._in)):
                got += len(packet.decode()) if packet.size else 0
                if got or i >= DECODE_PROBE_PACKETS:
                    break
            return None if got else "no samples in its first packets"
        except (av.FFmpegError, ValueError) as exc:
            return getattr(exc, "strerror", None) or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def write_until(self, t_s: float, output: Any) -> None:
        """Write every packet that starts before ``t_s`` (seconds of the filtered video)."""
        if self.stream is None or self.done:
            return
        while True:
            packet = self._pending or self._next()
            self._pending = None
            if packet is None:
                self._finish(output)
                return
            at = float(packet.pts * packet.time_base) - self.start_s
            if at >= t_s:
                self._pending = packet
                return
            if at < 0:
                continue  # before the first video frame
            self._write(packet, at, output)

    def _next(self) -> Any:
        assert self._packets is not None
        for packet in self._packets:
            if packet.pts is not None and packet.size:
                return packet
        return None

    def _write(self, packet: Any, at: float, output: Any) -> None:
        if self.copy:
            shift = round(self.start_s / packet.time_base)
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self.stream
            output.mux(packet)
            self.written += 1
            return
        for frame in packet.decode():
            frame.pts = round(at * frame.sample_rate)
            frame.time_base = Fraction(1, frame.sample_rate)
            self._mux_encoded(self.stream.encode(frame), output)

    def _mux_encoded(self, packets: list[Any], output: Any) -> None:
        """The AAC encoder's first packet is its priming (pts -1024): a fragmented MP4 cannot
        hold it in an edit list, and the muxer would shift every stream, the video too, by
        21 ms to make its time 0. It is left out (the first 21 ms of sound decode without it)."""
        for out in packets:
            if out.pts is not None and out.pts < 0:
                continue
            output.mux(out)
            self.written += 1

    def _finish(self, output: Any) -> None:
        """The encoder's last packets (re-encoding); nothing more is written after this."""
        if self.done:
            return
        self.done = True
        if self.stream is not None and not self.copy:
            self._mux_encoded(self.stream.encode(None), output)
        self._close_input()

    def close(self, output: Any | None) -> None:
        """At the end of the video: flush what was taken (not the rest of the file)."""
        try:
            if output is not None and self.stream is not None:
                self._finish(output)
        finally:
            self._close_input()

    def _close_input(self) -> None:
        if self._input is not None:
            try:
                self._input.close()
            except Exception:  # closing a reader cannot lose anything
                log.debug("closing the sound's source failed", exc_info=True)
            self._input = None
