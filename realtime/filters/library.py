"""Your own filters: the library of installed filters in the user's data folder.

A filter is installed as one folder under ``DATA/filters/``::

    DATA/filters/NAME/NAME.onnx          the fp32 network, its contract named NAME
                      NAME.fast.onnx     its light CPU student (optional; what --variant auto runs on CPU)
                      NAME.fp16.onnx     its half-precision export (optional; what auto runs on CUDA)
                      NAME.int8.onnx     (optional)
                      thumbnail.png      a small picture of what it does
                      card.json          where it came from, when, and (a clone) its measures

``DATA`` is ``platformdirs.user_data_dir("realtime-filters")`` (``~/.local/share/realtime-filters``
on Linux, ``~/Library/Application Support/realtime-filters`` on macOS, ``%LOCALAPPDATA%`` on
Windows), or ``$REALTIME_DATA_HOME`` when set (tests, portable installs). Its ``work/`` folder holds what a
clone in progress keeps (checkpoints), so an interrupted clone resumes.

Every write is atomic: a new filter is assembled in a hidden ``.tmp-*`` folder beside the
others and renamed into place, so a crash or Ctrl-C never leaves half a filter that lists or
loads; an uninstall renames the folder away before deleting it. Every file is checked before
it is installed the way realtime checks a file before it runs it (the contract, a session, a
warm-up frame that must come back finite and of the frame's size: :func:`check_model`), and
its contract is rewritten to carry the installed name, so chains, stats and hotkeys show it.

A shared filter is a flat zip of those files (:func:`pack`); :func:`unpack` refuses a zip
with anything but plain files at its top (no folders, no ``..``, no links) and any zip that
holds no filter, each in one line. Names are checked against the bundled filters and effects
by the caller (:func:`install` takes the reserved names: :func:`realtime.filters.registry.reserved_names`),
so a bundled filter is never shadowed silently.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Collection, Mapping

import cv2
import numpy as np
from platformdirs import user_data_dir

from realtime.errors import UserError, first_line
from realtime.filters.onnx_format import VARIANT_TAGS, inspect, is_variant, make_parent, save_atomic, variant_of, write_contract

ENV = "REALTIME_DATA_HOME"
APP = "realtime-filters"
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
NAME_HELP = "1-48 letters, digits, '_' or '-', starting with a letter or digit"
THUMBNAIL = "thumbnail.png"
CARD = "card.json"
THUMB_SIZE = (160, 120)  # width, height
MAX_ZIP_BYTES = 2 * 1024**3  # what a shared filter may unpack to, all files together
TEST_FRAME_HW = (480, 640)  # the frame size install's warm-up runs frame filters at (as the live loop's first frame)


# ---------------------------------------------------------------- where
def data_home() -> Path:
    """The user's data folder for this tool: ``$REALTIME_DATA_HOME``, else platformdirs' rule."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir(APP))


def library_root() -> Path:
    """:func:`filters_dir`, made if it is not there yet (one line when it cannot be)."""
    root = filters_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the filter library {root} ({exc.strerror or exc}): set {ENV} to a writable folder") from None
    return root


def filters_dir() -> Path:
    return data_home() / "filters"


def work_dir() -> Path:
    """Where work in progress (a clone's checkpoints) is kept."""
    return data_home() / "work"


# ---------------------------------------------------------------- what is installed
@dataclass(frozen=True)
class Installed:
    name: str
    folder: Path
    variants: dict[str, Path]  # "full" and each variant tag present → file
    thumbnail: Path | None
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.variants["full"]

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.variants.values())


def check_name(name: str) -> str:
    """``name`` when it can name an installed filter; otherwise one line saying why."""
    if not isinstance(name, str) or not NAME_RULE.match(name):
        raise UserError(f"filter name {str(name)[:60]!r} is not allowed: use {NAME_HELP} (e.g. --name my_look)")
    return name


def _entry(folder: Path) -> Installed | None:
    name = folder.name
    main = folder / f"{name}.onnx"
    if name.startswith(".") or not NAME_RULE.match(name) or not main.is_file():
        return None
    variants = {"full": main}
    for tag in VARIANT_TAGS:
        found = variant_of(main, tag)
        if found is not None:
            variants[tag] = found
    card: dict[str, Any] = {}
    try:
        loaded = json.loads((folder / CARD).read_text())
        card = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        pass
    thumb = folder / THUMBNAIL
    return Installed(name, folder, variants, thumb if thumb.is_file() else None, card)


def list_installed() -> list[Installed]:
    """Every installed filter, by name (folders being written or removed are not filters yet)."""
    root = filters_dir()
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:  # no library yet
        return []
    return [e for e in (_entry(f) for f in folders) if e is not None]


def installed_filters() -> dict[str, Path]:
    """name → fp32 ONNX file of every installed filter (what ``--filter NAME`` finds)."""
    return {e.name: e.path for e in list_installed()}


def find(name: str) -> Installed | None:
    folder = filters_dir() / name
    return _entry(folder) if NAME_RULE.match(name or "") and folder.is_dir() else None


# ---------------------------------------------------------------- checks
def warm_size(contract: Any, frame_hw: tuple[int, int] = TEST_FRAME_HW) -> tuple[int, int] | None:
    """The size a model of ``contract`` first sees in the live loop (its kind knows)."""
    import realtime.filters.kinds  # noqa: F401  (registers the kinds)
    from realtime.filters.kinds.base import MODEL_KINDS

    return MODEL_KINDS[contract.kind].input_hw(contract, frame_hw, None)


def check_model(path: Path) -> Any:
    """Run ``path`` as realtime would before its first frame: every contract check
    (:func:`realtime.filters.onnx_format.inspect`), a CPU session, and a warm-up frame that must
    come back finite and of its input's size. Returns the :class:`~realtime.filters.engine.FilterModel`;
    anything else is one line saying the file cannot be a filter."""
    from realtime.filters.engine import FilterModel

    try:
        model = FilterModel(Path(path), "cpu", threads=1)
        model.warmup(warm_size(model.contract))
    except UserError as exc:
        raise UserError(f"{Path(path).name} cannot be installed as a filter: {exc}") from None
    except Exception as exc:  # ONNX Runtime refusing the graph when the session is made
        raise UserError(f"{Path(path).name} cannot be installed as a filter: ONNX Runtime refuses it ({first_line(exc)})") from None
    return model


@dataclass(frozen=True)
class Source:
    """What an install takes: the fp32 file, its variants, and optionally a thumbnail and card."""

    files: dict[str, Path]  # "full" and variant tags → file
    thumbnail: Path | None = None
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.files["full"].name[: -len(".onnx")]


def source_of(path: Path) -> Source:
    """The files ``path`` (an .onnx file, or a folder holding one filter) installs; one line when
    it holds none or several."""
    path = Path(path)
    if path.is_dir():
        mains = sorted(p for p in path.glob("*.onnx") if p.is_file() and not is_variant(p))
        if not mains:
            raise UserError(f"{path} holds no filter: it needs one NAME.onnx (with NAME.fast.onnx / NAME.fp16.onnx beside it if you have them)")
        if len(mains) > 1:
            raise UserError(f"{path} holds {len(mains)} filters ({', '.join(p.name for p in mains[:4])}): install them one file at a time")
        main = mains[0]
        thumb = path / THUMBNAIL
        card: dict[str, Any] = {}
        try:
            loaded = json.loads((path / CARD).read_text()) if (path / CARD).is_file() else {}
            card = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            card = {}
        files = {"full": main, **{t: v for t in VARIANT_TAGS if (v := variant_of(main, t)) is not None}}
        return Source(files, thumb if thumb.is_file() else None, card)
    if not path.exists():
        raise UserError(f"{path} does not exist: pass an .onnx file, a folder holding one, or a filter .zip")
    if path.suffix.lower() != ".onnx":
        raise UserError(f"{path.name} is not an .onnx file: pass FILE.onnx, a folder holding one, or a filter .zip")
    if is_variant(path):
        stem = path.name.rsplit(".", 2)[0]
        raise UserError(f"{path.name} is a variant of a filter: install {stem}.onnx (the variants beside it come along)")
    files = {"full": path, **{t: v for t in VARIANT_TAGS if (v := variant_of(path, t)) is not None}}
    return Source(files)


# ---------------------------------------------------------------- install, uninstall
def install(source: Source, name: str, reserved: Collection[str], replace_existing: bool = False,
            card: Mapping[str, Any] | None = None, thumbnail: np.ndarray | None = None) -> Installed:
    """Check every file of ``source`` and install it as ``name``: assembled in a hidden folder,
    then renamed into place. ``reserved``: names that may not be taken (bundled filters,
    effects). ``card`` adds to the source's card; ``thumbnail`` (BGR) replaces its picture."""
    check_name(name)
    if name in reserved:
        raise UserError(f"{name!r} is the name of a bundled filter or effect: pick another name with --name")
    final = filters_dir() / name
    if final.exists() and not replace_existing:
        raise UserError(f"a filter named {name!r} is installed already: pick another --name, add --replace, "
                        f"or `realtime-export uninstall {name}` first")
    root = library_root()
    tmp = root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        main_contract = _copy_checked(source, name, tmp)
        model_path = tmp / f"{name}.onnx"
        picture = thumbnail if thumbnail is not None else _source_thumbnail(source)
        if picture is None:
            picture = make_thumbnail(model_path)
        if not cv2.imwrite(str(tmp / THUMBNAIL), picture):
            raise UserError(f"cannot write a thumbnail into {tmp}")
        info = {**source.card, **(card or {})}
        info.update(name=name, kind=main_contract.kind, work_size=main_contract.work_size,
                    latent_codes=main_contract.latent_codes, license=main_contract.license, source=info.get("source") or main_contract.source,
                    variants=sorted(t for t in source.files if t != "full"),
                    installed=time.strftime("%Y-%m-%d %H:%M:%S"))
        (tmp / CARD).write_text(json.dumps(info, indent=2) + "\n")
        _move_into_place(tmp, final, replace_existing)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entry = _entry(final)
    assert entry is not None
    return entry


def _copy_checked(source: Source, name: str, folder: Path) -> Any:
    """Each file of ``source`` checked, its contract renamed to ``name``, written into ``folder``
    and checked again there (what is installed is what was run). Returns the fp32 contract."""
    main_contract = None
    for tag in ("full", *VARIANT_TAGS):
        src = source.files.get(tag)
        if src is None:
            continue
        try:
            info = inspect(src, weights=True)
        except UserError as exc:
            raise UserError(f"{src.name} cannot be installed as a filter: {exc}") from None
        contract = info.contract
        if main_contract is None:
            main_contract = contract
        elif (contract.kind, contract.latent_codes, contract.input_range) != (main_contract.kind, main_contract.latent_codes, main_contract.input_range):
            raise UserError(f"{src.name} is not a variant of {source.files['full'].name}: it is a {contract.kind} filter with "
                            f"{contract.latent_codes} latent codes in {contract.input_range}, the filter a {main_contract.kind} one with "
                            f"{main_contract.latent_codes} in {main_contract.input_range}; remove it or fix its name")
        proto = info.proto
        write_contract(proto, replace(contract, name=name))
        dst = folder / (f"{name}.onnx" if tag == "full" else f"{name}.{tag}.onnx")
        try:
            save_atomic(proto, dst)
        except ValueError as exc:  # protobuf's 2 GB limit
            raise UserError(f"{src.name} cannot be installed: {first_line(exc)}") from None
        check_model(dst)
    assert main_contract is not None
    return main_contract


def _move_into_place(tmp: Path, final: Path, replace_existing: bool) -> None:
    old = None
    if final.exists():
        if not replace_existing:
            raise UserError(f"a filter named {final.name!r} was installed meanwhile: run the command again with another --name")
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    try:
        tmp.rename(final)
    except OSError as exc:
        if old is not None:
            old.rename(final)
        raise UserError(f"cannot install into {final} ({exc.strerror or exc})") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def uninstall(name: str) -> Path:
    """Remove the installed filter ``name`` (renamed away first, so it never half-exists)."""
    entry = find(name)
    if entry is None:
        have = ", ".join(e.name for e in list_installed()) or "none"
        raise UserError(f"no installed filter named {name!r} (installed: {have}); see `realtime-export list`")
    gone = entry.folder.with_name(f".trash-{name}-{uuid.uuid4().hex[:8]}")
    try:
        entry.folder.rename(gone)
    except OSError as exc:
        raise UserError(f"cannot remove {entry.folder} ({exc.strerror or exc})") from None
    shutil.rmtree(gone, ignore_errors=True)
    return entry.folder


# ---------------------------------------------------------------- thumbnails
def test_card(h: int, w: int) -> np.ndarray:
    """A BGR picture with smooth gradients, flat colour patches, hard edges and fine stripes:
    something every kind of filter visibly does something to (no photo ships with the runtime)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([60 + 150 * xx / w, 70 + 140 * yy / h, 150 + 80 * np.sin(xx / (w / 9) + yy / (h / 7))], axis=-1)
    img = np.clip(img, 0, 255).astype(np.uint8)
    s = min(h, w)
    cv2.circle(img, (w // 3, h // 2), s // 4, (40, 160, 235), -1)
    cv2.rectangle(img, (w // 2, h // 5), (w // 2 + s // 3, h // 5 + s // 3), (200, 60, 70), -1)
    cv2.ellipse(img, (2 * w // 3, 2 * h // 3), (s // 6, s // 9), 30, 0, 360, (30, 30, 30), 3)
    img[h - h // 6:, : w // 2] = np.where((np.arange(w // 2) // 3) % 2, 230, 25)[None, :, None]
    return img


def make_thumbnail(path: Path) -> np.ndarray:
    """The filter in ``path`` applied to the test card, :data:`THUMB_SIZE` (BGR)."""
    from realtime.filters.engine import FilterModel

    model = FilterModel(path, "cpu", threads=1)
    w, h = THUMB_SIZE
    hw = warm_size(model.contract, (2 * h, 2 * w)) or (2 * h, 2 * w)
    card = test_card(*hw)
    try:
        out = model.infer(card).image
    except Exception:  # a NaN on the card: the warm-up passed, the picture just stays plain
        out = card
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)


def _source_thumbnail(source: Source) -> np.ndarray | None:
    if source.thumbnail is None:
        return None
    img = cv2.imread(str(source.thumbnail), cv2.IMREAD_COLOR)
    if img is None:
        return None
    h, w = img.shape[:2]
    scale = min(1.0, 320 / max(h, w))
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else img


# ---------------------------------------------------------------- sharing
def pack(name: str, out: Path) -> Path:
    """Write the installed filter ``name`` as a flat zip another user's install takes; written
    beside ``out`` first and renamed, so ``out`` is whole or absent."""
    entry = find(name)
    if entry is None:
        have = ", ".join(e.name for e in list_installed()) or "none"
        raise UserError(f"no installed filter named {name!r} (installed: {have}); see `realtime-export list`")
    out = Path(out)
    if out.is_dir():
        raise UserError(f"-o {out} is a folder: pass a file name, e.g. -o {out / (name + '.zip')}")
    if out.suffix.lower() != ".zip":
        raise UserError(f"-o {out} must be a .zip file (e.g. -o {out.with_suffix('.zip').name})")
    make_parent(out)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in [*entry.variants.values(), entry.folder / THUMBNAIL, entry.folder / CARD]:
                if path.is_file():
                    zf.write(path, arcname=path.name)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {out} ({exc.strerror or exc}): choose another -o") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member cannot be unpacked safely (None: it is a plain top-level file)."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"{name!r} is a link"
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in Path(name).parts:
        return f"{name!r} points outside the folder it is unpacked into"
    if info.is_dir() or "/" in name.rstrip("/"):
        return f"{name!r} is in a folder (a filter zip holds its files at the top)"
    return None


def unpack(archive: Path, into: Path) -> Path:
    """Unpack a shared filter zip into the new folder ``into`` and return it; one line for a
    file that is not a zip, a member that could escape (``..``, absolute, a link), or a zip
    without a filter in it."""
    archive = Path(archive)
    if not zipfile.is_zipfile(archive):
        raise UserError(f"{archive.name} is not a zip file: a shared filter is the .zip `realtime-export export` writes")
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for info in members:
                problem = _member_problem(info)
                if problem:
                    raise UserError(f"{archive.name} is refused: {problem}; a shared filter zip holds only plain files")
            wanted = [m for m in members if m.filename.endswith(".onnx") or m.filename in (THUMBNAIL, CARD)]
            if not any(m.filename.endswith(".onnx") and not is_variant(Path(m.filename)) for m in wanted):
                raise UserError(f"{archive.name} is not a filter: it holds no NAME.onnx")
            if sum(m.file_size for m in wanted) > MAX_ZIP_BYTES:
                raise UserError(f"{archive.name} is refused: it unpacks to more than {MAX_ZIP_BYTES >> 30} GB")
            into.mkdir(parents=True)
            for m in wanted:
                with zf.open(m) as src, open(into / m.filename, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise UserError(f"{archive.name} is a damaged zip ({first_line(exc)}): get the file again") from None
    return into


def source_from_zip(archive: Path) -> tuple[Source, Path]:
    """(the filter in ``archive``, the temporary folder it was unpacked into: delete it after)."""
    root = library_root()
    folder = root / f".tmp-unzip-{uuid.uuid4().hex[:8]}"
    try:
        return source_of(unpack(archive, folder)), folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
