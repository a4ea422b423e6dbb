"""The control server on a loop of tests.realtime.control.helpers, and a raw HTTP client that
can send any Host, Origin or token (a browser's or an attacker's)."""
from __future__ import annotations

import http.client
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from realtime.control.server import ControlServer
from realtime.control.settings import Saved, SettingsFile
from realtime.control.target import LiveTarget
from realtime.control.thumbnails import Thumbnails
from realtime.live.loop import LiveLoop


@contextmanager
def control_server(loop: LiveLoop, folder: Path, saved: Saved = Saved()) -> Iterator[ControlServer]:
    target = LiveTarget(loop, SettingsFile(folder / "settings.json"), saved, Thumbnails("cpu"))
    server = ControlServer(target, 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        target.thumbnails.close()  # type: ignore[union-attr]


def send(server: ControlServer, method: str, path: str, body: bytes | None = None, token: str | None = "own",
         host: str | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers: ``token`` "own" sends the server's."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or f"127.0.0.1:{server.port}")
        if token is not None:
            conn.putheader("X-Realtime-Token", server.token if token == "own" else token)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def request(server: ControlServer, name: str, data: dict[str, Any] | None = None, **kw: Any) -> tuple[int, dict[str, Any]]:
    status, _, body = send(server, "POST", f"/api/v1/request/{name}", json.dumps(data or {}).encode(), **kw)
    return status, json.loads(body)


def ok(server: ControlServer, name: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    status, answer = request(server, name, data)
    assert status == 200, answer
    return answer


def one_line_error(status: int, answer: dict[str, Any], code: int, *needles: str) -> str:
    assert status == code, (status, answer)
    assert set(answer) == {"error"} and "\n" not in answer["error"], answer
    for needle in needles:
        assert needle in answer["error"], answer["error"]
    return answer["error"]


class Stream:
    """A streaming GET (events, the MJPEG preview) read line by line or by bytes."""

    def __init__(self, server: ControlServer, path: str, timeout: float = 20.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        self.conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        self.conn.putheader("Host", f"127.0.0.1:{server.port}")
        self.conn.putheader("X-Realtime-Token", server.token)
        self.conn.endheaders()
        self.response = self.conn.getresponse()

    def event(self) -> tuple[str, Any]:
        """The next event (pings skipped)."""
        name, data = "", ""
        while True:
            line = self.response.fp.readline().decode()
            if line == "":
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line == "" and name:
                return name, json.loads(data)

    def events_until(self, name: str, check: Any = None, most: int = 200) -> tuple[str, Any]:
        for _ in range(most):
            got = self.event()
            if got[0] == name and (check is None or check(got[1])):
                return got
        raise AssertionError(f"no {name} event in {most}")

    def jpeg(self) -> bytes:
        """The next part of a multipart MJPEG stream."""
        length = None
        while True:
            line = self.response.fp.readline()
            if not line:
                raise EOFError("the stream ended")
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line in (b"\r\n", b"\n") and length is not None:
                return self.response.fp.read(length)

    def close(self) -> None:
        self.conn.close()
