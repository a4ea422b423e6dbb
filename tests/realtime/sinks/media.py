"""Clips made here with PyAV for the recording tests: each frame carries its own index as 8
black/white blocks (read back after the filter and H.264), the lower half turns white at
``flash_at`` and a 1 kHz tone starts at ``audio_at``: the picture and the sound's timing can
both be measured in any file the tool writes."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.av_clip import write_clip

W, H, FPS, RATE = 160, 120, 30, 48000


def frame_image(i: int, flash: bool) -> np.ndarray:
    img = np.full((H, W, 3), 40, np.uint8)
    for b in range(8):
        if (i >> b) & 1:
            img[4:20, 4 + 19 * b: 20 + 19 * b] = 255
    if flash:
        img[64:, :] = 230
    return img


def frame_index(img: np.ndarray) -> int:
    return sum(1 << b for b in range(8) if img[6:18, 6 + 19 * b: 18 + 19 * b].mean() > 128)


def make_clip(path: Path, seconds: float = 2.0, flash_at: float = 1.0, audio: str | None = "aac",
              audio_at: float | None = None) -> Path:
    """``audio``: the sound's codec (aac, pcm_s16le; None: no sound)."""
    audio_at = flash_at if audio_at is None else audio_at
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.where(t >= audio_at, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32) if audio else None
    pictures = (frame_image(i, i / FPS >= flash_at) for i in range(int(seconds * FPS)))
    return write_clip(path, pictures, (W, H), FPS, {"preset": "ultrafast", "g": "15"}, wave, RATE, audio or "aac")


def make_bad_audio_clip(path: Path, seconds: float = 1.0) -> Path:
    """A clip whose sound stream says AAC but holds noise: no decoder gets samples from it."""
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
    v.width, v.height, v.pix_fmt = W, H, "yuv420p"
    a = out.add_stream("aac", rate=RATE, layout="mono")
    rng = np.random.default_rng(0)
    for i in range(int(seconds * FPS)):
        f = av.VideoFrame.from_ndarray(frame_image(i, False), format="bgr24")
        f.pts, f.time_base = i, Fraction(1, FPS)
        for p in v.encode(f):
            out.mux(p)
        p = av.Packet(rng.integers(0, 256, 200, np.uint8).tobytes())
        p.stream, p.pts, p.dts, p.time_base = a, i * 1600, i * 1600, Fraction(1, RATE)
        out.mux(p)
    for p in v.encode():
        out.mux(p)
    out.close()
    return path


def measure(path: Path) -> dict:
    """flash: the time of the first frame whose lower half is white (flash_index: its index); beep: the first sound
    sample above 0.1; firsts: (time, index) of each index's first frame; audio: the sound's
    codec (None: no sound); frames: frames decoded; last: the last frame's time; keyframes: their times."""
    flash = flash_index = beep = audio = None
    firsts: list[tuple[float, int]] = []
    seen: set[int] = set()
    frames, keyframes, last = 0, [], None
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        for f in c.decode(vs):
            img = f.to_ndarray(format="bgr24")
            t = float(f.pts * vs.time_base)
            frames += 1
            last = t
            if f.key_frame:
                keyframes.append(t)
            if img.shape[0] < H or img.shape[1] < W:  # not one of these clips: times only
                continue
            idx = frame_index(img)
            if idx not in seen:
                seen.add(idx)
                firsts.append((t, idx))
            if flash is None and img[70:, :].mean() > 128:
                flash, flash_index = t, idx
    with av.open(str(path)) as c:
        if c.streams.audio:
            s = c.streams.audio[0]
            audio = s.codec_context.name
            for f in c.decode(s):
                x = f.to_ndarray()
                x = x / 32768.0 if x.dtype.kind == "i" else x.astype(np.float64)
                x = np.abs(x).max(axis=0) if f.format.is_planar else np.abs(x).ravel()[:: len(f.layout.channels)]
                hit = np.nonzero(x > 0.1)[0]
                if len(hit):
                    beep = float(f.pts * s.time_base) + hit[0] / f.sample_rate
                    break
    return {"flash": flash, "flash_index": flash_index, "beep": beep, "firsts": firsts, "audio": audio, "frames": frames, "last": last,
            "keyframes": keyframes}
