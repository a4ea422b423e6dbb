"""The issue's "done when": a running ``realtime --source VIDEO --virtual-cam`` (a pyvirtualcam
test backend recording what it is sent) is driven by its API and by ``realtime ctl`` from
other processes, the frames it sends change as asked, and the settings survive a restart."""
from __future__ import annotations

import json

import pytest

from realtime.filters.registry import bundled_filters
from tests.realtime.control import recorder
from tests.realtime.control.helpers import wait_for
from tests.realtime.control.running import ctl, expected, first_frame, running_realtime, still_video

pytestmark = pytest.mark.skipif(not {"candy", "cartoon"} <= set(bundled_filters()), reason="bundled filters missing")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return still_video(tmp_path_factory.mktemp("video") / "still.mp4")


@pytest.fixture(scope="module")
def looks(video):
    """The digests the virtual camera should show: the video as it is, filtered, mirrored."""
    frame = first_frame(video)
    raw = recorder.digest(frame)
    candy = expected(frame, "candy")
    return {"raw": raw, "candy": candy, "cartoon": expected(frame, "cartoon"), "candy_mirrored": candy[:, ::-1],
            "candy_half": expected(frame, "candy", strength=0.5)}


def test_the_api_drives_the_running_virtual_camera(video, looks, tmp_path):
    with running_realtime(video, tmp_path / "frames.jsonl", "--filter", "none") as rt:
        rt.shows(looks["raw"], looks["candy"], what="the video as it is")
        state = rt.call("SetFilter", {"filter": "candy", "wait": True})
        assert state["filter"] == "candy" and state["virtual_cam"] is True
        rt.shows(looks["candy"], looks["raw"], what="candy")
        rt.call("SetMirror", {"output": True})
        rt.shows(looks["candy_mirrored"], looks["candy"], what="candy, mirrored for the call")
        rt.call("SetMirror", {"output": False, "preview": True})
        rt.shows(looks["candy"], looks["candy_mirrored"], what="the preview's mirror is not the call's")
        rt.call("SetStrength", {"strength": 0.5})
        rt.shows(looks["candy_half"], looks["candy"], looks["raw"], what="half strength")
        rt.call("SetEnabled", {"on": False})
        rt.shows(looks["raw"], looks["candy"], what="the filter off")
        rt.call("SetEnabled", {"on": True})
        # the virtual camera off: closed, nothing sent while the loop goes on; on: opened again
        rt.call("SetVirtualCamera", {"on": False})
        wait_for(lambda: rt.items()[-1].get("event") == "close", what="the virtual camera closed")
        sent = len(rt.sent())
        frames = rt.call("GetStats")["frames_output"]
        wait_for(lambda: rt.call("GetStats")["frames_output"] > frames + 10, what="the loop going on")
        assert len(rt.sent()) == sent
        rt.call("SetVirtualCamera", {"on": True})
        wait_for(lambda: len(rt.sent()) > sent + 5, what="frames again")
        assert [i["event"] for i in rt.items() if "event" in i] == ["open", "close", "open"]
        status, answer = _refused(rt)
        assert status == 401 and "\n" not in answer["error"]


def _refused(rt):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{rt.instance.base}/api/v1/request/SetFilter", data=b'{"filter": "cartoon"}', method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    raise AssertionError("a request without the token was served")


def test_realtime_ctl_drives_it_from_another_process(video, looks, tmp_path):
    with running_realtime(video, tmp_path / "frames.jsonl", "--filter", "none") as rt:
        done = ctl("set", "candy")
        assert done.returncode == 0 and done.stdout.startswith("candy  strength 1.00"), done.stderr
        rt.shows(looks["candy"], looks["raw"], what="ctl set candy")
        assert ctl("off").stdout.startswith("candy [off]")
        rt.shows(looks["raw"], looks["candy"], what="ctl off")
        assert ctl("on").returncode == 0
        assert ctl("fav-add", "cartoon").returncode == 0 and ctl("fav-add", "candy").returncode == 0
        done = ctl("fav", "1")
        assert done.returncode == 0 and done.stdout.startswith("cartoon  strength 1.00  variant 0"), done.stderr
        rt.shows(looks["cartoon"], looks["candy"], looks["raw"], what="favourite 1: cartoon")
        assert ctl("next").returncode == 0 and rt.call("GetState")["filter"] != "cartoon"
        assert ctl("prev").stdout.startswith("cartoon")
        assert ctl("strength", "0.4").stdout.startswith("cartoon  strength 0.40")
        assert "background blur" in ctl("background", "blur").stdout
        assert ctl("save-preset", "work").stdout.startswith("saved preset 'work'")
        status = ctl("status")
        assert status.returncode == 0 and "fps" in status.stdout and f"control port {rt.instance.port}" in status.stdout
        assert ctl("url").stdout.strip() == rt.instance.studio
        wrong = ctl("strength", "4")
        assert wrong.returncode == 2 and wrong.stderr.strip() == "error: strength 4 is out of range 0..1"
        wrong = ctl("set", "nosuch")
        assert wrong.returncode == 2 and wrong.stderr.startswith("error: unknown filter 'nosuch'") and len(wrong.stderr.splitlines()) == 1
        wrong = ctl("--port", str(rt.instance.port + 1), "next")
        assert wrong.returncode == 2 and "no running realtime with a control port" in wrong.stderr
        assert ctl("--port", str(rt.instance.port), "request", "GetVersion").returncode == 0
        assert rt.call("GetState")["presets"] == ["work"]


def test_settings_survive_a_restart_and_a_preset_starts_a_run(video, looks, tmp_path, own_config_dir):
    with running_realtime(video, tmp_path / "first.jsonl", "--filter", "none") as rt:
        rt.call("SetFilter", {"filter": "candy", "wait": True})
        rt.call("SetStrength", {"strength": 0.5})
        rt.call("SetMirror", {"preview": True})
        rt.call("AddFavourite", {"filter": "cartoon"})
        rt.call("SavePreset", {"name": "work"})
        rt.call("SetFilter", {"filter": "cartoon", "wait": True})
        rt.call("SetStrength", {"strength": 1.0})
        rt.call("SetBackground", {"background": "blur"})
    saved = json.loads((own_config_dir / "settings.json").read_text())
    assert saved["last"]["filter"] == "cartoon" and saved["last"]["background"] == "blur" and "source" not in saved["last"]
    assert saved["recents"][:2] == ["cartoon", "candy"]
    with running_realtime(video, tmp_path / "second.jsonl") as rt:  # no --filter: the last run's
        state = rt.call("GetState")
        assert (state["filter"], state["strength"], state["background"], state["mirror"], state["favourites"]) == \
            ("cartoon", 1.0, "blur", True, ["cartoon"])
        assert state["presets"] == ["work"] and state["recents"][:2] == ["cartoon", "candy"]
    with running_realtime(video, tmp_path / "third.jsonl", "--preset", "work", "--background", "none") as rt:
        state = rt.call("GetState")
        assert (state["filter"], state["strength"], state["background"]) == ("candy", 0.5, "none")
        rt.shows(looks["candy_half"], looks["candy"], looks["raw"], what="the preset's look")
