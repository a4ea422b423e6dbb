"""The ``aged`` teacher (models.teachers.aging), its face crops, and the face kind's paste-back."""
from __future__ import annotations

import random
from dataclasses import replace

import cv2
import numpy as np
import pytest

from models.data.face_crops import eye_distance
from models.teachers.aging import (AGE_STYLES, AgeStyle, age_face, aged, aged_base, aged_smooth, apply_creases, apply_post, apply_texture,
                                   crease_paths, hair_mask, sagged_landmarks, skin_mask)
from realtime.filters.kinds.face_filter import footprint, paste_change


@pytest.fixture(scope="module")
def astronaut_crop(face_photo):
    """The astronaut's aligned 256² crop, its landmarks and person mask, as training sees them."""
    from models.data.face_crops import crops_of
    from realtime.analysis.segmentation import MaskConfig, PersonSegmenter
    from realtime.analysis.tracking import FaceTracker

    tracker = FaceTracker(static=True, max_faces=2, max_side=1280)
    segmenter = PersonSegmenter(MaskConfig(model="general"), static=True)
    try:
        found = crops_of(face_photo, tracker, segmenter, 256, 40.0)
    finally:
        tracker.close()
        segmenter.close()
    assert len(found) == 1
    return found[0]


def test_the_crop_is_upright_and_centred(astronaut_crop):
    crop, lm, person = astronaut_crop
    assert crop.shape == (256, 256, 3) and lm.shape == (478, 2) and person.shape == (256, 256)
    assert abs(lm[263, 1] - lm[33, 1]) < 2 and 60 < eye_distance(lm) < 120  # eye line level; face about 1/1.7 of the crop
    assert abs(lm[:, 0].mean() - 128) < 15 and person[int(lm[4, 1]), int(lm[4, 0])] > 200  # the nose is on the person


def test_every_style_ages_the_face_and_leaves_the_background(astronaut_crop):
    crop, lm, person = astronaut_crop
    face = skin_mask(crop.shape[:2], lm) > 0.9
    for name, style in AGE_STYLES.items():
        out = aged(crop, lm, person, style)
        diff = np.abs(out.astype(int) - crop).sum(axis=2)
        assert diff[face].mean() > 6, name  # wrinkles, texture and skin colour show on the face
        assert diff[:20, :20].max() == 0 and diff[:20, -20:].max() == 0, name  # the room behind is untouched


def test_the_teacher_is_what_the_runtime_draws_after_each_network(astronaut_crop):
    """teacher = post(aged_smooth) exactly, base = texture(aged_smooth) exactly and teacher =
    creases(aged_base) within a grey level: the runtime's post steps (filter.post
    texture+creases / creases) on a perfect clone give the teacher."""
    crop, lm, person = astronaut_crop
    for name, style in AGE_STYLES.items():
        sagged = sagged_landmarks(lm, style.sag)
        teacher, base, smooth = aged(crop, lm, person, style), aged_base(crop, lm, person, style), aged_smooth(crop, lm, person, style)
        assert np.array_equal(teacher, apply_post(smooth, sagged, style, texture=True, creases=True)), name
        assert np.array_equal(base, apply_texture(smooth, sagged, style)), name
        creased = apply_creases(base, sagged, style)  # the full network's post step on a perfect clone of aged_base
        clipped = ((base == 0) | (base == 255)).any(axis=2)  # where base's 8 bits clipped the rougher skin's colour
        assert np.abs(teacher.astype(int) - creased).max(axis=2)[~clipped].max() <= 1, name
        assert not np.array_equal(teacher, base) and not np.array_equal(base, smooth), name


def test_wrinkles_darken_the_skin_along_their_paths(astronaut_crop):
    crop, lm, person = astronaut_crop
    flat = AgeStyle(texture=0, dull=0, warm=0, lips=0, grey=0, lift=0, sag=0)  # creases only
    out = age_face(crop, lm, np.zeros(crop.shape[:2], np.float32), flat)
    lum_in = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[..., 0].astype(int)
    lum_out = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 0].astype(int)
    on_path = np.concatenate([pts for pts, _ in crease_paths(lm, flat)]).round().astype(int)
    on_path = on_path[(on_path >= 0).all(axis=1) & (on_path < 256).all(axis=1)]
    darker = lum_in[on_path[:, 1], on_path[:, 0]] - lum_out[on_path[:, 1], on_path[:, 0]]
    assert np.median(darker) >= 8  # a groove at every crease
    chroma = np.abs(cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 1:].astype(int) - cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[..., 1:])
    assert chroma.max() <= 3  # shaded into lightness only (the Lab round trip moves colours by a level or two)


def test_hair_is_greyed_and_the_face_is_not_hair(astronaut_crop):
    crop, lm, person = astronaut_crop
    hair = hair_mask(person / 255.0, lm, crop)
    face = skin_mask(crop.shape[:2], lm) > 0.5
    top = int(lm[10, 1])  # the mesh's top: the astronaut's hair is above it
    assert hair[face].max() < 0.2
    assert hair[max(0, top - 60) : top - 20, int(lm[10, 0]) - 30 : int(lm[10, 0]) + 30].mean() > 0.5
    out = aged(crop, lm, person, AGE_STYLES["elderly"])
    sat = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(float)  # noqa: E731
    assert sat(out)[hair > 0.8].mean() < 0.5 * sat(crop)[hair > 0.8].mean()  # blond → grey


def test_age_amount_is_a_blend_so_strength_is_the_age_slider(astronaut_crop):
    """Outside the warp the teacher at age a is (1 − a)·crop + a·teacher(1): the runtime's
    --strength, a blend of input and output, moves along the same line."""
    crop, lm, person = astronaut_crop
    style = replace(AGE_STYLES["elderly"], sag=0.0)
    hair = hair_mask(person / 255.0, lm, crop)
    full = age_face(crop, lm, hair, style).astype(float)
    assert np.abs(age_face(crop, lm, hair, style, amount=0.0).astype(int) - crop).max() <= 1  # float Lab round trip
    for a in (0.3, 0.6):
        half = age_face(crop, lm, hair, style, amount=a).astype(float)
        blend = (1 - a) * crop + a * full
        assert np.abs(half - blend).mean() < 0.12 * np.abs(full - crop).mean()


def test_sag_moves_the_jowls_down_a_little(astronaut_crop):
    crop, lm, person = astronaut_crop
    from models.teachers.aging import sag_field

    mx, my = sag_field(crop.shape[:2], lm, 1.0)
    shift = np.hypot(mx - np.arange(256)[None, :], my - np.arange(256)[:, None])
    jaw = lm[172].round().astype(int)
    assert 0.015 * eye_distance(lm) < shift[jaw[1], jaw[0]] and shift.max() <= 0.04 * eye_distance(lm)
    assert shift[:30].max() < 0.5  # the forehead and hair stay


def test_face_training_pairs_are_jittered_flipped_and_shrunk(astronaut_crop):
    from models.data.face_crops import FaceCrops, FaceTeacherPairs
    from models.data.pairs import styled

    crop, lm, person = astronaut_crop
    crops = FaceCrops(crop[None], lm[None], person[None], ("skimage__astronaut",))
    train, val = crops.split({"skimage__astronaut"})
    assert len(train) == 0 and len(val) == 1
    seen, codes = [], set()
    pairs = FaceTeacherPairs(crops, styled(aged, list(AGE_STYLES.values())), size=128)
    rng = random.Random(0)
    for _ in range(16):
        src, dst, code = pairs.sample(rng)
        assert src.shape == dst.shape == (128, 128, 3) and np.abs(src.astype(int) - dst).mean() > 1
        seen.append(src)
        codes.add(code)
    assert not all(np.array_equal(seen[0], s) for s in seen[1:])  # each draw moves the crop
    assert codes == {0, 1, 2}  # and says which of the three styles it drew: the latent code it trains


def test_paste_change_adds_only_the_change_inside_the_crops_footprint():
    frame = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    m = cv2.getRotationMatrix2D((160, 120), 10, 0.8)  # a 64² crop around the middle, rolled
    m[:, 2] += (32 - 160, 32 - 120)
    weight = np.ones((64, 64), np.float32)
    assert np.array_equal(paste_change(frame, np.zeros((64, 64, 3), np.float32), weight, m), frame)  # no change → no blur
    out = paste_change(frame, np.full((64, 64, 3), 10, np.float32), weight, m)
    x0, y0, x1, y1 = footprint(m, 64, frame.shape[:2])
    assert 80 < x1 - x0 < 110 and 80 < y1 - y0 < 110  # 64 px at 0.8 scale, rolled
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], frame[outside])
    centre = out[110:130, 150:170].astype(int) - frame[110:130, 150:170]
    assert np.all(centre[frame[110:130, 150:170] < 245] == 10)
    for strong in (200.0, -200.0):  # beyond a byte around 128: the int16 path, nothing clipped but by the frame's 0–255
        out = paste_change(frame, np.full((64, 64, 3), strong, np.float32), weight, m).astype(int)
        want = np.clip(frame[110:130, 150:170].astype(int) + int(strong), 0, 255)
        assert np.array_equal(out[110:130, 150:170], want), strong
        assert np.array_equal(out[outside], frame[outside])
    assert footprint(cv2.getRotationMatrix2D((0, 0), 0, 1) + [[0, 0, 1000], [0, 0, 1000]], 64, (240, 320)) is None


def bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("variant", ["full", "fast"])
def test_the_bundled_aged_filter_ages_the_face_and_leaves_the_rest(face_photo, variant):
    import realtime

    img = bgr(face_photo)
    chain = realtime.load_chain("aged", provider="cpu", variant=variant)
    assert [f.model.contract.kind for f in chain.filters] == ["face"]
    out = chain.apply(img)
    diff = np.abs(out.astype(int) - img).sum(axis=2)
    h, w = img.shape[:2]
    assert diff[int(0.25 * h) : int(0.45 * h), int(0.4 * w) : int(0.6 * w)].mean() > 4  # the face, eyes to mouth
    assert not diff[int(0.8 * h) :].any() and not diff[:, : int(0.15 * w)].any()  # the suit and the room's left side
    codes = [chain.apply(img, latent=k) for k in range(3)]
    assert min(np.abs(a.astype(int) - b).mean() for i, a in enumerate(codes) for b in codes[i + 1 :]) > 0.3  # distinct variants
    half = chain.apply(img, strength=0.5).astype(int)
    assert np.abs(half - img).sum() == pytest.approx(0.5 * diff.sum(), rel=0.1)  # strength is the age amount
    assert np.array_equal(chain.apply(img, strength=0.0), img)


def test_aged_passes_faceless_photos_through_and_chains(data_dir, face_photo):
    import realtime

    photos = sorted((data_dir / "faces" / "noface").glob("*.*"))
    chain = realtime.load_chain("aged", provider="cpu")
    for path in photos[:3]:
        from models.data.media import read_rgb

        img = bgr(read_rgb(path))
        assert np.array_equal(chain.apply(img), img), path.name
    img = bgr(face_photo)
    both = realtime.load_chain("aged+cartoon", provider="cpu").apply(img)
    cartoon_only = realtime.load_chain("cartoon", provider="cpu").apply(img)
    assert both.shape == img.shape and np.abs(both.astype(int) - cartoon_only).mean() > 0.5


def test_realtime_filter_aged_runs_on_a_video(monkeypatch, capsys, tmp_path, face_video):
    import json

    from tests.conftest import run_realtime

    out, stats = tmp_path / "o.mp4", tmp_path / "s.json"
    code, err = run_realtime(monkeypatch, capsys, "--filter", "aged+big_eyes", "--source", face_video, "--no-preview",
                             "--output", out, "--frames", "10", "--fast", "--stats", stats, "--latent", "1")
    assert code == 0, err
    summary = json.loads(stats.read_text())
    assert summary["frames_output"] == 10 and summary["face_frames"] >= 8 and "filter:aged" in summary["stages_ms"]
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    cap.release()


def test_a_blown_up_crop_is_warped_small_and_grown_within_a_grey_level():
    """A close-up at 720p or 1080p spreads each crop pixel over 4+ frame pixels: the change is
    warped to 1/k of the size (k = 2 from 4x, 3 from 7x, 4 from 10x) and grown k times, which must land where the
    direct warp does, as int16 fixed point and as bytes around 128."""
    from realtime.analysis.tracking import feather_mask
    from realtime.filters.kinds.face_filter import FIXED, OFFSET, shrink_factor, warp_up

    rng = np.random.default_rng(3)
    change = cv2.GaussianBlur((rng.standard_normal((64, 64, 3)) * 40).astype(np.float32), (0, 0), 2.0)
    weighted = change * feather_mask(64)[..., None]
    as_int16 = np.rint(weighted * FIXED).astype(np.int16)  # as paste_change gets it
    as_bytes = (weighted + OFFSET + 0.5).astype(np.uint8)
    assert [shrink_factor(s) for s in (3.9, 4.0, 6.9, 7.0, 9.9, 10.0)] == [1, 2, 2, 3, 3, 4]
    for scale, angle in [(4.0, -8.0), (5.0, 0.0), (6.5, 17.0), (7.5, 5.0), (10.5, 33.0)]:  # k = 2, 2, 2, 3, 4
        m = cv2.getRotationMatrix2D((32, 32), angle, 1 / scale)
        inv = cv2.invertAffineTransform(m)
        inv[:, 2] += (40.5, 31.0)  # somewhere inside an odd-sized box
        w, h = int(64 * scale) + 81, int(64 * scale) + 63
        for image, unit, border in ((as_int16, 1 / FIXED, 0), (as_bytes, 1.0, OFFSET)):
            direct = cv2.warpAffine(image, inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=(border,) * 4).astype(np.float32)
            ours = warp_up(image, inv, w, h, border).astype(np.float32)
            assert ours.shape == direct.shape
            assert np.abs(ours - direct).max() * unit <= 1.0, (scale, angle, image.dtype, np.abs(ours - direct).max() * unit)
