"""Wiring: command-line options → source, filter chain, sinks and the pipeline."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Callable

from realtime.errors import STOP_SIGNALS, UserError, stopped_by
from realtime.engine import FilterModel
from realtime.filters import AppliedFilter, FilterChain, FilterSettings, work_shape
from realtime.outputs import check_outputs, input_path, verify_video
from realtime.pipeline import HOTKEYS, Pipeline, PipelineConfig, StopSignals
from realtime.registry import bundled_filters, fast_variant, parse_chain, variant_for
from realtime.sinks import NullSink, PreviewSink, Sink, VideoFileSink, VirtualCamSink, check_display
from realtime.sources import SourceSpec, open_source
from realtime.stats import RunStats, write_json

log = logging.getLogger(__name__)


class ChainLoader:
    """Builds the filter chain for hotkey option ``i`` (0 = the chain asked for, then each
    other bundled filter), loading each ONNX file once."""

    def __init__(self, spec: str, provider: str, threads: int, work_size: int | None, variant: str = "auto") -> None:
        first = parse_chain(spec)
        if variant == "fast":
            missing = [p.name for p in first if fast_variant(p) is None]
            if missing:
                raise UserError(f"--variant fast: no fast variant of {', '.join(missing)} (needs NAME.fast.onnx beside it); use --variant auto")
        others = [[p] for name, p in bundled_filters().items() if [p] != first]
        self.options = [first] + others
        self.provider, self.threads, self.work_size, self.variant = provider, threads, work_size, variant
        self.frame_hw = (480, 640)  # set to the source's size before the first load
        self.models: dict[str, FilterModel] = {}

    def model(self, path: Any) -> FilterModel:
        key = str(path)
        if key not in self.models:
            m = self.load(Path(path))
            m.warmup(self.warm_size(m))
            self.models[key] = m
        return self.models[key]

    def load(self, path: Path) -> FilterModel:
        """The full model; or its fast variant when asked for or when auto ends up on the CPU;
        or its fp16 export when auto ends up on CUDA (see :func:`variant_for`)."""
        fast = fast_variant(path) if self.variant != "full" else None
        if fast is not None and self.variant == "fast":
            return FilterModel(fast, self.provider, self.threads)
        full = FilterModel(path, self.provider, self.threads)
        other = variant_for(path, full.provider, self.variant)
        if other is not None:
            log.info("%s on %s: running %s (--variant full to force the full fp32 model)", full.name, full.provider, other.name)
            return FilterModel(other, self.provider, self.threads)
        return full

    def warm_size(self, m: FilterModel) -> tuple[int, int]:
        c = m.contract
        if c.kind == "face" or c.fixed_size:
            return c.fixed_size or (c.work_size, c.work_size)
        return work_shape(*self.frame_hw, self.work_size or c.work_size)

    def __call__(self, option: int) -> FilterChain:
        paths = self.options[option % len(self.options)]
        return FilterChain([AppliedFilter(self.model(p), FilterSettings(work_size=self.work_size)) for p in paths])

    @property
    def providers(self) -> str:
        return ",".join(sorted({m.provider for m in self.models.values()}))


def check_before_work(args: argparse.Namespace, loader: ChainLoader) -> None:
    """Everything that would otherwise fail after the models load, or after the whole run: the
    output paths (not the source, the config or a filter; writable folders; see
    :func:`check_outputs`) and the display for the preview window."""
    inputs = [("--source", input_path(args.source)), ("--config", getattr(args, "config", None))]
    inputs += [("--filter", Path(path)) for path in loader.options[0]]
    check_outputs({"--output": args.output, "--stats": args.stats}, inputs)
    if args.preview:
        check_display()


def run(args: argparse.Namespace, extra_sinks: list[Sink] | None = None) -> dict[str, Any]:
    """Build the run from the options, run it, write the stats and verify the video.

    However the run ends (its end, --frames, q, Ctrl-C, SIGTERM, SIGHUP, an error in a thread)
    the video is finalised and the stats are written; further signals wait until both are
    done (:class:`StopSignals`)."""
    loader = ChainLoader(args.filter, args.provider, args.threads, args.work_size, args.variant)  # unknown names fail first
    check_before_work(args, loader)
    source = open_source(SourceSpec(args.source, args.size, args.fps, paced=not args.fast, loop=args.loop))
    sinks: list[Sink] = list(extra_sinks or [])
    preview = None
    video: VideoFileSink | None = None
    pipeline: Pipeline | None = None
    signals = StopSignals()
    try:
        w, h = source.size
        loader.frame_hw = (h, w)
        chain0 = loader(0)  # loads, verifies the provider and warms up before the first frame
        if args.output:
            video = VideoFileSink(args.output, (w, h), args.fps)
            sinks.append(video)
        if args.virtual_cam:
            device = None if args.virtual_cam is True else str(args.virtual_cam)
            sinks.append(VirtualCamSink((w, h), args.fps, device, args.virtual_cam_backend))
        if args.preview:
            preview = PreviewSink(f"realtime: {chain0.name}")
            print(HOTKEYS, flush=True)
        if not sinks and preview is None:
            sinks.append(NullSink())
        stats = RunStats(provider=loader.providers)
        cfg = PipelineConfig(fps=args.fps, mirror=args.mirror, frames=args.frames, track=args.track,
                             repeat=args.repeat, strength=args.strength, latent=args.latent,
                             temporal=args.temporal)
        pipeline = Pipeline(source, loader, len(loader.options), sinks, preview, cfg, stats)  # starts MediaPipe
        signals.__enter__()  # from here on a signal asks the run to stop and cannot cut the shutdown short
    except BaseException:  # a bad option, Ctrl-C or SIGTERM while loading (an abort, not a stop): close what is open
        signals.__exit__(None, None, None)
        _close_all([source.close, *(s.close for s in sinks), *([preview.close] if preview else []),
                    *([pipeline.tracker.close] if pipeline is not None and pipeline.tracker is not None else [])])
        raise
    try:
        try:
            summary = pipeline.run(signals)
        except Exception:  # from a thread (a model a hotkey loads, a bug): raised once the stats are saved
            try:
                _save(args, stats.summary(pipeline.captured.dropped), loader)
            except UserError as exc:  # the run's own error matters more
                log.error("%s", exc)
            raise
        _save(args, summary, loader)
        if video is not None:
            verify_video(video.path, video.frames)
    finally:
        signals.__exit__(None, None, None)
    if signals.signum in STOP_SIGNALS:
        stopped_by(signals.signum)  # exit 128 + the signal once the summary is printed
    return summary


def _close_all(closers: list[Callable[[], None]]) -> None:
    """Call each, whatever the others raise (logged at debug level: the exception already on
    its way out matters more)."""
    for close in closers:
        try:
            close()
        except Exception:
            log.debug("closing failed", exc_info=True)


def _save(args: argparse.Namespace, summary: dict[str, Any], loader: ChainLoader) -> None:
    summary["provider"] = loader.providers  # hotkeys may have loaded more models
    if args.stats:
        write_json(args.stats, summary)
        log.info("stats written to %s", args.stats)
