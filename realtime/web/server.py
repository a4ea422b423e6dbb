"""The web server: the page, the filter list, and apply-a-filter-to-an-upload.

    GET  /             the page (one file, no external resources: it works offline)
    GET  /api/filters  the filters, their kinds and latent names; whether the live camera is on
    POST /api/apply    multipart: image, filter, latent (n or all), strength, background → PNG
    POST /api/offer    the live camera: a WebRTC offer in, the answer out (with aiortc)

Every error is ``{"error": "one line"}`` with 400, 404, 405, 413, 415 or 503; an unexpected
exception is logged with its traceback and answered with a one-line 500. Filter work runs in a
small thread pool, never on the event loop, so one slow request does not stall the others or
the live camera; past ``max_pending`` requests the server says 503 instead of queueing
without bound. With ``--ray ADDRESS`` the uploads are filtered on a Ray Serve deployment
instead (:mod:`realtime.web.ray_serve`, imported only then): every check above still runs
here, before an upload is sent on.
"""
from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Any, Awaitable, Callable, TypeVar

from aiohttp import HttpVersion11, hdrs, web

from realtime.errors import UserError, first_line
from realtime.web.chains import ChainCache
from realtime.web.config import WebConfig
from realtime.web.errors import RequestError, one_line
from realtime.web.options import ApplyOptions, parse_options
from realtime.web.rendering import Rendered, render
from realtime.web.state import STATE, Filterer, WebState, Workers
from realtime.capture.image_header import ImageHeader
from realtime.web.uploads import check_image, read_form, too_large
from realtime.memory import keep_freed_memory

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# the page may load nothing from elsewhere: scripts and styles are inline, pictures are blobs
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
               "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'")


def load_live() -> Any:
    """:mod:`realtime.web.live` when aiortc is installed (``pip install .[web]``), else None:
    the page then hides its live camera section."""
    try:
        from realtime.web import live
    except ImportError as exc:
        log.info("live camera off: %s (pip install .[web] adds it)", first_line(exc))
        return None
    return live


def error_response(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as ``{"error": one line}``: a client's with its status, aiohttp's own
    (404, 405, 413) with theirs, anything else logged with its traceback and answered 500."""
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(one_line(exc), exc.status)
    except UserError as exc:  # the library refused something the checks let through
        return error_response(one_line(exc), 400)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.reason, exc.status)
    except ConnectionError:  # the client went away: nobody to answer
        raise
    except Exception as exc:  # a bug: the client gets one line, the log the traceback
        log.exception("%s %s failed", request.method, request.path)
        return error_response(f"internal error ({type(exc).__name__}); the server log has the details", 500)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def page(request: web.Request) -> web.Response:
    html = resources.files("realtime.web").joinpath("page.html").read_text(encoding="utf-8")
    return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": PAGE_POLICY})


async def filters(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({**state.catalogue.as_json(), "live": state.live is not None,
                              "max_upload_mb": state.config.max_upload_mb, "max_megapixels": state.config.max_megapixels})


async def apply(request: web.Request) -> web.Response:
    state = request.app[STATE]
    upload = await read_form(request, state.config.max_upload_bytes)
    options = parse_options(upload.fields, state.catalogue)
    header = check_image(upload.image, state.config.max_pixels)  # before it waits for a worker
    rendered = await state.filterer.render(upload.image, header, options)
    return web.Response(body=rendered.png, content_type="image/png",
                        headers={"Server-Timing": f"filter;dur={rendered.filter_ms:.1f}"})


class LocalFilterer:
    """In this process: :func:`~realtime.web.rendering.render` in the worker pool."""

    def __init__(self, workers: Workers, chains: ChainCache) -> None:
        self.workers, self.chains = workers, chains

    async def render(self, data: bytes, header: ImageHeader, options: ApplyOptions) -> Rendered:
        return await self.workers.run(render, self.chains, data, header, options)

    def close(self) -> None:
        pass  # the pool is the state's, closed with it


async def refuse_large(request: web.Request) -> web.Response | None:
    """``Expect: 100-continue``: a body declared over the cap is refused before the client
    sends it; any other is let through as aiohttp does by default."""
    error = too_large(request.content_length, request.app[STATE].config.max_upload_bytes)
    if error:
        return error_response(one_line(error), error.status)
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version != HttpVersion11 or expect.lower() != "100-continue":
        return error_response(f"unknown expectation {expect[:40]!r}: only 100-continue is understood", 417)
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # go on: send the body
    return None


def make_app(config: WebConfig, chains: ChainCache | None = None, filterer: Filterer | None = None) -> web.Application:
    """The application; ``chains`` lets several apps (tests) share loaded models; ``filterer``
    is where uploads are filtered (None: here, in the worker pool)."""
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=[security_headers, json_errors])

    def make_filterer(workers: Workers, loaded: ChainCache) -> Filterer:
        return filterer if filterer is not None else LocalFilterer(workers, loaded)

    state = app[STATE] = WebState(config, chains, load_live(), make_filterer)
    app.router.add_get("/", page)
    app.router.add_get("/api/filters", filters)
    app.router.add_post("/api/apply", apply, expect_handler=refuse_large)
    if state.live is not None:
        state.live.add_routes(app, state)
    app.on_cleanup.append(_close)
    return app


async def _close(app: web.Application) -> None:
    app[STATE].close()


def check_host(config: WebConfig) -> None:
    if not config.local_only:
        log.warning("listening on %s: anyone who can reach this machine can use the page and its CPU; "
                    "the default 127.0.0.1 keeps it to this machine", config.host)


def serve(config: WebConfig) -> int:
    """Run the server until Ctrl-C (exit 0) or SIGTERM; with ``--ray``, the deployment is up
    (or refused in one line) before the server listens."""
    check_host(config)
    keep_freed_memory()  # frames' arrays reused, not faulted in anew (realtime.memory)
    filterer = load_ray_serve().connect(config) if config.ray is not None else None
    return run_site(make_app(config, filterer=filterer), config)


def load_ray_serve() -> Any:
    """:mod:`realtime.web.ray_serve`, or one line naming the extra that brings Ray Serve."""
    try:
        from realtime.web import ray_serve
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("ray", "starlette"):
            raise
        raise UserError(f"--ray needs Ray Serve ({first_line(exc)}): pip install 'realtime-filters[scale]'") from None
    return ray_serve


def run_site(app: web.Application, config: WebConfig) -> int:
    async def forever() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, config.host, config.port)
            try:
                await site.start()
            except OSError as exc:
                raise UserError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc}); "
                                f"choose another --port or --host") from None
            host, port = runner.addresses[0][:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"realtime web: http://{shown}:{port}/  (Ctrl-C to stop)", flush=True)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:  # run_cli exits 128 + SIGTERM/SIGHUP (realtime.signals recorded it)
        print("stopped", flush=True)
    return 0
