"""The page in a real browser: headless Chromium (Debian's chromium + chromium-driver, which
.ci/run installs) driven by selenium uploads a photo, picks filters and sees the results.

``WEB_SCREENSHOT=docs/web.png ./run tests tests/realtime/web/test_browser.py`` also saves the README's
screenshot (the astronaut photo from the shared media, the only face allowed in docs/).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import cv2
import pytest

from models.data.media import data_root
from realtime.web.config import WebConfig
from realtime.web.server import make_app
from tests.conftest import chromium, served, synthetic_photo

selenium = pytest.importorskip("selenium", reason="the browser test drives Chromium with selenium (the dev extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SCREENSHOT = os.environ.get("WEB_SCREENSHOT")


def running_server(config: WebConfig) -> Any:
    """The app on a free loopback port, served by its own event loop in a thread."""
    return served(make_app(config))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # a test-pattern camera, no prompt
    with chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", window="1280,900") as chrome:
        yield chrome


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut (512×512) from the shared media; a generated photo where they are absent."""
    real = data_root() / "faces" / "skimage__astronaut.png"
    if real.is_file():
        return real
    path = tmp_path_factory.mktemp("web") / "photo.png"
    cv2.imwrite(str(path), cv2.cvtColor(synthetic_photo(300, 400, 0), cv2.COLOR_RGB2BGR))
    return path


def result_size(chrome: Any) -> tuple[int, int]:
    return chrome.execute_script("const r = document.getElementById('result'); return [r.naturalWidth, r.naturalHeight];")


def wait_for_result(chrome: Any, changed_from: str | None, timeout: float = 60) -> str:
    """Wait until the page has answered every change (idle) with a new result picture (its
    blob URL changed and it loaded); fail with the page's status line when it shows an error."""
    def ready(driver: Any) -> Any:
        state = driver.execute_script(
            "const r = document.getElementById('result'), s = document.getElementById('status');"
            "return [r.src, r.complete && r.naturalWidth > 0, document.body.dataset.state, s.className, s.textContent];")
        src, loaded, page_state, klass, text = state
        if klass == "bad":
            raise AssertionError(f"the page shows an error: {text}")
        return src if src and src != changed_from and loaded and page_state == "idle" else False
    return WebDriverWait(chrome, timeout, poll_frequency=0.1).until(ready)


def test_upload_pick_a_filter_and_see_the_result(browser: Any, photo_path: Path) -> None:
    image = cv2.imread(str(photo_path))
    with running_server(WebConfig(port=0)) as url:
        browser.get(url)
        WebDriverWait(browser, 20).until(lambda d: len(Select(d.find_element(By.ID, "filter")).options) > 3)
        assert browser.find_element(By.ID, "live").is_displayed(), "aiortc is installed: the live section shows"
        Select(browser.find_element(By.ID, "filter")).select_by_value("cartoon")
        browser.find_element(By.ID, "file").send_keys(str(photo_path))
        first = wait_for_result(browser, None)
        assert result_size(browser) == [image.shape[1], image.shape[0]]
        download = browser.find_element(By.ID, "download")
        assert download.is_displayed() and download.get_attribute("href").startswith("blob:")

        Select(browser.find_element(By.ID, "latent")).select_by_value("all")  # every variant, side by side
        grid = wait_for_result(browser, first)
        width, height = result_size(browser)
        assert width > image.shape[1] * 0.9 and height > image.shape[0] * 0.9 and (width, height) != tuple(image.shape[1::-1])

        Select(browser.find_element(By.ID, "latent")).select_by_value("0")
        Select(browser.find_element(By.ID, "filter")).select_by_value("cartoon+glasses")
        Select(browser.find_element(By.ID, "background")).select_by_value("blur")
        wait_for_result(browser, grid)
        assert result_size(browser) == [image.shape[1], image.shape[0]]
        assert browser.find_element(By.ID, "resultCaption").text == "cartoon+glasses"
        assert not browser.find_element(By.ID, "customBox").is_displayed()
        if SCREENSHOT:
            Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(SCREENSHOT)


def test_a_dropped_file_is_filtered_and_errors_show_on_the_page(browser: Any) -> None:
    with running_server(WebConfig(port=0)) as url:
        browser.get(url)
        WebDriverWait(browser, 20).until(lambda d: len(Select(d.find_element(By.ID, "filter")).options) > 3)
        Select(browser.find_element(By.ID, "filter")).select_by_value("candy")
        browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const canvas = document.createElement('canvas');
            canvas.width = 120; canvas.height = 90;
            const g = canvas.getContext('2d');
            g.fillStyle = '#4080c0'; g.fillRect(0, 0, 120, 90); g.fillStyle = '#f0d040'; g.fillRect(30, 20, 50, 40);
            canvas.toBlob((blob) => {
                const dt = new DataTransfer();
                dt.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
                document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
                done();
            }, 'image/png');""")
        wait_for_result(browser, None)
        assert result_size(browser) == [120, 90]

        browser.execute_script("""
            const dt = new DataTransfer();
            dt.items.add(new File(['not a picture'], 'notes.txt', {type: 'text/plain'}));
            document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));""")
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "status").get_attribute("class") == "bad")
        assert "not an image" in browser.find_element(By.ID, "status").text


def test_the_live_camera_comes_back_filtered_with_its_fps(browser: Any) -> None:
    """Chromium's fake camera (a test pattern) → WebRTC → the server's filter → back into the
    page's video, the server's frame rate shown beside it."""
    with running_server(WebConfig(port=0)) as url:
        browser.get(url)
        WebDriverWait(browser, 20).until(lambda d: len(Select(d.find_element(By.ID, "filter")).options) > 3)
        Select(browser.find_element(By.ID, "filter")).select_by_value("candy")
        browser.find_element(By.ID, "liveStart").click()
        WebDriverWait(browser, 30, poll_frequency=0.2).until(
            lambda d: d.execute_script("const v = document.getElementById('liveVideo'); return v.videoWidth > 0 && v.currentTime > 0.5;")
            or d.find_element(By.ID, "status").get_attribute("class") == "bad")
        assert browser.find_element(By.ID, "status").get_attribute("class") != "bad", browser.find_element(By.ID, "status").text
        WebDriverWait(browser, 10).until(lambda d: "fps filtered" in d.find_element(By.ID, "fps").text)
        fps = float(browser.find_element(By.ID, "fps").text.split()[0])
        assert fps > 0
        if os.environ.get("WEB_LIVE_SCREENSHOT"):
            browser.execute_script("document.getElementById('live').scrollIntoView()")
            browser.save_screenshot(os.environ["WEB_LIVE_SCREENSHOT"])
        browser.find_element(By.ID, "liveStop").click()
