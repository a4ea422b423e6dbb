"""The filters shipped in the package load in ONNX Runtime and really filter a real face photo."""
from __future__ import annotations

import json

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from realtime.filters.onnx_format import FilterContract
from models.data.media import fit_short_side
from models.teachers.classical import CARTOON_STYLES, cartoon
from realtime.filters.registry import BUNDLED, bundled_filters


def test_cartoon_is_bundled_with_its_model_card():
    assert "cartoon" in bundled_filters()
    card = json.loads((BUNDLED / "cartoon.json").read_text())
    assert 0 < card["validation_l1"] < 0.1
    total = sum(p.stat().st_size for p in BUNDLED.glob("*.onnx"))
    assert total < 40e6, "bundled models must stay within the ~40 MB budget"


def test_bundled_cartoon_changes_a_face_photo_towards_the_teacher(face_photo):
    session = ort.InferenceSession(str(bundled_filters()["cartoon"]), providers=["CPUExecutionProvider"])
    contract = FilterContract.from_props(session.get_modelmeta().custom_metadata_map)
    assert contract.name == "cartoon" and contract.input_range == "0-1" and contract.latent_codes == len(contract.latent_names)
    img = fit_short_side(face_photo, contract.work_size)
    h, w = (img.shape[0] // 4) * 4, (img.shape[1] // 4) * 4
    img = np.ascontiguousarray(img[:h, :w])
    x = img.transpose(2, 0, 1)[None].astype(np.float32) / 255
    outs = []
    for code in range(max(contract.latent_codes, 1)):
        feeds = {"input": x}
        if contract.latent_codes:
            feeds["latent"] = np.array([code], np.int64)
        y = session.run(None, feeds)[0][0].transpose(1, 2, 0)
        assert y.shape == img.shape and np.isfinite(y).all()
        outs.append((y * 255).round().astype(np.uint8))
    best = min(outs, key=lambda o: np.abs(o.astype(int) - cartoon(img, CARTOON_STYLES["bold"])).mean())
    teacher = cartoon(img, CARTOON_STYLES["bold"]).astype(int)
    assert np.abs(best.astype(int) - img).mean() > 8, "the filter must visibly change the photo"
    assert np.abs(best.astype(int) - teacher).mean() < 0.8 * np.abs(img.astype(int) - teacher).mean()
    # cartoon look: fewer distinct colours in a smooth region than the photo has
    gray_in = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    gray_out = cv2.Laplacian(cv2.cvtColor(best, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    assert not np.allclose(gray_in, gray_out)


def style_cards() -> list[dict]:
    cards = [json.loads(p.read_text()) for p in sorted(BUNDLED.glob("*.json"))]
    return [c for c in cards if c.get("style_image")]


def colour_transform_residual(src: np.ndarray, out: np.ndarray) -> float:
    """Mean |out − best global affine colour transform of src| (0–255): ~0 for a mere tint."""
    x = np.concatenate([src.reshape(-1, 3).astype(np.float64), np.ones((src.shape[0] * src.shape[1], 1))], 1)
    y = out.reshape(-1, 3).astype(np.float64)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(np.abs(x @ coef - y).mean())


def test_colour_transform_residual_sees_through_a_tint(face_photo):
    img = fit_short_side(face_photo, 128)
    tinted = np.clip(img.astype(np.float32) * [1.1, 0.9, 0.7] + [10, 0, 20], 0, 255).astype(np.uint8)
    assert colour_transform_residual(img, tinted) < 2
    assert colour_transform_residual(img, cv2.GaussianBlur(img, (0, 0), 3)) > 5


def test_the_promised_styles_are_bundled():
    names = {c["name"] for c in style_cards()}
    assert {"mosaic", "candy", "starry_night", "the_scream", "psychedelic"} <= names


@pytest.mark.parametrize("card", style_cards(), ids=lambda c: c["name"])
def test_bundled_style_restyles_a_face_beyond_a_colour_shift(card, face_photo):
    """Every style network and every fast student of one (NAME.fast.onnx) on the astronaut."""
    session = ort.InferenceSession(str(BUNDLED / f"{card['name']}.onnx"), providers=["CPUExecutionProvider"])
    contract = FilterContract.from_props(session.get_modelmeta().custom_metadata_map)
    img = fit_short_side(face_photo, min(contract.work_size, 384))
    m = contract.size_multiple
    h, w = (img.shape[0] // m) * m, (img.shape[1] // m) * m
    img = np.ascontiguousarray(img[:h, :w])
    y = session.run(None, {"input": img.transpose(2, 0, 1)[None].astype(np.float32) * (contract.scale / 255)})[0][0]
    out = np.clip(y.transpose(1, 2, 0) * (255 / contract.scale), 0, 255).astype(np.uint8)
    assert out.shape == img.shape
    assert colour_transform_residual(img, out) > 15, f"{card['name']} only recolours the photo"
    assert 40 < out.mean() < 220 and out.std() > 25, f"{card['name']} gives a dark, blown-out or flat picture"
    assert card["onnx_bytes"] < 8e6


def test_retiming_measures_face_filters_and_a_third_size_student(tmp_path):
    """Before: --retime stopped at the first face card (it printed frame timings it has not),
    and a student at factor 3 (size multiple 48) could not be timed at 256×256."""
    import shutil

    from export.model_card import retime

    for name in ("aged.fast", "watercolor.fast"):
        for suffix in (".onnx", ".json"):
            shutil.copy(BUNDLED / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    cards = {c["name"]: c for c in retime(tmp_path)}
    assert cards["aged.fast"]["cpu_ms_face_crop"] > 0 and "cpu_ms_256x256" not in cards["aged.fast"]
    assert cards["watercolor.fast"]["cpu_ms_256x256"] > 0 and cards["watercolor.fast"]["factor"] == 3


@pytest.mark.parametrize("variant", ["full", "fast"])
def test_bundled_sketch_draws_its_grey_styles_grey_and_the_coloured_one_in_colour(variant, face_photo):
    """Graphite and charcoal are grey teacher styles: the network makes their output grey itself
    (the latent's monochrome flag in the graph), so the runtime's BGR frames have three equal
    channels with no special case; coloured pencil keeps its colour."""
    from realtime.filters.chain import load_chain
    bgr = cv2.cvtColor(fit_short_side(face_photo, 256), cv2.COLOR_RGB2BGR)
    chain = load_chain("sketch", provider="cpu", variant=variant)
    for code, grey in ((0, True), (1, True), (2, False)):
        out = chain.apply(bgr, latent=code).astype(int)
        spread = int((out.max(axis=2) - out.min(axis=2)).max())
        assert (spread == 0) == grey, f"sketch {variant} code {code}: channel spread {spread}"
