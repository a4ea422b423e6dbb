"""The studio page in headless Chromium (Debian's chromium + chromium-driver, driven by
selenium) on a running ``realtime --source VIDEO --virtual-cam``: the page takes the token
from the printed URL, shows the preview and the gallery's thumbnails, and clicking a filter,
a switch or a slider changes the frames the loop writes to the virtual camera. A page from
another origin in the same browser cannot drive the camera.

``STUDIO_SCREENSHOT=docs/studio.png`` also saves the README's screenshot.
"""
from __future__ import annotations

import asyncio
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import web

from realtime.filters.registry import bundled_filters
from tests.conftest import chromium
from tests.realtime.control import recorder
from tests.realtime.control.helpers import wait_for
from tests.realtime.control.running import expected, first_frame, running_realtime, still_video

selenium = pytest.importorskip("selenium", reason="the browser test drives Chromium with selenium (the dev extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = pytest.mark.skipif(not {"candy", "cartoon"} <= set(bundled_filters()), reason="bundled filters missing")
SCREENSHOT = os.environ.get("STUDIO_SCREENSHOT")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as chrome:
        yield chrome


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return still_video(tmp_path_factory.mktemp("video") / "still.mp4")


@pytest.fixture(scope="module")
def looks(video) -> dict[str, Any]:
    frame = first_frame(video)
    candy = expected(frame, "candy")
    return {"raw": recorder.digest(frame), "candy": candy, "candy_mirrored": candy[:, ::-1], "cartoon": expected(frame, "cartoon")}


def page_state(chrome: Any) -> str:
    return chrome.execute_script("return document.body.dataset.state + ' | ' + document.getElementById('status').textContent")


def wait_ready(chrome: Any) -> None:
    WebDriverWait(chrome, 30, poll_frequency=0.1).until(
        lambda d: d.execute_script("return document.body.dataset.state") in ("ready", "stopped"))
    assert chrome.execute_script("return document.body.dataset.state") == "ready", page_state(chrome)


def js_count(chrome: Any, script: str) -> int:
    return int(chrome.execute_script(script) or 0)


def test_the_studio_page_drives_the_running_virtual_camera(browser, video, looks, tmp_path):
    with running_realtime(video, tmp_path / "frames.jsonl", "--filter", "none") as rt:
        browser.get(rt.instance.studio)
        wait_ready(browser)
        assert browser.current_url.endswith("/studio"), "the token leaves the address bar once read"
        assert browser.find_element(By.ID, "current").text == "none"
        # the preview: MJPEG frames of the output
        WebDriverWait(browser, 30, poll_frequency=0.1).until(
            lambda d: js_count(d, "return document.body.dataset.previewFrames") >= 3)
        assert browser.execute_script("return document.getElementById('preview').naturalWidth") == 320
        WebDriverWait(browser, 30, poll_frequency=0.1).until(  # the run's fps in the preview's own words (GetStats' fps_text)
            lambda d: re.match(r"\d+\.\d fps( \(\d+ sent\))? · \d+ ms · ", d.find_element(By.ID, "stats").text))
        # the gallery: every filter, with a thumbnail of the user's own frame
        names = browser.execute_script("return [...document.querySelectorAll('#gallery .tile')].map((t) => t.dataset.filter)")
        assert {"none", "candy", "cartoon", "glasses"} <= set(names)
        WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: d.execute_script(
            "const i = document.querySelector('#gallery .tile[data-filter=\"candy\"] .pic'); return i.src.startsWith('data:image/jpeg') && i.naturalWidth > 0"))

        browser.find_element(By.CSS_SELECTOR, '#gallery .tile[data-filter="candy"]').click()
        rt.shows(looks["candy"], looks["raw"], what="candy clicked on the page")
        WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "current").text == "candy")
        assert "current" in browser.find_element(By.CSS_SELECTOR, '#gallery .tile[data-filter="candy"]').get_attribute("class")

        browser.find_element(By.ID, "mirrorOutput").click()
        rt.shows(looks["candy_mirrored"], looks["candy"], what="mirror what the call sees, on the page")
        browser.find_element(By.ID, "mirrorOutput").click()
        rt.shows(looks["candy"], looks["candy_mirrored"], what="the call's mirror off again")

        browser.execute_script("const s = document.getElementById('strength'); s.value = 0; s.dispatchEvent(new Event('change'));")
        rt.shows(looks["raw"], looks["candy"], what="strength 0 on the page")
        assert rt.call("GetState")["strength"] == 0.0
        browser.execute_script("const s = document.getElementById('strength'); s.value = 1; s.dispatchEvent(new Event('change'));")
        rt.shows(looks["candy"], looks["raw"], what="strength 1")

        Select(browser.find_element(By.ID, "background")).select_by_value("blur")
        wait_for(lambda: rt.call("GetState")["background"] == "blur", what="the background chosen on the page")
        Select(browser.find_element(By.ID, "background")).select_by_value("none")

        browser.find_element(By.CSS_SELECTOR, '#gallery .tile[data-filter="cartoon"] .star').click()
        wait_for(lambda: rt.call("GetState")["favourites"] == ["cartoon"], what="the star")
        WebDriverWait(browser, 10).until(lambda d: d.execute_script(
            "return document.querySelector('#favourites .tile[data-filter=\"cartoon\"] .key')?.textContent") == "1")
        browser.find_element(By.CSS_SELECTOR, '#favourites .tile[data-filter="cartoon"]').click()
        rt.shows(looks["cartoon"], looks["candy"], what="the favourite clicked")

        search = browser.find_element(By.ID, "search")
        search.send_keys("cand")
        shown = browser.execute_script("return [...document.querySelectorAll('#gallery .tile')].map((t) => t.dataset.filter)")
        assert shown == ["candy"], shown
        search.clear()
        search.send_keys(" ")
        browser.execute_script("const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input'));")

        browser.find_element(By.ID, "presetName").send_keys("studio look")
        browser.find_element(By.ID, "savePreset").click()
        WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#presetList button[data-preset="studio look"]'))
        assert "studio look" in rt.call("GetState")["presets"]

        if SCREENSHOT:  # the README's picture: a filter that shows, every thumbnail rendered
            browser.find_element(By.CSS_SELECTOR, '#gallery .tile[data-filter="candy"]').click()
            rt.shows(looks["candy"], looks["cartoon"], what="candy for the screenshot")
            shown = js_count(browser, "return document.body.dataset.previewFrames")
            WebDriverWait(browser, 10, poll_frequency=0.1).until(
                lambda d: js_count(d, "return document.body.dataset.previewFrames") >= shown + 2)
            WebDriverWait(browser, 120, poll_frequency=0.5).until(lambda d: d.execute_script(
                "return [...document.querySelectorAll('#gallery .pic')].every((i) => i.src.startsWith('data:'))"))
            browser.execute_script("window.scrollTo(0, 0)")
            Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(SCREENSHOT)

        browser.find_element(By.ID, "virtualCam").click()
        wait_for(lambda: rt.items()[-1].get("event") == "close", what="the virtual camera switched off on the page")
        browser.find_element(By.ID, "virtualCam").click()
        wait_for(lambda: "d" in rt.items()[-1], what="frames again")
        assert not browser.find_element(By.ID, "status").get_attribute("class"), page_state(browser)


@contextmanager
def other_site(html: str) -> Iterator[str]:
    """A page on another port of 127.0.0.1: another origin, as any site the user visits."""
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")
    app = web.Application()
    app.router.add_get("/", page)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_a_page_from_elsewhere_cannot_drive_the_camera_nor_a_page_without_the_token(browser, video, looks, tmp_path):
    with running_realtime(video, tmp_path / "frames.jsonl", "--filter", "candy") as rt:
        base = rt.instance.base
        attack = f"""<!doctype html><body><form id="f" method="post" action="{base}/api/v1/request/SetFilter" enctype="text/plain">
            <input name='{{"filter": "cartoon", "x": "' value='"}}'></form><script>
            const tries = [];
            const body = JSON.stringify({{filter: "cartoon"}});
            tries.push(fetch("{base}/api/v1/request/SetFilter", {{method: "POST", mode: "no-cors", body}}).then(() => "sent", (e) => "failed"));
            tries.push(fetch("{base}/api/v1/request/SetFilter", {{method: "POST", body, headers: {{"X-Realtime-Token": "guess"}}}})
                       .then((r) => "read " + r.status, (e) => "blocked"));
            tries.push(fetch("{base}/api/v1/request/GetState", {{method: "POST"}}).then((r) => "read " + r.status, (e) => "blocked"));
            Promise.all(tries).then((r) => {{ document.body.dataset.done = r.join(","); document.getElementById("f").submit(); }});
            </script></body>"""
        with other_site(attack) as url:
            browser.get(url)
            WebDriverWait(browser, 20, poll_frequency=0.1).until(lambda d: "refused" in d.page_source or "error" in d.page_source)
        assert "refused" in browser.page_source and "may not control the camera" in browser.page_source, browser.page_source[:500]
        state = rt.call("GetState")
        assert state["filter"] == "candy", "nothing from the other origin reached the camera"
        rt.shows(looks["candy"], looks["cartoon"], what="still candy")
        # the studio page itself, opened without the token in its URL, says how to get it
        browser.get(rt.instance.base + "/studio")
        browser.execute_script("sessionStorage.clear()")
        browser.get(rt.instance.base + "/studio")
        WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.state") == "stopped")
        assert "no token" in browser.find_element(By.ID, "status").text and "realtime ctl url" in browser.find_element(By.ID, "status").text
