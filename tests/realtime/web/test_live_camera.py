"""The page's live camera without a browser: two aiortc peers in one process, the client
sending synthetic frames to the server's /api/offer and reading them back filtered; and the
track that keeps latency flat when the filter is slower than the camera."""
from __future__ import annotations

import asyncio
import fractions
import json
import time
from typing import Any

import numpy as np
import pytest

pytest.importorskip("aiortc", reason="the live camera needs the web extra: pip install .[web] (aiortc)")

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from av import VideoFrame  # noqa: E402

from realtime.web.chains import ChainCache  # noqa: E402
from realtime.web.config import WebConfig  # noqa: E402
from realtime.web.live import FilteredTrack, LiveJob  # noqa: E402
from realtime.web.options import ApplyOptions  # noqa: E402
from realtime.web.server import make_app  # noqa: E402

GRAY = 128


class SyntheticCamera(MediaStreamTrack):
    """A 160×120 gray picture with a moving white square, at ``fps``."""

    kind = "video"

    def __init__(self, fps: float = 15.0) -> None:
        super().__init__()
        self.fps, self.n = fps, 0

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(1 / self.fps)
        image = np.full((120, 160, 3), GRAY, np.uint8)
        x = 10 + (self.n * 4) % 120
        image[50:70, x:x + 20] = 255
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = self.n * 6000, fractions.Fraction(1, 90000)
        self.n += 1
        return frame


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """ICE candidates on 127.0.0.1 only: the test's traffic never leaves loopback, and it works
    on a machine whose only interface is lo."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


async def next_message(queue: "asyncio.Queue[dict[str, Any]]", key: str, timeout: float = 10,
                       until: Any = lambda message: True) -> dict[str, Any]:
    """The next message with ``key`` for which ``until(message)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(queue.get(), deadline - time.monotonic())
        if key in message and until(message):
            return message


async def frames_until(queue: "asyncio.Queue[np.ndarray]", good: Any, count: int = 5, timeout: float = 20) -> np.ndarray:
    """The ``count``-th frame in a row for which ``good(frame)`` holds."""
    deadline, run = time.monotonic() + timeout, 0
    while True:
        frame = await asyncio.wait_for(queue.get(), deadline - time.monotonic())
        run = run + 1 if good(frame) else 0
        if run >= count:
            return frame


def mostly(channel: int):
    """Frames whose picture is the given BGR channel at full, the others near zero (a flat
    colour background on a picture without a person: everything is background)."""
    def check(bgr: np.ndarray) -> bool:
        means = bgr.reshape(-1, 3).mean(axis=0)
        return means[channel] > 190 and all(means[c] < 70 for c in range(3) if c != channel)
    return check


def test_two_peers_the_server_filters_the_camera_and_reports_fps(loopback_only):
    async def scenario() -> None:
        app = make_app(WebConfig(), ChainCache(provider="cpu"))
        async with TestClient(TestServer(app)) as client:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            frames: asyncio.Queue[np.ndarray] = asyncio.Queue()
            messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            channel = pc.createDataChannel("settings")
            channel.on("message", lambda m: messages.put_nowait(json.loads(m)))
            pc.addTrack(SyntheticCamera())

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                async def read() -> None:
                    while True:
                        frames.put_nowait((await track.recv()).to_ndarray(format="bgr24"))
                asyncio.ensure_future(read())

            await pc.setLocalDescription(await pc.createOffer())
            r = await client.post("/api/offer", json={"sdp": pc.localDescription.sdp, "type": "offer",
                                                      "filter": "none", "background": "#0000ff"})
            assert r.status == 200, await r.text()
            await pc.setRemoteDescription(RTCSessionDescription(**await r.json()))
            try:
                blue = await frames_until(frames, mostly(0))  # the gray camera comes back blue
                assert blue.shape == (120, 160, 3)
                # the report runs every second from the connection on: the first may come before the
                # first filtered frame ({"fps": 0.0, "in_fps": 1.0}); wait for one that counts frames
                stats = await next_message(messages, "fps", until=lambda m: m["in_fps"] > 0 and m["fps"] > 0)
                assert stats["ms"] > 0, stats
                channel.send(json.dumps({"filter": "none", "background": "red"}))  # a change, no new connection
                assert (await next_message(messages, "ok"))["ok"] == "none"
                await frames_until(frames, mostly(2))
                channel.send(json.dumps({"filter": "sparkle"}))
                assert "unknown filter 'sparkle'" in (await next_message(messages, "error"))["error"]
            finally:
                await pc.close()

    asyncio.run(scenario())


def test_a_bad_offer_is_one_json_line(loopback_only):
    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        async with TestClient(TestServer(make_app(WebConfig(), ChainCache(provider="cpu")))) as client:
            out = []
            for body in ({"sdp": "v=0 nonsense", "type": "offer", "filter": "none"},
                         {"sdp": "x", "type": "answer"},
                         {"sdp": "x", "type": "offer", "filter": "cartoon", "latent": "all"}):
                r = await client.post("/api/offer", json=body)
                out.append((r.status, await r.json()))
            r = await client.post("/api/offer", data=b"not json", headers={"Content-Type": "application/json"})
            out.append((r.status, await r.json()))
            return out

    (nonsense, answer, grid, garbage) = asyncio.run(scenario())
    assert nonsense[0] == 400 and "SDP" in nonsense[1]["error"]
    assert answer[0] == 400 and "\"type\": \"offer\"" in answer[1]["error"]
    assert grid[0] == 400 and "still images only" in grid[1]["error"]
    assert garbage[0] == 400 and "JSON" in garbage[1]["error"]


class SlowInvert:
    """A stand-in filter: 60 ms a frame, the picture inverted."""

    name = "slow"
    needs: frozenset[str] = frozenset()

    def apply(self, bgr: np.ndarray, analysis: Any, settings: Any) -> Any:
        from realtime.filters.kinds.base import Applied

        time.sleep(0.06)
        return Applied(255 - bgr, 60.0)


def test_a_slow_filter_drops_frames_instead_of_falling_behind():
    """A camera faster than the filter: every frame is read and sent on at once, carrying the
    newest filtered picture; the filter runs back to back and never queues."""
    from concurrent.futures import ThreadPoolExecutor

    async def scenario() -> tuple[float, int, list[np.ndarray]]:
        pool = ThreadPoolExecutor(1)
        from realtime.filters.chain import Chain

        job = LiveJob.make(Chain([SlowInvert()]), ApplyOptions("slow", 0, 1.0, None))  # type: ignore[list-item]
        track = FilteredTrack(SyntheticCamera(fps=200), job, pool)  # 5 ms a frame: 12 frames per filter run
        start = time.perf_counter()
        out = [(await track.recv()).to_ndarray(format="bgr24") for _ in range(40)]
        elapsed = time.perf_counter() - start
        await asyncio.sleep(0.1)
        track._collect()
        pool.shutdown()
        return elapsed, len(track.filtered.events), out

    elapsed, filtered, out = asyncio.run(scenario())
    assert elapsed < 0.6, "the track waited for the filter on every frame (40 × 60 ms)"
    assert 2 <= filtered <= 8, "the filter should run back to back (40 frames × 5 ms / 60 ms ≈ 4 runs)"
    assert all(o[0, 0, 0] == 255 - GRAY for o in out), "an unfiltered frame went out"


def test_the_live_camera_tracks_faces_across_frames(face_video):
    """A face filter live gets the session's tracking analysis (One Euro smoothed landmarks,
    as in the live loop), not a still photo's fresh detection on every frame."""
    import cv2

    from realtime.analysis.analysers import Analysis
    from realtime.filters.chain import load_chain

    cap = cv2.VideoCapture(str(face_video))
    frames = [cv2.resize(cap.read()[1], (320, 240)) for _ in range(6)]
    cap.release()
    job = LiveJob.make(load_chain("big_eyes", provider="cpu"), ApplyOptions("big_eyes", 0, 1.0, None))
    analysis = Analysis()
    try:
        outs = [job.run(f, i / 30, analysis)[0] for i, f in enumerate(frames)]
        tracker = analysis.analysers["faces"].tracker  # type: ignore[attr-defined]
        assert not tracker.static and tracker.smoothers  # tracking mode, with a smoother per face
    finally:
        analysis.close()
    assert all(np.abs(o.astype(int) - f).sum() > 0 for o, f in zip(outs, frames))  # the eyes were magnified
