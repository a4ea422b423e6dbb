"""The control plane's HTTP server: it translates HTTP and Server-Sent Events to the protocol
(:mod:`realtime.control.protocol`) and nothing else. It runs in its own thread with its own
asyncio loop, bound to 127.0.0.1, started and stopped with the run.

    GET  /studio                   the studio page (no token: it reads it from the URL's #token=)
    POST /api/v1/request/NAME      a request: JSON fields in, JSON answer out
    GET  /api/v1/events            Server-Sent Events: Hello, then StateChanged, StatsUpdated, ...
    GET  /api/v1/preview.mjpg      the output as MJPEG (multipart/x-mixed-replace), a few fps

Who may ask: every request must name this panel as its Host (``127.0.0.1:PORT`` or
``localhost:PORT``: a DNS-rebound name is refused), must not come from another page (an
``Origin`` other than the panel's, or ``Sec-Fetch-Site: cross-site``), and under ``/api/``
must carry the token printed at start in ``X-Realtime-Token`` (or ``Authorization: Bearer``).
So a web page open in the user's browser cannot drive the camera: it knows no token, and the
browser tells us where it comes from. Refusals are 401/403, bad requests 4xx, each
``{"error": "one line"}``; nothing a client sends or drops reaches the loop but a posted change.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import resources
from typing import Any, Awaitable, Callable

import cv2
from aiohttp import web

from realtime.control.protocol import PROTOCOL_VERSION, RequestError, dispatch
from realtime.control.target import WAIT_S, LiveTarget
from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_HEADER = "X-Realtime-Token"
MAX_BODY = 64 * 1024
PREVIEW_WIDTH = 640  # the MJPEG preview's widest side
PREVIEW_QUALITY = 75
PING_S = 15.0  # a comment on an idle event stream, so a dropped client is noticed
QUEUE = 256  # events waiting for a slow client; past that it is disconnected
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

TARGET = web.AppKey("target", LiveTarget)
PORT = web.AppKey("port", list)  # [port], known once the site is bound
TOKEN = web.AppKey("token", str)


def error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


# ---------------------------------------------------------------- who may ask
def refusal(request: web.Request) -> web.Response | None:
    """Why this request may not be served (a 401/403 answer), or None."""
    port = request.app[PORT][0]
    own = {f"127.0.0.1:{port}", f"localhost:{port}"}
    host = request.headers.get("Host", "")
    if host not in own:
        return error(f"refused: Host {host[:60]!r} is not this panel (use http://127.0.0.1:{port}/)", 403)
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"http://{h}" for h in own}:
        return error(f"refused: a page from {origin[:60]!r} may not control the camera", 403)
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return error("refused: a cross-site request may not control the camera", 403)
    if request.path.startswith("/api/"):
        token = request.headers.get(TOKEN_HEADER)
        auth = request.headers.get("Authorization", "")
        if token is None and auth.startswith("Bearer "):
            token = auth[len("Bearer "):]
        if not token:
            return error(f"missing token: send it in the {TOKEN_HEADER} header (the URL printed at start carries it)", 401)
        if not hmac.compare_digest(token.encode("utf-8", "replace"), request.app[TOKEN].encode()):
            return error("wrong token (each run prints a new one; realtime ctl reads it by itself)", 401)
    return None


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    refused = refusal(request)
    if refused is not None:
        return refused
    return await handler(request)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return error(first_line(exc), exc.status)
    except UserError as exc:
        return error(first_line(exc), 400)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.reason, exc.status)
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return error(f"internal error ({type(exc).__name__}); the log has the details", 500)


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


# ---------------------------------------------------------------- events
class Hub:
    """The event streams' queues; :meth:`publish` is called on the server's loop."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[tuple[str, Any] | None]] = []

    def subscribe(self) -> "asyncio.Queue[tuple[str, Any] | None]":
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(QUEUE)
        self.queues.append(queue)
        return queue

    def unsubscribe(self, queue: "asyncio.Queue[tuple[str, Any] | None]") -> None:
        if queue in self.queues:
            self.queues.remove(queue)

    def publish(self, name: str, data: Any) -> None:
        for queue in list(self.queues):
            try:
                queue.put_nowait((name, data))
            except asyncio.QueueFull:  # a client that stopped reading: end its stream
                self.unsubscribe(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    def close(self) -> None:
        for queue in list(self.queues):
            self.unsubscribe(queue)
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(None)


HUB = web.AppKey("hub", Hub)


def sse(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def events(request: web.Request) -> web.StreamResponse:
    target, hub = request.app[TARGET], request.app[HUB]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Content-Type-Options": "nosniff"})
    await response.prepare(request)
    queue = hub.subscribe()
    try:
        await response.write(sse("Hello", {"protocol_version": PROTOCOL_VERSION, "state": target.state(), "stats": target.stats()}))
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), PING_S)
            except asyncio.TimeoutError:
                await response.write(b": ping\n\n")
                continue
            if item is None:
                break
            await response.write(sse(*item))
            if item[0] == "Stopping":
                break
    except (ConnectionError, RuntimeError):  # the client went away (a closed tab): nothing to do
        pass
    finally:
        hub.unsubscribe(queue)
    return response


async def pump(app: web.Application) -> None:
    """Watch the loop's snapshots and publish what changed (every 0.1 s; stats once a second)."""
    target, hub = app[TARGET], app[HUB]
    loop = asyncio.get_running_loop()
    seen: dict[str, Any] = {}
    filter_seen: str | None = None
    next_stats = 0.0
    while True:
        try:
            marks = {"version": target.controls.version, "revision": target.revision, "loading": target.choices.loading,
                     "failed": target.choices.failed, "vcam_error": target.loop.virtual_cam_error,
                     "camera": target.camera_state()}
            if marks != seen:
                if marks["loading"] and marks["loading"] != seen.get("loading"):
                    hub.publish("FilterLoading", {"filter": marks["loading"]})
                if marks["failed"] and marks["failed"] != seen.get("failed"):
                    hub.publish("FilterLoadFailed", {"filter": marks["failed"][0], "error": marks["failed"][1]})
                if marks["vcam_error"] and marks["vcam_error"] != seen.get("vcam_error"):
                    hub.publish("VirtualCameraFailed", {"error": marks["vcam_error"]})
                seen = marks
                state = target.state()
                hub.publish("StateChanged", state)
                if filter_seen is not None and state["filter"] != filter_seen:
                    await loop.run_in_executor(None, target.remember_filter, state["filter"])
                filter_seen = state["filter"]
            now = time.monotonic()
            if now >= next_stats:
                next_stats = now + 1.0
                hub.publish("StatsUpdated", target.stats())
        except Exception:  # a bug here must not end the events (nor the loop)
            log.exception("control events")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- requests
async def run_request(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await request.read()
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"the body is not JSON ({first_line(exc)})") from None
    answer = dispatch(request.app[TARGET], name, data)
    if isinstance(answer, Future):
        try:
            answer = await asyncio.wait_for(asyncio.wrap_future(answer), WAIT_S)
        except asyncio.TimeoutError:
            raise RequestError(f"{name} did not finish within {WAIT_S:.0f} s; it goes on in the background", status=504) from None
    return web.json_response(answer)


# ---------------------------------------------------------------- the preview
class Preview:
    """JPEGs of the loop's output for the MJPEG stream: the output thread copies a frame a
    few times a second while someone watches (:class:`~realtime.live.loop.FrameTap`); here,
    on the server's own threads, it is shrunk and encoded once for every watcher."""

    def __init__(self, tap: Any) -> None:
        self.tap = tap
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="control-preview")
        self._lock = threading.Lock()
        self._encoded: tuple[int, bytes] = (0, b"")
        self.closed = False

    def next_jpeg(self, after: int, timeout: float = 1.0) -> tuple[int, bytes] | None:
        got = self.tap.wait(after, timeout)
        if got is None:
            return None
        seq, frame = got
        with self._lock:
            if self._encoded[0] == seq:
                return self._encoded
        h, w = frame.shape[:2]
        if w > PREVIEW_WIDTH:
            frame = cv2.resize(frame, (PREVIEW_WIDTH, max(2, round(h * PREVIEW_WIDTH / w))), interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_QUALITY])
        with self._lock:
            self._encoded = (seq, jpeg.tobytes() if ok else b"")
            return self._encoded

    def close(self) -> None:
        self.closed = True
        self.pool.shutdown(wait=False, cancel_futures=True)


PREVIEW = web.AppKey("preview", Preview)


async def preview(request: web.Request) -> web.StreamResponse:
    source = request.app[PREVIEW]
    response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame",
                                           "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    seq = 0
    try:
        while not source.closed and not source.tap.closed:
            got = await loop.run_in_executor(source.pool, source.next_jpeg, seq, 1.0)
            if got is None or not got[1]:
                continue
            seq, jpeg = got
            await response.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg) + jpeg + b"\r\n")
    except (ConnectionError, RuntimeError):  # the page closed
        pass
    return response


# ---------------------------------------------------------------- the page
async def studio(request: web.Request) -> web.Response:
    html = resources.files("realtime.control").joinpath("studio.html").read_text(encoding="utf-8")
    return web.Response(text=html, content_type="text/html",
                        headers={"Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"})


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/studio")


def make_app(target: LiveTarget, token: str) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[headers, guard, json_errors])
    app[TARGET], app[HUB], app[PORT], app[TOKEN] = target, Hub(), [0], token
    app[PREVIEW] = Preview(target.loop.tap)
    app.router.add_get("/", root)
    app.router.add_get("/studio", studio)
    app.router.add_post("/api/v1/request/{name}", run_request)
    app.router.add_get("/api/v1/events", events)
    app.router.add_get("/api/v1/preview.mjpg", preview)
    return app


# ---------------------------------------------------------------- the thread
class ControlServer:
    """The app on ``127.0.0.1:port`` (0: a free one) in a thread with its own event loop."""

    def __init__(self, target: LiveTarget, port: int = 0, token: str | None = None) -> None:
        self.target, self.asked_port = target, port
        self.token = token or secrets.token_urlsafe(24)
        self.app = make_app(target, self.token)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="control", daemon=True)
        self._runner: web.AppRunner | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def studio_url(self) -> str:
        return f"{self.url}/studio#token={self.token}"

    def start(self) -> None:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        except OSError as exc:
            self._end_thread()
            raise UserError(f"cannot listen on 127.0.0.1:{self.asked_port} ({exc.strerror or exc}); "
                            f"choose another --control-port, or --no-control") from None
        except BaseException:
            self._end_thread()
            raise

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.asked_port).start()
        self.port = self._runner.addresses[0][1]
        self.app[PORT][0] = self.port
        self._pump = asyncio.get_running_loop().create_task(pump(self.app))

    def stop(self) -> None:
        """Say Stopping to the event streams, close every connection, end the thread."""
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        except Exception as exc:
            log.warning("stopping the control server: %s", first_line(exc))
        self.app[PREVIEW].close()
        self._end_thread()

    async def _stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        hub = self.app[HUB]
        hub.publish("Stopping", {})
        self.app[PREVIEW].closed = True
        await asyncio.sleep(0)  # the streams take their last event
        hub.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _end_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
