"""realtime-export (also ``python -m export``): checkpoints and foreign weights → ONNX filters.

    realtime-export onnx runs/cartoon.pt -o cartoon.onnx [--fp16] [--int8 --calib PHOTOS]
    realtime-export import-pytorch-examples mosaic.pth -o mosaic.onnx
    realtime-export import-filterclone weights.plist -o clone.onnx
    realtime-export import-onnx candy-9.onnx -o candy.onnx --input-range 0-255
    realtime-export tensorrt cartoon.onnx --opt 640x480
    realtime-export info cartoon.onnx
    realtime-export temporal candy.onnx --keep 0.98 --threshold 5 --floor 2   its stabiliser's settings
    realtime-export triton REPO [--filters NAME ...] [--fp16]    a Triton model repository (export.triton)
    realtime-export triton REPO --check [--run]                   check one (yours, edited) offline
    realtime-export install my.onnx|FOLDER|shared.zip [--name NAME]    your own filters (export.library_cli)
    realtime-export list | uninstall NAME | export NAME -o NAME.zip
    realtime-export clone PAIRS --name NAME [--minutes M | --steps N]    clone a filter from before/after pairs
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, NoReturn

from realtime.cli_args import size
from realtime.filters.onnx_format import KINDS, RANGES, FilterContract
from realtime.errors import UserError, run_cli

log = logging.getLogger("export")
MAX_SIDE = 8192  # largest height/width accepted on the command line
MAX_WORK_SIZE = 4096  # largest --work-size (exports take sides up to 4096)
_wxh = size(MAX_SIDE)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one ``error: ...`` line like every other error (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message}; see `{self.prog} --help`")


def _size(text: str) -> tuple[int, int]:
    """'WxH' on the command line (as everywhere in this project) → (height, width) for the code."""
    w, h = _wxh(text)
    return h, w


def _work_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of pixels, e.g. 256, got {text!r}") from None
    if not 1 <= value <= MAX_WORK_SIZE:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_WORK_SIZE} pixels, got {value}")
    return value


def _number(text: str, form: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}") from None


def _ranged(form: str, ok: Callable[[float], bool], rule: str) -> Callable[[str], float]:
    """A command-line number parser that says ``must be RULE`` for values ``ok`` refuses."""
    def parse(text: str) -> float:
        value = _number(text, form)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value
    return parse


# the stabiliser's settings one by one (their combination is checked with the contract: realtime.compositing.temporal)
keep_value = _ranged("a share, e.g. 0.98", lambda v: 0.0 <= v < 1.0, "from 0 to below 1 (1 would freeze the picture)")
threshold_value = _ranged("grey levels, e.g. 5", lambda v: 0.0 < v <= 255.0, "above 0 and at most 255 grey levels")
floor_value = _ranged("grey levels, e.g. 2", lambda v: 0.0 <= v < 255.0, "from 0 to below 255 grey levels")


def add_temporal_options(p: argparse.ArgumentParser) -> None:
    """--temporal-keep/-threshold/-floor: the stabiliser settings a filter's contract carries."""
    p.add_argument("--temporal-keep", type=keep_value, default=None,
                   help="how firmly the live loop holds this filter's output where the camera is still (default: the runtime's 0.9)")
    p.add_argument("--temporal-threshold", type=threshold_value, default=None,
                   help="input change in grey levels at which a new output wins fully (default: the runtime's 5)")
    p.add_argument("--temporal-floor", type=floor_value, default=None,
                   help="input change in grey levels up to which the old output is held fully (default: the runtime's 0)")


def temporal_overrides(args: argparse.Namespace, option_prefix: str = "temporal_") -> dict[str, float]:
    """The contract's stabiliser settings given on the command line (none: the runtime's default);
    ``option_prefix``: how the options are named (``--temporal-keep``; the temporal command's ``--keep``)."""
    from realtime.filters.onnx_format import TEMPORAL_FIELDS

    given = {f: getattr(args, option_prefix + f.removeprefix("temporal_")) for f in TEMPORAL_FIELDS}
    return {f: v for f, v in given.items() if v is not None}


# ---------------------------------------------------------------- checks made before any work
def require_input(path: Path, what: str) -> Path:
    """``path`` if it is a readable, non-empty file; otherwise one line saying what is wrong."""
    from realtime.filters.onnx_format import require_file

    path = require_file(path, what)
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise UserError(f"cannot read {what} {path} ({exc.strerror or exc}): check its permissions") from None
    return path


def require_output(path: Path, inputs: tuple[Path, ...] = ()) -> Path:
    """Fail now, not after minutes of work, when ``path`` cannot be written: a folder, an input
    file, a folder that cannot be created (a file in the way, read-only) or cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"output {path} is a folder: pass a file name, e.g. -o {path / 'filter.onnx'}")
    for src in inputs:
        if src.exists() and path.exists() and os.path.samefile(src, path):
            raise UserError(f"output {path} is the input file: choose another -o so the input is kept")
    if path.is_file() and not os.access(path, os.W_OK):
        raise UserError(f"output {path} exists and is read-only: remove it or choose another -o")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"cannot write {path}: {folder} is a file, not a folder; choose another output path")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        what = f"cannot write {path}" if folder == path.parent else f"cannot create the folder {path.parent}"
        raise UserError(f"{what}: folder {folder} is not writable ({exc.strerror or exc}); choose another output path") from None
    return path


def require_variants(args: argparse.Namespace) -> None:
    """--int8 needs --calib with photos; --calib is only for --int8."""
    from models.data.media import IMAGE_EXTS, list_media

    if args.calib is not None and not args.int8:
        raise UserError("--calib is only used with --int8: add --int8, or drop --calib")
    if not args.int8:
        return
    if args.calib is None:
        raise UserError("--int8 needs --calib FOLDER with photos to calibrate on")
    if not args.calib.is_dir():
        raise UserError(f"calibration folder {args.calib} does not exist or is not a folder: pass --calib with a folder of photos")
    if not list_media(args.calib, IMAGE_EXTS):
        raise UserError(f"no calibration images ({', '.join(sorted(IMAGE_EXTS))}) in {args.calib}: pass --calib with a folder of photos")


def variant_outputs(out: Path, args: argparse.Namespace, inputs: tuple[Path, ...]) -> Path:
    """Check ``out`` and the fp16/int8 files written beside it; return ``out``."""
    from realtime.filters.onnx_format import variant_path

    require_variants(args)
    for precision, wanted in (("fp32", True), ("fp16", args.fp16), ("int8", args.int8)):
        if wanted:
            require_output(out if precision == "fp32" else variant_path(out, precision), inputs)
    return out


def latent_names(meta: dict[str, Any], codes: int) -> tuple[str, ...]:
    """Name each latent code after the teacher style the encoder mapped to it, if known."""
    if not codes:
        return ()
    by_code: dict[int, list[str]] = {}
    codes_by_style = meta.get("style_codes") or {}
    try:
        for style, code in dict(codes_by_style).items():
            by_code.setdefault(int(code), []).append(str(style))
    except (TypeError, ValueError):
        raise UserError(f"checkpoint meta style_codes must map style names to code numbers, got {codes_by_style!r}") from None
    return tuple("+".join(sorted(by_code.get(k, []))) or f"code{k}" for k in range(codes))


def export_with_variants(model: Any, contract: FilterContract, out: Path, args: argparse.Namespace) -> list[Path]:
    """fp32 export + parity, then the fp16/int8 variants asked for, each parity-checked."""
    from export.onnx_export import export_model
    from export.parity import check_parity
    from export.precision import to_fp16, to_int8
    from realtime.filters.onnx_format import variant_path

    written = [export_model(model, contract, out)]
    check_parity(model, out, contract, "fp32")
    if args.fp16:
        written.append(to_fp16(out, variant_path(out, "fp16")))
        check_parity(model, written[-1], contract, "fp16")
    if args.int8:
        written.append(to_int8(out, variant_path(out, "int8"), args.calib, contract))
        check_parity(model, written[-1], contract, "int8")
    for p in written:
        print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")
    return written


def load_our_checkpoint(path: Path) -> tuple[Any, dict[str, Any]]:
    """(model, meta) from a checkpoint of ours, each part's type checked so a damaged or
    hand-edited file gives one line instead of a traceback."""
    import torch

    from export.importers import build_checked, check_finite
    from models.networks.registry import build_model
    from models.networks.checkpoint import read_checkpoint

    payload = read_checkpoint(path)
    arch, config = payload.get("arch"), payload.get("config", {})
    state, meta = payload.get("state_dict"), payload.get("meta", {})
    for key, value, kind in (("arch", arch, str), ("config", config, dict), ("meta", meta, dict)):
        if not isinstance(value, kind):
            raise UserError(f"checkpoint {path} is damaged: its {key} entry is of type {type(value).__name__}, expected "
                            f"{kind.__name__}; save it again with the training scripts")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise UserError(f"checkpoint {path} is damaged: its state_dict is not a dictionary of named tensors; "
                        "save it again with the training scripts")
    check_finite(state, path)
    return build_checked(lambda: build_model(arch, config), state, path), meta


def cmd_onnx(args: argparse.Namespace) -> None:
    from export.onnx_export import contract_for
    from models.networks.calling import latent_codes

    checkpoint = require_input(args.checkpoint, "checkpoint")
    out = variant_outputs(args.output or checkpoint.with_suffix(".onnx"), args, (checkpoint,))
    model, meta = load_our_checkpoint(checkpoint)
    name = args.name or meta.get("name") or checkpoint.stem
    codes = latent_codes(model)  # a fast student's codes are its inner network's
    names = latent_names(meta, codes)
    # a face clone trained without a step the runtime draws after it (train_pairs --post): the contract asks for it
    post = str(meta.get("post") or "") if args.kind == "face" else ""
    contract = contract_for(
        model, str(name), kind=args.kind, work_size=args.work_size, license=args.license or str(meta.get("license", "unknown")),
        source=str(meta.get("source", f"trained by realtime ({meta.get('teacher') or 'paired data'}, {meta.get('steps', '?')} steps)")),
        latent_names=names, post=post, post_styles=names if post else (), **temporal_overrides(args),
    )
    export_with_variants(model, contract, out, args)


def import_weights(args: argparse.Namespace, load: Callable[[Path], Any], license: str, source: str) -> None:
    """Someone else's weights file → one of our networks → ONNX (+ variants), checked first."""
    from export.onnx_export import contract_for

    weights = require_input(args.weights, "weights file")
    out = variant_outputs(args.output, args, (weights,))
    model = load(weights)
    contract = contract_for(model, args.name or weights.stem, kind=args.kind, work_size=args.work_size,
                            license=args.license or license, source=f"{source}: {weights.name}", **temporal_overrides(args))
    export_with_variants(model, contract, out, args)


def cmd_import_pytorch_examples(args: argparse.Namespace) -> None:
    from export.importers import load_pytorch_examples

    import_weights(args, load_pytorch_examples, "see the weights' source", "pytorch/examples fast_neural_style")


def cmd_import_filterclone(args: argparse.Namespace) -> None:
    from export.importers import load_filterclone_plist

    import_weights(args, load_filterclone_plist, "not redistributable (trained on Snapchat outputs)", "FilterClone plist")


def cmd_import_onnx(args: argparse.Namespace) -> None:
    from export.importers import import_foreign_onnx

    model = require_input(args.model, "model file")
    out = require_output(args.output, (model,))
    overrides = {k: v for k, v in dict(kind=args.kind, input_range=args.input_range, work_size=args.work_size,
                                        license=args.license, fixed_size=args.fixed_size).items() if v is not None}
    overrides.update(temporal_overrides(args))
    path = import_foreign_onnx(model, out, args.name or model.stem, overrides)
    print(f"wrote {path}")


def cmd_tensorrt(args: argparse.Namespace) -> None:
    from realtime.filters.onnx_format import inspect
    from export.tensorrt import build_engine
    from realtime.filters.providers import ShapeProfile

    model = require_input(args.model, "model file")
    for low, high, names in ((args.min, args.opt, "--min ≤ --opt"), (args.opt, args.max, "--opt ≤ --max")):
        if low[0] > high[0] or low[1] > high[1]:
            raise UserError(f"the shape profile needs {names} in both width and height; got --min "
                            f"{args.min[1]}x{args.min[0]}, --opt {args.opt[1]}x{args.opt[0]}, --max {args.max[1]}x{args.max[0]}")
    inspect(model)  # a file realtime could not run fails here, not after the TensorRT checks
    folder = build_engine(model, ShapeProfile(args.min, args.opt, args.max))
    print(f"TensorRT engine cached in {folder}")


def cmd_info(args: argparse.Namespace) -> None:
    """What realtime will run for this file: its contract (stored or inferred, after every
    check realtime makes) and the variant file it picks per provider. No torch is imported."""
    from realtime.filters.onnx_format import inspect
    from realtime.filters.registry import variant_file

    info = inspect(args.model)
    stored = info.stored
    for key, value in info.contract.to_props().items():
        print(f"{key} = {value}")
    for provider in ("cpu", "cuda", "tensorrt"):
        print(f"runs on {provider} = {variant_file(info.path, provider, 'auto').name}")
    if not stored:
        print(f"note: {args.model} has no filter.* metadata; this is what realtime infers from its input shape "
              "(store a contract with `realtime-export import-onnx`)", file=sys.stderr)


def cmd_temporal(args: argparse.Namespace) -> None:
    """Store how firmly the live loop's stabiliser holds this filter's output on still pixels
    (``filter.temporal_keep``/``_threshold``; :mod:`realtime.compositing.temporal`), graph
    untouched; a model card beside the file (NAME.json, as bundled filters have) says it too."""
    import json
    from dataclasses import replace

    from realtime.filters.onnx_format import TEMPORAL_FIELDS, contract_of, load_model_proto, save_atomic, write_contract

    given = temporal_overrides(args, option_prefix="")
    if args.default and given:
        raise UserError("--default removes the settings: drop --keep, --threshold and --floor, or drop --default")
    if not args.default and not given:
        raise UserError("give --keep, --threshold and/or --floor (or --default to use the runtime's settings)")
    model = require_input(args.model, "model file")
    out = require_output(args.output or model)
    proto = load_model_proto(model, weights=True)
    contract = contract_of(proto, model)
    contract = replace(contract, **(dict.fromkeys(TEMPORAL_FIELDS) if args.default else given))
    write_contract(proto, contract)
    save_atomic(proto, out)
    card_path = out.with_suffix(".json")
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError):
            card = None
        if isinstance(card, dict) and card.get("name") == out.stem:
            card = {k: v for k, v in card.items() if k not in TEMPORAL_FIELDS}
            card_path.write_text(json.dumps({**card, **temporal_card(contract)}, indent=2) + "\n")
    held = temporal_card(contract)
    print(f"wrote {out}: " + (", ".join(f"{k} {v}" for k, v in held.items()) or "the runtime's default stabiliser"))


def temporal_card(contract: FilterContract) -> dict[str, float]:
    """The stabiliser settings a model card shows: the contract's own (none: the runtime's default)."""
    from realtime.filters.onnx_format import TEMPORAL_FIELDS

    return {f: v for f in TEMPORAL_FIELDS if (v := getattr(contract, f)) is not None}


def cmd_triton(args: argparse.Namespace) -> None:
    """Write a Triton model repository (or, with --check, read one) and check every model in
    it as Triton would load it: one line per problem, then one ``error:`` line."""
    from export import triton

    if args.check:
        given = [opt for opt, value, default in (("--filters", args.filters, None), ("--variant", args.variant, "full"),
                                                 ("--graph", args.graph, "frame"), ("--fp16", args.fp16, False),
                                                 ("--engine-cache", args.engine_cache, triton.SERVER_CACHE),
                                                 ("--replace", args.replace, False)) if value != default]
        if given:
            raise UserError(f"--check only reads {args.repo}: drop {', '.join(given)} (they are for writing a repository)")
        triton.model_config_class()
        report = triton.check_repository(args.repo)
    else:
        if not args.engine_cache.startswith("/"):
            raise UserError(f"--engine-cache is a folder as the server sees it and must be absolute, got {args.engine_cache!r}; "
                            f"e.g. --engine-cache {triton.SERVER_CACHE}")
        options = triton.WriteOptions(graph=args.graph, variant=args.variant, fp16=args.fp16,
                                      engine_cache=args.engine_cache, replace=args.replace)
        written = triton.write_repository(args.repo, args.filters, options)
        for folder in written:
            print(f"wrote {folder}")
        report = triton.check_repository(args.repo, only=[f.name for f in written])
    for note in report.notes:
        print(f"{note.where}: note: {note.message}", file=sys.stderr)
    for problem in report.problems:
        print(f"{problem.where}: {problem.message}", file=sys.stderr)
    if report.problems:
        count = len(report.problems)
        raise UserError(f"{count} problem{'s' if count > 1 else ''} in {args.repo} (listed above): Triton would not load "
                        f"{'these models' if count > 1 else 'this model'}; fix {'them' if count > 1 else 'it'}, then run `realtime-export triton {args.repo} --check`")
    if args.run:
        for name in report.passed:
            for hw in ((480, 640), (288, 352)):
                shapes = triton.run_on_cpu(args.repo / name, hw)
                print(f"ran {name} on the CPU at {hw[1]}x{hw[0]}: " + ", ".join(f"{k} {list(v)}" for k, v in shapes.items()))
    print(f"{len(report.passed)} model{'s' if len(report.passed) != 1 else ''} in {args.repo} pass Triton's model-config "
          f"schema and match their ONNX files: {', '.join(report.passed)}")
    print(f"serve them (NVIDIA GPU): {triton.docker_command(args.repo, triton.SERVER_CACHE if args.check else args.engine_cache)}")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="realtime-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    def contract_opts(sp: argparse.ArgumentParser, with_variants: bool = True) -> None:
        sp.add_argument("--name", help="filter name (default: from the file)")
        sp.add_argument("--kind", choices=KINDS, default=None, help="frame (whole image) or face (aligned crop)")
        sp.add_argument("--work-size", type=_work_size, default=None, help="short side the filter is meant to run at")
        sp.add_argument("--license", default=None)
        add_temporal_options(sp)
        if with_variants:
            sp.add_argument("--fp16", action="store_true", help="also write NAME.fp16.onnx")
            sp.add_argument("--int8", action="store_true", help="also write NAME.int8.onnx (needs --calib)")
            sp.add_argument("--calib", type=Path, help="folder of photos for int8 calibration")

    sp = sub.add_parser("onnx", help="export a checkpoint of ours")
    sp.add_argument("checkpoint", type=Path)
    sp.add_argument("-o", "--output", type=Path)
    contract_opts(sp)
    sp.set_defaults(func=cmd_onnx)

    sp = sub.add_parser("import-pytorch-examples", help="pytorch/examples fast_neural_style .pth → ONNX")
    sp.add_argument("weights", type=Path)
    sp.add_argument("-o", "--output", type=Path, required=True)
    contract_opts(sp)
    sp.set_defaults(func=cmd_import_pytorch_examples)

    sp = sub.add_parser("import-filterclone", help="FilterClone binary .plist → ONNX")
    sp.add_argument("weights", type=Path)
    sp.add_argument("-o", "--output", type=Path, required=True)
    contract_opts(sp)
    sp.set_defaults(func=cmd_import_filterclone)

    sp = sub.add_parser("import-onnx", help="add the filter contract to a foreign ONNX model")
    sp.add_argument("model", type=Path)
    sp.add_argument("-o", "--output", type=Path, required=True)
    sp.add_argument("--input-range", choices=RANGES, default=None)
    sp.add_argument("--fixed-size", type=_size, default=None, help="WxH when the model needs one size")
    contract_opts(sp, with_variants=False)
    sp.set_defaults(func=cmd_import_onnx)

    sp = sub.add_parser("tensorrt", help="build and cache a TensorRT engine (NVIDIA GPUs)")
    sp.add_argument("model", type=Path)
    sp.add_argument("--min", type=_size, default=(64, 64), help="smallest WxH (default 64x64)")
    sp.add_argument("--opt", type=_size, default=(480, 640), help="WxH to tune for (default 640x480)")
    sp.add_argument("--max", type=_size, default=(1088, 1920), help="largest WxH (default 1920x1088)")
    sp.set_defaults(func=cmd_tensorrt)

    sp = sub.add_parser("info", help="print a model's filter contract")
    sp.add_argument("model", type=Path)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("temporal", help="set how firmly the live loop steadies a model's output (its contract)")
    sp.add_argument("model", type=Path)
    sp.add_argument("-o", "--output", type=Path, help="write here (default: rewrite MODEL in place)")
    sp.add_argument("--keep", type=keep_value, default=None, help="weight of the previous output where the camera is still, e.g. 0.95")
    sp.add_argument("--threshold", type=threshold_value, default=None, help="input change (grey levels) at which the new output wins fully, e.g. 8")
    sp.add_argument("--floor", type=floor_value, default=None,
                    help="input change (grey levels) up to which the old output is held fully, e.g. 2 (camera noise)")
    sp.add_argument("--default", action="store_true", help="remove the settings: the runtime's default")
    sp.set_defaults(func=cmd_temporal)

    sp = sub.add_parser("triton", help="write or check a Triton Inference Server model repository (ONNX Runtime + TensorRT)")
    sp.add_argument("repo", type=Path, metavar="REPO", help="the model repository folder (created if missing)")
    sp.add_argument("--filters", nargs="+", metavar="NAME", help="bundled or installed filter names, or .onnx files (default: every bundled filter)")
    sp.add_argument("--variant", choices=("full", "fast"), default="full", help="the full model or its fast student NAME.fast.onnx (default full)")
    sp.add_argument("--graph", choices=("frame", "float"), default="frame",
                    help="frame: uint8 1x3xHxW RGB planes in and out (default); float: the filter's float32 Nx3xHxW graph")
    sp.add_argument("--fp16", action="store_true", help="TensorRT builds FP16 engines (precision_mode FP16; default FP32)")
    sp.add_argument("--engine-cache", default="/trt_cache", metavar="PATH", help="TensorRT engine cache folder inside the server (default /trt_cache)")
    sp.add_argument("--replace", action="store_true", help="write models that are already in REPO again")
    sp.add_argument("--check", action="store_true", help="only check REPO (e.g. after editing a config.pbtxt)")
    sp.add_argument("--run", action="store_true", help="also run each model once with ONNX Runtime on the CPU at the config's shapes")
    sp.set_defaults(func=cmd_triton)

    from export.library_cli import add_commands

    add_commands(sub)  # install, list, uninstall, export, clone: your own filters
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "root"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args.func(args)
    return 0


def entry() -> int:
    return run_cli(main)
