"""Every bad input to realtime-export gives one clear line and a non-zero exit, no traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from export.cli import entry
from tests.conftest import assert_one_line
from models.networks.checkpoint import save_checkpoint
from models.networks.transformer_net import TransformerNet, TransformerNetConfig
from models.networks.unet import UNet, UNetConfig


def run_export(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["realtime-export", *args])
    code = entry()
    err = capsys.readouterr().err.strip()
    return code, err


def test_missing_checkpoint(monkeypatch, capsys, tmp_path):
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", str(tmp_path / "nope.pt")), "does not exist")


def test_corrupt_checkpoint(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02 definitely not a checkpoint")
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", str(bad)), "corrupt")


def test_truncated_checkpoint(monkeypatch, capsys, tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, UNet(UNetConfig(channels=(8, 16), num_downsamples=1)), {"name": "x"})
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", str(cut)), "corrupt")


def test_unknown_architecture(monkeypatch, capsys, tmp_path):
    path = tmp_path / "arch.pt"
    save_checkpoint(path, UNet(UNetConfig(channels=(8, 16), num_downsamples=1)), {})
    payload = torch.load(path, weights_only=True)
    payload["arch"] = "vision_transformer"
    torch.save(payload, path)
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", str(path)), "unknown architecture", "vision_transformer")


def test_state_dict_with_wrong_shapes_names_the_first_mismatches(monkeypatch, capsys, tmp_path):
    path = tmp_path / "shapes.pt"
    save_checkpoint(path, UNet(UNetConfig(channels=(8, 16), num_downsamples=1)), {})
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["input_conv.weight"] = torch.zeros(8, 3, 5, 5)
    del payload["state_dict"]["out_conv.bias"]
    torch.save(payload, path)
    code, err = run_export(monkeypatch, capsys, "onnx", str(path))
    assert_one_line(code, err, "missing (e.g. out_conv.bias)", "input_conv.weight is (8, 3, 5, 5)")


def test_pth_that_is_not_a_transformer_net(monkeypatch, capsys, tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "x.pth")
    assert_one_line(*run_export(monkeypatch, capsys, "import-pytorch-examples", str(tmp_path / "x.pth"), "-o", str(tmp_path / "x.onnx")),
                    "not a TransformerNet")


def test_pth_with_mismatched_keys(monkeypatch, capsys, tmp_path):
    state = TransformerNet(TransformerNetConfig(width=8, res_blocks=2)).state_dict()
    state["res1.conv1.conv2d.weight"] = torch.zeros(16, 16, 3, 3)
    torch.save(state, tmp_path / "x.pth")
    assert_one_line(*run_export(monkeypatch, capsys, "import-pytorch-examples", str(tmp_path / "x.pth"), "-o", str(tmp_path / "x.onnx")),
                    "res1.conv1.conv2d.weight is (16, 16, 3, 3), expected (32, 32, 3, 3)")


def test_corrupt_plist_and_onnx(monkeypatch, capsys, tmp_path):
    (tmp_path / "x.plist").write_bytes(b"bplist00garbage")
    assert_one_line(*run_export(monkeypatch, capsys, "import-filterclone", str(tmp_path / "x.plist"), "-o", str(tmp_path / "o.onnx")), "corrupt")
    (tmp_path / "x.onnx").write_bytes(b"\x08\x07garbage")
    assert_one_line(*run_export(monkeypatch, capsys, "import-onnx", str(tmp_path / "x.onnx"), "-o", str(tmp_path / "o.onnx")), "corrupt")


def test_int8_without_calibration_folder(monkeypatch, capsys, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1)), {"name": "m"})
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", str(path), "--int8"), "--calib")


def test_tensorrt_builds_an_engine_or_says_it_cannot_in_one_line(monkeypatch, capsys, tmp_path, zoo_onnx):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, err = run_export(monkeypatch, capsys, "tensorrt", str(zoo_onnx), "--min", "224x224", "--opt", "224x224", "--max", "224x224")
    if code == 0:  # a machine with a working TensorRT: the engine must be in the cache
        assert any((tmp_path / "cache" / "realtime-filters" / "tensorrt").iterdir())
    else:
        assert_one_line(code, err, "TensorRT is not available", "No engine was built")


def test_python_dash_m_export_runs_as_a_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "export", "info", str(tmp_path / "none.onnx")],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: model file {tmp_path / 'none.onnx'} does not exist"
