"""realtime-export (also ``python -m export``): checkpoints and foreign weights → ONNX filters.

    realtime-export onnx runs/cartoon.pt -o cartoon.onnx [--fp16] [--int8 --calib PHOTOS]
    realtime-export import-pytorch-examples mosaic.pth -o mosaic.onnx
    realtime-export import-filterclone weights.plist -o clone.onnx
    realtime-export import-onnx candy-9.onnx -o candy.onnx --input-range 0-255
    realtime-export tensorrt cartoon.onnx --opt 480x640
    realtime-export info cartoon.onnx
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from export.contract import KINDS, RANGES, FilterContract, parse_size
from export.errors import UserError, run_cli

log = logging.getLogger("export")


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def latent_names(meta: dict[str, Any], codes: int) -> tuple[str, ...]:
    """Name each latent code after the teacher style the encoder mapped to it, if known."""
    if not codes:
        return ()
    by_code: dict[int, list[str]] = {}
    for style, code in (meta.get("style_codes") or {}).items():
        by_code.setdefault(int(code), []).append(style)
    return tuple("+".join(sorted(by_code.get(k, []))) or f"code{k}" for k in range(codes))


def export_with_variants(model: Any, contract: FilterContract, out: Path, args: argparse.Namespace) -> list[Path]:
    """fp32 export + parity, then the fp16/int8 variants asked for, each parity-checked."""
    from export.onnx_export import export_model
    from export.parity import check_parity
    from export.precision import to_fp16, to_int8, variant_path

    written = [export_model(model, contract, out)]
    check_parity(model, out, contract, "fp32")
    if args.fp16:
        written.append(to_fp16(out, variant_path(out, "fp16")))
        check_parity(model, written[-1], contract, "fp16")
    if args.int8:
        if not args.calib:
            raise UserError("--int8 needs --calib FOLDER with photos to calibrate on")
        written.append(to_int8(out, variant_path(out, "int8"), args.calib, contract))
        check_parity(model, written[-1], contract, "int8")
    for p in written:
        print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")
    return written


def cmd_onnx(args: argparse.Namespace) -> None:
    from export.onnx_export import contract_for
    from models.checkpoint import load_checkpoint

    model, meta, _ = load_checkpoint(args.checkpoint)
    name = args.name or meta.get("name") or args.checkpoint.stem
    codes = getattr(model.config, "latent_codes", 0)
    contract = contract_for(
        model, name, kind=args.kind, work_size=args.work_size, license=args.license or meta.get("license", "unknown"),
        source=meta.get("source", f"trained by realtime ({meta.get('teacher') or 'paired data'}, {meta.get('steps', '?')} steps)"),
        latent_names=latent_names(meta, codes),
    )
    export_with_variants(model, contract, args.output or args.checkpoint.with_suffix(".onnx"), args)


def cmd_import_pytorch_examples(args: argparse.Namespace) -> None:
    from export.importers import load_pytorch_examples
    from export.onnx_export import contract_for

    model = load_pytorch_examples(args.weights)
    contract = contract_for(model, args.name or args.weights.stem, kind=args.kind, work_size=args.work_size,
                            license=args.license or "see the weights' source", source=f"pytorch/examples fast_neural_style: {args.weights.name}")
    export_with_variants(model, contract, args.output, args)


def cmd_import_filterclone(args: argparse.Namespace) -> None:
    from export.importers import load_filterclone_plist
    from export.onnx_export import contract_for

    model = load_filterclone_plist(args.weights)
    contract = contract_for(model, args.name or args.weights.stem, kind=args.kind, work_size=args.work_size,
                            license=args.license or "not redistributable (trained on Snapchat outputs)", source=f"FilterClone plist: {args.weights.name}")
    export_with_variants(model, contract, args.output, args)


def cmd_import_onnx(args: argparse.Namespace) -> None:
    from export.importers import import_foreign_onnx

    overrides = {k: v for k, v in dict(kind=args.kind, input_range=args.input_range, work_size=args.work_size,
                                        license=args.license, fixed_size=args.fixed_size).items() if v is not None}
    path = import_foreign_onnx(args.model, args.output, args.name or args.model.stem, overrides)
    print(f"wrote {path}")


def cmd_tensorrt(args: argparse.Namespace) -> None:
    from export.tensorrt import build_engine
    from realtime.providers import ShapeProfile

    folder = build_engine(args.model, ShapeProfile(args.min, args.opt, args.max))
    print(f"TensorRT engine cached in {folder}")


def cmd_info(args: argparse.Namespace) -> None:
    from export.onnx_export import read_contract

    if not args.model.is_file():
        raise UserError(f"model file {args.model} does not exist")
    try:
        contract = read_contract(args.model)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{args.model} is not a readable ONNX file ({type(exc).__name__})") from None
    for key, value in contract.to_props().items():
        print(f"{key} = {value}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="realtime-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    def contract_opts(sp: argparse.ArgumentParser, with_variants: bool = True) -> None:
        sp.add_argument("--name", help="filter name (default: from the file)")
        sp.add_argument("--kind", choices=KINDS, default=None, help="frame (whole image) or face (aligned crop)")
        sp.add_argument("--work-size", type=int, default=None, help="short side the filter is meant to run at")
        sp.add_argument("--license", default=None)
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
    sp.add_argument("--fixed-size", type=_size, default=None, help="HxW when the model needs one size")
    contract_opts(sp, with_variants=False)
    sp.set_defaults(func=cmd_import_onnx)

    sp = sub.add_parser("tensorrt", help="build and cache a TensorRT engine (NVIDIA GPUs)")
    sp.add_argument("model", type=Path)
    sp.add_argument("--min", type=_size, default=(64, 64), help="smallest HxW (default 64x64)")
    sp.add_argument("--opt", type=_size, default=(480, 640), help="HxW to tune for (default 480x640)")
    sp.add_argument("--max", type=_size, default=(1088, 1920), help="largest HxW (default 1088x1920)")
    sp.set_defaults(func=cmd_tensorrt)

    sp = sub.add_parser("info", help="print a model's filter contract")
    sp.add_argument("model", type=Path)
    sp.set_defaults(func=cmd_info)
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
