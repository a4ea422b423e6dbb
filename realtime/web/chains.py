"""Chains loaded once per spec and shared by every request (:meth:`Chain.apply` is
thread-safe), the least recently used dropped past a bound.

Loading is what costs: ONNX Runtime sessions (0.1-0.5 s a model on the 2-core reference
machine), MediaPipe's graphs for face filters (about 1 s). Two requests that ask for a chain
nobody has loaded yet wait for one load, not two: each spec has its own lock, so loading one
chain does not hold up requests for another.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from realtime.filters.chain import Chain, load_chain

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    chain: Chain | None = None


class ChainCache:
    def __init__(self, provider: str = "auto", variant: str = "auto", threads: int = 0, size: int = 12) -> None:
        """``size`` chains at most (each holds its models' sessions: 5-60 MB a model)."""
        self.provider, self.variant, self.threads, self.size = provider, variant, threads, size
        self._lock = threading.Lock()
        self._slots: OrderedDict[str, _Slot] = OrderedDict()

    def get(self, spec: str) -> Chain:
        """The chain for a checked ``spec``, loaded on first use; blocks, so call it from a
        worker thread. A load that fails is tried again by the next call."""
        with self._lock:
            slot = self._slots.get(spec)
            if slot is None:
                slot = self._slots[spec] = _Slot()
                while len(self._slots) > self.size:
                    dropped, _ = self._slots.popitem(last=False)
                    log.info("dropped the chain %s (more than %d loaded)", dropped, self.size)
            self._slots.move_to_end(spec)
        with slot.lock:
            if slot.chain is None:
                start = time.perf_counter()
                slot.chain = load_chain(spec, provider=self.provider, variant=self.variant, threads=self.threads)
                log.info("loaded %s in %.0f ms", spec, (time.perf_counter() - start) * 1000)
            return slot.chain
