"""The GPU benchmark's kit: what travels to the device machine, and the pieces it is sent in."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmarks import device_kit
from realtime.errors import UserError


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "realtime" / "bundled").mkdir(parents=True)
    (root / "docs" / "big.png").write_bytes(b"x" * 5000)
    (root / "realtime" / "code.py").write_text("print('hi')\n")
    (root / "realtime" / "bundled" / "candy.onnx").write_bytes(b"n" * 300)
    (root / "realtime" / "bundled" / "candy.fast.onnx").write_bytes(b"f" * 200)
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    return root


def test_hide_leaves_only_what_the_benchmark_reads_and_show_puts_everything_back(tmp_path):
    root = repo(tmp_path)
    exclude = device_kit.exclude_path(root)
    exclude.write_text("/.gpu/\n")
    before = device_kit.travelling_bytes(root)
    hidden = device_kit.hide(root, ("docs", "realtime/bundled/*.fast.onnx"))
    assert sorted(hidden) == ["docs/big.png", "realtime/bundled/candy.fast.onnx"]
    assert {p.relative_to(root).as_posix() for p in device_kit.travelling(root)} == {"realtime/code.py", "realtime/bundled/candy.onnx"}
    assert (root / "docs" / "big.png").is_file()  # files never leave the disk
    with pytest.raises(UserError, match="already hidden"):
        device_kit.hide(root, ("docs",))
    assert sorted(device_kit.show(root)) == sorted(hidden)
    assert device_kit.travelling_bytes(root) == before
    assert exclude.read_text() == "/.gpu/\n"  # only the block hide wrote is gone
    assert subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    assert device_kit.show(root) == []  # nothing hidden: nothing to do


def test_hide_refuses_a_staged_change_it_would_mix_with(tmp_path):
    root = repo(tmp_path)
    (root / "realtime" / "code.py").write_text("print('changed')\n")
    subprocess.run(["git", "-C", str(root), "add", "realtime/code.py"], check=True)
    with pytest.raises(UserError, match="staged changes"):
        device_kit.hide(root, ("docs",))
    assert not device_kit.marker_path(root).exists()


def test_the_pieces_join_back_into_the_file_and_each_call_fits(tmp_path):
    kit = tmp_path / ".gpu"
    kit.mkdir()
    data = bytes(range(256)) * 1000
    (kit / "ort.tar.xz").write_bytes(data)
    pieces = device_kit.split(kit / "ort.tar.xz", 100_000)
    assert [p.name for p in pieces] == [f"ort.tar.xz.{i:02d}" for i in range(3)]
    assert b"".join(p.read_bytes() for p in sorted(kit.glob("ort.tar.xz.*"))) == data  # what `cat` gives back there
    (kit / "wheels").mkdir()
    (kit / "wheels" / "a.whl").write_bytes(b"w" * 10)
    calls = device_kit.plan(pieces, [kit / "wheels"], 1000, ("candy",), 30)
    assert [c.carry for c in calls] == [(".gpu/ort.tar.xz.00",), (".gpu/ort.tar.xz.01",), (".gpu/ort.tar.xz.02", ".gpu/wheels")]
    assert "benchmarks.fps --providers cuda" in calls[-1].command and len(calls[-1].command) <= 2000  # the tool's limit
    with pytest.raises(UserError, match="call 1 would carry"):
        device_kit.plan(pieces, [], device_kit.LIMIT, ("candy",), 30)


def test_the_locked_versions_are_read_for_the_devices_python(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("onnxruntime-gpu==1.23.2 ; python_full_version < '3.11' and sys_platform != 'darwin'\n"
                    "onnxruntime-gpu==1.31.1 ; python_full_version >= '3.11' and sys_platform != 'darwin'\n"
                    "platformdirs==4.14.9\n")
    assert device_kit.locked_version(lock, "onnxruntime-gpu") == "1.31.1"
    assert device_kit.locked_version(lock, "platformdirs") == "4.14.9"
    with pytest.raises(UserError, match="pins no tqdm"):
        device_kit.locked_version(lock, "tqdm")


def test_the_rehearsal_needs_a_kit_and_a_throwaway_environment(tmp_path):
    root = repo(tmp_path)
    with pytest.raises(UserError, match="no kit in .*run `python -m benchmarks.device_kit pack` first"):
        device_kit.rehearse(root, tmp_path / "venv" / "bin" / "python3", 5)
    (root / ".gpu").mkdir()
    (root / ".gpu" / "SHA256SUMS").write_text("")
    with pytest.raises(UserError, match="not a virtual environment's python"):
        device_kit.rehearse(root, Path("/usr/bin/python3"), 5)
    command = device_kit.device_command(("candy",), 5, provider="cpu")
    assert "--providers cpu" in command and "nvidia-smi" not in command and "probe('cpu')" in command


def test_the_benchmark_measures_every_bundled_frame_filter_and_leaves_the_face_networks_behind():
    frames = device_kit.frame_filters()
    assert "candy" in frames and "cartoon" in frames and "aged" not in frames  # read from each file's contract
    assert "realtime/bundled/aged.onnx" in device_kit.hidden_paths()
