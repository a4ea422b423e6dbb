"""benchmarks.bands' change measures on generated pictures, and benchmarks.clone_detail end to end."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from benchmarks.bands import LEVELS, ChangeSums, amplitude, gain, laplacian_pyramid, luminance, mean_chroma
from benchmarks.clone_detail import TILE, judge, main
from models.teachers.classical import cartoon
from tests.conftest import assert_one_line, synthetic_photo


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A photo-like picture and its cartoon (a real teacher's change, in every band)."""
    photo = synthetic_photo(160, 208, 3)
    return photo, cartoon(photo)


def test_the_pyramid_has_five_levels_finest_first_and_adds_back_up_to_the_picture(pair):
    gray = luminance(pair[0])
    bands = laplacian_pyramid(gray)
    assert len(bands) == LEVELS and [b.shape for b in bands] == [(160, 208), (80, 104), (40, 52), (20, 26), (10, 13)]
    up = bands[-1]
    for band in reversed(bands[:-1]):
        up = cv2.pyrUp(up, dstsize=(band.shape[1], band.shape[0])) + band
    assert np.abs(up - gray).max() < 1e-3
    with pytest.raises(ValueError, match="at least 16 px"):
        laplacian_pyramid(np.zeros((10, 40), np.float32))


def test_the_photo_scores_zero_the_teacher_one_and_a_half_blend_one_half(pair):
    photo, teacher = pair
    assert np.allclose(gain(photo, teacher, photo), 0) and np.allclose(amplitude(photo, teacher, photo), 0)
    assert np.allclose(gain(photo, teacher, teacher), 1) and np.allclose(amplitude(photo, teacher, teacher), 1)
    half = (photo.astype(np.float32) + teacher) / 2  # linear pyramid: exactly half of the change in every band
    assert np.allclose(gain(photo, teacher, half), 0.5, atol=1e-6) and np.allclose(amplitude(photo, teacher, half), 0.5, atol=1e-6)
    overdone = photo + 1.5 * (teacher.astype(np.float32) - photo)
    assert np.allclose(gain(photo, teacher, overdone), 1.5, atol=1e-5)


def test_a_blurred_change_keeps_the_coarse_bands_and_own_noise_shows_in_the_amplitude_only(pair):
    """What the measure is for: a clone that makes the teacher's change only blurred scores near
    1 in the coarse bands and low in the fine ones; noise of its own raises A, not G."""
    photo, teacher = pair
    change = teacher.astype(np.float32) - photo
    blurred = photo + cv2.GaussianBlur(change, (0, 0), 3)
    g = gain(photo, teacher, blurred)
    assert g[0] < 0.2 and g[1] < 0.5 and g[LEVELS - 1] > 0.9
    noisy = teacher + np.random.default_rng(0).normal(0, 16, teacher.shape).astype(np.float32)
    g, a = gain(photo, teacher, noisy), amplitude(photo, teacher, noisy)
    assert abs(g[0] - 1) < 0.05 and a[0] > 1.5


def test_sums_pool_pictures_and_the_shares_add_up_to_one(pair):
    photo, teacher = pair
    sums = ChangeSums()
    sums.add(photo, teacher, teacher)
    sums.add(photo, photo, photo)  # a picture the teacher leaves alone adds nothing
    assert sums.pictures == 2 and np.allclose(sums.gain(), 1)
    assert abs(np.nansum(sums.share()) - 1) < 1e-9
    assert np.isnan(ChangeSums().gain()).all(), "no teacher change: nothing to compare, not a division by zero"


def test_chroma_is_zero_on_grey_and_large_on_colour():
    assert mean_chroma(np.full((8, 8, 3), 128, np.uint8)) < 0.01
    assert mean_chroma(np.tile(np.uint8([220, 30, 30]), (8, 8, 1))) > 50


def test_goals_judge_only_bands_holding_a_tenth_of_the_change():
    share = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
    gain_ = np.array([0.1, 0.8, 0.7, 0.2, 1.0])
    amp = np.array([0.1, 0.9, 1.3, 0.2, 1.0])
    verdict = judge(share, gain_, amp, 0.4, {"output": 5.0, "teacher": 0.2, "photo": 20.0})
    assert verdict["judged_bands"] == [1, 2]
    assert verdict["checks"] == {"G_1": True, "A_1": True, "G_2": False, "A_2": False, "L1": True, "grey": False}
    assert not verdict["pass"]
    assert judge(share, np.full(5, 0.9), np.full(5, 1.0), 0.3, {"output": 30.0, "teacher": 25.0, "photo": 20.0})["pass"]


def test_the_benchmark_scores_bundled_clones_on_made_up_pictures(tmp_path, photo_folder):
    out = tmp_path / "r"
    assert main(["--filter", "cartoon", "sketch", "--variants", "fast", "--data", str(photo_folder), "--holdout", "img0,img1",
                 "--short", "128", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["pictures"] == 2 and report["short"] == 128
    rows = {(r["filter"], r["variant"], r["style"]): r for r in report["rows"]}
    assert len(rows) == 2 * (4 + 3)
    for (f, variant, style), r in rows.items():
        if variant == "50% blend":  # the runtime's --strength 0.5 on the teacher (rounded to uint8)
            assert all(abs(g - 0.5) < 0.03 for g in r["gain"][:4]) and abs(r["l1_ratio"] - 0.5) < 0.02
        else:
            assert r["code"] == list(dict.fromkeys(s for ff, v, s in rows if ff == f)).index(style)
            assert all(np.isfinite(r["gain"][:4])) and 0 < r["l1_ratio"] < 1.5
            assert set(r["checks"]) >= {"L1"} and r["pass"] == all(r["checks"].values())
    assert rows[("sketch", "fast", "graphite")]["monochrome"] and not rows[("sketch", "fast", "coloured")]["monochrome"]
    assert "| cartoon | fast | bold (0) |" in (out / "report.md").read_text() and (out / "plot.png").stat().st_size > 1000
    sheet = cv2.imread(str(out / "sheet.jpg"))
    assert sheet.shape[:2] == (7 * TILE, 3 * TILE), "rows: 7 filter styles; columns: photo | teacher | fast"


def test_aged_is_scored_on_held_out_face_crops(tmp_path, data_dir):
    out = tmp_path / "a"
    assert main(["--filter", "aged", "--variants", "fast", "--data", str(data_dir), "--holdout", "skimage__astronaut",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["face_crops"] == 1 and report["pictures"] == 0
    (fast,) = [r for r in report["rows"] if r["variant"] == "fast" and r["style"] == "elderly"]
    assert 0 < fast["gain"][1] < 1.5 and 0 < fast["l1_ratio"] < 1
    assert cv2.imread(str(out / "sheet.jpg")).shape[:2] == (3 * TILE, 3 * TILE)


def test_bad_arguments_are_one_line(capsys, tmp_path, photo_folder):
    from realtime.errors import run_cli

    code = run_cli(lambda: main(["--filter", "candy"]))
    assert_one_line(code, capsys.readouterr().err, "no teacher for candy")
    code = run_cli(lambda: main(["--filter", "cartoon", "--short", "16"]))
    assert_one_line(code, capsys.readouterr().err, "--short must be at least 64, got 16")
    code = run_cli(lambda: main(["--filter", "cartoon", "--data", str(photo_folder), "--holdout", "nobody", "--out", str(tmp_path)]))
    assert_one_line(code, capsys.readouterr().err, "none of nobody is under")
    code = run_cli(lambda: main(["--filter", "aged", "--data", str(photo_folder), "--holdout", "img0", "--out", str(tmp_path)]))
    assert_one_line(code, capsys.readouterr().err, "no face", "leave aged out of --filter")
    code = run_cli(lambda: main(["--filter", "cartoon", "--candidates", str(tmp_path / "none")]))
    assert_one_line(code, capsys.readouterr().err, "--candidates", "no such folder")


def test_candidates_are_measured_in_place_of_the_bundled_files(tmp_path, photo_folder):
    """A network not released yet: DIR/NAME.fast.onnx is scored as the fast variant (here the
    bundled full network under the fast name, so its fast rows equal the full rows)."""
    import shutil

    from realtime.filters.registry import bundled_filters

    candidates = tmp_path / "cand"
    candidates.mkdir()
    shutil.copy(bundled_filters()["sketch"], candidates / "sketch.fast.onnx")
    args = ["--filter", "sketch", "--data", str(photo_folder), "--holdout", "img0", "--short", "128"]
    assert main([*args, "--variants", "full", "fast", "--candidates", str(candidates), "--out", str(tmp_path / "c")]) == 0
    rows = json.loads((tmp_path / "c" / "report.json").read_text())["rows"]
    full = {r["style"]: r for r in rows if r["variant"] == "full"}
    fast = {r["style"]: r for r in rows if r["variant"] == "fast"}
    assert set(fast) == {"graphite", "charcoal", "coloured"}
    assert all(fast[s]["gain"] == full[s]["gain"] and fast[s]["l1_ratio"] == full[s]["l1_ratio"] for s in fast)
    assert main([*args, "--variants", "fast", "--out", str(tmp_path / "b")]) == 0
    bundled = {r["style"]: r for r in json.loads((tmp_path / "b" / "report.json").read_text())["rows"] if r["variant"] == "fast"}
    assert any(bundled[s]["gain"] != fast[s]["gain"] for s in fast), "without --candidates: the bundled student"
