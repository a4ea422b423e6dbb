"""realtime-export install / list / uninstall / export: what a user types, what they see, and
one `error:` line for every bad input with nothing lost (no half-installed filter, the
installed ones untouched)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path


from realtime.filters import library
from tests.conftest import run_export, assert_one_line, make_onnx_filter

ROOT = Path(__file__).resolve().parents[2]




def test_install_list_export_uninstall_and_install_the_zip(data_home, tmp_path, monkeypatch, capsys):
    src = make_onnx_filter(tmp_path / "swap.onnx")
    make_onnx_filter(tmp_path / "swap.fp16.onnx")
    code, out, err = run_export(monkeypatch, capsys, "install", src, "--name", "my_look")
    assert code == 0, err
    assert "installed my_look" in out and "fp16" in out and "realtime --filter my_look" in out
    code, out, _ = run_export(monkeypatch, capsys, "list")
    assert code == 0 and out.splitlines()[1].startswith("my_look") and "installed from swap.onnx" in out
    code, out, err = run_export(monkeypatch, capsys, "export", "my_look", "-o", tmp_path / "share" / "my_look.zip")
    assert code == 0, err
    assert zipfile.is_zipfile(tmp_path / "share" / "my_look.zip")
    assert run_export(monkeypatch, capsys, "uninstall", "my_look")[0] == 0
    assert "no filters installed" in run_export(monkeypatch, capsys, "list")[1]
    code, out, err = run_export(monkeypatch, capsys, "install", tmp_path / "share" / "my_look.zip")
    assert code == 0, err
    assert [e.name for e in library.list_installed()] == ["my_look"]
    assert sorted(library.find("my_look").variants) == ["fp16", "full"]
    assert not [p for p in (data_home / "filters").iterdir() if p.name.startswith(".")], "the unpacked zip is cleaned up"


def test_a_folder_installs_the_one_filter_in_it(data_home, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "pkg"
    folder.mkdir()
    make_onnx_filter(folder / "warm.onnx")
    code, out, err = run_export(monkeypatch, capsys, "install", folder)
    assert code == 0, err
    assert library.installed_filters().keys() == {"warm"}


def test_bad_inputs_are_one_line_and_nothing_is_lost(data_home, tmp_path, monkeypatch, capsys):
    src = make_onnx_filter(tmp_path / "swap.onnx")
    assert run_export(monkeypatch, capsys, "install", src, "--name", "keep")[0] == 0
    before = sorted(p.name for p in (data_home / "filters" / "keep").iterdir())
    not_zip = tmp_path / "photo.zip"
    not_zip.write_bytes(b"\xff\xd8 a jpeg renamed")
    traversal = tmp_path / "evil.zip"
    with zipfile.ZipFile(traversal, "w") as zf:
        zf.writestr("../../keep.onnx", src.read_bytes())
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("notes.txt", "hi")
    text = tmp_path / "notes.onnx"
    text.write_text("hello")
    cases = [
        (("install", src, "--name", "cartoon"), "pick another name with --name"),
        (("install", src, "--name", "keep"), "installed already"),
        (("install", src, "--name", "a+b"), "is not allowed"),
        (("install", not_zip), "is not a zip file"),
        (("install", traversal), "points outside"),
        (("install", empty), "is not a filter"),
        (("install", text, "--name", "t"), "cannot be installed as a filter"),
        (("install", tmp_path / "missing.onnx"), "does not exist"),
        (("install", make_onnx_filter(tmp_path / "n.onnx", nan=True)), "NaN"),
        (("uninstall", "cartoon"), "is a bundled filter"),
        (("uninstall", "nope"), "no installed filter named 'nope'"),
        (("export", "nope", "-o", tmp_path / "x.zip"), "no installed filter named 'nope'"),
        (("export", "cartoon"), "is a bundled filter"),
        (("export", "keep", "-o", tmp_path / "x.tar"), "must be a .zip"),
    ]
    for args, needle in cases:
        code, _, err = run_export(monkeypatch, capsys, *args)
        assert_one_line(code, err, needle)
    assert [e.name for e in library.list_installed()] == ["keep"]
    assert sorted(p.name for p in (data_home / "filters" / "keep").iterdir()) == before
    assert [p.name for p in (data_home / "filters").iterdir()] == ["keep"], "no temporary folders left"
    assert not (tmp_path / "keep.onnx").exists()


def test_the_library_commands_import_no_torch(data_home, tmp_path):
    """install, list, uninstall and export need only the runtime (clone trains, and imports torch then)."""
    src = make_onnx_filter(tmp_path / "swap.onnx")
    code = ("import sys; from export.cli import main; "
            f"main(['install', {str(src)!r}, '--name', 'mine']); main(['list']); main(['export', 'mine', '-o', {str(tmp_path / 'm.zip')!r}]); "
            "main(['uninstall', 'mine']); assert 'torch' not in sys.modules, 'torch imported'")
    env = {**__import__("os").environ, library.ENV: str(data_home)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=env)


def test_realtime_runs_an_installed_filter_by_name(data_home, tmp_path, monkeypatch, capsys):
    from tests.conftest import run_realtime

    import cv2
    import numpy as np

    assert run_export(monkeypatch, capsys, "install", make_onnx_filter(tmp_path / "swap.onnx"), "--name", "mine")[0] == 0
    photo = tmp_path / "in.png"
    img = np.zeros((64, 80, 3), np.uint8)
    img[..., 0] = 220  # blue in BGR
    cv2.imwrite(str(photo), img)
    out = tmp_path / "out.mp4"
    code, err = run_realtime(monkeypatch, capsys, "--filter", "mine", "--source", photo, "--no-preview", "--output", out,
                             "--frames", "2")
    assert code == 0, err
    assert out.is_file() and out.stat().st_size > 0
