"""What drawing the ``aged`` creases (and the rougher skin) after the network costs per face, at
the crop sizes the networks run at (:meth:`realtime.filters.kinds.face_filter.FaceFilter.post`:
landmarks mapped into the crop, sagged, texture and creases drawn in the face's box).

    python -m benchmarks.crease_cost [--photo PHOTO] [--sizes 160 192 256] [--repeat 200] [--post texture+creases]

Prints the median and 90th percentile milliseconds per face for each crop size and style, on
the tracked face of ``--photo`` (the public-domain astronaut by default), one thread.
"""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from realtime.errors import UserError, run_cli
from benchmarks.reporting import command_line


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root, read_rgb
    from realtime.analysis.tracking import FaceTracker, face_transform
    from realtime.filters.kinds.creases import AGE_STYLES
    from realtime.filters.kinds.face_filter import FaceFilter
    from realtime.filters.onnx_format import FilterContract

    p = command_line("benchmarks.crease_cost", __doc__)
    p.add_argument("--photo", type=Path, default=data_root() / "faces" / "skimage__astronaut.png")
    p.add_argument("--sizes", type=int, nargs="+", default=[160, 192, 256])
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--post", choices=("creases", "texture+creases"), default="creases", help="the post step to time")
    a = p.parse_args(argv)
    cv2.setNumThreads(1)
    bgr = cv2.cvtColor(read_rgb(a.photo), cv2.COLOR_RGB2BGR)
    tracker = FaceTracker(static=True, max_faces=1)
    try:
        face = tracker.process(bgr, 0.0)
    finally:
        tracker.close()
    if face is None:
        raise UserError(f"no face in {a.photo}")
    names = tuple(AGE_STYLES)
    for size in a.sizes:
        f = FaceFilter(SimpleNamespace(name="aged", contract=FilterContract(  # type: ignore[arg-type]
            name="aged", kind="face", work_size=size, latent_codes=len(names), post=a.post, post_styles=names)))
        m = face_transform(face, size)
        crop = cv2.warpAffine(bgr, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        for code, name in enumerate(names):
            f.post(crop, face.landmarks, m, code)  # warm
            times = []
            for _ in range(a.repeat):
                start = time.perf_counter()
                f.post(crop, face.landmarks, m, code)
                times.append((time.perf_counter() - start) * 1000)
            print(f"{a.post} {size}px {name}: median {np.median(times):.2f} ms, p90 {np.percentile(times, 90):.2f} ms per face")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
