"""The ``aged`` filter's creases drawn after the network (realtime.filters.kinds.creases), and
the face filter drawing them only for a model whose contract asks (``filter.post = creases``)."""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from realtime.analysis.analysers import FrameAnalysis
from realtime.analysis.tracking import face_transform
from realtime.errors import UserError
from realtime.filters.engine import FilterModel
from realtime.filters.kinds.base import Settings, filter_for
from realtime.filters.kinds.creases import (AGE_STYLES, AgeStyle, apply_creases, apply_post, apply_texture, crease_paths, eye_distance,
                                            sag_shift, sagged_landmarks, skin_mask)
from realtime.filters.kinds.face_filter import FaceFilter
from realtime.filters.onnx_format import FilterContract
from tests.conftest import make_onnx_filter

SIZE = 192  # the aged network's crop


@pytest.fixture(scope="module")
def crop(tracked) -> tuple[np.ndarray, np.ndarray]:
    """Her aligned SIZE² crop (RGB) and its landmarks, as the face filter makes them."""
    bgr, face = tracked
    m = face_transform(face, SIZE)
    crop = cv2.warpAffine(bgr, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(crop[..., ::-1]), face.landmarks @ m[:, :2].T + m[:, 2]


def lightness(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[..., 0]


def test_creases_darken_the_skin_along_their_paths(crop):
    img, lm = crop
    style = AGE_STYLES["weathered"]
    out = apply_creases(img, lm, style)
    on = np.concatenate([pts for pts, _ in crease_paths(lm, style)]).round().astype(int)
    on = on[(on >= 0).all(axis=1) & (on < SIZE).all(axis=1)]
    skin = skin_mask(img.shape[:2], lm)
    on = on[skin[on[:, 1], on[:, 0]] > 0.9]  # (the crow's feet run past the face oval)
    assert len(on) > 50
    darker = (lightness(img) - lightness(out))[on[:, 1], on[:, 0]]
    assert np.median(darker) > 3  # Lab L (0-100): a groove at every crease


def test_nothing_changes_off_the_skin_and_only_the_lightness_moves(crop):
    img, lm = crop
    out = apply_creases(img, lm, AGE_STYLES["elderly"])
    diff = np.abs(out.astype(int) - img).max(axis=2)
    assert diff.max() > 10
    assert diff[skin_mask(img.shape[:2], lm) == 0].max() == 0  # background, hair, eyes and lips untouched
    lab_in = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    lab_out = cv2.cvtColor(out.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    moved = diff > 0
    assert np.abs(lab_out[..., 1:] - lab_in[..., 1:])[moved].mean() < 1.0  # a and b keep (8-bit rounding only)


def test_amount_zero_is_the_identity_and_the_amount_scales_the_creases(crop):
    img, lm = crop
    style = AGE_STYLES["elderly"]
    assert apply_creases(img, lm, style, 0.0) is img
    assert apply_creases(img, lm, AgeStyle(wrinkles=0.0)) is img
    full = (lightness(img) - lightness(apply_creases(img, lm, style, 1.0))).clip(0).sum()
    half = (lightness(img) - lightness(apply_creases(img, lm, style, 0.5))).clip(0).sum()
    assert 0.4 < half / full < 0.6


def test_each_style_draws_its_own_creases(crop):
    img, lm = crop
    depth = {name: (lightness(img) - lightness(apply_creases(img, lm, st))).clip(0).sum() for name, st in AGE_STYLES.items()}
    assert depth["greying"] < depth["elderly"] < depth["weathered"]  # wrinkles 0.2 < 0.35 < 0.45
    assert len(crease_paths(lm, AGE_STYLES["weathered"])) == len(crease_paths(lm, AGE_STYLES["greying"])) + 2  # forehead lines 4 vs 2


def test_bgr_draws_the_same_creases(crop):
    img, lm = crop
    rgb = apply_creases(img, lm, AGE_STYLES["elderly"])
    bgr = apply_creases(np.ascontiguousarray(img[..., ::-1]), lm, AGE_STYLES["elderly"], bgr=True)
    assert np.abs(bgr[..., ::-1].astype(int) - rgb).max() <= 1


def band(light: np.ndarray) -> np.ndarray:
    return light - cv2.GaussianBlur(light, (0, 0), 2.0)


def test_texture_strengthens_the_skins_fine_detail_and_nothing_else(crop):
    img, lm = crop
    style = AGE_STYLES["weathered"]  # texture 1.6: L + 1.6·k·(L − G₂L)
    out = apply_texture(img, lm, style)
    skin = skin_mask(img.shape[:2], lm)
    on = skin > 0.95
    detail, change = band(lightness(img))[on], (lightness(out) - lightness(img))[on]
    slope = np.sum(change * detail) / np.sum(detail**2)
    assert 1.4 < slope < 1.75  # the change is 1.6 × the detail (8-bit rounding, the mask's edge)
    diff = np.abs(out.astype(int) - img).max(axis=2)
    assert diff[skin == 0].max() == 0  # background, hair, eyes and lips untouched
    lab_in = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    lab_out = cv2.cvtColor(out.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    assert np.abs(lab_out[..., 1:] - lab_in[..., 1:])[diff > 0].mean() < 1.0  # a and b keep
    assert abs(change.mean()) < 1.0 < np.abs(change).mean()  # detail (Lab L 0-100), not a brighter or darker face
    assert apply_texture(img, lm, style, 0.0) is img and apply_texture(img, lm, AgeStyle(texture=0.0)) is img
    bgr = apply_texture(np.ascontiguousarray(img[..., ::-1]), lm, style, bgr=True)
    assert np.abs(bgr[..., ::-1].astype(int) - out).max() <= 1


def test_sagged_landmarks_are_where_the_sag_warp_moves_them(crop):
    _, lm = crop
    assert sagged_landmarks(lm, 0.0) is not None and np.array_equal(sagged_landmarks(lm, 0.0), lm)
    moved = sagged_landmarks(lm, 1.0)
    dx, dy = sag_shift(moved[:, 0], moved[:, 1], lm, 1.0)
    back = moved - np.stack([dx, dy], axis=1)  # the warp shows at p what was at p - d(p)
    assert np.abs(back - lm).max() < 0.1
    shift = np.hypot(*(moved - lm).T)
    assert 0.01 * eye_distance(lm) < shift.max() < 0.04 * eye_distance(lm)  # jowls down ~3 % of the eye distance
    assert shift[[33, 263]].max() < 0.3 * shift.max()  # the eyes stay nearly put


def test_a_bad_crop_or_mesh_is_refused(crop):
    img, lm = crop
    with pytest.raises(ValueError, match="uint8"):
        apply_creases(img.astype(np.float32), lm, AGE_STYLES["elderly"])
    with pytest.raises(ValueError, match="landmarks"):
        apply_creases(img, lm[:100], AGE_STYLES["elderly"])


# ---------------------------------------------------------------- the contract and the face filter
def test_the_contract_carries_the_post_step_and_refuses_nonsense():
    c = FilterContract(name="aged", kind="face", latent_codes=3, latent_names=("elderly", "greying", "weathered"),
                       post="creases", post_styles=("elderly", "greying", "weathered"))
    props = c.to_props()
    assert props["filter.post"] == "creases" and props["filter.post_styles"] == "elderly,greying,weathered"
    assert FilterContract.from_props(props) == c
    plain = FilterContract(name="x", kind="face")
    assert "filter.post" not in plain.to_props() and FilterContract.from_props(plain.to_props()).post == ""
    for bad, match in ((dict(post="glitter", post_styles=("elderly",)), "post step"),
                       (dict(post="creases", post_styles=("elderly",), kind="frame"), "face crops"),
                       (dict(post="creases", post_styles=("teen",)), "unknown crease style"),
                       (dict(post="creases", post_styles=("elderly", "greying")), "one per latent code"),
                       (dict(post_styles=("elderly",)), "without a post step")):
        with pytest.raises(UserError, match=match):
            FilterContract(**{"name": "x", "kind": "face", **bad})


def fake(contract: FilterContract) -> FaceFilter:
    return FaceFilter(SimpleNamespace(name=contract.name, contract=contract))  # type: ignore[arg-type]


def test_the_face_filter_draws_the_style_of_each_latent_code(tracked):
    bgr, face = tracked
    names = ("elderly", "greying", "weathered")
    f = fake(FilterContract(name="aged", kind="face", work_size=SIZE, latent_codes=3, latent_names=names,
                            post="creases", post_styles=names))
    m = face_transform(face, SIZE)
    crop = cv2.warpAffine(bgr, m, (SIZE, SIZE))
    lm = face.landmarks @ m[:, :2].T + m[:, 2]
    for code in range(4):
        style = AGE_STYLES[names[code % 3]]
        want = apply_creases(crop, sagged_landmarks(lm, style.sag), style, 1.0, bgr=True)
        assert np.array_equal(f.post(crop, face.landmarks, m, code), want), code
    rough = fake(FilterContract(name="aged", kind="face", work_size=SIZE, latent_codes=3, latent_names=names,
                                post="texture+creases", post_styles=names))
    for code in range(3):  # the rougher skin first, then the creases, on the same sagged landmarks, in one pass
        style = AGE_STYLES[names[code]]
        sagged = sagged_landmarks(lm, style.sag)
        want = apply_post(crop, sagged, style, 1.0, texture=True, creases=True, bgr=True)
        assert np.array_equal(rough.post(crop, face.landmarks, m, code), want), code
        textured = apply_texture(crop, sagged, style, 1.0, bgr=True)
        two_passes = apply_creases(textured, sagged, style, 1.0, bgr=True)
        clipped = ((textured == 0) | (textured == 255)).any(axis=2)  # where the 8-bit image between two passes clips the colour
        assert np.abs(want.astype(int) - two_passes).max(axis=2)[~clipped].max() <= 1 and not np.array_equal(want, crop), code
    foreign = fake(FilterContract(name="foreign", kind="face", work_size=SIZE, latent_codes=3))
    assert foreign.post(crop, face.landmarks, m, 0) is crop  # a model that does not ask is never touched


def test_creases_are_drawn_only_when_the_contract_asks_and_scale_with_the_strength(tracked, tmp_path):
    bgr, face = tracked
    props = {"filter.work_size": str(SIZE)}
    plain = filter_for(FilterModel(make_onnx_filter(tmp_path / "plain.onnx", props, kind="face"), "cpu"))
    creased = filter_for(FilterModel(make_onnx_filter(tmp_path / "creased.onnx", {
        **props, "filter.post": "creases", "filter.post_styles": "weathered"}, kind="face"), "cpu"))
    analysis = FrameAnalysis(faces=(face,))
    a, b = (f.apply(bgr, analysis, Settings()).image for f in (plain, creased))
    diff = np.abs(a.astype(int) - b).max(axis=2)
    x0, y0, x1, y1 = (int(v) for v in face.box)
    assert diff[y0:y1, x0:x1].mean() > 0.5 and (diff > 20).sum() > 100  # the wrinkles, on the face
    assert diff[:20, :20].max() == 0 and diff[-20:, -20:].max() == 0
    assert (cv2.cvtColor(b, cv2.COLOR_BGR2GRAY).astype(int) - cv2.cvtColor(a, cv2.COLOR_BGR2GRAY))[diff > 20].mean() < 0  # darker
    for f in (plain, creased):  # strength 0: the frame itself
        assert np.array_equal(f.apply(bgr, analysis, Settings(strength=0.0)).image, bgr)
    half = np.abs(creased.apply(bgr, analysis, Settings(strength=0.5)).image.astype(int)
                  - plain.apply(bgr, analysis, Settings(strength=0.5)).image).max(axis=2)
    assert 0.35 < half.sum() / diff.sum() < 0.65  # the strength blends the creases with the rest of the change
