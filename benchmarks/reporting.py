"""What every benchmark writes: the machine it ran on, and report.json + report.md + a plot."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Callable


def cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), or None where it cannot be read:
    the hosts this project's 2-core machine runs on differ from day to day (one ran the same
    networks twice as slowly as another), so a report says which it had."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return None


def machine() -> str:
    """e.g. ``x86_64 (AMD EPYC), 2 cores``: the line each report opens with."""
    model = cpu_model()
    return f"{platform.processor() or platform.machine()}{f' ({model})' if model else ''}, {os.cpu_count()} cores"


def save_report(out: Path, report: dict[str, Any], text: str, plot: Callable[[Path], None], plot_name: str = "plot.png") -> None:
    """``out``/report.json (``report``), report.md (``text``) and the plot, then the table on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(text)
    plot(out / plot_name)
    print(text)
    print(f"written to {out}/ (report.json, report.md, {plot_name})")
