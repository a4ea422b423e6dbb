"""The machine this process runs on, in words: what a benchmark report and a model card's CPU
times say they were measured on."""
from __future__ import annotations

import os
import platform
from pathlib import Path


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
