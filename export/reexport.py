"""Export bundled filters again from their slim checkpoints, each keeping its contract.

    python -m export.release --reexport                  # every bundled filter
    python -m export.release --reexport cartoon.fast sketch

For a change to how the networks build their graphs (models.networks) that computes the same
picture faster: the bundled ONNX files were exported by the code of their day, so they keep the
old graph until they are exported again. Each filter is exported from
models/checkpoints/NAME.pt with the contract read from its current file (name, work size,
latent names, temporal settings: nothing the release chose is lost) and

- kept as it is when the new graph has the same operators in the same order (only names moved);
- otherwise checked against PyTorch (:func:`export.parity.check_parity`) and against the file it
  replaces on photos from the data folder at the filter's work size (uint8 frames through the
  runtime's own :class:`realtime.filters.engine.FilterModel`): the share of output values that
  moved and the largest move, in grey levels, are printed and returned. The card's
  ``onnx_bytes`` follows the new file; its CPU timings stay until ``--retime``.
"""
from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx

from export.onnx_export import export_model
from export.parity import check_parity
from models.data.media import IMAGE_EXTS, data_root, list_media
from models.networks.checkpoint import load_checkpoint
from realtime.errors import UserError
from realtime.filters.engine import FilterModel
from realtime.filters.onnx_format import read_contract, save_atomic
from realtime.imaging import work_shape

log = logging.getLogger(__name__)
PHOTOS = 6  # photos from the data folder's faces/ each file is compared on


@dataclass(frozen=True)
class Reexported:
    name: str
    changed: bool  # False: the same operators as before, the old file kept
    values_moved: float = 0.0  # share of uint8 output values that differ from the old file's
    largest_move: int = 0  # grey levels


def ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


def photos(count: int = PHOTOS) -> list[np.ndarray]:
    """The first ``count`` photos of the data folder's faces/ (BGR); none when it is absent."""
    folder = data_root() / "faces"
    files = list_media(folder, IMAGE_EXTS)[:count] if folder.is_dir() else []
    return [img for img in (cv2.imread(str(p)) for p in files) if img is not None]


def compare(old: Path, new: Path, images: list[np.ndarray]) -> tuple[float, int]:
    """(share of output values that differ, largest difference) of two filter files on ``images``
    at the contract's work size, every latent code."""
    a, b = FilterModel(old, "cpu"), FilterModel(new, "cpu")
    contract = a.contract
    moved = total = largest = 0
    for img in images:
        h, w = contract.fixed_size or work_shape(*img.shape[:2], contract.work_size)
        small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        for code in range(max(contract.latent_codes, 1)):
            x, y = a.infer(small, code).image, b.infer(small, code).image
            diff = cv2.absdiff(x, y)
            moved += int(np.count_nonzero(diff))
            total += diff.size
            largest = max(largest, int(diff.max()))
    return moved / max(total, 1), largest


def reexport(bundled: Path, checkpoints: Path, names: list[str]) -> list[Reexported]:
    """Export ``names`` (all of ``bundled``'s filters when empty) again; see the module doc."""
    names = names or sorted(p.name.removesuffix(".onnx") for p in bundled.glob("*.onnx"))
    missing = [n for n in names if not (bundled / f"{n}.onnx").is_file() or not (checkpoints / f"{n}.pt").is_file()]
    if missing:
        raise UserError(f"no bundled file or checkpoint for {', '.join(missing)}: name bundled filters "
                        f"({', '.join(sorted(p.stem for p in checkpoints.glob('*.pt')))})")
    images = photos()
    if not images:
        log.warning("no photos under %s: the new files are checked against PyTorch only", data_root() / "faces")
    results = []
    for name in names:
        current = bundled / f"{name}.onnx"
        model, _, _ = load_checkpoint(checkpoints / f"{name}.pt")
        contract = read_contract(current)
        with tempfile.TemporaryDirectory() as tmp:
            fresh = export_model(model, contract, Path(tmp) / current.name)
            if ops(onnx.load(str(fresh))) == ops(onnx.load(str(current))):
                results.append(Reexported(name, changed=False))
                log.info("%s: the same operators, kept", name)
                continue
            check_parity(model, fresh, contract, "fp32")
            share, largest = compare(current, fresh, images) if images else (0.0, 0)
            save_atomic(onnx.load(str(fresh)), current)
        card_path = current.with_suffix(".json")
        if card_path.is_file():
            card = json.loads(card_path.read_text())
            card["onnx_bytes"] = current.stat().st_size
            card_path.write_text(json.dumps(card, indent=2) + "\n")
        results.append(Reexported(name, True, share, largest))
        log.info("%s: exported again; %.4f %% of output values moved, by up to %d levels", name, 100 * share, largest)
    return results
