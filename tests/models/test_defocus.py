"""Defocused training crops (models.data.pairs.defocus): plain walls and rooms out of focus in
the training pairs, still true pairs, and no change to runs that do not ask for them."""
from __future__ import annotations

import random

import numpy as np
import pytest

from models.data.pairs import CropConfig, TeacherPairs, defocus
from models.train_style import content_batch
from realtime.errors import UserError
from tests.conftest import synthetic_photo


def detail(img: np.ndarray, axis: int = 1) -> float:
    """Mean absolute difference between neighbouring pixels along ``axis`` (H×W×3: the width):
    texture a blur removes."""
    return float(np.abs(np.diff(img.astype(np.float32), axis=axis)).mean())


def test_no_share_returns_the_crop_and_draws_nothing():
    crop = synthetic_photo(48, 48, 0)
    rng, untouched = random.Random(5), random.Random(5)
    assert defocus(crop, CropConfig(crop=48), rng) is crop
    assert rng.random() == untouched.random(), "a run without defocus keeps its random sequence"


def test_a_full_share_blurs_every_crop_and_keeps_its_shape():
    crop = synthetic_photo(48, 48, 1)
    out = defocus(crop, CropConfig(crop=48, defocus=1.0), random.Random(0))
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert detail(out) < 0.6 * detail(crop)


def test_the_share_is_the_share_of_crops_blurred():
    crop = synthetic_photo(32, 32, 2)
    rng, cfg = random.Random(1), CropConfig(crop=32, defocus=0.25)
    blurred = sum(defocus(crop, cfg, rng) is not crop for _ in range(400))
    assert 70 <= blurred <= 130


def test_the_teacher_draws_on_the_blurred_crop():
    """A defocused pair is a true pair: the target is the teacher's output for the input it comes with."""
    seen = []

    def teacher(rgb, rng):
        seen.append(rgb.copy())
        return 255 - rgb, None

    pairs = TeacherPairs([synthetic_photo(64, 64, 3)], teacher, CropConfig(crop=48, short_min=64, short_max=64, defocus=1.0))
    src, target, _ = pairs.sample(random.Random(0))
    assert np.array_equal(seen[-1], src) and np.array_equal(target, 255 - src)
    assert detail(src) < 0.6 * detail(synthetic_photo(64, 64, 3)[:48, :48])


def test_content_batches_for_distillation_are_defocused_too():
    images = [synthetic_photo(64, 64, 4)]
    sharp = content_batch(images, CropConfig(crop=48, short_min=64, short_max=64, flip=False), 4, random.Random(0))
    soft = content_batch(images, CropConfig(crop=48, short_min=64, short_max=64, flip=False, defocus=1.0), 4, random.Random(0))
    assert soft.shape == sharp.shape
    assert detail(soft.numpy() * 255, axis=-1) < 0.6 * detail(sharp.numpy() * 255, axis=-1)  # N×3×H×W


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_share_outside_0_to_1_is_refused(share):
    with pytest.raises(UserError, match="defocused share"):
        CropConfig(defocus=share)


def test_a_bad_blur_range_is_refused_with_every_reason():
    with pytest.raises(UserError, match="defocused share.*; the defocus blur range"):
        CropConfig(defocus=2.0, defocus_sigma=(6.0, 1.5))


def test_the_command_line_refuses_a_blur_range_it_cannot_read(tmp_path):
    from models.distill import main

    with pytest.raises(UserError, match="--defocus-sigma takes two"):
        main(["--teacher", str(tmp_path / "t.pt"), "--out", str(tmp_path / "o.pt"), "--images", str(tmp_path),
              "--defocus", "0.2", "--defocus-sigma", "6"])


def test_cloning_takes_defocus_for_a_frame_teacher_and_refuses_it_where_no_teacher_draws(tmp_path):
    from models.train_pairs import parse_args

    cfg, _ = parse_args(["--teacher", "watercolor", "--out", str(tmp_path / "w.pt"), "--defocus", "0.3", "--defocus-sigma", "4,32"])
    assert (cfg.crops.defocus, cfg.crops.defocus_sigma) == (0.3, (4.0, 32.0))
    with pytest.raises(UserError, match="a folder of pairs has fixed outputs"):
        parse_args(["--pairs", str(tmp_path), "--out", str(tmp_path / "p.pt"), "--defocus", "0.3"])
    with pytest.raises(UserError, match="face teacher aged"):
        parse_args(["--teacher", "aged", "--out", str(tmp_path / "a.pt"), "--defocus", "0.3"])
