"""Let ONNX Runtime take camera frames as they are: uint8 BGR H×W×3 in, uint8 BGR H×W×3 out.

A filter's graph wants float32 N×3×H×W RGB in its input range and returns the same. Doing
that conversion per frame in numpy (BGR→RGB, uint8→float, ×1/255, HWC→CHW, and back: clip,
round, CHW→HWC, RGB→BGR) is a dozen full-frame float passes with temporaries: 30 ms and more
per 720p frame on a 2-core CPU. :func:`with_frame_io` adds the same steps to the graph itself:
reordering happens on bytes, and uint8↔float is one DequantizeLinear / QuantizeLinear pass each
way (the scale is one gray level; QuantizeLinear rounds and saturates to 0–255), which ONNX
Runtime runs multi-threaded beside the model. The camera's buffer is fed without a copy, and a
GPU provider moves uint8 (¼ of the bytes) across the bus.

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


def shape_of(value: onnx.ValueInfoProto) -> list[int | str | None]:
    """A graph input's or output's dimensions: sizes, symbolic names, or None where unknown."""
    return [int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None) for d in value.type.tensor_type.shape.dim]


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
    n, _, h, w = shape_of(image)
    result = g.output[0]
    opset = next((o.version for o in out.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 7:
        raise ValueError(f"opset {opset} is too old (needs ≥ 7)")

    def const(name: str, value: np.ndarray) -> str:
        g.initializer.append(numpy_helper.from_array(value, PREFIX + name))
        return PREFIX + name

    t = lambda s: PREFIX + s  # noqa: E731
    bgr_to_rgb = const("channel_order", np.array([2, 1, 0], np.int64))
    step = const("step", np.array(scale / 255.0, np.float32))  # one gray level in the model's range
    node = helper.make_node
    # uint8 N×H×W×3 BGR → N×3×H×W RGB, reordered while still one byte a value
    pre = [node("Transpose", [FRAME_IN], [t("nchw_bgr")], perm=[0, 3, 1, 2], name=t("to_nchw")),
           node("Gather", [t("nchw_bgr"), bgr_to_rgb], [t("nchw_rgb")], axis=1, name=t("to_rgb"))]
    post: list[onnx.NodeProto] = []
    if opset >= 10:  # one pass each way: x·step in, round(y/step) saturated to 0–255 out
        zero = const("zero", np.array(0, np.uint8))
        pre.append(node("DequantizeLinear", [t("nchw_rgb"), step, zero], [input_name], name=t("to_float")))
        post.append(node("QuantizeLinear", [result.name, step, zero], [t("uint8")], name=t("to_uint8")))
    else:  # old foreign models: the same with plain arithmetic
        to_pixels = const("to_pixels", np.array(255.0 / scale, np.float32))
        half, lo, hi = (const(n, np.array(v, np.float32)) for n, v in (("half", 0.5), ("lo", 0.0), ("hi", 255.0)))
        pre += [node("Cast", [t("nchw_rgb")], [t("float")], to=TensorProto.FLOAT, name=t("to_float")),
                node("Mul", [t("float"), step], [input_name], name=t("to_range"))]
        post += [node("Mul", [result.name, to_pixels], [t("pixels")], name=t("to_pixels")),
                 node("Add", [t("pixels"), half], [t("rounded")], name=t("round")),
                 node("Max", [t("rounded"), lo], [t("above")], name=t("clip_lo")),
                 node("Min", [t("above"), hi], [t("clipped")], name=t("clip_hi")),
                 node("Cast", [t("clipped")], [t("uint8")], to=TensorProto.UINT8, name=t("to_uint8"))]
    post += [node("Gather", [t("uint8"), bgr_to_rgb], [t("nchw_bgr_out")], axis=1, name=t("to_bgr")),
             node("Transpose", [t("nchw_bgr_out")], [FRAME_OUT], perm=[0, 2, 3, 1], name=t("to_nhwc")),
             node("ReduceSum", [result.name], [CHECKSUM], keepdims=0, name=t("checksum"))]
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
