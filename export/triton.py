"""A model repository for NVIDIA Triton Inference Server, and an offline checker of one.

    realtime-export triton REPO [--filters NAME ...] [--variant full|fast] [--graph frame|float] [--fp16]
    realtime-export triton REPO --check [--run]

Why: a GPU behind Triton serves many callers at once (on 2 CPU cores even the fast cartoon
student takes 16.8 ms per 640x480 frame, cartoon.fast.json), but Triton says what is wrong with
a repository only when it loads it, on the GPU machine, one error per model, and each fix costs
a reload (TensorRT's first engine build takes minutes). So the repository is checked here,
offline, against Triton's own schema
(``model_config.proto`` from ``tritonclient``: an unknown field or a typo'd enum is refused with
its line and column) and against each ONNX file's inputs and outputs with the rules Triton's
ONNX Runtime backend applies at load (names, data types, ranks, fixed vs dynamic dims, batch
dim, the TensorRT accelerator's parameter names and values). Every problem is one line.

What is written, per filter (``REPO/NAME/config.pbtxt`` + ``REPO/NAME/1/model.onnx``):

* the uint8 frame graph (:mod:`realtime.filters.frame_graph`: 1xHxWx3 BGR bytes in and out, a
  640x480 frame is 0.9 MB on the wire instead of 3.7 MB as float32) or the plain float graph;
* ``max_batch_size: 0``: the frame graph's ``checksum`` is a scalar and a ``latent`` input is
  ``[1]``, so neither can carry Triton's batch dim, and frames of different sizes cannot be
  batched together anyway; the image input's batch dim is fixed to 1 to match the profile;
* H and W left dynamic (-1), with one TensorRT profile 64x64 .. 640x480 .. 1920x1088 (rounded
  to the filter's size multiple) so the engine is built once, not again for every new size;
* the TensorRT execution accelerator, FP32 or (``--fp16``) FP16, with its engine and timing
  caches in ``/trt_cache`` (a volume, so a restart loads the cached engine instead of
  building it again for minutes) and an engine-cache prefix holding a hash of the model's bytes,
  so a retrained model never loads the old model's engine (ONNX Runtime's cache key ignores
  the weights).
"""
from __future__ import annotations

import difflib
import hashlib
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from realtime.errors import UserError, first_line

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
    graph: str = "frame"  # frame: uint8 1xHxWx3 BGR in and out; float: the filter's own N×3×H×W graph
    variant: str = "full"  # full, or fast (NAME.fast.onnx, the light student)
    fp16: bool = False  # TensorRT precision_mode FP16 (else FP32); the file keeps float32 I/O either way
    engine_cache: str = SERVER_CACHE
    replace: bool = False


# ---------------------------------------------------------------- Triton's schema
def model_config_class() -> Any:
    """Triton's ``ModelConfig`` message (model_config.proto, shipped in tritonclient)."""
    try:
        from tritonclient.grpc.model_config_pb2 import ModelConfig
    except ImportError:
        raise UserError(f"checking Triton configs needs Triton's model-config schema from tritonclient: {INSTALL_HINT}") from None
    return ModelConfig


def parse_config(text: str, where: str) -> tuple[Any | None, list[Problem], list[tuple[int, int]]]:
    """Parse ``config.pbtxt`` text with Triton's schema: (config, problems, blocks). After a bad
    field name or value the field is blanked out (spaces, so later lines and columns stay true)
    and the text parsed again, up to 20 times, so each mistake gets its own line; ``blocks`` are
    the line ranges of the ``{ }`` blocks that held one, whose other checks wait for the fix.
    ``config`` is the parse of what was left (None when the text could not be recovered)."""
    from google.protobuf import text_format

    cls = model_config_class()
    problems: list[Problem] = []
    blocks: list[tuple[int, int]] = []
    for _ in range(20):
        try:
            return text_format.Parse(text, cls()), problems, blocks
        except text_format.ParseError as exc:
            line, col = exc.GetLine(), exc.GetColumn()
            message = _parse_message(exc, cls)
            problems.append(Problem(f"{where}:{line}:{col}", message))
            offset = _offset(text, line, col)
            field_here = "has no field named" in message
            value_here = any(s in message for s in ("has no value named", "Couldn't parse", "Expected integer",
                                                    "Expected double", "Expected string", "Invalid value"))
            blanked = _blank_field(text, offset, field_here) if offset is not None and (field_here or value_here) else None
            if blanked is None:
                return None, problems, blocks
            blocks.append(_enclosing_block(text, offset))
            text = blanked
    return None, problems, blocks


def _offset(text: str, line: int, col: int) -> int | None:
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(col - 1, 0)


def _blank_field(text: str, offset: int, field_here: bool) -> str | None:
    """``text`` with the field at ``offset`` (its name there, or its value there) and its value
    (a token, a string or a whole { } / [ ] block) replaced by spaces; None when unsure."""
    if field_here:
        start = offset
    else:
        before = re.search(r"(\w+)\s*:?\s*$", text[:offset])
        if before is None:
            return None
        start = before.start(1)
    m = re.compile(r"\w+\s*:?\s*").match(text, start)
    if m is None:
        return None
    end = _skip_value(text, m.end())
    if end is None:
        return None
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def _skip_value(text: str, i: int) -> int | None:
    """The end of the value starting at ``i``: a balanced block, a quoted string or a token."""
    if i >= len(text):
        return None
    if text[i] in "{[<":
        depth, quote = 0, ""
        for j in range(i, len(text)):
            c = text[j]
            if quote:
                quote = "" if c == quote and text[j - 1] != "\\" else quote
            elif c in "\"'":
                quote = c
            elif c in "{[<":
                depth += 1
            elif c in "}]>":
                depth -= 1
                if depth == 0:
                    return j + 1
        return None
    if text[i] in "\"'":
        close = text.find(text[i], i + 1)
        return None if close < 0 else close + 1
    m = re.compile(r"[^\s,;{}\[\]<>]+").match(text, i)
    return m.end() if m else None


def _enclosing_block(text: str, offset: int) -> tuple[int, int]:
    """(first line, last line) of the innermost ``{ }`` around ``offset`` (0, 0 at top level)."""
    stack: list[int] = []
    quote = ""
    opened = None
    for j, c in enumerate(text):
        if quote:
            quote = "" if c == quote and text[j - 1] != "\\" else quote
        elif c in "\"'":
            quote = c
        elif c == "{":
            stack.append(j)
        elif c == "}" and stack:
            start = stack.pop()
            if start < offset < j and (opened is None or start > opened[0]):
                opened = (start, j)
    if opened is None:
        return (0, 0)
    return (text.count("\n", 0, opened[0]) + 1, text.count("\n", 0, opened[1]) + 1)


def _parse_message(exc: Exception, cls: Any) -> str:
    """protobuf's parse error, without the echoed line, with the close name it probably meant."""
    message = str(exc).split(" : ", 1)[-1]
    message = re.sub(r"^'.*?': (?=[A-Z])", "", message)
    fix = ""
    unknown_field = re.search(r'Message type "([\w.]+)" has no field named "(\w+)"', message)
    unknown_enum = re.search(r'Enum type "([\w.]+)" has no value named (\w+)', message)
    if unknown_field:
        desc = cls.DESCRIPTOR.file.pool.FindMessageTypeByName(unknown_field.group(1))
        fix = _did_you_mean(unknown_field.group(2), [f.name for f in desc.fields])
    elif unknown_enum:
        desc = cls.DESCRIPTOR.file.pool.FindEnumTypeByName(unknown_enum.group(1))
        names = [v.name for v in desc.values]
        fix = _did_you_mean(unknown_enum.group(2), names) or f" (one of {', '.join(names)})"
    return f"{message.rstrip('.')}{fix} (Triton's model-config schema)"


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


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


# ---------------------------------------------------------------- writing
def resolve_sources(names: Sequence[str] | None, variant: str) -> list[tuple[str, Path]]:
    """(Triton model name, ONNX file) per filter asked for: bundled or installed names, or paths;
    every bundled filter when none is named."""
    from realtime.filters.library import NAME_HELP, NAME_RULE
    from realtime.filters.onnx_format import read_contract
    from realtime.filters.registry import bundled_filters, fast_variant, resolve_filter

    specs = list(names) if names else list(bundled_filters())
    out: list[tuple[str, Path]] = []
    missing_fast = []
    for spec in specs:
        path = resolve_filter(spec)
        name = spec if spec in bundled_filters() or NAME_RULE.match(spec) else read_contract(path).name
        if variant == "fast":
            fast = fast_variant(path)
            if fast is None:
                missing_fast.append(spec)
                continue
            path, name = fast, f"{name}_fast"
        if not NAME_RULE.match(name):
            raise UserError(f"{path.name} is named {name!r}, not a usable Triton model name ({NAME_HELP}): "
                            "rename the file or install it under another name")
        out.append((name, path))
    if missing_fast:
        raise UserError(f"--variant fast: no fast variant (NAME.fast.onnx) of {', '.join(missing_fast)}; "
                        "drop --variant fast or name only filters that have one")
    seen: dict[str, Path] = {}
    for name, path in out:
        if name in seen:
            raise UserError(f"two filters would both be Triton model {name!r} ({seen[name]} and {path}): name each once")
        seen[name] = path
    return out


def rounded_profile(multiple: int) -> list[tuple[int, int]]:
    """The TensorRT profile's (H, W) sizes on the filter's size grid: min and opt rounded up,
    max rounded down (a 12-multiple filter gets 72x72 .. 480x648 .. 1080x1920)."""
    up = lambda v: -(-v // multiple) * multiple  # noqa: E731
    down = lambda v: max(multiple, v // multiple * multiple)  # noqa: E731
    (h0, w0), (h1, w1), (h2, w2) = PROFILE_HW
    return [(up(h0), up(w0)), (up(h1), up(w1)), (down(h2), down(w2))]


def _profile_shapes(image: Tensor, multiple: int) -> dict[str, str] | None:
    """trt_profile_{min,opt,max}_shapes for the image input, or None when H and W are fixed."""
    dims = image.dims or ()
    if len(dims) != 4:
        return None
    axes = (1, 2) if dims[3] == 3 else (2, 3)  # NHWC frame graph, NCHW float graph
    if dims[axes[0]] > 0 and dims[axes[1]] > 0:
        return None
    out = {}
    for key, (h, w) in zip(PROFILE_KEYS, rounded_profile(multiple)):
        shape = [1 if d < 0 else d for d in dims]
        shape[axes[0]], shape[axes[1]] = h, w
        out[key] = f"{image.name}:" + "x".join(str(d) for d in shape)
    return out


def config_dims(tensor: Tensor, is_input: bool, image: str) -> list[int]:
    """The dims the config declares for a model tensor (max_batch_size 0, so the full shape):
    the model's own, a dynamic batch dim of the image input fixed to 1 (the TensorRT profile's
    batch), a scalar as [ 1 ] (Triton's rule for scalars in a non-batching model)."""
    dims = list(tensor.dims or ())
    if not dims:
        return [1]
    if is_input and tensor.name == image and dims[0] < 0:
        dims[0] = 1
    return dims


def config_text(name: str, io: ModelIO, image: str, trt: dict[str, str], header: Sequence[str]) -> str:
    """``config.pbtxt`` for one model, laid out for people to read and edit."""
    def block(kind: str, tensors: Iterable[Tensor]) -> list[str]:
        entries = [f'  {{\n    name: "{t.name}"\n    data_type: {t.triton_type}\n'
                   f'    dims: {shape_text(config_dims(t, kind == "input", image))}\n  }}' for t in tensors]
        return [f"{kind} [", ",\n".join(entries), "]"]

    params = "\n".join(f'        parameters {{ key: "{k}" value: "{v}" }}' for k, v in trt.items())
    lines = [*(f"# {h}" for h in header),
             f'name: "{name}"', 'backend: "onnxruntime"', "max_batch_size: 0",
             *block("input", io.inputs.values()), *block("output", io.outputs.values()),
             "instance_group [ { count: 1, kind: KIND_GPU } ]",
             "optimization {", "  execution_accelerators {", "    gpu_execution_accelerator [", "      {",
             '        name: "tensorrt"', params, "      }", "    ]", "  }", "}",
             "version_policy { latest { num_versions: 1 } }"]
    return "\n".join(lines) + "\n"


def write_model(repo: Path, name: str, source: Path, options: WriteOptions) -> Path:
    """Write ``REPO/NAME/1/model.onnx`` (the frame or float graph of ``source``) and its
    ``config.pbtxt``; return the model folder."""
    from realtime.filters.frame_graph import FRAME_IN
    from realtime.filters.onnx_format import inspect, save_atomic
    from realtime.filters.providers import engine_prefix

    info = inspect(source, weights=True)
    graph = info.framed if options.graph == "frame" else info.proto
    folder = repo / name
    _clear_model_folder(folder, options.replace)
    (folder / "1").mkdir(parents=True, exist_ok=True)
    model_path = folder / "1" / ONNX_FILE
    save_atomic(graph, model_path)
    io = onnx_io(model_path)
    image = FRAME_IN if options.graph == "frame" else info.input_name
    precision = "FP16" if options.fp16 else "FP32"
    trt = {"precision_mode": precision, "max_workspace_size_bytes": str(WORKSPACE_BYTES),
           "trt_engine_cache_enable": "1", "trt_engine_cache_path": options.engine_cache,
           "trt_engine_cache_prefix": engine_prefix(f"{name}_{precision}", model_path.read_bytes()),
           "trt_timing_cache_enable": "1", "trt_timing_cache_path": options.engine_cache}
    trt.update(_profile_shapes(io.inputs[image], info.contract.size_multiple) or {})
    c = info.contract
    latent = ("; input latent (int64 [1]) picks the look: " + ", ".join(f"{i} {n}" for i, n in enumerate(c.latent_names))
              if c.latent_codes else "")
    fmt = ("frame: uint8 1xHxWx3 BGR in, frame_out: uint8 BGR out, checksum: float sum of the image (finite unless the model broke)"
           if options.graph == "frame" else f"{image}: float32 Nx3xHxW RGB in the range {c.input_range}, output the same")
    header = [f"Written by realtime-export triton from {source.name} ({options.variant} variant, {options.graph} graph, "
              f"TensorRT {precision}).",
              f"{c.kind} filter {c.name!r}: {fmt}{latent}.",
              f"H and W must be multiples of {c.size_multiple}" + (f" (fixed {c.fixed_size[0]}x{c.fixed_size[1]})" if c.fixed_size else "")
              + f"; it is meant to run with a short side of about {c.work_size} px.",
              "Check after editing: realtime-export triton REPO --check"]
    (folder / CONFIG).write_text(config_text(name, io, image, trt, header))
    log.info("wrote %s (%s, %.2f MB)", folder, source.name, model_path.stat().st_size / 1e6)
    return folder


def _clear_model_folder(folder: Path, replace: bool) -> None:
    if not folder.exists():
        return
    if not replace:
        raise UserError(f"{folder} already exists: pass --replace to write it again, or choose another REPO")
    if not folder.is_dir() or not (folder / CONFIG).is_file():
        raise UserError(f"{folder} is not a Triton model folder (no {CONFIG}): move it away yourself; --replace only replaces models")
    shutil.rmtree(folder)


def write_repository(repo: Path, names: Sequence[str] | None, options: WriteOptions) -> list[Path]:
    """Write one model folder per filter into ``repo`` and check each as Triton would load it."""
    from realtime.filters.onnx_format import inspect

    model_config_class()  # fail before writing anything when the schema is not installed
    sources = resolve_sources(names, options.variant)
    for _, path in sources:
        inspect(path)  # a file realtime could not run fails here, before anything is written
    if repo.exists() and not repo.is_dir():
        raise UserError(f"{repo} is a file: REPO must be a folder (it is created if missing)")
    if not options.replace:
        taken = [n for n, _ in sources if (repo / n).exists()]
        if taken:
            raise UserError(f"{', '.join(taken)} already in {repo}: pass --replace to write them again, or choose another REPO")
    try:
        repo.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {repo} ({exc.strerror or exc}): choose another REPO") from None
    return [write_model(repo, name, path, options) for name, path in sources]


# ---------------------------------------------------------------- checking
def check_repository(repo: Path, only: Sequence[str] | None = None) -> Report:
    """Check every model folder in ``repo`` (or only those named) as Triton would load it."""
    repo = Path(repo)
    if not repo.is_dir():
        raise UserError(f"{repo} is not a folder: pass the model repository (the folder given to tritonserver --model-repository)")
    folders = sorted(p for p in repo.iterdir() if p.is_dir() and (only is None or p.name in only))
    if not folders:
        raise UserError(f"{repo} holds no model folders: write some with `realtime-export triton {repo}`")
    report = Report()
    for folder in folders:
        report.extend(check_model(folder))
    return report


def check_model(folder: Path) -> Report:
    """Every check for one model folder: the schema, Triton's own rules, and the ONNX file."""
    report = Report()
    cfg = folder / CONFIG
    where = str(cfg)
    if not cfg.is_file():
        report.problems.append(Problem(str(folder), f"no {CONFIG}: write one (realtime-export triton REPO --filters "
                                                    f"{folder.name}) or move the folder out of the repository"))
        return report
    try:
        text = cfg.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        report.problems.append(Problem(where, f"cannot read it ({first_line(exc)}): check the file and its permissions"))
        return report
    config, syntax, blocks = parse_config(text, where)
    if config is None:
        report.problems += syntax
        return report
    loc = Locator(where, text)
    checks = Report()
    if _is_onnxruntime(config, folder, loc, checks):
        _check_config(config, folder, loc, checks)
        for _, model_path in _model_files(config, folder, loc, checks):
            try:
                io = onnx_io(model_path)
            except UserError as exc:
                checks.problems.append(Problem(str(model_path), f"{exc}"))
                continue
            _check_io(config, io, loc, checks)
            _check_accelerators(config, io, model_path, loc, checks)
    held = lambda p: any(a <= _line(p.where) <= b for a, b in blocks if a)  # noqa: E731  (waits for the syntax fix)
    # each version's file is checked; the same finding in two versions is one line
    report.problems += sorted(dict.fromkeys(syntax + [p for p in checks.problems if not held(p)]), key=lambda p: _line(p.where))
    report.notes += list(dict.fromkeys(p for p in checks.notes if not held(p)))
    if not report.problems and _is_onnxruntime(config, folder, loc, Report()):
        report.passed.append(folder.name)
    return report


def _line(where: str) -> int:
    """The line number in ``path:LINE[:COL]`` (0 for a bare path)."""
    m = re.search(r":(\d+)(?::\d+)?$", where)
    return int(m.group(1)) if m else 0


@dataclass(frozen=True)
class Locator:
    """``path:LINE`` for a problem, from the first line of the config that mentions it."""

    path: str
    text: str

    def at(self, *needles: str, after: str | None = None) -> str:
        """The first line holding every needle (at or after the first line holding ``after``)."""
        lines = self.text.splitlines()
        start = next((i for i, line in enumerate(lines) if after in line), 0) if after else 0
        for number, line in enumerate(lines[start:], start + 1):
            if all(n in line for n in needles):
                return f"{self.path}:{number}"
        return self.path


def _is_onnxruntime(config: Any, folder: Path, loc: Locator, report: Report) -> bool:
    backend, platform = config.backend, config.platform
    if backend == "onnxruntime" or (not backend and platform == "onnxruntime_onnx"):
        if backend and platform and platform != "onnxruntime_onnx":
            report.problems.append(Problem(loc.at("platform"), f'platform "{platform}" does not go with backend "onnxruntime": '
                                                              'drop the platform line or write "onnxruntime_onnx"'))
        return True
    if not backend and not platform:
        files = {p.name for v in folder.iterdir() if v.is_dir() for p in v.iterdir()} if folder.is_dir() else set()
        if ONNX_FILE in files:
            report.notes.append(Problem(str(loc.path), 'no backend given: Triton picks "onnxruntime" from model.onnx; '
                                                       'write backend: "onnxruntime" to be explicit'))
            return True
        report.problems.append(Problem(loc.path, 'no backend or platform: write backend: "onnxruntime"'))
        return False
    given = backend or platform
    if _did_you_mean(given, ["onnxruntime", "onnxruntime_onnx"]):
        report.problems.append(Problem(loc.at(given), f'unknown backend "{given}"{_did_you_mean(given, ["onnxruntime", "onnxruntime_onnx"])}'))
    else:
        report.notes.append(Problem(loc.path, f'not checked: backend "{given}" (this checker knows ONNX Runtime models)'))
    return False


def _check_config(config: Any, folder: Path, loc: Locator, report: Report) -> None:
    """Triton core's own checks of a parsed config (model_config_utils.cc), for ONNX Runtime models."""
    bad = report.problems.append
    if config.name and config.name != folder.name:
        bad(Problem(loc.at("name:", f'"{config.name}"'), f'name "{config.name}" is not the folder\'s name "{folder.name}": '
                                                          "Triton requires them equal; rename one"))
    if config.max_batch_size < 0:
        bad(Problem(loc.at("max_batch_size"), f"max_batch_size must be 0 or more, got {config.max_batch_size}"))
    if config.HasField("dynamic_batching"):
        for size in config.dynamic_batching.preferred_batch_size:
            if size <= 0 or size > config.max_batch_size:
                bad(Problem(loc.at("preferred_batch_size"), f"dynamic batching preferred size {size} must be from 1 to "
                                                            f"max_batch_size ({config.max_batch_size})"))
    for kind, tensors in (("input", config.input), ("output", config.output)):
        names = [t.name for t in tensors]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            bad(Problem(loc.at(f'"{dup}"'), f"{kind} '{dup}' is declared {names.count(dup)} times: keep one"))
        for t in tensors:
            for message in _io_shape_problems(t, kind, config.max_batch_size):
                bad(Problem(loc.at(f'"{t.name}"') if t.name else loc.path, message))
    for t in config.input:
        if t.optional and config.max_batch_size != 0:
            bad(Problem(loc.at(f'"{t.name}"'), f"optional input '{t.name}' needs max_batch_size 0 (Triton's ONNX Runtime backend)"))


def _io_shape_problems(t: Any, kind: str, max_batch_size: int) -> list[str]:
    """Triton's ValidateIOShape (+ the format and shape-tensor rules) for one input or output."""
    from tritonclient.grpc.model_config_pb2 import ModelInput

    label = f"{kind} '{t.name}'"
    if not t.name:
        return [f"an {kind} without a name: every {kind} needs name: \"...\""]
    out = []
    if t.data_type == 0:
        out.append(f"{label} has no data_type: add one, e.g. data_type: TYPE_FP32")
    if not t.dims:
        out.append(f"{label} has no dims: add them, e.g. dims: [ -1, -1, 3 ] (a scalar is dims: [ 1 ])")
    if any(d < 1 and d != -1 for d in t.dims):
        out.append(f"{label} dims {shape_text(t.dims)}: each must be a size ≥ 1, or -1 for any size")
    if t.HasField("reshape"):
        shape = list(t.reshape.shape)
        if not shape and max_batch_size == 0:
            out.append(f"{label} has an empty reshape in a non-batching model (max_batch_size 0): Triton has no scalars there")
        if any(d < 1 and d != -1 for d in shape):
            out.append(f"{label} reshape {shape_text(shape)}: each must be a size ≥ 1, or -1 for any size")
        if -1 not in shape and -1 not in t.dims and _count(shape) != _count(t.dims):
            out.append(f"{label} reshape {shape_text(shape)} holds {_count(shape)} values, dims {shape_text(t.dims)} "
                       f"{_count(t.dims)}: they must hold as many")
    if kind == "input" and t.format in (ModelInput.FORMAT_NHWC, ModelInput.FORMAT_NCHW) and len(t.dims) != 3:
        out.append(f"{label}: format NHWC/NCHW needs 3 dims (without the batch dim), got {shape_text(t.dims)}")
    if t.is_shape_tensor:
        out.append(f"{label}: is_shape_tensor is only for TensorRT plan models, not ONNX Runtime: drop it")
    return out


def _count(dims: Iterable[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _model_files(config: Any, folder: Path, loc: Locator, report: Report) -> list[tuple[int, Path]]:
    """(version, ONNX file) for every version Triton would load under the version policy."""
    filename = config.default_model_filename or ONNX_FILE
    versions = {}
    for sub in folder.iterdir():
        if sub.is_dir() and sub.name.isdigit():
            if len(sub.name) > 1 and sub.name.startswith("0"):
                report.notes.append(Problem(str(sub), "Triton ignores version folders with leading zeros: rename it "
                                                      f"{int(sub.name)}"))
                continue
            versions[int(sub.name)] = sub
    existing = sorted(versions, reverse=True)
    policy = config.version_policy
    if policy.HasField("specific"):
        wanted = list(policy.specific.versions)
        for v in wanted:
            if v not in versions:
                report.problems.append(Problem(loc.at("versions"), f"version {v} is asked for but {folder / str(v)} does not exist"))
        wanted = [v for v in wanted if v in versions]
    elif policy.HasField("all"):
        wanted = existing
    else:
        keep = policy.latest.num_versions if policy.HasField("latest") else 1
        wanted = existing[: max(keep, 1)]
    if not existing:
        report.problems.append(Problem(str(folder), f"no version folder: put the model in {folder / '1' / filename}"))
        return []
    out = []
    for v in wanted:
        path = versions[v] / filename
        if path.is_dir():  # a large ONNX model: a folder holding model.onnx and its external data
            path = path / ONNX_FILE
        if not path.is_file():
            other = sorted(p.name for p in versions[v].iterdir())
            hint = f" (the folder holds {', '.join(other)}; set default_model_filename or rename)" if other else ""
            report.problems.append(Problem(str(versions[v]), f"no model file {filename}{hint}"))
            continue
        out.append((v, path))
    return out


def _model_dims(config: Any, t: Any) -> list[int]:
    """The shape the config says the model sees for ``t``: its reshape if any, else its dims."""
    return list(t.reshape.shape) if t.HasField("reshape") else list(t.dims)


def _check_io(config: Any, io: ModelIO, loc: Locator, report: Report) -> None:
    """The ONNX Runtime backend's ValidateInputs / ValidateOutputs for one version's file."""
    mbs = config.max_batch_size
    for kind, tensors, model, exact in (("input", config.input, io.inputs, False), ("output", config.output, io.outputs, True)):
        for t in tensors:
            if not t.name:
                continue
            where = loc.at(f'"{t.name}"')
            found = model.get(t.name)
            if found is None:
                if kind == "input" and t.name in io.initializers:
                    continue
                report.problems.append(Problem(where, f"{kind} '{t.name}' is not in the model; its {kind}s are "
                                                      f"{', '.join(model) or 'none'}{_did_you_mean(t.name, model)}"))
                continue
            if t.data_type and _type_name(t.data_type) != found.triton_type:
                report.problems.append(Problem(loc.at("data_type", after=f'"{t.name}"'),
                                               f"{kind} '{t.name}' is {_type_name(t.data_type)} in the config, the model's "
                                               f"is {found.triton_type}: write data_type: {found.triton_type}"))
            if t.dims:
                _check_dims(kind, t.name, found.dims, _model_dims(config, t), mbs, exact, where, report)
    missing = [n for n in io.inputs if n not in {t.name for t in config.input}]
    for name in missing:
        t = io.inputs[name]
        dims = config_dims(t, True, "") if mbs == 0 else list((t.dims or (1,))[1:])
        report.problems.append(Problem(loc.at("input"), f"model input '{name}' is not in the config: add "
                                                        f'{{ name: "{name}" data_type: {t.triton_type} dims: {shape_text(dims)} }}'))


def _type_name(value: int) -> str:
    from tritonclient.grpc.model_config_pb2 import DataType

    try:
        return DataType.Name(value)
    except ValueError:
        return f"data type {value}"


def _check_dims(kind: str, name: str, model: tuple[int, ...] | None, dims: list[int], mbs: int, exact: bool,
                where: str, report: Report) -> None:
    """CompareDimsSupported of Triton's ONNX Runtime backend, with a reason per dim."""
    label = f"{kind} '{name}'"
    if model is None:
        report.notes.append(Problem(where, f"{label}: the model declares no shape, so Triton cannot check "
                                           f"{shape_text(dims)} before the first request"))
        return
    if not model:  # a scalar: every configured dim must be 1
        if any(d != 1 for d in dims):
            report.problems.append(Problem(where, f"{label} is a scalar in the model: write dims: [ 1 ] (max_batch_size 0)"))
        return
    full = dims
    if mbs > 0:
        if model[0] != -1:
            report.problems.append(Problem(where, f"{label}: max_batch_size {mbs} needs a dynamic first (batch) dim, the "
                                                  f"model's shape is {shape_text(model)}: set max_batch_size: 0"))
            return
        full = [-1, *dims]
    if len(full) != len(model):
        batch = " (max_batch_size > 0 adds the batch dim in front of dims)" if mbs > 0 else ""
        want = list(model[1:]) if mbs > 0 else list(model)
        report.problems.append(Problem(where, f"{label} has rank {len(full)} in the config {shape_text(full)}{batch}, the "
                                              f"model's is rank {len(model)} {shape_text(model)}: write dims: {shape_text(want)}"))
        return
    fixed = []
    for axis, (m, c) in enumerate(zip(model, full)):
        if m == -1 and c == -1:
            continue
        if m == -1 and not exact and axis == 0 and c == 1 and mbs == 0:
            continue  # one frame per request: the batch dim fixed to 1, as the TensorRT profile has it
        if m == -1 and not exact:
            fixed.append((axis, c))
        elif m == -1:
            report.problems.append(Problem(where, f"{label} dim {axis} is {c} in the config but its size varies in the "
                                                  f"model: Triton requires -1 there"))
        elif c == -1:
            report.problems.append(Problem(where, f"{label} dim {axis} is -1 (any size) in the config but the model only "
                                                  f"takes {m}: write {m}"))
        elif c != m:
            report.problems.append(Problem(where, f"{label} dim {axis} is {c} in the config, the model's is {m}: write {m}"))
    if fixed:
        axes, sizes = (", ".join(str(x[i]) for x in fixed) for i in (0, 1))
        report.notes.append(Problem(where, f"{label} dim{'s' if len(fixed) > 1 else ''} {axes} fixed to {sizes} in the config "
                                           "(the model takes any size there): Triton will refuse requests of other sizes"))


def _check_accelerators(config: Any, io: ModelIO, model_path: Path, loc: Locator, report: Report) -> None:
    eas = config.optimization.execution_accelerators
    gpu_kinds = {g.kind for g in config.instance_group}
    for ea in eas.cpu_execution_accelerator:
        if ea.name not in CPU_ACCELERATORS:
            report.problems.append(Problem(loc.at(f'"{ea.name}"'), f"unknown CPU execution accelerator '{ea.name}': "
                                                                   f"the ONNX Runtime backend knows {', '.join(CPU_ACCELERATORS)}"))
    for ea in eas.gpu_execution_accelerator:
        if ea.name not in GPU_ACCELERATORS:
            report.problems.append(Problem(loc.at(f'"{ea.name}"'), f"unknown GPU execution accelerator '{ea.name}': the "
                                           f"ONNX Runtime backend knows {', '.join(GPU_ACCELERATORS)}{_did_you_mean(ea.name, GPU_ACCELERATORS)}"))
        elif ea.name == "tensorrt":
            if gpu_kinds and gpu_kinds <= {2}:  # KIND_CPU only (model_config.proto: KIND_CPU = 2)
                report.notes.append(Problem(loc.at('"tensorrt"'), "the TensorRT accelerator is ignored: every instance_group is KIND_CPU"))
            _check_tensorrt(dict(ea.parameters), io, model_path, loc, report)


def _check_tensorrt(params: dict[str, str], io: ModelIO, model_path: Path, loc: Locator, report: Report) -> None:
    """The TensorRT parameters as the ONNX Runtime backend parses them (an unknown key or a bad
    value stops the model loading), plus the profile shapes against the model's inputs."""
    bad = report.problems.append
    for key, value in params.items():
        where = loc.at(f'"{key}"')
        kind = TRT_PARAMS.get(key)
        if kind is None:
            fix = f"; write {TRT_ORT_NAMES[key]}" if key in TRT_ORT_NAMES else _did_you_mean(key, TRT_PARAMS)
            bad(Problem(where, f"unknown TensorRT accelerator parameter '{key}': Triton refuses to load the model{fix}"))
        elif kind == "precision" and value not in PRECISIONS:
            if value == "BF16":
                report.notes.append(Problem(where, "precision_mode BF16 needs a recent Triton (its ONNX Runtime backend); "
                                                   f"older ones accept only {', '.join(PRECISIONS)}"))
            else:
                bad(Problem(where, f"precision_mode '{value}': use one of {', '.join(PRECISIONS)}"))
        elif kind == "bool" and value.lower() not in BOOLS:
            bad(Problem(where, f"{key} '{value}' is not a boolean: write \"1\" or \"0\" (true/false, on/off)"))
        elif kind in ("int", "uint") and not re.fullmatch(r"-?\d+" if kind == "int" else r"\d+", value.strip()):
            bad(Problem(where, f"{key} '{value}' is not a{'' if kind == 'int' else ' non-negative'} whole number"))
    _check_cache(params, model_path, loc, report)
    _check_profiles(params, io, loc, report)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "on", "1")


def _check_cache(params: dict[str, str], model_path: Path, loc: Locator, report: Report) -> None:
    if _truthy(params.get("trt_engine_cache_enable")) and not params.get("trt_engine_cache_path"):
        report.notes.append(Problem(loc.at('"trt_engine_cache_enable"'), "the engine cache has no trt_engine_cache_path: "
                                    "engines go to the server's working folder and are rebuilt (minutes) after a restart"))
    if not _truthy(params.get("trt_engine_cache_enable")):
        report.notes.append(Problem(loc.path, "TensorRT's engine cache is off: every server start builds the engine again "
                                              '(minutes); add parameters { key: "trt_engine_cache_enable" value: "1" }'))
    prefix = params.get("trt_engine_cache_prefix", "")
    stamp = PREFIX_HASH.search(prefix)
    if stamp:
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:16]
        if digest != stamp.group(1):
            bad = prefix[: stamp.start()] + "_" + digest
            report.problems.append(Problem(loc.at('"trt_engine_cache_prefix"'), f"{model_path} changed since this config "
                                           "was written: its engine-cache prefix belongs to the old file, so TensorRT would "
                                           f"load the old model's engine; write value: \"{bad}\" (or write the model again)"))


def _check_profiles(params: dict[str, str], io: ModelIO, loc: Locator, report: Report) -> None:
    given = [k for k in PROFILE_KEYS if k in params]
    if not given:
        return
    where = loc.at(f'"{given[0]}"')
    if len(given) != 3:
        report.problems.append(Problem(where, f"TensorRT profile shapes need all of {', '.join(PROFILE_KEYS)}; "
                                              f"only {', '.join(given)} given"))
        return
    shapes: dict[str, dict[str, list[int]]] = {}
    for key in PROFILE_KEYS:
        try:
            shapes[key] = _parse_profile(params[key])
        except ValueError as exc:
            report.problems.append(Problem(loc.at(f'"{key}"'), f"{key}: {exc}"))
            return
    for name in shapes[PROFILE_KEYS[0]]:
        t = io.inputs.get(name)
        if t is None:
            report.problems.append(Problem(where, f"the TensorRT profile names '{name}', which is not a model input "
                                                  f"({', '.join(io.inputs)})"))
            continue
        lo, opt, hi = (shapes[k].get(name) for k in PROFILE_KEYS)
        if opt is None or hi is None:
            report.problems.append(Problem(where, f"'{name}' is in trt_profile_min_shapes but not in all three profile shapes"))
            continue
        for key, shape in zip(PROFILE_KEYS, (lo, opt, hi)):
            if t.dims is not None and (len(shape) != len(t.dims) or any(m != -1 and m != s for m, s in zip(t.dims, shape))):
                report.problems.append(Problem(loc.at(f'"{key}"'), f"{key} gives '{name}' the shape {'x'.join(map(str, shape))}, "
                                                                   f"which the model's {shape_text(t.dims)} does not allow"))
        if len(lo) == len(opt) == len(hi) and not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
            report.problems.append(Problem(where, f"TensorRT profile for '{name}' needs min ≤ opt ≤ max in every dim, got "
                                                  + " / ".join("x".join(map(str, s)) for s in (lo, opt, hi))))


def _parse_profile(text: str) -> dict[str, list[int]]:
    """'frame:1x64x64x3,latent:1' → {'frame': [1, 64, 64, 3], 'latent': [1]}."""
    out = {}
    for part in text.split(","):
        name, sep, dims = part.strip().rpartition(":")
        if not sep or not name:
            raise ValueError(f"expected NAME:D1xD2x..., got {part.strip()!r}")
        try:
            out[name] = [int(d) for d in dims.split("x")]
        except ValueError:
            raise ValueError(f"expected whole numbers joined by x, got {dims!r}") from None
    return out


# ---------------------------------------------------------------- running on the CPU
def run_on_cpu(folder: Path, hw: tuple[int, int]) -> dict[str, tuple[int, ...]]:
    """Run the model in ``folder`` once with ONNX Runtime on the CPU, fed what its config
    declares (dynamic image sides set to ``hw`` rounded up to the filter's size multiple, other
    dynamic dims 1), and check each output against the config's data type and dims. Returns
    the output shapes; raises UserError naming the first mismatch."""
    import numpy as np
    import onnxruntime as ort

    from tritonclient.grpc.model_config_pb2 import DataType

    text = (folder / CONFIG).read_text()
    config, problems, _ = parse_config(text, str(folder / CONFIG))
    if config is None or problems:
        raise UserError(str(problems[0]))
    files = _model_files(config, folder, Locator(str(folder / CONFIG), text), Report())
    if not files:
        raise UserError(f"{folder}: no model file to run")
    model_path = files[0][1]
    io = onnx_io(model_path)
    feeds = {}
    for t in config.input:
        dims = _model_dims(config, t)
        if config.max_batch_size > 0:
            dims = [1, *dims]
        model = io.inputs.get(t.name)
        feeds[t.name] = np.zeros(_concrete(dims, model.dims if model else None, hw, io.size_multiple),
                                 TRITON_TO_NUMPY[DataType.Name(t.data_type)])
        if feeds[t.name].dtype == np.uint8:
            feeds[t.name][...] = np.arange(feeds[t.name].size, dtype=np.int64).reshape(feeds[t.name].shape) % 251
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = [t.name for t in config.output]
    results = session.run(names, feeds)
    shapes = {}
    for t, value in zip(config.output, results):
        want = _model_dims(config, t)
        got = list(value.shape) or [1]
        if config.max_batch_size > 0:
            got = got[1:]
        if TRITON_TO_NUMPY.get(DataType.Name(t.data_type)) != str(value.dtype):
            raise UserError(f"{folder.name}: output '{t.name}' came back {value.dtype}, the config says {DataType.Name(t.data_type)}")
        if len(got) != len(want) or any(w not in (-1, g) for w, g in zip(want, got)):
            raise UserError(f"{folder.name}: output '{t.name}' came back {list(value.shape)}, the config says {shape_text(want)}")
        shapes[t.name] = tuple(value.shape)
    log.info("%s ran on the CPU: %s", folder.name, ", ".join(f"{k} {list(v)}" for k, v in shapes.items()))
    return shapes


def _concrete(dims: list[int], model: tuple[int, ...] | None, hw: tuple[int, int], multiple: int) -> tuple[int, ...]:
    """Sizes for the -1 dims of an input: the image's H and W (NHWC when the last dim is 3,
    else NCHW) from ``hw`` rounded up to ``multiple``; any other -1 is 1."""
    shape = list(dims)
    if len(shape) == 4:
        axes = (1, 2) if shape[3] == 3 or (model and model[3] == 3) else (2, 3)
        for axis, side in zip(axes, hw):
            if shape[axis] == -1:
                shape[axis] = -(-side // multiple) * multiple
    return tuple(1 if d == -1 else d for d in shape)


def docker_command(repo: Path, cache: str = SERVER_CACHE) -> str:
    """The command that serves ``repo`` with the Triton release matching tritonclient 2.51."""
    return (f"docker run --gpus all --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 -v {Path(repo).resolve()}:/models "
            f"-v {Path(repo).resolve().parent / 'trt_cache'}:{cache} nvcr.io/nvidia/tritonserver:24.10-py3 "
            "tritonserver --model-repository=/models")
