"""What the web handlers share: the config, the filter list, loaded chains, the thread pool
and the seam where an upload is filtered (:class:`Filterer`): here in that pool
(:class:`realtime.web.server.LocalFilterer`), or on a Ray Serve deployment
(:class:`realtime.web.ray_serve.ServeFilterer`, with ``--ray``). Either way the server answers
503 past ``max_pending`` jobs instead of queueing without bound (:class:`Gate`)."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Protocol, TypeVar

from aiohttp import web

from realtime.capture.image_header import ImageHeader
from realtime.web.chains import ChainCache
from realtime.web.config import WebConfig
from realtime.web.errors import RequestError
from realtime.web.options import ApplyOptions, Catalogue
from realtime.web.rendering import Rendered

T = TypeVar("T")


class Gate:
    """A count of the jobs queued or running, refused with 503 past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self._pending >= self.limit:
                raise RequestError(f"busy: {self._pending} images are being filtered; try again in a moment", status=503)
            self._pending += 1

    def leave(self, *_: Any) -> None:
        with self._lock:
            self._pending -= 1

    @property
    def pending(self) -> int:
        return self._pending


class Workers:
    """The thread pool that filters, with a count of the jobs queued or running in it."""

    def __init__(self, threads: int, max_pending: int) -> None:
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="realtime-web")
        self.gate = Gate(max_pending)

    @property
    def max_pending(self) -> int:
        return self.gate.limit

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the pool; 503 when ``max_pending`` jobs are already in it. A job
        counts until it has finished, also when the client that asked for it has gone."""
        self.gate.enter()
        job: Future[T] = self.pool.submit(fn, *args)
        job.add_done_callback(self.gate.leave)
        return await asyncio.wrap_future(job)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class Filterer(Protocol):
    """Where ``POST /api/apply`` has a checked upload filtered into a PNG."""

    async def render(self, data: bytes, header: ImageHeader, options: ApplyOptions) -> Rendered:
        """The PNG; :class:`RequestError` for what the client can fix, 503 when busy."""
        ...

    def close(self) -> None:
        ...


class WebState:
    """What the handlers share: the config, the filter list, loaded chains, the workers, the
    filterer (made with the workers and chains: ``make_filterer(workers, chains)``)."""

    def __init__(self, config: WebConfig, chains: ChainCache | None, live: Any,
                 make_filterer: Callable[[Workers, ChainCache], Filterer]) -> None:
        self.config = config
        self.catalogue = Catalogue.from_registry()
        self.chains = chains or ChainCache(config.provider, config.variant, config.threads)
        self.workers = Workers(config.workers, config.max_pending)
        self.filterer = make_filterer(self.workers, self.chains)
        self.live = live  # realtime.web.live when aiortc is installed, else None

    def close(self) -> None:
        self.filterer.close()
        self.workers.close()


STATE = web.AppKey("state", WebState)
