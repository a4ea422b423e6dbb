"""Face effects without a network (big eyes, glasses, crown, a user's sticker) on real face
photos: they change the face and nothing far from it, pass a frame without a face through
byte for byte, survive faces cut by the border or seen from the side, treat every face, refuse
bad sticker files in one line, and keep props on the face as it moves."""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.data.media import read_rgb
from realtime.analysis.analysers import FACES, FrameAnalysis
from realtime.errors import UserError
from realtime.filters.kinds.base import EFFECTS, Settings
from realtime.filters.kinds.face_effects import (BigEyes, BigEyesConfig, Magnifier, PropEffect, face_points, magnifiers, similarity,
                                         sticker_filter)
from realtime.filters.props import EYES_SPAN, HEAD_LIFT, crown, glasses, load_sticker
from realtime.analysis.tracking import Face, FaceTracker

EFFECT_NAMES = ("big_eyes", "glasses", "crown")


@pytest.fixture(scope="module")
def tracker():
    t = FaceTracker(static=True, max_faces=2)
    yield t
    t.close()


def bgr_of(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[..., ::-1])


def photo(data_dir: Path, name: str) -> np.ndarray:
    return bgr_of(read_rgb(data_dir / "faces" / name))


def eye_distance(face: Face) -> float:
    left, right, _ = face_points(face)
    return float(np.hypot(*(right - left)))


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(axis=-1)


def effect(name: str, strength: float = 1.0):
    return EFFECTS[name](Settings(strength=strength))


def reach(face: Face, name: str, hw: tuple[int, int]) -> np.ndarray:
    """Where ``name`` may draw for ``face``: the face's box widened by the eye distance, and
    raised by three for the crown (which sits on the head)."""
    d = eye_distance(face)
    x0, y0, x1, y1 = face.box
    up = 3.0 * d if name == "crown" else 1.0 * d
    mask = np.zeros(hw, bool)
    mask[max(0, int(y0 - up)): int(y1 + d) + 1, max(0, int(x0 - d)): int(x1 + d) + 1] = True
    return mask


def test_the_effects_are_registered_and_need_faces():
    for name in EFFECT_NAMES:
        f = effect(name)
        assert f.name == name and f.needs == frozenset({FACES})


@pytest.mark.parametrize("name", EFFECT_NAMES)
def test_each_effect_changes_the_face_and_leaves_the_rest(tracker, face_photo, name):
    bgr = bgr_of(face_photo)
    before = bgr.copy()
    faces = tracker.faces(bgr, 0.0)
    assert len(faces) == 1
    face = faces[0]
    out = effect(name).apply(bgr, FrameAnalysis(faces=faces), Settings()).image
    assert np.array_equal(bgr, before), "the input must not be written to"
    assert out.shape == bgr.shape and out.dtype == np.uint8
    diff = changed(out, bgr)
    assert diff.sum() > 500, f"{name} changed only {diff.sum()} pixels"
    assert not (diff & ~reach(face, name, bgr.shape[:2])).any(), f"{name} changed pixels far from the face"
    left, right, _ = face_points(face)
    if name in ("big_eyes", "glasses"):  # both eyes themselves are changed
        for x, y in (left, right):
            assert diff[int(y) - 3: int(y) + 4, int(x) - 3: int(x) + 4].any()
    else:  # the crown is above the eyes, on the head
        ys, xs = np.nonzero(diff)
        assert ys.mean() < min(left[1], right[1]) - eye_distance(face)
        assert left[0] < xs.mean() < right[0]


def test_big_eyes_warps_only_inside_each_eyes_ellipse(tracker, face_photo):
    bgr = bgr_of(face_photo)
    faces = tracker.faces(bgr, 0.0)
    out = BigEyes().apply(bgr, FrameAnalysis(faces=faces), Settings()).image
    inside = np.zeros(bgr.shape[:2], bool)
    mags = magnifiers(faces[0], 0.4)
    assert len(mags) == 2
    yy, xx = np.mgrid[0: bgr.shape[0], 0: bgr.shape[1]]
    for m in mags:
        (cx, cy), (ux, uy) = m.centre, m.axis
        along = ((xx - cx) * ux + (yy - cy) * uy) / m.rx
        across = ((yy - cy) * ux - (xx - cx) * uy) / m.ry
        inside |= along**2 + across**2 < 1.02  # bilinear reads reach half a pixel further
    diff = changed(out, bgr)
    assert diff.sum() > 300
    assert not (diff & ~inside).any()


def test_the_magnifier_is_smooth_at_its_border_and_magnifies_at_its_centre():
    m = Magnifier(centre=(40.3, 30.7), axis=(math.cos(0.3), math.sin(0.3)), rx=20.0, ry=12.0, amount=0.4)
    box = m.box((80, 100))
    mapx, mapy = m.maps(box)
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    shift = np.hypot(mapx - xx, mapy - yy)
    (cx, cy), (ux, uy) = m.centre, m.axis
    rho2 = (((xx - cx) * ux + (yy - cy) * uy) / m.rx) ** 2 + (((yy - cy) * ux - (xx - cx) * uy) / m.ry) ** 2
    assert shift[rho2 >= 1].max() < 1e-4, "outside the ellipse the map is the identity"
    assert shift[(rho2 > 0.81) & (rho2 < 1)].max() < 0.02 * m.rx, "the displacement falls smoothly to zero at the edge"
    assert shift.max() > 0.1 * m.rx
    # near the centre a pixel reads (1 − a) as far out: magnification 1 / (1 − a)
    near = rho2 < 0.01
    d_out = np.hypot(xx - cx, yy - cy)[near]
    d_src = np.hypot(mapx - cx, mapy - cy)[near]
    assert np.allclose(d_src, (1 - 0.4) * d_out, atol=0.02 * m.rx)


def test_big_eyes_follows_blinks_and_the_iris(tracker, face_photo):
    face = tracker.faces(bgr_of(face_photo), 0.0)[0]
    open_eyes = magnifiers(face, 0.4)
    closed = face.landmarks.copy()
    for upper, lower in ((159, 145), (386, 374)):  # lids shut at their midpoint
        closed[[upper, lower]] = closed[[upper, lower]].mean(axis=0)
    shut = magnifiers(Face(closed, closed), 0.4)
    for o, s in zip(open_eyes, shut):
        assert s.rx == pytest.approx(o.rx) and s.ry < 0.6 * o.ry
    looking = face.landmarks.copy()
    looking[[468, 473]] += (3.0, -1.0)  # the eyes look aside: the magnifiers move with the irises
    moved = magnifiers(Face(looking, looking), 0.4)
    for o, m in zip(open_eyes, moved):
        assert np.allclose(np.subtract(m.centre, o.centre), (3.0, -1.0))


def test_the_library_api_applies_face_effects(face_photo):
    import realtime

    bgr = bgr_of(face_photo)
    for spec in ("big_eyes", "glasses", "big_eyes+crown"):
        out = realtime.load_chain(spec).apply(bgr)
        diff = changed(out, bgr)
        assert diff.sum() > 500, spec
        h, w = bgr.shape[:2]  # the astronaut's face is in the upper middle: the bottom fifth and the side strips stay
        assert not diff[int(0.8 * h):].any() and not diff[:, : int(0.2 * w)].any() and not diff[:, int(0.8 * w):].any(), spec
    assert np.array_equal(realtime.load_chain("big_eyes+glasses").apply(bgr, strength=0.0), bgr)


def test_frames_without_a_face_pass_through_byte_for_byte(data_dir):
    import realtime

    chain = realtime.load_chain("big_eyes+glasses+crown")
    photos = sorted((data_dir / "faces" / "noface").glob("*.*"))
    assert photos
    for path in photos:
        bgr = bgr_of(read_rgb(path))
        out = chain.apply(bgr)
        assert out.shape == bgr.shape and np.array_equal(out, bgr), path.name
    for name in EFFECT_NAMES:  # and straight, with an empty analysis
        bgr = bgr_of(read_rgb(photos[0]))
        assert effect(name).apply(bgr, FrameAnalysis(), Settings()).image is bgr


@pytest.mark.parametrize("name", ["face_recognition__obama_partial_face.jpg", "face_recognition__obama_partial_face2.jpg", "3ddfa__emma.jpg"])
def test_faces_cut_by_the_border_or_turned_away_raise_nothing(tracker, data_dir, name):
    bgr = photo(data_dir, name)
    faces = tracker.faces(bgr, 0.0)
    assert faces, f"no face found in {name}"
    for effect_name in EFFECT_NAMES:
        out = effect(effect_name).apply(bgr, FrameAnalysis(faces=faces), Settings()).image
        assert out.shape == bgr.shape and out.dtype == np.uint8
        assert changed(out, bgr).any(), f"{effect_name} drew nothing on {name}"


def test_faces_half_outside_or_degenerate_raise_nothing(tracker, face_photo):
    bgr = bgr_of(face_photo)
    face = tracker.faces(bgr, 0.0)[0]
    h, w = bgr.shape[:2]
    cases = {
        "half out on the left": face.landmarks - (face.landmarks[:, 0].mean(), 0.0),
        "above the frame": face.landmarks - (0.0, face.landmarks[:, 1].max() + 5),
        "far outside": face.landmarks + (10 * w, 10 * h),
        "collapsed to a point": np.full_like(face.landmarks, 100.0),
        "without iris points": face.landmarks[:468],
        "not finite": np.where(np.arange(len(face.landmarks))[:, None] % 7 == 0, np.nan, face.landmarks),
    }
    for case, lm in cases.items():
        for name in EFFECT_NAMES:
            out = effect(name).apply(bgr, FrameAnalysis(faces=(Face(lm, lm),)), Settings()).image
            assert out.shape == bgr.shape, (case, name)
            if case in ("far outside", "collapsed to a point", "above the frame"):
                if not (case == "above the frame" and name == "crown"):  # nothing of it is in the frame
                    assert np.array_equal(out, bgr), (case, name)


def test_every_face_gets_the_effect(tracker, data_dir):
    bgr = photo(data_dir, "face_recognition__two_people.jpg")
    faces = tracker.faces(bgr, 0.0)
    assert len(faces) == 2
    for name in EFFECT_NAMES:
        diff = changed(effect(name).apply(bgr, FrameAnalysis(faces=faces), Settings()).image, bgr)
        for face in faces:
            own = reach(face, name, bgr.shape[:2])
            assert (diff & own).sum() > 200, f"{name} left a face unchanged"


def test_strength_scales_the_effect(tracker, face_photo):
    bgr = bgr_of(face_photo)
    analysis = FrameAnalysis(faces=tracker.faces(bgr, 0.0))
    for name in EFFECT_NAMES:
        f = effect(name)
        assert np.array_equal(f.apply(bgr, analysis, Settings(strength=0.0)).image, bgr), name
        half = np.abs(f.apply(bgr, analysis, Settings(strength=0.5)).image.astype(int) - bgr).sum()
        full = np.abs(f.apply(bgr, analysis, Settings(strength=1.0)).image.astype(int) - bgr).sum()
        assert 0 < half < 0.8 * full, (name, half, full)


def test_the_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 200, (3, 2))
    angle, scale, shift = 0.4, 0.37, np.array([12.5, -40.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    m = similarity(src, src @ rot.T + shift)
    assert np.allclose(m[:, :2], rot) and np.allclose(m[:, 2], shift)


def test_bundled_props_are_anti_aliased_rgba_with_anchors():
    for prop in (glasses(), crown()):
        a = prop.rgba[..., 3]
        assert prop.rgba.dtype == np.uint8 and prop.rgba.shape[2] == 4
        assert a.max() == 255 and a.min() == 0
        partial = ((a > 0) & (a < 255)).sum()
        assert partial > 0.01 * (a > 0).sum(), "edges must be anti-aliased (partial alpha)"
        assert prop.anchor.eye_distance == pytest.approx(160.0)


def test_props_are_drawn_from_the_mip_level_nearest_the_face_size(tracker, face_photo):
    """A small face gets a prop shrunk by INTER_AREA, not a big one sampled bilinearly (which
    would alias): whatever the scale, the level used is within √2 of the frame's pixels."""
    prop = PropEffect(glasses())
    assert len(prop.levels) >= 4
    bgr = bgr_of(face_photo)
    face = tracker.faces(bgr, 0.0)[0]
    for zoom in (0.05, 0.13, 0.3, 0.7, 1.0, 2.5):
        m = prop.placement(face)
        m[:, :2] *= zoom / math.hypot(m[0, 0], m[1, 0])  # the prop at scale ``zoom``
        image, mk = prop._level(m)
        scale = math.hypot(mk[0, 0], mk[1, 0])
        assert 1 / math.sqrt(2) - 0.01 <= scale <= math.sqrt(2) + 0.01 or image is prop.levels[-1][0] or image is prop.levels[0][0], (zoom, scale)
        centre = prop.anchor.points()[:2].mean(axis=0)  # the same prop point lands on the same frame point
        h, w = image.shape[:2]
        sx, sy = w / prop.prop.rgba.shape[1], h / prop.prop.rgba.shape[0]
        at_level = (centre + 0.5) * (sx, sy) - 0.5
        assert np.allclose(mk[:, :2] @ at_level + mk[:, 2], m[:, :2] @ centre + m[:, 2], atol=1e-6)
    small = cv2.resize(bgr, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    faces = tracker.faces(small, 0.0)
    assert faces
    assert changed(prop.apply(small, FrameAnalysis(faces=faces), Settings()).image, small).sum() > 100


def place_photo(rgb: np.ndarray, angle_deg: float, scale: float, shift: tuple[float, float], size=(640, 480)) -> tuple[np.ndarray, np.ndarray]:
    """The photo placed in a ``size`` frame by a known similarity (about the photo's centre),
    and that 2×3 matrix."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale)
    m[:, 2] += (size[0] / 2 - w / 2 + shift[0], size[1] / 2 - h / 2 + shift[1])
    return cv2.warpAffine(bgr_of(rgb), m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2×3 of ``a`` after ``b``."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


def test_props_follow_the_face_as_it_moves_rolls_and_scales(tracker, face_photo):
    """The prop is placed where the face's transform takes it: on a sequence of the photo
    moved by known similarities, the prop's corners follow within 7 % of the eye distance (the
    mesh's own landmarks are up to 4 % off what the motion predicts, the nose tip the most)."""
    prop = PropEffect(glasses())
    h, w = prop.prop.rgba.shape[:2]
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h], [w / 2, h / 2]], np.float64)
    moves = [(0, 1.0, (0, 0)), (8, 1.0, (30, -10)), (-15, 1.1, (-40, 20)), (20, 0.85, (50, 15)), (-25, 1.2, (-20, -30)), (4, 0.8, (40, 30))]
    frame0, m0 = place_photo(face_photo, *moves[0])
    face0 = tracker.faces(frame0, 0.0)[0]
    placed0 = prop.placement(face0)
    d0 = eye_distance(face0)
    errors = []
    for angle, scale, shift in moves[1:]:
        frame, m = place_photo(face_photo, angle, scale, shift)
        faces = tracker.faces(frame, 0.0)
        assert len(faces) == 1
        placed = prop.placement(faces[0])
        # the frame-0 placement carried by the known motion (frame 0 → photo → frame k)
        expected = compose(m, compose(cv2.invertAffineTransform(m0), placed0))
        got = corners @ placed[:, :2].T + placed[:, 2]
        want = corners @ expected[:, :2].T + expected[:, 2]
        errors.append(np.hypot(*(got - want).T).max() / (d0 * scale))
        # and the drawn glasses themselves: the centroid of the changed pixels moves the same way
        out = prop.apply(frame, FrameAnalysis(faces=faces), Settings()).image
        out0 = prop.apply(frame0, FrameAnalysis(faces=(face0,)), Settings()).image
        c = np.argwhere(changed(out, frame)).mean(axis=0)[::-1]
        c0 = np.argwhere(changed(out0, frame0)).mean(axis=0)[::-1]
        carried = compose(m, cv2.invertAffineTransform(m0))
        assert np.hypot(*(c - (carried[:, :2] @ c0 + carried[:, 2]))) < 0.06 * d0 * scale
    assert max(errors) < 0.07, f"prop placement error {np.round(errors, 3)} of the eye distance"


def test_props_do_not_swim_on_a_still_tracked_face(face_photo):
    """With the tracker as it runs live (tracking, One Euro), sensor noise on a still face moves
    the glasses by well under a pixel."""
    t = FaceTracker(still_threshold=0)  # run the mesh on every frame, as if the noise were motion
    prop = PropEffect(glasses())
    rng = np.random.default_rng(0)
    bgr = bgr_of(face_photo)
    centres = []
    try:
        for i in range(30):
            noisy = np.clip(bgr + rng.normal(0, 6, bgr.shape), 0, 255).astype(np.uint8)
            face = t.process(noisy, i / 30)
            m = prop.placement(face)
            centres.append(m[:, :2] @ np.array(prop.anchor.points()[:2].mean(axis=0)) + m[:, 2])
            d = eye_distance(face)
    finally:
        t.close()
    step = np.hypot(*np.diff(np.array(centres[10:]), axis=0).T)
    assert step.mean() < 0.01 * d, f"the prop moves {step.mean():.3f} px a frame on a still face (eye distance {d:.0f} px)"


def write_png(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


def sticker_image(alpha: bool = True, margin: int = 20) -> np.ndarray:
    img = np.zeros((60 + 2 * margin, 120 + 2 * margin, 4), np.uint8)
    cv2.ellipse(img, (60 + margin, 30 + margin), (59, 29), 0, 0, 360, (40, 200, 60, 255), -1, cv2.LINE_AA)
    return img if alpha else np.ascontiguousarray(img[..., :3])


def test_a_sticker_is_centred_between_the_eyes_or_sits_on_the_head(tracker, face_photo, tmp_path):
    image = sticker_image()
    path = write_png(tmp_path / "blob.png", image)
    rgba, anchor = load_sticker(path)
    ys, xs = np.nonzero(image[..., 3])
    visible = (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    assert rgba.shape[:2] == visible and visible < image.shape[:2], "the sticker is cropped to its visible part"
    assert anchor.eye_distance == pytest.approx(visible[1] / EYES_SPAN)
    bgr = bgr_of(face_photo)
    faces = tracker.faces(bgr, 0.0)
    face = faces[0]
    left, right, _ = face_points(face)
    d = eye_distance(face)
    out = sticker_filter(path).apply(bgr, FrameAnalysis(faces=faces), Settings()).image
    ys, xs = np.nonzero(changed(out, bgr))
    centre = (left + right) / 2
    assert np.hypot(xs.mean() - centre[0], ys.mean() - centre[1]) < 0.1 * d
    assert (xs.max() - xs.min()) == pytest.approx(EYES_SPAN * d, rel=0.1)
    hat = sticker_filter(f"{path}@head")
    assert hat.name == "sticker"
    ys, xs = np.nonzero(changed(hat.apply(bgr, FrameAnalysis(faces=faces), Settings()).image, bgr))
    assert ys.max() < centre[1] - (HEAD_LIFT - 0.15) * d, "a hat-like sticker's bottom is above the eyes"


def one_line_error(spec: str | Path, *needles: str) -> str:
    with pytest.raises(UserError) as info:
        sticker_filter(spec)
    message = str(info.value)
    assert "\n" not in message and len(message) < 240, message
    for n in needles:
        assert n in message, message
    return message


def minimal_png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def test_bad_sticker_files_are_one_clear_line(tmp_path):
    one_line_error(tmp_path / "nowhere.png", "does not exist")
    one_line_error(tmp_path, "not a file")
    one_line_error(write_png(tmp_path / "flat.png", sticker_image(alpha=False)), "has no alpha channel", "PNG with transparency")
    one_line_error(write_png(tmp_path / "photo.jpg", sticker_image(alpha=False)), "no alpha channel")
    one_line_error(write_png(tmp_path / "gray.png", np.full((20, 20), 128, np.uint8)), "has no alpha channel")
    one_line_error(write_png(tmp_path / "clear.png", np.zeros((20, 20, 4), np.uint8)), "fully transparent")
    (tmp_path / "text.png").write_text("not an image at all\n")
    one_line_error(tmp_path / "text.png", "not a PNG or WebP")
    good = write_png(tmp_path / "good.png", sticker_image()).read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    one_line_error(tmp_path / "cut.png", "corrupt")
    (tmp_path / "huge.png").write_bytes(minimal_png_header(60000, 60000))  # refused from its header, never decoded
    one_line_error(tmp_path / "huge.png", "60000×60000", "scale it down")
    tiny = np.zeros((30, 30, 4), np.uint8)
    tiny[10:12, 10:12] = 255
    one_line_error(write_png(tmp_path / "dot.png", tiny), "visible part")
    one_line_error(f"{tmp_path / 'good.png'}@feet", "does not exist")  # an unknown placement is part of the name


def test_stickers_in_other_formats_load(tmp_path):
    img = sticker_image()
    ok, webp = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 101])  # lossless, with alpha
    assert ok
    (tmp_path / "s.webp").write_bytes(webp.tobytes())
    assert load_sticker(tmp_path / "s.webp")[0].shape[2] == 4
    write_png(tmp_path / "deep.png", img.astype(np.uint16) * 257)
    deep, _ = load_sticker(tmp_path / "deep.png")
    assert deep.dtype == np.uint8 and deep[..., 3].max() == 255
    gray_alpha = np.zeros((30, 40, 2), np.uint8)
    gray_alpha[5:25, 5:35] = (200, 255)
    from PIL import Image

    Image.fromarray(gray_alpha, "LA").save(tmp_path / "la.png")
    la, _ = load_sticker(tmp_path / "la.png")
    assert la.shape == (20, 30, 4) and (la[..., :3] == 200).all()


def test_big_eyes_config_is_checked():
    with pytest.raises(ValueError, match="amount"):
        BigEyesConfig(amount=1.0)
    with pytest.raises(ValueError, match="radius"):
        BigEyesConfig(radius=0.0)
    assert replace(BigEyesConfig(), amount=0.2).amount == 0.2


# ---------------------------------------------------------------------------------- the command line
def test_face_effects_live_on_a_real_video_and_chained_with_a_network(monkeypatch, capsys, tmp_path, face_video):
    from tests.conftest import run_realtime

    sticker = tmp_path / "star.png"
    rgba = np.zeros((64, 64, 4), np.uint8)
    cv2.circle(rgba, (32, 32), 28, (0, 215, 255, 255), -1)
    cv2.imwrite(str(sticker), rgba)
    out, stats = tmp_path / "o.mp4", tmp_path / "s.json"
    code, err = run_realtime(monkeypatch, capsys, "--filter", "big_eyes+cartoon", "--sticker", f"{sticker}@head",
                             "--source", face_video, "--no-preview", "--output", out, "--frames", "12", "--fast",
                             "--stats", stats, "--max-faces", "1")
    assert code == 0, err
    import json

    summary = json.loads(stats.read_text())
    assert summary["filters"] == f"big_eyes+cartoon+{sticker.name}" or summary["filters"].startswith("big_eyes+cartoon+")
    assert summary["face_frames"] >= 10 and {"filter:big_eyes", "track"} <= set(summary["stages_ms"])


@pytest.mark.parametrize("make, needle", [
    (lambda p: cv2.imwrite(str(p), np.full((20, 20, 3), 128, np.uint8)), "alpha"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\nbroken"), ""),
])
def test_a_bad_sticker_is_one_line_before_work(monkeypatch, capsys, tmp_path, make, needle):
    from tests.conftest import assert_one_line, run_realtime

    sticker = tmp_path / "s.png"
    make(sticker)
    out = tmp_path / "o.mp4"
    code, err = run_realtime(monkeypatch, capsys, "--sticker", str(sticker), "--source", "synthetic", "--no-preview",
                             "--output", out, "--frames", "2")
    assert_one_line(code, err, needle)
    assert not out.exists()
