"""realtime: run neural filters on a camera (or a video) into a preview window and a virtual camera.

    realtime --filter cartoon                       webcam 0 → preview window
    realtime --filter cartoon --virtual-cam         … and a virtual camera for Zoom/Meet
    realtime --background blur                      the room blurred behind you (no filter)
    realtime --filter starry_night --filter-region person --background remove
    realtime --filter none --on-smile cartoon --events smiles.jsonl
    realtime --filter big_eyes+glasses | --sticker hat.png@head
    realtime --filter cartoon --source talk.mp4 --no-preview --output out.mp4 --frames 100 --stats s.json
    realtime --list-filters | --list-cameras
    realtime web [--host 127.0.0.1] [--port 1235]   a page: upload a photo, pick a filter (see realtime web --help)
    realtime batch clips/*.mp4 --out styled/ --filter cartoon [--ray auto]   many files (see realtime batch --help)
    realtime service install --preset work           the virtual camera at every login (see realtime service --help)
    realtime ctl next | set cartoon+glasses | strength 0.4 | fav 3 | status    the running one (see realtime ctl --help)

While it runs, the studio page (its address is printed at start) and realtime ctl change the
filter, and the settings you end with are used at the next start (--preset NAME: a saved set).

Options can also come from a TOML file (--config); the command line wins.
"""
from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# only light modules here: the heavy ones (onnx, cv2, ONNX Runtime, MediaPipe) load once the
# signal handler is in place, in a region no signal interrupts (realtime.signals)
from realtime import signals  # noqa: E402
from realtime.cli_args import OneLineParser, number, size  # noqa: E402
from realtime.config import MAX_SIDE, RunConfig  # noqa: E402
from realtime.errors import UserError, run_cli  # noqa: E402

log = logging.getLogger("realtime")


_size = size(MAX_SIDE)  # one object: load_config tells a size option by it


def _fourcc(text: str) -> str | None:
    """'mjpg' → 'MJPG'; 'auto' → None (the camera's own default)."""
    if text.strip().lower() in ("auto", "default", ""):
        return None
    code = text.strip().upper()
    if len(code) != 4 or not code.isascii() or not code.isprintable():
        raise argparse.ArgumentTypeError(f"expected four letters such as MJPG or YUYV, or auto, got {text!r}")
    return code


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="realtime", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filter", help="bundled filter name or FILE.onnx; chain with +, e.g. cartoon+blur.onnx")
    p.add_argument("--source", default="0",
                   help="camera index or name (a part of it, e.g. \"Logitech\"), video file, image file or 'synthetic' (default 0)")
    p.add_argument("--size", type=_size, help="capture size WxH asked of the camera, e.g. 1280x720 (a file or image is scaled)")
    p.add_argument("--fourcc", type=_fourcc, default="MJPG",
                   help="pixel format asked of the camera: MJPG (default: most webcams give 720p30 only in it), YUYV, H264, or auto")
    p.add_argument("--output-size", type=_size, help="what the call and --output see, WxH (default: the camera's size); "
                   "the picture is scaled to cover it and centred")
    p.add_argument("--fps", type=number(float), default=30.0, help="output frame rate (default 30)")
    p.add_argument("--mirror", action="store_true", help="show the preview as a mirror (what the call sees is not flipped)")
    p.add_argument("--no-mirror", dest="mirror", action="store_false", default=False, help="a preview that is not mirrored")
    p.add_argument("--mirror-output", action="store_true", help="flip what the call sees (virtual camera, --output) too")
    p.add_argument("--control-port", type=number(int), default=0,
                   help="port of the control API and the studio page, on 127.0.0.1 (default: a free one, printed at start)")
    p.add_argument("--no-control", dest="control", action="store_false", default=True,
                   help="no control API, no studio page, no realtime ctl")
    p.add_argument("--preset", metavar="NAME", help="start with a preset saved from the studio page or realtime ctl save-preset NAME")
    p.add_argument("--preview", dest="preview", action="store_true", default=True, help="show a preview window (default)")
    p.add_argument("--no-preview", dest="preview", action="store_false", help="no window (headless)")
    p.add_argument("--virtual-cam", nargs="?", const=True, default=None, metavar="DEVICE",
                   help="also send to a virtual camera (v4l2loopback /dev/videoN on Linux, OBS elsewhere)")
    p.add_argument("--virtual-cam-backend", default=None, help="pyvirtualcam backend (v4l2loopback, obs, unitycapture)")
    p.add_argument("--ondemand", action="store_true", default=False,
                   help="with --virtual-cam: release the camera (its light goes off) while no app reads the virtual camera, "
                        "an idle picture meanwhile; it comes back when an app opens it (Linux)")
    p.add_argument("--no-ondemand", dest="ondemand", action="store_false", help="keep the camera on (default)")
    p.add_argument("--output", type=Path, help="also write the filtered video to FILE.mp4 (H.264; .mkv, .mov, .avi too)")
    p.add_argument("--no-audio", dest="audio", action="store_false", default=True,
                   help="leave a video source's sound out of --output (default: carried over, in sync)")
    p.add_argument("--frames", type=number(int), help="stop after N output frames")
    p.add_argument("--stats", type=Path, help="write run statistics to FILE.json at exit")
    p.add_argument("--provider", default="auto", choices=["auto", "tensorrt", "cuda", "cpu"])
    p.add_argument("--variant", default="auto", choices=["auto", "full", "fast"],
                   help="auto: a filter's fast CPU variant when running on CPU, the full model on GPU (default)")
    p.add_argument("--strength", type=number(float), default=1.0, help="blend of filter and input, 0..1 (default 1)")
    p.add_argument("--latent", type=number(int), default=0, help="latent code (variant) of filters that have them")
    p.add_argument("--work-size", type=number(int), help="short side frame filters run at (default: the model's)")
    p.add_argument("--fast", action="store_true", help="process a video file as fast as possible (no pacing, no drops)")
    p.add_argument("--loop", action="store_true", help="loop a video file")
    p.add_argument("--no-temporal", dest="temporal", action="store_false", default=True,
                   help="no temporal stabilisation (it blends with the previous output where the input is still)")
    p.add_argument("--track", choices=["auto", "always", "off"], default="auto",
                   help="face tracking: auto = only while a face filter is in the chain (default), always, off")
    p.add_argument("--no-track", dest="track", action="store_const", const="off", help="same as --track off")
    p.add_argument("--repeat", choices=["result", "raw"], default="result",
                   help="when inference is behind, re-send the newest result (default) or the raw frame")
    p.add_argument("--threads", type=number(int), default=0, help="ONNX Runtime threads (default: all cores)")
    p.add_argument("--in-flight", type=number(int), default=1, metavar="N",
                   help="frames processed at once (default 1: every core on one frame's network); 2 runs one "
                        "frame's network beside the next frame's: more frames a second on a small CPU, more latency")
    p.add_argument("--background", metavar="MODE",
                   help="blur[:STRENGTH 0..1], remove (flat green for chroma keying), a colour (#RRGGBB or a name), "
                        "an image or a video (loops); the b hotkey cycles modes")
    p.add_argument("--filter-region", choices=["all", "person", "background"], default="all",
                   help="where a whole-frame filter applies (default all)")
    p.add_argument("--segmentation", choices=["landscape", "general"], default="landscape",
                   help="person mask model: landscape (faster, default) or general")
    p.add_argument("--on-smile", metavar="NAME", help="switch to filter NAME while the person smiles")
    p.add_argument("--events", type=Path, metavar="FILE.jsonl", help="write one JSON line per trigger change")
    p.add_argument("--max-faces", type=number(int), default=2, help="faces tracked at once (default 2)")
    p.add_argument("--sticker", metavar="FILE.png[@eyes|@head]",
                   help="your own RGBA image on every face: @eyes (default) between the eyes, @head above them")
    p.add_argument("--config", type=Path, help="TOML file with any of these options")
    p.add_argument("--list-filters", action="store_true", help="list bundled filters, yours and the effects, and exit")
    p.add_argument("--list-cameras", action="store_true", help="list the cameras by index and name (opens none) and exit")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: what it does (info), -vv: debug")
    return p


def load_config(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    """TOML options → argparse defaults (so the command line still overrides them). Values
    may be written the natural TOML way (``source = 0``, ``fps = 30``, ``size = "1280x720"``
    or ``[1280, 720]``, ``virtual_cam = true``); every bad key or value is reported at once."""
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
    # keys are long options (no_preview = true) or what they set (preview = false)
    by_option = {o[2:].replace("-", "_"): a for a in parser._actions for o in a.option_strings if o.startswith("--")}
    by_dest = {a.dest: a for a in parser._actions if a.option_strings}
    out: dict[str, Any] = {}
    problems = []
    not_in_files = ("config", "help", "list_filters", "list_cameras")
    for key, value in data.items():
        name = key.replace("-", "_")
        action = by_option.get(name) or by_dest.get(name)
        if action is None or action.dest in not_in_files:
            near = difflib.get_close_matches(name, [k for k in by_option if k not in not_in_files], 1)
            problems.append(f"unknown option {key!r}" + (f" (did you mean {near[0]}?)" if near else ""))
            continue
        try:
            if name not in by_option and isinstance(action.const, bool):  # the value itself, e.g. temporal = false
                if not isinstance(value, bool):
                    raise TypeError("expected true or false")
                out[action.dest] = value
            elif isinstance(action, argparse._StoreConstAction) and not isinstance(action.const, bool):
                if not isinstance(value, bool):  # no_track = true
                    raise TypeError("expected true or false")
                if value:
                    out[action.dest] = action.const
            else:
                out[action.dest] = config_value(action, value)
        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
            problems.append(f"bad value for {key} ({value!r}): {exc}")
    if problems:
        raise UserError(f"config file {path}: {'; '.join(problems)}")
    return out


def config_value(action: argparse.Action, value: object) -> object:
    """One TOML value converted the way argparse converts the same option's text."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value if isinstance(action, argparse._StoreTrueAction) else not value
    if isinstance(action, argparse._CountAction):
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, int) or value < 0:
            raise TypeError("expected true, false or a count")
        return value
    if action.nargs == "?" and isinstance(value, bool):  # --virtual-cam [DEVICE]
        return action.const if value else None
    if isinstance(value, list) and action.type is _size and len(value) == 2 and all(type(v) is int for v in value):
        value = f"{value[0]}x{value[1]}"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"expected {'a number' if action.type not in (None, Path) else 'a string'}")
    if action.type is None or action.type is Path:  # names, paths, a camera index
        if isinstance(value, float):
            raise TypeError("expected a string")
        text = str(value)
        converted: object = Path(text) if action.type is Path else text
    elif isinstance(value, str):
        converted = action.type(value)
    elif action.type.__name__ == "int" and isinstance(value, float):
        raise TypeError("expected a whole number")
    else:
        converted = action.type(str(value))
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"choose one of {', '.join(map(str, action.choices))}")
    return converted


def list_filters() -> int:
    from realtime.filters.onnx_format import read_contract
    from realtime.filters.registry import bundled_filters, fast_variant

    filters = bundled_filters()
    if not filters:
        print("no bundled filters found")
        return 1
    for name, path in filters.items():
        c = read_contract(path)
        variants = f"  variants: {', '.join(c.latent_names)}" if c.latent_names else (f"  latent codes: {c.latent_codes}" if c.latent_codes else "")
        fast = fast_variant(path)  # what --variant auto runs on a CPU
        light = f"  CPU student {read_contract(fast).work_size:4d}  {fast.stat().st_size / 1e6:4.1f} MB" if fast else ""
        print(f"{name:14s} {c.kind:5s} work size {c.work_size:4d}  {path.stat().st_size / 1e6:5.1f} MB{light}{variants}")
    list_your_filters(set(filters))
    return 0


def print_cameras() -> int:
    from realtime.capture.cameras import list_cameras

    cams = list_cameras()
    for cam in cams:
        print(cam.describe())
    if not cams:
        print("no cameras found (is one plugged in? on Linux: ls /dev/video*, and are you in the 'video' group?)")
        return 1
    print('pick one with --source INDEX or --source "NAME" (a part of the name is enough); ask a format with '
          "--size 1280x720 --fps 30 --fourcc MJPG (the log and --stats say what the camera gave)")
    return 0


def list_your_filters(bundled: set[str]) -> None:
    """The filters installed in the user's library (realtime-export install / clone), marked as
    yours, then the effects (filters without a network)."""
    from realtime.filters.kinds.base import EFFECTS
    from realtime.filters.library import filters_dir, list_installed
    from realtime.filters.onnx_format import read_contract

    for entry in list_installed():
        hidden = entry.name in bundled or entry.name in EFFECTS
        try:
            c = read_contract(entry.path)
            about = f"{c.kind:5s} work size {c.work_size:4d}  {entry.size_bytes / 1e6:5.1f} MB"
        except UserError as exc:
            about = f"unreadable ({exc})"
        print(f"{entry.name:14s} {about}  yours{'  (hidden: a bundled filter or effect has this name)' if hidden else ''}")
    if not list_installed():
        print(f"(no filters of your own in {filters_dir()}: realtime-export install FILE.onnx, or realtime-export clone PAIRS --name NAME)")
    print(f"effects: {', '.join(EFFECTS)}")


def build_web_parser() -> argparse.ArgumentParser:
    from realtime.web.config import PROVIDERS, WebConfig

    d = WebConfig()
    p = OneLineParser(prog="realtime web", description="A page on localhost: upload a photo, pick a filter, see and "
                      "download the result; every variant of a filter side by side; your camera filtered live (with the "
                      "web extra, aiortc). Then open http://127.0.0.1:1235/.")
    p.add_argument("--host", default=d.host, help=f"address to listen on (default {d.host}: this machine only; "
                   "another one lets anyone who can reach it use the page, and is warned about)")
    p.add_argument("--port", type=number(int), default=d.port, help=f"port (default {d.port}; 0: any free port)")
    p.add_argument("--max-upload-mb", type=number(float), default=d.max_upload_mb,
                   help=f"largest image file accepted, in MB (default {d.max_upload_mb:g})")
    p.add_argument("--max-megapixels", type=number(float), default=d.max_megapixels,
                   help=f"largest image accepted, in megapixels, checked before decoding (default {d.max_megapixels:g})")
    p.add_argument("--provider", default=d.provider, choices=PROVIDERS)
    p.add_argument("--variant", default=d.variant, choices=["auto", "full", "fast"],
                   help="auto: a filter's fast CPU variant when running on CPU, the full model on GPU (default)")
    p.add_argument("--threads", type=number(int), default=d.threads,
                   help="ONNX Runtime threads (default: all cores; with --ray, 1 per replica, the CPUs it asks Ray for)")
    p.add_argument("--workers", type=number(int), default=d.workers, help=f"images filtered at once (default {d.workers})")
    p.add_argument("--max-live", type=number(int), default=d.max_live, help=f"live camera sessions at once (default {d.max_live})")
    p.add_argument("--ray", metavar="ADDRESS", default=d.ray,
                   help="filter the uploads on a Ray Serve deployment (the page and its caps stay here): local (a Ray "
                   "instance on this machine), auto (the running cluster), or ray://HEAD:10001 (needs the scale extra)")
    p.add_argument("--ray-replicas", metavar="N|MIN-MAX", default=d.ray_replicas,
                   help=f"with --ray: N replicas, or MIN-MAX for Serve to autoscale between (default {d.ray_replicas})")
    p.add_argument("--gpus-per-replica", metavar="F", type=number(float), default=d.gpus_per_replica,
                   help="with --ray: each replica's GPU share, run with the CUDA provider (0.25: four replicas share a GPU)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v: what it does (info), -vv: debug")
    return p


def web_main(argv: list[str]) -> int:
    """``realtime web``: check the options, then serve until Ctrl-C."""
    from realtime.web.config import WebConfig
    from realtime.web.server import serve

    args = vars(build_web_parser().parse_args(argv))
    verbose = args.pop("verbose")
    logging.basicConfig(level={0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG),
                        format="%(levelname)s %(name)s: %(message)s")
    return serve(WebConfig(**args))


def build_service_parser() -> argparse.ArgumentParser:
    from realtime.control import service

    p = OneLineParser(prog="realtime service", description=service.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True, metavar="install|uninstall|status")
    inst = sub.add_parser("install", help="start the virtual camera at login")
    inst.add_argument("--preset", metavar="NAME", help="start with this preset (default: the last run's settings)")
    inst.add_argument("--no-ondemand", dest="ondemand", action="store_false", default=True,
                      help="keep the camera on all the time (default on Linux: released while no app reads the virtual camera)")
    inst.add_argument("--no-start", dest="start", action="store_false", default=True,
                      help="enable it for the next login without starting it now")
    inst.add_argument("options", nargs=argparse.REMAINDER, help="-- then options for realtime, e.g. -- --size 1280x720")
    sub.add_parser("uninstall", help="stop it and remove it")
    sub.add_parser("status", help="installed, enabled, running")
    return p


def service_main(argv: list[str], platform: str | None = None) -> int:
    """``realtime service install|uninstall|status`` (:mod:`realtime.control.service`)."""
    from realtime.control import service

    args = build_service_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    system = service.system_name(platform)
    if args.action == "install":
        extra = list(args.options)[1:] if list(args.options)[:1] == ["--"] else list(args.options)
        passed_on = build_parser()  # the options passed on, parsed now rather than failing at every login

        def refuse(message: str) -> NoReturn:
            raise UserError(f"the options after -- are not valid for realtime: {message} (see realtime --help)")

        passed_on.error = refuse  # type: ignore[method-assign]
        passed_on.parse_args(extra)
        if not any(a.split("=")[0] in ("--filter", "--background", "--config") for a in extra):
            service.check_preset(args.preset)
        ondemand = args.ondemand and system == "linux"
        if args.ondemand and system != "linux":
            print("note: on-demand release needs Linux's v4l2loopback; the camera stays on while the service runs")
        if system == "linux":
            from realtime.sinks.virtual_cam import MODPROBE, loopback_devices

            if not loopback_devices():
                print(f"note: no v4l2loopback device yet; the service retries every 5 s until there is one. Create it with: "
                      f"{MODPROBE}; at every boot: docs/virtual-camera.md")
        lines = service.install(service.plan(system, service.live_command(args.preset, ondemand, extra)), args.start)
    elif args.action == "uninstall":
        lines = service.uninstall(service.plan(system, ()))
    else:
        lines = service.status(service.plan(system, ()))
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["web"]:
        return web_main(argv[1:])
    if argv[:1] == ["ctl"]:  # talks to the running one: nothing heavy to import
        from realtime.control.ctl import ctl_main

        return ctl_main(argv[1:])
    if argv[:1] == ["batch"]:  # many files through a chain: a process pool here, or Ray Data on a cluster
        from realtime.batch.cli import batch_main

        return batch_main(argv[1:])
    if argv[:1] == ["service"]:  # the camera at login (systemd user unit, LaunchAgent)
        return service_main(argv[1:])
    if argv[:1] == ["bench"]:  # the benchmark sits above the runtime (it imports it, not the other way)
        raise UserError("the benchmark is its own command: python -m benchmarks.fps --help (./run python -m benchmarks.fps ...)")
    with signals.deferred():  # imports, model loading, the run: a signal acts at the next safe point
        return live_main(argv)


def live_main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from_config = load_config(parser, args.config) if args.config else {}
    if from_config:
        parser.set_defaults(**from_config)
        args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # OpenCV's videoio probes print a warning per missing camera
        os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
        import cv2

        cv2.setLogLevel(0)
    if args.list_filters:
        return list_filters()
    if args.list_cameras:
        return print_cameras()
    from realtime.control.startup import camera_of, with_saved_settings

    args, saved = with_saved_settings(parser, argv, from_config, args.preset)  # the settings that stay (realtime.control)
    if not args.filter:
        if args.background is None and args.on_smile is None and args.sticker is None:
            from realtime.filters.registry import bundled_filters

            raise UserError(f"choose a filter with --filter NAME (bundled: {', '.join(bundled_filters())}) or a "
                            f"--background (blur, remove, a colour or a file); see --list-filters")
        args.filter = "none"
    from realtime.live.session import run

    signals.checkpoint()
    from realtime.control.plane import ControlOptions, control_plane

    options = {**vars(args), "config_file": args.config, "favourites": saved.favourites}
    control = ControlOptions(args.control, args.control_port, saved, camera=camera_of(args.source, args.size),
                             remember=not (args.fast or args.frames), provider=args.provider, variant=args.variant)
    summary = run(RunConfig.from_options(options), attach=control_plane(control)).summary()
    lat, frames = summary["latency_ms"], summary["frames_output"]
    rate = f" at {summary['fps_output']:.1f} fps" if frames > 1 else ""  # one frame has no rate
    print(f"{frames} frame{'s' * (frames != 1)} out{rate}, latency p50 {lat['p50']:.0f} ms "
          f"p95 {lat['p95']:.0f} ms, {summary['frames_dropped']} dropped, provider {summary['provider']}"
          + (f", camera lost {summary['camera_lost_s']:.1f} s ({summary['reconnects']} reconnects)"
             if summary.get("camera_lost_s") else ""))
    return 0


def entry() -> int:
    return run_cli(main)


if __name__ == "__main__":
    raise SystemExit(entry())
