"""ONNX Runtime vs PyTorch on the same random images: the check that runs after every export.

Inputs are smooth random images (low-resolution noise upsampled, plus fine noise), closer to
photos than white noise, so int8 calibration ranges are exercised honestly. Differences are
measured on the 0–1 scale whatever the model's input range.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from realtime.filters.onnx_format import FilterContract
from realtime.errors import UserError
from export.onnx_export import ExportWrapper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tolerance:
    p99_abs: float  # 99th percentile of per-value differences (0–1 scale)
    mean_abs: float  # mean difference (0–1 scale)


# fp32 must match to float rounding; fp16 and int8 move single values a lot near clamping
# edges, so they are judged on the 99th percentile and the mean.
TOLERANCES = {
    "fp32": Tolerance(p99_abs=1e-3, mean_abs=1e-4),
    "fp16": Tolerance(p99_abs=0.03, mean_abs=0.01),
    "int8": Tolerance(p99_abs=0.25, mean_abs=0.04),
}


@dataclass
class ParityResult:
    size: tuple[int, int]
    max_abs: float
    p99_abs: float
    mean_abs: float


def random_images(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """``n`` smooth random RGB images, float32 N×3×H×W in 0–1."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.random((n, 3, max(h // 16, 2), max(w // 16, 2)), dtype=np.float32))
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    fine = torch.from_numpy(rng.normal(0, 0.05, (n, 3, h, w)).astype(np.float32))
    return (smooth + fine).clamp(0, 1).numpy()


def parity_sizes(contract: FilterContract) -> list[tuple[int, int]]:
    if contract.fixed_size:
        return [contract.fixed_size]
    m = contract.size_multiple
    return [(24 * m, 32 * m), (40 * m, 28 * m)]


def check_parity(
    model: torch.nn.Module, onnx_path: Path, contract: FilterContract, precision: str = "fp32",
    sizes: list[tuple[int, int]] | None = None,
) -> list[ParityResult]:
    """Compare the ONNX file in ONNX Runtime (CPU) with ``model``; raise past the tolerance."""
    import onnxruntime as ort

    tol = TOLERANCES[precision]
    wrapper = ExportWrapper(model.eval().float().cpu()).eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    results = []
    for i, (h, w) in enumerate(sizes or parity_sizes(contract)):
        x = random_images(1, h, w, seed=i) * contract.scale
        feeds: dict[str, np.ndarray] = {"input": x}
        latent = i % contract.latent_codes if contract.latent_codes else None
        if latent is not None:
            feeds["latent"] = np.array([latent], dtype=np.int64)
        got = session.run(["output"], feeds)[0]
        with torch.no_grad():
            args = (torch.from_numpy(x),) + ((torch.tensor([latent]),) if latent is not None else ())
            want = wrapper(*args).numpy()
        diff = np.abs(got.astype(np.float32) - want) / contract.scale
        results.append(ParityResult((h, w), float(diff.max()), float(np.percentile(diff, 99)), float(diff.mean())))
    worst_p99 = max(r.p99_abs for r in results)
    worst_mean = max(r.mean_abs for r in results)
    report = ", ".join(
        f"{r.size[0]}x{r.size[1]}: max {r.max_abs:.1e} p99 {r.p99_abs:.1e} mean {r.mean_abs:.1e}" for r in results
    )
    print(f"parity {precision} {Path(onnx_path).name} vs PyTorch ({report}); "
          f"tolerance p99 {tol.p99_abs:g} mean {tol.mean_abs:g} on 0-1 scale")
    if not (worst_p99 <= tol.p99_abs and worst_mean <= tol.mean_abs):  # also catches NaN
        failed = Path(str(onnx_path) + ".failed")
        Path(onnx_path).replace(failed)
        raise UserError(
            f"parity FAILED for {precision}: {report} exceeds p99 {tol.p99_abs} / mean {tol.mean_abs}; "
            f"the file was moved to {failed} for inspection"
        )
    return results
