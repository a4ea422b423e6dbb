"""Parts of the live loop on their own: One Euro, slots, frames, engine, chains, controls, config."""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from realtime.errors import UserError
from realtime.engine import FilterModel
from realtime.analysis import FrameAnalysis
from realtime.chain import Chain
from realtime.kinds import Settings, filter_for
from realtime.frames import Slot, to_bgr
from realtime.one_euro import OneEuroConfig, OneEuroFilter
from realtime.controls import Controls, ControlState
from tests.conftest import make_onnx_filter


def test_runtime_never_imports_torch():
    code = ("import sys, realtime, realtime.cli, realtime.live, realtime.loop, realtime.chain, realtime.engine, realtime.tracking, "
            "realtime.sinks, realtime.sources; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_one_euro_smooths_noise_and_follows_a_step():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=0.05))
    t = np.arange(120) / 30.0
    noisy = 100 + rng.normal(0, 2, 120)
    smooth = np.array([f(np.array([v]), ti)[0] for v, ti in zip(noisy, t)])
    assert smooth[30:].std() < 0.5 * noisy[30:].std()
    f.reset()
    step = np.where(np.arange(60) < 30, 0.0, 200.0)
    out = np.array([f(np.array([v]), ti)[0] for v, ti in zip(step, t[:60])])
    assert out[40] > 150, "a fast move must be followed within a few frames"


def test_slot_keeps_only_the_newest_item():
    slot: Slot[int] = Slot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0) == 4 and slot.dropped == 4
    assert slot.take(timeout=0.01) is None
    slot.close()
    assert slot.take() is None


def test_slot_back_pressure_waits_for_the_taker():
    slot: Slot[int] = Slot()
    stop = threading.Event()
    slot.put_when_empty(1, stop)
    t = threading.Thread(target=slot.put_when_empty, args=(2, stop))
    t.start()
    t.join(0.1)
    assert t.is_alive(), "second put must wait until the first item is taken"
    assert slot.take() == 1
    t.join(1)
    assert slot.take() == 2 and slot.dropped == 0


@pytest.mark.parametrize("shape,dtype", [((77, 101), np.uint8), ((60, 90, 4), np.uint8), ((50, 70, 1), np.uint8),
                                         ((40, 40, 3), np.float32), ((30, 50, 3), np.uint16)])
def test_odd_frames_become_bgr_uint8(shape, dtype):
    image = (np.random.rand(*shape) * (1 if dtype == np.float32 else 200)).astype(dtype)
    out = to_bgr(image)
    assert out.dtype == np.uint8 and out.shape == (shape[0], shape[1], 3) and out.flags.c_contiguous


def test_engine_pads_to_the_size_multiple_and_crops_back(swap_onnx):
    model = FilterModel(swap_onnx, "cpu")
    assert model.provider == "cpu" and model.contract.size_multiple == 4
    bgr = np.random.randint(0, 256, (37, 51, 3), np.uint8)
    np.testing.assert_array_equal(model.infer(bgr).image, bgr[..., ::-1])


def test_engine_infers_a_contract_for_foreign_models(zoo_onnx):
    model = FilterModel(zoo_onnx, "cpu")
    assert model.contract.fixed_size == (224, 224) and model.input_name == "input1"
    out = model.infer(np.random.randint(0, 256, (90, 120, 3), np.uint8)).image
    assert out.shape == (90, 120, 3) and out.dtype == np.uint8


def test_chain_handles_odd_sizes_gray_and_alpha(swap_onnx):
    chain = Chain([filter_for(FilterModel(swap_onnx, "cpu"))])
    for image in [np.random.randint(0, 255, (33, 47), np.uint8), np.random.randint(0, 255, (64, 48, 4), np.uint8)]:
        bgr = to_bgr(image)
        result = chain.process(bgr, FrameAnalysis())
        assert result.image.shape == bgr.shape and "filter:swap" in result.ms and "infer:swap" in result.ms
        np.testing.assert_array_equal(result.image, bgr[..., ::-1])
        np.testing.assert_array_equal(chain.apply(bgr), bgr[..., ::-1])


def test_strength_blends_filter_and_input(swap_onnx):
    f = filter_for(FilterModel(swap_onnx, "cpu"))
    bgr = np.zeros((16, 16, 3), np.uint8)
    bgr[..., 0] = 200
    out = f.apply(bgr, FrameAnalysis(), Settings(strength=0.5)).image
    assert abs(int(out[0, 0, 0]) - 100) <= 1 and abs(int(out[0, 0, 2]) - 100) <= 1
    assert Chain([f]).apply(bgr, strength=0.0) is bgr


def test_nan_model_passes_frames_through_and_warns_once(tmp_path, caplog):
    path = make_onnx_filter(tmp_path / "nan.onnx", nan=True)
    chain = Chain([filter_for(FilterModel(path, "cpu"))])
    bgr = np.random.randint(0, 255, (32, 40, 3), np.uint8)
    with caplog.at_level(logging.WARNING):
        outs = [chain.apply(bgr) for _ in range(3)]
    assert all(np.array_equal(o, bgr) for o in outs)
    assert sum("NaN" in r.message for r in caplog.records) == 1


def test_face_filter_without_a_face_passes_through(tmp_path):
    path = make_onnx_filter(tmp_path / "face.onnx", kind="face")
    f = filter_for(FilterModel(path, "cpu"))
    bgr = np.random.randint(0, 255, (48, 64, 3), np.uint8)
    assert f.apply(bgr, FrameAnalysis(), Settings()).image is bgr


def test_hotkeys_change_the_live_settings():
    c = Controls(ControlState(strength=0.5), options=3)
    before = c.state()
    for key in "n", "n", "n", "p", "+", "+", "l", "m", "f":
        c.handle(ord(key))
    s = c.state()
    assert (s.option, s.strength, s.latent, s.mirror, s.enabled) == (2, 0.7, 1, True, False)
    assert before.strength == 0.5 and before.option == 0, "a snapshot handed out never changes"
    c.handle(ord("-"))
    assert c.state().strength == 0.6
    assert c.handle(-1) is None and not c.quit
    c.handle(27)
    assert c.quit


def test_provider_that_is_not_there_fails_in_one_line(swap_onnx):
    import onnxruntime as ort

    try:
        model = FilterModel(swap_onnx, "cuda")
    except UserError as exc:
        assert "cuda" in str(exc).lower() and "\n" not in str(exc)
    else:  # a machine with a working CUDA provider
        assert model.provider == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers()


def test_corrupt_and_non_image_models_are_refused(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx at all")
    with pytest.raises(UserError, match="corrupt"):
        FilterModel(bad, "cpu")
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("ReduceMean", ["input"], ["output"], keepdims=0)], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "scalar.onnx"))
    with pytest.raises(UserError, match="not an image filter"):
        FilterModel(tmp_path / "scalar.onnx", "cpu")


def test_variant_auto_takes_the_fast_sibling_on_cpu_and_full_or_fast_can_be_forced(tmp_path):
    from realtime.chain import build_chain
    from realtime.loading import ModelLoader
    from realtime.registry import fast_variant

    full = make_onnx_filter(tmp_path / "look.onnx", {"filter.name": "look"})
    assert fast_variant(full) is None
    with pytest.raises(UserError, match="no fast variant of look.onnx"):
        build_chain(str(full), ModelLoader("cpu", "fast", 1))
    fast = make_onnx_filter(tmp_path / "look.fast.onnx", {"filter.name": "look-fast"})
    assert fast_variant(full) == fast and fast_variant(fast) is None
    for variant, expected in (("auto", "look-fast"), ("fast", "look-fast"), ("full", "look")):
        chain = build_chain(str(full), ModelLoader("cpu", variant, 1))
        assert chain.filters[0].model.name == expected, variant


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux-only")
def test_peak_rss_of_a_child_is_its_own_not_its_big_parents():
    ballast = bytearray(400 * 1024 * 1024)  # the parent's peak: ≥ 400 MB
    ballast[::4096] = b"x" * len(ballast[::4096])
    code = "from realtime.stats import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 5 < child < 300


def test_the_provider_picks_the_variant_cpu_student_cuda_fp16_tensorrt_full(tmp_path):
    from realtime.errors import UserError
    from realtime.registry import variant_file

    full = make_onnx_filter(tmp_path / "look.onnx")
    assert variant_file(full, "cpu", "auto") == full and variant_file(full, "cuda", "auto") == full
    with pytest.raises(UserError, match="no fast variant"):
        variant_file(full, "cpu", "fast")
    fast = make_onnx_filter(tmp_path / "look.fast.onnx")
    half = make_onnx_filter(tmp_path / "look.fp16.onnx")
    assert variant_file(full, "cpu", "auto") == fast
    assert variant_file(full, "cuda", "auto") == half  # CUDA runs the fp16 export
    assert variant_file(full, "tensorrt", "auto") == full  # TensorRT makes its own fp16 engine
    assert variant_file(full, "cpu", "full") == full and variant_file(full, "cuda", "full") == full
    assert variant_file(full, "cuda", "fast") == fast
