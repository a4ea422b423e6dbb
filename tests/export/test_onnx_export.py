from __future__ import annotations

import logging
import platform
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from realtime.filters.onnx_format import FilterContract
from export.onnx_export import contract_for, export_model
from realtime.filters.onnx_format import read_contract, variant_path
from export.parity import check_parity
from export.precision import to_fp16, to_int8
from models.networks.transformer_net import TransformerNet, TransformerNetConfig
from models.networks.unet import UNet, UNetConfig


@pytest.fixture(scope="module")
def tiny_unet() -> UNet:
    torch.manual_seed(0)
    return UNet(UNetConfig(channels=(8, 16, 16, 32), blocks_per_level=1, latent_codes=3)).eval()


@pytest.fixture(scope="module")
def tiny_tnet() -> TransformerNet:
    torch.manual_seed(0)
    net = TransformerNet(TransformerNetConfig(width=8, res_blocks=2)).eval()
    # A random init outputs 0-3 on the 0-255 scale, where every parity check passes by
    # construction: spread the output over the whole range, as a trained network's is.
    with torch.no_grad():
        net.deconv3.conv2d.weight.mul_(60.0)
        net.deconv3.conv2d.bias.fill_(127.5)
    return net


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
    from realtime.errors import UserError
    with pytest.raises(UserError, match="malformed"):
        FilterContract.from_props({"filter.work_size": "big"})
    with pytest.raises(UserError, match="kind"):
        FilterContract(name="x", kind="everything")


def test_the_stabiliser_settings_in_a_contract():
    """Stored only when a filter has its own (a file without them reads as the runtime's default);
    values the stabiliser cannot use are one line, stored or given."""
    from realtime.errors import UserError

    firm = FilterContract(name="x", temporal_keep=0.95, temporal_threshold=8.0)
    assert firm.to_props()["filter.temporal_keep"] == "0.95" and FilterContract.from_props(firm.to_props()) == firm
    plain = FilterContract(name="x")
    assert not any("temporal" in k for k in plain.to_props()) and FilterContract.from_props(plain.to_props()) == plain
    assert FilterContract.from_props({"filter.temporal_threshold": "12"}).temporal_threshold == 12.0
    assert FilterContract.from_props({"filter.temporal_floor": "2"}).temporal().floor == 2.0
    for bad, needle in (({"filter.temporal_keep": "1"}, "keep must be from 0 to below 1"),
                        ({"filter.temporal_keep": "nan"}, "keep must be from 0 to below 1"),
                        ({"filter.temporal_threshold": "0"}, "threshold must be above 0"),
                        ({"filter.temporal_floor": "5"}, r"floor must be from 0 to below the threshold \(5\)"),
                        ({"filter.temporal_keep": "1", "filter.temporal_floor": "9"}, "keep must.*; floor must"),
                        ({"filter.temporal_keep": "firm"}, "malformed")):
        with pytest.raises(UserError, match=needle):
            FilterContract.from_props(bad)


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


def test_only_int8_variants_count_as_quantized(exported, photo_folder, tmp_path):
    """The frame's own uint8 conversion (a Quantize/DequantizeLinear pair) does not make a float
    graph quantized: ONNX Runtime's int8 rewrites are turned off for it (they copy that
    conversion once per reader), and left on for an int8 variant, which needs them."""
    from realtime.filters.frame_graph import is_quantized
    from realtime.filters.onnx_format import inspect

    from realtime.filters.engine import FilterModel

    model, contract, path = exported["unet"]
    q = to_int8(path, tmp_path / "unet.int8.onnx", photo_folder, contract)
    assert not is_quantized(inspect(path, weights=True).framed)
    assert is_quantized(inspect(q, weights=True).framed)

    def rewrites_off(file) -> bool:
        options = FilterModel(file, "cpu").session.get_session_options()
        try:
            return options.get_session_config_entry("session.disable_quant_qdq") == "1"
        except RuntimeError:  # not set
            return False

    assert rewrites_off(path) and not rewrites_off(q)


def test_int8_weights_are_7_bit(exported, photo_folder, tmp_path):
    """7-bit weights cannot saturate the int16 pair sums of CPUs without VNNI (see precision.py)."""
    from onnx import numpy_helper

    model, contract, path = exported["unet"]
    q = to_int8(path, tmp_path / "unet.int8.onnx", photo_folder, contract)
    graph = onnx.load(str(q)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8}
    assert weights, "no int8 weights"
    for name, w in weights.items():
        assert w.min() >= -64 and w.max() <= 64, f"{name}: int8 weights span {w.min()}..{w.max()} (255 * 64 * 2 < 2**15)"


NO_VNNI_RUN = """
import sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
feeds = dict(np.load(sys.argv[2]))
np.save(sys.argv[3], s.run(["output"], feeds)[0])
"""


@pytest.mark.parametrize("key", ["unet", "tnet"])
def test_int8_parity_on_a_cpu_without_vnni(exported, key, photo_folder, tmp_path):
    """The int8 file run on an emulated Haswell (AVX2, no VNNI: the CPUs whose int8 kernels
    saturate) gives the same output as here and stays within the int8 tolerance."""
    qemu = shutil.which("qemu-x86_64")
    if qemu is None or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("needs qemu-x86_64 on an x86_64 host (apt-get install qemu-user) to emulate a CPU without VNNI")
    from export.onnx_export import ExportWrapper
    from export.parity import TOLERANCES, random_images

    model, contract, path = exported[key]
    q = to_int8(path, tmp_path / f"{key}.int8.onnx", photo_folder, contract)
    feeds = {"input": random_images(1, 96, 128, seed=3) * contract.scale}
    if contract.latent_codes:
        feeds["latent"] = np.array([1], dtype=np.int64)
    np.savez(tmp_path / "feeds.npz", **feeds)
    script = tmp_path / "run.py"
    script.write_text(NO_VNNI_RUN)
    outs = {}
    for cpu, prefix in (("host", []), ("haswell", [qemu, "-cpu", "Haswell"])):
        dst = tmp_path / f"{cpu}.npy"
        subprocess.run([*prefix, sys.executable, str(script), str(q), str(tmp_path / "feeds.npz"), str(dst)],
                       check=True, capture_output=True, timeout=300)
        outs[cpu] = np.load(dst)
    with torch.no_grad():
        args = [torch.from_numpy(feeds["input"])] + ([torch.from_numpy(feeds["latent"])] if contract.latent_codes else [])
        want = ExportWrapper(model).eval()(*args).numpy()
    tol = TOLERANCES["int8"]
    for cpu, got in outs.items():
        diff = np.abs(got - want) / contract.scale
        assert np.percentile(diff, 99) <= tol.p99_abs and diff.mean() <= tol.mean_abs, (cpu, np.percentile(diff, 99), diff.mean())
    between = np.abs(outs["host"] - outs["haswell"]) / contract.scale
    assert np.percentile(between, 99) < 0.02, f"int8 output differs between CPUs: p99 {np.percentile(between, 99):.3f}"


def test_parity_failure_is_loud_and_keeps_the_file(exported, tmp_path, tiny_unet):
    from realtime.errors import UserError

    _, contract, path = exported["unet"]
    other = UNet(UNetConfig(channels=(8, 16, 16, 32), blocks_per_level=1, latent_codes=3)).eval()
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(path.read_bytes())
    with pytest.raises(UserError, match="parity FAILED"):
        check_parity(other, copy, contract, "fp32")
    assert (tmp_path / "copy.onnx.failed").is_file()


def test_a_monochrome_code_stays_grey_in_the_exported_graph(tmp_path):
    """The grey stage is in the graph (a gather of the code's flag by the latent input), so ONNX
    Runtime gives three equal channels for a monochrome code and colour for the others."""
    from models.networks.guided import GuidedUpsample
    torch.manual_seed(0)
    unet = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=3, norm_groups=4,
                           residual_output=True, monochrome_codes=(0, 1))).eval()
    student = GuidedUpsample.around(UNet(unet.config), factor=2).eval()
    for key, model in (("unet", unet), ("student", student)):
        contract = contract_for(model, key)
        path = export_model(model, contract, tmp_path / f"{key}.onnx")
        check_parity(model, path, contract, "fp32")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).random((1, 3, 24, 32), dtype=np.float32)
        for code in range(3):
            out = session.run(["output"], {"input": x, "latent": np.array([code], dtype=np.int64)})[0]
            spread = float((out.max(axis=1) - out.min(axis=1)).max())
            assert (spread == 0.0) == (code in (0, 1)), f"{key} code {code}: channel spread {spread}"


def test_an_export_says_nothing_of_torchvision(tiny_tnet, tmp_path):
    """torch's exporter logs four 'torchvision is not installed' lines on every export (none of
    our networks uses its operators): left out, so the parity line is what a user reads."""
    heard: list[str] = []
    listener = logging.Handler()
    listener.emit = lambda record: heard.append(record.getMessage())  # type: ignore[method-assign]
    registry = logging.getLogger("torch.onnx._internal.exporter._registration")  # where torch logs them
    registry.addHandler(listener)
    try:
        export_model(tiny_tnet, contract_for(tiny_tnet, "quiet", work_size=64), tmp_path / "quiet.onnx")
    finally:
        registry.removeHandler(listener)
    assert not [m for m in heard if "torchvision" in m], heard
