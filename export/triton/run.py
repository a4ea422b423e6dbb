"""Running a written model once with ONNX Runtime on the CPU, and the command that serves the
repository."""
from __future__ import annotations

import logging
from pathlib import Path

from export.triton.check import Locator, model_dims, model_files
from export.triton.common import CONFIG, SERVER_CACHE, TRITON_TO_NUMPY, Report, onnx_io, shape_text
from export.triton.schema import parse_config
from realtime.errors import UserError

log = logging.getLogger(__name__)

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
    files = model_files(config, folder, Locator(str(folder / CONFIG), text), Report())
    if not files:
        raise UserError(f"{folder}: no model file to run")
    model_path = files[0][1]
    io = onnx_io(model_path)
    feeds = {}
    for t in config.input:
        dims = model_dims(config, t)
        if config.max_batch_size > 0:
            dims = [1, *dims]
        feeds[t.name] = np.zeros(_concrete(dims, hw, io.size_multiple),
                                 TRITON_TO_NUMPY[DataType.Name(t.data_type)])
        if feeds[t.name].dtype == np.uint8:
            feeds[t.name][...] = np.arange(feeds[t.name].size, dtype=np.int64).reshape(feeds[t.name].shape) % 251
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = [t.name for t in config.output]
    results = session.run(names, feeds)
    shapes = {}
    for t, value in zip(config.output, results):
        want = model_dims(config, t)
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


def _concrete(dims: list[int], hw: tuple[int, int], multiple: int) -> tuple[int, ...]:
    """Sizes for the -1 dims of an input: the image's H and W (N×3×H×W: both graphs) from
    ``hw`` rounded up to ``multiple``; any other -1 is 1."""
    shape = list(dims)
    if len(shape) == 4:
        for axis, side in zip((2, 3), hw):
            if shape[axis] == -1:
                shape[axis] = -(-side // multiple) * multiple
    return tuple(1 if d == -1 else d for d in shape)


def docker_command(repo: Path, cache: str = SERVER_CACHE) -> str:
    """The command that serves ``repo`` with the Triton release matching tritonclient 2.51."""
    return (f"docker run --gpus all --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 -v {Path(repo).resolve()}:/models "
            f"-v {Path(repo).resolve().parent / 'trt_cache'}:{cache} nvcr.io/nvidia/tritonserver:24.10-py3 "
            "tritonserver --model-repository=/models")
