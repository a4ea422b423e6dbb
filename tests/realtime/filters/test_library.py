"""The library of your own filters: where it lives, what install checks, atomic writes,
sharing zips, and that installed filters run by name everywhere realtime takes a name."""
from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from realtime.errors import UserError
from realtime.filters import library
from realtime.filters.onnx_format import read_contract
from realtime.filters.registry import reserved_names, resolve_filter
from tests.conftest import make_onnx_filter


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data-home"
    monkeypatch.setenv(library.ENV, str(folder))
    return folder


def test_the_data_folder_is_the_env_var_or_platformdirs_rule(home, monkeypatch, tmp_path):
    assert library.data_home() == home and library.filters_dir() == home / "filters" and library.work_dir() == home / "work"
    monkeypatch.delenv(library.ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert library.data_home() == tmp_path / "xdg" / "realtime-filters"


def test_install_checks_renames_and_lists_a_filter_with_its_variants(home, tmp_path):
    src = make_onnx_filter(tmp_path / "swap.onnx")
    make_onnx_filter(tmp_path / "swap.fast.onnx")
    entry = library.install(library.source_of(src), "mine", reserved_names())
    assert entry.folder == home / "filters" / "mine"
    assert sorted(entry.variants) == ["fast", "full"] and entry.thumbnail is not None
    assert read_contract(entry.path).name == "mine" and read_contract(entry.variants["fast"]).name == "mine"
    card = json.loads((entry.folder / library.CARD).read_text())
    assert card["kind"] == "frame" and card["variants"] == ["fast"]
    assert library.installed_filters() == {"mine": entry.path}
    assert resolve_filter("mine") == entry.path
    assert not [p for p in (home / "filters").iterdir() if p.name.startswith(".")], "no temporary folder left"


def test_an_installed_filter_runs_by_name_in_a_chain(home, tmp_path):
    import realtime

    library.install(library.source_of(make_onnx_filter(tmp_path / "swap.onnx")), "mine", reserved_names())
    img = np.zeros((48, 64, 3), np.uint8)
    img[..., 0] = 200
    out = realtime.load_chain("mine+big_eyes", provider="cpu").apply(img)
    assert out[..., 2].mean() > 150 and out[..., 0].mean() < 50  # the swap ran


def test_a_bundled_name_or_effect_cannot_be_taken(home, tmp_path):
    src = library.source_of(make_onnx_filter(tmp_path / "swap.onnx"))
    for name in ("cartoon", "big_eyes", "none"):
        with pytest.raises(UserError, match="pick another name with --name"):
            library.install(src, name, reserved_names())
    assert library.list_installed() == []


def test_a_clash_with_an_installed_name_is_refused_unless_replaced(home, tmp_path):
    src = library.source_of(make_onnx_filter(tmp_path / "swap.onnx"))
    first = library.install(src, "mine", reserved_names())
    with pytest.raises(UserError, match="installed already"):
        library.install(src, "mine", reserved_names())
    again = library.install(src, "mine", reserved_names(), replace_existing=True)
    assert again.folder == first.folder and again.path.is_file()
    assert [p.name for p in (home / "filters").iterdir()] == ["mine"]


@pytest.mark.parametrize("name", ["a+b", "../x", "", "x" * 49, ".hidden", "a b"])
def test_bad_names_are_one_line(home, tmp_path, name):
    with pytest.raises(UserError, match="is not allowed"):
        library.install(library.source_of(make_onnx_filter(tmp_path / "swap.onnx")), name, reserved_names())


def test_a_file_that_is_not_a_filter_is_refused_and_nothing_is_left(home, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(UserError, match="cannot be installed as a filter"):
        library.install(library.source_of(bad), "bad", reserved_names())
    nan = make_onnx_filter(tmp_path / "nan.onnx", nan=True)
    with pytest.raises(UserError, match="NaN"):
        library.install(library.source_of(nan), "nan", reserved_names())
    assert not (home / "filters").exists() or not list((home / "filters").iterdir())


def test_a_variant_of_another_kind_is_refused(home, tmp_path):
    src = make_onnx_filter(tmp_path / "swap.onnx")
    make_onnx_filter(tmp_path / "swap.fast.onnx", kind="face")
    with pytest.raises(UserError, match="is not a variant of swap.onnx"):
        library.install(library.source_of(src), "mine", reserved_names())


def test_installing_a_variant_file_or_a_folder_of_several_is_one_line(tmp_path):
    make_onnx_filter(tmp_path / "a.onnx")
    fast = make_onnx_filter(tmp_path / "a.fast.onnx")
    with pytest.raises(UserError, match="install a.onnx"):
        library.source_of(fast)
    make_onnx_filter(tmp_path / "b.onnx")
    with pytest.raises(UserError, match="holds 2 filters"):
        library.source_of(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no filter"):
        library.source_of(tmp_path / "empty")


def test_an_interrupted_install_leaves_no_filter(home, tmp_path, monkeypatch):
    src = library.source_of(make_onnx_filter(tmp_path / "swap.onnx"))

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(library, "make_thumbnail", boom)
    with pytest.raises(KeyboardInterrupt):
        library.install(src, "mine", reserved_names())
    assert library.list_installed() == [] and not list((home / "filters").iterdir())


def test_uninstall_removes_and_says_what_is_installed(home, tmp_path):
    library.install(library.source_of(make_onnx_filter(tmp_path / "swap.onnx")), "mine", reserved_names())
    with pytest.raises(UserError, match="installed: mine"):
        library.uninstall("other")
    library.uninstall("mine")
    assert library.list_installed() == [] and not list((home / "filters").iterdir())
    with pytest.raises(UserError, match="unknown filter 'mine'"):
        resolve_filter("mine")


def test_pack_and_unpack_round_trip(home, tmp_path):
    make_onnx_filter(tmp_path / "swap.fast.onnx")
    library.install(library.source_of(make_onnx_filter(tmp_path / "swap.onnx")), "mine", reserved_names())
    out = library.pack("mine", tmp_path / "mine.zip")
    names = sorted(zipfile.ZipFile(out).namelist())
    assert names == ["card.json", "mine.fast.onnx", "mine.onnx", "thumbnail.png"]
    library.uninstall("mine")
    source, folder = library.source_from_zip(out)
    try:
        entry = library.install(source, source.card["name"], reserved_names(), card={"source": "a friend"})
    finally:
        shutil.rmtree(folder)
    assert entry.name == "mine" and sorted(entry.variants) == ["fast", "full"] and entry.card["source"] == "a friend"


def _zip(path: Path, members: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return path


def test_zips_that_are_not_filters_or_escape_are_refused_in_one_line(home, tmp_path):
    model = make_onnx_filter(tmp_path / "swap.onnx").read_bytes()
    cases = {
        "traversal": (_zip(tmp_path / "t.zip", {"../evil.onnx": model}), "points outside"),
        "absolute": (_zip(tmp_path / "a.zip", {"/tmp/evil.onnx": model}), "points outside"),
        "folder": (_zip(tmp_path / "f.zip", {"sub/x.onnx": model}), "is in a folder"),
        "link": (_zip(tmp_path / "l.zip", {"x.onnx": model}, link="thumbnail.png"), "is a link"),
        "no filter": (_zip(tmp_path / "n.zip", {"readme.txt": b"hello"}), "is not a filter"),
        "not a zip": (tmp_path / "x.zip", "is not a zip file"),
        "bad model": (_zip(tmp_path / "b.zip", {"x.onnx": b"garbage"}), "cannot be installed as a filter"),
    }
    (tmp_path / "x.zip").write_bytes(b"PK? no")
    for what, (archive, needle) in cases.items():
        folder = None
        with pytest.raises(UserError) as err:
            source, folder = library.source_from_zip(archive)
            library.install(source, "x", reserved_names())
        if folder is not None:
            shutil.rmtree(folder)
        assert needle in str(err.value) and "\n" not in str(err.value), what
    assert not (tmp_path / "evil.onnx").exists() and not Path("/tmp/evil.onnx").exists()
    assert library.list_installed() == [] and not list((home / "filters").iterdir())


def test_the_web_catalogue_offers_installed_filters(home, tmp_path):
    from realtime.web.options import Catalogue

    library.install(library.source_of(make_onnx_filter(tmp_path / "swap.onnx")), "mine", reserved_names())
    catalogue = Catalogue.from_registry()
    assert catalogue.filters["mine"].kind == "frame"
    assert catalogue.chain("mine+big_eyes").name == "mine+big_eyes"


def test_list_filters_marks_yours(home, tmp_path, capsys):
    from realtime.cli import list_filters

    library.install(library.source_of(make_onnx_filter(tmp_path / "swap.onnx")), "mine", reserved_names())
    assert list_filters() == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("mine "))
    assert "yours" in line and "cartoon" in out and "effects:" in out and "auto_frame" in out
