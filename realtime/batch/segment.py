"""One unit of work where it runs: a segment decoded (its warm-up frames first), filtered and
encoded to H.264, or an image filtered and encoded; the bytes come back to the driver.

A :class:`ChainWorker` is one process's (or one Ray actor's) loaded chain: the models load once
(0.3-1 s each on CPU) and serve every unit it gets. Each segment gets a fresh
:class:`~realtime.live.process.FrameProcessor` (the live tool's own: tracking, temporal
stabilisation), so a segment is filtered exactly as the live command would filter the same
frames from its warm-up frame on; the warm-up's output is dropped.

Encoding: libx264 ``veryfast``, CRF 18 by default (``--crf``; close to the source at ~1-2 MB per 10 s at 640x480),
no B-frames (a packet's decode time is its presentation time, so segments made apart remux
into one file with times that only ever rise), one thread (the workers are the parallelism;
a second x264 thread per worker on 2 cores only adds switching).
"""
from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from typing import Any, Iterator

import numpy as np

from realtime.batch.config import FilterJob
from realtime.batch.plan import OUT_TIME_BASE, Unit, reason_of
from realtime.memory import keep_freed_memory

log = logging.getLogger(__name__)
X264_OPTIONS = {"preset": "veryfast", "bf": "0", "threads": "1"}
START_TAG = "realtime-batch start pts 1/90000: "
KEYFRAME_S = 2.0  # a keyframe every 2 s of stream time (and at every segment's start)


@dataclass(frozen=True)
class UnitResult:
    key: str
    ok: bool
    error: str = ""
    frames: int = 0  # frames written (warm-up frames not counted)
    seconds: float = 0.0  # the unit's time in the worker
    data: bytes = b""  # the finished segment (MP4) or image file

    def to_row(self) -> dict[str, object]:
        return asdict(self)


def single_threaded() -> None:
    """One thread per worker for every native library that would start one per core."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    import cv2

    cv2.setNumThreads(1)


class ChainWorker:
    """The loaded chain of one worker; ``worker(unit)`` never raises for a bad file: the
    result says what went wrong."""

    def __init__(self, job: FilterJob, own_process: bool = True) -> None:
        """``own_process``: the process is this worker's alone (a pool's, an actor's): its
        native libraries are set to one thread."""
        from realtime.filters.chain import build_chain
        from realtime.filters.kinds.base import Settings
        from realtime.filters.loading import ModelLoader

        if own_process:
            single_threaded()
        keep_freed_memory()  # frames' arrays reused, not faulted in anew (realtime.memory)
        provider = "cuda" if job.gpu and job.provider == "auto" else job.provider
        self.job = job
        self.loader = ModelLoader(provider, job.variant, job.threads, work_size=job.work_size)
        self.settings = Settings(work_size=job.work_size, region=job.filter_region)
        self.chain = build_chain(job.filter, self.loader, self.settings)

    def __call__(self, unit: Unit) -> UnitResult:
        start = time.perf_counter()
        try:
            data, frames = self.segment(unit) if unit.kind == "segment" else self.image(unit)
        except Exception as exc:  # noqa: BLE001 - a corrupt file fails its unit, the worker serves the next
            log.debug("%s failed", unit.key, exc_info=True)
            return UnitResult(unit.key, False, reason_of(exc), seconds=time.perf_counter() - start)
        return UnitResult(unit.key, True, "", frames, time.perf_counter() - start, data)

    def image(self, unit: Unit) -> tuple[bytes, int]:
        import cv2

        from realtime.compositing.background import parse_background
        from realtime.errors import UserError

        data = np.fromfile(unit.source, np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if bgr is None:
            raise UserError("not an image OpenCV can decode")
        backdrop = parse_background(self.job.background)
        try:
            out = self.chain.apply(bgr, replace(self.settings, strength=self.job.strength, latent=self.job.latent,
                                                background=backdrop))
        finally:
            getattr(backdrop, "close", lambda: None)()
        params = [cv2.IMWRITE_JPEG_QUALITY, 95] if unit.suffix in (".jpg", ".jpeg") else []
        ok, encoded = cv2.imencode(unit.suffix, out, params)
        if not ok:
            raise UserError(f"cannot encode {unit.suffix}")
        return encoded.tobytes(), 1

    def segment(self, unit: Unit) -> tuple[bytes, int]:
        from realtime.analysis.analysers import AnalysisOptions
        from realtime.compositing.background import parse_background
        from realtime.errors import UserError
        from realtime.live.controls import ControlState
        from realtime.live.process import FrameProcessor

        state = ControlState(strength=self.job.strength, latent=self.job.latent)
        # a fresh backdrop and processor: a segment starts from nothing, as the live tool would
        processor = FrameProcessor([self.chain], self.job.track, self.job.temporal,
                                   [parse_background(self.job.background)], options=AnalysisOptions())
        buffer = io.BytesIO()
        encoder = SegmentEncoder(buffer, unit.fps, self.job.crf)
        try:
            for t, keep, bgr in decoded(unit):
                out = processor(bgr, t, state).image
                if keep:
                    encoder.write(out, t)
            encoder.close()
        finally:
            encoder.abort()
            processor.close()
        if encoder.frames == 0:
            raise UserError(f"no frames decoded in frames {unit.start}..{unit.stop - 1}")
        return buffer.getvalue(), encoder.frames


def decoded(unit: Unit) -> Iterator[tuple[float, bool, np.ndarray]]:
    """(time from the video's first frame, whether the frame is kept, BGR) for the frames
    ``unit.warm .. unit.stop - 1``. Seeks to the keyframe at or before the warm-up frame; a
    container whose seek lands after it is read from its start instead."""
    import av

    tb = Fraction(unit.tb_num, unit.tb_den)
    with av.open(unit.source) as container:
        stream = container.streams.video[0]
        if unit.timed and unit.warm > 0:
            container.seek(unit.warm_pts, stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None or _pts(first) is None or _pts(first) > unit.warm_pts:
                log.debug("%s: the seek landed past frame %d: decoding from the start", unit.key, unit.warm)
                container.seek(0, stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
            else:
                frames = _chain(first, frames)
        else:
            frames = container.decode(stream)
        for index, frame in enumerate(frames):
            if unit.timed:
                pts = _pts(frame)
                if pts is None or pts < unit.warm_pts:
                    continue
                if pts > unit.last_pts:
                    break
                yield float((pts - unit.origin_pts) * tb), pts >= unit.start_pts, frame.to_ndarray(format="bgr24")
            else:
                yield index / unit.fps, True, frame.to_ndarray(format="bgr24")


def _pts(frame: Any) -> int | None:
    return frame.pts if frame.pts is not None else frame.dts


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


class SegmentEncoder:
    """H.264 in a fragmented MP4 written to ``target`` (a file-like object or a path); the size is
    the first frame's (odd sides cropped by one pixel: yuv420p needs even ones)."""

    def __init__(self, target: Any, fps: float, crf: int = 18) -> None:
        import av

        # MP4 keeps no exact start time: a plain one that starts later than 0 gets an edit list
        # in the movie's 1/1000 s (a segment from 0.6667 s read back from 0.666 s), a
        # fragmented one starts at 0. So the segment is fragmented (its frames' times relative
        # to its first frame, exact in 1/90 000 s) and its first frame's time goes in the file's
        # comment (START_TAG), which the join adds back.
        self.container = av.open(target, "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"})
        self.fps, self.crf = fps, crf
        self.stream: Any = None
        self.frames = 0
        self.last_pts: int | None = None
        self.closed = False

    def _open(self, w: int, h: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        gop = max(1, round(self.fps * KEYFRAME_S))
        self.stream = self.container.add_stream("libx264", rate=rate, options={**X264_OPTIONS, "crf": str(self.crf), "g": str(gop)})
        self.stream.width, self.stream.height = w - w % 2, h - h % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = OUT_TIME_BASE
        self.stream.codec_context.time_base = OUT_TIME_BASE

    def write(self, bgr: np.ndarray, t: float) -> None:
        import av

        pts = round(t / OUT_TIME_BASE)
        if self.stream is None:
            self._open(bgr.shape[1], bgr.shape[0])
            self.container.metadata["comment"] = f"{START_TAG}{pts}"  # written with the header, at the first packet
        w, h = self.stream.width, self.stream.height
        if bgr.shape[1] != w or bgr.shape[0] != h:
            bgr = np.ascontiguousarray(bgr[:h, :w])
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts, frame.time_base = pts, OUT_TIME_BASE
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.last_pts = pts
        self.frames += 1

    def close(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        self.closed = True
        self.container.close()

    def abort(self) -> None:
        """Close without finishing (after an error); nothing after :meth:`close`."""
        if not self.closed:
            self.closed = True
            try:
                self.container.close()
            except Exception:  # noqa: BLE001 - the error that stopped the segment matters more
                log.debug("closing an unfinished segment failed", exc_info=True)
