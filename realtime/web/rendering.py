"""The work behind ``POST /api/apply``, run in a worker thread: decode the checked upload,
filter it (or every variant of it), encode the PNG.

The PNG is written with OpenCV's defaults (level 1, run-length strategy): a 640×480 cartoon
result takes 9 ms and 454 KB on the 2-core reference machine; level 1 with zlib's default
strategy takes 21 ms for 394 KB, level 3 22 ms for 375 KB. On localhost the bytes cost less
than the time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.compositing.background import Backdrop
from realtime.filters.chain import Chain
from realtime.web.chains import ChainCache
from realtime.web.grid import grid, shrink
from realtime.capture.image_header import ImageHeader
from realtime.web.options import ApplyOptions
from realtime.web.uploads import decode_image


@dataclass(frozen=True)
class Rendered:
    png: bytes
    filter_ms: float  # the filter alone (decoding, loading and encoding left out)


def render(chains: ChainCache, data: bytes, header: ImageHeader, options: ApplyOptions) -> Rendered:
    bgr = decode_image(data, header)
    chain = chains.get(options.spec)
    backdrop = options.backdrop()
    start = time.perf_counter()
    image = apply(chain, bgr, options, backdrop) if options.latent is not None else variants(chain, bgr, options, backdrop)
    filter_ms = (time.perf_counter() - start) * 1000
    return Rendered(encode_png(image), filter_ms)


def apply(chain: Chain, bgr: np.ndarray, options: ApplyOptions, backdrop: Backdrop | None, latent: int | None = None) -> np.ndarray:
    """``bgr`` through ``chain`` with the options' settings (``latent`` overriding theirs)."""
    code = options.latent if latent is None else latent
    return chain.apply(bgr, strength=options.strength, latent=code or 0, background=backdrop)


def variants(chain: Chain, bgr: np.ndarray, options: ApplyOptions, backdrop: Backdrop | None) -> np.ndarray:
    """One labelled tile per latent code, each the upload (scaled down) filtered with it."""
    small = shrink(bgr)
    tiles = [apply(chain, small, options, backdrop, latent=code) for code in range(len(options.variants))]
    return grid(tiles, [f"{code}: {name}" for code, name in enumerate(options.variants)])


def encode_png(bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {bgr.shape} image as PNG")
    return buf.tobytes()
