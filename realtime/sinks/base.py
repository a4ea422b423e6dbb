"""What every sink is: ``send(bgr)`` of BGR uint8 frames of the output size, then ``close()``;
and the sink that drops them (a run with no output, for benchmarks)."""
from __future__ import annotations

from typing import Protocol

import numpy as np


class Sink(Protocol):
    def send(self, bgr: np.ndarray) -> None: ...

    def close(self) -> None: ...


class NullSink:
    def send(self, bgr: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass
