"""The page's live camera: the browser sends its camera over WebRTC, the server sends it back
filtered (aiortc, the ``web`` extra; :mod:`realtime.web.server` imports this module only when
aiortc is there, and the page hides the section otherwise).

    POST /api/offer  {"sdp", "type": "offer", "filter", "latent", "strength", "background"}
                     → {"sdp", "type": "answer"}

The browser opens a data channel with its offer: the server sends ``{"fps", "in_fps", "ms"}``
on it every second, and takes ``{"filter", "latent", "strength", "background"}`` messages that
change the filter without a new connection (answered ``{"ok": spec}`` or ``{"error": ...}``).

**Latency does not grow when the filter is slower than the camera.** aiortc queues decoded
frames without bound; a track that awaited the filter on every frame would read them ever
later (at 5 fps filtering of a 30 fps camera, 25 frames a second pile up: a second more of
delay each second). :class:`FilteredTrack` reads every frame as it comes and starts the filter
only when the previous run has finished; meanwhile each frame goes out carrying the newest
filtered picture. The picture is then at most one filter run plus one frame old, and the
video keeps the camera's frame rate while the filter runs at its own. The very first frame
waits for its result, so nothing unfiltered is ever shown.

**No STUN server.** aiortc asks Google's (stun.l.google.com) for a public address when none is
configured; the server sets an empty list, so nothing leaves the machine: the browser and the
server meet on the host's own addresses, which is what a page on localhost needs.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from av import VideoFrame

from realtime.analysis.analysers import Analysis, FrameAnalysis
from realtime.compositing.background import Backdrop
from realtime.compositing.temporal import TemporalMemory
from realtime.filters.chain import Chain, make_settings
from realtime.errors import first_line
from realtime.web.errors import RequestError, one_line
from realtime.web.options import ApplyOptions, parse_options

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from realtime.web.state import WebState

log = logging.getLogger(__name__)
ICE = RTCConfiguration(iceServers=[])  # see the module's docstring: no STUN server, nothing leaves the machine
MAX_OFFER_BYTES = 64 * 1024  # an SDP offer is 2-10 KB
SETTINGS = ("filter", "latent", "strength", "background")


@dataclass(frozen=True)
class LiveJob:
    """What the track applies to each frame; replaced whole when the page changes it."""

    chain: Chain
    options: ApplyOptions
    backdrop: Backdrop | None  # one per job: a colour backdrop keeps a plate of the frame's size
    memory: TemporalMemory  # the stream's: stabilisers and effects' state, fresh with each new job as on a chain switch

    @classmethod
    def make(cls, chain: Chain, options: ApplyOptions) -> "LiveJob":
        return cls(chain, options, options.backdrop(), TemporalMemory())

    def run(self, bgr: np.ndarray, t: float, analysis: Analysis) -> tuple[np.ndarray, float]:
        """(the filtered frame, milliseconds it took); runs in a worker thread. ``analysis``
        is the session's own, tracking from frame to frame as the live loop does (smoothed
        landmarks, a steady person mask), not a still photo's."""
        start = time.perf_counter()
        settings = make_settings(self.chain.settings, strength=self.options.strength, latent=self.options.latent or 0,
                                 background=self.backdrop, temporal=self.memory)
        needs = self.chain.needs_for(settings)
        found = analysis(bgr, t, needs, self.chain.sizes_for(bgr.shape[:2], settings)) if needs else FrameAnalysis()
        out = self.chain.process(bgr, found, settings).image
        return out, (time.perf_counter() - start) * 1000


class RateMeter:
    """Events per second over the last ``window`` seconds, and the mean of a value they carry."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self.events: deque[tuple[float, float]] = deque()

    def add(self, value: float = 0.0) -> None:
        self.events.append((time.monotonic(), value))

    def rate(self) -> float:
        self._trim()
        return len(self.events) / self.window

    def mean(self) -> float:
        self._trim()
        return sum(v for _, v in self.events) / len(self.events) if self.events else 0.0

    def _trim(self) -> None:
        old = time.monotonic() - self.window
        while self.events and self.events[0][0] < old:
            self.events.popleft()


class FilteredTrack(MediaStreamTrack):
    """``source`` with ``job`` applied, one filter run at a time, newest picture out (see the
    module's docstring)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, job: LiveJob, pool: "Executor") -> None:
        super().__init__()
        self.source, self.job, self.pool = source, job, pool
        self.received, self.filtered = RateMeter(), RateMeter()
        self._running: asyncio.Future[tuple[np.ndarray, float]] | None = None
        self._latest: np.ndarray | None = None
        self._failures = 0
        self.analysis = Analysis()  # this camera's analysers, started when a filter first needs them
        self._start = time.monotonic()

    async def recv(self) -> VideoFrame:
        frame = await self.source.recv()
        self.received.add()
        bgr = frame.to_ndarray(format="bgr24")
        self._collect()
        if self._running is None:
            t = time.monotonic() - self._start
            self._running = asyncio.get_running_loop().run_in_executor(self.pool, self.job.run, bgr, t, self.analysis)
        if self._latest is None:  # nothing filtered yet: wait for this frame's result
            await asyncio.wait([self._running])
            self._collect()
        out = VideoFrame.from_ndarray(self._latest if self._latest is not None else bgr, format="bgr24")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def _collect(self) -> None:
        """Keep the finished run's picture (a failed run's frame goes out unfiltered, logged once)."""
        if self._running is None or not self._running.done():
            return
        job, self._running = self._running, None
        if job.exception() is not None:
            self._failures += 1
            if self._failures == 1:
                log.warning("live filter failed, sending frames unfiltered: %s", first_line(job.exception()))
            return
        self._latest, ms = job.result()
        self.filtered.add(ms)

    def stats(self) -> dict[str, float]:
        return {"fps": round(self.filtered.rate(), 1), "in_fps": round(self.received.rate(), 1),
                "ms": round(self.filtered.mean(), 2)}  # 0.01 ms: a colour background on a small frame takes ~0.05 ms

    def stop(self) -> None:
        super().stop()
        self.source.stop()
        if self._running is None:
            self.analysis.close()
        else:  # MediaPipe's graphs are in use until the run in the pool ends
            self._running.add_done_callback(lambda _: self.analysis.close())


class LiveSession:
    """One browser's connection: its peer, its filtered track, its data channel."""

    def __init__(self, state: "WebState", job: LiveJob) -> None:
        self.state, self.job = state, job
        self.pc = RTCPeerConnection(ICE)
        self.track: FilteredTrack | None = None
        self.channel: RTCDataChannel | None = None
        self._changing = asyncio.Lock()
        self._tasks: set[asyncio.Future[None]] = set()  # the reporter and message handlers: held until done
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_channel)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video" and self.track is None:
            self.track = FilteredTrack(track, self.job, self.state.workers.pool)
            self.pc.addTrack(self.track)

    def _on_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        channel.on("message", lambda message: self._start(self._on_message(message)))
        self._start(self._report())

    def _start(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self) -> None:
        """The track's rates on the data channel, every second."""
        while True:
            await asyncio.sleep(1.0)
            if self.channel is not None and self.channel.readyState == "open" and self.track is not None:
                self.channel.send(json.dumps(self.track.stats()))

    async def _on_message(self, message: Any) -> None:
        """A settings change from the page: checked, its chain loaded, then swapped in."""
        async with self._changing:
            try:
                fields = json.loads(message) if isinstance(message, str) else None
                if not isinstance(fields, dict):
                    raise RequestError("a settings message is a JSON object with filter, latent, strength, background")
                job = await make_job(self.state, {k: str(v) for k, v in fields.items() if k in SETTINGS})
            except (RequestError, ValueError) as exc:
                self._send({"error": one_line(exc)})
                return
            self.job = job
            if self.track is not None:
                self.track.job = job
            self._send({"ok": job.options.spec})

    def _send(self, message: Mapping[str, Any]) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))

    async def answer(self, sdp: str, kind: str) -> RTCSessionDescription:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.pc.close()


async def make_job(state: "WebState", fields: Mapping[str, str]) -> LiveJob:
    options = parse_options(fields, state.catalogue, allow_all=False)
    chain = await state.workers.run(state.chains.get, options.spec)  # the first use loads it: off the event loop
    return LiveJob.make(chain, options)


async def read_offer(request: web.Request) -> dict[str, str]:
    if request.content_length is None or request.content_length > MAX_OFFER_BYTES:
        raise RequestError(f"an offer is a JSON body of at most {MAX_OFFER_BYTES // 1024} KB with a Content-Length", status=413)
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise RequestError("an offer is JSON: {\"sdp\": ..., \"type\": \"offer\", \"filter\": ...}") from None
    if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
        raise RequestError("an offer needs \"sdp\" (text) and \"type\": \"offer\"")
    return {k: str(v) for k, v in body.items()}


class LiveServer:
    """``POST /api/offer`` and the sessions it opened (closed when they fail or the app stops)."""

    def __init__(self, state: "WebState") -> None:
        self.state = state
        self.sessions: set[LiveSession] = set()

    async def offer(self, request: web.Request) -> web.Response:
        body = await read_offer(request)
        limit = self.state.config.max_live
        if len(self.sessions) >= limit:
            raise RequestError(f"busy: {len(self.sessions)} live sessions are open (--max-live {limit})", status=503)
        session = LiveSession(self.state, await make_job(self.state, {k: body[k] for k in SETTINGS if k in body}))
        self.sessions.add(session)

        async def on_state() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                await self.end(session)

        session.pc.on("connectionstatechange", on_state)
        try:
            answer = await session.answer(body["sdp"], body["type"])
        except ValueError as exc:  # aiortc refuses a malformed or unsupported SDP with ValueError
            await self.end(session)
            raise RequestError(f"the offer's SDP was refused: {first_line(exc)}") from None
        return web.json_response({"sdp": answer.sdp, "type": answer.type})

    async def end(self, session: LiveSession) -> None:
        self.sessions.discard(session)
        await session.close()

    async def close_all(self, app: web.Application) -> None:
        await asyncio.gather(*(self.end(s) for s in list(self.sessions)), return_exceptions=True)


def add_routes(app: web.Application, state: "WebState") -> None:
    live = LiveServer(state)
    app.router.add_post("/api/offer", live.offer)
    app.on_shutdown.append(live.close_all)
