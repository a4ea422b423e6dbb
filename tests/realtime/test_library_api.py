"""The library API: load_chain(...).apply(bgr) on still images, from several threads; filter
kinds mixed in one chain; analysis run only when a filter needs it; one session per filter."""
from __future__ import annotations

import concurrent.futures as cf
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import realtime
from realtime.analysis.analysers import FACES, FrameAnalysis
from realtime.filters.kinds.base import (
    EFFECTS,
    Applied,
    Settings,
    register_effect,
)
from tests.conftest import make_onnx_filter, synthetic_photo


def photo(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    return np.ascontiguousarray(synthetic_photo(h, w, seed)[..., ::-1])


def test_public_names():
    for name in ("RunConfig", "run", "load_chain", "Chain", "RunStats", "UserError"):
        assert hasattr(realtime, name), name


def test_apply_from_several_threads_gives_each_caller_its_own_result():
    chain = realtime.load_chain("cartoon", provider="cpu")
    images = [photo(96 + 8 * i, 128, seed=i) for i in range(4)]
    alone = {(i, code): chain.apply(img, latent=code) for i, img in enumerate(images) for code in range(4)}
    assert len({alone[(0, c)].tobytes() for c in range(4)}) > 1, "latent codes give different variants"
    jobs = [(i, code) for i in range(4) for code in range(4)] * 2
    with cf.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: chain.apply(images[job[0]], latent=job[1]), jobs))
    for job, out in zip(jobs, results):
        np.testing.assert_array_equal(out, alone[job])


def test_each_filter_loads_one_session(monkeypatch):
    import realtime.filters.engine as engine

    made = []
    real = engine.create_session
    monkeypatch.setattr(engine, "create_session", lambda path, *a, **k: made.append(path) or real(path, *a, **k))
    chain = realtime.load_chain("cartoon+candy", provider="cpu")
    assert [p.name for p in made] == ["cartoon.fast.onnx", "candy.fast.onnx"]
    assert chain.name == "cartoon+candy"


def test_bad_images_and_settings_are_one_line():
    chain = realtime.load_chain("candy", provider="cpu")
    with pytest.raises(realtime.UserError, match="BGR uint8"):
        chain.apply(np.zeros((10, 10), np.float32))
    with pytest.raises(realtime.UserError, match="settings are"):
        realtime.load_chain("candy", colour="red")
    with pytest.raises(realtime.UserError, match="unknown filter"):
        realtime.load_chain("sparkles")


class Negative:
    """A filter without a network, registered as an effect the way new kinds are."""

    name = "negative"
    needs: frozenset[str] = frozenset()

    def __init__(self, settings: Settings) -> None:
        pass

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        return Applied(255 - bgr)


@pytest.fixture
def negative_effect():
    register_effect("negative", Negative)
    yield
    EFFECTS.pop("negative", None)


def test_a_chain_mixes_network_and_effect_kinds(negative_effect, swap_onnx):
    chain = realtime.load_chain(f"negative+{swap_onnx}", provider="cpu")
    img = photo()
    np.testing.assert_array_equal(chain.apply(img), (255 - img)[..., ::-1])
    assert chain.needs == frozenset()


def test_a_face_chain_analyses_a_still_image_by_itself(face_photo, tmp_path):
    chain = realtime.load_chain(str(make_onnx_filter(tmp_path / "face.onnx", kind="face")), provider="cpu")
    assert chain.needs == {FACES}
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    out = chain.apply(bgr)
    assert np.abs(out.astype(int) - bgr).mean() > 1, "the face was found and filtered"
    assert np.array_equal(out[:20, :20], bgr[:20, :20])
    blank = np.full((200, 200, 3), 90, np.uint8)
    assert np.array_equal(chain.apply(blank), blank), "no face: the image passes through"


def test_frame_filters_never_start_the_face_analyser(monkeypatch):
    import realtime.analysis.analysers as analysis

    def refuse(still: bool) -> None:
        raise AssertionError("a chain of frame filters must not start MediaPipe")

    monkeypatch.setitem(analysis.ANALYSERS, FACES, refuse)
    chain = realtime.load_chain("candy", provider="cpu")
    assert chain.apply(photo()).shape == (120, 160, 3)


def test_runtime_never_imports_torch():
    code = ("import sys, realtime, realtime.cli, realtime.live.session, realtime.live.loop, realtime.filters.chain, realtime.filters.engine, realtime.analysis.tracking, "
            "realtime.sinks.video_file, realtime.sinks.preview, realtime.sinks.virtual_cam, realtime.capture.sources; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
