"""The live loop's threads: capture → process → output, newest frame wins.

    capture thread ──Slot──► process threads ──Slot──► output (main thread, at least --fps)
    source.read              FrameProcessor              sinks, preview + hotkeys, mirror

Every frame carries its id and capture time; the output records latency = output time −
capture time of the frame the result came from. Each result is sent as soon as it is ready;
when inference is slower than --fps, the output re-sends the newest finished result (or the
newest raw frame with ``repeat="raw"``) so a virtual camera keeps its frame rate. Unpaced
sources (files processed as fast as possible) use back-pressure instead of dropping frames.
What happens to one frame is :mod:`realtime.live.process`; the hotkeys are :mod:`realtime.live.controls`.
With ``in_flight`` 2 (``--in-flight``) two process threads take turns: one frame's network runs
while the next frame is analysed and its own network starts; everything else, the results
included, stays one frame at a time in frame order (:mod:`realtime.live.turns`).

The mirror is applied at the output, not at capture: the preview is a mirror image when
``mirror`` is on, what the call sees (virtual camera, file) only with ``mirror_output``. The
output thread also opens and closes the virtual camera as the controls ask, and hands a copy
of a frame to :class:`FrameTap` a few times a second while someone watches (the studio page's
preview); the control plane (:mod:`realtime.control`) reads those and posts changes to
:class:`~realtime.live.controls.Controls`, never touching a frame being processed.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from realtime.config import LIMITS
from realtime.errors import first_line
from realtime.imaging import cover
from realtime.live.controls import Choices, Controls, ControlState, status_line
from realtime.live.events import EventLog
from realtime.live.frames import Frame, Slot
from realtime.live.keeping_up import KeepUpConfig, KeepUpWatch
from realtime.live.process import FrameProcessor, Processed, Triggers
from realtime.live.turns import Turn, Turns, TurnsClosed
from realtime import signals
from realtime.signals import join_or_leave_behind, signal_name
from realtime.sinks.preview import PreviewSink
from realtime.sinks.notice import CAMERA_LOST, CAMERA_RELEASED, idle_card, with_notice
from realtime.sinks.base import Sink
from realtime.sinks.virtual_cam import VirtualCamSink
from realtime.capture.sources import Source
from realtime.live.stats import RunStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopConfig:
    fps: float = 30.0
    frames: int | None = None  # stop after this many output frames
    repeat: str = "result"  # when inference is behind: re-send the newest "result" or "raw" frame
    controls: ControlState = ControlState()  # the live settings at the start
    background: str | None = None  # the text that asked for the first background (its label)
    favourites: tuple[str, ...] = ()  # chains for the keys 1-9
    idle_fps: float = 1.0  # the idle picture's rate while the camera is released (--ondemand)
    in_flight: int = 1  # frames processed at once (realtime.live.turns): 1, or 2 to run one's network beside the next
    keep_up: KeepUpConfig = KeepUpConfig()  # when a chain is said to fall behind the camera

    def __post_init__(self) -> None:
        lo, hi = LIMITS["in_flight"]
        if not lo <= self.in_flight <= hi:
            raise ValueError(f"in_flight must be {lo:g}..{hi:g}, got {self.in_flight}")


@dataclass(frozen=True)
class Result:
    frame: Frame
    processed: Processed


class FrameTap:
    """The newest output frame for a watcher (the studio page's preview): the output thread
    copies one at most ``fps`` times a second, and only while someone has asked within the
    last ``watch_s`` seconds; otherwise :meth:`offer` costs two comparisons."""

    def __init__(self, fps: float = 5.0, watch_s: float = 2.0) -> None:
        self.fps, self.watch_s = fps, watch_s
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._watched_until = 0.0
        self._last = 0.0
        self.closed = False

    def watched(self) -> bool:
        """Someone asked for frames within the last ``watch_s`` seconds."""
        return time.perf_counter() <= self._watched_until

    def watch(self) -> None:
        """Someone wants frames: copy them for the next ``watch_s`` seconds."""
        self._watched_until = time.perf_counter() + self.watch_s

    def offer(self, image: np.ndarray, mirror: bool = False) -> None:
        now = time.perf_counter()
        if now > self._watched_until or now - self._last < 1.0 / self.fps:
            return
        self._last = now
        copy = cv2.flip(image, 1) if mirror else image.copy()
        with self._cond:
            self._frame, self._seq = copy, self._seq + 1
            self._cond.notify_all()

    def wait(self, after: int, timeout: float) -> tuple[int, np.ndarray] | None:
        """The frame after number ``after`` (with its number), or None after ``timeout`` s or
        once closed."""
        self.watch()
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self.closed, timeout)
            if self._seq <= after or self._frame is None:
                return None
            return self._seq, self._frame

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class LiveLoop:
    def __init__(self, source: Source, processor: FrameProcessor, sinks: list[Sink], preview: PreviewSink | None,
                 cfg: LoopConfig = LoopConfig(), stats: RunStats | None = None, events: EventLog | None = None,
                 open_virtual_cam: Callable[[], Sink] | None = None) -> None:
        """``open_virtual_cam``: opens the virtual camera when the controls turn it on (one
        already open is found among ``sinks``); without it, it cannot be turned on."""
        self.source, self.processor, self.sinks, self.preview, self.cfg = source, processor, sinks, preview, cfg
        self.events = events  # trigger changes, written by the process thread, closed with the sinks
        self.open_virtual_cam = open_virtual_cam
        self.virtual_cam: Sink | None = next((s for s in sinks if isinstance(s, VirtualCamSink)), None)
        self.virtual_cam_error = ""  # why the last attempt to open it failed
        self.controls = Controls(cfg.controls, len(processor.chains), len(processor.backgrounds))
        self.choices = Choices(self.controls, processor.chains, processor.backgrounds, cfg.background)
        self.controls.favourites = cfg.favourites
        trigger = getattr(getattr(processor, "triggers", None), "on_smile", None)
        self._smile_option = self.choices.add_chain(trigger) if trigger is not None else -1
        self.controls.update(virtual_cam=self.virtual_cam is not None, on_smile=self._smile_option)
        self.tap = FrameTap()
        self.background_name = ""
        self.stats = stats or RunStats()
        self.captured: Slot[Frame] = Slot()
        self.results: Slot[Result] = Slot()
        self.stop = threading.Event()
        self.turns = Turns()
        self._taking = threading.Lock()  # a frame and its turn are taken together, so turns follow frame order
        self._processing = cfg.in_flight  # process threads still running (the last one closes the results)
        self.latest_raw: Frame | None = None
        self.chain_name = processor.chains[0].name
        self.paced = source.live or source.paced
        self.errors: list[BaseException] = []
        self.join_timeout = 5.0  # seconds for the threads to finish their frame at the end
        self.keeping_up = KeepUpWatch(cfg.keep_up, cfg.in_flight, os.cpu_count() or 1)

    # ------------------------------------------------------------------ threads
    def _capture(self) -> None:
        period = 1.0 / self.cfg.fps
        next_t = time.perf_counter()
        frame_id = 0
        first: float | None = None
        try:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                image = self.source.read()
                if image is None:
                    break
                now = time.perf_counter()
                if first is None:
                    first = now
                # a file's own clock (so smoothing and triggers behave the same at --fast), a camera's wall clock
                t = now - first if self.source.live else frame_id / self.source.fps
                frame = Frame(frame_id, now, image, {"capture": (now - t0) * 1000}, t)
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

    def _process(self, second: bool = False) -> None:
        """``second``: a process thread beside the first, which takes frames only while the
        chain in use lets frames overlap (:meth:`FrameProcessor.overlaps`)."""
        try:
            while not self.stop.is_set():
                if second and not self.processor.overlaps():
                    if self.captured.closed:  # the source ended: the first thread takes what is left
                        break
                    self.stop.wait(0.05)  # a hotkey or the trigger may switch to a chain that does
                    continue
                with self._taking:
                    frame = self.captured.take(timeout=0.1)
                    if frame is None:
                        if self.captured.closed:
                            break
                        continue
                    turn = self.turns.next()
                with turn:
                    self._process_one(frame, turn)
        except TurnsClosed:  # stopping while this thread waited for the other one
            pass
        except BaseException as exc:
            self.errors.append(exc)
            self.stop.set()
            self.turns.close()  # the other process thread stops waiting for this one
        finally:
            with self._taking:
                self._processing -= 1
                last = self._processing == 0
            if last:  # the output sends what is left and ends
                self.results.close()

    def _process_one(self, frame: Frame, turn: Turn) -> None:
        """One frame, holding its turn (its networks run aside, beside the next frame)."""
        state = self.controls.state()
        self._follow_trigger(state)
        processed = self.processor(frame.image, frame.t, state, turn if self.cfg.in_flight > 1 else None)
        if processed.events and self.events is not None:
            self.events.write(frame.id, frame.t, processed.events)
        self.chain_name, self.background_name = processed.chain, processed.background
        self.stats.filters = processed.chain
        self.stats.frames_processed += 1
        self.stats.face_frames += processed.faces > 0
        for name, ms in {**frame.stages, **processed.ms}.items():
            self.stats.stage(name, ms)
        if self.paced:  # a camera (or a file played like one) skips the frames the loop is too slow for
            h, w = frame.image.shape[:2]
            behind = self.keeping_up.frame(processed.chain, (w, h), frame.id, frame.captured)
            if behind:
                log.warning("%s", behind)
        result = Result(frame, processed)
        if self.paced:
            self.results.put(result)
        else:
            self.results.put_when_empty(result, self.stop)

    def _follow_trigger(self, state: ControlState) -> None:
        """The smile trigger's chain as the controls say (process thread, between frames:
        the processor reads its triggers only inside its call)."""
        if state.on_smile != self._smile_option and hasattr(self.processor, "triggers"):
            self._smile_option = state.on_smile
            chain = self.choices.chain(state.on_smile) if state.on_smile >= 0 else None
            self.processor.triggers = Triggers(on_smile=chain)
            log.info("on smile: %s", chain.name if chain is not None else "nothing")

    # ------------------------------------------------------------------ output (main thread)
    def _switch_virtual_cam(self, want: bool) -> None:
        """Open or close the virtual camera as the controls ask (output thread: sinks are its)."""
        if want and self.virtual_cam is None:
            try:
                if self.open_virtual_cam is None:
                    raise RuntimeError("this run cannot open a virtual camera")
                self.virtual_cam = self.open_virtual_cam()
            except Exception as exc:  # a missing device: one line, the camera stays off, the loop goes on
                self.virtual_cam_error = first_line(exc)
                log.error("virtual camera: %s", self.virtual_cam_error)
                self.controls.update(virtual_cam=False)
                return
            self.virtual_cam_error = ""
            self.sinks.append(self.virtual_cam)
            log.info("virtual camera on")
        elif not want and self.virtual_cam is not None:
            cam, self.virtual_cam = self.virtual_cam, None
            self.sinks.remove(cam)
            try:
                cam.close()
            except Exception as exc:
                log.warning("closing the virtual camera: %s", first_line(exc))
            log.info("virtual camera off")

    def _send(self, result: Result, repeated: bool) -> None:
        image: np.ndarray = result.processed.image
        if repeated and self.cfg.repeat == "raw" and self.latest_raw is not None:
            image = self.latest_raw.image
        state = self.controls.state()
        if state.virtual_cam != (self.virtual_cam is not None):
            self._switch_virtual_cam(state.virtual_cam)
        t0 = time.perf_counter()
        out = cv2.flip(image, 1) if state.mirror_output else image  # what the call sees
        sized: dict[tuple[int, int], np.ndarray] = {(out.shape[1], out.shape[0]): out}
        for sink in self.sinks:
            size = tuple(getattr(sink, "size", (out.shape[1], out.shape[0])))
            if size not in sized:  # --output-size: scaled to cover, centred (once per size)
                sized[size] = cover(out, size[0], size[1])
            if getattr(sink, "timed", False):  # a video file: the frame's stream time (None: a re-send)
                sink.send(sized[size], None if repeated else result.frame.t)  # type: ignore[call-arg]
            else:
                sink.send(sized[size])
        self.tap.offer(image, mirror=state.mirror)
        if self.preview is not None:
            shown = cv2.flip(image, 1) if state.mirror else image  # like a mirror
            if getattr(self.source, "lost", False):
                shown = with_notice(shown, CAMERA_LOST)  # the last good frame
            self.preview.send(shown, self._status())
            if self.controls.handle(self.preview.last_key) == "s":
                print(self.stats.summary(self.captured.dropped), flush=True)
            if self.preview.closed_by_user:
                self.controls.quit = True
        now = time.perf_counter()
        self.stats.stage("output", (now - t0) * 1000)
        self.stats.output(now, result.frame.captured, repeated)

    def _send_idle(self) -> None:
        """The idle picture to the virtual camera (not to a recording) and the preview, at the
        output's size; counted apart from the frames out."""
        state = self.controls.state()
        if state.virtual_cam != (self.virtual_cam is not None):
            self._switch_virtual_cam(state.virtual_cam)
        for sink in self.sinks:
            if not getattr(sink, "timed", False) and hasattr(sink, "size"):
                w, h = getattr(sink, "size")
                sink.send(idle_card(w, h))
        if self.preview is not None and self.latest_raw is not None:
            h, w = self.latest_raw.image.shape[:2]
            self.preview.send(idle_card(w, h, CAMERA_RELEASED), self._status())
            if self.controls.handle(self.preview.last_key) == "s":
                print(self.stats.summary(self.captured.dropped), flush=True)
            if self.preview.closed_by_user:
                self.controls.quit = True
        self.stats.frames_idle += 1

    def _status(self) -> str:
        s = self.stats
        counts = f"captured {s.frames_captured} processed {s.frames_processed} dropped {self.captured.dropped}"
        return status_line(s.live_fps(), s.live_latency(), s.provider, self.chain_name, self.controls.state(), counts,
                           self.background_name, s.new_fps())

    def _done(self) -> bool:
        n = self.cfg.frames
        return (self.controls.quit or self.stop.is_set() or (n is not None and self.stats.frames_output >= n)
                or signals.requested())

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
                if getattr(self.source, "paused", False):  # released (--ondemand): the idle picture, slowly
                    self._send_idle()
                    deadline = now + 1.0 / self.cfg.idle_fps
                    continue
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

    def run(self) -> RunStats:
        """Run until the source ends, --frames is reached, the user quits, Ctrl-C, SIGTERM or
        SIGHUP; then close everything in order and return the statistics. Signals are
        recorded, never raised, from here to the last closed output
        (:func:`realtime.signals.deferred`; the caller may hold the region longer, to write
        the stats under it)."""
        with signals.deferred():
            return self._run()

    def _run(self) -> RunStats:
        self.stats.filters = self.chain_name
        threads = [threading.Thread(target=self._capture, name="capture", daemon=True)]
        threads += [threading.Thread(target=self._process, args=(i > 0,), name=f"process{i or ''}", daemon=True)
                    for i in range(self.cfg.in_flight)]
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
            signum = signals.received()
            if signum is not None:
                signals.stopped_on()
                self.stats.stopped_by = signal_name(signum)
                how = log.info if signum == signal.SIGINT else log.warning
                how("stopping (%s): closing the outputs", signal_name(signum))
            self._shutdown(threads)
        self.stats.frames_dropped = self.captured.dropped
        self.stats.camera_lost_s = round(float(getattr(self.source, "lost_s", 0.0)), 3)  # a camera's outages
        self.stats.reconnects = int(getattr(self.source, "reconnects", 0))
        self.stats.camera_released_s = round(float(getattr(self.source, "paused_s", 0.0)), 3)  # --ondemand
        self.stats.releases = int(getattr(self.source, "pauses", 0))
        if self.errors:
            raise self.errors[0]
        return self.stats

    def _shutdown(self, threads: list[threading.Thread]) -> None:
        """Stop the threads, then close what each part owns, each step whatever the others do.

        The sinks (video, virtual camera) and the preview belong to this thread and are closed
        even when a thread does not stop; the source and the processor's analysers belong to
        the capture and process threads and are closed only once those stopped (releasing a
        VideoCapture in the middle of its read() can crash). Threads finish their frame within
        ``join_timeout`` (5 s: a frame takes ~1-300 ms); one that does not is left behind and
        the process ends without the interpreter's teardown (:mod:`realtime.signals`)."""
        self.stop.set()
        self.tap.close()
        self.choices.close()
        getattr(self.source, "interrupt", lambda: None)()  # a camera waiting to reconnect stops waiting
        self.captured.close()
        self.turns.close()
        self.results.close()
        stuck = join_or_leave_behind(threads, self.join_timeout)
        if stuck:
            log.warning("%s thread still busy after %.1f s; closing the outputs without it",
                        " and ".join(t.name for t in stuck), self.join_timeout)
        closers: list[Callable[[], None]] = [s.close for s in self.sinks]
        if self.preview is not None:
            closers.append(self.preview.close)
        if threads[0] not in stuck:
            closers.append(self.source.close)
        if not any(t in stuck for t in threads[1:]):
            closers.append(self.processor.close)
            if self.events is not None:
                closers.append(self.events.close)
        first: BaseException | None = None
        for close in closers:
            try:
                close()
            except Exception as exc:  # close the rest, then raise the first
                log.debug("closing failed", exc_info=True)
                first = first or exc
            signals.report()
        if first is not None and not self.errors:
            self.errors.append(first)
