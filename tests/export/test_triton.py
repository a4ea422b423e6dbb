"""realtime-export triton: a model repository Triton would load (its schema, its ONNX Runtime
backend's rules, and ONNX Runtime running each written file at the shapes its config declares),
and every broken one refused with one line per problem and no traceback."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

from export import triton
from export.triton import check as triton_check
from tests.conftest import assert_one_line, make_onnx_filter, run_export

pytest.importorskip("tritonclient.grpc.model_config_pb2")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """candy and watercolor's fast students (0.4 and 0.75 MB), uint8 frame graphs."""
    folder = tmp_path_factory.mktemp("triton") / "repo"
    triton.write_repository(folder, ["candy", "watercolor"], triton.WriteOptions(variant="fast"))
    return folder


def copy_of(repo: Path, tmp_path: Path) -> Path:
    out = tmp_path / "edited"
    shutil.copytree(repo, out)
    return out


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) >= count, (old, text)
    path.write_text(text.replace(old, new, count))


def parsed(folder: Path):
    config, problems, _ = triton.parse_config((folder / "config.pbtxt").read_text(), "config.pbtxt")
    assert not problems
    return config


def problem_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith("error:") and ": note: " not in line]


def test_written_repository_passes_and_declares_what_the_model_takes(repo):
    report = triton.check_repository(repo)
    assert report.problems == [] and report.notes == []
    assert report.passed == ["candy_fast", "watercolor_fast"]
    assert (repo / "candy_fast" / "1" / "model.onnx").is_file()
    config = parsed(repo / "watercolor_fast")
    assert (config.name, config.backend, config.max_batch_size) == ("watercolor_fast", "onnxruntime", 0)
    frame, latent = config.input
    assert (frame.name, list(frame.dims), latent.name, list(latent.dims)) == ("frame", [1, 3, -1, -1], "latent", [1])
    assert [(o.name, list(o.dims)) for o in config.output] == [("frame_out", [-1, 3, -1, -1]), ("checksum", [1])]
    (trt,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    params = dict(trt.parameters)
    assert trt.name == "tensorrt" and params["precision_mode"] == "FP32"
    assert params["trt_engine_cache_enable"] == "1" and params["trt_engine_cache_path"] == triton.SERVER_CACHE
    # watercolor's student takes multiples of 12: the profile sits on that grid
    assert (params["trt_profile_min_shapes"], params["trt_profile_opt_shapes"], params["trt_profile_max_shapes"]) == (
        "frame:1x3x72x72", "frame:1x3x480x648", "frame:1x3x1080x1920")
    assert re.fullmatch(r"watercolor_fast_FP32_[0-9a-f]{16}", params["trt_engine_cache_prefix"])


@pytest.mark.parametrize("hw", [(480, 640), (288, 352)])
def test_written_models_run_on_onnxruntime_at_the_declared_shapes(repo, hw):
    import onnxruntime as ort

    candy = triton.run_on_cpu(repo / "candy_fast", hw)
    assert candy == {"frame_out": (1, 3, *hw), "checksum": ()}
    watercolor = triton.run_on_cpu(repo / "watercolor_fast", hw)  # rounded up to its multiple of 12
    assert watercolor["frame_out"] == (1, 3, -(-hw[0] // 12) * 12, -(-hw[1] // 12) * 12)
    # the frame graph is a filter: a real frame comes back changed, finite, uint8
    session = ort.InferenceSession(str(repo / "candy_fast" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    frame = np.random.default_rng(0).integers(0, 256, (1, 3, *hw), dtype=np.uint8)
    out, checksum = session.run(["frame_out", "checksum"], {"frame": frame})
    assert out.dtype == np.uint8 and out.shape == frame.shape and np.isfinite(checksum)
    assert np.abs(out.astype(int) - frame).mean() > 5


def test_float_graph_with_fp16_engines(tmp_path):
    triton.write_repository(tmp_path, ["candy"], triton.WriteOptions(graph="float", variant="fast", fp16=True))
    report = triton.check_repository(tmp_path)
    assert report.problems == [] and report.passed == ["candy_fast"]
    config = parsed(tmp_path / "candy_fast")
    (image,) = config.input
    assert (image.name, triton_check._type_name(image.data_type), list(image.dims)) == ("input", "TYPE_FP32", [1, 3, -1, -1])
    params = dict(config.optimization.execution_accelerators.gpu_execution_accelerator[0].parameters)
    assert params["precision_mode"] == "FP16" and params["trt_profile_opt_shapes"] == "input:1x3x480x640"
    assert triton.run_on_cpu(tmp_path / "candy_fast", (480, 640))["output"] == (1, 3, 480, 640)


def test_a_file_by_path_is_served_under_its_contract_name(tmp_path, monkeypatch, capsys):
    src = make_onnx_filter(tmp_path / "warm.v2.onnx", props={"filter.name": "warm"})  # batch fixed to 1 in the file
    (folder,) = triton.write_repository(tmp_path / "repo", [str(src)], triton.WriteOptions())
    assert folder.name == "warm"
    assert triton.check_repository(tmp_path / "repo").problems == []
    assert list(parsed(folder).input[0].dims) == [1, 3, -1, -1]
    assert triton.run_on_cpu(folder, (480, 640))["frame_out"] == (1, 3, 480, 640)
    odd = make_onnx_filter(tmp_path / "odd.onnx", props={"filter.name": "my look"})
    code, _, err = run_export(monkeypatch, capsys, "triton", tmp_path / "repo2", "--filters", odd)
    assert_one_line(code, err, "not a usable Triton model name")


def test_cli_writes_checks_and_runs(tmp_path, monkeypatch, capsys):
    code, out, err = run_export(monkeypatch, capsys, "triton", tmp_path / "repo", "--filters", "candy", "--variant", "fast", "--run")
    assert code == 0, err
    assert "wrote" in out and "ran candy_fast on the CPU at 640x480: frame_out [1, 3, 480, 640]" in out
    assert "1 model in" in out and "tritonserver --model-repository=/models" in out
    code, out, err = run_export(monkeypatch, capsys, "triton", tmp_path / "repo", "--check")
    assert code == 0 and "pass Triton's model-config schema" in out, err


def test_broken_repository_gives_one_line_per_problem(repo, tmp_path, monkeypatch, capsys):
    broken = copy_of(repo, tmp_path)
    cfg = broken / "candy_fast" / "config.pbtxt"
    edit(cfg, "data_type: TYPE_UINT8", "data_type: TYPE_FP32")  # wrong data type (frame)
    edit(cfg, "dims: [ -1, 3, -1, -1 ]", "dims: [ 3, -1, -1 ]")  # wrong rank (frame_out)
    edit(cfg, 'name: "candy_fast"', 'name: "candy"')  # wrong name
    cfg = broken / "watercolor_fast" / "config.pbtxt"
    edit(cfg, "max_batch_size: 0", "max_batch_size: 0\nmax_batchsize: 4")  # unknown field
    edit(cfg, "data_type: TYPE_INT64", "data_type: TYPE_INT46")  # typo'd enum
    edit(cfg, "kind: KIND_GPU", "kind: KIND_GPUU")  # another typo'd enum, in a one-line block
    (broken / "watercolor_fast" / "1" / "model.onnx").rename(broken / "watercolor_fast" / "1" / "watercolor.onnx")  # missing model file

    code, out, err = run_export(monkeypatch, capsys, "triton", broken, "--check")
    assert_one_line(code, err, "7 problems", str(broken), "--check")
    lines = problem_lines(err)
    expected = [
        ("candy_fast/config.pbtxt:", "is not the folder's name \"candy_fast\""),
        ("candy_fast/config.pbtxt:", "input 'frame' is TYPE_FP32 in the config, the model's is TYPE_UINT8"),
        ("candy_fast/config.pbtxt:", "output 'frame_out' has rank 3 in the config [ 3, -1, -1 ], the model's is rank 4"),
        ("watercolor_fast/config.pbtxt:8:1:", 'no field named "max_batchsize"; did you mean max_batch_size?'),
        ("watercolor_fast/config.pbtxt:", "no value named TYPE_INT46; did you mean TYPE_INT64?"),
        ("watercolor_fast/config.pbtxt:", "no value named KIND_GPUU; did you mean KIND_GPU?"),
        ("watercolor_fast/1:", "no model file model.onnx (the folder holds watercolor.onnx; set default_model_filename or rename)"),
    ]
    assert len(lines) == len(expected), err
    for where, what in expected:
        assert sum(where in line and what in line for line in lines) == 1, (where, what, err)
    assert "Traceback" not in err and out == ""


def test_engine_cache_profile_and_batching_mistakes(repo, tmp_path):
    broken = copy_of(repo, tmp_path)
    cfg = broken / "candy_fast" / "config.pbtxt"
    edit(cfg, '"trt_engine_cache_enable" value: "1"', '"trt_engine_cache_enable" value: "yes"')
    edit(cfg, '"trt_profile_opt_shapes" value: "frame:', '"trt_profile_opt_shapes" value: "image:')
    edit(cfg, '"precision_mode" value: "FP32"', '"precision_mode" value: "FP8"')
    cfg = broken / "watercolor_fast" / "config.pbtxt"
    edit(cfg, "max_batch_size: 0", "max_batch_size: 4")
    edit(cfg, "dims: [ 1, 3, -1, -1 ]", "dims: [ 3, -1, -1 ]")
    # a retrained model (same graph, other weights) dropped in place: its engine must not come from the cache
    model = onnx.load(str(broken / "candy_fast" / "1" / "model.onnx"))
    weights = next(t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and t.raw_data)
    weights.raw_data = (onnx.numpy_helper.to_array(weights) + np.float32(1e-3)).tobytes()
    onnx.save(model, str(broken / "candy_fast" / "1" / "model.onnx"))

    messages = [p.message for p in triton.check_repository(broken).problems]
    joined = "\n".join(messages)
    assert "trt_engine_cache_enable 'yes' is not a boolean" in joined
    assert "precision_mode 'FP8': use one of FP32, FP16, INT8" in joined
    assert "'frame' is in trt_profile_min_shapes but not in all three profile shapes" in joined
    assert "the TensorRT profile names 'image', which is not a model input" not in joined  # min names frame: opt is the odd one
    assert "input 'latent': max_batch_size 4 needs a dynamic first (batch) dim" in joined
    assert "output 'frame_out' has rank 5 in the config [ -1, -1, 3, -1, -1 ] (max_batch_size > 0 adds the batch dim" in joined
    assert "changed since this config was written" in joined
    assert "model input 'latent'" not in joined and len(messages) == 6, joined


def test_check_accepts_a_user_edited_repository(repo, tmp_path, monkeypatch, capsys):
    """Reformatted by protobuf, two instances, fixed 640x480 frames, a second version and no
    explicit profile: Triton loads it, and the fixed sizes get a note."""
    from google.protobuf import text_format

    edited = copy_of(repo, tmp_path)
    folder = edited / "candy_fast"
    config = parsed(folder)
    config.instance_group[0].count = 2
    del config.input[0].dims[:]
    config.input[0].dims.extend([1, 3, 480, 640])
    params = config.optimization.execution_accelerators.gpu_execution_accelerator[0].parameters
    for key in triton.PROFILE_KEYS:
        del params[key]
    config.version_policy.Clear()
    config.version_policy.all.SetInParent()
    (folder / "config.pbtxt").write_text(text_format.MessageToString(config))
    shutil.copytree(folder / "1", folder / "2")

    code, out, err = run_export(monkeypatch, capsys, "triton", edited, "--check")
    assert code == 0, err
    assert "2 models in" in out and "candy_fast, watercolor_fast" in out
    notes = [line for line in err.splitlines() if ": note: " in line]
    assert len(notes) == 1 and "input 'frame' dims 2, 3 fixed to 480, 640" in notes[0], err
    assert "Triton will refuse requests of other sizes" in notes[0]
    assert triton.run_on_cpu(folder, (100, 100))["frame_out"] == (1, 3, 480, 640)  # the config's fixed size wins


def test_bad_command_lines_are_one_line(repo, tmp_path, monkeypatch, capsys):
    plain = make_onnx_filter(tmp_path / "plain.onnx")  # a filter file without a NAME.fast.onnx beside it
    cases = [
        (("triton", repo, "--check", "--fp16"), "--check only reads"),
        (("triton", tmp_path / "nowhere", "--check"), "is not a folder"),
        (("triton", tmp_path, "--check"), "no model folders"),
        (("triton", repo, "--filters", "candy", "--variant", "fast"), "already in"),
        (("triton", tmp_path / "r", "--filters", plain, "--variant", "fast"), "no fast variant (NAME.fast.onnx) of"),
        (("triton", tmp_path / "r", "--filters", "no_such_filter"), "unknown filter"),
        (("triton", tmp_path / "r", "--engine-cache", "cache"), "must be absolute"),
    ]
    for args, needle in cases:
        code, _, err = run_export(monkeypatch, capsys, *args)
        assert_one_line(code, err, needle)
    assert not (tmp_path / "r").exists(), "a refused write leaves nothing behind"


def test_missing_tritonclient_names_the_extra(repo, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tritonclient.grpc.model_config_pb2", None)
    code, _, err = run_export(monkeypatch, capsys, "triton", repo, "--check")
    assert_one_line(code, err, "pip install 'realtime-filters[scale]'")
