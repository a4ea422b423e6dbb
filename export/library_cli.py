"""``realtime-export`` commands for your own filters (the library: :mod:`realtime.filters.library`).

    realtime-export install FILE.onnx|FOLDER|FILE.zip [--name NAME] [--replace]
    realtime-export list
    realtime-export uninstall NAME
    realtime-export export NAME -o NAME.zip          a zip another user's install takes
    realtime-export clone PAIRS --name NAME [--minutes M | --steps N]   (export.clone)

An installed filter runs by name: ``realtime --filter NAME`` (chains too), the web page's
list, ``realtime.load_chain("NAME")``. No torch is imported by install, list, uninstall or
export: only clone trains.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from realtime.errors import UserError


def cmd_install(args: argparse.Namespace) -> None:
    from realtime.filters import library
    from realtime.filters.registry import reserved_names

    path = Path(args.source)
    unpacked = None
    try:
        if path.is_file() and path.suffix.lower() == ".zip":
            source, unpacked = library.source_from_zip(path)
        else:
            source = library.source_of(path)
        name = args.name or source.card.get("name") or source.stem
        if not library.NAME_RULE.match(str(name)):
            if args.name:
                library.check_name(name)
            raise UserError(f"{source.files['full'].name} has no usable filter name ({library.NAME_HELP}): pass --name NAME")
        origin = str(source.card.get("source") or f"installed from {path.name}")
        entry = library.install(source, str(name), reserved_names(), args.replace, card={"source": origin})
    finally:
        if unpacked is not None:
            shutil.rmtree(unpacked, ignore_errors=True)
    variants = ", ".join(t for t in entry.variants if t != "full") or "none"
    print(f"installed {entry.name} ({entry.card.get('kind', 'frame')} filter; variants: {variants}) in {entry.folder}")
    print(f"run it: realtime --filter {entry.name}")


def cmd_uninstall(args: argparse.Namespace) -> None:
    from realtime.filters import library
    from realtime.filters.registry import bundled_filters

    if args.name in bundled_filters():
        raise UserError(f"{args.name} is a bundled filter: it ships with realtime and cannot be uninstalled")
    folder = library.uninstall(args.name)
    print(f"uninstalled {args.name} (removed {folder})")


def cmd_list(args: argparse.Namespace) -> None:
    from realtime.filters import library

    entries = library.list_installed()
    if not entries:
        print(f"no filters installed in {library.filters_dir()} (realtime-export install FILE.onnx, or realtime-export clone PAIRS --name NAME)")
        return
    print(f"your filters in {library.filters_dir()}:")
    for e in entries:
        card = e.card
        variants = ",".join(t for t in e.variants if t != "full") or "-"
        measures = card.get("measures") or {}
        quality = f"  L1 ratio {measures['l1_ratio']:.3f}" if isinstance(measures.get("l1_ratio"), (int, float)) else ""
        print(f"{e.name:16s} {str(card.get('kind', '?')):5s} work size {str(card.get('work_size', '?')):>4s}  "
              f"{e.size_bytes / 1e6:5.1f} MB  variants {variants:10s}{quality}  {card.get('source', '')}")


def cmd_export(args: argparse.Namespace) -> None:
    from realtime.filters import library
    from realtime.filters.registry import bundled_filters

    if args.name in bundled_filters() and library.find(args.name) is None:
        raise UserError(f"{args.name} is a bundled filter: every install has it already; export one of your own (realtime-export list)")
    out = args.output or Path(f"{args.name}.zip")
    library.pack(args.name, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): `realtime-export install {out.name}` installs it")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The library's subcommands, added to ``realtime-export``'s parser."""
    from export.clone import add_clone_command

    sp = sub.add_parser("install", help="install a filter into your library (FILE.onnx with its variants, a folder, or a shared .zip)")
    sp.add_argument("source", type=Path, metavar="FILE.onnx|FOLDER|FILE.zip")
    sp.add_argument("--name", help="the name to install it under (default: the file's)")
    sp.add_argument("--replace", action="store_true", help="replace an installed filter of the same name")
    sp.set_defaults(func=cmd_install)

    sp = sub.add_parser("uninstall", help="remove a filter from your library")
    sp.add_argument("name")
    sp.set_defaults(func=cmd_uninstall)

    sp = sub.add_parser("list", help="list the filters in your library")
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("export", help="write one of your filters as a .zip to share")
    sp.add_argument("name")
    sp.add_argument("-o", "--output", type=Path, help="the .zip to write (default: NAME.zip)")
    sp.set_defaults(func=cmd_export)

    add_clone_command(sub)
