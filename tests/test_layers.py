"""The layers: realtime (torch-free, bottom) <- models <- export <- benchmarks. Each folder
imports only from itself and the folders before it, so there are no import cycles, and the
runtime never needs the training side's namespace."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["realtime", "models", "export", "benchmarks"]


def project_imports(path: Path) -> set[str]:
    """Top-level project packages ``path`` imports (at any depth in the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in LAYERS}
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_each_folder_imports_only_the_layers_below_it(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    bad = {str(p.relative_to(ROOT)): sorted(project_imports(p) - allowed)
           for p in sorted((ROOT / layer).rglob("*.py")) if project_imports(p) - allowed}
    assert not bad, f"{layer}/ may import only {sorted(allowed)}: {bad}"


def test_export_info_prints_what_realtime_runs_without_torch():
    """`realtime-export info` needs only the runtime: no torch, and the variant per provider
    is the one realtime picks."""
    import subprocess
    import sys

    code = ("import sys; from export.cli import main; main(['info', 'realtime/bundled/cartoon.onnx']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "filter.name = cartoon" in out and "runs on cpu = cartoon.fast.onnx" in out and "runs on tensorrt = cartoon.onnx" in out
