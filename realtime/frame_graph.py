"""Let ONNX Runtime take camera frames as they are: uint8 BGR H×W×3 in, uint8 BGR H×W×3 out.

A filter's graph wants float32 N×3×H×W RGB in its input range and returns the same. Doing
that conversion per frame in numpy (BGR→RGB, uint8→float, ×1/255, HWC→CHW, and back: clip,
round, CHW→HWC, RGB→BGR) is several full-frame passes with temporaries: about 10 ms per 720p
frame on a 2-core CPU. :func:`with_frame_io` adds the same steps to the graph itself, where
ONNX Runtime runs them multi-threaded beside the model, the camera's buffer is fed without a
copy, and a GPU provider moves uint8 (¼ of the bytes) across the bus.

The cast to uint8 would hide NaN from a broken model, so the graph has a second output,
``checksum``: the sum of the float output, which is finite exactly when every value is.

Works for any float filter graph (ours, foreign, fp16/int8 variants with float32 I/O): only
the image input and the first output are touched; a ``latent`` input stays as it is.
"""
from __future__ import annotations

import onnx
from onnx import TensorProto, helper, numpy_helper

import numpy as np

FRAME_IN, FRAME_OUT, CHECKSUM = "frame", "frame_out", "checksum"
PREFIX = "frame_io_"  # names of the tensors and nodes added here


def _dim(d: onnx.TensorShapeProto.Dimension) -> int | str | None:
    if d.HasField("dim_value"):
        return int(d.dim_value)
    return d.dim_param or None


def with_frame_io(model: onnx.ModelProto, input_name: str, scale: float) -> onnx.ModelProto:
    """A copy of ``model`` whose image input ``input_name`` (float N×3×H×W, pixels × ``scale``)
    is fed by ``frame`` (uint8 N×H×W×3 BGR) and whose first output comes back as ``frame_out``
    (uint8 N×H×W×3 BGR, rounded, clipped to 0–255) plus ``checksum`` (float sum of the output)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    image = next((i for i in g.input if i.name == input_name), None)
    if image is None or image.type.tensor_type.elem_type != TensorProto.FLOAT:
        raise ValueError(f"the model has no float32 image input named {input_name!r}")
    n, _, h, w = (_dim(d) for d in image.type.tensor_type.shape.dim)
    result = g.output[0]
    opset = next((o.version for o in out.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 7:
        raise ValueError(f"opset {opset} is too old (needs ≥ 7)")

    def const(name: str, value: np.ndarray) -> str:
        g.initializer.append(numpy_helper.from_array(value, PREFIX + name))
        return PREFIX + name

    bgr_to_rgb = const("channel_order", np.array([2, 1, 0], np.int64))
    to_input = const("to_input", np.array(scale / 255.0, np.float32))
    to_pixels = const("to_pixels", np.array(255.0 / scale, np.float32))
    half, lo, hi = const("half", np.array(0.5, np.float32)), const("lo", np.array(0.0, np.float32)), const("hi", np.array(255.0, np.float32))
    t = lambda s: PREFIX + s  # noqa: E731
    pre = [  # uint8 N×H×W×3 BGR → float N×3×H×W RGB × scale
        helper.make_node("Transpose", [FRAME_IN], [t("nchw_bgr")], perm=[0, 3, 1, 2], name=t("to_nchw")),
        helper.make_node("Gather", [t("nchw_bgr"), bgr_to_rgb], [t("nchw_rgb")], axis=1, name=t("to_rgb")),
        helper.make_node("Cast", [t("nchw_rgb")], [t("float")], to=TensorProto.FLOAT, name=t("to_float")),
        helper.make_node("Mul", [t("float"), to_input], [input_name], name=t("to_range")),
    ]
    post = [  # float N×3×H×W RGB × scale → uint8 N×H×W×3 BGR, and the NaN check
        helper.make_node("Mul", [result.name, to_pixels], [t("pixels")], name=t("to_pixels_mul")),
        helper.make_node("Add", [t("pixels"), half], [t("rounded")], name=t("round")),
        helper.make_node("Max", [t("rounded"), lo], [t("above")], name=t("clip_lo")),
        helper.make_node("Min", [t("above"), hi], [t("clipped")], name=t("clip_hi")),
        helper.make_node("Cast", [t("clipped")], [t("uint8")], to=TensorProto.UINT8, name=t("to_uint8")),
        helper.make_node("Gather", [t("uint8"), bgr_to_rgb], [t("nchw_bgr_out")], axis=1, name=t("to_bgr")),
        helper.make_node("Transpose", [t("nchw_bgr_out")], [FRAME_OUT], perm=[0, 2, 3, 1], name=t("to_nhwc")),
        helper.make_node("ReduceSum", [result.name], [CHECKSUM], keepdims=0, name=t("checksum")),
    ]
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    others = [i for i in g.input if i.name != input_name]
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info(FRAME_IN, TensorProto.UINT8, [n, h, w, 3])] + others)
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info(FRAME_OUT, TensorProto.UINT8, [n, h, w, 3]),
                     helper.make_tensor_value_info(CHECKSUM, TensorProto.FLOAT, [])])
    return out
