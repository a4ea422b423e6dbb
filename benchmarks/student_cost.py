"""What a lighter student would cost before it is trained: a bundled student's architecture with
some of its settings changed, timed beside the student as shipped.

    python -m benchmarks.student_cost --model cartoon.fast --size 1280x720 \\
        --variant tone_frequencies=8 --variant "channels=(16,16,16,32)" --variant factor=3

A network's time in ONNX Runtime depends on its shape, not on its weights, so each variant is
built from the shipped checkpoint's config with the given settings replaced (the inner
network's, e.g. ``channels``, ``tone_frequencies``, ``edge_sigmas``, or the upsampler's, e.g.
``factor``, ``gain_hidden``), exported with untrained weights and run through the runtime's own
session (:class:`realtime.filters.engine.FilterModel`: its options, the frame's conversion in the
graph) on the input the filter sees at ``--size``: a frame filter's work size, a face filter's
square crop. The models take turns (``--rounds`` rounds of ``--repeat`` runs each), so a busy
moment on the host slows them all alike; the report gives each one's p50 and p10 milliseconds
in ONNX Runtime and its ratio to the shipped student. Whether a variant keeps the look is a
question for training and :mod:`benchmarks.clone_detail`, not for this benchmark.
Writes report.json, report.md and plot.png.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import UserError, run_cli
from realtime.host import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SHIPPED = "as shipped"
UNTRAINED = "shipped shape, untrained"  # the control: the variants' weights are untrained too


def parse_variant(text: str) -> dict[str, Any]:
    """``"key=value key=value"`` → {key: value}, each value a Python literal (``8``, ``(16,16,16,32)``,
    ``((1.2,3.0),)``); bad text raises one line saying what a variant looks like."""
    changes: dict[str, Any] = {}
    for part in text.split():
        key, eq, value = part.partition("=")
        try:
            if not eq or not key:
                raise ValueError
            changes[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise UserError(f"--variant {text!r}: write KEY=VALUE pairs with Python values, e.g. "
                            "'tone_frequencies=8 channels=(16,16,16,32)'") from None
    if not changes:
        raise UserError("--variant is empty: give KEY=VALUE pairs, e.g. tone_frequencies=8")
    return changes


def changed_config(config: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a checkpoint's) with ``changes`` applied where each key lives: the outer
    config's own keys first, then its inner network's (a guided student's ``inner``). A key
    neither has raises one line that lists them."""
    out = copy.deepcopy(config)
    inner = out.get("inner") if isinstance(out.get("inner"), dict) else None
    unknown = [k for k in changes if k not in out and (inner is None or k not in inner)]
    if unknown:
        known = sorted({*out, *(inner or {})} - {"arch", "inner"})
        raise UserError(f"--variant: {', '.join(unknown)} is not a setting of this student (its settings: {', '.join(known)})")
    for key, value in changes.items():
        if key in out:
            out[key] = value
        else:
            assert inner is not None
            inner[key] = value
    return out


def input_shape(contract: Any, size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) the filter's network sees on frames of ``size`` (w, h): a face filter's crop, a
    frame filter's work size (:func:`realtime.imaging.work_shape`)."""
    from realtime.imaging import work_shape

    if contract.kind == "face":
        return contract.work_size, contract.work_size
    return work_shape(size[1], size[0], contract.work_size)


def build_models(name: str, variants: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """The shipped student (its weights), its architecture untrained (the control) and each
    variant (untrained), exported into ``folder``:
    one dict per model with its label, changes, parameter count, file and contract."""
    from export.onnx_export import contract_for, export_model
    from models.networks.checkpoint import load_checkpoint, read_checkpoint
    from models.networks.registry import build_model
    from realtime.filters.onnx_format import inspect

    checkpoint, bundled = ROOT / "models" / "checkpoints" / f"{name}.pt", ROOT / "realtime" / "bundled" / f"{name}.onnx"
    if not checkpoint.is_file() or not bundled.is_file():
        have = sorted(p.stem for p in (ROOT / "models" / "checkpoints").glob("*.pt"))
        raise UserError(f"--model {name}: no bundled student of that name (one of: {', '.join(have)})")
    shipped = inspect(bundled).contract
    raw = read_checkpoint(checkpoint)
    models = [(SHIPPED, {}, load_checkpoint(checkpoint)[0])]
    for changes in [{}, *variants]:
        label = " ".join(f"{k}={v!r}".replace(" ", "") for k, v in changes.items()) or UNTRAINED
        try:
            net = build_model(raw["arch"], changed_config(raw["config"], changes))
        except (TypeError, ValueError, UserError) as exc:  # the config's own checks, one line each
            raise UserError(f"--variant {label}: {exc}") from None
        models.append((label, changes, net))
    built = []
    for i, (label, changes, net) in enumerate(models):
        path = folder / f"{i}.onnx"
        contract = dataclasses.replace(contract_for(net, name), kind=shipped.kind, work_size=shipped.work_size)
        export_model(net, contract, path)
        built.append({"label": label, "changes": changes, "params": sum(p.numel() for p in net.parameters()),
                      "path": path, "contract": contract})
    return built


def measure(name: str, size: tuple[int, int], variants: list[dict[str, Any]], rounds: int, repeat: int) -> dict[str, Any]:
    """Each model's milliseconds in ONNX Runtime on the filter's input at ``size``, taking turns."""
    import cv2

    from realtime.filters.engine import FilterModel

    with tempfile.TemporaryDirectory(prefix="student-cost-") as tmp:
        built = build_models(name, variants, Path(tmp))
        h, w = input_shape(built[0]["contract"], size)
        noise = np.random.default_rng(0).random((h, w, 3)) * 255  # smooth noise: a network's time does not depend on the picture
        frame = cv2.GaussianBlur(noise.astype(np.uint8), (0, 0), 3)
        sessions = []
        for model in built:
            session = FilterModel(model["path"], "cpu")
            session.warmup((h, w))
            sessions.append(session)
        times: list[list[float]] = [[] for _ in built]
        for _ in tqdm(range(rounds), desc=f"{name} {w}x{h}", unit="round"):
            for session, ms in zip(sessions, times):
                ms.extend(session.infer(frame).ms for _ in range(repeat))
    base = float(np.median(times[0]))
    rows = [{"label": m["label"], "changes": m["changes"], "params": m["params"], "p50_ms": round(float(np.median(t)), 2),
             "p10_ms": round(float(np.percentile(t, 10)), 2), "ratio": round(float(np.median(t)) / base, 3)}
            for m, t in zip(built, times)]
    return {"model": name, "frame": f"{size[0]}x{size[1]}", "input": f"{w}x{h}", "rows": rows}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# What a lighter `{report['model']}` would cost ({report['machine']}, {report['date']})", "",
             f"`{report['command']}`", "",
             f"The network's input for a {report['frame']} frame: {report['input']}. Milliseconds in ONNX Runtime "
             f"(the runtime's session, the frame's conversion in the graph), {report['runs']} runs each, the models "
             "taking turns; the variants have untrained weights, as the control row has (the shipped architecture, "
             "untrained): time depends on shape, not weights, where the two agree.", "",
             "| model | parameters | p50 ms | p10 ms | × shipped |", "|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['params']} | {r['p50_ms']} | {r['p10_ms']} | {r['ratio']} |" for r in report["rows"]]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    rows = report["rows"]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows)), 4))
    x = np.arange(len(rows))
    ax.bar(x, [r["p50_ms"] for r in rows], color=["tab:blue"] + ["tab:orange"] * (len(rows) - 1))
    ax.set_xticks(x, [r["label"] for r in rows], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(f"ms in ONNX Runtime ({report['input']})")
    ax.set_title(f"{report['model']}: the shipped student and untrained variants")
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.student_cost", __doc__)
    p.add_argument("--model", default="cartoon.fast", help="a bundled student (its checkpoint in models/checkpoints)")
    p.add_argument("--size", default="1280x720", help="the camera frame, WxH (default: %(default)s)")
    p.add_argument("--variant", action="append", default=[], help="KEY=VALUE settings changed, e.g. tone_frequencies=8 (repeatable)")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--repeat", type=int, default=3, help="runs of each model per round")
    p.add_argument("--out", type=Path, default=RESULTS / "student-cost-cpu")
    a = p.parse_args(argv)
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
        if w < 64 or h < 64:
            raise ValueError
    except ValueError:
        raise UserError(f"--size {a.size}: give the frame as WxH, each side at least 64, e.g. 1280x720") from None
    if a.rounds < 1 or a.repeat < 1:
        raise UserError("--rounds and --repeat must be at least 1")
    variants = [parse_variant(v) for v in a.variant]
    report = measure(a.model, (w, h), variants, a.rounds, a.repeat)
    report.update(machine=machine(), date=time.strftime("%Y-%m-%d"), runs=a.rounds * a.repeat,
                  command="python -m benchmarks.student_cost " + shlex.join(argv if argv is not None else sys.argv[1:]))
    save_report(a.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
