"""Hostile inputs to every realtime-export subcommand: one `error: ...` line, a non-zero exit, no
traceback, and (where it can be known) before any export or import work starts.

Everything is built here in tmp_path: tiny ONNX filters (tests.conftest.make_onnx_filter), tiny
checkpoints and FilterClone plists.
"""
from __future__ import annotations

import copy
import os
import plistlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch

from export.cli import entry
from export.importers import write_filterclone_plist
from models.networks.checkpoint import save_checkpoint
from models.networks.transformer_net import TransformerNet, TransformerNetConfig
from models.networks.unet import UNet, UNetConfig
from tests.conftest import assert_one_line, make_onnx_filter

ROOT = Path(__file__).resolve().parents[2]


def run_export(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["realtime-export", *map(str, args)])
    code = entry()
    return code, capsys.readouterr().err.strip()



@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if an export, import or engine build starts: the error must come first."""
    def forbidden(*_: Any, **__: Any) -> None:
        raise AssertionError("work started before the bad input was reported")

    for target in ("export.onnx_export.export_model", "export.importers.load_pytorch_examples",
                   "export.importers.load_filterclone_plist", "export.importers.import_foreign_onnx",
                   "export.tensorrt.build_engine", "models.networks.checkpoint.read_checkpoint"):
        monkeypatch.setattr(target, forbidden)


@pytest.fixture
def tiny_ckpt(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1)), {"name": "tiny"})
    return path


@pytest.fixture
def tiny_plist(tmp_path: Path) -> Path:
    path = tmp_path / "clone.plist"
    write_filterclone_plist(UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1)), path)
    return path


# ---------------------------------------------------------------- info
def half_io_onnx(path: Path) -> Path:
    """The swap filter converted to float16 *including* its input and output."""
    from onnxconverter_common import float16

    make_onnx_filter(path)
    half = float16.convert_float_to_float16(onnx.load(str(path)), keep_io_types=False)
    onnx.save(half, str(path))
    return path


def test_info_on_an_fp16_variant_prints_its_contract(monkeypatch, capsys, tmp_path, swap_onnx):
    from export.precision import to_fp16

    half = to_fp16(swap_onnx, tmp_path / "swap.fp16.onnx")
    monkeypatch.setattr(sys, "argv", ["realtime-export", "info", str(half)])
    assert entry() == 0
    out = capsys.readouterr().out
    assert "filter.name = swap" in out and "filter.input_range = 0-1" in out and "filter.work_size = 128" in out


def test_info_on_float16_input_and_output_says_how_to_convert(monkeypatch, capsys, tmp_path):
    path = half_io_onnx(tmp_path / "half.onnx")
    assert_one_line(*run_export(monkeypatch, capsys, "info", path), "float16 image input", "keep_io_types=True")


def test_import_onnx_of_float16_io_fails_before_writing(monkeypatch, capsys, tmp_path):
    path = half_io_onnx(tmp_path / "half.onnx")
    assert_one_line(*run_export(monkeypatch, capsys, "import-onnx", path, "-o", tmp_path / "out.onnx"), "float16 image input")
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("name", ["empty.onnx", "empty.pt", "empty.plist"])
def test_info_on_an_empty_file_says_it_is_empty(monkeypatch, capsys, tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    assert_one_line(*run_export(monkeypatch, capsys, "info", tmp_path / name), "is empty (0 bytes)")


def test_info_on_a_checkpoint_or_plist_is_not_a_made_up_contract(monkeypatch, capsys, tiny_ckpt, tiny_plist):
    for path in (tiny_ckpt, tiny_plist):
        code, err = run_export(monkeypatch, capsys, "info", path)
        assert_one_line(code, err, "not an ONNX file")


def test_info_on_a_graphless_onnx_file(monkeypatch, capsys, tmp_path):
    onnx.save(onnx.ModelProto(ir_version=8, producer_name="x"), str(tmp_path / "hollow.onnx"))  # parses, holds no graph
    assert_one_line(*run_export(monkeypatch, capsys, "info", tmp_path / "hollow.onnx"), "no model graph")


def test_info_on_a_folder(monkeypatch, capsys, tmp_path):
    assert_one_line(*run_export(monkeypatch, capsys, "info", tmp_path), "is a folder")


def test_info_with_an_invalid_stored_contract_says_how_to_rewrite_it(monkeypatch, capsys, tmp_path):
    path = make_onnx_filter(tmp_path / "bad.onnx", props={"filter.kind": "everything"})
    assert_one_line(*run_export(monkeypatch, capsys, "info", path), "filter kind", "realtime-export import-onnx")


def test_info_on_a_model_that_is_not_an_image_filter(monkeypatch, capsys, tmp_path):
    from onnx import TensorProto, helper
    from realtime.filters.onnx_format import built_model

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "vec",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
    )
    onnx.save(built_model(graph, 17), str(tmp_path / "vec.onnx"))
    assert_one_line(*run_export(monkeypatch, capsys, "info", tmp_path / "vec.onnx"), "not an image filter")


def test_info_on_a_foreign_model_shows_the_inferred_contract(monkeypatch, capsys, zoo_onnx):
    monkeypatch.setattr(sys, "argv", ["realtime-export", "info", str(zoo_onnx)])
    assert entry() == 0
    captured = capsys.readouterr()
    assert "filter.fixed_size = 224x224" in captured.out and "filter.work_size = 224" in captured.out
    assert "no filter.* metadata" in captured.err and "error:" not in captured.err


# ---------------------------------------------------------------- inputs of every command
@pytest.mark.parametrize("command", ["onnx", "import-pytorch-examples", "import-filterclone", "import-onnx", "tensorrt"])
def test_missing_folder_and_empty_inputs(monkeypatch, capsys, tmp_path, no_work, command):
    output = () if command in ("onnx", "tensorrt") else ("-o", tmp_path / "out.onnx")
    (tmp_path / "empty.bin").write_bytes(b"")
    for path, needle in ((tmp_path / "nope.bin", "does not exist"), (tmp_path, "is a folder"), (tmp_path / "empty.bin", "is empty")):
        assert_one_line(*run_export(monkeypatch, capsys, command, path, *output), needle)


def test_empty_weights_files_say_they_are_empty(monkeypatch, capsys, tmp_path):
    """Through the loaders themselves (no command-line check in front)."""
    from realtime.errors import UserError
    from export.importers import load_filterclone_plist, load_pytorch_examples

    (tmp_path / "w").write_bytes(b"")
    for load in (load_pytorch_examples, load_filterclone_plist):
        with pytest.raises(UserError, match="is empty"):
            load(tmp_path / "w")


# ---------------------------------------------------------------- outputs
def unwritable_outputs(tmp_path: Path) -> list[tuple[Path, str]]:
    (tmp_path / "a_file").write_text("x")
    cases = [
        (tmp_path / "a_file" / "out.onnx", "a_file is a file, not a folder"),
        (tmp_path / "a_file" / "deeper" / "out.onnx", "is a file, not a folder"),
        (tmp_path, "is a folder: pass a file name"),
    ]
    if sys.platform.startswith("linux"):
        cases.append((Path("/proc/realtime-export-test/out.onnx"), "cannot create the folder"))
    return cases


@pytest.mark.parametrize("command", ["onnx", "import-pytorch-examples", "import-filterclone", "import-onnx"])
def test_unwritable_output_fails_before_any_work(monkeypatch, capsys, tmp_path, tiny_ckpt, tiny_plist, swap_onnx, no_work, command):
    src = {"onnx": tiny_ckpt, "import-pytorch-examples": tiny_ckpt, "import-filterclone": tiny_plist, "import-onnx": swap_onnx}[command]
    for out, needle in unwritable_outputs(tmp_path):
        line = assert_one_line(*run_export(monkeypatch, capsys, command, src, "-o", out), needle)
        assert "choose another" in line or "pass a file name" in line, line


def test_read_only_output_folder(monkeypatch, capsys, tmp_path, swap_onnx, no_work):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: a read-only folder is still writable")
        for out in (folder / "x.onnx", folder / "sub" / "x.onnx"):
            assert_one_line(*run_export(monkeypatch, capsys, "import-onnx", swap_onnx, "-o", out), "not writable", "choose another")
    finally:
        folder.chmod(0o755)


def test_output_that_is_the_input_is_refused(monkeypatch, capsys, tmp_path, tiny_plist, swap_onnx, no_work):
    before = swap_onnx.read_bytes()
    assert_one_line(*run_export(monkeypatch, capsys, "import-onnx", swap_onnx, "-o", swap_onnx), "is the input file")
    assert swap_onnx.read_bytes() == before
    assert_one_line(*run_export(monkeypatch, capsys, "import-filterclone", tiny_plist, "-o", tiny_plist), "is the input file")
    ckpt_named_onnx = tmp_path / "weights.onnx"  # `onnx` writes CHECKPOINT.onnx by default: that is the checkpoint
    ckpt_named_onnx.write_bytes(b"x")
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", ckpt_named_onnx), "is the input file")


def test_fp16_variant_path_that_is_a_folder(monkeypatch, capsys, tmp_path, tiny_ckpt, no_work):
    (tmp_path / "m.fp16.onnx").mkdir()
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", tiny_ckpt, "-o", tmp_path / "m.onnx", "--fp16"), "m.fp16.onnx is a folder")


# ---------------------------------------------------------------- options
@pytest.mark.parametrize("args, needle", [
    (["--work-size", "0"], "--work-size: must be from 1 to 4096"),
    (["--work-size", "-5"], "--work-size: must be from 1 to 4096"),
    (["--work-size", "100000"], "--work-size: must be from 1 to 4096"),
    (["--work-size", "big"], "expected a whole number"),
    (["--fixed-size", "224"], "expected WxH"),
    (["--fixed-size", "0x224"], "above 0"),
    (["--fixed-size", "99999x99999"], "99999x99999: each side at most 8192"),
    (["--kind", "everything"], "invalid choice"),
    (["--input-range", "0-2"], "invalid choice"),
    (["--bogus"], "unrecognized arguments"),
    (["--temporal-keep", "1"], "--temporal-keep: must be from 0 to below 1"),
    (["--temporal-keep", "firm"], "expected a share"),
    (["--temporal-threshold", "0"], "--temporal-threshold: must be above 0"),
])
def test_bad_option_values_are_one_line(monkeypatch, capsys, tmp_path, swap_onnx, no_work, args, needle):
    code, err = run_export(monkeypatch, capsys, "import-onnx", swap_onnx, "-o", tmp_path / "o.onnx", *args)
    line = assert_one_line(code, err, needle, "--help")
    assert "usage:" not in err, line


@pytest.mark.parametrize("args, needle", [
    ([], "give --keep, --threshold and/or --floor"),
    (["--default", "--keep", "0.9"], "--default removes the settings"),
    (["--floor", "6"], "floor must be from 0 to below the threshold (5)"),
    (["--floor", "3", "--threshold", "2"], "floor must be from 0 to below the threshold (2)"),
    (["--keep", "-0.1"], "--keep: must be from 0 to below 1"),
    (["--threshold", "300"], "--threshold: must be above 0 and at most 255"),
])
def test_bad_temporal_settings_are_one_line_and_leave_the_file(monkeypatch, capsys, swap_onnx, args, needle):
    before = swap_onnx.read_bytes()
    assert_one_line(*run_export(monkeypatch, capsys, "temporal", swap_onnx, *args), needle)
    assert swap_onnx.read_bytes() == before


@pytest.mark.parametrize("args, needle", [
    (["--opt", "abc"], "argument --opt: expected WxH"),
    (["--max", "0x0"], "above 0"),
    (["--min", "500x500"], "--min ≤ --opt"),
    (["--opt", "2000x2000"], "--opt ≤ --max"),
])
def test_bad_tensorrt_profiles_are_one_line_before_building(monkeypatch, capsys, swap_onnx, no_work, args, needle):
    assert_one_line(*run_export(monkeypatch, capsys, "tensorrt", swap_onnx, *args), needle)


def test_unwritable_tensorrt_cache_is_reported_before_building(monkeypatch, capsys, tmp_path, swap_onnx):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a_file"))
    monkeypatch.setattr("realtime.filters.engine.FilterModel", lambda *a, **k: pytest.fail("the engine build started"))
    assert_one_line(*run_export(monkeypatch, capsys, "tensorrt", swap_onnx), "cannot write the TensorRT engine cache", "XDG_CACHE_HOME")


def test_tensorrt_on_a_model_realtime_cannot_run(monkeypatch, capsys, tmp_path):
    assert_one_line(*run_export(monkeypatch, capsys, "tensorrt", half_io_onnx(tmp_path / "half.onnx")), "float16 image input")


def test_missing_command_and_unknown_command(monkeypatch, capsys):
    assert_one_line(*run_export(monkeypatch, capsys), "required: command")
    assert_one_line(*run_export(monkeypatch, capsys, "bogus"), "invalid choice: 'bogus'")


def test_int8_and_calib_are_checked_before_exporting(monkeypatch, capsys, tmp_path, tiny_ckpt, no_work):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("no photos here")
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", tiny_ckpt, "--int8"), "--calib")
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", tiny_ckpt, "--int8", "--calib", tmp_path / "none"), "does not exist")
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", tiny_ckpt, "--int8", "--calib", tmp_path / "notes"), "no calibration images")
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", tiny_ckpt, "--calib", tmp_path / "notes"), "only used with --int8")


# ---------------------------------------------------------------- damaged checkpoints of ours
@pytest.mark.parametrize("change, needle", [
    (dict(meta="x"), "meta entry is of type str, expected dict"),
    (dict(config=[1, 2]), "config entry is of type list"),
    (dict(arch=3), "arch entry is of type int"),
    (dict(state_dict=None), "state_dict is not a dictionary"),
    (dict(state_dict={"input_conv.weight": 3}), "state_dict is not a dictionary"),
    (dict(nan=True), "NaN or infinite"),
])
def test_damaged_checkpoint_is_one_line(monkeypatch, capsys, tmp_path, tiny_ckpt, change, needle):
    payload = torch.load(tiny_ckpt, weights_only=True)
    if change.pop("nan", False):
        payload["state_dict"]["input_conv.weight"] = torch.full_like(payload["state_dict"]["input_conv.weight"], float("nan"))
    payload.update(change)
    torch.save(payload, tiny_ckpt)
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", tiny_ckpt, "-o", tmp_path / "o.onnx"), needle)
    assert not (tmp_path / "o.onnx").exists()


def test_checkpoint_config_far_bigger_than_its_weights_allocates_nothing(monkeypatch, capsys, tmp_path, tiny_ckpt):
    payload = torch.load(tiny_ckpt, weights_only=True)
    payload["config"]["channels"] = [4096] * 8
    torch.save(payload, tiny_ckpt)
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", tiny_ckpt, "-o", tmp_path / "o.onnx"), "does not match UNet", "expected (4096")


def test_style_codes_that_are_not_numbers(monkeypatch, capsys, tmp_path):
    path = tmp_path / "latent.pt"
    save_checkpoint(path, UNet(UNetConfig(channels=(8, 16), blocks_per_level=1, num_downsamples=1, latent_codes=2)),
                    {"style_codes": {"cartoon": "first"}})
    assert_one_line(*run_export(monkeypatch, capsys, "onnx", path, "-o", tmp_path / "o.onnx"), "style_codes")


# ---------------------------------------------------------------- pytorch/examples weights
def test_pytorch_examples_given_our_checkpoint_points_to_the_onnx_command(monkeypatch, capsys, tmp_path, tiny_ckpt):
    assert_one_line(*run_export(monkeypatch, capsys, "import-pytorch-examples", tiny_ckpt, "-o", tmp_path / "o.onnx"),
                    "realtime-export onnx")


def test_pytorch_examples_bad_contents(monkeypatch, capsys, tmp_path):
    torch.save({1: torch.zeros(2)}, tmp_path / "keys.pth")
    state = TransformerNet(TransformerNetConfig(width=8, res_blocks=2)).state_dict()
    state["conv1.conv2d.weight"][0, 0, 0, 0] = float("inf")
    torch.save(state, tmp_path / "inf.pth")
    (tmp_path / "text.pth").write_text("not a pth")
    state = TransformerNet(TransformerNetConfig(width=8, res_blocks=2)).state_dict()
    state["res99999999.conv1.conv2d.weight"] = torch.zeros(1)  # would build 10^8 residual blocks
    torch.save(state, tmp_path / "deep.pth")
    cases = (("keys.pth", "named tensors"), ("inf.pth", "NaN or infinite"), ("text.pth", "corrupt"),
             ("deep.pth", "99999999 residual blocks"))
    for name, needle in cases:
        assert_one_line(*run_export(monkeypatch, capsys, "import-pytorch-examples", tmp_path / name, "-o", tmp_path / "o.onnx"), needle)


# ---------------------------------------------------------------- FilterClone plists
def edited_plist(src: Path, dst: Path, edit: Any) -> Path:
    raw = plistlib.loads(src.read_bytes())
    raw = edit(copy.deepcopy(raw)) or raw if callable(edit) else edit
    dst.write_bytes(plistlib.dumps(raw, fmt=plistlib.FMT_BINARY))
    return dst


def _set(path: str, value: Any) -> Any:
    def edit(raw: dict[str, Any]) -> dict[str, Any]:
        node = raw
        *parents, leaf = path.split("/")
        for part in parents:
            node = node[part]
        node[leaf] = value
        return raw
    return edit


def _drop(key: str) -> Any:
    def edit(raw: dict[str, Any]) -> dict[str, Any]:
        del raw[key]
        return raw
    return edit


@pytest.mark.parametrize("edit, needle", [
    (_drop("config"), "needs 'config' and 'model'"),
    (_drop("model"), "needs 'config' and 'model'"),
    ([1, 2, 3], "expected a dictionary"),
    (_set("config", "wide"), "must hold the channel list"),
    (_set("config", {"channels": "abc"}), "channels must be a list"),
    (_set("config", {"channels": []}), "channels must be a list of 1 to 8"),
    (_set("config", {"channels": [8, "x"]}), "channels[1] must be a whole number"),
    (_set("config", {"channels": [8, -16]}), "channels[1] must be a whole number"),
    (_set("config", {"channels": [100000, 16]}), "from 1 to 4096"),
    (_set("config", {"channels": [8, 16], "blocksPerLevel": "one"}), "blocks_per_level must be a whole number"),
    (_set("config", {"channels": [8, 16], "numDownsamples": 5}), "num_downsamples must be a whole number from 0 to 1"),
    (_set("config", {"channels": [8, 16], "codeDim": 0}), "code_dim"),
    (_set("config", {"channels": [16, 32], "blocksPerLevel": 1}), "expected (16,)"),
    (_set("model", "weights"), "'model' must be a dictionary"),
    (_set("model/_input_conv/_weight", 5), "is int, not float32 tensor data"),
    (_set("model/_input_conv/_weight/shape", "3x3"), "a shape is a list of whole numbers"),
    (_set("model/_input_conv/_weight/shape", [3, 8, 3, 3]), "has shape (3, 8, 3, 3), expected (8, 3, 3, 3)"),
    (_set("model/_input_conv/_weight/data", b"abc"), "has 3 bytes, expected 864"),
    (_set("model/_input_conv/_weight/data", np.full(216, np.nan, "<f4").tobytes()), "NaN or infinite"),
    (_set("model/_mystery", {"data": b"\0" * 4, "shape": [1]}), "unexpected (e.g. mystery)"),
])
def test_malformed_filterclone_plists_are_one_line(monkeypatch, capsys, tmp_path, tiny_plist, edit, needle):
    bad = edited_plist(tiny_plist, tmp_path / "bad.plist", edit)
    assert_one_line(*run_export(monkeypatch, capsys, "import-filterclone", bad, "-o", tmp_path / "o.onnx"), needle)
    assert not (tmp_path / "o.onnx").exists()


@pytest.mark.parametrize("content", [b"hello, not a plist", b"bplist00\x00\x01", "<plist><dict><key>a</key>".encode()])
def test_files_that_are_not_plists(monkeypatch, capsys, tmp_path, content):
    (tmp_path / "w.plist").write_bytes(content)
    assert_one_line(*run_export(monkeypatch, capsys, "import-filterclone", tmp_path / "w.plist", "-o", tmp_path / "o.onnx"),
                    "not a property list")


def test_filterclone_config_too_big_for_the_file_allocates_nothing(monkeypatch, capsys, tmp_path, tiny_plist):
    """4096 channels on 8 levels would be gigabytes of weights: the shapes are compared first."""
    bad = edited_plist(tiny_plist, tmp_path / "big.plist", _set("config", {"channels": [4096] * 8, "blocksPerLevel": 64}))
    assert_one_line(*run_export(monkeypatch, capsys, "import-filterclone", bad, "-o", tmp_path / "o.onnx"), "expected (4096")


# ---------------------------------------------------------------- foreign ONNX
def test_import_onnx_fixed_size_that_the_model_does_not_take(monkeypatch, capsys, tmp_path, zoo_onnx):
    assert_one_line(*run_export(monkeypatch, capsys, "import-onnx", zoo_onnx, "-o", tmp_path / "o.onnx", "--fixed-size", "100x100"),
                    "takes 224x224 images only", "--fixed-size 224x224")
    assert not (tmp_path / "o.onnx").exists()


def test_import_onnx_that_fails_at_run_time_leaves_no_file(monkeypatch, capsys, tmp_path):
    """A graph whose shapes only fit one size (a Reshape to 1×3×8×8) but declares dynamic input."""
    from onnx import TensorProto, helper
    from realtime.filters.onnx_format import built_model

    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, 3, 8, 8])
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["output"])], "fixed_inside",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])], [shape],
    )
    onnx.save(built_model(graph, 17), str(tmp_path / "fixed.onnx"))
    assert_one_line(*run_export(monkeypatch, capsys, "import-onnx", tmp_path / "fixed.onnx", "-o", tmp_path / "o.onnx"),
                    "failed on a 256x256 image", "--fixed-size")
    assert not list(tmp_path.glob("o.onnx*"))


def test_import_onnx_corrupt_and_graphless(monkeypatch, capsys, tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage")
    onnx.save(onnx.ModelProto(ir_version=8, producer_name="x"), str(tmp_path / "hollow.onnx"))
    for name in ("junk.onnx", "hollow.onnx"):
        assert_one_line(*run_export(monkeypatch, capsys, "import-onnx", tmp_path / name, "-o", tmp_path / "o.onnx"), "corrupt")


def test_python_dash_m_export_errors_are_one_line(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "export", "info", str(tmp_path / "empty.onnx")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: model file {tmp_path / 'empty.onnx'} is empty (0 bytes): "
                                                "the download or save was cut short; get the file again"]
