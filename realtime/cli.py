"""realtime: run neural filters on a camera (or a video) into a preview window and a virtual camera.

    realtime --filter cartoon                       webcam 0 → preview window
    realtime --filter cartoon --virtual-cam         … and a virtual camera for Zoom/Meet
    realtime --filter cartoon --source talk.mp4 --no-preview --output out.mp4 --frames 100 --stats s.json
    realtime --list-filters | --list-cameras

Options can also come from a TOML file (--config); the command line wins.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from export.contract import parse_size  # noqa: E402
from export.errors import UserError, run_cli  # noqa: E402

log = logging.getLogger("realtime")


def _size(text: str) -> tuple[int, int]:
    """'1280x720' → (width, height)."""
    try:
        w, h = parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (width x height, e.g. 1280x720)") from None
    return w, h


def _strength(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("strength must be between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="realtime", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filter", help="bundled filter name or FILE.onnx; chain with +, e.g. cartoon+blur.onnx")
    p.add_argument("--source", default="0", help="camera index, video file, image file or 'synthetic' (default 0)")
    p.add_argument("--size", type=_size, help="capture size WxH, e.g. 1280x720 (camera/synthetic)")
    p.add_argument("--fps", type=float, default=30.0, help="output frame rate (default 30)")
    p.add_argument("--mirror", action="store_true", help="flip horizontally, like a mirror")
    p.add_argument("--preview", dest="preview", action="store_true", default=True, help="show a preview window (default)")
    p.add_argument("--no-preview", dest="preview", action="store_false", help="no window (headless)")
    p.add_argument("--virtual-cam", nargs="?", const=True, default=None, metavar="DEVICE",
                   help="also send to a virtual camera (v4l2loopback /dev/videoN on Linux, OBS elsewhere)")
    p.add_argument("--virtual-cam-backend", default=None, help="pyvirtualcam backend (v4l2loopback, obs, unitycapture)")
    p.add_argument("--output", type=Path, help="also write the filtered video to FILE.mp4")
    p.add_argument("--frames", type=int, help="stop after N output frames")
    p.add_argument("--stats", type=Path, help="write run statistics to FILE.json at exit")
    p.add_argument("--provider", default="auto", choices=["auto", "tensorrt", "cuda", "cpu"])
    p.add_argument("--variant", default="auto", choices=["auto", "full", "fast"],
                   help="auto: a filter's fast CPU variant when running on CPU, the full model on GPU (default)")
    p.add_argument("--strength", type=_strength, default=1.0, help="blend of filter and input, 0..1 (default 1)")
    p.add_argument("--latent", type=int, default=0, help="latent code (variant) of filters that have them")
    p.add_argument("--work-size", type=int, help="short side frame filters run at (default: the model's)")
    p.add_argument("--fast", action="store_true", help="process a video file as fast as possible (no pacing, no drops)")
    p.add_argument("--loop", action="store_true", help="loop a video file")
    p.add_argument("--no-temporal", dest="temporal", action="store_false", default=True,
                   help="no temporal stabilisation (it blends with the previous output where the input is still)")
    p.add_argument("--track", choices=["auto", "always", "off"], default="auto",
                   help="face tracking: auto = only while a face filter is in the chain (default), always, off")
    p.add_argument("--no-track", dest="track", action="store_const", const="off", help="same as --track off")
    p.add_argument("--repeat", choices=["result", "raw"], default="result",
                   help="when inference is behind, re-send the newest result (default) or the raw frame")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: all cores)")
    p.add_argument("--config", type=Path, help="TOML file with any of these options")
    p.add_argument("--list-filters", action="store_true", help="list bundled filters and exit")
    p.add_argument("--list-cameras", action="store_true", help="list cameras that open and exit")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def load_config(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    """TOML options → argparse defaults (so the command line still overrides them)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    actions = {a.dest: a for a in parser._actions}
    out: dict[str, Any] = {}
    for key, value in data.items():
        dest = key.replace("-", "_")
        if key in ("no_preview", "no-preview"):
            dest, value = "preview", not value
        if dest not in actions or dest in ("config", "help"):
            raise UserError(f"config file {path}: unknown option {key!r}")
        action = actions[dest]
        if action.type is not None and isinstance(value, str):
            try:
                value = action.type(value)
            except (argparse.ArgumentTypeError, ValueError) as exc:
                raise UserError(f"config file {path}: bad value for {key}: {exc}") from None
        elif action.type in (int, float) and isinstance(value, (int, float)):
            value = action.type(value)
        out[dest] = value
    return out


def list_filters() -> int:
    from realtime.engine import load_onnx, model_contract
    from realtime.registry import bundled_filters

    filters = bundled_filters()
    if not filters:
        print("no bundled filters found")
        return 1
    for name, path in filters.items():
        c = model_contract(load_onnx(path, weights=False), path)
        variants = f"  variants: {', '.join(c.latent_names)}" if c.latent_names else (f"  latent codes: {c.latent_codes}" if c.latent_codes else "")
        print(f"{name:14s} {c.kind:5s} work size {c.work_size:4d}  {path.stat().st_size / 1e6:5.1f} MB{variants}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # `realtime bench ...` = `python -m benchmarks.fps ...`
        from benchmarks.fps import main as bench

        return bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.config:
        parser.set_defaults(**load_config(parser, args.config))
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # OpenCV's videoio probes print a warning per missing camera
        os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
        import cv2

        cv2.setLogLevel(0)
    if args.list_filters:
        return list_filters()
    if args.list_cameras:
        from realtime.sources import list_cameras

        cams = list_cameras()
        for index, (w, h) in cams:
            print(f"camera {index}: {w}x{h}")
        if not cams:
            print("no cameras found")
        return 0 if cams else 1
    if not args.filter:
        from realtime.registry import bundled_filters

        raise UserError(f"choose a filter with --filter NAME (bundled: {', '.join(bundled_filters())}) or --list-filters")
    if args.frames is not None and args.frames < 1:
        raise UserError("--frames must be at least 1")
    if args.fps <= 0:
        raise UserError("--fps must be positive")
    from realtime.app import run

    summary = run(args)
    lat = summary["latency_ms"]
    print(f"{summary['frames_output']} frames out at {summary['fps_output']:.1f} fps, latency p50 {lat['p50']:.0f} ms "
          f"p95 {lat['p95']:.0f} ms, {summary['frames_dropped']} dropped, provider {summary['provider']}")
    return 0


def entry() -> int:
    return run_cli(main)


if __name__ == "__main__":
    raise SystemExit(entry())
