"""Checking a repository offline with the rules Triton's ONNX Runtime backend applies at load."""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from export.triton.common import (BOOLS, CONFIG, CPU_ACCELERATORS, GPU_ACCELERATORS, ONNX_FILE, PRECISIONS, PREFIX_HASH,
                                   PROFILE_KEYS, TRT_ORT_NAMES, TRT_PARAMS, ModelIO, Problem, Report, onnx_io, shape_text)
from export.triton.schema import did_you_mean, parse_config
from export.triton.write import config_dims
from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)

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
        for _, model_path in model_files(config, folder, loc, checks):
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
    if did_you_mean(given, ["onnxruntime", "onnxruntime_onnx"]):
        report.problems.append(Problem(loc.at(given), f'unknown backend "{given}"{did_you_mean(given, ["onnxruntime", "onnxruntime_onnx"])}'))
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


def model_files(config: Any, folder: Path, loc: Locator, report: Report) -> list[tuple[int, Path]]:
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


def model_dims(config: Any, t: Any) -> list[int]:
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
                                                      f"{', '.join(model) or 'none'}{did_you_mean(t.name, model)}"))
                continue
            if t.data_type and _type_name(t.data_type) != found.triton_type:
                report.problems.append(Problem(loc.at("data_type", after=f'"{t.name}"'),
                                               f"{kind} '{t.name}' is {_type_name(t.data_type)} in the config, the model's "
                                               f"is {found.triton_type}: write data_type: {found.triton_type}"))
            if t.dims:
                _check_dims(kind, t.name, found.dims, model_dims(config, t), mbs, exact, where, report)
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
                                           f"ONNX Runtime backend knows {', '.join(GPU_ACCELERATORS)}{did_you_mean(ea.name, GPU_ACCELERATORS)}"))
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
            fix = f"; write {TRT_ORT_NAMES[key]}" if key in TRT_ORT_NAMES else did_you_mean(key, TRT_PARAMS)
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
