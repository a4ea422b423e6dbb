"""realtime: neural filters on a camera, a video or a still image, torch-free.

The library API (what the command line, the benchmarks and the web UI use)::

    import realtime

    chain = realtime.load_chain("cartoon+candy", provider="auto", variant="auto", strength=0.8)
    out = chain.apply(bgr)                      # one still image (BGR uint8), thread-safe
    stats = realtime.run(realtime.RunConfig(filter="cartoon", source="talk.mp4", preview=False,
                                            output=Path("out.mp4")))   # the live loop

An ONNX file with the filter contract (:mod:`realtime.filters.onnx_format`) is the whole interface to
the training side; this package never imports torch. Names load on first use, so
``import realtime`` stays cheap for code that only needs :class:`UserError`.
"""
from __future__ import annotations

import importlib
from typing import Any

from realtime.opencv_pool import quiet_opencv_pool

quiet_opencv_pool()  # before anything loads OpenCV: its idle workers must not spin beside ONNX Runtime's

_WHERE = {
    "RunConfig": "realtime.config",
    "run": "realtime.live.session",
    "RunStats": "realtime.live.stats",
    "load_chain": "realtime.filters.chain",
    "Chain": "realtime.filters.chain",
    "UserError": "realtime.errors",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
