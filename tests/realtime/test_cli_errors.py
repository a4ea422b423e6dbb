"""Every bad input to `realtime` gives one clear line and a non-zero exit, never a traceback."""
from __future__ import annotations


import cv2
import pytest

from realtime.filters.registry import bundled_filters
from tests.conftest import assert_one_line, run_realtime


def test_unknown_filter_lists_the_known_ones(monkeypatch, capsys):
    line = assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", "sparkles", "--source", "synthetic", "--no-preview"), "unknown filter 'sparkles'")
    for name in bundled_filters():
        assert name in line


def test_missing_model_file(monkeypatch, capsys, tmp_path):
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(tmp_path / "gone.onnx"), "--source", "synthetic", "--no-preview"), "does not exist")


def test_corrupt_model_file(monkeypatch, capsys, tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage")
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(tmp_path / "bad.onnx"), "--source", "synthetic", "--no-preview"), "corrupt")


def test_incompatible_model(monkeypatch, capsys, tmp_path):
    import onnx
    from onnx import TensorProto, helper
    from realtime.filters.onnx_format import built_model

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [10])])
    onnx.save(built_model(graph, 13), str(tmp_path / "vec.onnx"))
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(tmp_path / "vec.onnx"), "--source", "synthetic", "--no-preview"), "not an image filter")


def test_missing_video(monkeypatch, capsys, tmp_path, swap_onnx):
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", str(tmp_path / "none.mp4"), "--no-preview"),
                    f"--source {tmp_path / 'none.mp4'}: no such file", "--list-cameras")


def test_a_camera_name_that_matches_none(monkeypatch, capsys, swap_onnx):
    """No suffix, no folder: a camera's name, looked up among the cameras (none here)."""
    monkeypatch.setattr("realtime.capture.sources.list_cameras", lambda: [])
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "Logitech BRIO", "--no-preview"),
                    "not a camera index, a camera name", "--list-cameras")


def test_the_summary_of_one_frame_gives_no_rate(monkeypatch, capsys, swap_onnx):
    """One frame has no rate: '1 frame out, latency …', not '1 frames out at 0.0 fps'."""
    from realtime.cli import entry

    for frames, said in ((1, "1 frame out, latency"), (3, "3 frames out at ")):
        monkeypatch.setattr("sys.argv", ["realtime", "--filter", str(swap_onnx), "--source", "synthetic", "--no-preview",
                                         "--frames", str(frames), "--no-control"])
        assert entry() == 0
        assert capsys.readouterr().out.startswith(said)


def test_camera_that_does_not_open(monkeypatch, capsys, swap_onnx):
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "9", "--no-preview"), "camera 9 does not open")


def test_provider_not_available(monkeypatch, capsys, swap_onnx):

    code, err = run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "synthetic", "--no-preview", "--frames", "1", "--provider", "tensorrt")
    if code == 0:
        pytest.skip("TensorRT works on this machine")
    assert_one_line(code, err, "tensorrt")


def test_virtual_camera_missing_prints_the_modprobe_line(monkeypatch, capsys, swap_onnx):
    monkeypatch.setattr("realtime.sinks.virtual_cam.loopback_devices", lambda: [])
    line = assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "synthetic", "--no-preview", "--virtual-cam"),
                    "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=")
    assert "v4l2loopback-dkms" in line


def test_named_virtual_camera_device_missing(monkeypatch, capsys, swap_onnx):
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "synthetic", "--no-preview", "--virtual-cam", "/dev/video99"),
             "/dev/video99 does not exist", "modprobe")


def test_bad_config_file(monkeypatch, capsys, tmp_path):
    (tmp_path / "c.toml").write_text("filter = 'cartoon'\ncolour = 'blue'\n")
    assert_one_line(*run_realtime(monkeypatch, capsys, "--config", str(tmp_path / "c.toml")), "unknown option 'colour'")
    (tmp_path / "e.toml").write_text("filtr = 'cartoon'\nno-previw = true\n")  # typos: the option meant, named
    assert_one_line(*run_realtime(monkeypatch, capsys, "--config", str(tmp_path / "e.toml")),
                    "unknown option 'filtr' (did you mean filter?)", "'no-previw' (did you mean no_preview?)")
    (tmp_path / "d.toml").write_text("filter = [unclosed\n")
    assert_one_line(*run_realtime(monkeypatch, capsys, "--config", str(tmp_path / "d.toml")), "not valid TOML")


def test_no_display_for_the_preview(monkeypatch, capsys, swap_onnx):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "synthetic"), "--no-preview")


def test_every_problem_known_before_work_is_said_at_once(monkeypatch, capsys, swap_onnx, tmp_path):
    """A missing --source file, a mistyped --background, a bad --output name and no display: one
    line naming all four, not one now and the next once that is fixed."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "talk.mp4",
                                  "--background", "blurr", "--output", str(tmp_path / "out.txt")),
                    "--source talk.mp4: no such file", "--background blurr: no such file", "--output", "--no-preview")


def test_a_bad_name_says_which_chain_it_is_in(monkeypatch, capsys, swap_onnx):
    """--filter and --on-smile both name chains: a mistyped name (or a '+' too many) says which."""
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", "cartoonn", "--on-smile", "sketch++glasses",
                                  "--source", "synthetic", "--no-preview"),
                    "--filter: unknown filter 'cartoonn'", "--on-smile sketch++glasses: ", "empty name")
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--on-smile", "sketchh",
                                  "--source", "synthetic", "--no-preview"), "--on-smile: unknown filter 'sketchh'")


def test_config_file_options_and_command_line_override(monkeypatch, capsys, tmp_path, swap_onnx):
    import json

    (tmp_path / "c.toml").write_text(
        f"filter = '{swap_onnx}'\nsource = 'synthetic'\nsize = '96x64'\nno_preview = true\nframes = 5\nfps = 60\n")
    code, err = run_realtime(monkeypatch, capsys, "--config", str(tmp_path / "c.toml"), "--frames", "3", "--stats", str(tmp_path / "s.json"), "--no-track")
    assert code == 0, err
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["frames_output"] == 3 and stats["filters"] == "swap"


def test_camera_path_with_a_driver_that_accepts_the_size(monkeypatch, capsys, tmp_path, swap_onnx, caplog):
    """The camera source end to end, with cv2.VideoCapture replaced by a fake driver
    (no /dev/video here): requested vs negotiated settings are logged, frames flow."""
    import json
    import logging

    import numpy as np

    class FakeCamera:
        def __init__(self, index, backend=None):
            self.props = {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480, cv2.CAP_PROP_FPS: 30,
                          cv2.CAP_PROP_FOURCC: cv2.VideoWriter_fourcc(*"YUYV")}
            self.t = 0

        def isOpened(self):
            return True

        def set(self, prop, value):
            self.props[prop] = value
            return True

        def get(self, prop):
            return self.props.get(prop, 0)

        def read(self):
            self.t += 1
            w, h = int(self.props[cv2.CAP_PROP_FRAME_WIDTH]), int(self.props[cv2.CAP_PROP_FRAME_HEIGHT])
            return True, np.full((h, w, 3), self.t % 255, np.uint8)

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", FakeCamera)
    with caplog.at_level(logging.INFO):
        code, err = run_realtime(monkeypatch, capsys, "--filter", str(swap_onnx), "--source", "0", "--size", "320x240", "--no-preview",
                        "--frames", "5", "--no-track", "--stats", str(tmp_path / "s.json"))
    assert code == 0, err
    assert any("camera 0: asked 320x240" in r.message and "got 320x240" in r.message for r in caplog.records)
    assert json.loads((tmp_path / "s.json").read_text())["frames_output"] == 5
