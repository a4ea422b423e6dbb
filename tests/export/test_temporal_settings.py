"""A filter's own stabiliser settings (``filter.temporal_keep``/``_threshold``): set on export,
or on a model file with ``realtime-export temporal`` (graph untouched, a card beside it says it
too), removed with ``--default``; the runtime steadies the filter with them."""
from __future__ import annotations

import json

import numpy as np

from models.networks.checkpoint import save_checkpoint
from models.networks.unet import UNet, UNetConfig
from realtime.filters.onnx_format import load_model_proto, read_contract
from tests.conftest import make_onnx_filter, run_export


def test_export_stores_the_settings_given(monkeypatch, capsys, tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1)), {"name": "tiny"})
    code, _, err = run_export(monkeypatch, capsys, "onnx", path, "-o", tmp_path / "tiny.onnx", "--temporal-keep", "0.95",
                              "--temporal-threshold", "8")
    assert code == 0, err
    contract = read_contract(tmp_path / "tiny.onnx")
    assert (contract.temporal_keep, contract.temporal_threshold) == (0.95, 8.0)


def test_temporal_rewrites_the_contract_and_the_card_beside_it(monkeypatch, capsys, tmp_path):
    from realtime.filters.chain import load_chain

    model = make_onnx_filter(tmp_path / "swap.onnx")
    card = tmp_path / "swap.json"
    card.write_text(json.dumps({"name": "swap", "work_size": 128}))
    graph = load_model_proto(model, weights=True).graph.SerializeToString()
    code, out, err = run_export(monkeypatch, capsys, "temporal", model, "--keep", "0.95", "--threshold", "8", "--floor", "2")
    assert code == 0, err
    assert "temporal_keep 0.95" in out
    contract = read_contract(model)
    assert (contract.temporal_keep, contract.temporal_threshold, contract.temporal_floor, contract.work_size) == (0.95, 8.0, 2.0, 128)
    assert load_model_proto(model, weights=True).graph.SerializeToString() == graph  # the network is the same
    assert json.loads(card.read_text()) == {"name": "swap", "work_size": 128, "temporal_keep": 0.95, "temporal_threshold": 8.0,
                                            "temporal_floor": 2.0}
    frame = np.full((96, 128, 3), 100, np.uint8)
    assert load_chain(str(model), provider="cpu").apply(frame).shape == frame.shape  # still runs
    code, _, err = run_export(monkeypatch, capsys, "temporal", model, "--threshold", "10", "-o", tmp_path / "other.onnx")
    assert code == 0, err
    assert read_contract(tmp_path / "other.onnx").temporal_threshold == 10.0 and read_contract(model).temporal_threshold == 8.0
    code, out, err = run_export(monkeypatch, capsys, "temporal", model, "--default")
    assert code == 0, err
    assert "the runtime's default" in out
    contract = read_contract(model)
    assert contract.temporal() is None
    assert json.loads(card.read_text()) == {"name": "swap", "work_size": 128}
