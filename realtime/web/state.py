"""What the web handlers share: the config, the filter list, loaded chains and the thread pool
that filters (503 past ``max_pending`` jobs instead of queueing without bound)."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from aiohttp import web

from realtime.web.chains import ChainCache
from realtime.web.config import WebConfig
from realtime.web.errors import RequestError
from realtime.web.options import Catalogue

T = TypeVar("T")


class Workers:
    """The thread pool that filters, with a count of the jobs queued or running in it."""

    def __init__(self, threads: int, max_pending: int) -> None:
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="realtime-web")
        self.max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the pool; 503 when ``max_pending`` jobs are already in it. A job
        counts until it has finished, also when the client that asked for it has gone."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise RequestError(f"busy: {self._pending} images are being filtered; try again in a moment", status=503)
            self._pending += 1
        job: Future[T] = self.pool.submit(fn, *args)
        job.add_done_callback(self._finished)
        return await asyncio.wrap_future(job)

    def _finished(self, job: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class WebState:
    """What the handlers share: the config, the filter list, loaded chains, the workers."""

    def __init__(self, config: WebConfig, chains: ChainCache | None = None, live: Any = None) -> None:
        self.config = config
        self.catalogue = Catalogue.from_registry()
        self.chains = chains or ChainCache(config.provider, config.variant, config.threads)
        self.workers = Workers(config.workers, config.max_pending)
        self.live = live  # realtime.web.live when aiortc is installed, else None


STATE = web.AppKey("state", WebState)
