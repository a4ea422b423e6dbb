"""realtime.opencv_pool: OpenCV's idle workers sleep instead of spinning, set before OpenCV loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from realtime.opencv_pool import QUIET

# prints where the settings stand once ``first`` is imported, and whether this module's
# settings were in place before OpenCV's library loaded (sys.modules keeps import order)
PROGRAM = textwrap.dedent("""
    import importlib, json, os, sys
    for name in sys.argv[1].split(","):
        importlib.import_module(name)
    import cv2
    order = list(sys.modules)
    from realtime import opencv_pool
    print(json.dumps({"env": {k: os.environ.get(k) for k in sys.argv[2].split(",")}, "given": opencv_pool.given,
                      "pool_first": "realtime.opencv_pool" in order and order.index("realtime.opencv_pool") < order.index("cv2")}))
""")


def run(first: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in QUIET}
    out = subprocess.run([sys.executable, "-c", PROGRAM, first, ",".join(QUIET)], capture_output=True, text=True,
                         check=True, cwd=os.getcwd(), env={**clean, **env}, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("first", ["realtime", "realtime.cli", "realtime.live.session", "benchmarks.fps"])
def test_every_way_in_sets_the_pool_quiet_before_opencv_loads(first):
    # the CLI, the library and the benchmarks each import cv2 somewhere below: the settings must
    # come first, or OpenCV reads its defaults (its workers spin after every job)
    seen = run(first)
    assert seen["pool_first"], f"importing {first} loaded cv2 before realtime.opencv_pool"
    assert seen["env"] == QUIET
    assert seen["given"] == "worker 0, main 0 polling rounds after a job"  # what a benchmark report says


def test_a_users_own_setting_is_kept():
    name = next(iter(QUIET))
    seen = run("realtime", **{name: "500"})
    assert seen["env"][name] == "500"
    assert all(seen["env"][k] == v for k, v in QUIET.items() if k != name)
    assert seen["given"] == "worker 500, main 0 polling rounds after a job"


def test_nothing_is_set_once_opencv_is_loaded():
    # OpenCV read its settings when it loaded: setting them now would claim what is not so
    seen = run("cv2,realtime")
    assert not seen["pool_first"]
    assert seen["env"] == dict.fromkeys(QUIET)
    assert seen["given"] == "as OpenCV read it (cv2 was loaded before realtime)"
