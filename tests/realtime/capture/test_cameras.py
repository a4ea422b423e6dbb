"""Cameras by name and by format (realtime.capture.cameras): `--list-cameras` names them without
opening any, `--source "NAME"` picks one by (a part of) its name, `--size/--fps/--fourcc` are
asked of it and the stats say what it gave, `--output-size` fixes what the call sees.

The system's enumeration goes in through the seam ``cameras.ENUMERATE`` and the camera through
``sources.VideoCapture``: nothing here needs a real camera."""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import realtime.capture.cameras as cameras
import realtime.capture.sources as sources
from realtime.capture.cameras import Camera, pick_camera
from realtime.errors import UserError
from tests.conftest import assert_one_line, run_realtime

LISTED = [SimpleNamespace(index=0, name="Integrated Camera: Integrated C", path="/dev/video0"),
          SimpleNamespace(index=2, name="Logitech BRIO", path="/dev/video2"),
          SimpleNamespace(index=4, name="Logitech C920", path="/dev/video4"),
          SimpleNamespace(index=6, name="Realtime Filter", path="/dev/video6")]


@pytest.fixture
def system(monkeypatch, tmp_path):
    """Four cameras as the system names them; /dev/video6 is a v4l2loopback device (its sysfs
    entry lies under /sys/devices/virtual)."""
    sysfs = tmp_path / "class"
    sysfs.mkdir()
    for n, where in ((0, "pci0000:00/usb1/video4linux"), (2, "pci0000:00/usb2/video4linux"),
                     (4, "pci0000:00/usb3/video4linux"), (6, "virtual/video4linux")):
        node = tmp_path / "devices" / where / f"video{n}"
        node.mkdir(parents=True)
        os.symlink(node, sysfs / f"video{n}")
    asked: list[int] = []
    monkeypatch.setattr(cameras, "ENUMERATE", lambda backend: asked.append(backend) or LISTED)
    monkeypatch.setattr(cameras, "SYSFS", str(sysfs))
    return asked


class FakeCapture:
    """A camera that offers 640x480 @ 30 fps whatever is asked, and records what was set."""
    opened: list["FakeCapture"] = []

    def __init__(self, index: int, backend: int = 0) -> None:
        self.index, self.backend = index, backend
        self.props = {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0, cv2.CAP_PROP_FPS: 30.0,
                      cv2.CAP_PROP_FOURCC: float(cv2.VideoWriter_fourcc(*"YUYV"))}
        self.set_calls: dict[int, float] = {}
        FakeCapture.opened.append(self)

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        self.set_calls[prop] = value
        if prop == cv2.CAP_PROP_FOURCC and value == cv2.VideoWriter_fourcc(*"MJPG"):
            self.props[prop] = value  # it has MJPG; the size stays its own
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray]:
        return True, np.full((480, 640, 3), 90 + 10 * self.index, np.uint8)

    def release(self) -> None:
        pass


@pytest.fixture
def fake_capture(monkeypatch):
    FakeCapture.opened = []
    monkeypatch.setattr(sources, "VideoCapture", FakeCapture)
    return FakeCapture


def test_the_list_names_each_camera_and_marks_the_virtual_one(system):
    found = cameras.list_cameras()
    assert [(c.index, c.name, c.virtual) for c in found] == [
        (0, "Integrated Camera: Integrated C", False), (2, "Logitech BRIO", False), (4, "Logitech C920", False),
        (6, "Realtime Filter", True)]
    assert system == [cameras.camera_backend()]  # the backend whose indices VideoCapture opens
    assert found[3].describe() == "camera 6: Realtime Filter (/dev/video6)  virtual"


def test_a_name_picks_by_whole_name_first_then_by_a_part_in_any_case():
    cams = [Camera(0, "HD Webcam"), Camera(1, "HD Webcam Pro"), Camera(2, "Logitech BRIO")]
    assert pick_camera("hd webcam", cams).index == 0  # the whole name wins over the longer one containing it
    assert pick_camera("brio", cams).index == 2
    assert pick_camera("Razer", cams) is None
    with pytest.raises(UserError) as err:
        pick_camera("webcam", cams)
    assert "matches 2 cameras" in str(err.value) and "camera 0: HD Webcam" in str(err.value) and "camera 1: HD Webcam Pro" in str(err.value)


def test_list_cameras_prints_names_and_how_to_pick_one(monkeypatch, capsys, system):
    from realtime.cli import entry

    monkeypatch.setattr("sys.argv", ["realtime", "--list-cameras"])
    assert entry() == 0
    out = capsys.readouterr().out
    assert "camera 2: Logitech BRIO (/dev/video2)" in out and '--source "NAME"' in out


def test_no_cameras_is_a_clear_line_and_exit_1(monkeypatch, capsys):
    from realtime.cli import entry

    monkeypatch.setattr(cameras, "ENUMERATE", lambda backend: [])
    monkeypatch.setattr("sys.argv", ["realtime", "--list-cameras"])
    assert entry() == 1
    assert "no cameras found" in capsys.readouterr().out


def test_a_source_by_name_opens_that_camera_and_the_stats_say_what_it_gave(monkeypatch, capsys, caplog, tmp_path, system,
                                                                          fake_capture, swap_onnx):
    stats = tmp_path / "s.json"
    code, err = run_realtime(monkeypatch, capsys, "--filter", swap_onnx, "--source", "brio", "--size", "1280x720",
                             "--fps", "30", "--no-preview", "--no-control", "--frames", "3", "--stats", stats, "-v")
    assert code == 0, err
    assert [c.index for c in fake_capture.opened] == [2] and fake_capture.opened[0].backend == cameras.camera_backend()
    cam = fake_capture.opened[0]
    assert cam.set_calls[cv2.CAP_PROP_FRAME_WIDTH] == 1280 and cam.set_calls[cv2.CAP_PROP_FRAME_HEIGHT] == 720
    assert cam.set_calls[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")  # the default ask
    camera = json.loads(stats.read_text())["camera"]
    assert camera == {"camera": "camera 2 (Logitech BRIO)",
                      "asked": {"size": "1280x720", "fps": 30.0, "fourcc": "MJPG"},
                      "got": {"size": "640x480", "fps": 30.0, "fourcc": "MJPG"}}
    assert "gives 640x480, not the 1280x720 asked for" in caplog.text and "--output-size 1280x720" in caplog.text


def test_fourcc_auto_asks_for_no_format(monkeypatch, capsys, tmp_path, fake_capture, swap_onnx):
    stats = tmp_path / "s.json"
    code, err = run_realtime(monkeypatch, capsys, "--filter", swap_onnx, "--source", "0", "--fourcc", "auto",
                             "--no-preview", "--no-control", "--frames", "2", "--stats", stats)
    assert code == 0, err
    assert cv2.CAP_PROP_FOURCC not in fake_capture.opened[0].set_calls
    assert json.loads(stats.read_text())["camera"]["got"]["fourcc"] == "YUYV"


def test_output_size_sets_what_the_file_holds_whatever_the_camera_gives(monkeypatch, capsys, tmp_path, fake_capture, swap_onnx):
    out = tmp_path / "o.mp4"
    code, err = run_realtime(monkeypatch, capsys, "--filter", swap_onnx, "--source", "0", "--size", "1280x720",
                             "--output-size", "1280x720", "--no-preview", "--no-control", "--frames", "4", "--output", out)
    assert code == 0, err
    cap = cv2.VideoCapture(str(out))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (720, 1280, 3)


@pytest.mark.parametrize("args, expected", [
    (("--source", "Logitech"), ["matches 2 cameras", "camera 2: Logitech BRIO", "camera 4: Logitech C920"]),
    (("--source", "Razer Kiyo"), ["is not a camera index, a camera name", "2 'Logitech BRIO'"]),
    (("--fourcc", "MJPEG"), ["four letters such as MJPG"]),
    (("--output-size", "0x720"), ["--output-size"]),
])
def test_bad_camera_choices_are_one_line(monkeypatch, capsys, system, fake_capture, swap_onnx, args, expected):
    assert_one_line(*run_realtime(monkeypatch, capsys, "--filter", swap_onnx, "--no-preview", "--no-control", *args), *expected)
    assert fake_capture.opened == []  # nothing was opened


def test_cover_cuts_the_edges_that_do_not_fit_and_never_stretches():
    from realtime.imaging import cover

    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = 255  # a centred square-ish band: 4:3 -> 1:1 keeps exactly it
    square = cover(frame, 240, 240)
    assert square.shape == (240, 240, 3) and square.min() == 255
    wide = cover(frame, 1280, 720)  # 4:3 into 16:9: the top and bottom go, the width is whole
    assert wide.shape == (720, 1280, 3)
    assert (wide[:, :150] == 0).all() and (wide[:, 170:1110] == 255).all()


def test_a_source_value_is_read_one_way(tmp_path, monkeypatch):
    """The check before work, the opening and the sound track's copy share one reading of
    --source (sources.SourceName): an index, 'synthetic', an existing file, a missing file
    (a media suffix or a folder in the name) or else a camera's name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "talk.mp4").write_bytes(b"")
    read = {text: sources.SourceName.of(text) for text in ("2", " synthetic ", "talk.mp4", "gone.mp4", "clips/talk", "BRIO")}
    assert {text: name.kind for text, name in read.items()} == {
        "2": "camera", " synthetic ": "synthetic", "talk.mp4": "file", "gone.mp4": "missing file",
        "clips/talk": "missing file", "BRIO": "camera name"}
    assert sources.source_file("talk.mp4") == Path("talk.mp4")
    assert sources.source_file("gone.mp4") is None and sources.source_file("2") is None
    with pytest.raises(UserError, match="gone.mp4: no such file"):
        sources.open_source(sources.SourceSpec("gone.mp4"))  # not looked up among the cameras
