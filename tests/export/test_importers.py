from __future__ import annotations

import plistlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export.cli import main as export_main
from realtime.errors import UserError
from export.importers import load_filterclone_plist, load_pytorch_examples, write_filterclone_plist
from realtime.filters.onnx_format import read_contract
from models.networks.transformer_net import TransformerNet, TransformerNetConfig
from models.networks.unet import UNet, UNetConfig


def run_onnx(path: Path, x: np.ndarray, latent: int | None = None) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: x}
    if latent is not None:
        feeds["latent"] = np.array([latent], dtype=np.int64)
    return session.run(None, feeds)[0]


def test_pytorch_examples_checkpoint_with_legacy_keys_exports(tmp_path, capsys):
    torch.manual_seed(1)
    model = TransformerNet(TransformerNetConfig(width=8, res_blocks=2)).eval()
    state = model.state_dict()
    state["in1.running_mean"] = torch.zeros(8)  # what PyTorch < 0.4 InstanceNorm saved
    state["in1.running_var"] = torch.ones(8)
    torch.save(state, tmp_path / "style.pth")
    loaded = load_pytorch_examples(tmp_path / "style.pth")
    assert loaded.config == TransformerNetConfig(width=8, res_blocks=2)
    assert export_main(["import-pytorch-examples", str(tmp_path / "style.pth"), "-o", str(tmp_path / "style.onnx")]) == 0
    assert "parity fp32" in capsys.readouterr().out
    contract = read_contract(tmp_path / "style.onnx")
    assert contract.name == "style" and contract.input_range == "0-255" and contract.latent_codes == 0
    x = np.random.rand(1, 3, 32, 40).astype(np.float32) * 255
    with torch.no_grad():
        want = model(torch.from_numpy(x)).clamp(0, 255).numpy()
    np.testing.assert_allclose(run_onnx(tmp_path / "style.onnx", x), want, atol=0.05)


def test_filterclone_plist_round_trip_and_export(tmp_path):
    torch.manual_seed(2)
    model = UNet(UNetConfig(channels=(8, 16, 16, 32), blocks_per_level=2, latent_codes=3)).eval()
    write_filterclone_plist(model, tmp_path / "clone.plist")
    raw = plistlib.loads((tmp_path / "clone.plist").read_bytes())
    assert raw["config"]["channels"] == [8, 16, 16, 32]
    assert "_gian" in raw["model"]["_input_conv"] or any("_gian" in str(v) for v in raw["model"].values())
    loaded = load_filterclone_plist(tmp_path / "clone.plist")
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)
    assert export_main(["import-filterclone", str(tmp_path / "clone.plist"), "-o", str(tmp_path / "clone.onnx")]) == 0
    contract = read_contract(tmp_path / "clone.onnx")
    assert contract.latent_codes == 3 and contract.input_range == "0-1"
    assert "not redistributable" in contract.license


def test_filterclone_gian_is_scale_minus_one(tmp_path):
    model = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1))
    write_filterclone_plist(model, tmp_path / "m.plist")
    raw = plistlib.loads((tmp_path / "m.plist").read_bytes())
    gian = np.frombuffer(raw["model"]["_out_norm"]["_gian"]["data"], "<f4")
    np.testing.assert_allclose(gian + 1.0, model.out_norm.weight.detach().numpy())


def test_filterclone_plist_with_wrong_tensor_names_names_them(tmp_path):
    model = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1))
    write_filterclone_plist(model, tmp_path / "m.plist")
    raw = plistlib.loads((tmp_path / "m.plist").read_bytes())
    raw["model"]["_mystery"] = raw["model"].pop("_out_conv")
    (tmp_path / "bad.plist").write_bytes(plistlib.dumps(raw, fmt=plistlib.FMT_BINARY))
    with pytest.raises(UserError, match=r"missing \(e\.g\. out_conv\.weight.*unexpected \(e\.g\. mystery"):
        load_filterclone_plist(tmp_path / "bad.plist")


def test_foreign_onnx_gets_our_contract_and_keeps_its_graph(tmp_path, zoo_onnx):
    assert export_main(["import-onnx", str(zoo_onnx), "-o", str(tmp_path / "zoo_in.onnx"), "--name", "swap"]) == 0
    contract = read_contract(tmp_path / "zoo_in.onnx")
    assert contract.fixed_size == (224, 224) and contract.work_size == 224 and contract.name == "swap"
    assert contract.input_range == "0-255"
    before, after = onnx.load(str(zoo_onnx)), onnx.load(str(tmp_path / "zoo_in.onnx"))
    assert before.graph == after.graph
    x = np.random.rand(1, 3, 224, 224).astype(np.float32)
    np.testing.assert_allclose(run_onnx(tmp_path / "zoo_in.onnx", x), x[:, ::-1], atol=1e-6)


def test_foreign_onnx_overrides(tmp_path, zoo_onnx):
    export_main(["import-onnx", str(zoo_onnx), "-o", str(tmp_path / "o.onnx"),
                 "--input-range", "0-1", "--kind", "face", "--license", "MIT"])
    c = read_contract(tmp_path / "o.onnx")
    assert (c.input_range, c.kind, c.license) == ("0-1", "face", "MIT")
