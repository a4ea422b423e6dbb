"""``run(config) -> RunStats``: one live run from a :class:`~realtime.config.RunConfig`.

Order: everything that can be known before work (filter names, output paths, latent range,
display, the sticker and background files) is checked first, every problem in one line; then
the source opens, the models load (provider first, then the variant, then one session each,
warmed up), the sinks open, and :class:`~realtime.live.loop.LiveLoop` runs. However the run
ends (its end, --frames, q, Ctrl-C, SIGTERM, SIGHUP, an error in a thread) the video is
finalised and the stats are written; further signals wait until both are done
(:mod:`realtime.signals`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from realtime.analysis.analysers import AnalysisOptions
from realtime.compositing.background import Backdrop, background_modes, parse_background
from realtime.filters.chain import build_chain, chain_files
from realtime.config import RunConfig
from realtime.live.controls import HOTKEYS, ControlState
from realtime.errors import UserError
from realtime.filters.kinds.base import Filter, Settings
from realtime.filters.kinds.face_effects import sticker_filter
from realtime.filters.loading import ModelLoader
from realtime.live.loop import LiveLoop, LoopConfig
from realtime.filters.onnx_format import read_contract
from realtime.sinks.outputs import check_outputs, verify_video
from realtime.live.events import EventLog
from realtime.filters.props import split_placement
from realtime.live.process import ChainOptions, FrameProcessor, Triggers
from realtime.filters.registry import bundled_filters
from realtime import signals
from realtime.sinks.base import NullSink, Sink
from realtime.sinks.preview import PreviewSink, check_display
from realtime.sinks.video_file import VideoFileSink
from realtime.sinks.virtual_cam import VirtualCamSink
from realtime.capture.sources import CameraSource, SourceSpec, check_source_file, open_source, source_file
from realtime.live.ondemand import OnDemand
from realtime.sinks.readers import open_readers
from realtime.live.stats import RunStats, write_json
from realtime.memory import keep_freed_memory

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Checked:
    """What :func:`check_before_work` read while checking: the ``--sticker`` effect (an empty
    list without one) and the ``--background`` (None without one)."""

    sticker: list[Filter]
    backdrop: Backdrop | None


def check_before_work(config: RunConfig) -> Checked:
    """Everything that would otherwise fail after the models load, or after the whole run:
    a --source file that is not there, the filter names, the output paths (not the source, the
    config or a filter; writable folders; see :func:`check_outputs`), the latent code, the
    display for the preview, the sticker and the background (read now, so a bad file fails
    before the source opens).
    Every problem found is said at once, in one line: a mistyped --background on a machine
    without a display names both, not one and then, once fixed, the other."""
    problems: list[str] = []

    def attempt(check: Callable[[], T], otherwise: T) -> T:
        try:
            return check()
        except UserError as exc:
            problems.append(str(exc))
            return otherwise

    attempt(lambda: check_source_file(config.source), None)
    files = attempt(lambda: chain_files(config.filter, "--filter"), None)
    smile_files = attempt(lambda: chain_files(config.on_smile, "--on-smile"), []) if config.on_smile else []
    inputs = [("--source", source_file(config.source)), ("--config", config.config_file)]
    inputs += [("--filter", Path(path)) for path in files or []] + [("--on-smile", Path(path)) for path in smile_files]
    if config.background is not None and Path(config.background).expanduser().exists():
        inputs.append(("--background", Path(config.background).expanduser()))
    if config.sticker is not None:
        inputs.append(("--sticker", split_placement(config.sticker)[0].expanduser()))
    attempt(lambda: check_outputs({"--output": config.output, "--stats": config.stats, "--events": config.events}, inputs), None)
    if files is not None:  # an unknown filter name was said above; its latent codes cannot be known
        attempt(lambda: check_latent(config.filter, files, config.latent), None)
    if config.preview:
        attempt(check_display, None)
    sticker = attempt(lambda: [sticker_filter(config.sticker)], []) if config.sticker else []
    backdrop = attempt(lambda: parse_background(config.background), None)
    if problems:
        if backdrop is not None:
            getattr(backdrop, "close", lambda: None)()  # a video backdrop holds its file open
        raise UserError("; ".join(problems))
    return Checked(sticker, backdrop)


def check_latent(spec: str, files: list[Path], latent: int) -> None:
    """``--latent K`` must name a code some filter in the chain has (read from the files'
    metadata, without a session)."""
    if not latent:
        return
    codes = {path.stem: read_contract(path).latent_codes for path in files}
    most = max(codes.values(), default=0)
    if most == 0:
        raise UserError(f"--latent {latent}: {spec} has no latent codes (leave --latent out)")
    if latent >= most:
        raise UserError(f"--latent {latent} is out of range: {', '.join(f'{n} has codes 0..{k - 1}' for n, k in codes.items() if k)}")


def hotkey_chains(spec: str) -> list[str]:
    """What n/p cycle through: the chain asked for, then each other bundled filter."""
    return [spec] + [name for name in bundled_filters() if name != spec.strip()]


Attach = Callable[[LiveLoop], Callable[[], None]]  # called with the loop before it runs; returns what to call once it stopped


def run(config: RunConfig, extra_sinks: list[Sink] | None = None, stats: RunStats | None = None,
        attach: Attach | None = None) -> RunStats:
    """One live run. From its first step to its last closed file no signal raises: start-up
    acts on one between its steps (:func:`realtime.signals.checkpoint`), the loop stops on it
    and the shutdown cannot be cut short (:mod:`realtime.signals`). ``stats``: a
    :class:`RunStats` (or subclass) the caller watches during the run (benchmarks.soak).
    ``attach``: what runs beside the loop (the control plane, :mod:`realtime.control`),
    started once the loop is built and stopped once it has stopped."""
    with signals.deferred():
        return _run(config, extra_sinks or [], stats, attach)


def _run(config: RunConfig, extra_sinks: list[Sink], given_stats: RunStats | None = None,
         attach: Attach | None = None) -> RunStats:
    checked = check_before_work(config)
    sticker, backdrop = checked.sticker, checked.backdrop
    keep_freed_memory()  # frames' arrays reused, not faulted in anew (realtime.memory)
    signals.checkpoint()
    source = open_source(SourceSpec(config.source, config.size, config.fps, paced=not config.fast, loop=config.loop,
                                    fourcc=config.fourcc))
    if config.ondemand and not isinstance(source, CameraSource):
        source.close()
        raise UserError(f"--ondemand releases a camera while no app reads the virtual camera; --source {config.source} "
                        "is not a camera (leave --ondemand out)")
    sinks: list[Sink] = list(extra_sinks)
    events: EventLog | None = None
    preview: PreviewSink | None = None
    video: VideoFileSink | None = None
    processor: FrameProcessor | None = None
    detach: Callable[[], None] | None = None
    ondemand: OnDemand | None = None
    try:
        signals.checkpoint()
        w, h = source.size
        loader = ModelLoader(config.provider, config.variant, config.threads, frame_hw=(h, w), work_size=config.work_size,
                             beside=config.in_flight > 1)
        settings = Settings(work_size=config.work_size, region=config.filter_region)
        chains = ChainOptions(hotkey_chains(config.filter), loader, settings, sticker)
        triggers = Triggers(on_smile=build_chain(config.on_smile, loader, settings, sticker) if config.on_smile else None)
        options = AnalysisOptions(max_faces=config.max_faces, segmentation=config.segmentation, start_late_in_background=True)
        # loads the first chain, starts MediaPipe if needed
        processor = FrameProcessor(chains, config.track, config.temporal, background_modes(backdrop), triggers, options)
        signals.checkpoint()
        if config.events:
            events = EventLog(config.events)
        out_size = config.output_size or (w, h)  # what the call and the file see
        if config.output:
            sound = getattr(source, "path", None) if config.audio else None  # a video file's own sound
            video = VideoFileSink(config.output, out_size, config.fps, audio_from=sound)
            sinks.append(video)
        device = None if config.virtual_cam in (True, False) else str(config.virtual_cam)

        def open_virtual_cam() -> VirtualCamSink:  # now, or when the controls turn it on
            return VirtualCamSink(out_size, config.fps, device, config.virtual_cam_backend)

        if config.virtual_cam:
            sinks.append(open_virtual_cam())
        if config.preview:
            preview = PreviewSink(f"realtime: {chains[0].name}")
            print(HOTKEYS, flush=True)
        if not sinks and preview is None:
            sinks.append(NullSink())
        stats = given_stats if given_stats is not None else RunStats()
        stats.provider = loader.providers
        stats.in_flight = config.in_flight
        stats.camera = getattr(source, "format", None)  # what was asked of a camera and what it gave
        start = ControlState(strength=config.strength, latent=config.latent, mirror=config.mirror,
                             mirror_output=config.mirror_output)
        loop = LiveLoop(source, processor, sinks, preview, LoopConfig(config.fps, config.frames, config.repeat, start,
                        config.background, config.favourites, in_flight=config.in_flight), stats, events,
                        open_virtual_cam)
        detach = attach(loop) if attach is not None else None
        if config.ondemand:
            cam = next(s for s in sinks if isinstance(s, VirtualCamSink))
            ondemand = OnDemand(open_readers(cam.device), source, watched=loop.tap.watched)  # type: ignore[arg-type]
        signals.checkpoint()  # the last one: from here on a signal stops the loop and the outputs are finished
    except BaseException:  # a bad option, Ctrl-C or SIGTERM while loading (an abort, not a stop): close what is open
        _close_all([*([detach] if detach is not None else []), *([ondemand.close] if ondemand is not None else []), source.close, *(s.close for s in sinks), *([preview.close] if preview else []),
                    *([processor.close] if processor is not None else [getattr(backdrop, "close", lambda: None)]),
                    *([events.close] if events is not None else [])])
        raise
    try:
        try:
            if ondemand is not None:
                ondemand.start()
            stats = loop.run()
        finally:
            if ondemand is not None:
                ondemand.close()
            if detach is not None:
                detach()  # the control plane stops, the settings are saved (it logs its own problems)
    except Exception:  # from a thread (a model a hotkey loads, a bug): raised once the stats are saved
        try:
            _save(config, stats, loader)
        except UserError as exc:  # the run's own error matters more
            log.error("%s", exc)
        raise
    _save(config, stats, loader)
    if video is not None:
        verify_video(video.path, video.frames)
    return stats


def _close_all(closers: list[Callable[[], None]]) -> None:
    """Call each, whatever the others raise (logged at debug level: the exception already on
    its way out matters more)."""
    for close in closers:
        try:
            close()
        except Exception:
            log.debug("closing failed", exc_info=True)


def _save(config: RunConfig, stats: RunStats, loader: ModelLoader) -> None:
    stats.provider = loader.providers  # hotkeys may have loaded more models
    if config.stats:
        write_json(config.stats, stats.summary())
        log.info("stats written to %s", config.stats)
