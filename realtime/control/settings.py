"""Settings that stay: the last look, named presets, favourites and recents, in one JSON file
in the user's config folder (:func:`realtime.control.paths.config_dir`)::

    {"version": 1,
     "last": {"filter": "cartoon", "strength": 0.8, "latent": 1, "background": "blur",
              "filter_region": "all", "mirror": true, "mirror_output": false,
              "source": "0", "size": [1280, 720]},
     "presets": {"work": {"filter": "none", "background": "blur"}},
     "favourites": ["cartoon", "candy+glasses"],
     "recents": ["candy", "cartoon"]}

The next ``realtime`` starts from ``last`` unless the command line says otherwise (the order:
``last`` < ``--config FILE`` < ``--preset NAME`` < options on the command line). The camera
and its size are kept only for a camera (a video file is not a camera to come back to).

A file that is not JSON, or holds values that do not fit (a hand edit, a filter uninstalled
since), is reported in one warning line and the values that do not fit fall back to the
defaults; nothing raises. Before such a file is written over, it is kept as
``settings.json.bad``. Writes are atomic (a temporary file renamed into place), and each
write reads the file again first, so two running instances do not undo each other's
favourites or presets.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from realtime.config import MAX_SIDE
from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)
VERSION = 1
FILE_NAME = "settings.json"
MAX_FAVOURITES = 9  # the keys 1-9
MAX_RECENTS = 12
PRESET_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
PRESET_HELP = "1-40 letters, digits, spaces, '_', '.' or '-', starting with a letter or digit"
REGIONS = ("all", "person", "background")


@dataclass(frozen=True)
class Look:
    """The live settings a preset (and the last run) keeps; None: not kept (the default)."""

    filter: str | None = None
    strength: float | None = None
    latent: int | None = None
    background: str | None = None  # "none" keeps the background
    filter_region: str | None = None
    on_smile: str | None = None  # "none": no trigger
    mirror: bool | None = None
    mirror_output: bool | None = None
    source: str | None = None  # a camera: its index or name (last only)
    size: tuple[int, int] | None = None  # the camera's size (last only)

    def as_json(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v, tuple) else v) for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def options(self) -> dict[str, Any]:
        """The command-line defaults this look gives (argparse dests)."""
        out = {k: v for k, v in vars(self).items() if v is not None}
        for key in ("background", "on_smile"):
            if out.get(key) == "none":
                out[key] = None
        return out

    def without_camera(self) -> "Look":
        return replace(self, source=None, size=None)


@dataclass(frozen=True)
class Saved:
    last: Look = Look()
    presets: dict[str, Look] = field(default_factory=dict)
    favourites: tuple[str, ...] = ()
    recents: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"version": VERSION, "last": self.last.as_json(),
                "presets": {name: look.as_json() for name, look in sorted(self.presets.items())},
                "favourites": list(self.favourites), "recents": list(self.recents)}


def settings_path() -> Path:
    from realtime.control.paths import config_dir

    return config_dir() / FILE_NAME


def check_preset_name(name: object) -> str:
    if not isinstance(name, str) or not PRESET_RULE.match(name):
        raise UserError(f"preset name {str(name)[:60]!r} is not allowed: use {PRESET_HELP}")
    return name


# ---------------------------------------------------------------- checking what was read
def check_filter(value: object, what: str = "filter") -> str:
    """A chain of names that exist now (bundled, yours, effects, an .onnx file that is there)."""
    from realtime.filters.chain import chain_files, split_spec

    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} is not text")
    try:
        parts = split_spec(value)
        chain_files(value)
    except (ValueError, UserError) as exc:
        raise ValueError(f"{what} {value[:60]!r}: {first_line(exc).split(';')[0]}") from None  # the reason, not the list
    return "+".join(parts) or "none"


def check_latent(latent: object, spec: str | None) -> int:
    if isinstance(latent, bool) or not isinstance(latent, int) or latent < 0:
        raise ValueError(f"latent {latent!r} is not a whole number ≥ 0")
    if latent and spec is not None:
        from realtime.control.catalogue import latent_names

        codes = len(latent_names(spec))
        if latent >= max(codes, 1):
            raise ValueError(f"latent {latent} is out of range for {spec} ({codes} variants)")
    return latent


def check_background(value: object) -> str:
    from realtime.compositing.background import BACKDROPS, parse_colour

    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"background {value!r} is not text")
    text = value.strip()
    keyword, colon, arg = text.lower().partition(":")
    if text.lower() in ("none", "off", "keep"):
        return "none"
    if keyword in BACKDROPS:
        from realtime.compositing.background import parse_background

        try:
            parse_background(text)
        except UserError as exc:
            raise ValueError(first_line(exc)) from None
        return text
    if parse_colour(text) is not None or Path(text).expanduser().is_file():
        return text
    raise ValueError(f"background {text[:60]!r} is neither blur, remove, a colour nor a file that exists")


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} {value!r} is not true or false")
    return value


def _strength(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f"strength {value!r} is not a number from 0 to 1")
    return float(value)


def _region(value: object) -> str:
    if value not in REGIONS:
        raise ValueError(f"filter_region {value!r} is not one of {', '.join(REGIONS)}")
    return str(value)


def _source(value: object) -> str:
    if (not isinstance(value, str) or not value.strip() or len(value) > 200 or not value.isprintable()
            or "/" in value or "\\" in value or re.search(r"\.[A-Za-z0-9]{2,5}$", value)):  # a file is never kept
        raise ValueError(f"source {value!r} is not a camera index or name")
    return value


def _size(value: object) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in value)):
        raise ValueError(f"size {value!r} is not [width, height] with sides 1..{MAX_SIDE}")
    return int(value[0]), int(value[1])


def read_look(data: object, problems: list[str], where: str, camera: bool = False) -> Look:
    """A :class:`Look` from what was read; each value that does not fit is left out and said."""
    if not isinstance(data, dict):
        problems.append(f"{where} is not an object")
        return Look()
    checks: dict[str, Callable[[object], object]] = {
        "filter": check_filter, "strength": _strength, "background": check_background, "filter_region": _region,
        "on_smile": lambda v: "none" if v in (None, "none") else check_filter(v, "on_smile"),
        "mirror": lambda v: _bool(v, "mirror"), "mirror_output": lambda v: _bool(v, "mirror_output"),
    }
    if camera:
        checks.update(source=_source, size=_size)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "latent":
            continue
        check = checks.get(key)
        if check is None:
            problems.append(f"{where}: unknown setting {key!r}")
            continue
        try:
            values[key] = check(value)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    if "latent" in data:
        try:
            values["latent"] = check_latent(data["latent"], values.get("filter"))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    return Look(**values)


def _specs(data: object, problems: list[str], where: str, most: int) -> tuple[str, ...]:
    if not isinstance(data, list):
        problems.append(f"{where} is not a list")
        return ()
    out: list[str] = []
    for item in data:
        try:
            spec = check_filter(item)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if spec not in out:
            out.append(spec)
    if len(out) > most:
        problems.append(f"{where}: only the first {most} are kept")
    return tuple(out[:most])


def parse(data: object, problems: list[str]) -> Saved:
    if not isinstance(data, dict):
        problems.append("the file does not hold a JSON object")
        return Saved()
    for key in data:
        if key not in ("version", "last", "presets", "favourites", "recents"):
            problems.append(f"unknown key {key!r}")
    if data.get("version", VERSION) != VERSION:
        problems.append(f"version {data.get('version')!r} is not {VERSION}")
        return Saved()
    presets: dict[str, Look] = {}
    raw_presets = data.get("presets", {})
    if not isinstance(raw_presets, dict):
        problems.append("presets is not an object")
        raw_presets = {}
    for name, look in raw_presets.items():
        try:
            check_preset_name(name)
        except UserError as exc:
            problems.append(str(exc))
            continue
        presets[name] = read_look(look, problems, f"preset {name!r}")
    return Saved(last=read_look(data.get("last", {}), problems, "last", camera=True), presets=presets,
                 favourites=_specs(data.get("favourites", []), problems, "favourites", MAX_FAVOURITES),
                 recents=_specs(data.get("recents", []), problems, "recents", MAX_RECENTS))


# ---------------------------------------------------------------- the file
class SettingsFile:
    """The settings file: :meth:`load` at the start (one warning line for what does not fit),
    :meth:`update` to change it (re-read, changed, written atomically)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings_path()

    def _read(self) -> tuple[Saved, list[str], bool]:
        """(what fits, the problems, whether the file is damaged: kept aside before a write)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Saved(), [], False
        except (OSError, UnicodeDecodeError) as exc:
            return Saved(), [f"cannot be read ({first_line(exc)})"], True
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return Saved(), [f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"], True
        problems: list[str] = []
        saved = parse(data, problems)
        return saved, problems, bool(problems)

    def load(self, warn: bool = True) -> Saved:
        saved, problems, _ = self._read()
        if problems and warn:
            log.warning("settings file %s: %s; those settings fall back to the defaults", self.path, "; ".join(problems)[:2000])
        return saved

    def update(self, change: Callable[[Saved], Saved]) -> Saved:
        """Read the file again, apply ``change``, write it atomically; a problem writing is
        one warning line (the run goes on), and the settings are returned either way."""
        saved, _, damaged = self._read()
        new = change(saved)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if damaged and self.path.exists():
                shutil.copyfile(self.path, self.path.with_name(self.path.name + ".bad"))
            fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(new.as_json(), f, indent=1)
                    f.write("\n")
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("could not save the settings to %s: %s", self.path, first_line(exc))
        return new


def remember(saved: Saved, spec: str) -> Saved:
    """``spec`` first in the recents."""
    recents = (spec, *(r for r in saved.recents if r != spec))[:MAX_RECENTS]
    return replace(saved, recents=recents)
