"""Write a test clip with PyAV: H.264 pictures and, optionally, a mono sound track muxed beside
them in time (each 1024-sample chunk as soon as the picture it belongs to is written), as a
camera recording or a phone video interleaves them. The recording and batch tests' clips
(``tests/realtime/sinks/media.py``, ``tests/realtime/batch/media.py``) draw their own pictures
and sound and write them here."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import numpy as np

CHUNK = 1024  # sound samples an audio frame


def write_clip(path: Path, pictures: Iterable[np.ndarray], size: tuple[int, int], fps: int,
               video_options: dict[str, str], wave: np.ndarray | None = None, rate: int = 48000,
               audio_codec: str = "aac") -> Path:
    """``pictures``: BGR uint8 frames of ``size`` (w, h); ``wave``: float32 mono samples in −1..1
    at ``rate`` (None: no sound), written as 16-bit for a ``pcm_s16*`` codec."""
    w, h = size
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=fps, options=video_options)
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    a = out.add_stream(audio_codec, rate=rate, layout="mono") if wave is not None else None
    s16 = audio_codec.startswith("pcm_s16")
    pos = 0
    for i, picture in enumerate(pictures):
        f = av.VideoFrame.from_ndarray(picture, format="bgr24")
        f.pts, f.time_base = i, Fraction(1, fps)
        for p in v.encode(f):
            out.mux(p)
        while a is not None and wave is not None and pos < len(wave) and pos / rate <= (i + 1) / fps:
            samples = wave[pos:pos + CHUNK]
            af = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[None] if s16 else samples[None],
                                            format="s16" if s16 else "flt", layout="mono")
            af.sample_rate, af.pts, af.time_base = rate, pos, Fraction(1, rate)
            for p in a.encode(af):
                out.mux(p)
            pos += CHUNK
    for p in v.encode():
        out.mux(p)
    if a is not None:
        for p in a.encode():
            out.mux(p)
    out.close()
    return path
