"""The loop says once, in one line, when a chain keeps too few of the camera's frames, and what to try."""
from __future__ import annotations

import logging
import re
import time

import numpy as np
import pytest

from realtime.live.keeping_up import KeepUpConfig, KeepUpWatch, advice

HD, VGA = (1280, 720), (640, 480)
CFG = KeepUpConfig()
RUN = {"in_flight": 1, "cores": 2}  # the run the advice is for


def feed(watch: KeepUpWatch, chain: str, size: tuple[int, int], seconds: float, every: int, first_id: int = 0,
         start: float = 0.0, fps: float = 30.0) -> list[str]:
    """A 30 fps camera for ``seconds``, the loop processing every ``every``-th frame; the lines said."""
    said = []
    for i in range(first_id, first_id + int(seconds * fps), every):
        line = watch.frame(chain, size, i, start + (i - first_id) / fps)
        if line:
            said.append(line)
    return said


def test_a_chain_that_keeps_every_frame_is_not_mentioned():
    watch = KeepUpWatch(CFG, **RUN)
    assert feed(watch, "cartoon", HD, 60, every=1) == [] and watch.behind == ""


def test_a_chain_that_keeps_half_the_frames_is_said_once_with_what_to_try():
    watch = KeepUpWatch(CFG, **RUN)
    said = feed(watch, "cartoon", HD, 60, every=2)
    assert len(said) == 1, said
    line = said[0]
    assert line.startswith("cartoon keeps 15 of the camera's 30 frames a second at 1280x720"), line
    assert "--size 640x360 --output-size 1280x720" in line and "--in-flight 2" in line, line
    assert "\n" not in line and "shorter chain" not in line
    assert watch.behind == line  # still behind after the last window: GetStats says so


def test_what_is_tried_depends_on_the_run():
    assert "--size" not in advice("sketch", VGA, 20, 30, **RUN)  # already small
    assert "--size" not in advice("sketch", (640, 360), 20, 30, **RUN)
    assert "--size 640x480 --output-size 1024x768" in advice("sketch", (1024, 768), 20, 30, **RUN)  # 4:3 stays 4:3
    assert "--size 640x360 --output-size 1920x1080" in advice("sketch", (1920, 1080), 20, 30, **RUN)  # the framing kept
    assert "--size 360x640 --output-size 720x1280" in advice("sketch", (720, 1280), 20, 30, **RUN)  # a portrait frame
    assert "--in-flight" not in advice("sketch", HD, 20, 30, in_flight=2, cores=2)
    assert "--in-flight" not in advice("sketch", HD, 20, 30, in_flight=1, cores=1)
    assert "a shorter chain" in advice("aged+cartoon", VGA, 20, 30, **RUN)
    assert advice("sketch", VGA, 20, 30, in_flight=2, cores=2).endswith("(the rest are skipped)")


def test_the_first_seconds_of_a_chain_do_not_count():
    """A chain loading its caches is slow for a moment: the settle time is left out."""
    watch = KeepUpWatch(CFG, **RUN)
    said = feed(watch, "cartoon", HD, CFG.settle_s - 0.5, every=3)
    n = int((CFG.settle_s - 0.5) * 30)
    said += feed(watch, "cartoon", HD, 30, every=1, first_id=n, start=n / 30)
    assert said == [] and watch.behind == ""


def test_each_chain_and_size_is_said_once_and_behind_clears_when_it_keeps_up():
    watch = KeepUpWatch(CFG, **RUN)
    t, i = 0.0, 0
    said = []
    for chain, size, every in [("cartoon", HD, 2), ("sketch", HD, 3), ("cartoon", HD, 2), ("cartoon", VGA, 2),
                               ("cartoon", VGA, 1)]:
        said += feed(watch, chain, size, 20, every, first_id=i, start=t)
        i, t = i + 600, t + 20
    assert [re.match(r"(\S+) keeps .* at (\d+x\d+) ", line).groups() for line in said] == [
        ("cartoon", "1280x720"), ("sketch", "1280x720"), ("cartoon", "640x480")], said  # cartoon at 720p again: not twice
    assert "keeps 10 of" in said[1]
    assert watch.behind == ""  # the last chain kept up


def test_a_camera_that_gives_fewer_frames_is_not_the_loop_falling_behind():
    """Frame ids count the camera's frames: a dim room's 15 fps camera, every frame kept."""
    watch = KeepUpWatch(CFG, **RUN)
    assert feed(watch, "cartoon", HD, 60, every=1, fps=15.0) == []


def test_bad_settings_are_refused_in_one_line():
    with pytest.raises(ValueError, match="share"):
        KeepUpConfig(share=0)


def test_the_loop_says_it_when_its_filter_is_too_slow_for_the_camera(caplog):
    """The real loop: a filter that takes three frame intervals a frame at 30 fps keeps about a
    third of the frames (slower on a loaded machine, never faster): one warning, in GetStats too."""
    from realtime.capture.sources import SyntheticSource
    from realtime.filters.chain import Chain
    from realtime.live.loop import LiveLoop, LoopConfig
    from realtime.live.process import FrameProcessor

    class Slow(FrameProcessor):
        def __call__(self, *args, **kwargs):
            time.sleep(0.1)
            return super().__call__(*args, **kwargs)

    class Null:
        def send(self, image: np.ndarray) -> None:
            pass

        def close(self) -> None:
            pass

    cfg = LoopConfig(fps=30.0, frames=60, keep_up=KeepUpConfig(window_s=0.6, settle_s=0.2))
    loop = LiveLoop(SyntheticSource((320, 240), 30.0), Slow([Chain([])], track="off"), [Null()], None, cfg)
    with caplog.at_level(logging.WARNING, logger="realtime.live.loop"):
        loop.run()
    lines = [r.getMessage() for r in caplog.records if "frames a second" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("none keeps ") and "at 320x240" in lines[0], caplog.text
    assert loop.keeping_up.behind.startswith("none keeps ")


def test_the_counters_tell_new_results_from_re_sends():
    """A loop that makes a result every other frame interval and re-sends between: 30 frames a
    second go out, 15 of them new; the status line leads with the 15."""
    from realtime.live.controls import ControlState, fps_text, status_line
    from realtime.live.stats import RunStats

    stats = RunStats()
    for i in range(90):
        stats.output(i / 30, i / 30 - 0.05, repeated=i % 2 == 1)
    assert stats.live_fps() == pytest.approx(30.0) and stats.new_fps() == pytest.approx(15.0, rel=0.03)
    line = status_line(stats.live_fps(), 50, "cpu", "cartoon", ControlState(), new_fps=stats.new_fps())
    assert line.startswith(f"{stats.new_fps():4.1f} fps (30 sent)"), line
    assert fps_text(30.0, 29.6) == "30.0 fps"  # every frame new: one number
    for i in range(90, 120):  # the network stalls: only re-sends go out, the new rate falls
        stats.output(i / 30, 0.0, repeated=True)
    assert stats.new_fps() == pytest.approx(7.5) and stats.live_fps() == pytest.approx(30.0)
    for i in range(120, 150):  # two seconds: none of the last 60 frames sent was new
        stats.output(i / 30, 0.0, repeated=True)
    assert stats.new_fps() == 0.0
