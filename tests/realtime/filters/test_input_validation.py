"""Bad options, bad models and odd frames give one clear line before any work starts, and
every bundled filter runs on any frame size (issue: a live tool that survives abuse)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.filters.engine import FilterModel
from realtime.filters.chain import Chain
from realtime.filters.kinds.base import filter_for
from realtime.filters.registry import bundled_filters, fast_variant
from tests.conftest import make_onnx_filter, run_realtime

REALTIME = Path(sys.executable).with_name("realtime")




def one_line(code: int, err: str, *needles: str) -> str:
    """Exactly one ``error:`` line, no traceback, non-zero exit; the line holds each needle."""
    assert code != 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


cli = run_realtime


# ---------------------------------------------------------------- options
@pytest.mark.parametrize("args, needle", [
    (["--fps", "nan"], "finite"),
    (["--fps", "inf"], "finite"),
    (["--fps", "0"], "--fps 0 is outside"),
    (["--fps", "1e9"], "--fps 1e+09 is outside"),
    (["--fps", "abc"], "expected a number"),
    (["--size", "0x480"], "both sides must be above 0"),
    (["--size", "100000x480"], "each side at most 7680"),
    (["--size", "640"], "--size"),
    (["--work-size", "-3"], "--work-size -3 is outside"),
    (["--work-size", "2.5"], "whole number"),
    (["--strength", "1.5"], "--strength 1.5 is outside 0..1"),
    (["--strength", "nan"], "finite"),
    (["--strength=-inf"], "finite"),
    (["--latent", "-1"], "--latent -1 is outside"),
    (["--latent", "9"], "cartoon has codes 0..3"),
    (["--frames", "0"], "--frames 0 is outside"),
    (["--threads", "-2"], "--threads -2 is outside"),
    (["--provider", "gpu"], "invalid choice"),
])
def test_bad_options_get_one_line(monkeypatch, capsys, args, needle):
    one_line(*cli(monkeypatch, capsys, "--filter", "cartoon", "--source", "synthetic", "--no-preview", *args), needle)


def test_every_out_of_range_option_is_named_at_once(monkeypatch, capsys):
    line = one_line(*cli(monkeypatch, capsys, "--filter", "cartoon", "--source", "synthetic", "--no-preview",
                         "--fps", "500", "--strength", "3", "--work-size", "1"))
    assert "--fps" in line and "--strength" in line and "--work-size" in line


def test_latent_on_a_filter_without_codes(monkeypatch, capsys, swap_onnx):
    one_line(*cli(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "synthetic", "--no-preview", "--latent", "1"),
             "has no latent codes")


def test_toml_values_written_the_natural_way(monkeypatch, capsys, tmp_path, swap_onnx):
    stats = tmp_path / "s.json"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'filter = "{swap_onnx}"\nsource = "synthetic"\nfps = 30\nsize = [64, 48]\nno_preview = true\n'
                   f'frames = 3\ntemporal = false\nno_track = true\nstats = "{stats}"\n')
    code, err = cli(monkeypatch, capsys, "--config", str(cfg))
    assert code == 0, err
    import json

    assert json.loads(stats.read_text())["frames_output"] == 3


def test_toml_camera_index_as_a_number(monkeypatch, capsys, tmp_path, swap_onnx):
    """``source = 0`` is read as camera 0 (no camera here: the camera's own error, not a type error)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'filter = "{swap_onnx}"\nsource = 9\npreview = false\n')
    one_line(*cli(monkeypatch, capsys, "--config", str(cfg)), "camera 9 does not open")


def test_toml_bad_types_are_all_reported_in_one_line(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('source = 1.5\nfps = "fast"\nframes = 2.5\npreview = "no"\nstrength = nan\nprovider = "gpu"\n'
                   'work_size = inf\nbogus = 1\nsize = [1, 2, 3]\n')
    line = one_line(*cli(monkeypatch, capsys, "--config", str(cfg), "--filter", "cartoon"))
    for key in ("source", "fps", "frames", "preview", "strength", "provider", "work_size", "'bogus'", "size"):
        assert key in line, (key, line)


def test_toml_out_of_range_values_are_checked_like_the_command_line(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('fps = 1e9\nstrength = 1.5\nsource = "synthetic"\nfilter = "cartoon"\npreview = false\n')
    line = one_line(*cli(monkeypatch, capsys, "--config", str(cfg)))
    assert "--fps" in line and "--strength" in line


# ---------------------------------------------------------------- models
def onnx_model(path: Path, out_channels: int = 3, upscale: int = 1) -> Path:
    """A float filter whose output has ``out_channels`` channels and is ``upscale`` times its input."""
    import onnx
    from onnx import TensorProto, helper
    from realtime.filters.onnx_format import built_model

    w = helper.make_tensor("w", TensorProto.FLOAT, [out_channels, 3, 1, 1], np.ones((out_channels, 3, 1, 1), np.float32).ravel().tolist())
    nodes = [helper.make_node("Conv", ["input", "w"], ["conv"])]
    inits = [w]
    if upscale > 1:
        inits.append(helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, upscale, upscale]))
        nodes.append(helper.make_node("Resize", ["conv", "", "scales"], ["output"], mode="nearest"))
    else:
        nodes.append(helper.make_node("Identity", ["conv"], ["output"]))
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, out_channels if upscale == 1 else None, None, None])], inits)
    onnx.save(built_model(graph, 17), str(path))
    return path


@pytest.mark.parametrize("make, needle", [
    (lambda p: onnx_model(p, out_channels=1), "returns 1 channels"),
    (lambda p: onnx_model(p, out_channels=4), "returns 4 channels"),
    (lambda p: onnx_model(p, upscale=2), "must return a 3-channel image of its input's size"),
    (lambda p: make_onnx_filter(p, nan=True), "NaN or infinite values on a plain test frame"),
])
def test_models_that_cannot_be_filters_are_refused_at_load(monkeypatch, capsys, tmp_path, make, needle):
    path = make(tmp_path / "m.onnx")
    out = tmp_path / "out.mp4"
    one_line(*cli(monkeypatch, capsys, "--filter", str(path), "--source", "synthetic", "--no-preview",
                  "--frames", "3", "--output", str(out)), needle)
    assert not out.exists(), "nothing is written for a model refused at load"


# ---------------------------------------------------------------- frames
def bundled_models() -> list[Path]:
    paths = []
    for path in bundled_filters().values():
        paths.append(path)
        if fast_variant(path) is not None:
            paths.append(fast_variant(path))
    return paths


@pytest.mark.parametrize("path", bundled_models(), ids=lambda p: p.name)
def test_every_bundled_filter_runs_on_any_frame_size(path):
    f = Chain([filter_for(FilterModel(path, "cpu"))])
    rng = np.random.default_rng(0)
    for h, w in [(3, 5), (1, 1), (2, 97), (77, 1), (33, 31)]:
        bgr = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        out = f.apply(bgr)
        assert out.shape == (h, w, 3) and out.dtype == np.uint8


def write_video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize("make", [
    lambda p: write_video(p, 0),
    lambda p: p.write_bytes(b""),
    lambda p: p.write_bytes(b"not a video at all " * 50),
], ids=["no-frames", "zero-bytes", "garbage"])
def test_a_video_with_no_frames_is_an_error_not_an_empty_output(monkeypatch, capsys, tmp_path, swap_onnx, make):
    src = tmp_path / "in.mp4"
    make(src)
    out = tmp_path / "out.mp4"
    one_line(*cli(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", str(src), "--no-preview", "--output", str(out)),
             str(src))
    assert not out.exists()


def test_a_one_frame_video_is_read_whole(monkeypatch, capsys, tmp_path, swap_onnx):
    import json

    src = write_video(tmp_path / "in.mp4", 1)
    stats = tmp_path / "s.json"
    code, err = cli(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", str(src), "--no-preview", "--fast",
                    "--stats", str(stats))
    assert code == 0, err
    assert json.loads(stats.read_text())["frames_output"] == 1


# ---------------------------------------------------------------- providers
def test_cpu_without_a_gpu_is_information_said_once(tmp_path):
    """With --provider auto on a machine without a GPU nothing is printed by default, and
    with -v the fact is said once for the whole chain."""
    import onnxruntime as ort

    args = [str(REALTIME), "--filter", "cartoon+candy", "--source", "synthetic", "--no-preview", "--frames", "2"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    quiet = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert "WARNING" not in quiet.stderr and "running on CPU" not in quiet.stderr, quiet.stderr
    loud = subprocess.run(args + ["-v"], capture_output=True, text=True, timeout=120, env=env)
    assert loud.returncode == 0, loud.stderr
    gpu_build = "CUDAExecutionProvider" in ort.get_available_providers()
    assert loud.stderr.count("running on CPU") == (1 if gpu_build else 0), loud.stderr
    assert "INFO realtime.filters.providers: running on CPU" in loud.stderr or not gpu_build


def test_asking_for_a_gpu_that_is_not_there_stays_an_error(tmp_path, swap_onnx):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this ONNX Runtime build has no CUDA provider to ask for")
    try:
        ort.InferenceSession(str(swap_onnx), providers=["CUDAExecutionProvider"]).get_providers()
        if ort.InferenceSession(str(swap_onnx), providers=["CUDAExecutionProvider"]).get_providers()[0] == "CUDAExecutionProvider":
            pytest.skip("a GPU is here: the CUDA provider loads")
    except Exception:
        pass
    r = subprocess.run([str(REALTIME), "--filter", str(swap_onnx), "--source", "synthetic", "--no-preview", "--frames", "2",
                        "--provider", "cuda"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --provider cuda asked for"), r.stderr


def test_the_provider_probe_runs_with_an_onnx_newer_than_onnx_runtime(monkeypatch):
    """onnx 1.23 (the GPU machine's image has it) stamps IR 14 on the models its helper makes, and
    ONNX Runtime 1.31 reads up to IR 13: the probe's one-node model (made whenever a GPU build is
    installed) is pinned to an IR version every supported ONNX Runtime reads, so `realtime` still starts."""
    import onnx
    import onnxruntime as ort

    from realtime.filters import providers
    from realtime.filters.onnx_format import BUILT_IR_VERSION

    monkeypatch.setattr(onnx, "IR_VERSION", 14)  # what onnx.helper.make_model stamps with onnx 1.23
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    providers.probe.cache_clear()
    try:
        assert providers.probe("auto") in ("cpu", "cuda")  # cuda only where a GPU is here
    finally:
        providers.probe.cache_clear()
    assert BUILT_IR_VERSION <= 10  # the bundled filters' own IR version, read by every ONNX Runtime since 1.16


def test_the_gpu_libraries_are_loaded_once_before_a_gpu_session_and_their_loader_stays_quiet(monkeypatch, capsys, swap_onnx):
    """onnxruntime-gpu finds NVIDIA's pip-installed CUDA libraries only through its own
    preload_dlls(): called once per process before the first session that may use a GPU, never
    for a CPU one, and what it prints (no GPU here) stays out of the user's terminal."""
    import onnxruntime as ort

    from realtime.filters import providers

    calls: list[int] = []

    def preload() -> None:
        calls.append(1)
        print("Failed to load libcudart.so.13: cannot open shared object file")

    monkeypatch.setattr(ort, "preload_dlls", preload, raising=False)
    providers.load_gpu_libraries.cache_clear()
    providers.probe.cache_clear()
    try:
        providers.create_session(swap_onnx, "cpu")
        assert calls == []  # a CPU session: nothing loaded
        if "CUDAExecutionProvider" in ort.get_available_providers():  # the GPU build (./run installs it on Linux)
            providers.create_session(swap_onnx, "auto")
            providers.create_session(swap_onnx, "auto")
            assert providers.probe("auto") in ("cpu", "cuda") and calls == [1]
        assert capsys.readouterr().out == ""
    finally:
        providers.load_gpu_libraries.cache_clear()
        providers.probe.cache_clear()
