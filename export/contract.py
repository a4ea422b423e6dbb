"""The contract between export/ and realtime/: how to run an ONNX filter, stored in the file.

Every exported model carries these ``metadata_props`` (all strings)::

    filter.name           cartoon
    filter.kind           frame (whole image) | face (aligned face crop)
    filter.input_range    0-255 | 0-1          (output uses the same range)
    filter.size_multiple  4                    (height and width must be multiples)
    filter.fixed_size     HxW or empty         (foreign models with fixed shapes)
    filter.latent_codes   K (0 = no latent input)
    filter.latent_names   comma-separated names of the K codes (optional)
    filter.work_size      the short side it is meant to run at, e.g. 256
    filter.license        licence of the weights
    filter.source         where the weights came from

Inputs: ``input`` float32 N×3×H×W RGB, plus ``latent`` int64 [1] when latent_codes > 0.
Output: ``output`` float32 N×3×H×W RGB, already clamped to the input range.

Foreign ONNX files without metadata still run: :meth:`FilterContract.infer` reads what it can
from the input shape and the caller overrides the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping, Sequence

from export.errors import UserError

PREFIX = "filter."
KINDS = ("frame", "face")
RANGES = ("0-255", "0-1")
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
            elif f.name == "latent_names":
                value = ",".join(value)
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
                    values[f.name] = parse_size(raw) if raw else None
                elif f.name == "latent_names":
                    values[f.name] = tuple(s for s in raw.split(",") if s)
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



def has_contract(props: Mapping[str, str]) -> bool:
    """True when metadata holds at least one ``filter.*`` key."""
    return any(k.startswith(PREFIX) for k in props)


def parse_size(text: str) -> tuple[int, int]:
    """'HxW' → (H, W)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"expected HxW, e.g. 224x224, got {text!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"sizes must be positive, got {text!r}")
    return h, w
