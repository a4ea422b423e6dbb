from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import pytest

from models.data.media import data_root

logging.getLogger("onnx_ir").setLevel(logging.WARNING)
os.environ.setdefault("OMP_NUM_THREADS", "2")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch on ``n`` threads inside the block and on what it had after it. A test module that
    set it and left it changed the tests after it: a training test's numbers moved with the
    thread count, and its outcome with the order the tests ran in."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module", autouse=True)
def torch_threads_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test module leaves torch's thread count as it found it (use :func:`torch_threads`)."""
    torch = sys.modules.get("torch")
    omp = os.environ.get("OMP_NUM_THREADS", "")
    before = torch.get_num_threads() if torch is not None else int(omp) if omp.isdigit() else None  # what torch starts on
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        after = torch.get_num_threads()
        torch.set_num_threads(before)
        pytest.fail(f"{request.module.__name__} left torch on {after} threads (found {before}): use tests.conftest.torch_threads")


@pytest.fixture(autouse=True)
def own_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own settings folder (realtime.control: the last settings, presets, the
    running instances' files), so no test reads or writes the user's, nor another test's."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("REALTIME_CONFIG_DIR", str(folder))
    monkeypatch.delenv("REALTIME_RUNTIME_DIR", raising=False)
    return folder


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real media (../shared/data or $REALTIME_DATA); skip when it is absent."""
    root = data_root()
    if not (root / "faces").is_dir():
        pytest.skip(f"real test media not found at {root} (set REALTIME_DATA to the shared data folder)")
    return root


@pytest.fixture(scope="session")
def face_photo(data_dir: Path) -> np.ndarray:
    from models.data.media import read_rgb

    return read_rgb(data_dir / "faces" / "skimage__astronaut.png")


def synthetic_photo(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like RGB image: smooth gradients, a few filled shapes with edges, mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin(xx / 17 + yy / 23)], axis=-1) * 200 + 20
    img = img.astype(np.uint8)
    for _ in range(6):
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, center, int(rng.integers(8, max(9, min(h, w) // 3))), color, -1)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated photo-like images (for training and int8 calibration)."""
    folder = tmp_path_factory.mktemp("photos")
    for i in range(6):
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(synthetic_photo(150 + 10 * i, 190, i), cv2.COLOR_RGB2BGR))
    return folder


@pytest.fixture
def zoo_onnx(tmp_path: Path) -> Path:
    """A model-zoo style fixed-size model: input 'input1' [1,3,224,224] in 0–255, output
    'output1'; it swaps the red and blue channels."""
    import onnx
    from onnx import TensorProto, helper
    from realtime.filters.onnx_format import built_model

    swap = np.eye(3, dtype=np.float32)[::-1].reshape(3, 3, 1, 1)
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], swap.flatten().tolist())
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input1", "w"], ["output1"])], "zoo",
        [helper.make_tensor_value_info("input1", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, 3, 224, 224])], [w],
    )
    path = tmp_path / "zoo.onnx"
    onnx.save(built_model(graph, 13), str(path))
    return path


def make_onnx_filter(path: Path, props: dict[str, str] | None = None, nan: bool = False, kind: str = "frame",
                     opset: int = 17) -> Path:
    """A tiny real ONNX filter (RGB → BGR channel swap, or NaN everywhere) with a contract.

    Built with onnx.helper, so the runtime tests do not need torch.
    """
    import onnx
    from onnx import TensorProto, helper

    from realtime.filters.onnx_format import FilterContract, built_model

    swap = np.eye(3, dtype=np.float32)[::-1].reshape(3, 3, 1, 1)
    nodes = [helper.make_node("Conv", ["input", "w"], ["conv"])]
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], swap.flatten().tolist())]
    if nan:
        inits.append(helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]))
        nodes += [helper.make_node("Mul", ["conv", "zero"], ["z"]), helper.make_node("Div", ["z", "z"], ["output"])]
    else:
        nodes.append(helper.make_node("Identity", ["conv"], ["output"]))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "h", "w"])], inits,
    )
    model = built_model(graph, opset)
    contract = FilterContract(name=path.stem, kind=kind, input_range="0-1", size_multiple=4, work_size=128)
    for k, v in {**contract.to_props(), **(props or {})}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def swap_onnx(tmp_path: Path) -> Path:
    return make_onnx_filter(tmp_path / "swap.onnx")


@pytest.fixture(scope="session")
def face_video(data_dir: Path) -> Path:
    return data_dir / "videos" / "liveportrait__d18.mp4"


def assert_one_line(code: int, err: str, *needles: str) -> str:
    """A CLI refused its input: non-zero exit, exactly one ``error:`` line (holding each
    needle) and no traceback."""
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def run_realtime(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``realtime ARGS`` in this process: (exit code, stderr), argparse's own exits included."""
    import sys

    from realtime.cli import entry

    monkeypatch.setattr(sys, "argv", ["realtime", *map(str, args)])
    try:
        code = entry()
    except SystemExit as exc:  # argparse exits by itself
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own user data folder (realtime.filters.library: the installed filters)."""
    from realtime.filters import library

    folder = tmp_path / "data-home"
    monkeypatch.setenv(library.ENV, str(folder))
    return folder


def run_export(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``realtime-export ARGS`` in this process: (exit code, stdout, stderr)."""
    import sys

    from export.cli import entry

    monkeypatch.setattr(sys, "argv", ["realtime-export", *map(str, args)])
    code = entry()
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@contextmanager
def served(app: Any) -> Iterator[str]:
    """An aiohttp application on a free loopback port, run by its own event loop in a thread:
    its base URL (``http://127.0.0.1:PORT/``) while the block runs."""
    import asyncio
    import threading

    from aiohttp import web

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextmanager
def chromium(*extra_args: str, window: str = "1280,1000") -> Iterator[Any]:
    """Headless Chromium through chromium-driver (skips the test where either is missing)."""
    import shutil

    pytest.importorskip("selenium", reason="the browser tests drive Chromium with selenium (the dev extra)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; .ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={window}",
                "--hide-scrollbars", *extra_args):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()
