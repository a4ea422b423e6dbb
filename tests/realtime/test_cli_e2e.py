"""The real pipeline end to end without a camera: real video → tracking → ONNX filter → sinks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam

from realtime.cli import main as realtime_main
from realtime.filters.registry import bundled_filters

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif("cartoon" not in bundled_filters(), reason="bundled cartoon filter missing")


def count_frames(path: Path) -> tuple[int, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    n = 0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    while cap.read()[0]:
        n += 1
    cap.release()
    return n, size


def check_stats(stats: dict, frames: int, tracked: bool = True) -> None:
    assert stats["frames_output"] == frames
    assert stats["frames_processed"] <= stats["frames_captured"]
    assert stats["frames_dropped"] <= stats["frames_captured"] - stats["frames_processed"]
    lat = stats["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert {"capture", "filter:cartoon", "process", "output"} <= set(stats["stages_ms"])
    assert ("track" in stats["stages_ms"]) == tracked
    assert stats["provider"] == "cpu" or stats["provider"] in ("cuda", "tensorrt")
    assert stats["fps_output"] > 0 and stats["face_frames"] <= stats["frames_processed"]


def test_video_to_file_with_stats(tmp_path, face_video):
    out, stats_path = tmp_path / "out.mp4", tmp_path / "s.json"
    code = realtime_main(["--filter", "cartoon", "--source", str(face_video), "--no-preview", "--output", str(out),
                          "--frames", "40", "--stats", str(stats_path), "--track", "always"])
    assert code == 0
    stats = json.loads(stats_path.read_text())
    check_stats(stats, 40)
    assert stats["face_frames"] >= 0.8 * stats["frames_processed"], "the face in this video must be tracked"
    n, size = count_frames(out)
    assert n == 40 and size == (480, 480)
    cap = cv2.VideoCapture(str(face_video))
    raw = cap.read()[1]
    cap.release()
    filtered = cv2.VideoCapture(str(out)).read()[1]
    assert np.abs(filtered.astype(int) - raw).mean() > 3, "the output must be filtered, not the raw video"


def test_fast_mode_processes_every_frame(tmp_path, face_video):
    stats_path = tmp_path / "s.json"
    assert realtime_main(["--filter", "cartoon", "--source", str(face_video), "--no-preview", "--fast",
                          "--frames", "12", "--stats", str(stats_path), "--no-track"]) == 0
    stats = json.loads(stats_path.read_text())
    assert stats["frames_output"] == 12 and stats["frames_repeated"] == 0
    # start-up and memory, reported for every run (the process started before the test session did)
    assert stats["peak_rss_mb"] > 50 and stats["time_to_first_output_from_process_start_s"] > stats["time_to_first_output_s"] > 0
    assert stats["frames_processed"] - stats["frames_output"] <= 1 and stats["frames_dropped"] == 0
    assert stats["face_frames"] == 0 and "track" not in stats["stages_ms"]


def test_tracking_runs_by_default_only_while_a_face_filter_is_in_the_chain(tmp_path, face_video):
    from tests.conftest import make_onnx_filter

    face = make_onnx_filter(tmp_path / "face.onnx", kind="face")
    stats_path = tmp_path / "s.json"
    assert realtime_main(["--filter", f"cartoon+{face}", "--source", str(face_video), "--no-preview", "--fast",
                          "--frames", "10", "--stats", str(stats_path)]) == 0
    stats = json.loads(stats_path.read_text())
    assert "track" in stats["stages_ms"] and stats["face_frames"] >= 8 and "filter:face" in stats["stages_ms"]


class RecordingBackend:
    """A pyvirtualcam backend that keeps the frames it is sent (registered by the test)."""

    instances: list["RecordingBackend"] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self.size, self.fps, self.fourcc, self.frames, self.closed = (width, height), fps, fourcc, [], False
        RecordingBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())

    def device(self) -> str:
        return "recorder"

    def native_fourcc(self) -> int | None:
        return None

    def close(self) -> None:
        self.closed = True


def test_video_to_the_real_pyvirtualcam_camera(tmp_path, face_video):
    pyvirtualcam.register_backend("test-recorder", RecordingBackend)
    RecordingBackend.instances.clear()
    stats_path = tmp_path / "s.json"
    code = realtime_main(["--filter", "cartoon", "--source", str(face_video), "--no-preview", "--virtual-cam",
                          "--virtual-cam-backend", "test-recorder", "--frames", "20", "--fps", "25", "--stats", str(stats_path)])
    assert code == 0
    cam = RecordingBackend.instances[-1]
    assert cam.closed and cam.size == (480, 480) and cam.fps == 25
    assert cam.fourcc == pyvirtualcam.PixelFormat.BGR.value or cam.fourcc  # pyvirtualcam passes the FourCC code
    assert len(cam.frames) == 20
    assert all(f.size == 480 * 480 * 3 for f in cam.frames)
    check_stats(json.loads(stats_path.read_text()), 20, tracked=False)  # a frame filter: no tracking needed


@pytest.fixture
def xvfb_display():
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    display = ":%d" % (90 + os.getpid() % 50)
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    if proc.poll() is not None:
        pytest.skip("Xvfb did not start")
    yield display
    proc.terminate()
    proc.wait(5)


def test_preview_window_under_xvfb(tmp_path, face_video, xvfb_display):
    env = {**os.environ, "DISPLAY": xvfb_display}
    stats_path = tmp_path / "s.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime.cli", "--filter", "cartoon", "--source", str(face_video), "--loop",
         "--preview", "--stats", str(stats_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        window = None
        for _ in range(60):  # wait for the window to appear
            time.sleep(0.5)
            if shutil.which("xdotool"):
                found = subprocess.run(["xdotool", "search", "--name", "realtime: cartoon"], env=env, capture_output=True, text=True)
                if found.stdout.strip():
                    window = found.stdout.split()[0]
                    break
        if window is None:
            pytest.skip("xdotool missing: cannot find the window to press keys in it")
        time.sleep(1.0)
        shot = tmp_path / "screen.xwd"
        if shutil.which("xwd"):
            subprocess.run(["xwd", "-root", "-display", xvfb_display, "-out", str(shot)], check=True)
            assert shot.stat().st_size > 100_000
        subprocess.run(["xdotool", "key", "--window", window, "q"], env=env, check=True)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "hotkeys:" in out
    stats = json.loads(stats_path.read_text())
    assert stats["frames_output"] > 5


def test_paced_output_sends_each_result_when_it_is_ready_not_at_the_next_tick(tmp_path, swap_onnx):
    stats_path = tmp_path / "s.json"
    assert realtime_main(["--filter", str(swap_onnx), "--source", "synthetic", "--size", "160x120", "--no-preview",
                          "--fps", "5", "--frames", "6", "--stats", str(stats_path)]) == 0
    stats = json.loads(stats_path.read_text())
    # a ~1 ms filter at 5 fps: waiting for output ticks would add up to 200 ms per frame
    assert stats["frames_output"] == 6 and stats["latency_ms"]["p50"] < 100
