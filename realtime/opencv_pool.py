"""OpenCV's worker threads told to sleep, not spin, between the calls that use them.

OpenCV's pthreads build (the opencv-python wheels for Linux) splits a large resize, warp or
blend across its pool of one thread per core, and after each job every worker keeps polling for
the next one (2,000 rounds, ``OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER``; the calling thread 10,000
while it waits, ``..._MAIN``). In the live loop the next thing after the OpenCV calls around a
network is usually the network itself, so ONNX Runtime's threads start beside OpenCV workers
still spinning on the same cores. In seven interleaved pairs of runs at 1280×720 on the 2-core
machine (``benchmarks/results/opencv-pool-s35-cpu``), with both waits at 0 the work around the
networks took ×0.95 the time (lower in 6 of 6 rows), the loop ran ×1.04 the frames end to end
and ``aged+cartoon`` kept 95.7 % of a 30 fps camera's frames instead of 90.4 (p95 65 ms, was
72); alone, a third of OpenCV's CPU time had been that polling. At 640×480 it made no
difference over the rows, but for 0.1–0.2 ms more on the 1.1–1.4 ms frame of an effect without a
network (a sleeping worker wakes for the next call). The pool stays: a 720p resize still uses
both cores.

OpenCV reads these settings once, when its library loads, so they must be in the environment
before anything imports ``cv2``: :mod:`realtime` (and :mod:`benchmarks`) call
:func:`quiet_opencv_pool` first thing. A value the user set is kept; where ``cv2`` is already
loaded (a program that imported it before :mod:`realtime`) nothing can change and nothing is.
A build on another parallel framework does not read them and is left as it is.
"""
from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

# OpenCV's configuration names (modules/core/src/parallel_impl.cpp) → the value the loop wants:
# no polling rounds after a job, in the workers or the calling thread
QUIET = {"OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER": "0", "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN": "0"}
# what OpenCV was given, in words, for a benchmark report (timings differ with it): set below
given = "not set up: realtime.opencv_pool.quiet_opencv_pool() was not called"


def quiet_opencv_pool() -> bool:
    """Put :data:`QUIET` in the environment where the user set nothing; True when OpenCV will
    read it (not loaded yet), False when it is loaded already and keeps what it read."""
    global given
    if "cv2" in sys.modules:
        log.debug("OpenCV was loaded before realtime: its idle workers poll as it read at load")
        given = "as OpenCV read it (cv2 was loaded before realtime)"
        return False
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    given = ", ".join(f"{name.rsplit('_', 1)[1].lower()} {os.environ[name]}" for name in QUIET) + " polling rounds after a job"
    return True
