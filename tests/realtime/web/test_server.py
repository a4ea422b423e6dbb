"""realtime web: the page, the filter list and POST /api/apply through aiohttp's test client
(a real server on a loopback port), every refusal included; the header reader; the command."""
from __future__ import annotations

import asyncio
import logging
import struct
import threading
import time
import zlib
from typing import Any, Awaitable, Callable

import cv2
import numpy as np
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from realtime.filters.onnx_format import read_contract
from realtime.filters.registry import bundled_filters
from realtime.web.chains import ChainCache
from realtime.web.config import WebConfig
from realtime.web.errors import RequestError
from realtime.web.grid import GAP, LABEL_HEIGHT, TILE_SIDE
from realtime.capture.image_header import read_header
from realtime.web.state import Workers
from realtime.web.server import make_app
from tests.conftest import assert_one_line, run_realtime, synthetic_photo

CHAINS = ChainCache(provider="cpu")  # one load of each model for the whole file
SMALL = WebConfig(max_upload_mb=0.05)  # 50 KB: the size cap, hit by a 100 KB body


def serve(scenario: Callable[[TestClient], Awaitable[Any]], config: WebConfig = WebConfig()) -> Any:
    async def main() -> Any:
        async with TestClient(TestServer(make_app(config, CHAINS))) as client:
            return await scenario(client)
    return asyncio.run(main())


def encode(bgr: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, bgr)
    assert ok
    return buf.tobytes()


def photo(h: int = 72, w: int = 96, seed: int = 0) -> np.ndarray:
    return cv2.cvtColor(synthetic_photo(h, w, seed), cv2.COLOR_RGB2BGR)


def form(image: bytes | None = None, **fields: str) -> FormData:
    data = FormData(default_to_multipart=True)
    if image is not None:
        data.add_field("image", image, filename="../../etc/x.png", content_type="image/png")  # the name is never used
    for k, v in fields.items():
        data.add_field(k, v)
    return data


def post(data: Any, config: WebConfig = WebConfig(), **kwargs: Any) -> tuple[int, str, bytes]:
    """POST /api/apply: (status, content type, body)."""
    async def scenario(client: TestClient) -> tuple[int, str, bytes]:
        r = await client.post("/api/apply", data=data, **kwargs)
        return r.status, r.content_type, await r.read()
    return serve(scenario, config)


def assert_error(result: tuple[int, str, bytes], status: int, *needles: str) -> str:
    """A JSON ``{"error": one line}`` with ``status`` that holds each needle."""
    import json

    code, ctype, body = result
    assert code == status, body[:300]
    assert ctype == "application/json"
    payload = json.loads(body)
    assert list(payload) == ["error"] and "\n" not in payload["error"] and "Traceback" not in payload["error"]
    for n in needles:
        assert n in payload["error"], payload["error"]
    return payload["error"]


def decoded(body: bytes) -> np.ndarray:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    return cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)


# ------------------------------------------------------------------------------ page and list
def test_the_page_loads_nothing_from_elsewhere_and_has_every_control():
    async def scenario(client: TestClient) -> tuple[int, str, str]:
        r = await client.get("/")
        return r.status, r.headers["Content-Security-Policy"], await r.text()

    status, policy, html = serve(scenario)
    assert status == 200
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    for needle in ('id="filter"', 'id="latent"', 'id="strength"', 'id="background"', 'type="file"', 'id="drop"',
                   'id="input"', 'id="result"', 'id="download"', 'id="live"', "getUserMedia", "RTCPeerConnection", '"all"'):
        assert needle in html, needle


def test_the_filter_list_has_every_bundled_filter_with_its_latent_names():
    async def scenario(client: TestClient) -> dict[str, Any]:
        r = await client.get("/api/filters")
        assert r.status == 200
        return await r.json()

    listing = serve(scenario)
    by_name = {f["name"]: f for f in listing["filters"]}
    for name, path in bundled_filters().items():
        contract = read_contract(path)
        assert by_name[name]["kind"] == contract.kind
        assert by_name[name]["latent_codes"] == contract.latent_codes
        if contract.latent_names:
            assert by_name[name]["latent_names"] == list(contract.latent_names)
    assert by_name["none"]["kind"] == "none"
    assert {"big_eyes", "glasses", "crown"} <= {n for n, f in by_name.items() if f["kind"] == "effect"}
    assert all("+" in c["name"] for c in listing["chains"])
    assert isinstance(listing["live"], bool) and listing["max_upload_mb"] == 20


# ------------------------------------------------------------------------------ applying
def test_apply_answers_a_png_of_the_uploads_size():
    image = photo(71, 97)  # odd sizes: the filters round to multiples of 4 inside and must come back exact
    code, ctype, body = post(form(encode(image, ".jpg"), filter="cartoon", latent="2", strength="0.8"))
    assert code == 200 and ctype == "image/png"
    out = decoded(body)
    assert out.shape == image.shape
    assert np.abs(out.astype(int) - cv2.imdecode(np.frombuffer(encode(image, ".jpg"), np.uint8), 1)).mean() > 2


def test_strength_zero_gives_the_upload_back_and_full_strength_does_not():
    image = photo(64, 80, seed=3)
    same = decoded(post(form(encode(image), filter="candy", strength="0"))[2])
    styled = decoded(post(form(encode(image), filter="candy", strength="1"))[2])
    assert np.array_equal(same, image)
    assert np.abs(styled.astype(int) - image).mean() > 10


def test_a_colour_background_on_a_picture_without_anyone_replaces_everything():
    image = np.full((60, 80, 3), 128, np.uint8)
    out = decoded(post(form(encode(image), filter="none", background="#ff0000"))[2])
    assert out.shape == image.shape
    assert out[..., 2].mean() > 200 and out[..., :2].mean() < 60  # red, in BGR


def test_latent_all_gives_one_labelled_tile_per_variant():
    codes = read_contract(bundled_filters()["cartoon"]).latent_codes
    image = photo(100, 150, seed=1)
    out = decoded(post(form(encode(image), filter="cartoon", latent="all"))[2])
    cols = int(np.ceil(np.sqrt(codes)))
    rows = int(np.ceil(codes / cols))
    tile_h, tile_w = image.shape[:2]  # small enough to stay unscaled (long side ≤ TILE_SIDE)
    assert max(image.shape[:2]) <= TILE_SIDE
    assert out.shape == (rows * (tile_h + LABEL_HEIGHT) + (rows + 1) * GAP, cols * (tile_w + GAP) + GAP, 3)
    first = out[GAP + LABEL_HEIGHT:GAP + LABEL_HEIGHT + tile_h, GAP:GAP + tile_w]
    assert np.abs(first.astype(int) - image).mean() > 2  # a filtered tile, not the upload
    label = out[GAP:GAP + LABEL_HEIGHT, GAP:GAP + tile_w]
    assert (label > 200).any() and (label < 60).mean() > 0.5  # light text on a dark strip


def test_a_chain_with_an_effect_runs():
    image = photo(64, 64, seed=2)
    code, _, body = post(form(encode(image), filter="candy+glasses", background="blur:0.5"))
    assert code == 200 and decoded(body).shape == image.shape


# ------------------------------------------------------------------------------ refusals
PNG = encode(photo(32, 32))


@pytest.mark.parametrize("data, needles", [
    (form(None, filter="candy"), ["no image"]),
    (form(b"hello, this is text", filter="candy"), ["not an image"]),
    (form(b"%PDF-1.7\n" + bytes(200)), ["not an image"]),
    (form(PNG, filter="sparkle"), ["unknown filter 'sparkle'", "cartoon"]),
    (form(PNG, filter="/tmp/evil.onnx"), ["unknown filter"]),
    (form(PNG, filter="candy+none"), ["'none' cannot be chained"]),
    (form(PNG, filter="cartoon+"), ["empty name between '+' signs"]),
    (form(PNG, filter="candy+candy+candy+candy+candy"), ["at most 4"]),
    (form(PNG, filter="cartoon", latent="two"), ["latent must be a whole number or 'all'"]),
    (form(PNG, filter="cartoon", latent="9"), ["latent 9 is out of range", "0..3"]),
    (form(PNG, filter="candy", latent="1"), ["no latent codes"]),
    (form(PNG, filter="candy", latent="all"), ["latent=all", "no latent codes"]),
    (form(PNG, filter="candy", strength="1.5"), ["strength must be a number from 0 to 1"]),
    (form(PNG, filter="candy", strength="nan"), ["strength"]),
    (form(PNG, filter="candy", strength="a lot"), ["strength"]),
    (form(PNG, filter="candy", background="sparkles"), ["background must be none, blur"]),
    (form(PNG, filter="candy", background="blur:7"), ["blur strength must be a number in (0, 1]"]),
    (form(PNG, filter="candy", background="remove:nocolour"), ["not a colour"]),
    (form(PNG, filter="candy", colour="red"), ["unknown form field 'colour'"]),
])
def test_bad_fields_are_one_json_line_with_400(data, needles):
    assert_error(post(data), 400, *needles)


def test_every_bad_field_is_named_at_once():
    message = assert_error(post(form(PNG, filter="candy", latent="x", strength="2", background="fog")), 400)
    assert "latent" in message and "strength" in message and "background" in message


def test_a_file_on_the_server_is_never_a_background(tmp_path):
    backdrop = tmp_path / "room.png"
    cv2.imwrite(str(backdrop), photo(16, 16))  # it exists and is an image: still refused
    assert_error(post(form(PNG, filter="candy", background=str(backdrop))), 400, "files are not accepted")


def test_a_field_given_twice_is_refused():
    data = form(PNG, filter="candy")
    data.add_field("filter", "cartoon")
    assert_error(post(data), 400, "'filter' is given twice")


def test_a_body_that_is_not_a_form_is_415():
    assert_error(post(b'{"image": "x"}', headers={"Content-Type": "application/json"}), 415, "multipart/form-data")


def test_a_broken_multipart_body_is_400():
    body = b"--xyz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc"  # no closing boundary
    assert_error(post(body, headers={"Content-Type": "multipart/form-data; boundary=xyz"}), 400)


@pytest.mark.parametrize("data, fmt", [(b"GIF89a" + struct.pack("<HH", 40, 30) + bytes(40), "GIF"),
                                       (b"II*\x00" + bytes(60), "TIFF")])
def test_images_of_types_it_does_not_decode_are_415(data, fmt):
    assert_error(post(form(data, filter="candy")), 415, f"{fmt} images are not accepted")


def test_a_damaged_image_is_400():
    assert_error(post(form(PNG[:80], filter="candy")), 400, "damaged")


def test_an_upload_over_the_cap_is_413():
    big = encode((np.random.default_rng(0).random((200, 200, 3)) * 255).astype(np.uint8))  # ~120 KB of noise
    assert len(big) > 100_000
    assert_error(post(form(big, filter="candy"), SMALL), 413, "limit is 0.05 MB")


def png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(bytes(1000))
    return (b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", len(idat)) + b"IDAT" + idat
            + struct.pack(">I", zlib.crc32(b"IDAT" + idat)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def jpeg_claiming(width: int, height: int) -> bytes:
    app1 = b"Exif\x00\x00" + bytes(3000)  # an EXIF block before the frame header, as cameras write
    sof = struct.pack(">BHHB", 8, height, width, 3) + bytes(9)
    return (b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
            + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xda" + bytes(100))


def webp_claiming(width: int, height: int) -> bytes:
    vp8x = bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(vp8x)) + b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x


def bmp_claiming(width: int, height: int) -> bytes:
    return b"BM" + bytes(12) + struct.pack("<Iii", 40, width, -height) + bytes(100)


@pytest.mark.parametrize("data", [png_claiming(40000, 40000), jpeg_claiming(65000, 65000), webp_claiming(16000, 16000),
                                  bmp_claiming(100000, 100000)], ids=["png", "jpeg", "webp", "bmp"])
def test_a_small_file_claiming_a_huge_picture_is_refused_fast_without_decoding(data, monkeypatch):
    def no_decoding(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    assert len(data) < 4000
    start = time.perf_counter()
    result = post(form(data, filter="candy"))
    assert time.perf_counter() - start < 0.5
    assert_error(result, 413, "megapixels", "the limit is 50 megapixels")


def test_a_lower_pixel_limit_applies():
    assert_error(post(form(encode(photo(100, 120)), filter="candy"), WebConfig(max_megapixels=0.01)), 413, "0.01 megapixels")


async def raw_request(client: TestClient, head: bytes, body: bytes) -> tuple[bytes, float]:
    """Send ``head`` and the start of a body on a bare socket and read the answer that comes
    back without the rest: (the answer's first bytes, seconds it took)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    start = time.perf_counter()
    writer.write(head + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), timeout=5)
    writer.close()
    return answer, time.perf_counter() - start


MULTIPART_HEAD = b"POST /api/apply HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
PART_START = b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n\r\n"


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue\r\n"])
def test_a_body_declared_too_large_is_refused_before_it_is_sent(expect):
    """50 MB declared, 1 KB sent: the 413 comes back at once, so the server did not wait for
    (or read) the rest; with Expect: 100-continue the client is never told to send it."""
    async def scenario(client: TestClient) -> tuple[bytes, float]:
        head = MULTIPART_HEAD + expect + b"Content-Length: 50000000\r\n\r\n"
        return await raw_request(client, head, b"" if expect else PART_START + bytes(1000))

    answer, seconds = serve(scenario, SMALL)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"100 Continue" not in answer and b'"error"' in answer
    assert seconds < 1.0


def test_an_upload_within_the_cap_is_told_to_continue_and_filtered():
    png = encode(photo())
    body = PART_START + png + b'\r\n--b\r\nContent-Disposition: form-data; name="filter"\r\n\r\ncartoon\r\n--b--\r\n'

    async def scenario(client: TestClient) -> bytes:
        head = MULTIPART_HEAD + b"Expect: 100-continue\r\n" + b"Content-Length: %d\r\n\r\n" % len(body)
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(head)  # the head alone: the body only after the server says go on
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        writer.write(body)
        await writer.drain()
        answer += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        writer.close()
        return answer

    answer = serve(scenario)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"), answer[:200]
    assert b"image/png" in answer


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap():
    """No declared size: the server counts while it streams and answers 413 once past 50 KB,
    with the body still open (the closing chunk is never sent)."""
    async def scenario(client: TestClient) -> tuple[bytes, float]:
        body = PART_START + bytes(120_000)
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[i:i + 8192] for i in range(0, len(body), 8192)))
        return await raw_request(client, MULTIPART_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", chunked)

    answer, _ = serve(scenario, SMALL)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"over the 0.05 MB limit" in answer


def test_unknown_paths_and_methods_are_json_too():
    async def scenario(client: TestClient) -> list[tuple[int, str, bytes]]:
        out = []
        for method, path in (("GET", "/nothing"), ("PUT", "/api/apply"), ("GET", "/api/apply")):
            r = await client.request(method, path)
            out.append((r.status, r.content_type, await r.read()))
        return out

    (nf, wrong, get) = serve(scenario)
    assert_error(nf, 404)
    assert_error(wrong, 405)
    assert_error(get, 405)


def test_an_unexpected_failure_is_logged_and_answered_in_one_line(monkeypatch, caplog):
    def broken(*args: Any) -> None:
        raise RuntimeError("something inside\nbroke")

    monkeypatch.setattr("realtime.web.server.render", broken)
    with caplog.at_level(logging.ERROR, logger="realtime.web.server"):
        message = assert_error(post(form(PNG, filter="candy")), 500, "internal error (RuntimeError)")
    assert "something inside" not in message  # the details stay in the server's log
    assert any(r.exc_info for r in caplog.records), "the traceback is logged"


def test_past_max_pending_jobs_the_workers_answer_503():
    release = threading.Event()

    async def scenario() -> None:
        workers = Workers(threads=1, max_pending=1)
        first = asyncio.ensure_future(workers.run(release.wait, 5))
        await asyncio.sleep(0.05)
        with pytest.raises(RequestError) as refused:
            await workers.run(time.sleep, 0)
        assert refused.value.status == 503
        release.set()
        assert await first is True
        assert await workers.run(lambda: 7) == 7  # the finished job no longer counts
        workers.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------------------ image headers
@pytest.mark.parametrize("ext, params", [(".png", []), (".jpg", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
                                         (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
                                         (".bmp", [])])
def test_the_header_reader_finds_the_size_opencv_decodes(ext, params):
    image = photo(45, 77)
    ok, buf = cv2.imencode(ext, image, params)
    header = read_header(buf.tobytes())
    assert (header.width, header.height) == (77, 45)
    assert header.format == {".jpg": "jpeg", ".png": "png", ".webp": "webp", ".bmp": "bmp"}[ext]


def test_the_header_reader_skips_segments_before_the_jpeg_frame():
    header = read_header(jpeg_claiming(1234, 567))
    assert (header.format, header.width, header.height) == ("jpeg", 1234, 567)


# ------------------------------------------------------------------------------ the command
def test_bad_web_options_are_one_line(monkeypatch, capsys):
    code, err = run_realtime(monkeypatch, capsys, "web", "--port", "70000", "--max-upload-mb", "0")
    assert_one_line(code, err, "--port must be 0..65535", "--max-upload-mb must be a number above 0")
    code, err = run_realtime(monkeypatch, capsys, "web", "--workers", "0")
    assert_one_line(code, err, "--workers must be at least 1")
    code, err = run_realtime(monkeypatch, capsys, "web", "--port", "eighty")
    assert_one_line(code, err, "expected a whole number")


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("127.0.0.1", False), ("localhost", False), ("::1", False)])
def test_listening_beyond_this_machine_is_warned_about(host, warned, monkeypatch, capsys, caplog):
    started = []
    monkeypatch.setattr("realtime.web.server.run_site", lambda app, config: started.append(config) or 0)
    with caplog.at_level(logging.WARNING, logger="realtime.web.server"):
        code, err = run_realtime(monkeypatch, capsys, "web", "--host", host, "--port", "0", "--max-upload-mb", "5")
    assert code == 0 and "Traceback" not in err
    assert started and started[0].host == host and started[0].max_upload_bytes == 5_000_000
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warnings) == warned, warnings
    if warned:
        assert "anyone who can reach this machine" in warnings[0]


def test_the_command_serves_until_stopped():
    """``realtime web --port 0`` for real: it says where it listens, answers there, and a
    SIGTERM ends it cleanly (exit 143, no traceback)."""
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "realtime.cli", "web", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, line
        with urllib.request.urlopen(found.group(0) + "api/filters", timeout=10) as r:
            assert r.status == 200 and b"cartoon" in r.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and "Traceback" not in err, err
