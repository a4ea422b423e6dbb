"""What every benchmark shares: its command line (``python -m benchmarks.NAME``) and what it
writes: report.json + report.md + a plot."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable


def command_line(module: str, description: str | None) -> argparse.ArgumentParser:
    """A benchmark's argument parser: its usage names the command that runs it (``python -m
    benchmarks.NAME``; argparse before Python 3.14 says ``NAME.py``, which does not run from
    outside the package) and ``description`` (its docstring) is shown as written."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def save_report(out: Path, report: dict[str, Any], text: str, plot: Callable[[Path], None], plot_name: str = "plot.png") -> None:
    """``out``/report.json (``report``), report.md (``text``) and the plot, then the table on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(text)
    plot(out / plot_name)
    print(text)
    print(f"written to {out}/ (report.json, report.md, {plot_name})")


def pyplot() -> Any:
    """matplotlib's pyplot on its Agg backend (a file, no display), imported when a plot is drawn
    (pyplot takes ~0.2 s to import: a run that writes no plot never pays it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 110) -> None:
    """Lay ``fig`` out, write it to ``path`` and free it (pyplot keeps every open figure)."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
