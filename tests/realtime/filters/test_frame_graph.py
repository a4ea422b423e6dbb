"""The frame-I/O graph rewrite: uint8 BGR frames in and out, same pictures as the float model."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.errors import UserError
from realtime.filters.engine import FilterModel
from realtime.filters.onnx_format import load_model_proto
from realtime.filters.frame_graph import FRAME_IN, FRAME_OUT, from_planes, to_planes, with_frame_io
from realtime.filters.providers import ShapeProfile, engine_prefix, tensorrt_options
from realtime.filters.registry import fast_variant, resolve_filter
from tests.conftest import make_onnx_filter, synthetic_photo


def float_reference(path: Path, bgr: np.ndarray, scale: float, latent: int | None = None) -> np.ndarray:
    """What the model computes when fed the classic way: float RGB N×3×H×W in its range."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = bgr[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32) * (scale / 255.0)
    feeds = {session.get_inputs()[0].name: x}
    if latent is not None:
        feeds["latent"] = np.array([latent], np.int64)
    y = session.run(None, feeds)[0][0].transpose(1, 2, 0)[..., ::-1] * (255.0 / scale)
    return np.clip(y + 0.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["cartoon", "cartoon.fast", "mosaic"])
def test_bundled_filters_give_the_float_models_picture_to_the_gray_level(name):
    path = resolve_filter(name) if "." not in name else fast_variant(resolve_filter(name.split(".")[0]))
    model = FilterModel(path, "cpu")
    bgr = np.ascontiguousarray(synthetic_photo(96, 144, seed=3)[..., ::-1])  # a multiple of every model's size multiple (48: cartoon.fast)
    latent = 1 if model.contract.latent_codes else None
    out = model.infer(bgr, latent or 0).image
    ref = float_reference(path, bgr, model.contract.scale, latent)
    assert out.dtype == np.uint8 and out.shape == bgr.shape
    assert np.abs(out.astype(int) - ref).max() <= 1  # float rounding order only


@pytest.mark.parametrize("opset", [9, 17])  # old foreign models get plain arithmetic instead of (De)QuantizeLinear
def test_frames_need_no_copy_and_crops_are_accepted(tmp_path, opset):
    model = FilterModel(make_onnx_filter(tmp_path / "swap.onnx", opset=opset), "cpu")
    frame = np.random.randint(0, 256, (60, 80, 3), np.uint8)
    frame[0, :3] = (0, 128, 255)
    crop = frame[0:44, 10:70]  # not contiguous
    np.testing.assert_array_equal(model.infer(crop).image, crop[..., ::-1])


def test_frames_go_in_as_rgb_planes_and_come_back_as_bgr():
    frame = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    planes = to_planes(frame[2:, 1:])  # a crop: rows not contiguous
    assert planes.shape == (1, 3, 35, 52) and planes.dtype == np.uint8 and planes.flags.c_contiguous
    np.testing.assert_array_equal(planes[0], frame[2:, 1:, ::-1].transpose(2, 0, 1))
    back = from_planes(planes)
    assert back.shape == (35, 52, 3) and back.flags.c_contiguous
    np.testing.assert_array_equal(back, frame[2:, 1:])


@pytest.mark.parametrize("hw, pad", [((37, 53), (0, 11)), ((37, 53), (5, 0)), ((2, 4), (1, 3)), ((29, 31), (28, 30))])
def test_planes_are_padded_as_opencv_mirrors_and_the_padding_left_out_on_the_way_back(hw, pad):
    frame = np.random.default_rng(2).integers(0, 256, (*hw, 3), dtype=np.uint8)
    planes = to_planes(frame, pad)
    padded = cv2.copyMakeBorder(frame, 0, pad[0], 0, pad[1], cv2.BORDER_REFLECT_101)
    np.testing.assert_array_equal(planes[0], padded[..., ::-1].transpose(2, 0, 1))
    back = from_planes(planes, hw)
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, frame)
    with pytest.raises(ValueError, match="cannot mirror"):
        to_planes(frame, (hw[0], 0))


def test_the_rewritten_graph_has_frame_io_and_keeps_the_latent_input():
    proto = load_model_proto(resolve_filter("cartoon"), weights=True)
    graph = with_frame_io(proto, "input", 1.0)
    names = [i.name for i in graph.graph.input]
    assert names[0] == FRAME_IN and "latent" in names and "input" not in names
    assert [o.name for o in graph.graph.output][0] == FRAME_OUT
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    assert len(dims) == 4 and dims[1].dim_value == 3  # uint8 RGB planes
    with pytest.raises(ValueError, match="no float32 image input"):
        with_frame_io(proto, "nope", 1.0)


def test_uint8_models_are_refused_in_one_line(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    from realtime.filters.onnx_format import built_model

    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "u8",
                              [helper.make_tensor_value_info("input", TensorProto.UINT8, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("output", TensorProto.UINT8, [1, 3, "h", "w"])])
    onnx.save(built_model(graph, 17), str(tmp_path / "u8.onnx"))
    with pytest.raises(UserError, match="filters take and return float32 images") as exc:
        FilterModel(tmp_path / "u8.onnx", "cpu")
    assert "\n" not in str(exc.value)


def test_tensorrt_profile_and_engine_cache_key_follow_the_frame_input(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    opts = tensorrt_options(ShapeProfile((64, 64), (480, 640), (720, 1280)), prefix=engine_prefix("my model", b"weights v1"))
    assert opts["trt_profile_opt_shapes"] == "frame:1x3x480x640"
    assert opts["trt_profile_max_shapes"] == "frame:1x3x720x1280"
    assert opts["trt_engine_cache_prefix"].startswith("my_model_")
    # a retrained model under the same name must not reuse the old engine
    assert engine_prefix("my model", b"weights v2") != opts["trt_engine_cache_prefix"]


def test_io_binding_gives_the_same_frames_as_plain_runs():
    """The GPU providers' feeding path, checked on the CPU provider."""
    path = fast_variant(resolve_filter("cartoon"))
    plain, bound = FilterModel(path, "cpu"), FilterModel(path, "cpu", io_binding=True)
    assert not plain.io_binding and bound.io_binding
    bgr = np.ascontiguousarray(synthetic_photo(64, 96, seed=5)[..., ::-1])
    for code in (0, 2):
        np.testing.assert_array_equal(bound.infer(bgr, code).image, plain.infer(bgr, code).image)
