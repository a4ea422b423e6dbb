"""``realtime``'s start with the settings that stay: the saved ones become the command line's
defaults, in this order (each wins over the one before):

    the last run's settings  <  --config FILE  <  --preset NAME  <  options on the command line

A latent variant belongs to the filter it was saved with: it is dropped when the filter comes
from a later layer (``realtime --filter candy`` after a run of cartoon's variant 3 starts
candy's variant 0). A camera's size belongs to that camera likewise.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from realtime.control.settings import Saved, SettingsFile
from realtime.errors import UserError

def explicit_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The options (dests) the command line itself gives: parsed with every default
    suppressed, so only what ``argv`` sets is there."""
    kept = [(a, a.default) for a in parser._actions]
    kept_defaults = dict(parser._defaults)
    try:
        for action, _ in kept:
            action.default = argparse.SUPPRESS
        parser._defaults.clear()
        return set(vars(parser.parse_args(list(argv))))
    finally:
        for action, default in kept:
            action.default = default
        parser._defaults.update(kept_defaults)


def with_saved_settings(parser: argparse.ArgumentParser, argv: Sequence[str], from_config: dict[str, Any],
                        preset: str | None, settings: SettingsFile | None = None) -> tuple[argparse.Namespace, Saved]:
    """The options with the saved settings as defaults (see the module's order), and what
    the settings file holds."""
    settings = settings or SettingsFile()
    saved = settings.load()
    layers: list[tuple[str, dict[str, Any]]] = [("last", saved.last.options()), ("config", from_config)]
    if preset is not None:
        if preset not in saved.presets:
            names = ", ".join(sorted(saved.presets)) or "none yet"
            raise UserError(f"--preset {preset}: no such preset (saved: {names}); save one from the studio page "
                            f"or with: realtime ctl save-preset NAME")
        layers.append(("preset", saved.presets[preset].options()))
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, values in layers:
        for key, value in values.items():
            merged[key], origin[key] = value, name
    explicit = explicit_options(parser, argv)
    if "latent" in merged and origin["latent"] != "config" and ("filter" in explicit or origin.get("filter") != origin["latent"]):
        del merged["latent"]
    if "size" in merged and origin["size"] == "last" and ("source" in explicit or origin.get("source") != "last"):
        del merged["size"]
    parser.set_defaults(**merged)
    return parser.parse_args(list(argv)), saved


def camera_of(source: str, size: tuple[int, int] | None) -> tuple[str, tuple[int, int] | None] | None:
    """What to remember of the source: a camera (its index or name) and its size; None for a
    file or the synthetic pattern."""
    text = str(source).strip()
    if text == "synthetic" or (not text.isdigit() and Path(text).expanduser().exists()):
        return None
    return (text, size)
