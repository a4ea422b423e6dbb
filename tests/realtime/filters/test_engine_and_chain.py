"""The engine (sessions, padding, contracts, providers, variants) and the chain (sizes, strength, NaN models)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from realtime.analysis.analysers import FrameAnalysis
from realtime.errors import UserError
from realtime.filters.chain import Chain
from realtime.filters.engine import FilterModel
from realtime.filters.kinds.base import Settings, filter_for
from realtime.imaging import to_bgr
from tests.conftest import make_onnx_filter


def test_engine_pads_to_the_size_multiple_and_crops_back(swap_onnx):
    model = FilterModel(swap_onnx, "cpu")
    assert model.provider == "cpu" and model.contract.size_multiple == 4
    bgr = np.random.randint(0, 256, (37, 51, 3), np.uint8)
    result = model.infer(bgr)
    np.testing.assert_array_equal(result.image, bgr[..., ::-1])
    assert result.ms > 0 and result.planes_ms > 0  # in ONNX Runtime; the frame split into planes and merged back


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
    from realtime.filters.onnx_format import built_model

    graph = helper.make_graph([helper.make_node("ReduceMean", ["input"], ["output"], keepdims=0)], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [])])
    onnx.save(built_model(graph, 13), str(tmp_path / "scalar.onnx"))
    with pytest.raises(UserError, match="not an image filter"):
        FilterModel(tmp_path / "scalar.onnx", "cpu")


def test_variant_auto_takes_the_fast_sibling_on_cpu_and_full_or_fast_can_be_forced(tmp_path):
    from realtime.filters.chain import build_chain
    from realtime.filters.loading import ModelLoader
    from realtime.filters.registry import fast_variant

    full = make_onnx_filter(tmp_path / "look.onnx", {"filter.name": "look"})
    assert fast_variant(full) is None
    with pytest.raises(UserError, match="no fast variant of look.onnx"):
        build_chain(str(full), ModelLoader("cpu", "fast", 1))
    fast = make_onnx_filter(tmp_path / "look.fast.onnx", {"filter.name": "look-fast"})
    assert fast_variant(full) == fast and fast_variant(fast) is None
    for variant, expected in (("auto", "look-fast"), ("fast", "look-fast"), ("full", "look")):
        chain = build_chain(str(full), ModelLoader("cpu", variant, 1))
        assert chain.filters[0].model.name == expected, variant


def test_the_provider_picks_the_variant_cpu_student_cuda_fp16_tensorrt_full(tmp_path):
    from realtime.errors import UserError
    from realtime.filters.registry import variant_file

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


def test_onnx_runtime_threads_spin_inside_a_run_and_stop_when_it_returns(swap_onnx):
    """Spinning between a run's operators saves the wake-ups; spinning after the run would take
    the cores the capture and output threads need between frames (realtime.filters.providers)."""
    options = FilterModel(swap_onnx, provider="cpu").session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
