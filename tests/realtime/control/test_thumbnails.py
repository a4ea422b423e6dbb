"""The gallery's thumbnails are drawn in a child process (realtime.control.thumbnail_worker) that
ends when the gallery rests, so the models it loaded leave the camera's process: started for
the first thumbnail, ended ``idle_s`` after the last, started again when asked; a child that
dies answers the thumbnail in flight with one line and the next one starts afresh; close()
ends it."""
from __future__ import annotations

import os
import signal

import cv2
import numpy as np
import pytest

from realtime.control.thumbnail_worker import WorkerStopped
from realtime.control.thumbnails import Thumbnails
from realtime.errors import UserError
from tests.realtime.control.helpers import make_onnx_filter, wait_for


def gone(pid: int) -> bool:
    """The process ``pid`` has ended and been reaped (no zombie left: its parent waited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def frame() -> np.ndarray:
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, :80] = (20, 60, 230)
    return img


def decoded(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture
def thumbs():
    """Thumbnails whose child lives on while a test looks at it (it rests after 600 s)."""
    t = Thumbnails("cpu", idle_s=600)
    t.refresh(frame())
    yield t
    t.close()
    for pid in t.started:
        wait_for(lambda: gone(pid), 30, "the child to end after close()")


def test_a_child_draws_them_and_ends_when_the_gallery_rests(tmp_path):
    """Each claim holds whatever the machine's load: which child drew what is not asserted (a
    stall longer than the rest ends one between two thumbnails), only that one was started, that
    every child started ends once the gallery rests, and that a thumbnail asked for after that
    starts a new one."""
    swap = make_onnx_filter(tmp_path / "swap.onnx")
    thumbs = Thumbnails("cpu", idle_s=0.5)
    thumbs.refresh(frame())
    try:
        assert thumbs.started == [], "no child before the first thumbnail"
        plain = decoded(thumbs.render("none").result(60))
        assert plain.shape == (144, 192, 3) and abs(int(plain[70, 20, 2]) - 230) < 12  # the frame, at the gallery's width
        swapped = decoded(thumbs.render(str(swap)).result(60))
        assert abs(int(swapped[70, 20, 0]) - 230) < 12, "the filter ran (red and blue swapped)"
        assert thumbs.started and os.getpid() not in thumbs.started
        wait_for(lambda: thumbs.worker_pid is None, 30, "the child to end once the gallery rested")
        rested = list(thumbs.started)
        for pid in rested:
            wait_for(lambda: gone(pid), 30, "the rested child to be reaped")
        thumbs.refresh(frame())  # a new frame: nothing cached
        assert decoded(thumbs.render(str(swap)).result(60)).shape == (144, 192, 3)
        assert len(thumbs.started) == len(rested) + 1, "asked again: a new child"
    finally:
        thumbs.close()
        for pid in thumbs.started:
            wait_for(lambda: gone(pid), 30, "the child to end after close()")


def test_a_child_that_dies_fails_one_thumbnail_and_the_next_starts_afresh(thumbs):
    thumbs.render("none").result(60)
    dead = thumbs.worker_pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    with pytest.raises(WorkerStopped, match="the thumbnails' process stopped"):
        thumbs.render("none", latent=1).result(60)  # not cached: asks the dead child
    wait_for(lambda: gone(dead), 30, "the dead child to be reaped")
    assert decoded(thumbs.render("none", latent=2).result(60)).shape == (144, 192, 3)
    assert thumbs.worker_pid not in (None, dead)


def test_a_chain_the_child_cannot_build_is_one_line_and_the_child_lives_on(thumbs, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(UserError, match="broken.onnx") as caught:
        thumbs.render(str(broken)).result(60)
    assert "\n" not in str(caught.value)
    pid = thumbs.worker_pid
    assert pid is not None and not gone(pid)
    thumbs.render("none").result(60)
    assert thumbs.worker_pid == pid


def test_close_ends_the_child(thumbs):
    thumbs.render("none").result(60)
    pid = thumbs.worker_pid
    assert pid is not None
    thumbs.close()
    wait_for(lambda: gone(pid), 30, "the child to end after close()")


def test_what_a_native_library_prints_does_not_break_the_answers(thumbs, tmp_path, monkeypatch):
    """Only the child's answers go down its stdout: a write to file descriptor 1 (as a C library
    would make) lands in its log. The child is made to write to fd 1 each time it builds a chain."""
    hook = tmp_path / "sitecustomize.py"
    hook.write_text("import os\nimport realtime.filters.chain as c\n_build = c.build_chain\n"
                    "def build_chain(*a, **k):\n    os.write(1, b'noise on fd 1\\n')\n    return _build(*a, **k)\n"
                    "c.build_chain = build_chain\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p))
    for spec in ("none", "big_eyes"):  # two chains built: noise twice
        assert decoded(thumbs.render(spec).result(60)).shape == (144, 192, 3)


def test_bytes_that_are_not_a_message_read_as_the_end_of_the_stream():
    """A pipe that holds something else (a library's output before the child took its stdout over)
    reads as the end of the stream at once, not as a length to wait for: the thumbnail in flight
    then fails in one line and the next starts a new child (as for a child that died, above)."""
    import io

    from realtime.control.thumbnail_worker import receive, send

    assert receive(io.BytesIO(b"noise on fd 1\n" + b"x" * 100)) is None  # no waiting for 'noise on' bytes
    good = io.BytesIO()
    send(good, ("ok", b"jpeg"))
    assert receive(io.BytesIO(good.getvalue())) == ("ok", b"jpeg")
    assert receive(io.BytesIO(good.getvalue()[:-1])) is None  # cut short
