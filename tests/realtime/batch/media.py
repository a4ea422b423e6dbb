"""Tiny videos made here with PyAV for the batch tests: a textured picture (gradients and
edges, so a network has something to stylise) with a shape that moves (so tracking and the
temporal stabiliser have work), a keyframe every ``gop`` frames and, optionally, a 1 kHz tone
(AAC). Frames read back with :func:`read_frames` give (pts seconds, BGR)."""
from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from tests.av_clip import write_clip

RATE = 48000


def scene(i: int, w: int, h: int) -> np.ndarray:
    """The left half holds still (the temporal stabiliser holds it), the right half's stripes
    scroll 3 pixels a frame and a disc crosses it: a frame out of place differs a lot."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    moving = np.where(xx >= w // 2, xx + 3 * i, xx)
    img = np.stack([xx / w * 180 + 30, yy / h * 160 + 40, 120 + 90 * np.sin(moving / 5 + yy / 13)], axis=-1).astype(np.uint8)
    cv2.rectangle(img, (w // 8, h // 6), (w // 3, h // 2), (20, 200, 240), -1)
    cx = int(w * (0.5 + 0.45 * (i % 30) / 30))
    cv2.circle(img, (cx, h * 2 // 3), max(4, h // 6), (230, 60, 40), -1)
    return img


def make_video(path: Path, frames: int = 40, size: tuple[int, int] = (160, 120), fps: int = 30, gop: int = 12,
               audio: bool = True, bframes: int = 0) -> Path:
    """``bframes`` > 0: B-frames, as most phone and web videos have (decode order differs from
    display order, the mp4's time base is the muxer's, not 1/fps)."""
    t = np.arange(int(frames / fps * RATE)) / RATE
    wave = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32) if audio else None
    options = {"preset": "ultrafast", "g": str(gop), "crf": "16", "bf": str(bframes)}
    return write_clip(path, (scene(i, *size) for i in range(frames)), size, fps, options, wave, RATE)


def read_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(float(f.pts * f.time_base), f.to_ndarray(format="bgr24")) for f in c.decode(s)]


def audio_seconds(path: Path) -> float:
    """How much sound the file holds (0 without an audio stream)."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return 0.0
        return sum(fr.samples for fr in c.decode(c.streams.audio[0])) / RATE
