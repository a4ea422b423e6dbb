"""benchmarks.halo: the measure on a drawn glow, and a run on a real held-out face."""
from __future__ import annotations

import json

import cv2
import numpy as np

from benchmarks.halo import grown, halo, main, regions
from tests.conftest import assert_one_line


def figure() -> tuple[np.ndarray, np.ndarray]:
    """A grey 200×200 picture with a dark disc (the person) and its 0–1 mask."""
    img = np.full((200, 200, 3), 150, np.uint8)
    mask = np.zeros((200, 200), np.float32)
    cv2.circle(img, (100, 110), 50, (60, 70, 80), -1)
    cv2.circle(mask, (100, 110), 50, 1.0, -1)
    return img, mask


def test_a_glow_around_the_person_scores_its_brightness_and_an_even_change_scores_nothing():
    img, mask = figure()
    ring, far = regions(mask)
    darker = np.clip(img.astype(int) - 40, 0, 255).astype(np.uint8)  # the whole picture recoloured evenly
    glow = img.astype(np.float32)
    near = grown((mask > 0.5).astype(np.uint8), 14)
    glow[near & (mask < 0.5)] += 30  # 30 levels brighter up to 14 px outside the outline
    assert abs(halo(img, darker, ring, far)) < 0.5
    assert abs(halo(img, img, ring, far)) == 0
    assert 25 < halo(img, np.clip(glow, 0, 255).astype(np.uint8), ring, far) <= 30


def test_the_benchmark_measures_a_bundled_style_on_a_real_face(tmp_path, data_dir):
    out = tmp_path / "h"
    assert main(["--filter", "psychedelic", "--variants", "fast", "--data", str(data_dir), "--holdout", "skimage__astronaut",
                 "--out", str(out)]) == 0
    rows = json.loads((out / "report.json").read_text())["rows"]
    assert [(r["filter"], r["variant"], r["images"]) for r in rows] == [("photo", "-", 1), ("psychedelic", "fast", 1)]
    assert rows[0]["mean"] == 0 and np.isfinite(rows[1]["mean"])
    assert rows[0]["faces_found"] == 1.0, "the astronaut's face is found in the photo itself"
    assert "| psychedelic | fast |" in (out / "report.md").read_text() and (out / "plot.png").stat().st_size > 1000


def test_an_unknown_filter_is_one_line(capsys):
    from realtime.errors import run_cli

    code = run_cli(lambda: main(["--filter", "sparkles"]))
    assert_one_line(code, capsys.readouterr().err, "unknown filter sparkles")


def test_faces_found_tells_a_face_from_a_face_painted_over(face_photo):
    """The second column: a style may not trade the halo for the face."""
    import cv2

    from benchmarks.halo import face_finder

    found, close = face_finder()
    try:
        bgr = cv2.cvtColor(face_photo, cv2.COLOR_RGB2BGR)
        assert found(bgr)
        assert not found(cv2.GaussianBlur(bgr, (0, 0), 25)), "a face blurred past recognition"
    finally:
        close()
