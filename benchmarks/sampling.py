"""What the speed benchmarks run on: sizes given on the command line, and frames of the
benchmark's source at a size."""
from __future__ import annotations

import cv2
import numpy as np

from realtime.errors import UserError
from realtime.config import parse_size


def parse_sizes(texts: list[str]) -> list[tuple[int, int]]:
    """``["640x480", ...]`` (width x height) → [(640, 480), ...]; a bad one is one line."""
    sizes = []
    for s in texts:
        try:
            sizes.append(parse_size(s))
        except ValueError as exc:
            raise UserError(f"--sizes: {exc}") from None
    return sizes


def sample_frames(source: str, size: tuple[int, int], count: int) -> list[np.ndarray]:
    """``count`` BGR frames of the benchmark's source at ``size`` (spread over a video's length)."""
    from realtime.capture.sources import SourceSpec, open_source

    src = open_source(SourceSpec(source, size, paced=False))
    try:
        frames = []
        for _ in range(count * 5):
            frame = src.read()
            if frame is None:
                break
            frames.append(frame)
    finally:
        src.close()
    picked = frames[:: max(1, len(frames) // count)][:count]
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) if (f.shape[1], f.shape[0]) != size else f for f in picked]
