"""benchmarks.bands' texture measures on generated pictures, and benchmarks.style_texture end to end."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.bands import LEVELS, TextureSums, band_rms, fit_coefficient, luminance_bands, own_texture
from benchmarks.style_texture import main
from tests.conftest import assert_one_line, synthetic_photo


def texture(seed: int, h: int = 160, w: int = 208) -> np.ndarray:
    """Strokes that have nothing to do with any photo: blurred noise, RGB uint8."""
    noise = np.random.default_rng(seed).normal(128, 60, (h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 1.0), 0, 255).astype(np.uint8)


def test_own_texture_is_the_least_squares_residual_of_the_photos_band():
    """ν_k = |L_k(out) − a L_k(photo)| / |L_k(out)| with a the least-squares fit: checked
    against numpy's lstsq, band by band, on a mix of the photo and strokes of its own."""
    photo = synthetic_photo(160, 208, 5)
    out = 0.6 * photo.astype(np.float32) + 0.4 * texture(1)
    nu = own_texture(photo, out)
    for k, (o, p) in enumerate(zip(luminance_bands(out), luminance_bands(photo))):
        (a,), *_ = np.linalg.lstsq(p.reshape(-1, 1).astype(np.float64), o.ravel().astype(np.float64), rcond=None)
        assert abs(fit_coefficient(o, p) - a) < 1e-6 * max(1.0, abs(a))
        expected = np.linalg.norm(o - a * p) / np.linalg.norm(o)
        assert abs(nu[k] - expected) < 1e-6
    assert 0.1 < nu[0] < 1


def test_the_photo_scaled_has_no_texture_of_its_own_and_unrelated_strokes_are_all_its_own():
    photo = synthetic_photo(160, 208, 6)
    assert np.allclose(own_texture(photo, photo), 0, atol=1e-6)
    assert np.allclose(own_texture(photo, 0.5 * photo.astype(np.float32)), 0, atol=1e-6), "contrast is not texture"
    assert (own_texture(photo, texture(2))[: LEVELS - 1] > 0.9).all()


def test_sums_pool_pictures_and_rms_is_per_pixel():
    sums = TextureSums()
    flat = np.full((64, 64, 3), 100, np.uint8)
    sums.add(flat, flat)
    assert np.allclose(sums.rms()[: LEVELS - 1], 0) and abs(sums.rms()[-1] - 100) < 0.5
    assert np.allclose(band_rms(flat)[: LEVELS - 1], 0), "a flat painting has no strokes"
    strokes = texture(3, 64, 64)
    sums.add(strokes, strokes)
    assert sums.pictures == 2 and np.allclose(sums.rms()[0], band_rms(strokes)[0] / np.sqrt(2), rtol=1e-6)


@pytest.fixture
def made_up(tmp_path: Path, photo_folder: Path) -> Path:
    """Two generated photos and a made-up painting in the place of the_scream's."""
    folder = tmp_path / "data"
    (folder / "styles").mkdir(parents=True)
    for name in ("img0.png", "img1.png"):
        shutil.copy(photo_folder / name, folder / name)
    cv2.imwrite(str(folder / "styles" / "neural_style__the_scream.jpg"), texture(4, 300, 240))
    return folder


def test_the_benchmark_measures_bundled_styles_on_made_up_pictures(tmp_path, made_up):
    out = tmp_path / "r"
    assert main(["--filter", "psychedelic", "the_scream", "--data", str(made_up), "--holdout", "img0,img1", "--short", "128",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    rows = {(r["filter"], r["variant"]): r for r in report["rows"]}
    assert list(rows) == [("photo", "-"), ("psychedelic", "full"), ("psychedelic", "auto"), ("the_scream", "full"), ("the_scream", "auto")]
    assert rows[("psychedelic", "auto")]["file"] == "psychedelic.fast.onnx", "auto runs the fast student on CPU"
    assert rows[("the_scream", "auto")]["file"] == "the_scream.fast.onnx", "every style has a student since 2026-12-05"
    assert rows[("the_scream", "full")]["file"] == "the_scream.onnx"
    assert rows[("photo", "-")]["own_texture"][:4] == [0.0] * 4 and rows[("photo", "-")]["pass"] is None
    for r in list(rows.values())[1:]:
        assert all(0 <= v <= 1 for v in r["own_texture"]) and r["stroke_strength"][0] > 0
        assert {"nu_0", "nu_1", "S_0"} <= set(r["checks"]) and r["pass"] == all(r["checks"].values())
    assert report["paintings"]["the_scream"]["file"] == "neural_style__the_scream.jpg"
    assert "| the_scream | auto (the_scream.fast.onnx) |" in (out / "report.md").read_text() and (out / "plot.png").stat().st_size > 1000


def test_a_candidate_network_is_measured_in_place_of_the_bundled_one(tmp_path, made_up):
    from realtime.filters.registry import bundled_filters

    candidates = tmp_path / "cand"
    candidates.mkdir()
    shutil.copy(bundled_filters()["psychedelic"], candidates / "the_scream.onnx")  # another network under the_scream's name
    out = tmp_path / "r"
    assert main(["--filter", "the_scream", "--variants", "full", "--data", str(made_up), "--holdout", "img0,img1",
                 "--short", "128", "--candidates", str(candidates), "--out", str(out)]) == 0
    (row,) = [r for r in json.loads((out / "report.json").read_text())["rows"] if r["filter"] == "the_scream"]
    assert main(["--filter", "psychedelic", "--variants", "full", "--data", str(made_up), "--holdout", "img0,img1",
                 "--short", "128", "--out", str(tmp_path / "p")]) == 0
    (same,) = [r for r in json.loads((tmp_path / "p" / "report.json").read_text())["rows"] if r["filter"] == "psychedelic"]
    assert row["own_texture"] == same["own_texture"] and row["halo"] == same["halo"] and row["ringing"] == same["ringing"]


def test_halo_and_faces_are_measured_on_a_real_held_out_face(tmp_path, data_dir):
    out = tmp_path / "f"
    assert main(["--filter", "psychedelic", "--variants", "auto", "--data", str(data_dir), "--holdout", "skimage__astronaut",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["pictures"] == report["halo_pictures"] == report["face_pictures"] == report["ringing_pictures"] == 1
    photo, net = report["rows"]
    assert photo["halo"] == 0 and photo["ringing"] == 0 and photo["faces"] == "1 of 1"
    assert np.isfinite(net["halo"]) and net["faces"] in ("0 of 1", "1 of 1") and {"halo", "ringing", "faces"} <= set(net["checks"])
    assert net["ringing"] > 0 and net["checks"]["ringing"] == (net["ringing"] <= 8)


def test_bad_arguments_are_one_line(capsys, tmp_path, made_up):
    from realtime.errors import run_cli

    code = run_cli(lambda: main(["--filter", "cartoon"]))
    assert_one_line(code, capsys.readouterr().err, "cartoon: not a bundled style network", "candy")
    code = run_cli(lambda: main(["--filter", "candy", "--data", str(made_up), "--holdout", "img0", "--out", str(tmp_path)]))
    assert_one_line(code, capsys.readouterr().err, "painting pytorch_examples__candy.jpg is not under")
    code = run_cli(lambda: main(["--candidates", str(tmp_path / "none")]))
    assert_one_line(code, capsys.readouterr().err, "--candidates", "no such folder")
    code = run_cli(lambda: main(["--short", "20"]))
    assert_one_line(code, capsys.readouterr().err, "--short must be at least 64, got 20")
    code = run_cli(lambda: main(["--filter", "psychedelic", "--data", str(made_up), "--holdout", "nobody", "--out", str(tmp_path)]))
    assert_one_line(code, capsys.readouterr().err, "none of nobody is under")


def test_the_resize_around_a_network_takes_fine_detail_only():
    from benchmarks.style_texture import through_work_size

    strokes = texture(7, 128, 160)
    assert through_work_size(strokes, 200) is strokes, "a picture under the work size is not resized"
    kept = band_rms(through_work_size(strokes, 96)) / band_rms(strokes)
    assert kept[0] < 0.8 and kept[LEVELS - 1] > 0.95
