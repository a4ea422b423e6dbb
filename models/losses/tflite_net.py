"""A pretrained loss network read from MediaPipe's bundled TFLite models, run op by op in torch.

The mediapipe wheel the runtime already installs (``mediapipe==0.10.21``) ships trained float16
convolution networks under ``mediapipe/modules/``: ``pose_landmark_full`` (BlazePose GHUM 3D's
landmark network, the strongest: a MobileNetV2-style encoder trained on people), ``face_landmark``
(Face Mesh) and ``selfie_segmentation``. :class:`TFLiteNet` parses one with the ``tflite``
package (the flatbuffer schema, pure Python; the ``train`` extra) and executes its graph in float32
torch, op by op, up to the tensors asked for (the *taps*), so the early stages of a network
trained on real photos can serve as a perceptual loss without any download: the weights are read
from the installed wheel at run time (:func:`model_path`), never copied into this repository.

:class:`PretrainedFeatures` is the loss network (``--loss-net pose|face`` in
``models.train_style`` and ``models.stylize_image``; selfie_segmentation, three stages, from Python): RGB 0–1 in, a list of feature maps out, like
:class:`models.losses.perceptual.RandomFeatures`. Its default taps are the network's *stage
outputs*: the activation fed to each downsampling (the input of the k-th strided conv or pool,
past any explicit PAD), i.e. the last, widest ReLU6 maps at strides 2, 4, 8 and 16. Measured by
``python -m benchmarks.loss_sensitivity`` on the 27 face photos: pose_landmark_full's stages
penalise a Gaussian blur of σ=1 0.46, 1.15, 2.14 and 4.11 times as much as a 1-pixel shift
(strides 2 to 16), where pixel L1 (0.57) and the random features (0.36 down to 0.05) punish
the shift more at every scale (benchmarks/results/loss-sensitivity-cpu).

Verified (tests/models/losses/test_tflite_net.py): the stage outputs of pose_landmark_full, and
every stage and final output of all three models, match MediaPipe's own TFLite interpreter (a
copy of the file whose graph outputs are rewritten to the taps, run by an InferenceCalculator)
to 1e-4 relative or better; the whole selfie network matches the mask of
``mediapipe.solutions.selfie_segmentation`` to 3.4e-5.

Layout: the file is NHWC; every 4-D activation here is NCHW. Float16 weights (reached through
DEQUANTIZE ops, or float16 constant buffers) become float32 buffers that take no gradient.
SAME padding is TFLite's (the extra pixel of an odd total after, as for stride 2); the graph
runs at any input size while its ops are fully convolutional (RESIZE ops with a constant size
scale it by the file's ratio; a pool whose window covers the file's whole map is a global
pool). Reaching an op this executor does not implement raises :class:`UnsupportedOp`, a
one-line error naming it.

Input normalisation: MediaPipe feeds all three models RGB scaled to [0, 1]
(``output_tensor_float_range {min: 0 max: 1}`` in the ImageToTensorCalculator of
``selfie_segmentation_cpu.binarypb`` in the wheel, and of pose_landmark_by_roi_cpu.pbtxt and
face_landmark_cpu.pbtxt in MediaPipe's source, compiled into the wheel's graphs), so the input
goes in unchanged.

Licence: the mediapipe wheel and its code are Apache-2.0 (its LICENSE / METADATA); the bundled
``.tflite`` files are distributed in that Apache-2.0 wheel. Their model cards (linked from
MediaPipe's docs: "Model Card BlazePose GHUM 3D", "MediaPipe Face Mesh", "MediaPipe Selfie
Segmentation") state intended uses (pose/face/segmentation on live video) and limitations
(fairness evaluation across regions, skin tones and genders) rather than a separate licence;
the wheel does not include the cards themselves. This project uses the weights only as a fixed
training loss, read from the user's own installed wheel: they are not shipped, converted into
a file, or distilled into the filters, and no filter outputs landmarks or masks from them.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from realtime.errors import UserError

# short names for the loss network flag -> path under mediapipe/modules/
MODELS = {
    "pose_landmark_full": "pose_landmark/pose_landmark_full.tflite",
    "face_landmark": "face_landmark/face_landmark.tflite",
    "selfie_segmentation": "selfie_segmentation/selfie_segmentation.tflite",
    "face_detection_short_range": "face_detection/face_detection_short_range.tflite",  # models.losses.face_finder
}
ALIASES = {"pose": "pose_landmark_full", "face": "face_landmark", "selfie": "selfie_segmentation"}


class UnsupportedOp(UserError):
    """The graph reached an operator the torch executor does not implement."""


def model_path(name: str) -> Path:
    """The .tflite file of ``name`` (a key of MODELS, an alias, or a path) inside the installed mediapipe wheel."""
    name = ALIASES.get(name, name)
    if name not in MODELS:
        path = Path(name)
        if path.suffix == ".tflite":
            if not path.is_file():
                raise UserError(f"TFLite model {path} does not exist")
            return path
        raise UserError(f"unknown pretrained loss network {name!r}: use one of {', '.join(sorted(ALIASES))} or a .tflite path")
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the {name} loss network is read from the mediapipe wheel, which is not installed (pip install mediapipe==0.10.21)")
    path = Path(list(spec.submodule_search_locations)[0]) / "modules" / MODELS[name]
    if not path.is_file():
        raise UserError(f"{path} is missing from the installed mediapipe wheel (this project pins mediapipe==0.10.21)")
    return path


def _tflite():
    try:
        import tflite
    except ImportError:
        raise UserError("reading .tflite models needs the tflite package: pip install 'tflite>=2.18' (in the train extra)") from None
    return tflite


def _names(enum: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


_NUMPY = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "INT8": np.int8}


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite's SAME padding along one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _nhwc_const(a: torch.Tensor) -> torch.Tensor:
    """A constant that broadcasts against NHWC activations, made to broadcast against NCHW ones."""
    if a.dim() == 0:
        return a
    if a.dim() > 4:
        raise UserError(f"constant of rank {a.dim()} cannot broadcast against a 4-D activation")
    return a.reshape((1,) * (4 - a.dim()) + tuple(a.shape)).permute(0, 3, 1, 2)


def _activation(x: torch.Tensor, code: int, op: str) -> torch.Tensor:
    if code == 0:
        return x
    if code == 1:
        return F.relu(x)
    if code == 2:
        return x.clamp(-1.0, 1.0)
    if code == 3:
        return x.clamp(0.0, 6.0)
    if code == 4:
        return torch.tanh(x)
    raise UnsupportedOp(f"unsupported fused activation {code} in {op}")


@dataclass
class _Op:
    index: int
    name: str
    inputs: list[int]
    outputs: list[int]
    options: Any  # the parsed *Options table, or raw custom options bytes


class TFLiteNet(nn.Module):
    """Runs a .tflite graph in torch up to ``taps`` (tensor indices or names); returns their values.

    Input: N×C×H×W float (what the model's first tensor takes, NCHW). 4-D taps come back NCHW.
    """

    def __init__(self, path: str | Path, taps: Sequence[int | str]) -> None:
        super().__init__()
        self.path = Path(path)
        tfl, model, g, self.ops = _parse(self.path)
        types = _names(tfl.TensorType)
        self.tensor_names = [g.Tensors(i).Name().decode() for i in range(g.TensorsLength())]
        self.shapes = _shapes(g)
        self.input_index = int(g.Inputs(0))
        self.taps = [self._tensor(t) for t in taps]
        if not self.taps:
            raise UserError("no taps: name at least one tensor to compute")
        # the ops needed for the taps: the graph is topologically ordered, stop after the last producer
        producer = {t: k for k, op in enumerate(self.ops) for t in op.outputs}
        missing = [self.tensor_names[t] for t in self.taps if t not in producer and t != self.input_index]
        if missing:
            raise UserError(f"{self.path.name}: no op computes {missing[0]!r}")
        # only the ops the taps depend on (side branches and everything after the last tap are skipped)
        needed: set[int] = set()
        stack = [producer[t] for t in self.taps if t in producer]
        while stack:
            k = stack.pop()
            if k not in needed:
                needed.add(k)
                stack += [producer[t] for t in self.ops[k].inputs if t in producer]
        self.plan = sorted(needed)  # the file's order is topological
        # constant tensors those ops read: float32 buffers (fp16 converted), frozen
        self._const: dict[int, str] = {}
        for op in (self.ops[k] for k in self.plan):
            for t in op.inputs:
                if t < 0 or t in self._const:
                    continue
                tensor = g.Tensors(t)
                data = model.Buffers(tensor.Buffer()).DataAsNumpy() if tensor.Buffer() < model.BuffersLength() else 0
                if isinstance(data, int) or data.size == 0:
                    continue  # an activation
                kind = types.get(tensor.Type(), str(tensor.Type()))
                if kind not in _NUMPY:
                    raise UnsupportedOp(f"{self.path.name}: constant {self.tensor_names[t]!r} of type {kind} is not supported")
                value = np.frombuffer(data.tobytes(), dtype=_NUMPY[kind]).reshape(self.shapes[t])
                value = torch.from_numpy(value.astype(np.float32) if kind in ("FLOAT16", "FLOAT32") else value.astype(np.int64))
                key = f"t{t}"
                self.register_buffer(key, value.clone(), persistent=False)
                self._const[t] = key
        for op in (self.ops[k] for k in self.plan):  # fail at construction, before any training starts
            if op.name not in self.SUPPORTED:
                raise UnsupportedOp(f"{self.path.name}: op {op.index} {op.name} is not supported by the torch executor "
                                    f"(needed before tap {self.tensor_names[self.taps[-1]]!r})")
        self.requires_grad_(False)
        self.eval()

    SUPPORTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL", "PAD", "MAX_POOL_2D", "AVERAGE_POOL_2D",
                 "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "CONCATENATION", "RELU", "RELU6", "PRELU", "LOGISTIC",
                 "HARD_SWISH", "RESHAPE", "DEQUANTIZE", "CUSTOM:Convolution2DTransposeBias"}

    def stage_taps(self) -> list[int]:
        """The tensors of :func:`stage_taps` in this graph."""
        return stage_taps(self.ops, self.shapes, self.input_index)

    def _tensor(self, t: int | str) -> int:
        if isinstance(t, int):
            if not 0 <= t < len(self.tensor_names):
                raise UserError(f"{self.path.name} has no tensor {t}")
            return t
        if t not in self.tensor_names:
            raise UserError(f"{self.path.name} has no tensor named {t!r}")
        return self.tensor_names.index(t)

    def const(self, t: int) -> torch.Tensor | None:
        key = self._const.get(t)
        return None if key is None else getattr(self, key)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        values: dict[int, torch.Tensor] = {self.input_index: x}
        wanted = set(self.taps)
        for op in (self.ops[k] for k in self.plan):
            args = [values[t] if t in values else self.const(t) if t >= 0 else None for t in op.inputs]
            out = self._run(op, args)
            values[op.outputs[0]] = out
            if wanted.issubset(values):
                break
        return [values[t] for t in self.taps]

    # --- the ops -----------------------------------------------------------------------------

    def _static_in(self, op: _Op) -> tuple[int, ...]:
        return self.shapes[op.inputs[0]]

    def _run(self, op: _Op, a: list[torch.Tensor | None]) -> torch.Tensor:
        o, name = op.options, op.name
        if name == "DEQUANTIZE":
            if a[0].dtype != torch.float32:
                raise UnsupportedOp(f"{self.path.name}: op {op.index} DEQUANTIZE of a quantised integer tensor is not supported")
            return a[0]
        if name == "CONV_2D":
            w = a[1].permute(0, 3, 1, 2)  # OHWI -> OIHW
            return self._conv(op, a[0], w, a[2] if len(a) > 2 else None, o, groups=1)
        if name == "DEPTHWISE_CONV_2D":
            w = a[1].permute(3, 0, 1, 2)  # 1HW(C·m) -> (C·m)1HW, output channel c·m + k as in torch's groups
            return self._conv(op, a[0], w, a[2] if len(a) > 2 else None, o, groups=a[0].shape[1])
        if name in ("ADD", "SUB", "MUL"):
            x, y = (v if v.dim() == 4 and t not in self._const else _nhwc_const(v) for v, t in zip(a[:2], op.inputs[:2]))
            if x.dim() == y.dim() == 4 and x.shape[2:] != y.shape[2:] and 1 not in (*x.shape[2:], *y.shape[2:]):
                raise UserError(f"{self.path.name}: op {op.index} {name} of {tuple(x.shape[2:])} and {tuple(y.shape[2:])} maps: "
                                f"this depth needs image sides a multiple of a higher power of 2")
            out = x + y if name == "ADD" else x - y if name == "SUB" else x * y
            return _activation(out, o.FusedActivationFunction() if o else 0, name)
        if name == "RELU":
            return F.relu(a[0])
        if name == "RELU6":
            return a[0].clamp(0.0, 6.0)
        if name == "LOGISTIC":
            return torch.sigmoid(a[0])
        if name == "HARD_SWISH":
            return F.hardswish(a[0])
        if name == "PRELU":
            alpha = _nhwc_const(a[1])
            return torch.where(a[0] >= 0, a[0], a[0] * alpha)
        if name == "PAD":
            p = [int(v) for v in a[1].reshape(-1).tolist()]
            if len(p) != 8 or p[0] or p[1]:
                raise UnsupportedOp(f"{self.path.name}: op {op.index} PAD of rank {len(p) // 2} or along the batch is not supported")
            return F.pad(a[0], (p[4], p[5], p[2], p[3], p[6], p[7]))
        if name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            return self._pool(op, a[0], o)
        if name in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
            return self._resize(op, a[0], o)
        if name == "CONCATENATION":
            rank = len(self.shapes[op.outputs[0]])
            axis = o.Axis() % rank
            if rank == 4:
                axis = (0, 2, 3, 1)[axis]
            return _activation(torch.cat(a, dim=axis), o.FusedActivationFunction(), name)
        if name == "RESHAPE":
            return self._reshape(op, a[0])
        if name == "CUSTOM:Convolution2DTransposeBias":
            return self._transpose_conv_bias(op, a[0], a[1], a[2])
        raise UnsupportedOp(f"{self.path.name}: op {op.index} {name} is not supported by the torch executor")

    def _conv(self, op: _Op, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, o: Any, groups: int) -> torch.Tensor:
        sh, sw, dh, dw = o.StrideH(), o.StrideW(), o.DilationHFactor(), o.DilationWFactor()
        if o.Padding() == 0:  # SAME
            top, bottom = same_padding(x.shape[2], w.shape[2], sh, dh)
            left, right = same_padding(x.shape[3], w.shape[3], sw, dw)
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        out = F.conv2d(x, w, b, stride=(sh, sw), dilation=(dh, dw), groups=groups)
        return _activation(out, o.FusedActivationFunction(), op.name)

    def _pool(self, op: _Op, x: torch.Tensor, o: Any) -> torch.Tensor:
        kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
        static = self._static_in(op)
        if op.name == "AVERAGE_POOL_2D" and len(static) == 4 and kh >= static[1] and kw >= static[2] and self.shapes[op.outputs[0]][1:3] == (1, 1):
            return _activation(x.mean(dim=(2, 3), keepdim=True), o.FusedActivationFunction(), op.name)  # a global pool
        pads = (0, 0, 0, 0)
        if o.Padding() == 0:
            top, bottom = same_padding(x.shape[2], kh, sh)
            left, right = same_padding(x.shape[3], kw, sw)
            pads = (left, right, top, bottom)
        if op.name == "MAX_POOL_2D":
            out = F.max_pool2d(F.pad(x, pads, value=float("-inf")) if any(pads) else x, (kh, kw), (sh, sw))
        else:  # TFLite averages over the pixels inside the image only
            total = F.avg_pool2d(F.pad(x, pads), (kh, kw), (sh, sw), divisor_override=1)
            ones = F.pad(x.new_ones(1, 1, *x.shape[2:]), pads)
            out = total / F.avg_pool2d(ones, (kh, kw), (sh, sw), divisor_override=1)
        return _activation(out, o.FusedActivationFunction(), op.name)

    def _resize(self, op: _Op, x: torch.Tensor, o: Any) -> torch.Tensor:
        size_in, size_out = self._static_in(op)[1:3], self.shapes[op.outputs[0]][1:3]
        h, w = x.shape[2:]
        if (h, w) == tuple(size_in):
            oh, ow = size_out
        else:  # another input size: keep the file's scale
            oh, ow = round(h * size_out[0] / size_in[0]), round(w * size_out[1] / size_in[1])
        align, half = o.AlignCorners(), o.HalfPixelCenters()
        if op.name == "RESIZE_BILINEAR" and (align or half):
            return F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=bool(align))

        def index(n_in: int, n_out: int) -> torch.Tensor:
            d = torch.arange(n_out, dtype=torch.float64)
            scale = (n_in - 1) / (n_out - 1) if align and n_out > 1 else n_in / n_out
            if op.name == "RESIZE_BILINEAR":
                return d * scale  # legacy: no half-pixel offset
            if align:
                src = torch.round(d * scale)
            elif half:
                src = torch.floor((d + 0.5) * scale)
            else:
                src = torch.floor(d * scale)
            return src.clamp(0, n_in - 1)

        ys, xs = index(h, oh), index(w, ow)
        if op.name == "RESIZE_NEAREST_NEIGHBOR":
            return x[:, :, ys.long()][:, :, :, xs.long()]
        y0, x0 = ys.floor().long(), xs.floor().long()
        y1, x1 = (y0 + 1).clamp(max=h - 1), (x0 + 1).clamp(max=w - 1)
        fy = (ys - y0).to(x.dtype).view(1, 1, -1, 1)
        fx = (xs - x0).to(x.dtype).view(1, 1, 1, -1)
        top = x[:, :, y0][:, :, :, x0] * (1 - fx) + x[:, :, y0][:, :, :, x1] * fx
        bottom = x[:, :, y1][:, :, :, x0] * (1 - fx) + x[:, :, y1][:, :, :, x1] * fx
        return top * (1 - fy) + bottom * fy

    def _reshape(self, op: _Op, x: torch.Tensor) -> torch.Tensor:
        shape = list(self.shapes[op.outputs[0]])
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)  # back to the file's NHWC order before flattening
        if shape and shape[0] == 1:
            shape[0] = x.shape[0]
        try:
            out = x.reshape(shape)
        except RuntimeError:
            raise UnsupportedOp(f"{self.path.name}: op {op.index} RESHAPE to {shape} needs the file's input size "
                                f"{self.shapes[self.input_index][1:3]}") from None
        return out.permute(0, 3, 1, 2) if out.dim() == 4 else out

    def _transpose_conv_bias(self, op: _Op, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """MediaPipe's custom transpose conv + bias; options: TfLiteTransposeConvParams (padding, stride_w, stride_h)."""
        padding, sw, sh = np.frombuffer(op.options[:12], dtype=np.int32).tolist()
        wt = w.permute(3, 0, 1, 2)  # OHWI -> I,O,H,W (torch's conv_transpose2d layout)
        kh, kw = w.shape[1:3]
        h, wd = x.shape[2:]
        if padding == 1:  # SAME: out = in·stride, cropped as a SAME conv pads the other way
            oh, ow = h * sh, wd * sw
            top, _ = same_padding(oh, kh, sh)
            left, _ = same_padding(ow, kw, sw)
        else:
            oh, ow, top, left = (h - 1) * sh + kh, (wd - 1) * sw + kw, 0, 0
        out = F.conv_transpose2d(x, wt, b, stride=(sh, sw))
        return out[:, :, top : top + oh, left : left + ow]


def _options(tfl: Any, name: str, op: Any) -> Any:
    """An operator's builtin options table, parsed (None for ops without options we read)."""
    cls = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "ADD": "AddOptions",
           "SUB": "SubOptions", "MUL": "MulOptions", "MAX_POOL_2D": "Pool2DOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
           "RESIZE_BILINEAR": "ResizeBilinearOptions", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
           "CONCATENATION": "ConcatenationOptions", "RESHAPE": "ReshapeOptions"}.get(name)
    table = op.BuiltinOptions()
    if cls is None or table is None:
        return None
    options = getattr(tfl, cls)()
    options.Init(table.Bytes, table.Pos)
    return options


def _shapes(g: Any) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in g.Tensors(i).ShapeAsNumpy()) if g.Tensors(i).ShapeLength() else () for i in range(g.TensorsLength())]


def _parse(path: Path) -> tuple[Any, Any, Any, list[_Op]]:
    """(the tflite module, the Model, its first subgraph, its operators in order)."""
    tfl = _tflite()
    if not path.is_file():
        raise UserError(f"TFLite model {path} does not exist")
    model = tfl.Model.GetRootAsModel(path.read_bytes(), 0)
    if model.SubgraphsLength() < 1:
        raise UserError(f"{path} has no subgraph")
    g = model.Subgraphs(0)
    op_names = _names(tfl.BuiltinOperator)
    ops: list[_Op] = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        if name == "CUSTOM":
            name = "CUSTOM:" + (code.CustomCode() or b"").decode()
            options: Any = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
        else:
            options = _options(tfl, name, op)
        ops.append(_Op(i, name, [int(t) for t in op.InputsAsNumpy()], [int(t) for t in op.OutputsAsNumpy()], options))
    return tfl, model, g, ops


def stage_taps(ops: list[_Op], shapes: list[tuple[int, ...]], input_index: int) -> list[int]:
    """The activation fed to each downsampling of the encoder, in order (strides 2, 4, 8, ...).

    A downsampling is a conv or pool with stride > 1 whose output is smaller than any map before it
    (a global pool, a squeeze-excite's 1×1, and a decoder's side pools are not); its data input is
    followed back through an explicit PAD. The graph's own input (the image) is not a stage.
    """
    producer = {t: op for op in ops for t in op.outputs}
    smallest = shapes[input_index][1]
    out: list[int] = []
    for op in ops:
        strided = op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D") and op.options is not None \
            and op.options.StrideH() > 1
        size = shapes[op.outputs[0]][1] if len(shapes[op.outputs[0]]) == 4 else 0
        if not strided or not 1 < size < smallest:
            continue
        smallest = size
        src = op.inputs[0]
        while src in producer and producer[src].name == "PAD":
            src = producer[src].inputs[0]
        if src != input_index:
            out.append(src)
    return out


def file_stage_taps(path: Path) -> list[int]:
    """:func:`stage_taps` of the .tflite file at ``path``: the tensors to tap for its encoder's stages."""
    _, _, g, ops = _parse(path)
    return stage_taps(ops, _shapes(g), int(g.Inputs(0)))


@dataclass
class PretrainedFeaturesConfig:
    model: str = "pose_landmark_full"
    # which stage outputs (0: stride 2, 1: stride 4, 2: stride 8, 3: stride 16): four, as StyleLoss's
    # default layers (content 1, style 0-3) index them; blur/shift ratios 0.46, 1.15, 2.14, 4.11 for pose
    stages: tuple[int, ...] = (0, 1, 2, 3)


class PretrainedFeatures(nn.Module):
    """A MediaPipe network's stage outputs as a loss network: RGB 0–1 in, a list of feature maps out.

    The interface of :class:`models.losses.perceptual.RandomFeatures`: each map is N×C×H/s×W/s,
    finest first; StyleLoss's ``content_layers``/``style_layers`` index this list.
    """

    def __init__(self, config: PretrainedFeaturesConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or PretrainedFeaturesConfig()
        path = model_path(cfg.model)
        stages = file_stage_taps(path)
        bad = [s for s in cfg.stages if not 0 <= s < len(stages)]
        if bad or not cfg.stages:
            raise UserError(f"{path.stem} has stages 0-{len(stages) - 1}: cannot tap {bad or 'none'}")
        self.net = TFLiteNet(path, [stages[s] for s in cfg.stages])
        self.eval()

    @property
    def min_side(self) -> int:
        return 2 ** (max(self.config.stages) + 2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if min(x.shape[-2:]) < self.min_side:
            raise UserError(f"images of {x.shape[-1]}×{x.shape[-2]} are too small for the {self.config.model} loss network: "
                            f"use at least {self.min_side} pixels a side")
        # sides a multiple of the deepest stride, so strided convs and pools of odd maps agree: the
        # image is reflect-padded to it and each map cut back to the image's own cells
        m = 2 ** (max(self.config.stages) + 1)
        h, w = x.shape[-2:]
        ph, pw = -h % m, -w % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        out = self.net(x)  # MediaPipe feeds these models RGB in [0, 1]: unchanged
        if ph or pw:
            out = [f[..., : -(-h * f.shape[-2] // x.shape[-2]), : -(-w * f.shape[-1] // x.shape[-1])] for f in out]
        return out
