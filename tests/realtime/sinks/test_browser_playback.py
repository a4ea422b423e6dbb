"""A file the tool wrote plays in a browser: headless Chromium (Debian's chromium +
chromium-driver) opens it in a ``<video>`` element, served from a local aiohttp server on
127.0.0.1 (with Range requests, as a real server), and plays it to its end. Before: the
MPEG-4 Part 2 (mp4v) .mp4 did not play in any browser."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import run_realtime, served
from tests.realtime.sinks.media import measure
from tests.realtime.sinks.test_recording import clips  # noqa: F401 (a fixture)
from tests.realtime.web.test_browser import browser  # noqa: F401 (a fixture: skips without Chromium)

PAGE = """<!doctype html><html><body>
<video id="v" src="NAME" muted playsinline preload="auto"></video>
<script>
const v = document.getElementById("v");
window.result = null;
v.addEventListener("ended", () => { window.result = {ended: true, currentTime: v.currentTime, duration: v.duration,
  width: v.videoWidth, height: v.videoHeight}; });
v.addEventListener("error", () => { window.result = {error: v.error ? v.error.code + " " + v.error.message : "?"}; });
v.play().catch(e => { window.result = {error: "play: " + e}; });
</script></body></html>"""


def serving(folder: Path) -> Any:
    """``folder`` as static files on a free loopback port (aiohttp answers Range requests)."""
    app = web.Application()
    app.router.add_static("/", folder)
    return served(app)


@pytest.mark.parametrize("name", ["out.mp4"])
def test_chromium_plays_the_recording_to_its_end(browser, monkeypatch, capsys, clips, tmp_path, name):  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait

    site = tmp_path / "site"
    site.mkdir()
    out = site / name
    code, err = run_realtime(monkeypatch, capsys, "--filter", str(clips["filter"]), "--source", str(clips["aac"]),
                             "--no-preview", "--no-track", "--output", str(out))
    assert code == 0, err
    written = measure(out)
    assert written["audio"] == "aac"
    (site / "page.html").write_text(PAGE.replace("NAME", name))
    with serving(site) as url:
        browser.get(url + "page.html")
        result = WebDriverWait(browser, 60, poll_frequency=0.1).until(lambda d: d.execute_script("return window.result"))
    assert "error" not in result, result
    assert result["ended"] and (result["width"], result["height"]) == (160, 120)
    expected = written["last"] + 1 / 30
    assert abs(result["duration"] - expected) < 0.1, (result, expected)
    assert abs(result["currentTime"] - result["duration"]) < 0.05, result
