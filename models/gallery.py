"""Pictures of a trained network's output for the README: a paired filter beside its teacher
(one column per teacher variant), a style network beside its style image and a Gatys still,
a face filter run by the runtime itself beside its teacher on the same crop, and the same
filters before and after a retraining:

    python -m models.gallery --before OLD_DIR --filter candy starry_night --out docs/styles/before_after.jpg
"""
from __future__ import annotations

import argparse
import cv2
import numpy as np
import torch

from pathlib import Path

from models.data.media import fit_short_side
from models.teachers.style_images import style_thumbnail


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
    """Rows: teacher style | model with the code that style maps to; first column the input.
    The teacher is the one the checkpoint was trained from (cartoon, sketch, oil, watercolor)."""
    from models.teachers.classical import STYLED_TEACHERS

    fn, styles = STYLED_TEACHERS[str(meta.get("teacher") or "cartoon")]
    img = fit_short_side(photo, short)
    h, w = (img.shape[0] // 4) * 4, (img.shape[1] // 4) * 4
    img = np.ascontiguousarray(img[:h, :w])
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    codes = meta.get("style_codes", {})
    tiles_top, tiles_bottom = [img], [img]
    with torch.no_grad():
        for style_name, style in styles.items():
            code = int(codes.get(style_name, 0))
            y = model(x, latent=torch.tensor([code])).image.clamp(0, 1)[0].permute(1, 2, 0).numpy()
            tiles_top.append(fn(img, style))
            tiles_bottom.append((y * 255 + 0.5).astype(np.uint8))
    return np.concatenate([np.concatenate(tiles_top, 1), np.concatenate(tiles_bottom, 1)], 0)


def face_gallery(onnx_path: Path, meta: dict, photo: np.ndarray, teacher: str, short: int = 512) -> np.ndarray:
    """Rows: the teacher's variants | the exported network (run by ``realtime``, as a user runs
    it) with the code each variant maps to; first column the photo. The teacher draws on the
    same aligned crop and is pasted back the same way, so the rows differ only by the network."""
    import realtime
    from models.data.face_crops import warp_crop
    from models.train_pairs import FACE_TEACHERS
    from realtime.filters.kinds.face_filter import paste_change
    from realtime.filters.onnx_format import read_contract
    from realtime.analysis.segmentation import MaskConfig, PersonSegmenter
    from realtime.analysis.tracking import FaceTracker, face_transform, feather_mask

    img = fit_short_side(photo, short)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    size = read_contract(onnx_path).work_size
    tracker, segmenter = FaceTracker(static=True, max_faces=4), PersonSegmenter(MaskConfig(model="general"), static=True)
    try:
        faces, person = tracker.faces(bgr, 0.0), segmenter(bgr)
    finally:
        tracker.close()
        segmenter.close()
    chain = realtime.load_chain(str(onnx_path), provider="cpu", variant="full")
    codes = meta.get("style_codes", {})
    top, bottom = [img], [img]
    fn, styles = FACE_TEACHERS[teacher]
    for style_name, style in styles.items():
        out = bgr
        for face in faces:
            m = face_transform(face, 256)
            crop = warp_crop(img, m, 256)
            lm = face.landmarks @ m[:, :2].T + m[:, 2]
            mask = (np.clip(cv2.warpAffine(person, m, (256, 256), borderMode=cv2.BORDER_REPLICATE), 0, 1) * 255).astype(np.uint8)
            aged = cv2.cvtColor(fn(crop, lm, mask, style), cv2.COLOR_RGB2BGR)
            change = cv2.resize(aged.astype(np.float32) - cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), (size, size), interpolation=cv2.INTER_AREA)
            out = paste_change(out, change, feather_mask(size), face_transform(face, size))
        top.append(cv2.cvtColor(out, cv2.COLOR_BGR2RGB))
        bottom.append(cv2.cvtColor(chain.apply(bgr, latent=int(codes.get(style_name, 0))), cv2.COLOR_BGR2RGB))
    if faces:  # show the faces large: their box, grown to take in the hair
        boxes = np.array([face.box for face in faces])
        (x0, y0), (x1, y1) = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
        gx, gy = 0.35 * (x1 - x0), 0.45 * (y1 - y0)
        h, w = img.shape[:2]
        x0, y0, x1, y1 = max(0, int(x0 - gx)), max(0, int(y0 - gy)), min(w, int(x1 + gx)), min(h, int(y1 + 0.25 * (y1 - y0)))
        zoom = 320 / (y1 - y0)
        top, bottom = ([cv2.resize(t[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LANCZOS4) for t in row] for row in (top, bottom))
    return np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)


def earlier_file(before: Path, name: str, variant: str) -> Path:
    return before / (f"{name}.fast.onnx" if variant == "fast" else f"{name}.onnx")


def before_after(names: list[str], before: Path, photo: np.ndarray, short: int = 320, variant: str = "full") -> np.ndarray:
    """Rows, one per filter: photo | ``before/NAME.onnx`` (``NAME.fast.onnx`` for the fast
    variant) | the bundled NAME's ``variant`` (both run by ``realtime`` at their work size, as a
    user runs them)."""
    import realtime

    img = fit_short_side(photo, short)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    rows = []
    for name in names:
        # the earlier file already is the variant's own file; the bundled name picks its variant
        earlier = realtime.load_chain(str(earlier_file(before, name, variant)), provider="cpu", variant="full")
        now = realtime.load_chain(name, provider="cpu", variant=variant)
        tiles = [bgr] + [chain.apply(bgr) for chain in (earlier, now)]
        rows.append(cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_BGR2RGB))
    return np.concatenate(rows, 0)


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root, read_rgb
    from realtime.errors import UserError
    from realtime.filters.registry import bundled_filters

    p = argparse.ArgumentParser(prog="python -m models.gallery", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, required=True, help="folder with the earlier NAME.onnx files")
    p.add_argument("--filter", nargs="+", required=True, help="bundled filters")
    p.add_argument("--variant", choices=["full", "fast"], default="full")
    p.add_argument("--photo", type=Path, default=data_root() / "faces" / "skimage__astronaut.png")
    p.add_argument("--out", type=Path, required=True, help="a .jpg or .png")
    a = p.parse_args(argv)
    missing = [n for n in a.filter if n not in bundled_filters()]
    missing += [str(f) for f in (*(earlier_file(a.before, n, a.variant) for n in a.filter), a.photo) if not f.is_file()]
    if missing:
        raise UserError(f"not found: {', '.join(missing)}")
    picture = before_after(a.filter, a.before, read_rgb(a.photo), variant=a.variant)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    from realtime.errors import run_cli

    raise SystemExit(run_cli(main))
