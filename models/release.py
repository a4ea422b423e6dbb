"""Turn a training checkpoint into a bundled filter: slim checkpoint, ONNX, model card, picture.

    python -m models.release runs/cartoon.pt --work-size 384 --license MIT
    python -m models.release runs/mosaic.pt --work-size 360 --style STYLE.jpg   # a style network
    python -m models.release runs/mosaic_fast.pt --work-size 720    # a distilled student → mosaic.fast.onnx
    python -m models.release --retime        # measure every bundled card's CPU times again

Writes models/checkpoints/NAME.pt (weights + config + metadata, no optimiser state),
realtime/bundled/NAME.onnx (parity-checked) and NAME.json (size, CPU times, and validation L1
for paired filters), and a picture: docs/NAME_astronaut.jpg (input | teacher | model for each
latent code) for paired filters; docs/styles/NAME.jpg (photo | style | Gatys | network) for
style networks, the Gatys still made with the same loss network the network was trained with.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from export.cli import latent_names
from export.errors import UserError, run_cli
from export.onnx_export import contract_for, export_model, latent_codes
from export.parity import check_parity
from models.checkpoint import load_checkpoint, save_checkpoint
from models.guided import GuidedUpsample
from models.media import data_root, fit_short_side, read_rgb
from models.style_images import read_style, style_thumbnail
from models.teachers import CARTOON_STYLES, cartoon
from models.transformer_net import TransformerNet
from realtime.filters import work_shape
from realtime.stats import median_ms

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("release")


def cpu_ms_per_frame(onnx_path: Path, h: int, w: int, runs: int = 20) -> float:
    """Median ONNX Runtime CPU time for one h×w frame (code 0 when the model has a latent)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {"input": np.random.rand(1, 3, h, w).astype(np.float32)}
    if any(i.name == "latent" for i in session.get_inputs()):
        feeds["latent"] = np.zeros(1, np.int64)
    return median_ms(lambda: session.run(None, feeds), runs)


def cpu_times(onnx_path: Path, work_size: int, multiple: int) -> dict[str, float | int]:
    """The model card's CPU timings (ONNX Runtime, all cores of this machine)."""
    wh, ww = (-(-side // multiple) * multiple for side in work_shape(480, 640, work_size))  # the engine pads to the multiple
    return {
        "cpu_ms_256x256": round(cpu_ms_per_frame(onnx_path, 256, 256), 1),
        "work_size": work_size,
        # a 640×480 camera frame runs at the work size (short side), then is resized back
        "cpu_ms_640x480_frame": round(cpu_ms_per_frame(onnx_path, wh, ww), 1),
        "cpu_ms_640x480_full_res": round(cpu_ms_per_frame(onnx_path, 480, 640, runs=5), 1),
    }


def retime(folder: Path) -> list[dict]:
    """Measure the CPU timings of every bundled model card again (on an otherwise idle machine)."""
    from realtime.engine import load_onnx, model_contract

    cards = []
    for card_path in sorted(folder.glob("*.json")):
        onnx_path = card_path.with_suffix(".onnx")
        if not onnx_path.is_file():
            continue
        card = json.loads(card_path.read_text())
        contract = model_contract(load_onnx(onnx_path, weights=False), onnx_path)
        card.update(cpu_times(onnx_path, int(card.get("work_size") or contract.work_size), contract.size_multiple))
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        cards.append(card)
        print(f"{card['name']}: {card['cpu_ms_256x256']} ms at 256×256, {card['cpu_ms_640x480_frame']} ms per 640×480 frame "
              f"(work size {card['work_size']}), {card['cpu_ms_640x480_full_res']} ms at full 640×480")
    return cards


def style_gallery(model: torch.nn.Module, meta: dict, photo: np.ndarray, style: np.ndarray, short: int,
                  gatys_steps: int) -> np.ndarray:
    """One row: photo | style image | Gatys still (same loss network) | the trained network."""
    from models.stylize_image import GatysConfig, stylize
    from models.train_style import loss_config, loss_network_for

    img = fit_short_side(photo, short)
    h, w = (img.shape[0] // 4) * 4, (img.shape[1] // 4) * 4
    img = np.ascontiguousarray(img[:h, :w])
    thumb = style_thumbnail(style, str(meta.get("style_image", "")), h, w)
    with torch.no_grad():
        y = model(torch.from_numpy(img).permute(2, 0, 1)[None].float()).clamp(0, 255)[0].permute(1, 2, 0).numpy()
    tiles = [img, thumb]
    if gatys_steps > 0:
        net, loss_cfg = loss_network_for(meta), loss_config(meta)
        still, _ = stylize(img, style, net, GatysConfig(size=short, steps=gatys_steps), loss_cfg)
        tiles.append(cv2.resize(still, (w, h), interpolation=cv2.INTER_AREA))
    tiles.append((y + 0.5).astype(np.uint8))
    return np.concatenate(tiles, 1)


def gallery(model: torch.nn.Module, meta: dict, photo: np.ndarray, short: int) -> np.ndarray:
    """Rows: teacher style | model with the code that style maps to; first column the input."""
    img = fit_short_side(photo, short)
    h, w = (img.shape[0] // 4) * 4, (img.shape[1] // 4) * 4
    img = np.ascontiguousarray(img[:h, :w])
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    codes = meta.get("style_codes", {})
    tiles_top, tiles_bottom = [img], [img]
    with torch.no_grad():
        for style_name, style in CARTOON_STYLES.items():
            code = int(codes.get(style_name, 0))
            y = model(x, latent=torch.tensor([code])).image.clamp(0, 1)[0].permute(1, 2, 0).numpy()
            tiles_top.append(cartoon(img, style))
            tiles_bottom.append((y * 255 + 0.5).astype(np.uint8))
    return np.concatenate([np.concatenate(tiles_top, 1), np.concatenate(tiles_bottom, 1)], 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, nargs="?")
    p.add_argument("--retime", action="store_true", help="only measure the CPU times of every bundled model card again")
    p.add_argument("--name", help="filter name (default: from the checkpoint)")
    p.add_argument("--work-size", type=int, default=384)
    p.add_argument("--license", default="MIT")
    p.add_argument("--photo", type=Path, default=data_root() / "faces" / "skimage__astronaut.png")
    p.add_argument("--style", type=Path, help="style networks: the style image (default: found by name under the data folder)")
    p.add_argument("--gatys-steps", type=int, default=300, help="style networks: Gatys steps for the comparison still (0 = skip)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("onnx_ir").setLevel(logging.WARNING)
    if a.retime:
        retime(ROOT / "realtime" / "bundled")
        return 0
    if a.checkpoint is None:
        raise UserError("give a checkpoint to release (or --retime)")
    model, meta, _ = load_checkpoint(a.checkpoint)
    is_student = isinstance(model, GuidedUpsample)
    is_style = isinstance(model.net if is_student else model, TransformerNet)
    if is_student:  # a distilled CPU student ships beside its teacher as NAME.fast.onnx
        if "val_ssim" not in meta or not meta.get("teacher_name"):
            raise UserError(f"{a.checkpoint} has no validation SSIM or teacher name: distil it with python -m models.distill")
        name = a.name or f"{meta['teacher_name']}.fast"
    else:
        name = a.name or meta.get("name") or a.checkpoint.stem
    if not is_style and not is_student and "val_l1" not in meta:
        raise UserError(f"{a.checkpoint} has no validation L1: train with held-out images first")
    trainer = "models.distill" if is_student else "models.train_style" if is_style else "models.train_pairs"
    meta = {**meta, "name": name, "license": a.license, "source": f"trained by {trainer} on ../shared/data ({meta.get('steps')} steps)"}
    meta.pop("history", None)
    slim = ROOT / "models" / "checkpoints" / f"{name}.pt"
    save_checkpoint(slim, model, meta)
    codes = latent_codes(model)
    # a student is the same filter as its teacher (stats, hotkeys and chains show one name)
    contract = contract_for(model, meta["teacher_name"] if is_student else name, work_size=a.work_size, license=a.license, source=meta["source"],
                            latent_names=latent_names(meta, codes))
    onnx_path = export_model(model, contract, ROOT / "realtime" / "bundled" / f"{name}.onnx")
    check_parity(model, onnx_path, contract, "fp32")
    card: dict = {"name": name}
    if is_student:
        card.update(teacher=meta["teacher_name"], factor=model.config.factor, validation_ssim_to_teacher=meta["val_ssim"],
                    style_image=meta.get("style_image"), style_codes=meta.get("style_codes", {}))
    elif is_style:
        card.update(style_image=meta.get("style_image"), loss_net=meta.get("loss_net"), width=model.config.width,
                    content_loss=meta.get("content_loss"), style_loss=meta.get("style_loss"))
    else:
        card.update(validation_l1=round(float(meta["val_l1"]), 5), validation_l1_255=round(float(meta["val_l1"]) * 255, 2),
                    style_codes=meta.get("style_codes", {}))
    card.update({
        "train_steps": meta.get("steps"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "onnx_bytes": onnx_path.stat().st_size,
        "checkpoint_bytes": slim.stat().st_size,
        **cpu_times(onnx_path, a.work_size, contract.size_multiple),
    })
    (ROOT / "realtime" / "bundled" / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    if a.photo.is_file() and not is_student:
        if is_style:
            style_name = str(meta.get("style_image", ""))
            default = data_root() / "styles" / style_name
            style = read_style(a.style or (default if default.is_file() else style_name))
            picture = style_gallery(model, meta, read_rgb(a.photo), style, a.work_size, a.gatys_steps)
            out = ROOT / "docs" / "styles" / f"{name}.jpg"
        else:
            picture = gallery(model, meta, read_rgb(a.photo), 384)
            out = ROOT / "docs" / f"{name}_astronaut.jpg"
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
