"""Recordings that survive a crash, keep their sound in sync and play everywhere.

The clips are made here (tests/realtime/sinks/media.py): every frame carries its index, a flash
and a tone start at the same moment, so each file the tool writes can be checked for where each
picture and the sound landed. The crash test runs the real ``realtime`` command in a subprocess
(the exec wrapper of test_process_faults) and kills it with SIGKILL.
"""
from __future__ import annotations

import logging
import signal
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from realtime.capture.sources import VideoSource
from realtime.errors import UserError
from realtime.live.loop import LiveLoop, LoopConfig
from realtime.live.process import FrameProcessor
from realtime.sinks.outputs import check_outputs, verify_video
from realtime.sinks.video_file import KEYFRAME_S, VideoFileSink, container_format, pick_encoder
from tests.conftest import make_onnx_filter, run_realtime
from tests.realtime.sinks.media import FPS, make_bad_audio_clip, make_clip, measure
from tests.processes import foreground
from tests.realtime.test_process_faults import REALTIME, ROOT, load_chain, media  # noqa: F401 (a fixture)

FRAME = 1 / FPS


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {"aac": make_clip(folder / "aac.mp4"), "pcm": make_clip(folder / "pcm.mkv", audio="pcm_s16le"),
            "bad": make_bad_audio_clip(folder / "bad.mp4"), "filter": make_onnx_filter(folder / "swap.onnx")}


def assert_in_sync(source: Path, out: Path, audio: str | None = "aac") -> dict:
    """Each frame's first appearance is at its own time in the source (within a frame) and the
    tone starts where it starts in the source (within a frame): picture and sound agree. The
    first white frame may be a later one than the source's first (dropped frames): the offset
    compares the tone with that frame's own time in the source."""
    src, got = measure(source), measure(out)
    assert got["audio"] == audio
    assert got["firsts"], out
    for t, idx in got["firsts"]:
        assert abs(t - idx * FRAME) < FRAME, (t, idx)
    if audio is not None:
        offset = (got["beep"] - got["flash"]) - (src["beep"] - got["flash_index"] * FRAME)
        assert abs(offset) < FRAME, (got["beep"], got["flash"], got["flash_index"], src["beep"])
        assert abs(got["beep"] - src["beep"]) < FRAME
        got["offset_ms"] = offset * 1000
        print(f"{out.name}: sound {got['audio']}, tone at {got['beep']:.4f} s (source {src['beep']:.4f}), frame "
              f"{got['flash_index']} at {got['flash']:.4f} s: audio/video offset {offset * 1000:+.1f} ms")
    return got


def test_an_h264_fragmented_mp4_with_the_frames_own_times(tmp_path):
    """Gaps (dropped frames) stay gaps; frames without a time (re-sends) go after the last one by
    the wall time since; a keyframe every second; fragments (moof) in the file."""
    path = tmp_path / "v.mp4"
    sink = VideoFileSink(path, (64, 48), 30, encoder="libx264")
    times = [0.0, 0.1, 0.2, 0.5, 0.6] + [0.7 + i / 30 for i in range(60)]
    for i, t in enumerate(times):
        sink.send(np.full((48, 64, 3), i * 3 % 256, np.uint8), t)
    sink.send(np.zeros((48, 64, 3), np.uint8))  # a re-send: just after the last time
    sink.close()
    verify_video(path, len(times) + 1)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        pts = [float(f.pts * s.time_base) for f in c.decode(s)]
    assert pts[:-1] == pytest.approx(times, abs=1e-4) and times[-1] < pts[-1] < times[-1] + 0.05
    keys = measure(path)["keyframes"]
    assert keys[0] == 0 and all(b - a <= KEYFRAME_S + 0.05 for a, b in zip(keys, keys[1:])) and len(keys) >= 2
    assert b"moof" in path.read_bytes()


def test_odd_sizes_are_cropped_to_even_and_mkv_and_avi_are_written(tmp_path):
    for name in ("v.mkv", "v.avi", "v.mov"):
        sink = VideoFileSink(tmp_path / name, (65, 49), 30)
        for i in range(5):
            sink.send(np.full((49, 65, 3), i * 40, np.uint8))
        sink.close()
        verify_video(tmp_path / name, 5)
        with av.open(str(tmp_path / name)) as c:
            assert (c.streams.video[0].width, c.streams.video[0].height) == (64, 48)


def test_a_name_pyav_cannot_write_is_one_line_before_any_file(tmp_path):
    for name in ("out.webm", "out.txt", "out"):
        with pytest.raises(UserError, match=r"name the video \.mp4, .* or \.avi"):
            check_outputs({"--output": tmp_path / name}, [])
    assert container_format(tmp_path / "a.MKV") == "matroska" and not list(tmp_path.iterdir())


def test_the_encoder_falls_back_to_libx264_without_a_gpu(monkeypatch):
    import realtime.sinks.video_file as vf

    monkeypatch.setattr(vf, "_nvenc_opens", None)
    monkeypatch.setattr(vf, "nvidia_present", lambda: False)
    assert pick_encoder().codec == "libx264"
    monkeypatch.setattr(vf, "nvidia_present", lambda: True)  # a driver, but the encoder does not open here
    if "h264_nvenc" not in av.codecs_available or not Path("/dev/nvidiactl").exists():
        assert pick_encoder().codec == "libx264" and vf._nvenc_opens is False


# ---------------------------------------------------------------------------- a crash
def test_a_recording_killed_after_8_s_keeps_all_but_the_last_second(media, tmp_path):  # noqa: F811
    """Before: an mp4v .mp4 had its index written only at the end: 0 frames after kill -9."""
    out = tmp_path / "out.mp4"
    args = [*REALTIME, "--filter", str(media["filter"]), "--source", str(media["video"]), "--loop", "--no-preview",
            "--no-track", "--output", str(out)]
    proc = subprocess.Popen(foreground(args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.stat().st_size > 0):  # the header is written with the first frame
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "realtime did not start writing its video"
            time.sleep(0.02)
        started = time.monotonic()
        time.sleep(8.0)
        recorded = time.monotonic() - started
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    got = measure(out)
    duration = got["last"] + FRAME if got["last"] is not None else 0.0
    lost = recorded - duration
    print(f"killed after {recorded:.2f} s of recording: {got['frames']} frames readable, {duration:.2f} s, lost {lost:.2f} s")
    assert got["frames"] >= (recorded - KEYFRAME_S - 0.5) * FPS, got["frames"]
    assert -0.2 < lost <= KEYFRAME_S + 0.5, lost  # the last fragment, and the start-up of the first frame
    import cv2

    cap = cv2.VideoCapture(str(out))  # OpenCV's FFmpeg reads it too
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == got["frames"]


# ---------------------------------------------------------------------------- the sound
def test_the_sound_is_copied_in_sync_paced(monkeypatch, capsys, clips, tmp_path):
    out = tmp_path / "out.mp4"
    code, err = run_realtime(monkeypatch, capsys, "--filter", str(clips["filter"]), "--source", str(clips["aac"]),
                             "--no-preview", "--no-track", "--output", str(out))
    assert code == 0, err
    got = assert_in_sync(clips["aac"], out)
    assert got["frames"] >= 55


def test_the_sound_is_in_sync_fast(monkeypatch, capsys, clips, tmp_path):
    out = tmp_path / "out.mkv"
    code, err = run_realtime(monkeypatch, capsys, "--filter", str(clips["filter"]), "--source", str(clips["aac"]),
                             "--no-preview", "--no-track", "--output", str(out), "--fast")
    assert code == 0, err
    assert assert_in_sync(clips["aac"], out)["frames"] == 60


def test_a_sound_mp4_cannot_hold_is_reencoded_to_aac_in_sync(monkeypatch, capsys, clips, tmp_path):
    out = tmp_path / "out.mp4"
    code, err = run_realtime(monkeypatch, capsys, "--filter", str(clips["filter"]), "--source", str(clips["pcm"]),
                             "--no-preview", "--no-track", "--output", str(out), "--fast")
    assert code == 0, err
    assert_in_sync(clips["pcm"], out, audio="aac")


def test_the_sound_stays_in_sync_when_frames_are_dropped_and_repeated(clips, tmp_path):
    """A filter slower than the source (70 ms a frame at 30 fps): about half the frames are
    dropped and the output repeats results to keep its rate; each picture still lands at its
    own time, and so does the sound."""
    class Slow(FrameProcessor):
        def __call__(self, *args, **kwargs):
            time.sleep(0.07)
            return super().__call__(*args, **kwargs)

    out = tmp_path / "out.mp4"
    source = VideoSource(clips["aac"], paced=True)
    sink = VideoFileSink(out, source.size, FPS, audio_from=clips["aac"])
    loop = LiveLoop(source, Slow([load_chain(clips["filter"])], track="off"), [sink], None, LoopConfig(fps=FPS))
    stats = loop.run()
    assert stats.frames_dropped > 10 and stats.frames_repeated > 10, stats.summary()
    verify_video(out, sink.frames)
    got = assert_in_sync(clips["aac"], out)
    assert got["frames"] == stats.frames_output


def test_no_audio_leaves_the_sound_out(monkeypatch, capsys, clips, tmp_path):
    out = tmp_path / "out.mp4"
    code, err = run_realtime(monkeypatch, capsys, "--filter", str(clips["filter"]), "--source", str(clips["aac"]),
                             "--no-preview", "--no-track", "--output", str(out), "--fast", "--no-audio")
    assert code == 0, err
    assert measure(out)["audio"] is None


def test_a_sound_that_does_not_decode_is_one_warning_and_a_silent_video(clips, tmp_path):
    """The real command: FFmpeg's own complaints (OpenCV's and PyAV's) are not shown on top."""
    out = tmp_path / "out.mp4"
    done = subprocess.run([*REALTIME, "--filter", str(clips["filter"]), "--source", str(clips["bad"]), "--no-preview",
                           "--no-track", "--output", str(out), "--fast"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    err = done.stderr
    assert len(lines) == 1 and "cannot be decoded" in lines[0] and "without sound" in lines[0], err
    got = measure(out)
    assert got["audio"] is None and got["frames"] == 30


def test_an_avi_gets_no_sound_and_says_so(clips, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        sink = VideoFileSink(tmp_path / "v.avi", (160, 120), FPS, audio_from=clips["aac"])
        sink.send(np.zeros((120, 160, 3), np.uint8), 0.0)
        sink.close()
    assert [r.message for r in caplog.records if ".avi file gets no sound" in r.message]
    assert measure(tmp_path / "v.avi")["audio"] is None


def test_a_looped_source_has_sound_for_its_first_pass(monkeypatch, capsys, clips, tmp_path):
    """3 s of video from a 2 s clip played twice: the sound is the first pass's, then silence
    (not restarted out of place)."""
    out = tmp_path / "out.mp4"
    code, err = run_realtime(monkeypatch, capsys, "--filter", str(clips["filter"]), "--source", str(clips["aac"]),
                             "--no-preview", "--no-track", "--output", str(out), "--fast", "--loop", "--frames", "90")
    assert code == 0, err
    with av.open(str(out)) as c:
        s = c.streams.audio[0]
        end = max(float(f.pts * s.time_base) + f.samples / f.sample_rate for f in c.decode(s))
    assert 1.9 < end <= 2.05, end
    assert measure(out)["frames"] == 90
