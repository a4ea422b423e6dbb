"""A face clone trained without a step the runtime draws after it (``train_pairs --post creases``)
is exported asking for it: ``filter.post`` and the style of each latent code."""
from __future__ import annotations

from models.networks.checkpoint import save_checkpoint
from models.networks.unet import UNet, UNetConfig
from realtime.filters.onnx_format import read_contract
from tests.conftest import run_export


def test_a_crease_free_face_clone_asks_the_runtime_for_the_creases(monkeypatch, capsys, tmp_path):
    path = tmp_path / "aged.pt"
    names = ("elderly", "greying", "weathered")
    save_checkpoint(path, UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=3)),
                    {"teacher": "aged", "post": "creases", "style_codes": {n: k for k, n in enumerate(names)}})
    code, _, err = run_export(monkeypatch, capsys, "onnx", path, "--kind", "face", "-o", tmp_path / "face.onnx")
    assert code == 0, err
    contract = read_contract(tmp_path / "face.onnx")
    assert contract.kind == "face" and contract.post == "creases" and contract.post_styles == names
    code, _, err = run_export(monkeypatch, capsys, "onnx", path, "-o", tmp_path / "frame.onnx")  # not a face filter: no post step
    assert code == 0, err
    assert read_contract(tmp_path / "frame.onnx").post == ""
