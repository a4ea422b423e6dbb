"""What the Triton repository writer and checker share: names and limits, the problems found,
the tensors of an ONNX file."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


log = logging.getLogger(__name__)

SERVER_CACHE = "/trt_cache"  # the engine cache folder as the server sees it (a mounted volume)
WORKSPACE_BYTES = 2 << 30  # TensorRT's build workspace, as realtime's own TensorRT sessions use
PROFILE_HW = ((64, 64), (480, 640), (1088, 1920))  # min, opt, max (height, width), as realtime.filters.providers
GRAPHS = ("frame", "float")
VARIANTS = ("full", "fast")
CONFIG = "config.pbtxt"
ONNX_FILE = "model.onnx"  # Triton's default_model_filename for the onnxruntime backend
INSTALL_HINT = "pip install 'realtime-filters[scale]'"

# ONNX TensorProto element type -> Triton data type (model_config.proto DataType names)
ONNX_TO_TRITON = {1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 4: "TYPE_UINT16", 5: "TYPE_INT16",
                  6: "TYPE_INT32", 7: "TYPE_INT64", 8: "TYPE_STRING", 9: "TYPE_BOOL", 10: "TYPE_FP16",
                  11: "TYPE_FP64", 12: "TYPE_UINT32", 13: "TYPE_UINT64", 16: "TYPE_BF16"}
TRITON_TO_NUMPY = {"TYPE_FP32": "float32", "TYPE_UINT8": "uint8", "TYPE_INT8": "int8", "TYPE_UINT16": "uint16",
                   "TYPE_INT16": "int16", "TYPE_INT32": "int32", "TYPE_INT64": "int64", "TYPE_BOOL": "bool",
                   "TYPE_FP16": "float16", "TYPE_FP64": "float64", "TYPE_UINT32": "uint32", "TYPE_UINT64": "uint64"}

# The TensorRT accelerator parameters the ONNX Runtime backend accepts (it refuses to load a
# model with any other key), and the kind of value each takes.
TRT_PARAMS = {
    "precision_mode": "precision", "max_workspace_size_bytes": "uint", "trt_max_partition_iterations": "int",
    "trt_min_subgraph_size": "int", "int8_calibration_table_name": "str", "int8_use_native_calibration_table": "bool",
    "trt_dla_enable": "bool", "trt_dla_core": "int", "trt_engine_cache_enable": "bool", "trt_engine_cache_path": "str",
    "trt_engine_cache_prefix": "str", "trt_dump_subgraphs": "bool", "trt_force_sequential_engine_build": "bool",
    "trt_context_memory_sharing_enable": "bool", "trt_layer_norm_fp32_fallback": "bool",
    "trt_timing_cache_enable": "bool", "trt_timing_cache_path": "str", "trt_force_timing_cache": "bool",
    "trt_detailed_build_log": "bool", "trt_build_heuristics_enable": "bool", "trt_sparsity_enable": "bool",
    "trt_builder_optimization_level": "int", "trt_auxiliary_streams": "int", "trt_tactic_sources": "str",
    "trt_extra_plugin_lib_paths": "str", "trt_profile_min_shapes": "shapes", "trt_profile_opt_shapes": "shapes",
    "trt_profile_max_shapes": "shapes", "trt_cuda_graph_enable": "bool", "trt_dump_ep_context_model": "bool",
    "trt_ep_context_file_path": "str", "trt_ep_context_embed_mode": "int",
}
# ONNX Runtime's own option names people copy into a Triton config, and the Triton key to use
TRT_ORT_NAMES = {"trt_fp16_enable": 'precision_mode "FP16"', "trt_int8_enable": 'precision_mode "INT8"',
                 "trt_bf16_enable": 'precision_mode "BF16"', "trt_max_workspace_size": "max_workspace_size_bytes",
                 "trt_int8_calibration_table_name": "int8_calibration_table_name",
                 "trt_int8_use_native_calibration_table": "int8_use_native_calibration_table"}
PRECISIONS = ("FP32", "FP16", "INT8")
BOOLS = ("true", "on", "1", "false", "off", "0")
GPU_ACCELERATORS = ("tensorrt", "cuda")
CPU_ACCELERATORS = ("openvino",)
PROFILE_KEYS = ("trt_profile_min_shapes", "trt_profile_opt_shapes", "trt_profile_max_shapes")
PREFIX_HASH = re.compile(r"_([0-9a-f]{16})$")



# ---------------------------------------------------------------- results
@dataclass(frozen=True)
class Problem:
    """One thing Triton would refuse (or, for a note, do differently from what was meant)."""

    where: str  # a path, with :LINE or :LINE:COL where known
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Report:
    """What checking a repository found: problems (Triton would not load the model), notes
    (it would, but perhaps not as meant) and the model folders that passed."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def extend(self, other: "Report") -> None:
        self.problems += other.problems
        self.notes += other.notes
        self.passed += other.passed


@dataclass(frozen=True)
class Tensor:
    """An ONNX graph input or output as Triton's backend sees it: dims -1 where dynamic,
    ``None`` when the file declares no shape."""

    name: str
    elem_type: int
    dims: tuple[int, ...] | None

    @property
    def triton_type(self) -> str:
        return ONNX_TO_TRITON.get(self.elem_type, f"ONNX type {self.elem_type}")


@dataclass(frozen=True)
class ModelIO:
    inputs: dict[str, Tensor]
    outputs: dict[str, Tensor]
    initializers: frozenset[str]  # overridable initializers Triton also accepts as inputs
    size_multiple: int


@dataclass(frozen=True)
class WriteOptions:
    graph: str = "frame"  # frame: uint8 1x3xHxW RGB planes in and out; float: the filter's own N×3×H×W graph
    variant: str = "full"  # full, or fast (NAME.fast.onnx, the light student)
    fp16: bool = False  # TensorRT precision_mode FP16 (else FP32); the file keeps float32 I/O either way
    engine_cache: str = SERVER_CACHE
    replace: bool = False



# ---------------------------------------------------------------- the ONNX side
def onnx_io(path: Path) -> ModelIO:
    """The inputs and outputs Triton's ONNX Runtime backend will see in ``path`` (no weights read
    beyond what the file holds inline)."""
    from realtime.filters.frame_graph import shape_of
    from realtime.filters.onnx_format import load_model_proto

    proto = load_model_proto(path)

    def tensor(value: Any) -> Tensor:
        has_shape = value.type.tensor_type.HasField("shape")
        dims = tuple(d if isinstance(d, int) and d > 0 else -1 for d in shape_of(value)) if has_shape else None
        return Tensor(value.name, value.type.tensor_type.elem_type, dims)

    weights = {t.name for t in proto.graph.initializer}
    props = {p.key: p.value for p in proto.metadata_props}
    try:
        multiple = max(1, int(props.get("filter.size_multiple", "1")))
    except ValueError:
        multiple = 1
    return ModelIO(
        inputs={i.name: tensor(i) for i in proto.graph.input if i.name not in weights},
        outputs={o.name: tensor(o) for o in proto.graph.output},
        initializers=frozenset(i.name for i in proto.graph.input if i.name in weights),
        size_multiple=multiple,
    )


def shape_text(dims: Sequence[int] | None) -> str:
    return "unknown" if dims is None else "[ " + ", ".join(str(d) for d in dims) + " ]"
