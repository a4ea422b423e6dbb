"""The filtered video written to a file: H.264 through PyAV, in a file that survives a crash.

* **Codec**: H.264, yuv420p (what every browser and player decodes). ``h264_nvenc`` where an
  NVIDIA driver is there and the encoder opens, else ``libx264`` with a real-time preset
  (``veryfast``, ``zerolatency``: no frames held back, ~1-3 ms a 640x480 frame).
* **Crash-proof**: an .mp4/.m4v/.mov is a *fragmented* MP4 (``frag_keyframe+empty_moov+
  default_base_moof``) with a keyframe every second of stream time: each fragment is written
  out whole with its own index, so a run killed with SIGKILL (or a power cut) loses at most the
  last second. ``flush_packets`` also hands every packet to the file at once (FFmpeg's MP4
  muxer then closes a fragment per frame): in practice a kill loses only the last few frames
  (a kill -9 after 8 s: 8.0 s readable). A plain MP4 has its only index written at the end: a
  killed run left nothing readable.
  ``.mkv`` is Matroska (also readable up to the last cluster), ``.avi`` AVI.
* **Timing**: each frame's pts is its stream time (a file's own clock, a camera's wall clock;
  :meth:`VideoFileSink.send`), in 1/90 000 s: a paced run that drops frames, or a slow filter
  that repeats them, keeps the source's timing; the sound (:mod:`realtime.sinks.audio`) is
  placed by the same clock.
* **Errors**: a write that fails (a full disk) stops the writing, keeps the run going, and is
  one :class:`UserError` line at :meth:`VideoFileSink.close`; a file no frame reached is removed.
"""
from __future__ import annotations

import errno
import logging
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import UserError

log = logging.getLogger(__name__)
# output suffix -> PyAV (FFmpeg) container format
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
FRAGMENTED = {"mp4", "mov"}
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
TIME_BASE = Fraction(1, 90000)
KEYFRAME_S = 1.0  # at most this much is lost when the process is killed
HINT = "the disk may be full, or the folder was removed during the run"


@dataclass(frozen=True)
class Encoder:
    codec: str
    options: dict[str, str]


X264 = Encoder("libx264", {"preset": "veryfast", "tune": "zerolatency"})
NVENC = Encoder("h264_nvenc", {"preset": "p3", "tune": "ll", "zerolatency": "1"})
_nvenc_opens: bool | None = None


def container_format(path: Path) -> str:
    """The PyAV format for ``path``'s suffix; one :class:`UserError` line for any other name
    or a format this FFmpeg build cannot write (checked before any work: no file is made)."""
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        names = list(CONTAINERS)
        raise UserError(f"--output {path}: name the video {', '.join(names[:-1])} or {names[-1]}, e.g. "
                        f"{path.with_suffix('.mp4').name}")
    import av.format

    try:
        av.format.ContainerFormat(fmt, "w")
    except ValueError:
        raise UserError(f"--output {path}: this PyAV/FFmpeg build cannot write {fmt} files: use a .mp4 name") from None
    return fmt


def nvidia_present() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


def pick_encoder(which: str = "auto") -> Encoder:
    """``auto``: NVENC when an NVIDIA driver is there and a test encoder opens (cached), else
    libx264; ``libx264`` or ``h264_nvenc`` to force one (a forced NVENC that does not open
    falls back too: a recording never fails for want of a GPU encoder)."""
    global _nvenc_opens
    if which == "libx264" or (which == "auto" and not nvidia_present()):
        return X264
    if _nvenc_opens is None:
        import av

        try:
            ctx = av.CodecContext.create(NVENC.codec, "w")
            ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
            ctx.time_base = TIME_BASE
            ctx.options = dict(NVENC.options)
            ctx.open()
            ctx.close() if hasattr(ctx, "close") else None
            _nvenc_opens = True
        except Exception as exc:  # no GPU encoder (a GPU without NVENC, no driver, all sessions taken)
            log.info("h264_nvenc does not open (%s): encoding with libx264", str(exc).splitlines()[0] if str(exc) else exc)
            _nvenc_opens = False
    return NVENC if _nvenc_opens else X264


class VideoFileSink:
    """H.264 video (and the source's sound, ``audio_from``) in ``path``; ``frames`` counts the
    frames sent, for :func:`realtime.sinks.outputs.verify_video` after :meth:`close`."""

    timed = True  # the live loop passes each frame's stream time to send()

    def __init__(self, path: Path, size: tuple[int, int], fps: float, audio_from: Path | None = None,
                 encoder: str = "auto") -> None:
        import av

        self.path, self.size, self.fps = path, tuple(size), fps
        self.format = container_format(path)
        # AVI has one frame rate and no timestamps: its ticks are frames (a re-sent frame that
        # would share a tick with the next one goes one tick later)
        self.time_base = 1 / Fraction(fps).limit_denominator(1001) if self.format == "avi" else TIME_BASE
        self.frames = 0
        self.written = 0
        self.closed = False
        self.error: BaseException | None = None
        self.last_pts: int | None = None
        self._last_t: float | None = None  # the last stream time given, and when it was sent
        self._last_wall = 0.0
        self._timed = False
        self._last_key: float | None = None
        # yuv420p needs even sides: an odd column/row is cropped (1 pixel)
        self.encoded_size = (size[0] - size[0] % 2, size[1] - size[1] % 2)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.encoder = pick_encoder(encoder)
        try:
            self.container, self.stream = self._open(self.encoder)
        except (av.FFmpegError, ValueError) as exc:
            if self.encoder is X264:
                raise UserError(f"cannot encode H.264 into {path}: {_reason(exc)}") from None
            log.info("%s refused this video (%s): encoding with libx264", self.encoder.codec, _reason(exc))
            self.encoder = X264
            self.container, self.stream = self._open(X264)
        self.audio = None
        if audio_from is not None and self.format == "avi":  # one frame rate, no timestamps: no sync to keep it in
            log.warning("%s: an .avi file gets no sound (name it .mp4 or .mkv to keep the sound)", path)
        elif audio_from is not None:
            from realtime.sinks.audio import AudioCarrier

            self.audio = AudioCarrier(audio_from, self.container)
            if self.audio.stream is None:
                self.audio = None
        log.info("recording %s: %s %dx%d, %s%s", path, self.encoder.codec, *self.encoded_size, self.format,
                 " (fragmented: a crash loses at most the last second)" if self.format in FRAGMENTED else "")

    def _open(self, encoder: Encoder) -> tuple[Any, Any]:
        """The output container and its opened H.264 stream (the container closed again when
        the encoder refuses, so that another can be tried on a fresh file)."""
        import av

        options = {"movflags": MOVFLAGS, "flush_packets": "1"} if self.format in FRAGMENTED else {}
        try:
            container = av.open(str(self.path), "w", format=self.format, options=options)
        except (av.FFmpegError, OSError) as exc:
            raise UserError(f"cannot write video {self.path} ({_reason(exc)}): use a .mp4 name in a writable folder") from None
        try:
            return container, self._video_stream(container, encoder)
        except BaseException:
            container.close()
            raise

    def _video_stream(self, container: Any, encoder: Encoder) -> Any:
        gop = max(1, round(self.fps * KEYFRAME_S))
        stream = container.add_stream(encoder.codec, rate=Fraction(self.fps).limit_denominator(1001),
                                           options={**encoder.options, "g": str(gop), "keyint_min": str(gop)})
        stream.width, stream.height = self.encoded_size
        stream.pix_fmt = "yuv420p"
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        stream.codec_context.gop_size = gop
        stream.codec_context.open()  # options refused here, not at the first frame
        return stream

    def send(self, bgr: np.ndarray, t: float | None = None) -> None:
        """One frame at stream time ``t`` (seconds). Without ``t`` (a frame re-sent because
        inference is behind) it is placed the wall time since the last timed frame after that
        frame; a sink never given a time writes a constant ``fps``."""
        now = time.perf_counter()
        if t is not None:
            self._timed = True
            self._last_t, self._last_wall = t, now
            at = t
        elif self._timed and self._last_t is not None:
            at = self._last_t + (now - self._last_wall)
        else:
            at = self.frames / self.fps
        self.frames += 1
        if self.error is not None:
            return
        pts = round(at / self.time_base)
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # a re-sent frame ran past the next result's time: keep the order
        try:
            self._write(bgr, pts)
        except Exception as exc:  # a full disk, a removed folder: the run goes on, close() says it
            self.error = exc
            log.debug("writing %s failed", self.path, exc_info=True)

    def _write(self, bgr: np.ndarray, pts: int) -> None:
        import av

        w, h = self.encoded_size
        if bgr.shape[1] != w or bgr.shape[0] != h:
            bgr = np.ascontiguousarray(bgr[:h, :w])
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts, frame.time_base = pts, self.time_base
        at = float(pts * self.time_base)
        if self._last_key is None or at - self._last_key >= KEYFRAME_S - 1e-3:
            frame.pict_type = av.video.frame.PictureType.I  # a keyframe each second of stream time, whatever frames were dropped
            self._last_key = at
        if self.audio is not None:
            self.audio.write_until(float(pts * self.time_base), self.container)
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.last_pts = pts
        self.written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file; a second call does nothing. A file no frame
        reached is removed rather than left looking like a result. A write that failed during
        the run is one :class:`UserError` line here (after the file is closed)."""
        if self.closed:
            return
        self.closed = True
        if self.error is None and self.written:
            try:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
                if self.audio is not None:  # the sound up to the end of the last frame
                    self.audio.write_until(float(self.last_pts * self.time_base) + 1 / self.fps, self.container)
            except Exception as exc:
                self.error = exc
        if self.audio is not None:
            try:
                self.audio.close(self.container if self.error is None and self.written else None)
            except Exception as exc:
                self.error = self.error or exc
        try:
            self.container.close()
        except Exception as exc:
            self.error = self.error or exc
        if self.frames == 0 or self.written == 0 and self.error is None:
            log.warning("no frames reached %s: removed the empty file", self.path)
            try:
                self.path.unlink()
            except OSError:
                pass
            return
        if self.error is not None:
            raise UserError(f"cannot write the video {self.path} after {self.written} of {self.frames} frames "
                            f"({_reason(self.error)}): {HINT}")


def _reason(exc: BaseException) -> str:
    no = getattr(exc, "errno", None)
    if no in (errno.EFBIG, errno.ENOSPC):
        return os.strerror(no)
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
