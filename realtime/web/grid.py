"""``latent=all``: every variant of a filter side by side, one labelled tile each."""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

TILE_SIDE = 384  # a tile's long side at most: 4 variants of a 12 MP photo make a 768×1024 grid, not 48 MP
LABEL_HEIGHT = 28
GAP = 4
FONT, FONT_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.55


def shrink(bgr: np.ndarray, side: int = TILE_SIDE) -> np.ndarray:
    """``bgr`` scaled down so its long side is at most ``side`` (never enlarged)."""
    h, w = bgr.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return bgr
    return cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def labelled(tile: np.ndarray, text: str) -> np.ndarray:
    """``tile`` under a dark strip holding ``text`` (cut to fit the tile's width)."""
    h, w = tile.shape[:2]
    strip = np.full((LABEL_HEIGHT, w, 3), 32, np.uint8)
    cv2.putText(strip, fit(text, w - 12), (6, LABEL_HEIGHT - 9), FONT, FONT_SCALE, (240, 240, 240), 1, cv2.LINE_AA)
    return np.concatenate([strip, tile], axis=0)


def fit(text: str, width: int) -> str:
    """``text``, cut and ended with '..' where it is wider than ``width`` pixels."""
    def wide(t: str) -> bool:
        return cv2.getTextSize(t, FONT, FONT_SCALE, 1)[0][0] > width
    if not wide(text):
        return text
    while len(text) > 1 and wide(text + ".."):
        text = text[:-1]
    return text + ".."


def grid(tiles: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """The tiles (all one size) labelled and laid out in a near-square grid on dark gray."""
    cells = [labelled(t, s) for t, s in zip(tiles, labels, strict=True)]
    cols = math.ceil(math.sqrt(len(cells)))
    rows = math.ceil(len(cells) / cols)
    ch, cw = cells[0].shape[:2]
    out = np.full((rows * ch + (rows + 1) * GAP, cols * cw + (cols + 1) * GAP, 3), 48, np.uint8)
    for i, cell in enumerate(cells):
        r, c = divmod(i, cols)
        y, x = GAP + r * (ch + GAP), GAP + c * (cw + GAP)
        out[y:y + ch, x:x + cw] = cell
    return out
