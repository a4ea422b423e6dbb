"""Writing a repository: each filter's ``config.pbtxt`` and ``1/model.onnx``."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Iterable, Sequence

from export.triton.common import (CONFIG, ONNX_FILE, PROFILE_HW, PROFILE_KEYS, WORKSPACE_BYTES, ModelIO, Tensor, WriteOptions,
                                   onnx_io, shape_text)
from export.triton.schema import model_config_class
from realtime.errors import UserError

log = logging.getLogger(__name__)

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
    axes = (2, 3)  # both graphs are N×3×H×W: the frame graph's uint8 planes, the float graph
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
    fmt = ("frame: uint8 1x3xHxW RGB planes in, frame_out: the same out, checksum: float sum of the image (finite unless the model broke)"
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
