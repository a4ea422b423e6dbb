"""The layers and rooms, checked on the code's own imports.

Folders: realtime (torch-free, bottom) <- models <- export <- benchmarks; each imports only
from itself and the folders before it, so the runtime never needs the training side.

Rooms inside a folder follow the data flow (``docs/architecture.md``): a room imports only
the rooms listed for it, and no set of modules imports itself round a circle. Imports under
``if TYPE_CHECKING:`` are annotations only (they never run) and are not counted.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["realtime", "models", "export", "benchmarks"]

# room -> the rooms it may import besides itself. "base" = the modules directly in the folder
# (errors, signals, imaging, ... in realtime); "top" = its commands and public API (realtime's
# cli.py, __init__.py, __main__.py; models' commands), which may import every room.
ROOMS = {
    "realtime": {
        "base": set(),
        "capture": {"base"},
        "analysis": {"base"},
        "compositing": {"base"},
        "sinks": {"base"},
        "filters": {"base", "capture", "analysis", "compositing"},
        "live": {"base", "capture", "analysis", "compositing", "filters", "sinks"},
        "web": {"base", "capture", "analysis", "compositing", "filters"},
        "control": {"base", "capture", "analysis", "compositing", "filters", "sinks", "live"},
        "batch": {"base", "capture", "analysis", "compositing", "filters", "sinks", "live"},
    },
    "models": {
        "base": set(),
        "networks": set(),
        "data": set(),
        "teachers": {"data"},
        "losses": {"networks"},
        "training": {"networks"},
    },
}
TOP = {"realtime": {"cli.py", "__init__.py", "__main__.py"},
       "models": {"__init__.py", "train_pairs.py", "train_style.py", "distill.py", "gallery.py", "stylize_image.py",
                  "loss_experiment.py"}}


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    out: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names]
        else:
            continue
        out |= {n for n in names if n in modules}
    return out


def room_of(path: Path) -> str:
    """realtime/filters/kinds/x.py -> filters; realtime/errors.py -> base (or top)."""
    rel = path.relative_to(ROOT).parts
    if len(rel) == 2:
        return "top" if rel[1] in TOP.get(rel[0], set()) else "base"
    return rel[1]


@pytest.mark.parametrize("layer", LAYERS)
def test_each_folder_imports_only_the_layers_below_it(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    modules = project_modules()
    bad = {}
    for p in sorted((ROOT / layer).rglob("*.py")):
        layers = {m.split(".")[0] for m in imported_modules(p, modules)} - allowed
        if layers:
            bad[str(p.relative_to(ROOT))] = sorted(layers)
    assert not bad, f"{layer}/ may import only {sorted(allowed)}: {bad}"


@pytest.mark.parametrize("layer", sorted(ROOMS))
def test_each_room_imports_only_the_rooms_below_it(layer):
    rooms = ROOMS[layer]
    modules = project_modules()
    bad = {}
    for p in sorted((ROOT / layer).rglob("*.py")):
        room = room_of(p)
        assert room in rooms or room == "top", f"{p.relative_to(ROOT)}: room {room!r} is not in ROOMS (add it, with what it may import)"
        if room == "top":
            continue
        allowed = rooms[room] | {room}
        for m in imported_modules(p, modules):
            if m.split(".")[0] != layer:
                continue
            target = room_of(modules[m])
            if target not in allowed:
                bad.setdefault(str(p.relative_to(ROOT)), []).append(f"{m} ({target})")
    assert not bad, f"imports across rooms that the layout does not allow: {bad}"


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph`` (a list of modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_imports_itself_round_a_circle():
    modules = project_modules()
    graph = {name: imported_modules(path, modules) - {name} for name, path in modules.items()}
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_circle_finder_finds_circles():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_export_info_prints_what_realtime_runs_without_torch():
    """`realtime-export info` needs only the runtime: no torch, and the variant per provider
    is the one realtime picks."""
    code = ("import sys; from export.cli import main; main(['info', 'realtime/bundled/cartoon.onnx']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "filter.name = cartoon" in out and "runs on cpu = cartoon.fast.onnx" in out and "runs on tensorrt = cartoon.onnx" in out
