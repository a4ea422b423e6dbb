"""The control API on a running loop: who may ask (each refusal), one-line 4xx answers for bad
input with the loop going on, requests that change the frames the loop sends, the event
stream, the MJPEG preview, the thumbnails, favourites and presets written to the settings
file, and a server that stops at once with its streams open."""
from __future__ import annotations

import base64
import json
import time

import cv2
import numpy as np
import pytest

from realtime.control.protocol import EVENTS, PROTOCOL_VERSION, REQUESTS
from realtime.control.server import HUB, ControlServer
from realtime.errors import UserError
from tests.realtime.control.helpers import Recorder, close_to, mirrored, picture, running_loop, swapped, tiny_filters, wait_for
from tests.realtime.control.server_helpers import Stream, control_server, ok, one_line_error, request, send


@pytest.fixture
def files(tmp_path):
    return tiny_filters(tmp_path)


@pytest.fixture
def live(tmp_path, files):
    """(loop, server, sink): a loop of 'none' and the swap filter with its control server."""
    sink = Recorder()
    with running_loop(["none", str(files["swap"])], sinks=[sink]) as loop:
        with control_server(loop, tmp_path) as server:
            yield loop, server, sink


def test_each_refusal_no_token_wrong_token_foreign_origin_foreign_host(live):
    loop, server, _ = live
    port = server.port
    body = json.dumps({"strength": 0.2}).encode()
    path = "/api/v1/request/SetStrength"
    refusals = {
        "no token": (dict(token=None), 401, "missing token"),
        "wrong token": (dict(token="x" * 32), 401, "wrong token"),
        "empty token": (dict(token=""), 401, "missing token"),
        "foreign Origin": (dict(headers={"Origin": "https://evil.example"}), 403, "may not control"),
        "null Origin (a sandboxed frame, a file)": (dict(headers={"Origin": "null"}), 403, "may not control"),
        "Origin on another port": (dict(headers={"Origin": f"http://127.0.0.1:{port + 1}"}), 403, "may not control"),
        "foreign Host (DNS rebinding)": (dict(host=f"evil.example:{port}"), 403, "is not this panel"),
        "Host on another port": (dict(host=f"127.0.0.1:{port + 1}"), 403, "is not this panel"),
        "Host without the port": (dict(host="localhost"), 403, "is not this panel"),
        "cross-site fetch": (dict(headers={"Sec-Fetch-Site": "cross-site"}), 403, "cross-site"),
    }
    for what, (kw, code, needle) in refusals.items():
        status, headers, answer = send(server, "POST", path, body, **kw)
        assert status == code, (what, status, answer)
        one_line_error(status, json.loads(answer), code, needle)
    assert loop.controls.state().strength == 1.0, "no refused request changed anything"
    # the token also by Authorization: Bearer, the host also as localhost, the page's own origin
    for kw in (dict(token=None, headers={"Authorization": f"Bearer {server.token}"}), dict(host=f"localhost:{port}"),
               dict(headers={"Origin": f"http://localhost:{port}", "Sec-Fetch-Site": "same-origin"})):
        status, _, answer = send(server, "POST", path, body, **kw)
        assert status == 200, (kw, answer)
    assert loop.controls.state().strength == 0.2


def test_the_studio_page_needs_no_token_but_this_panels_host_and_loads_nothing_from_elsewhere(live):
    _, server, _ = live
    status, headers, body = send(server, "GET", "/studio", token=None)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    html = body.decode()
    assert "studio" in html and "http://" not in html and "https://" not in html, "nothing external"
    status, _, _ = send(server, "GET", "/studio", token=None, host=f"rebound.example:{server.port}")
    assert status == 403
    status, headers, _ = send(server, "GET", "/", token=None)
    assert status == 302 and headers["Location"] == "/studio"
    for path in ("/api/v1/events", "/api/v1/preview.mjpg"):
        status, _, answer = send(server, "GET", path, token=None)
        one_line_error(status, json.loads(answer), 401, "missing token")


def test_bad_input_is_one_line_4xx_and_the_loop_goes_on(live, tmp_path):
    loop, server, _ = live
    cases = [
        ("Explode", {}, 404, "unknown request 'Explode'"),
        ("SetStrength", {"strength": 2}, 400, "out of range 0..1"),
        ("SetStrength", {"strength": "loud"}, 400, "must be a number"),
        ("SetStrength", b'{"strength": NaN}', 400, "must be a number"),
        ("SetStrength", {}, 400, "needs the field 'strength'"),
        ("SetStrength", {"strength": 0.5, "volume": 1}, 400, "no field 'volume'"),
        ("SetFilter", {"filter": "nosuch"}, 400, "unknown filter 'nosuch'"),
        ("SetFilter", {"filter": "cartoon+"}, 400, "empty name"),
        ("SetFilter", {"filter": "none+cartoon"}, 400, "cannot be chained"),
        ("SetFilter", {"filter": str(tmp_path / "other.onnx")}, 400, "unknown filter"),
        ("SetFilter", {"filter": "cartoon", "region": "ceiling"}, 400, "must be one of all, person, background"),
        ("SetVariant", {"latent": 1}, 400, "out of range: none has no variants"),
        ("SetVariant", {"latent": -1}, 400, "out of range"),
        ("SetBackground", {"background": "/etc/passwd"}, 400, "a file only as given at the start"),
        ("SetBackground", {"background": "blur:7"}, 400, "blur strength"),
        ("SetMirror", {}, 400, "needs preview or output"),
        ("SetMirror", {"preview": "yes"}, 400, "true or false"),
        ("Favourite", {"n": 1}, 400, "favourite 1 is not set"),
        ("Favourite", {"n": 10}, 400, "favourite 10 is out of range 1..9"),
        ("ApplyPreset", {"name": "work"}, 404, "no preset 'work'"),
        ("SavePreset", {"name": "../../etc"}, 400, "is not allowed"),
        ("SetFavourites", {"favourites": ["none"] * 10}, 400, "at most 9"),
    ]
    for name, data, code, needle in cases:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        status, _, answer = send(server, "POST", f"/api/v1/request/{name}", body)
        one_line_error(status, json.loads(answer), code, needle)
    for body, needle in ((b"{not json", "not JSON"), (b"[1, 2]", "takes a JSON object")):
        status, _, answer = send(server, "POST", "/api/v1/request/SetStrength", body)
        one_line_error(status, json.loads(answer), 400, needle)
    status, _, answer = send(server, "POST", "/api/v1/request/SetStrength", b"{" + b" " * (70 * 1024) + b"}")
    assert status == 413 and set(json.loads(answer)) == {"error"}
    frames = loop.stats.frames_output
    wait_for(lambda: loop.stats.frames_output > frames + 10, what="the loop going on")
    assert not loop.errors and loop.controls.state().strength == 1.0


def test_requests_change_the_frames_the_loop_sends(live, files):
    loop, server, sink = live
    state = ok(server, "SetFilter", {"filter": str(files["swap"]), "wait": True})
    assert state["filter"] == str(files["swap"]) and state["loading"] is None
    wait_for(lambda: close_to(sink.latest(), swapped(picture())), what="swapped frames")
    ok(server, "SetStrength", {"strength": 0.0})
    wait_for(lambda: close_to(sink.latest(), picture()), what="strength 0: the camera as it is")
    ok(server, "SetStrength", {"strength": 1.0})
    assert ok(server, "SetEnabled", {"on": False})["enabled"] is False
    wait_for(lambda: close_to(sink.latest(), picture()), what="filter off")
    ok(server, "SetEnabled", {"on": True})
    assert ok(server, "SetMirror", {"output": True})["mirror_output"] is True
    wait_for(lambda: close_to(sink.latest(), mirrored(swapped(picture()))), what="what the call sees mirrored")
    ok(server, "SetMirror", {"output": False, "preview": True})
    wait_for(lambda: close_to(sink.latest(), swapped(picture())), what="only the preview mirrored")
    assert ok(server, "PreviousFilter", {"wait": True})["filter"] == "none"
    wait_for(lambda: close_to(sink.latest(), picture()), what="back to none")
    assert ok(server, "NextFilter", {"wait": True})["filter"] == str(files["swap"])
    assert ok(server, "SetRegion", {"region": "background", "wait": True})["region"] == "background"
    assert ok(server, "SetOnSmile", {"filter": "none", "wait": True})["on_smile"] is None
    assert ok(server, "SetOnSmile", {"filter": str(files["swap"]), "wait": True})["on_smile"] == str(files["swap"])
    state = ok(server, "SetBackground", {"background": "#00ff00"})
    assert state["background"] == "#00ff00" and state["backgrounds"][-1] == "#00ff00"
    status, answer = request(server, "SetVirtualCamera", {"on": True})
    one_line_error(status, answer, 409, "cannot open a virtual camera")
    stats = ok(server, "GetStats")
    assert stats["fps"] > 0 and stats["provider"] and stats["frames_output"] > 0
    assert isinstance(stats["behind"], str)  # "" while the chain keeps up (tests/realtime/live/test_keeping_up.py)
    assert stats["fps_text"].endswith(" fps") or stats["fps_text"].endswith(" sent)")  # the preview's own words
    assert not loop.errors


def test_the_vocabulary_is_versioned_and_lists_every_request_and_event(live):
    _, server, _ = live
    version = ok(server, "GetVersion")
    assert version["protocol_version"] == PROTOCOL_VERSION == 1
    assert set(version["requests"]) == set(REQUESTS) and set(version["events"]) == set(EVENTS)
    assert version["requests"]["SetStrength"]["fields"] == {"strength": {"type": "number", "optional": False}}
    names = {f["name"]: f for f in ok(server, "GetFilters")["filters"]}
    assert {"none", "cartoon", "candy", "glasses"} <= set(names)
    assert names["cartoon"]["latent_names"] and names["glasses"]["kind"] == "effect"


def test_events_say_hello_then_each_change_and_a_dropped_stream_leaves_the_loop_alone(live):
    loop, server, _ = live
    stream = Stream(server, "/api/v1/events")
    assert stream.response.getheader("Content-Type") == "text/event-stream"
    name, hello = stream.event()
    assert name == "Hello" and hello["protocol_version"] == 1 and hello["state"]["filter"] == "none"
    ok(server, "SetStrength", {"strength": 0.3})
    _, state = stream.events_until("StateChanged", lambda s: s["strength"] == 0.3)
    assert state["filter"] == "none"
    stream.events_until("StatsUpdated")
    hub = server.app[HUB]
    assert len(hub.queues) == 1
    stream.close()  # a closed tab: the server notices at its next write
    ok(server, "SetStrength", {"strength": 0.4})
    wait_for(lambda: not hub.queues, what="the dropped stream's queue gone")
    frames = loop.stats.frames_output
    wait_for(lambda: loop.stats.frames_output > frames + 10, what="the loop going on")
    assert not loop.errors


def test_the_preview_is_mjpeg_of_the_output_at_a_few_fps(live):
    loop, server, _ = live
    ok(server, "SetMirror", {"preview": True})
    stream = Stream(server, "/api/v1/preview.mjpg")
    assert stream.response.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=frame"
    t0 = time.perf_counter()
    pictures = [cv2.imdecode(np.frombuffer(stream.jpeg(), np.uint8), cv2.IMREAD_COLOR) for _ in range(4)]
    took = time.perf_counter() - t0
    stream.close()
    assert all(p is not None and p.shape == picture().shape for p in pictures)
    assert close_to(pictures[-1], mirrored(picture()), tol=20), "the preview as the preview window shows it"
    assert took > 2 / loop.tap.fps, f"4 frames in {took:.2f} s: more than {loop.tap.fps:g} fps"


def test_thumbnails_come_from_the_current_frame_off_the_loop(live, files):
    loop, server, _ = live
    status, answer = request(server, "RefreshThumbnails")
    assert status == 200 and answer["generation"] == 1 and answer["width"] == 192
    images = {}
    for spec in ("none", str(files["swap"])):
        thumb = ok(server, "GetThumbnail", {"filter": spec})
        assert thumb["image"].startswith("data:image/jpeg;base64,")
        data = base64.b64decode(thumb["image"].split(",", 1)[1])
        images[spec] = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    big = cv2.resize(picture(), (192, 144), interpolation=cv2.INTER_AREA)
    assert images["none"].shape == (144, 192, 3) and close_to(images["none"], big, tol=20)
    assert close_to(images[str(files["swap"])], swapped(big), tol=20)
    status, answer = request(server, "GetThumbnail", {"filter": "nosuch"})
    one_line_error(status, answer, 400, "unknown filter")
    assert loop.controls.state().option == 0, "thumbnails never touch the loop's chain"


def test_favourites_and_presets_are_saved_as_they_change(live, files, tmp_path):
    loop, server, _ = live
    swap = str(files["swap"])
    state = ok(server, "AddFavourite", {"filter": swap})
    assert state["favourites"] == [swap] and loop.controls.favourites == (swap,)
    assert ok(server, "Favourite", {"n": 1, "wait": True})["filter"] == swap
    ok(server, "SetStrength", {"strength": 0.6})
    assert ok(server, "SavePreset", {"name": "work"})["presets"] == ["work"]
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["favourites"] == [swap] and saved["presets"]["work"]["strength"] == 0.6
    assert saved["presets"]["work"]["filter"] == swap
    ok(server, "SetStrength", {"strength": 0.1})
    ok(server, "PreviousFilter", {"wait": True})
    state = ok(server, "ApplyPreset", {"name": "work", "wait": True})
    assert state["strength"] == 0.6 and state["filter"] == swap
    assert ok(server, "RemoveFavourite", {"filter": swap})["favourites"] == []
    assert ok(server, "DeletePreset", {"name": "work"})["presets"] == []
    assert json.loads((tmp_path / "settings.json").read_text())["presets"] == {}


def test_stopping_with_streams_open_is_prompt_and_says_so(tmp_path):
    with running_loop(["none"]) as loop:
        with control_server(loop, tmp_path) as server:
            events, preview = Stream(server, "/api/v1/events"), Stream(server, "/api/v1/preview.mjpg")
            assert events.event()[0] == "Hello" and preview.jpeg()
            t0 = time.perf_counter()
            server.stop()
            took = time.perf_counter() - t0
            assert events.events_until("Stopping")[0] == "Stopping"
            assert took < 3.0, f"stopping took {took:.1f} s"
            events.close(), preview.close()
        frames = loop.stats.frames_output
        wait_for(lambda: loop.stats.frames_output > frames + 5, what="the loop going on after the server stopped")


def test_a_port_in_use_is_one_line(live):
    loop, server, _ = live
    with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{server.port}.*--control-port"):
        ControlServer(server.target, server.port).start()
