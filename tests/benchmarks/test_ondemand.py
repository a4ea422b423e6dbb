"""benchmarks.ondemand: its wake measure on a real watched file, and bad options in one line."""
from __future__ import annotations

import sys

import pytest

from benchmarks import ondemand
from realtime.errors import run_cli


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify and /proc are Linux's")
def test_the_wake_measure_counts_each_app_that_opens_the_file():
    wake = ondemand.measure_wake(trials=2)
    assert wake["trials"] == 2 and len(wake["all_ms"]) == 2
    assert all(0 <= ms < 5000 for ms in wake["all_ms"])  # opened before it was counted, and counted
    scan = ondemand.measure_scan(reps=3)
    assert scan["processes"] >= 2 and scan["ms_p50"] >= 0


def test_bad_options_are_one_line_before_any_work(capsys):
    assert run_cli(lambda: ondemand.main(["--seconds", "0"])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seconds must be above 0" in err[0]
