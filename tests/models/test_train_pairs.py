from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

from models.networks.checkpoint import load_checkpoint, read_checkpoint
from models.data.pairs import CropConfig
from models.teachers.classical import CARTOON_STYLES, cartoon, random_cartoon
from models.train_pairs import TrainConfig, train
from tests.conftest import synthetic_photo


def tiny_config(tmp_path: Path, data: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(
        out=tmp_path / "tiny.pt", data=data, holdout=("img0",), channels=(8, 16), blocks_per_level=1,
        latent_codes=kw.pop("latent_codes", 2), residual_output=True, steps=steps, batch_size=4,
        crops=CropConfig(crop=32, short_min=48, short_max=64), lr=3e-3, save_every=kw.pop("save_every", 10), **kw,
    )


def test_cartoon_teacher_variants_differ_and_keep_shape():
    img = synthetic_photo(64, 80, 0)
    outs = [cartoon(img, s) for s in CARTOON_STYLES.values()]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    assert min(np.abs(a.astype(int) - b).mean() for i, a in enumerate(outs) for b in outs[i + 1:]) > 1.0
    assert random_cartoon(img, random.Random(0)).shape == img.shape


def test_a_few_training_steps_lower_the_loss(tmp_path, photo_folder):
    meta = train(tiny_config(tmp_path, photo_folder, steps=40))
    history = read_checkpoint(tmp_path / "tiny.pt")["train_state"]["history"]
    assert len(history) == 40
    assert np.mean(history[-8:]) < 0.8 * np.mean(history[:8])
    assert "val_l1" in meta and 0 < meta["val_l1"] < 1
    model, saved_meta, _ = load_checkpoint(tmp_path / "tiny.pt")
    assert saved_meta["steps"] == 40 and model.config.latent_codes == 2


def test_training_resumes_where_it_stopped(tmp_path, photo_folder):
    train(tiny_config(tmp_path, photo_folder, steps=10))
    train(tiny_config(tmp_path, photo_folder, steps=16), resume=True)
    state = read_checkpoint(tmp_path / "tiny.pt")["train_state"]
    assert state["step"] == 16 and len(state["history"]) == 16


def test_training_from_a_folder_of_pairs(tmp_path):
    for sub in ("inputs", "outputs"):
        (tmp_path / "pairs" / sub).mkdir(parents=True)
    for i in range(3):
        img = synthetic_photo(70, 90, i)
        cv2.imwrite(str(tmp_path / "pairs" / "inputs" / f"{i}.png"), img)
        cv2.imwrite(str(tmp_path / "pairs" / "outputs" / f"{i}.png"), 255 - img)
    cfg = tiny_config(tmp_path, tmp_path, steps=30, latent_codes=0, pairs=tmp_path / "pairs", teacher=None)
    train(cfg)
    history = read_checkpoint(cfg.out)["train_state"]["history"]
    assert np.mean(history[-6:]) < np.mean(history[:6])


def test_kmeans_finds_separated_clusters():
    import torch

    from models.networks.unet import kmeans

    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0, 0], [5, 0, 0], [0, 5, 5]])
    points = torch.cat([c + 0.1 * torch.randn(30, 3, generator=g) for c in centres])
    found = kmeans(points, 3)
    assert torch.cdist(centres, found).min(dim=1).values.max() < 0.2


def test_vq_warmup_then_quantised_training(tmp_path, photo_folder):
    import torch

    cfg = tiny_config(tmp_path, photo_folder, steps=12, vq_warmup=6)
    train(cfg)
    model, meta, _ = load_checkpoint(cfg.out)
    book = model.quantizer.codebook.detach()
    assert torch.isfinite(book).all() and torch.pdist(book).min() > 0
    assert meta["steps"] == 12 and "style_codes" in meta


def test_a_teacher_that_names_its_variants_trains_one_code_each(tmp_path, photo_folder):
    """cartoon has 4 named variants: with 4 codes each variant trains its own code (no VQ
    discovery), and the codes' outputs come apart."""
    import torch

    cfg = tiny_config(tmp_path, photo_folder, steps=30, latent_codes=len(CARTOON_STYLES))
    meta = train(cfg)
    assert meta["codes_from_teacher"] and meta["style_codes"] == {name: k for k, name in enumerate(CARTOON_STYLES)}
    model, _, _ = load_checkpoint(cfg.out)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        outs = [model(x, latent=torch.tensor([k])).image for k in range(len(CARTOON_STYLES))]
    assert min((a - b).abs().mean() for i, a in enumerate(outs) for b in outs[i + 1:]) > 1e-4
    assert "val_ratio" in meta and 0 < meta["val_ratio"] < 2


def test_sketch_oil_and_watercolor_teachers_look_like_their_names(face_photo):
    from models.teachers.classical import OIL_STYLES, SKETCH_STYLES, TEACHERS, WATERCOLOR_STYLES, oil, sketch, watercolor

    img = np.ascontiguousarray(cv2.resize(face_photo, (192, 192), interpolation=cv2.INTER_AREA))
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    roughness = lambda rgb: np.abs(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean()  # noqa: E731
    for fn, styles in ((sketch, SKETCH_STYLES), (oil, OIL_STYLES), (watercolor, WATERCOLOR_STYLES)):
        outs = [fn(img, s) for s in styles.values()]
        assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
        assert min(np.abs(a.astype(int) - b).mean() for i, a in enumerate(outs) for b in outs[i + 1:]) > 1.0, fn.__name__
        assert TEACHERS[fn.__name__](img, random.Random(0)).shape == img.shape
    pencil = sketch(img, SKETCH_STYLES["graphite"])
    assert np.median(pencil) > 200 and np.median(gray) < 200  # mostly paper, the photo is not
    assert (pencil.max(axis=2) - pencil.min(axis=2)).max() == 0  # graphite: grey only
    painted = oil(img, OIL_STYLES["fine"])
    edges = lambda rgb: np.percentile(np.hypot(*(cv2.Sobel(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F, dx, 1 - dx) for dx in (0, 1))), 99)  # noqa: E731
    assert roughness(painted) < 0.9 * roughness(img) and edges(painted) > 0.9 * edges(img)  # flat patches, sharp borders (a blur loses both)
    wash = watercolor(img, WATERCOLOR_STYLES["wash"])
    assert wash.mean() > img.mean() + 5 and roughness(wash) < 0.9 * roughness(img)  # lighter, in flatter washes


def test_a_sketch_clone_makes_its_grey_styles_codes_grey(tmp_path, photo_folder):
    """A new run carries the teacher's grey styles as monochrome codes; a clone saved before the
    flag gets them from its meta (what export.release and models.distill do)."""
    import torch

    from models.networks.calling import set_monochrome_codes
    from models.teachers.classical import SKETCH_STYLES
    from models.train_pairs import mark_monochrome

    cfg = tiny_config(tmp_path, photo_folder, steps=2, latent_codes=len(SKETCH_STYLES), teacher="sketch")
    meta = train(cfg)
    model, _, _ = load_checkpoint(cfg.out)
    assert model.config.monochrome_codes == (0, 1)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        outs = [model(x, latent=torch.tensor([k])).image for k in range(3)]
    assert [float((o.amax(1) - o.amin(1)).max()) == 0.0 for o in outs] == [True, True, False]
    set_monochrome_codes(model, ())  # as a checkpoint from before the flag
    assert mark_monochrome(model, meta) == (0, 1) and model.config.monochrome_codes == (0, 1)
    assert mark_monochrome(model, {"teacher": "cartoon", "style_codes": {"bold": 0}}) == (0, 1)  # kept
