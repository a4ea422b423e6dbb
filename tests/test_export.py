from __future__ import annotations


import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export.contract import FilterContract
from export.onnx_export import contract_for, export_model, read_contract
from export.parity import check_parity
from export.precision import to_fp16, to_int8, variant_path
from models.transformer_net import TransformerNet, TransformerNetConfig
from models.unet import UNet, UNetConfig


@pytest.fixture(scope="module")
def tiny_unet() -> UNet:
    torch.manual_seed(0)
    return UNet(UNetConfig(channels=(8, 16, 16, 32), blocks_per_level=1, latent_codes=3)).eval()


@pytest.fixture(scope="module")
def tiny_tnet() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(TransformerNetConfig(width=8, res_blocks=2)).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_unet, tiny_tnet) -> dict[str, tuple]:
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for key, model in (("unet", tiny_unet), ("tnet", tiny_tnet)):
        contract = contract_for(model, key, work_size=64, license="MIT", source="test")
        path = export_model(model, contract, folder / f"{key}.onnx")
        out[key] = (model, contract, path)
    return out


@pytest.mark.parametrize("key", ["unet", "tnet"])
def test_fp32_export_matches_pytorch_at_two_sizes(exported, key, capsys):
    model, contract, path = exported[key]
    results = check_parity(model, path, contract, "fp32")
    assert len({r.size for r in results}) == 2
    assert all(r.max_abs < 1e-3 for r in results)
    assert "parity fp32" in capsys.readouterr().out


@pytest.mark.parametrize("key", ["unet", "tnet"])
def test_exported_model_takes_any_multiple_of_the_size_multiple(exported, key):
    _, contract, path = exported[key]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for h, w in [(36, 52), (120, 16)]:
        feeds = {"input": np.random.rand(1, 3, h, w).astype(np.float32) * contract.scale}
        if contract.latent_codes:
            feeds["latent"] = np.array([2], dtype=np.int64)
        out = session.run(["output"], feeds)[0]
        assert out.shape == (1, 3, h, w)
        assert out.min() >= 0 and out.max() <= contract.scale  # clamped inside the graph


def test_metadata_round_trip(exported):
    _, contract, path = exported["unet"]
    assert read_contract(path) == contract
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["filter.latent_codes"] == "3" and props["filter.input_range"] == "0-1"
    assert props["filter.size_multiple"] == "4" and props["filter.kind"] == "frame"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert FilterContract.from_props(session.get_modelmeta().custom_metadata_map) == contract


def test_contract_from_props_defaults_and_errors():
    c = FilterContract(name="x", fixed_size=(224, 224), latent_codes=2, latent_names=("a", "b"))
    assert FilterContract.from_props(c.to_props()) == c
    assert FilterContract.from_props({}, fallback_name="foo").name == "foo"
    from export.errors import UserError
    with pytest.raises(UserError, match="malformed"):
        FilterContract.from_props({"filter.work_size": "big"})
    with pytest.raises(UserError, match="kind"):
        FilterContract(name="x", kind="everything")


@pytest.mark.parametrize("key", ["unet", "tnet"])
def test_fp16_variant_is_parity_checked(exported, key):
    model, contract, path = exported[key]
    half = to_fp16(path, variant_path(path, "fp16"))
    types = {i.data_type for i in onnx.load(str(half)).graph.initializer}
    assert onnx.TensorProto.FLOAT16 in types
    results = check_parity(model, half, contract, "fp16")
    assert all(r.mean_abs < 0.01 for r in results)
    norms = [n for n in onnx.load(str(half)).graph.node if n.op_type == "InstanceNormalization"]
    assert norms, "the normalisation layers must exist and stay fp32"


@pytest.mark.parametrize("key", ["unet", "tnet"])
def test_int8_variant_is_calibrated_and_parity_checked(exported, key, photo_folder):
    model, contract, path = exported[key]
    q = to_int8(path, variant_path(path, "int8"), photo_folder, contract)
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert read_contract(q) == contract
    check_parity(model, q, contract, "int8")


def test_parity_failure_is_loud_and_keeps_the_file(exported, tmp_path, tiny_unet):
    from export.errors import UserError

    _, contract, path = exported["unet"]
    other = UNet(UNetConfig(channels=(8, 16, 16, 32), blocks_per_level=1, latent_codes=3)).eval()
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(path.read_bytes())
    with pytest.raises(UserError, match="parity FAILED"):
        check_parity(other, copy, contract, "fp32")
    assert (tmp_path / "copy.onnx.failed").is_file()
