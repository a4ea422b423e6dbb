"""Pictures of a trained network's output for the README: a paired filter beside its teacher
(one column per teacher variant), a style network beside its style image and a Gatys still.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from models.media import fit_short_side
from models.style_images import style_thumbnail
from models.teachers import CARTOON_STYLES, cartoon


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
