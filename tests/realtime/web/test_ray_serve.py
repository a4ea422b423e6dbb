"""realtime web --ray: the aiohttp front sending its checked uploads to a Ray Serve deployment,
and the deployment's own ``POST /apply`` (``serve run realtime.web.ray_serve:app``).

Serve runs in its local testing mode (``serve.run(..., _local_testing_mode=True)``): the
replica is built in this process and every handle call's arguments are pickled and unpickled
as they would be on their way to a remote replica, without starting Ray (about 1 s, against
10-20 s for a local cluster on the 2-core reference machine). The standalone ``/apply`` is
driven through the same handle with a real Starlette request (Serve hands its ingress one).
"""
from __future__ import annotations

import asyncio
import json
import struct
import sys
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

pytest.importorskip("ray.serve", reason="Ray Serve comes with the scale extra: pip install 'realtime-filters[scale]'")

from ray import serve  # noqa: E402
from starlette.requests import Request  # noqa: E402

from realtime.errors import UserError  # noqa: E402
from realtime.web.chains import ChainCache  # noqa: E402
from realtime.web.config import WebConfig  # noqa: E402
from realtime.web.errors import RequestError  # noqa: E402
from realtime.web.ray_serve import (  # noqa: E402
    Refusal, ReplicaSettings, ServeFilterer, application, build, check_resources)
from realtime.web.server import make_app  # noqa: E402
from realtime.capture.image_header import read_header  # noqa: E402
from realtime.web.options import ApplyOptions  # noqa: E402
from tests.conftest import assert_one_line, run_realtime, synthetic_photo  # noqa: E402
from tests.processes import foreground  # noqa: E402
from tests.realtime.web.test_server import assert_error  # noqa: E402

CHAINS = ChainCache(provider="cpu")  # the local path's models, loaded once for the file
SETTINGS = ReplicaSettings(provider="cpu", threads=1, max_upload_mb=0.2, max_megapixels=1.0)


@pytest.fixture(scope="module")
def handle() -> Any:
    """One replica for the file, in Serve's local testing mode."""
    return serve.run(application(SETTINGS), name="realtime-web-test", route_prefix=None, _local_testing_mode=True)


def photo(h: int = 72, w: int = 96, seed: int = 0) -> np.ndarray:
    return cv2.cvtColor(synthetic_photo(h, w, seed), cv2.COLOR_RGB2BGR)


def encode(bgr: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, bgr)
    assert ok
    return buf.tobytes()


def decoded(body: bytes) -> np.ndarray:
    assert body[:8] == b"\x89PNG\r\n\x1a\n", body[:200]
    return cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and whose data is cut off."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) + bytes(64)


def form(image: bytes, **fields: str) -> FormData:
    data = FormData(default_to_multipart=True)
    data.add_field("image", image, filename="x.png", content_type="image/png")
    for k, v in fields.items():
        data.add_field(k, v)
    return data


def post(config: WebConfig, filterer: Any, data: FormData) -> tuple[int, str, bytes, dict[str, str]]:
    """POST /api/apply to the aiohttp front: (status, content type, body, headers)."""
    async def main() -> tuple[int, str, bytes, dict[str, str]]:
        async with TestClient(TestServer(make_app(config, CHAINS, filterer))) as client:
            r = await client.post("/api/apply", data=data)
            return r.status, r.content_type, await r.read(), dict(r.headers)
    return asyncio.run(main())


def stats(handle: Any) -> dict[str, int]:
    return handle.stats.remote().result()


# ------------------------------------------------------------------------------ the front
@pytest.mark.parametrize("fields", [{"filter": "cartoon", "latent": "2", "strength": "0.8"},
                                    {"filter": "candy", "background": "#00ff00"},
                                    {"filter": "cartoon", "latent": "all"}])
def test_the_ray_backend_gives_the_png_the_local_backend_gives(handle, fields):
    image = encode(photo(71, 97, seed=4), ".jpg")
    config = WebConfig()
    local = post(config, None, form(image, **fields))
    before = stats(handle)
    remote = post(config, ServeFilterer(handle, config.max_pending), form(image, **fields))
    assert stats(handle)["rendered"] == before["rendered"] + 1  # it was filtered by the replica, not here
    assert local[0] == remote[0] == 200 and remote[1] == "image/png"
    assert "filter;dur=" in remote[3]["Server-Timing"]
    a, b = decoded(local[2]).astype(int), decoded(remote[2]).astype(int)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 1  # the same code; the replica's ONNX Runtime runs one thread, the local one two


@pytest.mark.parametrize("data, status, needles", [
    (lambda: form(encode(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)), filter="candy"),
     413, ["the limit is 0.05 MB"]),
    (lambda: form(png_claiming(30000, 30000), filter="candy"), 413, ["30000x30000", "50 megapixels"]),
    (lambda: form(b"GIF89a" + struct.pack("<HH", 40, 30) + bytes(20), filter="candy"), 415, ["GIF images are not accepted"]),
    (lambda: form(encode(photo(32, 32)), filter="sparkle"), 400, ["unknown filter 'sparkle'"]),
])
def test_the_fronts_caps_refuse_before_anything_reaches_ray(handle, data, status, needles):
    config = WebConfig(max_upload_mb=0.05)
    before = stats(handle)
    result = post(config, ServeFilterer(handle, config.max_pending), data())
    assert_error(result[:3], status, *needles)
    assert stats(handle) == before


def test_a_file_only_the_replica_finds_damaged_comes_back_as_one_json_line(handle):
    damaged = png_claiming(64, 48)  # a good header, no picture: refused when the replica decodes it
    config = WebConfig()
    before = stats(handle)
    result = post(config, ServeFilterer(handle, config.max_pending), form(damaged, filter="candy"))
    assert_error(result[:3], 400, "the PNG file is damaged")
    after = stats(handle)
    assert after["requests"] == before["requests"] + 1 and after["rendered"] == before["rendered"]


class HeldHandle:
    """A deployment handle whose calls wait until the test releases them (the 503 is about
    counting calls in flight, which a real replica finishes at its own pace)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.render = self

    def remote(self, *args: Any) -> Any:
        return self._answer()

    async def _answer(self) -> Refusal:
        await self.release.wait()
        return Refusal("held", 400)


def test_past_max_pending_images_in_flight_on_ray_the_front_answers_503():
    header = read_header(encode(photo(8, 8)))
    options = ApplyOptions("candy", 0, 1.0, None)

    async def scenario() -> None:
        held = HeldHandle()
        filterer = ServeFilterer(held, max_pending=1)
        first = asyncio.ensure_future(filterer.render(b"", header, options))
        await asyncio.sleep(0)  # one turn of the loop: the first call is in flight
        assert filterer.gate.pending == 1
        with pytest.raises(RequestError) as refused:
            await filterer.render(b"", header, options)
        assert refused.value.status == 503 and "busy" in str(refused.value)
        first.cancel()  # its client went away: the call still counts until the replica answers
        await asyncio.sleep(0)
        assert filterer.gate.pending == 1
        held.release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        while filterer.gate.pending:  # the shielded call finishes on the next turns of the loop
            await asyncio.sleep(0)
        with pytest.raises(RequestError) as answered:  # the next call gets through, and the refusal is its 400
            await filterer.render(b"", header, options)
        assert answered.value.status == 400 and str(answered.value) == "held"

    asyncio.run(scenario())


# ------------------------------------------------------------------------------ standalone POST /apply
def request(body: bytes, query: str = "", method: str = "POST", path: str = "/apply",
            headers: dict[str, str] | None = None, readable: bool = True) -> Request:
    """A Starlette request as Serve's proxy hands one to the ingress: the body in 1 KB
    messages; ``readable=False`` fails the test's request if anything reads the body."""
    declared = {"content-type": "image/png", "content-length": str(len(body))} if headers is None else headers
    chunks = [body[i:i + 1024] for i in range(0, len(body), 1024)] or [b""]
    sent = [0]

    async def receive() -> dict[str, Any]:
        if not readable:
            raise AssertionError("the body was read")
        i = sent[0]
        sent[0] += 1
        return {"type": "http.request", "body": chunks[i] if i < len(chunks) else b"", "more_body": i < len(chunks) - 1}

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": query.encode(),
             "headers": [(k.encode(), v.encode()) for k, v in declared.items()], "http_version": "1.1",
             "scheme": "http", "server": ("127.0.0.1", 8000)}
    return Request(scope, receive)


def call(handle: Any, req: Request) -> tuple[int, str, bytes]:
    response = handle.remote(req).result()
    return response.status_code, response.media_type, bytes(response.body)


def test_standalone_apply_answers_the_png_the_web_page_gives(handle):
    image = encode(photo(60, 84, seed=5), ".jpg")
    as_curl_sends_it = {"content-type": "application/x-www-form-urlencoded", "content-length": str(len(image))}
    status, ctype, body = call(handle, request(image, "filter=cartoon&latent=1&strength=0.9", headers=as_curl_sends_it))
    assert status == 200 and ctype == "image/png"
    web = post(WebConfig(), None, form(image, filter="cartoon", latent="1", strength="0.9"))
    assert np.abs(decoded(body).astype(int) - decoded(web[2]).astype(int)).max() <= 1


def test_standalone_filters_lists_the_names(handle):
    status, ctype, body = call(handle, request(b"", method="GET", path="/filters", headers={}))
    assert status == 200 and ctype == "application/json"
    assert {"cartoon", "candy", "none", "glasses"} <= {f["name"] for f in json.loads(body)["filters"]}


@pytest.mark.parametrize("req, status, needles", [
    (lambda: request(encode(photo(32, 32)), "filter=sparkle&latent=x"), 400, ["unknown filter 'sparkle'"]),
    (lambda: request(encode(photo(32, 32)), "filter=candy&colour=red"), 400, ["unknown query field 'colour'"]),
    (lambda: request(encode(photo(32, 32)), "filter=candy&filter=cartoon"), 400, ["given twice"]),
    (lambda: request(b"", "filter=candy"), 400, ["no image"]),
    (lambda: request(b"hello", "filter=candy"), 400, ["not an image"]),
    (lambda: request(b"x" * 10, "filter=candy", headers={"content-length": "300000"}, readable=False), 413,
     ["0.3 MB", "the limit is 0.2 MB"]),
    (lambda: request(b"x" * 300_000, "filter=candy", headers={}), 413, ["over the 0.2 MB limit"]),  # chunked
    (lambda: request(png_claiming(2000, 1000), "filter=candy"), 413, ["2000x1000", "the limit is 1 megapixels"]),
    (lambda: request(b"--b\r\n", "filter=candy", headers={"content-type": "multipart/form-data; boundary=b"}),
     415, ["--data-binary"]),
    (lambda: request(b"", method="GET"), 405, ["POST /apply"]),
    (lambda: request(b"", path="/apply/../etc"), 404, ["POST /apply"]),
])
def test_standalone_apply_refuses_bad_requests_in_one_json_line(handle, req, status, needles):
    before = stats(handle)
    assert_error(call(handle, req()), status, *needles)
    assert stats(handle) == before  # refused before the filter


# ------------------------------------------------------------------------------ options and resources
def test_the_cluster_must_hold_the_replicas_gpus_and_cpus():
    with pytest.raises(UserError, match=r"--gpus-per-replica 0.5: the Ray cluster has no GPUs \(2 CPUs\)"):
        check_resources(WebConfig(ray="auto", gpus_per_replica=0.5), {"CPU": 2.0})
    with pytest.raises(UserError, match="needs 1.5 GPUs; the Ray cluster has 1"):
        check_resources(WebConfig(ray="auto", gpus_per_replica=0.5, ray_replicas="3-6"), {"CPU": 8.0, "GPU": 1.0})
    with pytest.raises(UserError, match="4 replicas x 1 CPUs"):
        check_resources(WebConfig(ray="auto", ray_replicas="4"), {"CPU": 2.0})
    check_resources(WebConfig(ray="auto", gpus_per_replica=0.25, ray_replicas="4-8"), {"CPU": 8.0, "GPU": 1.0})


def test_the_replicas_run_cuda_on_a_gpu_share_and_scale_as_asked():
    config = WebConfig(ray="auto", ray_replicas="2-5", gpus_per_replica=0.25)
    assert ReplicaSettings.from_config(config).provider == "cuda"
    assert ReplicaSettings.from_config(WebConfig(ray="auto")).provider == "auto"
    deployment = build({"replicas": "2-5", "gpus_per_replica": "0.25", "threads": "2"})._bound_deployment
    assert deployment.ray_actor_options["num_gpus"] == 0.25 and deployment.ray_actor_options["num_cpus"] == 2
    scaling = deployment._deployment_config.autoscaling_config
    assert (scaling.min_replicas, scaling.max_replicas) == (2, 5)
    fixed = build({"replicas": "3"})._bound_deployment
    assert fixed.num_replicas == 3 and "num_gpus" not in fixed.ray_actor_options
    with pytest.raises(UserError, match="unknown argument 'colour'"):
        build({"colour": "red"})


def test_ray_options_are_one_line(monkeypatch, capsys):
    code, err = run_realtime(monkeypatch, capsys, "web", "--gpus-per-replica", "1")
    assert_one_line(code, err, "--ray-replicas and --gpus-per-replica are for --ray ADDRESS")
    code, err = run_realtime(monkeypatch, capsys, "web", "--ray", "auto", "--ray-replicas", "8-2")
    assert_one_line(code, err, "--ray-replicas must be 1..1024")
    code, err = run_realtime(monkeypatch, capsys, "web", "--ray", "auto", "--gpus-per-replica", "1", "--provider", "cpu")
    assert_one_line(code, err, "does not go with --provider cpu")


def test_without_ray_installed_ray_is_one_line_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as where it is not installed
    monkeypatch.delitem(sys.modules, "realtime.web.ray_serve", raising=False)
    monkeypatch.delattr("realtime.web.ray_serve", raising=False)  # else `from realtime.web import` finds it
    code, err = run_realtime(monkeypatch, capsys, "web", "--ray", "local", "--port", "0")
    assert_one_line(code, err, "--ray needs Ray Serve", "pip install 'realtime-filters[scale]'")


# ------------------------------------------------------------------------------ a real one-machine cluster
@pytest.mark.slow
def test_realtime_web_ray_local_filters_on_a_real_cluster_and_stops_on_sigterm():
    """The whole command on a Ray instance of its own (about 10 s to start on the 2-core
    reference machine): each replica imports this package afresh, which the local testing
    mode does not; SIGTERM stops it as Ctrl-C does (Ray's own handler would abort it)."""
    import re
    import signal
    import subprocess
    from pathlib import Path

    import aiohttp

    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(foreground([sys.executable, "-m", "realtime", "web", "--ray", "local", "--port", "0"]),
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if "realtime web: http" in line or line.startswith("error"):
                break
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(seen))
        assert found, "".join(seen)
        image = encode(photo(71, 97, seed=6), ".jpg")

        async def apply() -> tuple[int, bytes]:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{found.group(0)}api/apply", data=form(image, filter="cartoon", latent="2")) as r:
                    return r.status, await r.read()

        status, body = asyncio.run(apply())
        assert status == 200, body[:300]
        local = post(WebConfig(), None, form(image, filter="cartoon", latent="2"))
        assert np.abs(decoded(body).astype(int) - decoded(local[2]).astype(int)).max() <= 1
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, rest
    assert "stopped" in rest and "SIGTERM received" not in rest, rest
