"""The fp16 variant: weights beyond half precision's range are clamped as onnxconverter-common
does, said in one log line, not a Python warning with a source line per tensor."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from export.precision import to_fp16


def test_fp16_clamps_out_of_range_weights_with_one_log_line_and_no_warning(tmp_path, caplog):
    weights = np.array([1e-9, -1e-9, 0.5, 2e5], np.float32)  # under fp16's smallest and over its limit
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [numpy_helper.from_array(weights, "w")])
    src, dst = tmp_path / "m.onnx", tmp_path / "m.fp16.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="export.precision"):
        warnings.simplefilter("error")  # any warning that reaches the user fails here
        to_fp16(src, dst)
    said = [r.getMessage() for r in caplog.records if "clamped" in r.getMessage()]
    assert len(said) == 1 and "in 3 places" in said[0], said
    y = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, {"x": np.ones(4, np.float32)})[0]
    np.testing.assert_allclose(y, np.float16([1e-7, -1e-7, 0.5, 1e4]).astype(np.float32), rtol=1e-3)  # clamped, as onnxconverter-common does
