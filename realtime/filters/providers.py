"""ONNX Runtime sessions on the best provider there is, and proof of which one was used.

``auto`` tries TensorRT (fp16, engine + timing cache in the user's cache folder), then CUDA,
then CPU. ONNX Runtime silently falls back to CPU when a GPU provider cannot load, so after
creating a session we compare ``get_providers()`` with what was asked and say so loudly.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)

ORT_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
CHOICES = ("auto", *ORT_NAMES)


def cache_dir() -> Path:
    """Per-user cache folder for TensorRT engines and timing caches."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "realtime-filters"


@dataclass(frozen=True)
class ShapeProfile:
    """TensorRT optimisation profile for the ``frame`` input realtime feeds (uint8 1×3×H×W RGB
    planes, see :mod:`realtime.filters.frame_graph`)."""

    min_hw: tuple[int, int] = (64, 64)
    opt_hw: tuple[int, int] = (480, 640)
    max_hw: tuple[int, int] = (1088, 1920)

    def option(self, hw: tuple[int, int], name: str = "frame") -> str:
        return f"{name}:1x3x{hw[0]}x{hw[1]}"


def engine_prefix(label: str, data: bytes) -> str:
    """TensorRT engine-cache file prefix: the model's name and a hash of its bytes, so a
    retrained model with the same name and graph never picks up the old model's engine."""
    return re.sub(r"[^A-Za-z0-9_]", "_", label) + "_" + hashlib.sha256(data).hexdigest()[:16]


def tensorrt_options(profile: ShapeProfile | None, fp16: bool = True, input_name: str = "frame",
                     prefix: str | None = None) -> dict[str, Any]:
    folder = cache_dir() / "tensorrt"
    folder.mkdir(parents=True, exist_ok=True)
    opts: dict[str, Any] = {
        "trt_fp16_enable": fp16,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(folder),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(folder),
        "trt_max_workspace_size": 2 << 30,
    }
    if prefix:
        opts["trt_engine_cache_prefix"] = prefix
    if profile is not None:
        opts["trt_profile_min_shapes"] = profile.option(profile.min_hw, input_name)
        opts["trt_profile_opt_shapes"] = profile.option(profile.opt_hw, input_name)
        opts["trt_profile_max_shapes"] = profile.option(profile.max_hw, input_name)
    return opts


def provider_chain(choice: str, profile: ShapeProfile | None = None, input_name: str = "frame",
                   prefix: str | None = None) -> list[Any]:
    """The providers list to hand ONNX Runtime for ``choice`` (auto|tensorrt|cuda|cpu)."""
    import onnxruntime as ort

    if choice not in CHOICES:
        raise UserError(f"unknown provider {choice!r}; choose one of {', '.join(CHOICES)}")
    available = set(ort.get_available_providers())
    wanted = ["tensorrt", "cuda", "cpu"] if choice == "auto" else list(dict.fromkeys([choice, "cpu"]))
    chain: list[Any] = []
    for name in wanted:
        ort_name = ORT_NAMES[name]
        if ort_name not in available:
            if choice == name:
                raise UserError(
                    f"--provider {name} asked for, but this ONNX Runtime build has no {ort_name} "
                    f"(available: {', '.join(sorted(available))}); install onnxruntime-gpu with CUDA/TensorRT or use --provider cpu"
                )
            continue
        chain.append((ort_name, tensorrt_options(profile, input_name=input_name, prefix=prefix)) if name == "tensorrt" else ort_name)
    return chain


def verify_providers(session: Any, choice: str) -> str:
    """Return the provider ONNX Runtime really runs on; fail or warn when it is not the one asked."""
    used = session.get_providers()[0]
    if choice in ("tensorrt", "cuda") and used != ORT_NAMES[choice]:
        raise UserError(
            f"--provider {choice} asked for, but ONNX Runtime gave {used} (the GPU provider failed to load: "
            "check the CUDA/cuDNN/TensorRT libraries onnxruntime-gpu needs, or use --provider cpu)"
        )
    if choice == "auto" and used == ORT_NAMES["cpu"]:
        _say_gpu_did_not_load()
    return used


@functools.cache
def _say_gpu_did_not_load() -> None:
    """Once per process, at info level: with ``auto`` nobody asked for a GPU, so running on
    the CPU of a machine without one is information, not a fault (``--provider cuda`` or
    ``tensorrt`` stays an error)."""
    import onnxruntime as ort

    gpu = [p for p in ORT_NAMES.values() if p != ORT_NAMES["cpu"]]
    if any(p in ort.get_available_providers() for p in gpu):
        log.info("running on CPU: onnxruntime-gpu is installed but its GPU providers did not load "
                 "(no NVIDIA GPU, or CUDA 13 / cuDNN 9 libraries missing)")


@functools.cache
def load_gpu_libraries() -> None:
    """Once per process, before the first GPU session: onnxruntime-gpu's own loader of the CUDA
    and cuDNN libraries installed as NVIDIA's pip packages (``pip install
    'onnxruntime-gpu[cuda,cudnn]'``), which ONNX Runtime does not find by itself unless CUDA is
    installed system-wide or torch was imported first (this runtime never imports it). Where they
    are not there it loads nothing; what it prints about that goes to the debug log."""
    import onnxruntime as ort

    preload = getattr(ort, "preload_dlls", None)  # onnxruntime-gpu 1.21 and later
    if preload is None:
        return
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            preload()
    except Exception as exc:  # a broken install: the session's provider check says what runs
        log.debug("onnxruntime.preload_dlls failed: %s", first_line(exc))
    if said.getvalue().strip():
        log.debug("onnxruntime.preload_dlls: %s", " ".join(said.getvalue().split()))


@functools.cache
def probe(choice: str = "auto") -> str:
    """The provider (tensorrt|cuda|cpu) a session made with ``choice`` really gets, found
    once per process before any model is loaded, so the variant to run (a CPU student, an
    fp16 export) is chosen before its session is made. Free when the answer is known without
    a session (``cpu``, or a build without GPU providers); otherwise one session of a
    one-node model (a few ms), whose fallback is verified like any other."""
    import onnxruntime as ort

    if choice not in CHOICES:
        raise UserError(f"unknown provider {choice!r}; choose one of {', '.join(CHOICES)}")
    gpu = {ORT_NAMES["tensorrt"], ORT_NAMES["cuda"]} & set(ort.get_available_providers())
    if choice == "cpu" or (choice == "auto" and not gpu):
        if choice == "auto":
            _say_gpu_did_not_load()
        return "cpu"
    from onnx import TensorProto, helper

    from realtime.filters.onnx_format import built_model

    load_gpu_libraries()

    graph = helper.make_graph([helper.make_node("Identity", ["frame"], ["out"])], "probe",
                              [helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, "h", "w", 3])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, "h", "w", 3])])
    data = built_model(graph, 13).SerializeToString()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    ort.set_default_logger_severity(4)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            session = ort.InferenceSession(data, sess_options=opts, providers=provider_chain(choice, ShapeProfile(), prefix="probe"))
    finally:
        ort.set_default_logger_severity(3)
    return short_name(verify_providers(session, choice))


def short_name(ort_name: str) -> str:
    return {v: k for k, v in ORT_NAMES.items()}.get(ort_name, ort_name)


def create_session(
    path: Path, choice: str = "auto", profile: ShapeProfile | None = None, threads: int = 0,
    data: bytes | None = None, quantized: bool = True,
) -> tuple[Any, str]:
    """(session, provider really used) for ONNX file ``path`` (or its in-memory rewrite
    ``data``, e.g. with frame I/O added); bad files give one clear line. ``quantized=False``
    (a float graph whose only Quantize/DequantizeLinear are the frame's conversion) turns ONNX
    Runtime's int8 rewrites off: they copy the frame's DequantizeLinear once per reader (four
    full-size passes for the cartoon student, where one is needed: 44.8 → 44.3 ms at 512×384 on
    one thread, p10 of 150 interleaved runs; the same output)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} does not exist")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    # ONNX Runtime's threads spin between the operators of a run and, by default, for a while
    # after it; between camera frames that steals the few cores the capture and output threads
    # need (p95 latency 95 → 61 ms for a style student at 640×480 on 2 cores, when they were
    # made to sleep instead). force_spinning_stop keeps the spin inside a run (a worker picks up
    # the next operator without a wake-up) and stops it the moment the run returns: on the
    # 2-core CPU the networks ran 7 % faster and the loop 3 % more frames end to end, in all 12
    # rows of five interleaved pairs of runs (benchmarks/results/ort-spin-s27-cpu)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    if not quantized:
        opts.add_session_config_entry("session.disable_quant_qdq", "1")
    wants_trt = choice in ("auto", "tensorrt") and ORT_NAMES["tensorrt"] in ort.get_available_providers()
    prefix = engine_prefix(path.stem, data if data is not None else path.read_bytes()) if wants_trt else None  # hash only for TensorRT
    chain = provider_chain(choice, profile, prefix=prefix)
    if chain != [ORT_NAMES["cpu"]]:  # a GPU provider this build has (provider_chain keeps only those)
        load_gpu_libraries()
    # A GPU provider that cannot load makes ONNX Runtime print a banner on stdout and native
    # errors on stderr before it falls back to CPU; verify_providers says it in one line instead.
    ort.set_default_logger_severity(4)
    banner = io.StringIO()
    try:
        with contextlib.redirect_stdout(banner):
            session = ort.InferenceSession(data if data is not None else str(path), sess_options=opts, providers=chain)
    except Exception as exc:
        raise UserError(f"cannot load model {path}: corrupt or not a valid ONNX file ({first_line(exc)})") from None
    finally:
        ort.set_default_logger_severity(3)
    if banner.getvalue().strip():
        log.debug("onnxruntime: %s", banner.getvalue().strip())
    return session, verify_providers(session, choice)
