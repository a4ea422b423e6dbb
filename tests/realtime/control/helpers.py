"""A live loop running in a thread on a still picture, for the control plane's tests: its
chains are tiny ONNX filters (the RGB/BGR swap of tests.conftest) and effects, so a frame
says which chain made it."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from realtime.filters.kinds.base import Settings
from realtime.filters.loading import ModelLoader
from realtime.live.loop import LiveLoop, LoopConfig
from realtime.live.process import ChainOptions, FrameProcessor
from realtime.live.controls import ControlState
from tests.conftest import make_onnx_filter

W, H = 64, 48


def picture() -> np.ndarray:
    """Left half dark blue, right half bright orange: a swap of the channels and a mirror
    each change it in a way a test can tell apart."""
    img = np.zeros((H, W, 3), np.uint8)
    img[:, : W // 2] = (160, 40, 20)
    img[:, W // 2:] = (30, 140, 250)
    return img


def swapped(img: np.ndarray) -> np.ndarray:
    return img[:, :, ::-1]


def mirrored(img: np.ndarray) -> np.ndarray:
    return img[:, ::-1]


def close_to(a: np.ndarray, b: np.ndarray, tol: float = 12.0) -> bool:
    return a.shape == b.shape and float(np.abs(a.astype(int) - b.astype(int)).mean()) < tol


class StillSource:
    live, paced = False, True

    def __init__(self, image: np.ndarray, fps: float = 60.0) -> None:
        self.image, self.fps = image, fps
        self.size = (image.shape[1], image.shape[0])

    def read(self) -> np.ndarray:
        return self.image.copy()

    def close(self) -> None:
        pass


class Recorder:
    """A sink that keeps the frames it is sent (the newest ``keep``)."""

    def __init__(self, keep: int = 50) -> None:
        self.frames: list[np.ndarray] = []
        self.count, self.keep, self.closed = 0, keep, False
        self.lock = threading.Lock()

    def send(self, bgr: np.ndarray) -> None:
        with self.lock:
            self.frames = [*self.frames[-self.keep + 1:], bgr.copy()]
            self.count += 1

    def latest(self) -> np.ndarray | None:
        with self.lock:
            return self.frames[-1] if self.frames else None

    def close(self) -> None:
        self.closed = True


class FakePreview:
    """What the loop needs of a preview window: it keeps the frames it is shown."""

    def __init__(self) -> None:
        self.shown: list[np.ndarray] = []
        self.last_key, self.closed_by_user = -1, False

    def send(self, bgr: np.ndarray, status: str = "") -> None:
        self.shown = [*self.shown[-9:], bgr.copy()]

    def close(self) -> None:
        pass


class GatedLoader(ModelLoader):
    """A model loader whose files named ``slow*.onnx`` load only once ``gate`` is set: a
    model that takes as long as a test wants."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def load(self, path: Path) -> Any:
        if Path(path).name.startswith("slow"):
            self.waiting.set()
            assert self.gate.wait(30), "the test never let the slow model load"
        return super().load(path)


def tiny_filters(folder: Path) -> dict[str, Path]:
    return {name: make_onnx_filter(folder / f"{name}.onnx") for name in ("swap", "slow")}


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "the condition") -> Any:
    """Poll ``condition`` until it is true (its value) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if isinstance(value, np.ndarray) or value:  # an array is an answer (its truth is ambiguous)
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


@contextmanager
def running_loop(specs: list[str], start: ControlState = ControlState(), sinks: list[Any] | None = None,
                 preview: Any = None, open_virtual_cam: Callable[[], Any] | None = None,
                 loader: ModelLoader | None = None, background: str | None = None,
                 favourites: tuple[str, ...] = ()) -> Iterator[LiveLoop]:
    """A :class:`LiveLoop` on :func:`picture` at 60 fps, run in a thread until the block ends."""
    from realtime.compositing.background import background_modes, parse_background

    loader = loader or ModelLoader("cpu", threads=1, frame_hw=(H, W))
    chains = ChainOptions(specs, loader, Settings())
    processor = FrameProcessor(chains, track="off", backgrounds=background_modes(parse_background(background)))
    loop = LiveLoop(StillSource(picture()), processor, sinks if sinks is not None else [Recorder()], preview,
                    LoopConfig(fps=60.0, controls=start, background=background, favourites=favourites),
                    open_virtual_cam=open_virtual_cam)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            loop.run()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
    thread = threading.Thread(target=run, name="test-loop", daemon=True)
    thread.start()
    try:
        wait_for(lambda: loop.stats.frames_output >= 3, what="the loop's first frames")
        yield loop
    finally:
        loop.stop.set()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the loop did not stop"
    if errors:
        raise errors[0]
