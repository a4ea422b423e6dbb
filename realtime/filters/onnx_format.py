"""The ONNX filter file format: the one reader, the one writer and the one rule for variant file names.

Every exported model carries these ``metadata_props`` (all strings)::

    filter.name           cartoon
    filter.kind           frame (whole image) | face (aligned face crop)
    filter.input_range    0-255 | 0-1          (output uses the same range)
    filter.size_multiple  4                    (height and width must be multiples)
    filter.fixed_size     HxW or empty         (foreign models with fixed shapes; stored height first)
    filter.latent_codes   K (0 = no latent input)
    filter.latent_names   comma-separated names of the K codes (optional)
    filter.work_size      the short side it is meant to run at, e.g. 256
    filter.license        licence of the weights
    filter.source         where the weights came from
    filter.post           a step the runtime draws after the network, or empty (face filters: creases)
    filter.post_styles    comma-separated style of that step per latent code (one name: every code)
    filter.temporal_keep       the stabiliser's keep for this filter's output, or absent (the runtime's default)
    filter.temporal_threshold  the input change (0–255) at which its new output wins fully, or absent
    filter.temporal_floor      the input change up to which the old output is held fully, or absent

Inputs: ``input`` float32 N×3×H×W RGB, plus ``latent`` int64 [1] when latent_codes > 0.
Output: ``output`` float32 N×3×H×W RGB, already clamped to the input range.

Foreign ONNX files without metadata still run: :meth:`FilterContract.infer` reads what it can
from the input shape and the caller overrides the rest.
Variants of a filter sit beside it: ``NAME.fast.onnx`` (a light CPU student),
``NAME.fp16.onnx`` and ``NAME.int8.onnx`` (other precisions); :func:`variant_path` is the rule.
:func:`inspect` makes every check realtime makes before it runs a file, without a session, so
``realtime-export info`` prints exactly what ``realtime`` will run. No torch here.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import onnx
from onnx import TensorProto, helper

from realtime.config import parse_pair
from realtime.errors import UserError, first_line
from realtime.filters.frame_graph import shape_of

if TYPE_CHECKING:
    from realtime.compositing.temporal import TemporalConfig

PREFIX = "filter."
KINDS = ("frame", "face")
RANGES = ("0-255", "0-1")
# creases: the aged filter's wrinkles from the tracked mesh; texture+creases: its rougher skin, then
# the wrinkles (realtime.filters.kinds.creases)
POSTS = ("", "creases", "texture+creases")
REWRITE_HINT = "rewrite it with `realtime-export import-onnx MODEL -o NEW.onnx` (options set what it cannot infer)"


@dataclass(frozen=True)
class FilterContract:
    name: str
    kind: str = "frame"
    input_range: str = "0-255"
    size_multiple: int = 4
    fixed_size: tuple[int, int] | None = None  # (height, width)
    latent_codes: int = 0
    latent_names: tuple[str, ...] = ()
    work_size: int = 256
    license: str = "unknown"
    source: str = "unknown"
    # a step the face filter draws on the network's output crop (the network was trained without it)
    post: str = ""
    post_styles: tuple[str, ...] = ()  # that step's style for each latent code (one: for all)
    # the temporal stabiliser's settings measured for this filter (realtime.compositing.temporal;
    # None: the runtime's default, swept on cartoon): networks that draw their own 2-px strokes turn
    # camera noise into stroke changes and need a firmer hold (benchmarks.flicker)
    temporal_keep: float | None = None
    temporal_threshold: float | None = None
    temporal_floor: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"filter kind must be one of {KINDS}, got {self.kind!r}")
        if self.input_range not in RANGES:
            raise UserError(f"filter input range must be one of {RANGES}, got {self.input_range!r}")
        if self.size_multiple < 1 or self.work_size < 1 or self.latent_codes < 0:
            raise UserError(f"filter size_multiple and work_size must be ≥ 1 and latent_codes ≥ 0, got size_multiple="
                            f"{self.size_multiple}, work_size={self.work_size}, latent_codes={self.latent_codes}")
        if self.latent_names and len(self.latent_names) != self.latent_codes:
            raise UserError(f"{len(self.latent_names)} latent names given for {self.latent_codes} codes")
        if self.post not in POSTS:
            raise UserError(f"filter post step must be one of {', '.join(p or 'empty' for p in POSTS)}, got {self.post!r}")
        if self.post and self.kind != "face":
            raise UserError(f"the post step {self.post!r} is drawn on face crops: a {self.kind} filter cannot ask for it")
        if self.post and len(self.post_styles) not in (1, max(self.latent_codes, 1)):
            raise UserError(f"post step {self.post!r} needs one style or one per latent code ({max(self.latent_codes, 1)}), "
                            f"got {len(self.post_styles)}")
        if self.post:
            from realtime.filters.kinds.creases import AGE_STYLES

            unknown = [s for s in self.post_styles if s not in AGE_STYLES]
            if unknown:
                raise UserError(f"unknown crease style {', '.join(unknown)}; known: {', '.join(AGE_STYLES)}")
        elif self.post_styles:
            raise UserError(f"post styles {', '.join(self.post_styles)} given without a post step")
        try:
            self.temporal()
        except ValueError as exc:
            raise UserError(f"filter stabiliser settings (temporal_*): {exc}") from None

    def temporal(self) -> "TemporalConfig | None":
        """The stabiliser settings this filter asks for (the default's for what it leaves out),
        or None: the stream's."""
        from realtime.compositing.temporal import own_config

        return own_config(self.temporal_keep, self.temporal_threshold, self.temporal_floor)

    @property
    def scale(self) -> float:
        """Multiply 0–1 pixels by this to get the model's input range."""
        return 255.0 if self.input_range == "0-255" else 1.0

    def to_props(self) -> dict[str, str]:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "fixed_size":
                value = f"{value[0]}x{value[1]}" if value else ""
            elif f.name in ("latent_names", "post_styles"):
                value = ",".join(value)
            if f.name in ("post", "post_styles") and not value:
                continue  # only a model that asks for a post step carries its keys
            if f.name in TEMPORAL_FIELDS and value is None:
                continue  # only a model with its own stabiliser settings carries them
            out[PREFIX + f.name] = str(value)
        return out

    @classmethod
    def from_props(cls, props: Mapping[str, str], fallback_name: str = "model") -> "FilterContract":
        """Read the contract from metadata; missing keys keep their defaults."""
        values: dict[str, object] = {}
        try:
            for f in fields(cls):
                raw = props.get(PREFIX + f.name)
                if raw is None:
                    continue
                if f.name in ("size_multiple", "latent_codes", "work_size"):
                    values[f.name] = int(raw)
                elif f.name == "fixed_size":
                    values[f.name] = _stored_hw(raw) if raw else None
                elif f.name in ("latent_names", "post_styles"):
                    values[f.name] = tuple(s for s in raw.split(",") if s)
                elif f.name in TEMPORAL_FIELDS:
                    values[f.name] = float(raw) if raw else None
                else:
                    values[f.name] = raw
        except ValueError as exc:
            raise UserError(f"model metadata {PREFIX}{f.name}={raw!r} is malformed: {exc}; {REWRITE_HINT}") from None
        values.setdefault("name", fallback_name)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except UserError as exc:
            raise UserError(f"model metadata is invalid: {exc}; {REWRITE_HINT}") from None

    @classmethod
    def infer(cls, name: str, input_shape: Sequence[object], **overrides: object) -> "FilterContract":
        """Guess a contract for a foreign model from its input shape (fixed H, W if numeric)."""
        h, w = (input_shape[2], input_shape[3]) if len(input_shape) == 4 else (None, None)
        fixed = (h, w) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None
        base = cls(name=name, fixed_size=fixed, work_size=min(fixed) if fixed else 256, source="foreign ONNX file")
        return replace(base, **overrides)  # type: ignore[arg-type]



# the stabiliser settings a contract may carry (FilterContract.temporal)
TEMPORAL_FIELDS = tuple(f.name for f in fields(FilterContract) if f.name.startswith("temporal_"))


# The IR version of the small graphs built here from scratch (the provider probe, the benchmarks'
# frame I/O, the tests' tiny filters). onnx.helper.make_model stamps its own newest, IR 14 from
# onnx 1.23, which ONNX Runtime 1.31 refuses ("max supported IR version: 13"): where onnx 1.23 is
# installed beside onnxruntime-gpu, the provider probe stopped every start with a traceback. The
# lock keeps onnx 1.22 (1.23 needs protobuf >= 6.31, mediapipe 0.10.21 < 5), but the GPU
# machine's image has 1.23.1, as will any install without mediapipe's pin. IR 8 is what opsets
# 13-17 need and what every ONNX Runtime this project supports (>= 1.18) reads. A filter's own
# graph keeps the IR version it was exported with.
BUILT_IR_VERSION = 8


def built_model(graph: onnx.GraphProto, opset: int) -> onnx.ModelProto:
    """A model of ``graph`` at ``opset`` of the default domain, at :data:`BUILT_IR_VERSION`."""
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=BUILT_IR_VERSION)


def has_contract(props: Mapping[str, str]) -> bool:
    """True when metadata holds at least one ``filter.*`` key."""
    return any(k.startswith(PREFIX) for k in props)


def _stored_hw(text: str) -> tuple[int, int]:
    """``filter.fixed_size`` as stored in files: 'HxW' → (H, W)."""
    return parse_pair(text, "HxW, e.g. 224x224")


# ---------------------------------------------------------------- reading
def make_parent(path: Path) -> None:
    """Create the folder ``path`` goes in; a folder that cannot be made gives one clear line."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder for {path} ({exc.strerror or exc}): choose another output path") from None


def save_atomic(proto: Any, path: Path) -> None:
    """Write ``proto`` to ``path`` through a temporary file, so a failed write never leaves half a model."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        onnx.save(proto, str(tmp))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path} ({exc.strerror or exc}): choose another output path or free some space") from None


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a non-empty file; otherwise one clear line saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder: pass the file itself")
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist")
    if path.stat().st_size == 0:
        raise UserError(f"{what} {path} is empty (0 bytes): the download or save was cut short; get the file again")
    return path


def load_model_proto(path: Path, weights: bool = False) -> Any:
    """The ONNX model in ``path``; a missing, empty, corrupt or graph-less file gives one clear line
    (``onnx.load`` reads an empty or foreign file as an empty model without complaint)."""
    path = require_file(path, "model file")
    try:
        proto = onnx.load(str(path), load_external_data=weights)
    except OSError as exc:  # unreadable, or (with weights) an external-data file missing
        raise UserError(f"cannot read {path} ({exc.strerror or first_line(exc)}): check the file, its permissions "
                        "and any external-data files beside it") from None
    except Exception as exc:  # protobuf and onnx raise many types for a damaged file
        raise UserError(f"{path} is corrupt or not an ONNX file ({first_line(exc)}): export or download it again") from None
    if not proto.ir_version or not proto.graph.node or not proto.graph.output:
        raise UserError(f"{path} is corrupt or not an ONNX file (it holds no model graph): export or download it again")
    return proto


def image_input(proto: Any, path: Path) -> tuple[str, list[object]]:
    """(name, shape) of the model's one 4-D graph input (initializers listed as inputs skipped)."""
    weights = {t.name for t in proto.graph.initializer}
    shapes = {i.name: shape_of(i) for i in proto.graph.input if i.name not in weights}
    images = [name for name, shape in shapes.items() if len(shape) == 4]
    if len(images) != 1:
        raise UserError(f"{Path(path).name} is not an image filter: it needs one N×3×H×W input, has {list(shapes.items())}")
    return images[0], shapes[images[0]]


def contract_of(proto: Any, path: Path, **overrides: object) -> FilterContract:
    """The contract stored in the model's metadata, or inferred from its input shape (the one
    rule: foreign files without metadata run with what their shape says)."""
    props = {p.key: p.value for p in proto.metadata_props}
    if has_contract(props):
        contract = FilterContract.from_props(props, fallback_name=Path(path).stem)
        return replace(contract, **overrides) if overrides else contract  # type: ignore[arg-type]
    return FilterContract.infer(Path(path).stem, image_input(proto, path)[1], **overrides)


def read_contract(path: Path) -> FilterContract:
    """The contract realtime runs the file in ``path`` with (weights are not read)."""
    return contract_of(load_model_proto(path), path)


def check_float_io(proto: Any, input_name: str, path: Path) -> None:
    """Realtime feeds float32 images and reads float32 images: say so for other input/output types."""
    outputs = list(proto.graph.output[:1])
    image = [i for i in proto.graph.input if i.name == input_name][:1]
    for kind, value in (("input", image), ("output", outputs)):
        elem = value[0].type.tensor_type.elem_type if value else TensorProto.UNDEFINED
        if elem != TensorProto.FLOAT:
            dtype = TensorProto.DataType.Name(elem).lower()
            fix = ("convert it keeping float32 inputs and outputs (onnxconverter-common convert_float_to_float16(..., "
                   "keep_io_types=True), as `realtime-export onnx --fp16` does)" if elem == TensorProto.FLOAT16
                   else "export it with a float32 N×3×H×W image input and output")
            name = value[0].name if value else "none"
            raise UserError(f"{Path(path).name} has a {dtype} image {kind} ({name!r}); filters take and return float32 images: {fix}")


@dataclass(frozen=True)
class ModelFile:
    """An ONNX filter file after every check realtime makes before it runs one."""

    path: Path
    proto: Any  # onnx.ModelProto
    input_name: str
    contract: FilterContract
    stored: bool  # the contract was in the file's metadata (False: inferred from its input shape)
    framed: Any  # the graph with uint8 frame input/output added (what realtime's session runs)


def inspect(path: Path, weights: bool = False, **overrides: object) -> ModelFile:
    """Read ``path`` and check it is an image filter realtime can run: one float32 N×3×H×W
    input, a float32 4-D output of 3 channels when its shape says, a graph the uint8 frame
    I/O can be added to; any other file gives one clear line. No session is made."""
    from realtime.filters.frame_graph import with_frame_io

    path = Path(path)
    proto = load_model_proto(path, weights)
    input_name, _ = image_input(proto, path)
    check_float_io(proto, input_name, path)
    out = proto.graph.output[0]
    dims = shape_of(out) if out.type.tensor_type.HasField("shape") else None
    if dims is not None and len(dims) != 4:
        raise UserError(f"{path.name} is not an image filter: its output has shape {dims}, not N×3×H×W")
    if dims is not None and isinstance(dims[1], int) and dims[1] != 3:
        raise UserError(f"{path.name} is not an image filter: it returns {dims[1]} channels, a filter returns 3 (RGB)")
    contract = contract_of(proto, path, **overrides)
    try:
        framed = with_frame_io(proto, input_name, contract.scale)
    except ValueError as exc:
        raise UserError(f"{path.name} is not an image filter realtime can run: {exc}") from None
    return ModelFile(path, proto, input_name, contract, has_contract({p.key: p.value for p in proto.metadata_props}), framed)


# ---------------------------------------------------------------- writing
def write_contract(proto: Any, contract: FilterContract) -> None:
    """Replace the ``filter.*`` metadata of ``proto`` with ``contract`` (other keys kept)."""
    keep = [(p.key, p.value) for p in proto.metadata_props if not p.key.startswith("filter.")]
    del proto.metadata_props[:]
    for key, value in keep + list(contract.to_props().items()):
        proto.metadata_props.add(key=key, value=value)


# ---------------------------------------------------------------- variants
VARIANT_TAGS = ("fast", "fp16", "int8")


def variant_path(path: Path, tag: str) -> Path:
    """``NAME.TAG.onnx`` for ``NAME.onnx`` (or ``NAME.fast.TAG.onnx`` for a student's precision
    variant): the one naming rule for a filter's variants."""
    path = Path(path)
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.stem
    return path.with_name(f"{stem}.{tag}.onnx")


def variant_of(path: Path, tag: str) -> Path | None:
    """The ``tag`` variant file beside ``path``, if there is one."""
    candidate = variant_path(path, tag)
    return candidate if candidate.is_file() and candidate != Path(path) else None


def is_variant(path: Path) -> bool:
    """``NAME.fast.onnx`` and the like, as opposed to a filter's own fp32 file."""
    name = Path(path).name
    return any(name.endswith(f".{tag}.onnx") for tag in VARIANT_TAGS)
