"""``realtime`` with a pyvirtualcam backend that records what it sends, for tests that drive
a running instance from outside (its API, realtime ctl, Chromium):

    RECORDER_OUT=frames.jsonl python -m tests.realtime.control.recorder --virtual-cam-backend digest ...

Each frame sent to the virtual camera is written as one JSON line holding a 16x12 digest of it
(BGR, row by row); opening and closing the camera are lines too. :func:`read` reads them back.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

DIGEST = (16, 12)  # width, height


def digest(bgr: np.ndarray) -> np.ndarray:
    return cv2.resize(bgr, DIGEST, interpolation=cv2.INTER_AREA).astype(np.int16)


class DigestBackend:
    """Registered as ``digest`` with pyvirtualcam.register_backend."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any) -> None:
        self.size = (width, height)
        self.out = open(os.environ["RECORDER_OUT"], "a", encoding="utf-8")
        self._write({"event": "open", "size": [width, height], "fps": fps})

    def _write(self, item: dict[str, Any]) -> None:
        self.out.write(json.dumps(item) + "\n")
        self.out.flush()

    def send(self, frame: np.ndarray) -> None:
        w, h = self.size
        self._write({"d": digest(np.asarray(frame).reshape(h, w, 3)).flatten().tolist()})

    def device(self) -> str:
        return "digest"

    def native_fourcc(self) -> int | None:
        return None

    def close(self) -> None:
        self._write({"event": "close"})
        self.out.close()


def read(path: Path) -> list[dict[str, Any]]:
    """Every whole line written so far (a line being written is left for the next read)."""
    if not path.exists():
        return []
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if "d" in item:
            item["d"] = np.array(item["d"], np.int16).reshape(DIGEST[1], DIGEST[0], 3)
        items.append(item)
    return items


def main() -> int:
    import pyvirtualcam

    from realtime.cli import entry

    pyvirtualcam.register_backend("digest", DigestBackend)
    sys.argv = ["realtime", *sys.argv[1:]]
    return entry()


if __name__ == "__main__":
    raise SystemExit(main())
