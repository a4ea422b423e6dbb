"""The filters that ship with the package (``realtime/bundled/NAME.onnx``) and name lookup.

``--filter`` takes a bundled name or a path to any ONNX file; ``a+b`` chains them.

A filter may have a light CPU variant next to it, ``NAME.fast.onnx`` (a distilled student
that runs at a fraction of the frame size with guided upsampling), and a half-precision export
``NAME.fp16.onnx``. ``--variant auto`` uses the student when the full model would run on the
CPU provider and the fp16 file on CUDA; ``full`` or ``fast`` force one.
"""
from __future__ import annotations

from pathlib import Path

from export.errors import UserError

BUNDLED = Path(__file__).resolve().parent / "bundled"
VARIANTS = (".fp16", ".int8", ".fast")
CHOICES = ("auto", "full", "fast")


def bundled_filters() -> dict[str, Path]:
    """name → fp32 ONNX file for every bundled filter."""
    out = {}
    for path in sorted(BUNDLED.glob("*.onnx")):
        stem = path.name[: -len(".onnx")]
        if not stem.endswith(VARIANTS):
            out[stem] = path
    return out


def resolve_filter(spec: str) -> Path:
    spec = spec.strip()
    known = bundled_filters()
    if spec in known:
        return known[spec]
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".onnx" or path.exists():
        if not path.is_file():
            raise UserError(f"model file {path} does not exist")
        return path
    raise UserError(f"unknown filter {spec!r}; bundled filters: {', '.join(known) or 'none'} (or pass a path to an .onnx file)")


def parse_chain(text: str) -> list[Path]:
    parts = [p for p in text.split("+") if p.strip()]
    if not parts:
        raise UserError("--filter needs a name, e.g. --filter cartoon (see --list-filters)")
    return [resolve_filter(p) for p in parts]


def sibling(path: Path, tag: str) -> Path | None:
    """``NAME.TAG.onnx`` beside ``NAME.onnx`` (``fast``: the CPU student, ``fp16``: the half
    precision export from ``realtime-export onnx --fp16``), if there is one."""
    path = Path(path)
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.stem
    candidate = path.with_name(f"{stem}.{tag}.onnx")
    return candidate if candidate.is_file() and candidate != path else None


def fast_variant(path: Path) -> Path | None:
    """``NAME.fast.onnx`` beside ``NAME.onnx``, if there is one."""
    return sibling(path, "fast")


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
        return sibling(path, "fp16") or path
    return path


def variant_for(path: Path, provider: str, variant: str) -> Path | None:
    """The old loader's rule (kept until the live loop uses :func:`variant_file`)."""
    chosen = variant_file(path, provider, variant) if variant != "fast" else fast_variant(path)
    return None if chosen == path else chosen
