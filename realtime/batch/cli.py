"""realtime batch INPUTS... --out DIR: filter many videos and images with one chain.

    realtime batch talks/*.mp4 --out filtered --filter cartoon
    realtime batch clips/ photos/ --out out --filter cartoon+glasses --background blur
    realtime batch big/*.mp4 --out out --filter candy --ray auto            on a Ray cluster
    realtime batch big/*.mp4 --out out --filter candy --ray ray://head:10001 --gpus-per-worker 0.25

Each video is cut into segments (--segment-frames) that are filtered in parallel, each after
--overlap frames of warm-up so tracking and temporal stabilisation have no seam, then joined in
order without re-encoding, with the source's sound. Images are filtered as stills and keep
their names. Outputs appear whole (NAME.partial, renamed at the end); a rerun skips finished
files and segments (--overwrite redoes them). Exit status: 0 all done, 1 some failed, 2 bad
options. More: docs/batch.md.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from realtime.batch.config import OVERLAP, SEGMENT_FRAMES, BatchConfig, FilterJob
from realtime.cli_args import OneLineParser, number
from realtime.errors import UserError

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="realtime batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", type=Path, metavar="INPUT", help="videos, images, or folders of them")
    p.add_argument("--out", type=Path, help="folder for the results (same names; created if needed)")
    p.add_argument("--filter", default="none", help="bundled filter name or FILE.onnx; chain with +, e.g. cartoon+glasses")
    p.add_argument("--background", metavar="MODE", help="blur[:STRENGTH], remove, a colour, an image or a video")
    p.add_argument("--filter-region", choices=["all", "person", "background"], default="all",
                   help="where a whole-frame filter applies (default all)")
    p.add_argument("--strength", type=number(float), default=1.0, help="blend of filter and input, 0..1 (default 1)")
    p.add_argument("--latent", type=number(int), default=0, help="latent code (variant) of filters that have them")
    p.add_argument("--variant", default="auto", choices=["auto", "full", "fast"],
                   help="auto: a filter's fast CPU variant when running on CPU, the full model on GPU (default)")
    p.add_argument("--provider", default="auto", choices=["auto", "tensorrt", "cuda", "cpu"])
    p.add_argument("--work-size", type=number(int), help="short side frame filters run at (default: the model's)")
    p.add_argument("--no-temporal", dest="temporal", action="store_false", default=True,
                   help="no temporal stabilisation")
    p.add_argument("--track", choices=["auto", "always", "off"], default="auto",
                   help="face tracking: auto = only while a face filter is in the chain (default), always, off")
    p.add_argument("--crf", type=number(int), default=18,
                   help="H.264 quality: 0 lossless, 18 close to the source (default), 23 smaller, 51 worst")
    p.add_argument("--no-audio", dest="audio", action="store_false", default=True, help="leave the sound out")
    p.add_argument("--workers", type=number(int), help="processes here, or Ray actors (default: one per core / cluster CPU)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster through Ray Data: auto (the one `ray start` "
                   "made), ray://HOST:10001, HOST:6379, or local (a one-machine cluster started for this run)")
    p.add_argument("--gpus-per-worker", type=number(float), default=0.0,
                   help="GPUs per worker (e.g. 0.25: four share one GPU); the workers run the CUDA provider")
    p.add_argument("--segment-frames", type=number(int), default=SEGMENT_FRAMES,
                   help=f"frames per segment, the unit of work (default {SEGMENT_FRAMES})")
    p.add_argument("--overlap", type=number(int), default=OVERLAP,
                   help=f"warm-up frames filtered before each segment and dropped (default {OVERLAP})")
    p.add_argument("--overwrite", action="store_true", help="redo finished files and segments")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=True, help="no progress bar")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: what it does (info), -vv: debug")
    return p


def config_from(args: argparse.Namespace) -> BatchConfig:
    if args.out is None:
        raise UserError("say where the results go: --out DIR")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder")
    job = FilterJob(filter=args.filter, background=args.background, filter_region=args.filter_region,
                    strength=args.strength, latent=args.latent, variant=args.variant, provider=args.provider,
                    work_size=args.work_size, temporal=args.temporal, track=args.track, crf=args.crf)
    return BatchConfig(tuple(args.inputs), args.out, job, audio=args.audio, workers=args.workers, ray=args.ray,
                       gpus_per_worker=args.gpus_per_worker, segment_frames=args.segment_frames,
                       overlap=args.overlap, overwrite=args.overwrite, progress=args.progress)


def batch_main(argv: list[str]) -> int:
    """``realtime batch``: 0 when every file is done (or was), 1 when some failed, 2 (a
    :class:`UserError` through :func:`realtime.errors.run_cli`) for bad options."""
    from realtime.batch.driver import run_batch

    args = build_parser().parse_args(argv)
    logging.basicConfig(level={0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG),
                        format="%(levelname)s %(name)s: %(message)s")
    summary = run_batch(config_from(args))
    for line in summary.lines():
        print(line)
    for name, reason in summary.failed:
        print(f"  failed: {name}: {reason}")
    sys.stdout.flush()
    return 1 if summary.failed else 0
