"""Style networks: Johnson training, Gatys stills, the generated psychedelic style, release."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from realtime.errors import UserError
from realtime.host import machine
from models.networks.checkpoint import load_checkpoint, read_checkpoint
from models.losses.perceptual import RandomFeatures, RandomFeaturesConfig, StyleLoss, StyleLossConfig
from models.data.pairs import CropConfig
from models.teachers.style_images import psychedelic, read_style
from models.stylize_image import GatysConfig, stylize
from models.train_style import StyleTrainConfig, loss_config, loss_network_for, train
from models.train_style import main as train_style_main
from tests.conftest import synthetic_photo


def write_style(path: Path) -> Path:
    rgb = psychedelic(96, seed=3)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def tiny_style_config(tmp_path: Path, images: Path, steps: int, identity_steps: int = 0) -> StyleTrainConfig:
    return StyleTrainConfig(
        style=write_style(tmp_path / "style.png"), out=tmp_path / "tiny_style.pt", images=images, holdout=("img0",),
        width=4, res_blocks=1, style_size=96, steps=steps, batch_size=2, crops=CropConfig(crop=48, short_min=48, short_max=64),
        lr=5e-3, loss=StyleLossConfig(style_weight=5.0), sample_every=10, identity_steps=identity_steps,
    )


def test_a_few_style_training_steps_lower_the_loss_and_write_samples(tmp_path, photo_folder):
    cfg = tiny_style_config(tmp_path, photo_folder, steps=30)
    train(cfg)
    history = read_checkpoint(cfg.out)["train_state"]["history"]
    assert len(history) == 30 and np.mean(history[-6:]) < 0.8 * np.mean(history[:6])
    assert sorted(p.name for p in (tmp_path / "tiny_style").glob("*.jpg")) == ["step000010.jpg", "step000020.jpg", "step000030.jpg"]
    model, meta, _ = load_checkpoint(cfg.out)
    assert meta["style_image"] == "style.png" and meta["loss_net"] == "random" and model.config.width == 4
    # the loss the network was trained with can be rebuilt from the checkpoint alone
    assert loss_config(meta) == cfg.loss
    assert isinstance(loss_network_for(meta), RandomFeatures)


def test_identity_warm_up_starts_the_network_from_the_photo(tmp_path, photo_folder):
    cfg = replace(tiny_style_config(tmp_path, photo_folder, steps=40, identity_steps=40), lr=2e-2)
    train(cfg)
    history = read_checkpoint(cfg.out)["train_state"]["history"]
    # pixel L1 in 0-1 units (not the perceptual loss, which is far larger), from mid-grey towards the photo
    assert max(history) < 0.3 and np.mean(history[-5:]) < 0.92 * np.mean(history[:5])


def test_the_loss_network_only_sees_in_range_colours():
    torch.manual_seed(0)
    criterion = StyleLoss(RandomFeatures(RandomFeaturesConfig(maps=8)), torch.rand(1, 3, 96, 96), StyleLossConfig())
    content = torch.rand(1, 3, 96, 96)
    wild = (content * 3 - 1).requires_grad_(True)  # a third of the values below 0, a third above 1
    losses = criterion(wild, content)
    tame = criterion(wild.detach().clamp(0, 1), content)
    assert torch.allclose(losses["content"], tame["content"]) and torch.allclose(losses["style"], tame["style"])
    assert losses["range"] > 0 and tame["range"] == 0
    losses["range"].backward()
    assert (wild.grad[wild < 0] < 0).all() and (wild.grad[wild > 1] > 0).all(), "descent pulls colours back into range"


def test_gatys_lowers_its_loss():
    content, style = synthetic_photo(64, 64, 1), psychedelic(64)
    image, history = stylize(content, style, RandomFeatures(RandomFeaturesConfig(maps=8)), GatysConfig(size=64, steps=25, lr=0.03),
                             StyleLossConfig(style_weight=5.0))
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert history[-1] < 0.5 * history[0]
    assert np.abs(image.astype(int) - content).mean() > 3


def test_psychedelic_style_is_vivid_and_deterministic():
    a, b = psychedelic(64, seed=1), psychedelic(64, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, psychedelic(64, seed=2))
    hsv = cv2.cvtColor(a, cv2.COLOR_RGB2HSV)
    assert hsv[..., 1].mean() > 180, "saturated colours"
    assert len(np.unique(hsv[..., 0] // 10)) >= 15, "many hues"
    assert read_style("psychedelic").shape == (512, 512, 3)


def test_missing_style_image_and_content_folder_give_one_line(tmp_path, photo_folder):
    with pytest.raises(UserError, match="style image .*nope.jpg does not exist"):
        train_style_main(["--style", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "x.pt"), "--images", str(photo_folder)])
    style = write_style(tmp_path / "s.png")
    with pytest.raises(UserError, match="content folder .* does not exist"):
        train_style_main(["--style", str(style), "--out", str(tmp_path / "x.pt"), "--images", str(tmp_path / "missing")])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UserError):
        train_style_main(["--style", str(style), "--out", str(tmp_path / "x.pt"), "--images", str(empty), "--steps", "1"])


def test_release_of_a_style_network(tmp_path, photo_folder, monkeypatch):
    import export.release as release

    cfg = tiny_style_config(tmp_path, photo_folder, steps=2)
    train(cfg)
    monkeypatch.setattr(release, "ROOT", tmp_path)
    photo = photo_folder / "img1.png"
    assert release.main([str(cfg.out), "--name", "tinystyle", "--work-size", "64", "--photo", str(photo),
                         "--style", str(cfg.style), "--gatys-steps", "3"]) == 0
    card = json.loads((tmp_path / "realtime" / "bundled" / "tinystyle.json").read_text())
    assert card["style_image"] == "style.png" and card["width"] == 4 and card["cpu_ms_640x480_frame"] > 0
    assert card["cpu_ms_on"] == machine(), "the card says which CPU its times are from"
    picture = cv2.imread(str(tmp_path / "docs" / "styles" / "tinystyle.jpg"))
    assert picture.shape[0] == 64 and picture.shape[1] >= 4 * 64, "photo | style | Gatys | network"
    assert (tmp_path / "models" / "checkpoints" / "tinystyle.pt").is_file()
    card_path = tmp_path / "realtime" / "bundled" / "tinystyle.json"
    card_path.write_text(json.dumps({**card, "cpu_ms_256x256": -1.0}))
    assert release.main(["--retime"]) == 0
    again = json.loads(card_path.read_text())
    assert again["cpu_ms_256x256"] > 0 and again["style_image"] == "style.png" and again["work_size"] == 64
    with pytest.raises(UserError, match="give a checkpoint"):
        release.main([])


def test_only_public_domain_or_generated_style_images_are_shown_in_pictures():
    from models.teachers.style_images import style_thumbnail

    painting = psychedelic(64, seed=5)
    shown = style_thumbnail(painting, "neural_style__starry_night.jpg", 32, 48)
    assert shown.shape == (32, 48, 3) and shown.std() > 20
    hidden = style_thumbnail(painting, "pytorch_examples__mosaic.jpg", 32, 48)
    assert hidden.shape == (32, 48, 3) and abs(float(hidden.mean()) - 96) < 20, "a gray panel, not the image"


def test_the_random_loss_network_size_is_an_option_kept_in_the_checkpoint(tmp_path, photo_folder):
    style = tmp_path / "style.png"
    cv2.imwrite(str(style), psychedelic(64))
    out = tmp_path / "wide.pt"
    assert train_style_main(["--style", str(style), "--out", str(out), "--images", str(photo_folder), "--steps", "2",
                             "--identity-steps", "0", "--width", "4", "--res-blocks", "1", "--crop", "64", "--batch", "1",
                             "--loss-maps", "12"]) == 0
    _, meta, _ = load_checkpoint(out)
    net = loss_network_for(meta)
    assert meta["random_features"]["maps"] == 12 and net.config.maps == 12 and net(torch.rand(1, 3, 64, 64))[0].shape[1] == 48
    with pytest.raises(UserError, match="--loss-maps must be 1 or more"):
        train_style_main(["--style", str(style), "--out", str(out), "--images", str(photo_folder), "--loss-maps", "0"])


def test_init_fine_tunes_a_trained_network_and_a_wrong_shape_says_so(tmp_path, photo_folder):
    first = tiny_style_config(tmp_path, photo_folder, steps=4)
    train(first)
    tuned = replace(first, out=tmp_path / "tuned.pt", init=first.out, steps=1, lr=1e-12)
    train(tuned)
    a, b = read_checkpoint(first.out)["state_dict"], read_checkpoint(tuned.out)["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a), "a tiny step from --init keeps its weights"
    with pytest.raises(UserError, match="--init .*give the same --width"):
        train(replace(tuned, out=tmp_path / "wrong.pt", width=8))
    with pytest.raises(UserError, match="--init .*no such checkpoint"):
        train_style_main(["--style", str(first.style), "--images", str(photo_folder), "--out", str(tmp_path / "x.pt"),
                          "--init", str(tmp_path / "missing.pt")])


def test_the_stability_term_makes_the_network_answer_camera_noise_less(tmp_path, photo_folder):
    """Same start, same steps: with the noise-stability term the trained network's output moves
    less when the frame gets camera-like noise, and the checkpoint records the term."""
    def noise_response(cfg: StyleTrainConfig) -> float:
        model, _, _ = load_checkpoint(cfg.out)
        x = torch.rand(4, 3, 48, 48, generator=torch.Generator().manual_seed(1))
        noisy = (x + torch.randn(x.shape, generator=torch.Generator().manual_seed(2)) * 8 / 255).clamp(0, 1)
        with torch.no_grad():
            return float((model(noisy * 255) - model(x * 255)).pow(2).mean().sqrt())

    plain = tiny_style_config(tmp_path, photo_folder, steps=20)
    train(plain)
    steady = replace(plain, out=tmp_path / "steady.pt", stability_weight=20.0, stability_noise=8.0)
    train(steady)
    assert noise_response(steady) < 0.7 * noise_response(plain)
    meta = read_checkpoint(steady.out)["meta"]
    assert meta["stability_loss"] > 0 and "stability_loss" not in read_checkpoint(plain.out)["meta"]
    with pytest.raises(UserError, match="--stability-noise must be above 0"):
        train_style_main(["--style", str(plain.style), "--images", str(photo_folder), "--out", str(tmp_path / "x.pt"),
                          "--stability-weight", "1", "--stability-noise", "0"])


def test_the_face_term_keeps_a_painted_face_findable(tmp_path, face_photo):
    """Same start, same steps, content of one face photo at three sizes: with the face term
    (MediaPipe's face detector on the output against the photo) the trained network's output
    loses less of the detector's face score on that face than without, and the checkpoint
    records the term; a negative weight is refused in one line.

    The network first learns to give the photo back (90 identity steps, as every style run
    starts), then paints for 30 steps: the face term has a face to keep. Measured: the score lost
    with the term over without it 0.60–0.84 (seeds 0–4, one and two torch threads). Without the
    identity phase (30 painting steps from a random start, this test's first form) both networks
    lose the face entirely (10–11 of a flat grey's 11.5) and which loses less is chance: the term
    lost more on three of four seeds, and seed 0 passed only on one torch thread, which other
    test modules had left set."""
    pytest.importorskip("tflite", reason="the tflite package (train extra) is not installed")
    from models.losses.face_finder import FaceFinderLoss

    try:
        finder = FaceFinderLoss(features=0.0)
    except UserError as e:
        pytest.skip(f"mediapipe's face detector is not available: {e}")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, side in enumerate((96, 112, 128)):
        small = cv2.resize(face_photo, (side, side), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(photos / f"img{i}.png"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    plain = replace(tiny_style_config(tmp_path, photos, steps=120, identity_steps=90), holdout=("none",), loss=StyleLossConfig(style_weight=20.0),
                    crops=CropConfig(crop=96, short_min=96, short_max=128), sample_every=1000)
    x = torch.from_numpy(cv2.resize(face_photo, (128, 128), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float() / 255

    def score_lost(cfg: StyleTrainConfig) -> float:
        model, _, _ = load_checkpoint(cfg.out)
        with torch.no_grad():
            return finder((model(x * 255) / 255).clamp(0, 1), x).item()

    train(plain)
    kept = replace(plain, out=tmp_path / "kept.pt", face_weight=30.0)
    train(kept)
    assert score_lost(kept) < 0.9 * score_lost(plain)
    assert read_checkpoint(kept.out)["meta"]["face_loss"] > 0 and "face_loss" not in read_checkpoint(plain.out)["meta"]
    with pytest.raises(UserError, match="--face-weight is a loss weight"):
        train_style_main(["--style", str(plain.style), "--images", str(photos), "--out", str(tmp_path / "x.pt"), "--face-weight", "-1"])
