"""Let ONNX Runtime take camera frames as bytes: uint8 RGB planes in, uint8 RGB planes out.

A filter's graph wants float32 N×3×H×W RGB in its input range and returns the same. Doing
that conversion per frame in numpy (BGR→RGB, uint8→float, ×1/255, HWC→CHW, and back: clip,
round, CHW→HWC, RGB→BGR) is a dozen full-frame float passes with temporaries: 30 ms and more
per 720p frame on a 2-core CPU. The work is split where each part is cheapest:

- the **layout** (BGR H×W×3 ↔ RGB 3×H×W) on the host, one byte a value:
  :func:`to_planes` / :func:`from_planes` are OpenCV's ``split``/``merge`` into the planes in
  RGB order, 0.03 ms each way for an 852×480 frame. The same reordering as Transpose + Gather
  inside the graph took 0.43 ms (ONNX Runtime's uint8 transposes run on one thread; profiled on
  the 2-core CPU), a tenth of the 720p budget for everything outside the network;
- **uint8↔float** in the graph (:func:`with_frame_io`): one DequantizeLinear / QuantizeLinear
  pass each way (the scale is one gray level; QuantizeLinear rounds and saturates to 0–255),
  which ONNX Runtime runs multi-threaded beside the model, and a GPU provider moves uint8
  (¼ of the bytes) across the bus.

The cast to uint8 would hide NaN from a broken model, so the graph has a second output,
``checksum``: the sum of the float output, which is finite exactly when every value is.

Works for any float filter graph (ours, foreign, fp16/int8 variants with float32 I/O): only
the image input and the first output are touched; a ``latent`` input stays as it is.
"""
from __future__ import annotations

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FRAME_IN, FRAME_OUT, CHECKSUM = "frame", "frame_out", "checksum"
PREFIX = "frame_io_"  # names of the tensors and nodes added here


def shape_of(value: onnx.ValueInfoProto) -> list[int | str | None]:
    """A graph input's or output's dimensions: sizes, symbolic names, or None where unknown."""
    return [int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None) for d in value.type.tensor_type.shape.dim]


def to_planes(bgr: np.ndarray, pad: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A BGR H×W×3 uint8 frame as the graph's ``frame`` input: uint8 1×3×H×W, RGB planes (a
    new array: nothing is kept between calls, so any number of threads may call it).

    ``pad`` (rows, columns) more at the bottom and right, mirrored about the last row and column
    (OpenCV's BORDER_REFLECT_101; each fewer than the frame's own): the engine pads a frame to
    the network's size multiple here, as the frame is split, instead of in a padded copy first
    (with :func:`from_planes` leaving the padding out as it merges: 0.20 → 0.13 ms for a 853×480
    frame padded to 864, medians of 10 interleaved rounds on the 2-core machine; the same bytes)."""
    h, w = bgr.shape[:2]
    ph, pw = pad
    if min(ph, pw) < 0 or (ph and ph >= h) or (pw and pw >= w):
        raise ValueError(f"cannot mirror {ph} rows and {pw} columns of a {w}x{h} frame")
    planes = np.empty((1, 3, h + ph, w + pw), np.uint8)
    cv2.split(bgr, [planes[0, 2, :h, :w], planes[0, 1, :h, :w], planes[0, 0, :h, :w]])  # written in place, B last
    rgb = planes[0]
    if pw:
        rgb[:, :h, w:] = rgb[:, :h, w - 2 - np.arange(pw)]
    if ph:
        rgb[:, h:, :] = rgb[:, h - 2 - np.arange(ph), :]  # the corner mirrored both ways
    return planes


def from_planes(planes: np.ndarray, hw: tuple[int, int] | None = None) -> np.ndarray:
    """The graph's ``frame_out`` (uint8 1×3×H×W RGB planes) as a BGR H×W×3 uint8 frame; with
    ``hw`` only its top-left (h, w): the padding left out in the same pass."""
    h, w = hw or planes.shape[2:]
    return cv2.merge([planes[0, 2, :h, :w], planes[0, 1, :h, :w], planes[0, 0, :h, :w]])


QUANTIZED_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"})


def is_quantized(model: onnx.ModelProto) -> bool:
    """Whether ``model`` has quantized operators of its own (an int8 variant), besides the frame
    conversion :func:`with_frame_io` adds."""
    return any(n.op_type in QUANTIZED_OPS and not n.name.startswith(PREFIX) for n in model.graph.node)


def with_frame_io(model: onnx.ModelProto, input_name: str, scale: float) -> onnx.ModelProto:
    """A copy of ``model`` whose image input ``input_name`` (float N×3×H×W, pixels × ``scale``)
    is fed by ``frame`` (uint8 N×3×H×W RGB: :func:`to_planes`) and whose first output comes back
    as ``frame_out`` (uint8 N×3×H×W RGB, rounded, clipped to 0–255: :func:`from_planes`) plus
    ``checksum`` (float sum of the output)."""
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
    step = const("step", np.array(scale / 255.0, np.float32))  # one gray level in the model's range
    node = helper.make_node
    if opset >= 10:  # one pass each way: x·step in, round(y/step) saturated to 0–255 out
        zero = const("zero", np.array(0, np.uint8))
        pre = [node("DequantizeLinear", [FRAME_IN, step, zero], [input_name], name=t("to_float"))]
        post = [node("QuantizeLinear", [result.name, step, zero], [FRAME_OUT], name=t("to_uint8"))]
    else:  # old foreign models: the same with plain arithmetic
        to_pixels = const("to_pixels", np.array(255.0 / scale, np.float32))
        half, lo, hi = (const(n, np.array(v, np.float32)) for n, v in (("half", 0.5), ("lo", 0.0), ("hi", 255.0)))
        pre = [node("Cast", [FRAME_IN], [t("float")], to=TensorProto.FLOAT, name=t("to_float")),
               node("Mul", [t("float"), step], [input_name], name=t("to_range"))]
        post = [node("Mul", [result.name, to_pixels], [t("pixels")], name=t("to_pixels")),
                node("Add", [t("pixels"), half], [t("rounded")], name=t("round")),
                node("Max", [t("rounded"), lo], [t("above")], name=t("clip_lo")),
                node("Min", [t("above"), hi], [t("clipped")], name=t("clip_hi")),
                node("Cast", [t("clipped")], [FRAME_OUT], to=TensorProto.UINT8, name=t("to_uint8"))]
    post.append(node("ReduceSum", [result.name], [CHECKSUM], keepdims=0, name=t("checksum")))
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    others = [i for i in g.input if i.name != input_name]
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info(FRAME_IN, TensorProto.UINT8, [n, 3, h, w])] + others)
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info(FRAME_OUT, TensorProto.UINT8, [n, 3, h, w]),
                     helper.make_tensor_value_info(CHECKSUM, TensorProto.FLOAT, [])])
    return out
