"""export.release --reexport: bundled files follow the code that builds their graphs."""
from __future__ import annotations

import json

import cv2
import onnx
import pytest
import torch
from onnx import helper

from export.onnx_export import contract_for, export_model
from export.release import main as release_main
from export.reexport import reexport
from models.networks.checkpoint import save_checkpoint
from models.networks.unet import UNet, UNetConfig
from realtime.errors import UserError, run_cli
from realtime.filters.onnx_format import read_contract
from tests.conftest import synthetic_photo


@pytest.fixture()
def bundled(tmp_path, monkeypatch):
    """A bundled folder with one filter whose file an older exporter wrote (an extra Identity
    at the end: other operators, the same picture), its checkpoint and card, and two photos."""
    faces = tmp_path / "data" / "faces"
    faces.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(faces / f"p{i}.png"), synthetic_photo(96, 128, i))
    monkeypatch.setenv("REALTIME_DATA", str(tmp_path / "data"))
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2,
                          edge_sigmas=((1.2, 3.0),), tone_frequencies=2)).eval()
    folder, checkpoints = tmp_path / "bundled", tmp_path / "checkpoints"
    save_checkpoint(checkpoints / "toy.pt", net, {"name": "toy"})
    path = export_model(net, contract_for(net, "toy", work_size=64, license="MIT", source="a test"), folder / "toy.onnx")
    old = onnx.load(str(path))
    last = old.graph.node[-1]
    out = last.output[0]
    last.output[0] = "before_identity"
    old.graph.node.append(helper.make_node("Identity", ["before_identity"], [out]))
    onnx.save(old, str(path))
    (folder / "toy.json").write_text(json.dumps({"name": "toy", "onnx_bytes": 1, "cpu_ms_256x256": 9.9}))
    return folder, checkpoints


def test_a_file_from_older_code_is_exported_again_with_its_contract(bundled):
    folder, checkpoints = bundled
    contract = read_contract(folder / "toy.onnx")
    [result] = reexport(folder, checkpoints, ["toy"])
    assert result.changed and result.values_moved == 0 and result.largest_move == 0
    assert "Identity" not in {n.op_type for n in onnx.load(str(folder / "toy.onnx")).graph.node}
    assert read_contract(folder / "toy.onnx") == contract
    card = json.loads((folder / "toy.json").read_text())
    assert card["onnx_bytes"] == (folder / "toy.onnx").stat().st_size and card["cpu_ms_256x256"] == 9.9
    written = (folder / "toy.onnx").read_bytes()
    [again] = reexport(folder, checkpoints, [])  # every bundled filter: now the same operators
    assert not again.changed and (folder / "toy.onnx").read_bytes() == written


def test_unknown_names_are_refused_before_any_export(bundled, capsys):
    folder, checkpoints = bundled
    with pytest.raises(UserError, match="no bundled file or checkpoint for nope: name bundled filters \\(toy\\)"):
        reexport(folder, checkpoints, ["toy", "nope"])
    assert "Identity" in {n.op_type for n in onnx.load(str(folder / "toy.onnx")).graph.node}
    assert run_cli(lambda: release_main(["--reexport", "nope"])) == 2
    err = capsys.readouterr().err
    assert "no bundled file or checkpoint for nope" in err and "Traceback" not in err
