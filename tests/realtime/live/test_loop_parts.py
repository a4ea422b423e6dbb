"""Parts of the live loop on their own: the one-slot hand-off, the hotkeys, the stats of a child process."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from realtime.live.controls import Controls, ControlState
from realtime.live.frames import Slot


def test_slot_keeps_only_the_newest_item():
    slot: Slot[int] = Slot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0) == 4 and slot.dropped == 4
    assert slot.take(timeout=0.01) is None
    slot.close()
    assert slot.take() is None


def test_slot_back_pressure_waits_for_the_taker():
    slot: Slot[int] = Slot()
    stop = threading.Event()
    slot.put_when_empty(1, stop)
    t = threading.Thread(target=slot.put_when_empty, args=(2, stop))
    t.start()
    t.join(0.1)
    assert t.is_alive(), "second put must wait until the first item is taken"
    assert slot.take() == 1
    t.join(1)
    assert slot.take() == 2 and slot.dropped == 0


def test_hotkeys_change_the_live_settings():
    c = Controls(ControlState(strength=0.5), options=3)
    before = c.state()
    for key in "n", "n", "n", "p", "+", "+", "l", "m", "f":
        c.handle(ord(key))
    s = c.state()
    assert (s.option, s.strength, s.latent, s.mirror, s.enabled) == (2, 0.7, 1, True, False)
    assert before.strength == 0.5 and before.option == 0, "a snapshot handed out never changes"
    c.handle(ord("-"))
    assert c.state().strength == 0.6
    assert c.handle(-1) is None and not c.quit
    c.handle(27)
    assert c.quit


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux-only")
def test_peak_rss_of_a_child_is_its_own_not_its_big_parents():
    ballast = bytearray(400 * 1024 * 1024)  # the parent's peak: ≥ 400 MB
    ballast[::4096] = b"x" * len(ballast[::4096])
    code = "from realtime.live.stats import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 5 < child < 300
