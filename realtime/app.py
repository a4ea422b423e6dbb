"""Wiring: command-line options → source, filter chain, sinks and the pipeline."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from export.errors import UserError
from realtime.engine import FilterModel
from realtime.filters import AppliedFilter, FilterChain, FilterSettings, work_shape
from realtime.pipeline import HOTKEYS, Pipeline, PipelineConfig
from realtime.registry import bundled_filters, fast_variant, parse_chain, variant_for
from realtime.sinks import NullSink, PreviewSink, Sink, VideoFileSink, VirtualCamSink
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


def run(args: argparse.Namespace, extra_sinks: list[Sink] | None = None) -> dict[str, Any]:
    loader = ChainLoader(args.filter, args.provider, args.threads, args.work_size, args.variant)  # unknown names fail first
    source = open_source(SourceSpec(args.source, args.size, args.fps, paced=not args.fast, loop=args.loop))
    sinks: list[Sink] = list(extra_sinks or [])
    preview = None
    try:
        w, h = source.size
        loader.frame_hw = (h, w)
        chain0 = loader(0)  # loads, verifies the provider and warms up before the first frame
        if args.output:
            sinks.append(VideoFileSink(args.output, (w, h), args.fps))
        if args.virtual_cam:
            device = None if args.virtual_cam is True else str(args.virtual_cam)
            sinks.append(VirtualCamSink((w, h), args.fps, device, args.virtual_cam_backend))
        if args.preview:
            preview = PreviewSink(f"realtime: {chain0.name}")
            print(HOTKEYS, flush=True)
        if not sinks and preview is None:
            sinks.append(NullSink())
    except BaseException:
        source.close()
        for s in sinks:
            s.close()
        raise
    stats = RunStats(provider=loader.providers)
    cfg = PipelineConfig(fps=args.fps, mirror=args.mirror, frames=args.frames, track=args.track,
                         repeat=args.repeat, strength=args.strength, latent=args.latent,
                         temporal=args.temporal)
    pipeline = Pipeline(source, loader, len(loader.options), sinks, preview, cfg, stats)
    summary = pipeline.run()
    summary["provider"] = loader.providers  # hotkeys may have loaded more models
    if args.stats:
        write_json(args.stats, summary)
        log.info("stats written to %s", args.stats)
    return summary
