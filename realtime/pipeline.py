"""The live loop: capture → process → output, each in its own thread, newest frame wins.

    capture thread ──Slot──► process thread ──Slot──► output (main thread, at least --fps)
    source.read, mirror      tracking, filter chain     preview + hotkeys, virtual cam, file

Every frame carries its id and capture time; the output records latency = output time −
capture time of the frame the result came from. Each result is sent as soon as it is ready;
when inference is slower than --fps, the output re-sends the newest finished result (or the
newest raw frame with ``repeat="raw"``) so a virtual camera keeps its frame rate. Unpaced sources (files processed
as fast as possible) use back-pressure instead of dropping frames.
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from realtime.errors import STOP_SIGNALS, exit_code, signal_name
from realtime.filters import FilterChain
from realtime.frames import Frame, Slot
from realtime.sinks import PreviewSink, Sink
from realtime.sources import Source
from realtime.stats import RunStats
from realtime.temporal import TemporalStabilizer
from realtime.tracking import FaceTracker

log = logging.getLogger(__name__)

HOTKEYS = """hotkeys: n/p next/previous filter   +/- strength   l next latent code   m mirror
         f or space toggle filter   s show stats   h this help   q or Esc quit"""


@dataclass
class PipelineConfig:
    fps: float = 30.0
    mirror: bool = False
    frames: int | None = None  # stop after this many output frames
    track: str = "auto"  # face tracking: "auto" (while the chain has a face filter), "always", "off"
    repeat: str = "result"  # when inference is behind: re-send the newest "result" or "raw" frame
    strength: float = 1.0
    latent: int = 0
    temporal: bool = True  # blend with the previous output where the input did not change


@dataclass
class Result:
    frame: Frame
    image: np.ndarray


class Controls:
    """Live settings changed by hotkeys; read by the process thread."""

    def __init__(self, cfg: PipelineConfig, options: int) -> None:
        self.strength, self.latent, self.mirror = cfg.strength, cfg.latent, cfg.mirror
        self.enabled, self.show_stats = True, False
        self.option, self.options = 0, options
        self.quit = False

    def handle(self, key: int) -> str | None:
        """Apply one key press; return a message to show, if any."""
        if key < 0:
            return None
        k = chr(key & 0xFF).lower() if (key & 0xFF) < 128 else ""
        if key & 0xFF == 27 or k == "q":
            self.quit = True
        elif k == "n":
            self.option = (self.option + 1) % self.options
        elif k == "p":
            self.option = (self.option - 1) % self.options
        elif k in "+=":
            self.strength = round(min(1.0, self.strength + 0.1), 2)
        elif k in "-_":
            self.strength = round(max(0.0, self.strength - 0.1), 2)
        elif k == "l":
            self.latent += 1
        elif k == "m":
            self.mirror = not self.mirror
        elif k in "f ":
            self.enabled = not self.enabled
        elif k == "s":
            self.show_stats = not self.show_stats
        elif k == "h":
            print(HOTKEYS, flush=True)
        else:
            return None
        return k


class StopSignals:
    """While active: Ctrl-C, SIGTERM and SIGHUP ask the run to stop, and never interrupt the
    shutdown that follows.

    The first signal is recorded and the output loop stops within 0.1 s; later ones (a second
    Ctrl-C, ``timeout`` sending its signal to the child and then to the whole group) are only
    counted and logged: raised as KeyboardInterrupt in the middle of the shutdown they left
    the video without its index (44 bytes) and no stats, and the interpreter exited with the
    process thread still inside MediaPipe, which aborts it (``terminate called without an
    active exception``, exit 134). The handler itself only assigns attributes: a handler that
    logs or sets an Event can re-enter the stderr write or the Event's lock it interrupted.
    A signal that was ignored when we started (``nohup`` ignores SIGHUP) stays ignored.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.ignored: list[int] = []
        self._reported = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # signal.signal works in the main thread only
        for sig in (signal.SIGINT, *STOP_SIGNALS):
            current = signal.getsignal(sig)
            if current in (signal.SIG_IGN, None):
                continue
            self._previous[sig] = current
            signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
        self.report()

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        else:
            self.ignored.append(signum)

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str | None:
        return signal_name(self.signum) if self.signum is not None else None

    def report(self) -> None:
        """Log the signals ignored since the last call (from the main thread, not the handler)."""
        new, self._reported = self.ignored[self._reported:], len(self.ignored)
        for signum in new:
            log.warning("%s ignored: still closing the outputs", signal_name(signum))


_stragglers: list[threading.Thread] = []


def _exit_before_teardown(grace: float = 2.0) -> None:
    """atexit, where a pipeline thread did not stop in time (a model switch building a TensorRT
    engine, a camera that stopped answering): the interpreter's teardown makes a daemon thread
    still inside C++ (MediaPipe, ONNX Runtime, OpenCV) exit through frames that may not unwind,
    and the process aborts (``terminate called without an active exception``, exit 134). The
    outputs were closed before the run returned, so flush what is printed and end here."""
    deadline = time.monotonic() + grace
    for t in _stragglers:
        t.join(max(deadline - time.monotonic(), 0.0))
    alive = [t.name for t in _stragglers if t.is_alive()]
    if alive:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(exit_code())


def _leave_behind(threads: list[threading.Thread]) -> None:
    if not _stragglers:
        atexit.register(_exit_before_teardown)
    _stragglers.extend(threads)


class Pipeline:
    def __init__(
        self, source: Source, load_chain: Callable[[int], FilterChain], options: int, sinks: list[Sink],
        preview: PreviewSink | None, cfg: PipelineConfig, stats: RunStats | None = None,
    ) -> None:
        self.source, self.load_chain, self.sinks, self.preview, self.cfg = source, load_chain, sinks, preview, cfg
        self.controls = Controls(cfg, options)
        self.stats = stats or RunStats()
        self.captured: Slot[Frame] = Slot()
        self.results: Slot[Result] = Slot()
        self.stop = threading.Event()
        self.latest_raw: Frame | None = None
        self.paced = source.live or source.paced
        if cfg.track not in ("auto", "always", "off"):
            raise ValueError(f"track must be auto, always or off, got {cfg.track!r}")
        self.tracker: FaceTracker | None = None
        self.stabilizer = TemporalStabilizer() if cfg.temporal else None
        self.chain = load_chain(0)
        if self._tracking():
            self.tracker = FaceTracker()  # MediaPipe starts before the first frame, not during it
        self.errors: list[BaseException] = []
        self.signals: StopSignals | None = None
        self.join_timeout = 5.0  # seconds for the threads to finish their frame at the end

    # ------------------------------------------------------------------ threads
    def _capture(self) -> None:
        period = 1.0 / self.cfg.fps
        next_t = time.perf_counter()
        frame_id = 0
        try:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                image = self.source.read()
                if image is None:
                    break
                if self.controls.mirror:
                    image = cv2.flip(image, 1)
                now = time.perf_counter()
                frame = Frame(frame_id, now, image, {"capture": (now - t0) * 1000})
                frame_id += 1
                self.stats.frames_captured += 1
                self.latest_raw = frame
                if self.paced:
                    self.captured.put(frame)
                    if not self.source.live:  # files/images/synthetic: real-time pacing
                        next_t += period
                        delay = next_t - time.perf_counter()
                        if delay > 0:
                            time.sleep(delay)
                        else:
                            next_t = time.perf_counter()
                else:
                    self.captured.put_when_empty(frame, self.stop)
        except BaseException as exc:  # surfaced by run()
            self.errors.append(exc)
        finally:
            self.captured.close()

    def _process(self) -> None:
        option = 0
        try:
            while not self.stop.is_set():
                frame = self.captured.take(timeout=0.1)
                if frame is None:
                    if self.captured.closed:
                        break
                    continue
                start = time.perf_counter()
                if self.controls.option != option:
                    option = self.controls.option
                    self.chain = self.load_chain(option)
                    if self.stabilizer is not None:
                        self.stabilizer.reset()
                    log.info("filter: %s", self.chain.name)
                    self.stats.filters = self.chain.name
                self._apply_controls()
                face = None
                if self._tracking():
                    t = time.perf_counter()
                    if self.tracker is None:  # a face filter was switched in
                        self.tracker = FaceTracker()
                    face = self.tracker.process(frame.image, frame.captured)
                    frame.stages["track"] = (time.perf_counter() - t) * 1000
                    self.stats.face_frames += face is not None
                image = self.chain.apply(frame.image, face, frame.stages)
                if self.stabilizer is not None and self.chain.enabled:
                    t = time.perf_counter()
                    image = self.stabilizer(frame.image, image)
                    frame.stages["temporal"] = (time.perf_counter() - t) * 1000
                frame.stages["process"] = (time.perf_counter() - start) * 1000
                # everything the loop does to a frame besides ONNX Runtime and MediaPipe
                frame.stages["non_inference"] = frame.stages["process"] - frame.stages.get("track", 0.0) - sum(
                    ms for name, ms in frame.stages.items() if name.startswith("infer:"))
                self.stats.frames_processed += 1
                for name, ms in frame.stages.items():
                    self.stats.stage(name, ms)
                result = Result(frame, image)
                if self.paced:
                    self.results.put(result)
                else:
                    self.results.put_when_empty(result, self.stop)
        except BaseException as exc:
            self.errors.append(exc)
            self.stop.set()
        finally:
            self.results.close()

    def _tracking(self) -> bool:
        """Track faces only where something uses them: frame filters do not need MediaPipe's
        ~10 ms a frame (``--track always`` runs it anyway, e.g. to measure it)."""
        return self.cfg.track == "always" or (self.cfg.track == "auto" and self.chain.needs_face)

    def _apply_controls(self) -> None:
        c = self.controls
        self.chain.enabled = c.enabled
        for f in self.chain.filters:
            f.settings.strength = c.strength
            f.model.set_latent(c.latent)

    # ------------------------------------------------------------------ output (main thread)
    def _send(self, result: Result, repeated: bool) -> None:
        image = result.image
        if repeated and self.cfg.repeat == "raw" and self.latest_raw is not None:
            image = self.latest_raw.image
        t0 = time.perf_counter()
        for sink in self.sinks:
            if hasattr(sink, "size") and tuple(getattr(sink, "size")) != (image.shape[1], image.shape[0]):
                image = cv2.resize(image, tuple(getattr(sink, "size")))
            sink.send(image)
        if self.preview is not None:
            self.preview.send(image, self._status())
            msg = self.controls.handle(self.preview.last_key)
            if msg == "s":
                print(self.stats.summary(self.captured.dropped), flush=True)
            if self.preview.closed_by_user:
                self.controls.quit = True
        now = time.perf_counter()
        self.stats.stage("output", (now - t0) * 1000)
        self.stats.output(now, result.frame.captured, repeated)

    def _status(self) -> str:
        s = self.stats
        text = f"{s.live_fps():4.1f} fps  {s.live_latency():4.0f} ms  {s.provider}  {self.chain.name}  strength {self.controls.strength:.1f}"
        if not self.controls.enabled:
            text += "  [off]"
        if self.controls.show_stats:
            text += f"  captured {s.frames_captured} processed {s.frames_processed} dropped {self.captured.dropped}"
        return text

    def _done(self) -> bool:
        n = self.cfg.frames
        return (self.controls.quit or self.stop.is_set() or (n is not None and self.stats.frames_output >= n)
                or (self.signals is not None and self.signals.requested))

    def _output_paced(self) -> None:
        """Send each new result the moment it is ready (no waiting for a tick: that would add
        up to a frame interval of latency); when none came for 1.5 frame intervals (jitter of
        a loop that keeps up is not a gap), re-send the newest one every interval so the
        virtual camera keeps its rate."""
        period = 1.0 / self.cfg.fps
        deadline = time.perf_counter() + 1.5 * period
        latest: Result | None = None
        while not self._done():
            # at most 0.1 s, so that a stop signal is seen within 0.1 s even at --fps 1
            item = self.results.take(timeout=min(max(deadline - time.perf_counter(), 0.0), 0.1))
            now = time.perf_counter()
            if item is not None:
                latest = item
                self._send(item, repeated=False)
                deadline = now + 1.5 * period
            elif self.results.closed:
                return  # the source ended and its last result was sent
            elif now >= deadline:
                if latest is not None:
                    self._send(latest, repeated=True)
                deadline += period
                if deadline <= now:  # far behind: do not burst re-sends
                    deadline = now + period

    def _output_unpaced(self) -> None:
        while not self._done():
            item = self.results.take(timeout=0.1)
            if item is None:
                if self.results.closed:
                    return
                continue
            self._send(item, repeated=False)

    def run(self, signals: StopSignals | None = None) -> dict:
        """Run until the source ends, --frames is reached, the user quits, Ctrl-C, SIGTERM or
        SIGHUP; then close everything in order and return the summary. ``signals``: a
        :class:`StopSignals` the caller keeps active past this call (to write the stats under
        it); without one the run installs its own."""
        if signals is None:
            with StopSignals() as own:
                return self.run(own)
        self.signals = signals
        self.stats.filters = self.chain.name
        threads = [threading.Thread(target=self._capture, name="capture", daemon=True),
                   threading.Thread(target=self._process, name="process", daemon=True)]
        for t in threads:
            t.start()
        try:
            if self.paced:
                self._output_paced()
            else:
                self._output_unpaced()
        except KeyboardInterrupt:  # no handler of ours (not the main thread's signals)
            log.info("stopping (Ctrl-C)")
            self.stats.stopped_by = "SIGINT"
        finally:
            if signals.requested:
                self.stats.stopped_by = signals.name
                how = log.info if signals.signum == signal.SIGINT else log.warning
                how("stopping (%s): closing the outputs", signals.name)
            self._shutdown(threads)
        if self.errors:
            raise self.errors[0]
        return self.stats.summary(self.captured.dropped)

    def _shutdown(self, threads: list[threading.Thread]) -> None:
        """Stop the threads, then close what each part owns, each step whatever the others do.

        The sinks (video, virtual camera) and the preview belong to this thread and are closed
        even when a thread does not stop; the source and the tracker belong to the capture and
        process threads and are closed only once those stopped (releasing a VideoCapture in the
        middle of its read() can crash). Threads finish their frame within ``join_timeout``
        (5 s: a frame takes ~1-300 ms); one that does not is left behind and the process ends
        without the interpreter's teardown (see :func:`_exit_before_teardown`)."""
        self.stop.set()
        self.captured.close()
        self.results.close()
        deadline = time.perf_counter() + self.join_timeout
        for t in threads:
            t.join(timeout=max(deadline - time.perf_counter(), 0.0))
        stuck = [t for t in threads if t.is_alive()]
        if stuck:
            log.warning("%s thread still busy after %.1f s; closing the outputs without it",
                        " and ".join(t.name for t in stuck), self.join_timeout)
            _leave_behind(stuck)
        closers: list[Callable[[], None]] = [s.close for s in self.sinks]
        if self.preview is not None:
            closers.append(self.preview.close)
        if threads[0] not in stuck:
            closers.append(self.source.close)
        if self.tracker is not None and threads[1] not in stuck:
            closers.append(self.tracker.close)
        first: BaseException | None = None
        for close in closers:
            try:
                close()
            except Exception as exc:  # close the rest, then raise the first
                log.debug("closing failed", exc_info=True)
                first = first or exc
            if self.signals is not None:
                self.signals.report()
        if first is not None and not self.errors:
            self.errors.append(first)
