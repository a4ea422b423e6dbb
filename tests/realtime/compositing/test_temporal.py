from __future__ import annotations

import numpy as np

from realtime.compositing.temporal import TemporalConfig, TemporalStabilizer, flicker_and_response


def scene(t: int, rng: np.random.Generator) -> np.ndarray:
    """A still background with a bright square moving 6 px per frame."""
    img = np.full((96, 128, 3), 90, np.uint8)
    img[:, 64:] = 160
    x = 10 + 6 * t
    img[30:60, x : x + 24] = 250
    return img


def flickering_filter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A per-frame 'filter' that adds fresh noise every frame, like an unstable network."""
    return np.clip(img.astype(np.int16) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)


def test_stabiliser_cuts_flicker_and_keeps_motion():
    rng = np.random.default_rng(0)
    inputs = [scene(t, rng) for t in range(14)]
    raw = [flickering_filter(i, rng) for i in inputs]
    stab = TemporalStabilizer(TemporalConfig(keep=0.8, threshold=10, scale=2))
    steady = [stab(i, o) for i, o in zip(inputs, raw)]
    flicker_raw, response_raw = flicker_and_response(inputs, raw)
    flicker_st, response_st = flicker_and_response(inputs, steady)
    assert flicker_st < 0.5 * flicker_raw
    assert response_st > 0.7 * response_raw
    # no ghost: where the square was two frames ago and is no more, the output follows the input
    last_in, last_out = inputs[-1], steady[-1]
    assert abs(float(last_out[30:60, 70:76].mean()) - float(last_in[30:60, 70:76].mean())) < 25


def test_the_hold_is_full_up_to_the_floor_and_fades_out_by_the_threshold():
    """Camera noise changes the blurred map by 1-2 levels: under the floor it is held at full
    ``keep``; above, the hold fades linearly to nothing at the threshold (floor 0: the plain ramp)."""
    import pytest

    table = TemporalConfig(keep=0.98, threshold=5, floor=2).keep_table()
    assert list(table[:6]) == [250, 250, 250, 167, 83, 0] and not table[5:].any()
    assert list(TemporalConfig(keep=0.9, threshold=5).keep_table()[:6]) == [230, 184, 138, 92, 46, 0]
    with pytest.raises(ValueError, match=r"keep must be from 0 to below 1.*floor must be from 0 to below the threshold \(5\)"):
        TemporalConfig(keep=1.0, floor=5)


def test_a_slow_drift_is_followed_not_held_back():
    """A still picture whose light drifts by 0.3-1.5 grey levels a frame, each step under the
    floor: the held output follows within a few levels, because the change is measured against
    the input the held output stands for. Measured frame to frame, as before, the drift never
    counted as change and the output fell 29-69 levels behind at keep 0.98, floor 2."""
    rng = np.random.default_rng(0)
    for slope in (0.3, 1.0, 1.5):
        for config in (TemporalConfig(), TemporalConfig(keep=0.98, threshold=5, floor=2)):
            stab, lag = TemporalStabilizer(config), []
            for t in range(120):
                frame = np.full((48, 64, 3), round(80 + slope * t), np.uint8)
                out = stab(frame, np.clip(frame + rng.integers(-3, 4, frame.shape), 0, 255).astype(np.uint8))
                lag.append(float(np.abs(out.astype(float) - frame).mean()))
            assert np.mean(lag[-40:]) < 3.0, (slope, config, np.mean(lag[-40:]))


def test_first_frame_and_size_change_pass_through():
    stab = TemporalStabilizer()
    a = np.zeros((20, 30, 3), np.uint8)
    b = np.full((40, 50, 3), 7, np.uint8)
    assert stab(a, a) is a
    assert stab(b, b) is b


def test_flicker_benchmark_writes_json_and_markdown(tmp_path, face_video):
    import json

    import pytest

    from benchmarks.flicker import main
    from realtime.errors import UserError
    from tests.conftest import make_onnx_filter

    model = make_onnx_filter(tmp_path / "swap.onnx")
    assert main(["--filter", str(model), "--videos", str(face_video), "--frames", "6", "--json", str(tmp_path / "f.json")]) == 0
    result = json.loads((tmp_path / "f.json").read_text())
    mean = result["mean"]["swap"]  # a model file's row: its name
    assert mean["response_off"] > mean["flicker_off"] >= 0 and 0 <= mean["flicker_ratio"] <= 1.0
    assert mean["stabiliser"] == "keep 0.9, threshold 5 (default)"
    assert "| flicker off → on |" in (tmp_path / "f.md").read_text()
    # a sweep's row is named with its settings, beside the filter's own
    assert main(["--filter", str(model), "--videos", str(face_video), "--frames", "6", "--json", str(tmp_path / "f.json"),
                 "--keep", "0.95", "--threshold", "8"]) == 0
    result = json.loads((tmp_path / "f.json").read_text())
    assert set(result["mean"]) == {"swap", "swap (keep 0.95, threshold 8)"}
    assert result["mean"]["swap (keep 0.95, threshold 8)"]["stabiliser"] == "keep 0.95, threshold 8 (set)"
    with pytest.raises(UserError, match="floor must be from 0 to below the threshold"):
        main(["--filter", str(model), "--videos", str(face_video), "--frames", "6", "--json", str(tmp_path / "f.json"), "--floor", "9"])


def test_flicker_report_keeps_filters_measured_earlier_with_the_same_videos():
    from benchmarks.flicker import merged

    def report(name: str, value: float, frames: int = 60) -> dict:
        return {"per_video": {f"{name}/v.mp4": {"flicker_off": value}}, "mean": {name: {"flicker_off": value}},
                "frames": frames, "videos": ["v.mp4"]}

    both = merged(report("cartoon", 1.0), report("mosaic", 2.0))
    assert both["mean"] == {"cartoon": {"flicker_off": 1.0}, "mosaic": {"flicker_off": 2.0}} and len(both["per_video"]) == 2
    again = merged(both, report("cartoon", 3.0))
    assert again["mean"]["cartoon"] == {"flicker_off": 3.0} and again["mean"]["mosaic"] == {"flicker_off": 2.0}
    assert merged(both, report("candy", 4.0, frames=30))["mean"] == {"candy": {"flicker_off": 4.0}}, "other frames: start over"
    assert merged(None, report("candy", 4.0))["mean"] == {"candy": {"flicker_off": 4.0}}


class _NoisyModel:
    """A stand-in for a network that flickers: fresh noise on every call, at whatever size it is given."""

    name = "noisy"

    def __init__(self, work_size: int) -> None:
        from realtime.filters.onnx_format import FilterContract

        self.contract = FilterContract(name="noisy", work_size=work_size)
        self.rng = np.random.default_rng(0)
        self.sizes: list[tuple[int, int]] = []

    def infer(self, bgr: np.ndarray, latent: int = 0, crowded: bool = False):
        from realtime.filters.engine import Inference

        self.sizes.append(bgr.shape[:2])
        return Inference(flickering_filter(bgr, self.rng), 0.0)


def test_a_frame_filter_is_stabilised_at_its_work_size_before_the_upscale():
    """The stream's memory holds the network's 480-line output still on a still 1280x720 frame;
    the full-size frame is never blended (that cost 4.4 ms of CPU a frame, 1.6 at 853x480)."""
    from realtime.analysis.analysers import FrameAnalysis
    from realtime.compositing.temporal import TemporalMemory
    from realtime.filters.kinds.base import Settings
    from realtime.filters.kinds.frame_filter import FrameFilter

    model = _NoisyModel(work_size=480)
    still = np.repeat(np.repeat(scene(0, np.random.default_rng(1)), 8, axis=0), 10, axis=1)[:720, :1280]
    memory = TemporalMemory()
    plain = FrameFilter(model)  # type: ignore[arg-type]
    outs = [plain.apply(still, FrameAnalysis(), Settings(temporal=memory)).image for _ in range(6)]
    raw = [plain.apply(still, FrameAnalysis(), Settings()).image for _ in range(6)]
    assert set(model.sizes) == {(480, 853)} and outs[0].shape == still.shape  # the aspect kept; the engine pads
    change = lambda frames: np.mean([np.abs(b.astype(int) - a).mean() for a, b in zip(frames[2:], frames[3:])])  # noqa: E731
    assert change(outs) < 0.4 * change(raw)
    assert memory.take_ms() > 0 and memory.take_ms() == 0.0  # timed, then taken


def test_the_memory_is_per_network_output_and_forgotten_on_reset():
    from realtime.compositing.temporal import TemporalMemory

    memory = TemporalMemory()
    a, b = np.zeros((48, 64, 3), np.uint8), np.full((48, 64, 3), 200, np.uint8)
    memory.stabilise("x", a, a)
    assert (memory.stabilise("y", a, b) == b).all()  # another key: nothing to hold
    assert (memory.stabilise("x", a, b) != b).any()  # the same key on a still input: held towards the old output
    memory.reset()
    assert (memory.stabilise("x", a, b) == b).all()


def test_a_filter_is_steadied_with_the_settings_in_its_contract():
    """A network that draws its own 2-px strokes asks for a firmer hold (``filter.temporal_keep``,
    ``filter.temporal_threshold``): its frame filter's stabiliser is made with them, a filter
    that asks for nothing gets the default, and a memory given settings (a sweep) overrides both."""
    from dataclasses import replace

    from realtime.analysis.analysers import FrameAnalysis
    from realtime.compositing.temporal import TemporalMemory, own_config
    from realtime.filters.kinds.base import Settings
    from realtime.filters.kinds.frame_filter import FrameFilter

    assert own_config(None, None) is None
    assert own_config(0.95, None) == TemporalConfig(keep=0.95, threshold=TemporalConfig().threshold)
    assert own_config(None, None, 2.0) == TemporalConfig(floor=2.0)
    still = scene(0, np.random.default_rng(1))
    firm, plain = _NoisyModel(work_size=96), _NoisyModel(work_size=96)
    firm.contract = replace(firm.contract, name="firm", temporal_keep=0.98, temporal_threshold=12.0)
    firm.name = "firm"

    def steadied(model: _NoisyModel, memory: TemporalMemory) -> float:
        f = FrameFilter(model)  # type: ignore[arg-type]
        outs = [f.apply(still, FrameAnalysis(), Settings(temporal=memory)).image for _ in range(12)]
        return float(np.mean([np.abs(b.astype(int) - a).mean() for a, b in zip(outs[4:], outs[5:])]))

    memory = TemporalMemory()
    firm_flicker, plain_flicker = steadied(firm, memory), steadied(plain, memory)
    assert memory._stabilisers["firm"].config == TemporalConfig(keep=0.98, threshold=12.0)
    assert memory._stabilisers["noisy"].config == TemporalConfig()
    assert firm_flicker < 0.5 * plain_flicker  # held at 98 %, not 90 %
    swept = TemporalMemory(TemporalConfig(keep=0.5, threshold=3.0))
    steadied(firm, swept)
    assert swept._stabilisers["firm"].config == TemporalConfig(keep=0.5, threshold=3.0)
