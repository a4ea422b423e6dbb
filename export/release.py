"""Turn a training checkpoint into a bundled filter: slim checkpoint, ONNX, model card, picture.

    python -m export.release runs/cartoon.pt --work-size 384 --license MIT
    python -m export.release runs/mosaic.pt --work-size 360 --style STYLE.jpg   # a style network
    python -m export.release runs/mosaic_fast.pt --work-size 720    # a distilled student → mosaic.fast.onnx
    python -m export.release runs/aged.pt --work-size 192           # a face filter (kind from its teacher)
    python -m export.release runs/aged_fast.pt --work-size 160      # its light clone, NAME.fast → aged.fast.onnx
    python -m export.release --retime        # measure every bundled card's CPU times again
    python -m export.release --reexport      # every bundled filter's graph from today's code (export.reexport)
    python -m export.release runs/candy_fast.pt --work-size 720 --temporal-keep 0.98 --temporal-floor 2
        # the stabiliser's settings measured for it (benchmarks.flicker), in its contract and card

Writes models/checkpoints/NAME.pt (weights + config + metadata, no optimiser state),
realtime/bundled/NAME.onnx (parity-checked) and NAME.json (the model card:
:mod:`export.model_card`), and a picture (:mod:`models.gallery`): docs/NAME_astronaut.jpg
(input | teacher | model for each latent code) for paired filters; docs/styles/NAME.jpg
(photo | style | Gatys | network) for style networks. A face teacher's clone (``aged``) is a
``face`` filter; a clone named ``NAME.fast`` (a lighter network trained on the same teacher) ships
as NAME's fast variant. A clone trained with ``models.train_pairs --post STEP`` (``aged``: creases)
asks the runtime for the step in its contract (``filter.post``, ``filter.post_styles``: the style
of each latent code), and its card says ``"post": STEP``.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2

from export.cli import add_temporal_options, latent_names, temporal_card, temporal_overrides
from realtime.errors import UserError, run_cli
from export.model_card import cpu_times, retime
from export.onnx_export import contract_for, export_model
from models.networks.calling import latent_codes
from export.parity import check_parity
from export.reexport import reexport
from models.networks.checkpoint import load_checkpoint, save_checkpoint, steps_trained
from models.gallery import face_gallery, gallery, style_gallery
from models.networks.guided import GuidedUpsample
from models.data.media import data_root, read_rgb
from models.teachers.style_images import read_style
from models.train_pairs import FACE_TEACHERS, mark_monochrome
from models.networks.transformer_net import TransformerNet

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("release")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.release", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, nargs="?")
    p.add_argument("--retime", action="store_true", help="only measure the CPU times of every bundled model card again")
    p.add_argument("--reexport", nargs="*", metavar="NAME",
                   help="only export bundled filters again from their checkpoints, keeping each contract (default: all of them)")
    p.add_argument("--name", help="filter name (default: from the checkpoint)")
    p.add_argument("--work-size", type=int, default=384)
    p.add_argument("--license", default="MIT")
    p.add_argument("--photo", type=Path, default=data_root() / "faces" / "skimage__astronaut.png")
    p.add_argument("--style", type=Path, help="style networks: the style image (default: found by name under the data folder)")
    add_temporal_options(p)
    p.add_argument("--gatys-steps", type=int, default=300, help="style networks: Gatys steps for the comparison still (0 = skip)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("onnx_ir").setLevel(logging.WARNING)
    if a.retime:
        retime(ROOT / "realtime" / "bundled")
        return 0
    if a.reexport is not None:
        for r in reexport(ROOT / "realtime" / "bundled", ROOT / "models" / "checkpoints", a.reexport):
            print(f"{r.name}: " + (f"exported again, {100 * r.values_moved:.4f} % of output values moved by up to {r.largest_move} levels"
                                    if r.changed else "the same operators, kept"))
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
    teacher = meta.get("teacher")
    kind = "face" if teacher in FACE_TEACHERS else None
    filter_name = name.removesuffix(".fast")  # a fast variant is the same filter (--name starry_night.fast: starry_night)
    if not is_style and not is_student and "val_l1" not in meta:
        raise UserError(f"{a.checkpoint} has no validation L1: train with held-out images first")
    trainer = "models.distill" if is_student else "models.train_style" if is_style else "models.train_pairs"
    meta = {**meta, "name": name, "license": a.license, "source": f"trained by {trainer} on ../shared/data ({steps_trained(meta)} steps)"}
    meta.pop("history", None)
    if not is_student:  # a clone saved before the flag: its grey styles' codes made grey (a student inherits them)
        mark_monochrome(model, meta)
    codes = latent_codes(model)
    # a student is the same filter as its teacher (stats, hotkeys and chains show one name)
    names = latent_names(meta, codes)
    # a clone trained without a step the runtime draws after it (train_pairs --post): the contract asks for the step,
    # in the style each code was trained on (a student inherits its teacher's meta)
    post = str(meta.get("post") or "")
    contract = contract_for(model, filter_name, kind=kind, work_size=a.work_size, license=a.license, source=meta["source"],
                            latent_names=names, post=post, post_styles=names if post else (), **temporal_overrides(a))
    slim = ROOT / "models" / "checkpoints" / f"{name}.pt"  # written once the contract (every option) is known to be valid
    save_checkpoint(slim, model, meta)
    onnx_path = export_model(model, contract, ROOT / "realtime" / "bundled" / f"{name}.onnx")
    check_parity(model, onnx_path, contract, "fp32")
    card: dict = {"name": name}
    if is_student:
        card.update(teacher=filter_name, factor=model.config.factor, validation_ssim_to_teacher=meta["val_ssim"],
                    style_image=meta.get("style_image"), style_codes=meta.get("style_codes", {}))
    elif is_style:
        card.update(style_image=meta.get("style_image"), loss_net=meta.get("loss_net"), width=model.config.width,
                    content_loss=meta.get("content_loss"), style_loss=meta.get("style_loss"))
    else:
        card.update(validation_l1=round(float(meta["val_l1"]), 5), validation_l1_255=round(float(meta["val_l1"]) * 255, 2),
                    style_codes=meta.get("style_codes", {}), teacher=teacher)
    if post:  # drawn by the runtime after the network (realtime/filters/kinds/face_filter.py)
        card["post"] = post
    card.update(temporal_card(contract))
    if "val_ratio" in meta:  # a clone of a classical teacher: L1(network, teacher) / L1(photo, teacher), held out
        card["validation_ratio_to_photo"] = round(float(meta["val_ratio"]), 3)
    card.update({
        "train_steps": steps_trained(meta),
        "parameters": sum(p.numel() for p in model.parameters()),
        "onnx_bytes": onnx_path.stat().st_size,
        "checkpoint_bytes": slim.stat().st_size,
        **cpu_times(onnx_path, a.work_size, contract.size_multiple, contract.kind),
    })
    (ROOT / "realtime" / "bundled" / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    if a.photo.is_file() and kind == "face" and name == filter_name:
        out = ROOT / "docs" / f"{name}_astronaut.jpg"
        picture = face_gallery(onnx_path, meta, read_rgb(a.photo), teacher)
        cv2.imwrite(str(out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    elif a.photo.is_file() and not is_student and name == filter_name:
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
