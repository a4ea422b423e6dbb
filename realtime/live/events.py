"""``--events FILE.jsonl``: one JSON line per trigger change, e.g.
``{"frame": 42, "t": 1.4, "event": "smile", "on": true}``.

``frame`` counts the frames read from the source from 0; ``t`` is the frame's time in seconds
from the first frame (a video's own clock, a camera's wall clock). Each line is flushed when
written, so a run that is killed keeps every event up to then.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Iterable, Protocol

from realtime.errors import UserError


class Change(Protocol):
    event: str
    on: bool


class EventLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.file = open(path, "w", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--events {path}: cannot write it ({exc.strerror})") from None
        self.lock = threading.Lock()
        self.count = 0

    def write(self, frame: int, t: float, changes: Iterable[Change]) -> None:
        with self.lock:
            for change in changes:
                self.file.write(json.dumps({"frame": frame, "t": round(t, 3), "event": change.event, "on": change.on}) + "\n")
                self.count += 1
            try:
                self.file.flush()
            except OSError as exc:
                raise UserError(f"--events {self.path}: cannot write it ({exc.strerror})") from None

    def close(self) -> None:
        with self.lock:
            if not self.file.closed:
                self.file.close()
