"""Build and cache a TensorRT engine for a model through ONNX Runtime's TensorRT provider.

The engine (fp16, one min/opt/max shape profile) and the timing cache go to the user's cache
folder, where ``realtime --provider tensorrt`` (or ``auto``) finds them on the next start.
Where TensorRT is not available this says so in one line and fails; it never pretends.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from realtime.errors import UserError
from realtime.filters.providers import ORT_NAMES, ShapeProfile, cache_dir

log = logging.getLogger(__name__)


def build_engine(onnx_path: Path, profile: ShapeProfile) -> Path:
    """Create the TensorRT session realtime will create (same frame-I/O graph, same engine-cache
    key), which builds or loads the cached engine, and run it once at the profile's opt size."""
    import onnxruntime as ort
    from tqdm import tqdm

    from realtime.filters.engine import FilterModel

    unavailable = (
        "TensorRT is not available: {why}; it needs onnxruntime-gpu with an NVIDIA GPU and the CUDA 13, "
        "cuDNN 9 and TensorRT 10 libraries. No engine was built"
    )
    if not Path(onnx_path).is_file():
        raise UserError(f"model file {onnx_path} does not exist")
    if ORT_NAMES["tensorrt"] not in ort.get_available_providers():
        raise UserError(unavailable.format(why="this ONNX Runtime build has no TensorrtExecutionProvider"))
    require_cache_folder(cache_dir() / "tensorrt")
    with tqdm(total=2, desc=f"TensorRT engine for {Path(onnx_path).name}", unit="step") as bar:
        bar.set_postfix_str("building (minutes on first run, cached afterwards)")
        start = time.perf_counter()
        try:
            model = FilterModel(Path(onnx_path), "tensorrt", profile=profile)
        except UserError as exc:
            if "asked for, but ONNX Runtime gave" not in str(exc):
                raise
            raise UserError(unavailable.format(why="ONNX Runtime could not load its TensorRT provider")) from None
        bar.update(1)
        model.warmup(profile.opt_hw)
        bar.update(1)
    if model.provider != "tensorrt":
        raise UserError(f"TensorRT session fell back to {model.provider}: no engine was built")
    folder = cache_dir() / "tensorrt"
    log.info("engine ready in %.1f s; cache in %s", time.perf_counter() - start, folder)
    return folder


def require_cache_folder(folder: Path) -> None:
    """The engine cache must be writable before minutes of building; say where it is if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write the TensorRT engine cache {folder} ({exc.strerror or exc}): "
                        "make it writable or, on Linux, set XDG_CACHE_HOME to a writable folder") from None
