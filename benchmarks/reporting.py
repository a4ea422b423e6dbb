"""What every benchmark writes: the machine it ran on, and report.json + report.md + a plot."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Callable


def machine() -> str:
    """e.g. ``x86_64, 2 cores``: the line each report opens with."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def save_report(out: Path, report: dict[str, Any], text: str, plot: Callable[[Path], None], plot_name: str = "plot.png") -> None:
    """``out``/report.json (``report``), report.md (``text``) and the plot, then the table on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(text)
    plot(out / plot_name)
    print(text)
    print(f"written to {out}/ (report.json, report.md, {plot_name})")
