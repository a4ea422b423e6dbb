"""realtime batch --ray on a one-machine Ray cluster (ray.init(num_cpus=2)): one Ray Data run
of a tiny video (2 segments) and an image through the actor pool, compared with one process;
a GPU share on a cluster without GPUs is one line before any work."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest

from realtime.batch.config import BatchConfig, FilterJob
from realtime.batch.driver import run_batch
from realtime.batch.pool import SerialRunner
from realtime.batch.ray_runner import actor_cpus
from tests.conftest import assert_one_line
from tests.processes import kept_signal_handlers
from tests.realtime.batch.media import make_video, read_frames, scene
from tests.realtime.batch.test_batch import batch

ray = pytest.importorskip("ray", reason="--ray needs the scale extra (ray[data])")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[None]:
    with kept_signal_handlers():  # ray.init's SIGTERM handler outlives ray.shutdown
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            yield
        finally:
            ray.shutdown()


def test_actor_cpus_leave_one_cpu_to_ray_data() -> None:
    assert actor_cpus(2, 2) == 0.5  # 2 x 1 CPU on 2 CPUs would leave Ray Data's reads nothing
    assert actor_cpus(16, 8) == 1.0
    assert actor_cpus(1, 4) == 0.1


def test_ray_data_actor_pool_gives_what_one_process_gives(local_cluster: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_video(tmp_path / "clip.mp4", frames=30, gop=10)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), scene(4, 100, 80))
    code, stdout, stderr = batch(monkeypatch, capsys, clip, photo, "--out", tmp_path / "ray", "--filter", "cartoon",
                                 "--ray", "local", "--workers", 2, "--segment-frames", 15, "--overlap", 10, "--crf", 0,
                                 "--no-progress")
    assert code == 0, stderr
    assert "2 filtered" in stdout and "31 frames" in stdout and "Ray Data" in stdout  # 30 + the image
    config = BatchConfig((clip, photo), tmp_path / "one", FilterJob("cartoon", crf=0), segment_frames=15, overlap=10,
                         progress=False)
    run_batch(config, SerialRunner(config.job))
    one, got = read_frames(tmp_path / "one" / "clip.mp4"), read_frames(tmp_path / "ray" / "clip.mp4")
    assert len(got) == 30 and [t for t, _ in got] == [t for t, _ in one]
    assert max(float(np.abs(a[1].astype(np.int16) - b[1]).mean()) for a, b in zip(one, got)) < 0.5
    assert cv2.imread(str(tmp_path / "ray" / "photo.png")).shape == (80, 100, 3)
    assert not (tmp_path / "ray" / ".batch").exists()


def test_gpus_per_worker_on_a_cluster_without_gpus_is_one_line(local_cluster: None, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_video(tmp_path / "clip.mp4", frames=5, audio=False)
    code, _, stderr = batch(monkeypatch, capsys, clip, "--out", tmp_path / "out", "--filter", "cartoon", "--ray", "local",
                            "--gpus-per-worker", "0.5")
    assert code == 2
    assert_one_line(code, stderr, "--gpus-per-worker 0.5", "no GPUs")
    assert ray.is_initialized()  # the test's cluster is not the command's to shut down
