"""The background benchmark's measures: they must tell a good mask and blur from a bad one."""
from __future__ import annotations

import cv2
import numpy as np

from benchmarks.background import edge_alignment, iou, key_green, main, naive_blur, naive_mask, ring
from realtime.compositing.background import masked_blur, mix, parse_background
from tests.conftest import assert_one_line, synthetic_photo


def test_green_screen_keying_gives_the_person_and_drops_letterbox_bars():
    frame = np.zeros((120, 100, 3), np.uint8)
    frame[10:110] = (87, 150, 60)  # the studio green of liveportrait__d0 (BGR)
    cv2.circle(frame, (50, 70), 25, (150, 160, 200), -1)
    cropped, person = key_green(frame)
    assert cropped.shape[0] == 100, "the black bars are cut off"
    truth = np.zeros((100, 100), np.float32)
    cv2.circle(truth, (50, 60), 25, 1.0, -1)
    assert iou(person, truth) > 0.95


def test_edge_alignment_prefers_a_mask_on_the_edge():
    image = np.zeros((100, 100, 3), np.uint8)
    cv2.rectangle(image, (30, 30), (70, 70), (255, 255, 255), -1)
    on_edge = np.zeros((100, 100), np.float32)
    on_edge[30:71, 30:71] = 1
    dilated = cv2.dilate(on_edge, np.ones((11, 11), np.uint8))
    assert edge_alignment(on_edge, image) > 0.9 > 0.2 > edge_alignment(dilated, image)


def test_the_halo_measure_sees_the_naive_blur_and_not_ours():
    room = (synthetic_photo(120, 160, 5).astype(np.float32) * 0.3).astype(np.uint8)
    truth = np.zeros((120, 160), np.float32)
    cv2.ellipse(truth, (80, 120), (30, 90), 0, 0, 360, 1.0, -1)
    person = np.full_like(room, 240)
    frame = mix(person, room, truth)
    ideal, near = cv2.GaussianBlur(room, (0, 0), 6), ring(truth, 4, 24)
    err = lambda img: float(np.abs(img[near].astype(np.float32) - ideal[near]).mean())  # noqa: E731
    assert err(masked_blur(frame, truth, 6)) < 0.3 * err(cv2.GaussianBlur(frame, (0, 0), 6))


def test_the_baseline_is_a_backdrop_of_the_live_loop():
    backdrop = parse_background("naive_blur")
    frame = synthetic_photo(90, 120, 2)
    mask = np.zeros((90, 120), np.float32)
    mask[20:70, 40:80] = 1
    out = backdrop.compose(frame, mask)
    assert out.shape == frame.shape and not np.array_equal(out, frame)
    assert naive_mask(mask, (120, 90)).max() == 1.0
    assert naive_blur(frame, mask, 3).shape == frame.shape


def test_missing_media_is_one_line(tmp_path, capsys):
    from realtime.errors import run_cli

    code = run_cli(lambda: main(["--data", str(tmp_path), "--out", str(tmp_path / "o")]))
    assert_one_line(code, capsys.readouterr().err, "shared media")
