"""A model repository for NVIDIA Triton Inference Server, and an offline checker of one.

    realtime-export triton REPO [--filters NAME ...] [--variant full|fast] [--graph frame|float] [--fp16]
    realtime-export triton REPO --check [--run]

Why: a GPU behind Triton serves many callers at once (on 2 CPU cores even the fast watercolour
student takes 14.0 ms per 640x480 frame, watercolor.fast.json), but Triton says what is wrong with
a repository only when it loads it, on the GPU machine, one error per model, and each fix costs
a reload (TensorRT's first engine build takes minutes). So the repository is checked here,
offline, against Triton's own schema
(``model_config.proto`` from ``tritonclient``: an unknown field or a typo'd enum is refused with
its line and column) and against each ONNX file's inputs and outputs with the rules Triton's
ONNX Runtime backend applies at load (names, data types, ranks, fixed vs dynamic dims, batch
dim, the TensorRT accelerator's parameter names and values). Every problem is one line.

What is written, per filter (``REPO/NAME/config.pbtxt`` + ``REPO/NAME/1/model.onnx``):

* the uint8 frame graph (:mod:`realtime.filters.frame_graph`: 1x3xHxW RGB planes in and out, a
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

The package: :mod:`~export.triton.common` (names, limits, problems, an ONNX file's tensors),
:mod:`~export.triton.schema` (Triton's own schema), :mod:`~export.triton.write`,
:mod:`~export.triton.check`, :mod:`~export.triton.run` (ONNX Runtime on the CPU, the docker
command).
"""

from __future__ import annotations

from export.triton.check import check_model, check_repository
from export.triton.common import PROFILE_KEYS, SERVER_CACHE, Problem, Report, WriteOptions
from export.triton.run import docker_command, run_on_cpu
from export.triton.schema import model_config_class, parse_config
from export.triton.write import write_repository

__all__ = ["PROFILE_KEYS", "SERVER_CACHE", "Problem", "Report", "WriteOptions", "check_model", "check_repository",
           "docker_command", "model_config_class", "parse_config", "run_on_cpu", "write_repository"]
