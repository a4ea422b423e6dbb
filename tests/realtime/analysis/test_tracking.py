"""Face tracking on real media: finds faces in the videos, ignores no-face photos, smooths jitter."""
from __future__ import annotations

import numpy as np
import pytest

from models.data.media import read_rgb, read_video_frames
from realtime.analysis.tracking import FaceTracker, face_transform


@pytest.fixture
def tracker():
    t = FaceTracker()
    yield t
    t.close()


@pytest.mark.parametrize("video", ["liveportrait__d18.mp4", "liveportrait__d3.mp4", "tpsmm__driving.mp4"])
def test_tracks_the_face_in_real_videos(tracker, data_dir, video):
    frames = read_video_frames(data_dir / "videos" / video, every=3, limit=40)
    found = 0
    for i, rgb in enumerate(frames):
        face = tracker.process(np.ascontiguousarray(rgb[..., ::-1]), i / 10)
        if face is not None:
            found += 1
            x0, y0, x1, y1 = face.box
            h, w = rgb.shape[:2]
            assert 0 <= x0 < x1 <= w * 1.05 and 0 <= y0 < y1 <= h * 1.05
    assert found >= 0.9 * len(frames), f"face found in {found}/{len(frames)} frames"


def test_no_face_photos_give_no_face(tracker, data_dir):
    for name in ["skimage__coffee.png", "face_alignment__grass.jpg", "neural_style__hoovertowernight.jpg"]:
        assert tracker.process(read_rgb(data_dir / "faces" / "noface" / name)[..., ::-1].copy(), 0.0) is None


def test_many_faces_give_one_tracked_face(tracker, data_dir):
    face = tracker.process(read_rgb(data_dir / "faces" / "facenet__multiface.jpg")[..., ::-1].copy(), 0.0)
    assert face is None or face.landmarks.shape == (478, 2)


def test_one_euro_lowers_landmark_jitter_on_a_still_face(face_photo):
    tracker = FaceTracker(still_threshold=0)  # run the mesh on every frame to see its raw jitter
    rng = np.random.default_rng(0)
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    raw, smooth = [], []
    for i in range(40):
        noisy = np.clip(bgr + rng.normal(0, 6, bgr.shape), 0, 255).astype(np.uint8)  # sensor noise on a still face
        face = tracker.process(noisy, i / 30)
        assert face is not None
        raw.append(face.raw)
        smooth.append(face.landmarks)
    tracker.close()
    jitter_raw = np.abs(np.diff(np.array(raw[10:]), axis=0)).mean()
    jitter_smooth = np.abs(np.diff(np.array(smooth[10:]), axis=0)).mean()
    assert jitter_smooth < 0.6 * jitter_raw, (jitter_raw, jitter_smooth)


def test_face_transform_is_an_upright_square_around_the_face(tracker, face_photo):
    face = tracker.process(np.ascontiguousarray(face_photo[..., ::-1]), 0.0)
    m = face_transform(face, 256)
    pts = face.landmarks @ m[:, :2].T + m[:, 2]
    assert pts.min() > 0 and pts.max() < 256
    left, right = pts[33], pts[263]
    assert abs(left[1] - right[1]) < 2.0, "eyes must be level in the crop"


def test_face_filter_changes_the_face_and_leaves_the_corners(tracker, face_photo, tmp_path):
    from realtime.analysis.analysers import FrameAnalysis
    from realtime.filters.engine import FilterModel
    from realtime.filters.kinds.base import Settings, filter_for
    from tests.conftest import make_onnx_filter

    f = filter_for(FilterModel(make_onnx_filter(tmp_path / "face.onnx", kind="face"), "cpu"))
    assert f.needs == {"faces"}
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    face = tracker.process(bgr, 0.0)
    out = f.apply(bgr, FrameAnalysis(faces=(face,)), Settings()).image
    assert out.shape == bgr.shape and out.dtype == np.uint8
    x0, y0, x1, y1 = (int(v) for v in face.box)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    centre = (slice(cy - 10, cy + 10), slice(cx - 10, cx + 10))
    swapped = bgr[centre][..., ::-1].astype(int)  # the crop is resampled twice: compare on average
    assert np.abs(out[centre].astype(int) - swapped).mean() < 6
    assert np.abs(out[centre].astype(int) - bgr[centre]).mean() > 3 * np.abs(out[centre].astype(int) - swapped).mean()
    assert np.array_equal(out[:20, :20], bgr[:20, :20]) and np.array_equal(out[-20:, -20:], bgr[-20:, -20:])


def test_a_still_frame_reuses_the_previous_landmarks(tracker, face_photo):
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    first = tracker.process(bgr, 0.0)
    second = tracker.process(bgr.copy(), 0.033)
    assert tracker.reused == 1 and np.array_equal(first.raw, second.raw)
    moved = np.roll(bgr, 40, axis=1)
    third = tracker.process(moved, 0.066)
    assert tracker.reused == 1 and third.raw[:, 0].mean() > first.raw[:, 0].mean() + 20


def test_slow_change_adds_up_and_runs_the_mesh_again(tracker, face_photo):
    """Each frame differs from the one before by ~0.6 grey levels (a smile forming): the
    reference is the frame the mesh last ran on, so the change adds up past the threshold."""
    bgr = np.ascontiguousarray(face_photo[..., ::-1]).astype(np.float32)
    for i in range(20):
        tracker.process(np.clip(bgr - 0.6 * i, 0, 255).astype(np.uint8), i / 30)
    assert tracker.reused <= 14, f"the mesh ran on only {20 - tracker.reused} of 20 slowly changing frames"


def test_two_faces_keep_their_own_smoothing(data_dir):
    from models.data.media import read_rgb

    tracker = FaceTracker(max_faces=2)
    bgr = np.ascontiguousarray(read_rgb(data_dir / "faces" / "face_recognition__two_people.jpg")[..., ::-1])
    first = tracker.faces(bgr, 0.0)
    assert len(first) == 2
    shifted = tracker.faces(np.ascontiguousarray(np.roll(bgr, 6, axis=1)), 0.033)
    assert len(shifted) == 2
    for a, b in zip(first, shifted):  # each face matched to itself, not swapped with the other
        assert abs((b.raw[:, 0].mean() - a.raw[:, 0].mean()) - 6) < 4
    tracker.close()


@pytest.mark.parametrize("box, hw", [((300, 50, 1000, 720), (720, 1280)), ((0, 0, 1280, 720), (720, 1280)),
                                     ((0, 0, 1920, 1080), (1080, 1920)), ((500, 200, 540, 230), (720, 1280)),
                                     ((7, 3, 135, 99), (480, 640)), ((600, 400, 640, 480), (480, 640))])
def test_the_still_thumbnail_averages_whole_blocks_of_the_box(box, hw):
    """The box is made the nearest whole number of 64×48 blocks that fits the frame, about its
    centre (moved in at the frame's edge), so OpenCV's fast area path gives each thumbnail value
    as its block's mean; a side under a block stays as it is."""
    import cv2

    from realtime.analysis.tracking import THUMB, thumb_box

    x0, y0, x1, y1 = thumb_box(box, THUMB, hw)
    assert 0 <= x0 < x1 <= hw[1] and 0 <= y0 < y1 <= hw[0]
    for lo, hi, new_lo, new_hi, block, limit in ((box[0], box[2], x0, x1, THUMB[0], hw[1]), (box[1], box[3], y0, y1, THUMB[1], hw[0])):
        n, new = hi - lo, new_hi - new_lo
        if n < block:
            assert (new_lo, new_hi) == (lo, hi)
            continue
        assert new % block == 0 and (abs(new - n) <= block / 2 or new == limit // block * block)
        if 0 <= (lo + hi - new) // 2 <= limit - new:  # not moved in at an edge: the same centre
            assert abs((new_lo + new_hi) - (lo + hi)) <= 1
    w, h = x1 - x0, y1 - y0
    if w >= THUMB[0] and h >= THUMB[1]:
        gray = np.random.default_rng(0).integers(0, 256, (h, w), np.uint8)
        means = gray.reshape(THUMB[1], h // THUMB[1], THUMB[0], w // THUMB[0]).mean(axis=(1, 3))
        assert np.abs(cv2.resize(gray, THUMB, interpolation=cv2.INTER_AREA) - means).max() <= 0.5
