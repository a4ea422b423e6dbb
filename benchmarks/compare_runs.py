"""Compare interleaved ``benchmarks.fps`` runs of two versions of the code (before, after).

On a shared 2-core machine the same run moves by 10–30 % from one minute to the next (a
student's live share of frames at 1280×720 gave 91, 62 and 70 % in three runs of one commit),
so one run of each version says nothing. Run them in turns (before, after, before, after …,
each ``python -m benchmarks.fps … --out DIR``), then this takes every row (filter × size) of
every run and gives, per row, the median of each version's runs and their ratio, and over all
rows the geometric mean of the ratios and in how many rows the after-version was better, with a
sign test: a change that helps shows in most rows, where noise splits them. Per row it also says
whether the runs lie apart (every after-run better than every before-run): with three runs a
side a change that does nothing does that by chance once in 20 rows for each direction, so a
row apart is evidence on its own where the rows are too few for the sign test.

    python -m benchmarks.compare_runs --before DIR DIR DIR --after DIR DIR DIR --out benchmarks/results/NAME

Measures (from each run's fps.json): end-to-end fps (unpaced), the share of a camera's frames
the paced run kept, its p50 and p95 latency, the network's p50 (every ``infer:`` stage), the
work around it (non-inference p50) and the analysers' (face tracking, person mask, smile). Writes
report.json, report.md and a plot of the ratios.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import UserError, run_cli


@dataclass(frozen=True)
class Measure:
    name: str
    get: Callable[[dict[str, Any]], float]
    higher_is_better: bool
    unit: str

    def gain(self, ratio: float) -> float:
        """after / before turned so that above 1 is better: the ratio, or its inverse where lower is better."""
        return ratio if self.higher_is_better else 1.0 / ratio


APART_RUNS = 3  # runs a side before a row's runs lying apart is said (chance 1/20 each way)
ANALYSER_STAGES = ("track", "person", "smile")  # realtime.live.process names them so

MEASURES = (
    Measure("e2e fps", lambda r: r["e2e"]["fps_output"], True, "fps"),
    Measure("frames kept", lambda r: 100 * r["live"]["processed_share"], True, "%"),
    Measure("live p50", lambda r: r["live"]["latency_ms"]["p50"], False, "ms"),
    Measure("live p95", lambda r: r["live"]["latency_ms"]["p95"], False, "ms"),
    Measure("network", lambda r: sum(s["p50"] for n, s in r["e2e"]["stages_ms"].items() if n.startswith("infer:")), False, "ms"),
    Measure("non-network", lambda r: r["non_inference_ms"], False, "ms"),
    # the analysers a chain needs (0 where none runs, left out of the summary): the face tracker
    # and its mesh ("track"), the person mask ("person"), the smile score
    Measure("analysis", lambda r: sum(r["e2e"]["stages_ms"].get(n, {}).get("p50", 0.0) for n in ANALYSER_STAGES), False, "ms"),
)


def read_runs(folders: list[Path], side: str) -> list[dict[str, Any]]:
    """The fps.json of each folder; one line naming every folder that has none."""
    missing = [str(f) for f in folders if not (f / "fps.json").is_file()]
    if missing:
        raise UserError(f"no fps.json in {', '.join(missing)} ({side}): pass the --out folders of `python -m benchmarks.fps` runs")
    return [json.loads((f / "fps.json").read_text()) for f in folders]


def rows_by_key(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Each run's rows of filters (not the baseline network), by (filter, size)."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        for row in run["rows"]:
            if row["filter"].startswith("baseline") or "e2e" not in row or "live" not in row:
                continue
            rows.setdefault((row["filter"], row["size"]), []).append(row)
    return rows


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign test: the chance that a change which does nothing (each row a coin toss)
    splits the rows at least this unevenly; ties left out. 12 wins of 12: 0.0005; 9 of 12: 0.146."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(max(wins, losses), n + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def runs_apart(before: list[float], after: list[float], higher_is_better: bool) -> bool:
    """Whether every after-run is better than every before-run (a change that does nothing
    does so with chance 1 / C(nb + na, na): 1/20 for three runs a side); not said below three
    runs a side, where chance does it too often (one each: 1/2)."""
    if min(len(before), len(after)) < APART_RUNS:
        return False
    return min(after) > max(before) if higher_is_better else max(after) < min(before)


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """Per row and measure the medians and after/before; per measure the geometric mean of the
    ratios and the rows where after was better. Rows in only one side are left out (named)."""
    b, a = rows_by_key(before), rows_by_key(after)
    keys = [k for k in b if k in a]
    if not keys:
        raise UserError("the before and after runs share no filter and size: run the same --filter and --sizes on both")
    rows = []
    for key in keys:
        cells, apart = {}, {}
        for m in MEASURES:
            vb, va = [m.get(r) for r in b[key]], [m.get(r) for r in a[key]]
            mb, ma = statistics.median(vb), statistics.median(va)
            cells[m.name] = {"before": round(mb, 2), "after": round(ma, 2), "ratio": round(ma / mb, 3) if mb > 0 else None}
            apart[m.name] = runs_apart(vb, va, m.higher_is_better)
        rows.append({"filter": key[0], "size": key[1], "runs": [len(b[key]), len(a[key])], "measures": cells, "apart": apart})
    summary = {}
    for m in MEASURES:
        ratios = [r["measures"][m.name]["ratio"] for r in rows if r["measures"][m.name]["ratio"]]
        better = sum(m.gain(x) > 1 for x in ratios)
        worse = sum(m.gain(x) < 1 for x in ratios)
        summary[m.name] = {"geomean_ratio": round(float(np.exp(np.mean(np.log(ratios)))), 3) if ratios else None,
                           "after_better_rows": better, "rows": len(ratios), "higher_is_better": m.higher_is_better,
                           "sign_test_p": round(sign_test(better, worse), 4),
                           "runs_apart_rows": sum(r["apart"][m.name] for r in rows if r["measures"][m.name]["ratio"])}
    only = sorted(set(b) ^ set(a))
    return {"rows": rows, "summary": summary, "left_out": [f"{f} {s}" for f, s in only]}


def markdown(result: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [f"# Before and after, interleaved `benchmarks.fps` runs ({meta['machine']})", "",
             f"{meta['date']}; {meta['runs'][0]} runs before, {meta['runs'][1]} after, in turns. Per row the median of each "
             "side's runs and after / before. " + meta.get("what", ""), "",
             "| measure | after / before (geometric mean over rows) | rows where after is better | sign test p | rows with every after-run better |",
             "|---|---|---|---|---|"]
    for name, s in result["summary"].items():
        lines.append(f"| {name} ({'higher' if s['higher_is_better'] else 'lower'} is better) | {s['geomean_ratio']} | "
                     f"{s['after_better_rows']} of {s['rows']} | {s['sign_test_p']:g} | {s.get('runs_apart_rows', 0)} of {s['rows']} |")
    lines += ["", "Sign test: the chance that a change doing nothing splits the rows at least this unevenly (two-sided). "
              "Every after-run better than every before-run in a row: by chance 1 in C(runs before + runs after, runs after) "
              "for each direction (1 in 20 for three runs a side)."]
    lines += ["", "| filter | size | " + " | ".join(f"{m.name} ({m.unit})" for m in MEASURES) + " |",
              "|---|---|" + "---|" * len(MEASURES)]
    for r in result["rows"]:
        cells = [f"{r['measures'][m.name]['before']:g} → {r['measures'][m.name]['after']:g}"
                 + (" ✓" if r.get("apart", {}).get(m.name) and r["measures"][m.name]["ratio"] else "") for m in MEASURES]
        lines.append(f"| {r['filter']} | {r['size']} | " + " | ".join(cells) + " |")
    lines += ["", f"✓: every after-run better than every before-run in that row ({APART_RUNS} runs a side or more)."]
    if result["left_out"]:
        lines += ["", "In one side only (left out): " + ", ".join(result["left_out"]) + "."]
    if meta.get("command"):
        lines += ["", f"Reproduce: {meta['command']}"]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(max(7, 0.7 * len(rows)), 4))
    x = np.arange(len(rows))
    width = 0.8 / len(MEASURES)
    for i, m in enumerate(MEASURES):
        gains = [m.gain(c["ratio"]) if c["ratio"] else 1.0 for c in (r["measures"][m.name] for r in rows)]
        ax.bar(x + (i - (len(MEASURES) - 1) / 2) * width, gains, width, label=m.name)
    ax.axhline(1.0, color="gray", linewidth=1)
    ax.set_xticks(x, [f"{r['filter']} {r['size']}" for r in rows], fontsize=7, rotation=40, ha="right")
    ax.set_ylabel("after against before (> 1: better)")
    heights = [b.get_height() for b in ax.patches]
    ax.set_ylim(min(0.8, min(heights) - 0.05), max(1.2, max(heights) + 0.05))
    ax.legend(fontsize=7, ncol=3)
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.compare_runs", __doc__)
    p.add_argument("--before", nargs="+", type=Path, required=True, help="--out folders of the runs of the old code")
    p.add_argument("--after", nargs="+", type=Path, required=True, help="--out folders of the runs of the new code")
    p.add_argument("--what", default="", help="a sentence on what changed, for the report")
    p.add_argument("--command", default="", help="the command that made the runs, for the report")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    before, after = read_runs(args.before, "before"), read_runs(args.after, "after")
    result = compare(before, after)
    first = before[0]["meta"]
    meta = {"machine": first.get("machine", "?"), "date": first.get("date", "?"), "runs": [len(before), len(after)],
            "what": args.what, "command": args.command,
            "before": [str(f) for f in args.before], "after": [str(f) for f in args.after]}
    save_report(args.out, {"meta": meta, **result}, markdown(result, meta), lambda path: plot(result, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
