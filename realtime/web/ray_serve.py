"""Filtering on a Ray Serve deployment: behind ``realtime web --ray ADDRESS``, or on its own.

Behind the web server, aiohttp stays in front: its body and pixel caps, CSP and 503 back-pressure
run as before, and only a checked upload is sent on, through a deployment handle
(:class:`ServeFilterer`); the replicas (:class:`FilterService`) spread over the cluster's nodes
and GPUs. On its own, for people who run Serve already::

    serve run realtime.web.ray_serve:app             # POST http://127.0.0.1:8000/apply
    serve run realtime.web.ray_serve:build replicas=1-4 gpus_per_replica=0.25 max_upload_mb=50
    curl --data-binary @me.jpg -o out.png 'http://127.0.0.1:8000/apply?filter=cartoon&latent=2&strength=0.8'

``POST /apply`` takes the image file itself as the body and the fields of the page's form
(filter, latent, strength, background) as query parameters; it answers the PNG, or
``{"error": one line}`` with 400, 404, 405, 413 or 415, with the web server's caps: the declared
size before a byte is read, the streamed size as it comes, the pixels from the header before
decoding. ``GET /filters`` lists the names. Both paths run the web server's own code
(:func:`~realtime.web.rendering.render`, :func:`~realtime.web.uploads.check_image`,
:func:`~realtime.web.options.parse_options`): there is no second copy of the filtering.

Why it is built this way, with numbers:

* **The encoded file crosses the network, not pixels.** A 640x480 upload is a 64 KB JPEG
  and 921,600 bytes as a BGR array, so the file moves 14 times fewer bytes, and its decoding
  (like the PNG encoding, 9 ms at 640x480) runs on the replica, spread with the filtering.
* **One image at a time per replica, one ONNX Runtime thread by default** (``--threads``
  sets it, and the replica asks Ray for that many CPUs). The replicas are the parallelism: two
  replicas each running every core of the 2-core reference machine would put 4 threads on 2
  cores. ``max_ongoing_requests=2`` lets a replica hold the next image while it filters one,
  so it never waits a round trip between them; more would queue images at a busy replica while
  Serve's router could give them to an idle one.
* **``--gpus-per-replica F``** asks Ray for F GPUs per replica (0.25: four replicas share one)
  and runs the CUDA provider in each. A cluster with fewer GPUs (or CPUs) than the replicas
  need is refused in one line before anything is deployed: Serve would otherwise wait for
  them without end.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

import cv2
import ray
from ray import serve
from ray.exceptions import RayError, RayTaskError
from ray.serve.exceptions import RayServeException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from realtime.capture.image_header import ImageHeader
from realtime.errors import UserError, first_line
from realtime.ray_cluster import start_ray
from realtime.web.chains import ChainCache
from realtime.web.config import WebConfig
from realtime.web.errors import RequestError, one_line
from realtime.web.options import ApplyOptions, Catalogue, parse_options
from realtime.web.rendering import Rendered, render
from realtime.web.state import Gate
from realtime.web.uploads import FIELD_BYTES, FIELDS, check_image

log = logging.getLogger(__name__)
APP_NAME = "realtime-web"  # the Serve application ``realtime web --ray`` deploys (and deletes when it stops)
MAX_ONGOING = 2  # images a replica holds: one being filtered, the next ready
QUERY_FIELDS = tuple(f for f in FIELDS if f != "image")
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class ReplicaSettings:
    """What each replica loads its chains with, and the standalone ``/apply``'s caps."""

    provider: str = "auto"
    variant: str = "auto"
    threads: int = 1  # ONNX Runtime threads per session, and the CPUs the replica asks Ray for
    max_upload_mb: float = WebConfig.max_upload_mb
    max_megapixels: float = WebConfig.max_megapixels

    @classmethod
    def from_config(cls, config: WebConfig) -> "ReplicaSettings":
        provider = "cuda" if config.gpus_per_replica > 0 and config.provider == "auto" else config.provider
        return cls(provider, config.variant, config.threads or 1, config.max_upload_mb, config.max_megapixels)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)


@dataclass(frozen=True)
class Refusal:
    """A replica's answer for input the client can fix (the handle carries it back as a value:
    an exception would come back wrapped in Ray's, with the replica's traceback in its text)."""

    message: str
    status: int


class FilterService:
    """One replica: its own chains (one ONNX Runtime session set), one worker thread."""

    def __init__(self, settings: ReplicaSettings | None = None) -> None:
        self.settings = settings or ReplicaSettings()
        cv2.setNumThreads(self.settings.threads)  # the decode and encode keep to the replica's CPUs too
        self.chains = ChainCache(self.settings.provider, self.settings.variant, self.settings.threads)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="realtime-replica")
        self.catalogue = Catalogue.from_registry()
        self.requests = 0  # render calls this replica has had (handle and /apply)
        self.rendered = 0  # of which answered with a PNG

    async def render(self, data: bytes, header: ImageHeader, options: ApplyOptions) -> Rendered | Refusal:
        """The checked upload filtered into a PNG, or the :class:`Refusal` for a file that does
        not decode or a chain that does not load."""
        self.requests += 1
        try:
            result = await asyncio.get_running_loop().run_in_executor(self.pool, render, self.chains, data, header, options)
        except RequestError as exc:
            return Refusal(one_line(exc), exc.status)
        except UserError as exc:
            return Refusal(one_line(exc), 400)
        self.rendered += 1
        return result

    def stats(self) -> dict[str, int]:
        return {"requests": self.requests, "rendered": self.rendered}

    async def __call__(self, request: Request) -> Response:
        """The HTTP side: ``POST /apply`` and ``GET /filters``; every error one line of JSON."""
        try:
            path = request.url.path.rstrip("/")
            if path.endswith("/filters"):
                if request.method != "GET":
                    raise RequestError("use GET /filters", status=405)
                return JSONResponse(self.catalogue.as_json(), headers=HEADERS)
            if not path.endswith("/apply"):
                raise RequestError(f"no such endpoint {request.url.path[:60]!r}: POST /apply, GET /filters", status=404)
            if request.method != "POST":
                raise RequestError("use POST /apply with the image as the body", status=405)
            return await self.apply(request)
        except RequestError as exc:
            return error_response(one_line(exc), exc.status)
        except UserError as exc:
            return error_response(one_line(exc), 400)
        except Exception as exc:  # a bug: the client gets one line, the log the traceback
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(f"internal error ({type(exc).__name__}); the replica's log has the details", 500)

    async def apply(self, request: Request) -> Response:
        options = parse_options(query_fields(request.query_params.multi_items()), self.catalogue)
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind.startswith("multipart/"):  # any other type is let through (curl --data-binary says urlencoded): the bytes are sniffed
            raise RequestError(f"send the image file itself as the body (curl --data-binary @photo.jpg), not a form ({kind}); "
                               f"the fields go in the query: {', '.join(QUERY_FIELDS)}", status=415)
        data = await read_body(request, self.settings.max_upload_bytes)
        header = check_image(data, self.settings.max_pixels)
        result = await self.render(data, header, options)
        if isinstance(result, Refusal):
            return error_response(result.message, result.status)
        return Response(result.png, media_type="image/png",
                        headers={**HEADERS, "Server-Timing": f"filter;dur={result.filter_ms:.1f}"})


def error_response(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)


def query_fields(items: list[tuple[str, str]]) -> dict[str, str]:
    """The query's fields; 400 for one not known, given twice or over its cap."""
    out: dict[str, str] = {}
    for name, value in items:
        if name not in QUERY_FIELDS:
            raise RequestError(f"unknown query field {name[:40]!r} (fields: {', '.join(QUERY_FIELDS)}; the image is the body)")
        if name in out:
            raise RequestError(f"the query field {name!r} is given twice")
        if len(value) > FIELD_BYTES:
            raise RequestError(f"the query field {name!r} is over {FIELD_BYTES} characters")
        out[name] = value.strip()
    return out


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 before a byte is read when its declared size is over
    ``limit``, and as soon as it passes it while it streams (chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise RequestError(f"Content-Length is not a number: {declared[:40]!r}")
        if int(declared) > limit:
            raise RequestError(f"the upload is {int(declared) / 1e6:.1f} MB; the limit is {limit / 1e6:g} MB", status=413)
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise RequestError(f"the image is over the {limit / 1e6:g} MB limit", status=413)
    if not data:
        raise RequestError("no image: send the picture file as the request body")
    return bytes(data)


# max_queued_requests: past 16 requests waiting at one caller (Serve's HTTP proxy, or the web server's handle,
# which already stops at --max-pending 16) Serve answers 503 instead of queueing without bound, as the web server does
FilterDeployment = serve.deployment(name="realtime-filter", max_ongoing_requests=MAX_ONGOING,
                                    max_queued_requests=WebConfig.max_pending, ray_actor_options={"num_cpus": 1})(FilterService)


def application(settings: ReplicaSettings, replicas: tuple[int, int] = (1, 1), gpus_per_replica: float = 0.0) -> Any:
    """The Serve application: ``replicas`` fixed (N, N) or autoscaled (MIN, MAX), each asking
    for ``settings.threads`` CPUs and ``gpus_per_replica`` GPUs."""
    actor: dict[str, Any] = {"num_cpus": settings.threads}
    if gpus_per_replica > 0:
        actor["num_gpus"] = gpus_per_replica
    low, high = replicas
    scale: dict[str, Any] = ({"num_replicas": low} if low == high else
                             {"autoscaling_config": {"min_replicas": low, "max_replicas": high, "target_ongoing_requests": 1}})
    return FilterDeployment.options(ray_actor_options=actor, **scale).bind(settings)


BUILD_ARGS = ("provider", "variant", "threads", "max_upload_mb", "max_megapixels", "replicas", "gpus_per_replica")


def build(args: Mapping[str, str]) -> Any:
    """``serve run realtime.web.ray_serve:build KEY=VALUE ...``: the application with
    ``realtime web``'s option names (replicas as N or MIN-MAX); one line for a bad one."""
    unknown = sorted(set(args) - set(BUILD_ARGS))
    if unknown:
        raise UserError(f"unknown argument {unknown[0]!r}; choose from {', '.join(BUILD_ARGS)}")
    typed: dict[str, Any] = {}
    kinds = {f.name: f.type for f in fields(WebConfig)}
    for name, value in args.items():
        if name == "replicas":
            typed["ray_replicas"] = str(value)
            continue
        kind = {"int": int, "float": float}.get(str(kinds[name]), str)
        try:
            typed[name] = kind(value)
        except ValueError:
            raise UserError(f"{name} must be a number, got {str(value)[:40]!r}") from None
    config = WebConfig(ray="serve", **typed)  # ray: any address; the config is only checked here
    if ray.is_initialized():
        check_resources(config, ray.cluster_resources())
    return application(ReplicaSettings.from_config(config), config.replicas, config.gpus_per_replica)


def check_resources(config: WebConfig, resources: Mapping[str, float]) -> None:
    """One line, before anything is deployed, when the cluster cannot hold the fewest
    replicas the options ask for (Serve would wait for them forever)."""
    low = config.replicas[0]
    gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 0))
    share = config.gpus_per_replica
    if share > 0 and gpus == 0:
        raise UserError(f"--gpus-per-replica {share:g}: the Ray cluster has no GPUs ({cpus:g} CPUs); "
                        "leave the option out to filter on its CPUs")
    if share * low > gpus:
        raise UserError(f"--gpus-per-replica {share:g} x {low} replicas needs {share * low:g} GPUs; the Ray cluster has {gpus:g}")
    need = (config.threads or 1) * low
    if need > cpus:
        raise UserError(f"{low} replicas x {config.threads or 1} CPUs (--threads) need {need} CPUs; the Ray cluster has {cpus:g}")


class ServeFilterer:
    """The web server's side: a checked upload to a replica through the deployment handle,
    with the same 503 past ``max_pending`` images in flight as the local worker pool."""

    def __init__(self, handle: Any, max_pending: int, on_close: Callable[[], None] | None = None) -> None:
        self.handle = handle
        self.gate = Gate(max_pending)
        self.on_close = on_close

    async def render(self, data: bytes, header: ImageHeader, options: ApplyOptions) -> Rendered:
        self.gate.enter()
        # shielded: a request whose client went away still counts until its replica is done
        result = await asyncio.shield(asyncio.ensure_future(self._call(data, header, options)))
        if isinstance(result, Refusal):
            raise RequestError(result.message, result.status)
        return result

    async def _call(self, data: bytes, header: ImageHeader, options: ApplyOptions) -> Rendered | Refusal:
        try:
            return await self.handle.render.remote(data, header, options)
        except RayTaskError:
            raise  # the replica's code failed: the server logs it, the client gets a one-line 500
        except (RayError, RayServeException) as exc:
            log.warning("the Ray Serve deployment did not answer: %s", first_line(exc))
            raise RequestError(f"the filter service on Ray is unavailable ({type(exc).__name__}); "
                               "try again in a moment", status=503) from None
        finally:
            self.gate.leave()

    def close(self) -> None:
        if self.on_close is not None:
            self.on_close()
            self.on_close = None


def connect(config: WebConfig) -> ServeFilterer:
    """The deployment up on the cluster ``config.ray`` names, and the filterer that calls it;
    one line when Ray is not there or cannot hold the replicas."""
    assert config.ray is not None
    if not log.isEnabledFor(logging.INFO):  # Serve's own notices (started, deploying, ready) only with -v
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
    quiet = logging.INFO if log.isEnabledFor(logging.INFO) else logging.ERROR  # Ray's notices only with -v
    started = start_ray(config.ray.strip(), "--ray", quiet)
    try:
        check_resources(config, ray.cluster_resources())
        serve.start(proxy_location="Disabled")  # no Serve HTTP port of its own: the web server is the front
        target = application(ReplicaSettings.from_config(config), config.replicas, config.gpus_per_replica)
        try:
            handle = serve.run(target, name=APP_NAME, route_prefix=None)
        except (RayServeException, RuntimeError) as exc:  # a replica that failed to start: its log has why
            log.debug("the deployment failed", exc_info=True)
            serve.delete(APP_NAME)  # else Serve keeps starting replicas that fail
            raise UserError(f"the Ray Serve deployment did not start: {first_line(exc)} "
                            "(the replicas' errors are in the Ray logs: /tmp/ray/session_latest/logs/serve/)") from None
    except BaseException:
        if started:
            ray.shutdown()
        raise
    low, high = config.replicas
    log.info("Ray Serve: %s replicas of %s%s", low if low == high else f"{low}-{high}", APP_NAME,
             f", {config.gpus_per_replica:g} GPU each" if config.gpus_per_replica else "")

    def stop() -> None:
        try:
            serve.delete(APP_NAME)
        finally:
            if started:
                ray.shutdown()

    return ServeFilterer(handle, config.max_pending, stop)


app = application(ReplicaSettings())  # serve run realtime.web.ray_serve:app (each replica imports this module too)

__all__ = ["FilterService", "ReplicaSettings", "Refusal", "ServeFilterer", "app", "application", "build", "connect"]
