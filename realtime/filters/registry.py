"""The filters that ship with the package (``realtime/bundled/NAME.onnx``) and name lookup.

``--filter`` takes a bundled name, the name of one of your installed filters
(:mod:`realtime.filters.library`; a bundled name wins, and install refuses to take one), or a
path to any ONNX file; ``a+b`` chains them.

A filter may have a light CPU variant next to it, ``NAME.fast.onnx`` (a distilled student
that runs at a fraction of the frame size with guided upsampling), and a half-precision export
``NAME.fp16.onnx``. ``--variant auto`` uses the student when the full model would run on the
CPU provider and the fp16 file on CUDA; ``full`` or ``fast`` force one.
"""
from __future__ import annotations

from pathlib import Path

from realtime.errors import UserError
from realtime.filters.onnx_format import is_variant, variant_of
from realtime.filters.library import installed_filters

BUNDLED = Path(__file__).resolve().parents[1] / "bundled"
CHOICES = ("auto", "full", "fast")


def bundled_filters() -> dict[str, Path]:
    """name → fp32 ONNX file for every bundled filter."""
    out = {}
    for path in sorted(BUNDLED.glob("*.onnx")):
        if not is_variant(path):
            out[path.name[: -len(".onnx")]] = path
    return out


def resolve_filter(spec: str) -> Path:
    spec = spec.strip()
    known = bundled_filters()
    if spec in known:
        return known[spec]
    yours = installed_filters()
    if spec in yours:
        return yours[spec]
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".onnx" or path.exists():
        if not path.is_file():
            raise UserError(f"model file {path} does not exist")
        return path
    mine = f"; your filters: {', '.join(yours)}" if yours else ""
    raise UserError(f"unknown filter {spec!r}; bundled filters: {', '.join(known) or 'none'}{mine} (or pass a path to an .onnx file)")


def reserved_names() -> set[str]:
    """Names an installed filter may not take: the bundled filters, the effects and ``none``
    (each would be shadowed, or would shadow, in ``--filter``)."""
    from realtime.filters.kinds.base import EFFECTS
    import realtime.filters.kinds  # noqa: F401  (the effects register themselves)

    return {*bundled_filters(), *EFFECTS, "none"}


def fast_variant(path: Path) -> Path | None:
    """``NAME.fast.onnx`` beside ``NAME.onnx``, if there is one."""
    return variant_of(path, "fast")


def variant_file(path: Path, provider: str, variant: str) -> Path:
    """The file to run for the fp32 model ``path`` on ``provider`` (the one ONNX Runtime will
    really use, known before any session of the model is made): ``auto`` takes the fast
    student on CPU and the fp16 export on CUDA (TensorRT builds its fp16 engine from the fp32
    file itself); ``full`` and ``fast`` force one."""
    if variant not in CHOICES:
        raise UserError(f"unknown variant {variant!r}; choose one of {', '.join(CHOICES)}")
    if variant == "full":
        return path
    if variant == "fast":
        fast = fast_variant(path)
        if fast is None:
            raise UserError(f"--variant fast: no fast variant of {Path(path).name} (needs NAME.fast.onnx beside it); use --variant auto")
        return fast
    if provider == "cpu":
        return fast_variant(path) or path
    if provider == "cuda":
        return variant_of(path, "fp16") or path
    return path
