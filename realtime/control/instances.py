"""The running instances' files, so ``realtime ctl`` finds a running ``realtime`` by itself.

Each instance with a control plane writes ``PORT.json`` (port, token, pid, the studio URL) in
the runtime folder (:func:`realtime.control.paths.runtime_dir`, mode 0700), created with mode
0600 so that only the user can read the token; it is removed when the run ends. A file whose
process is gone (a killed run) is skipped and removed by the next lookup.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from realtime.control.paths import private_dir, runtime_dir
from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Instance:
    port: int
    token: str
    pid: int
    path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def studio(self) -> str:
        return f"{self.base}/studio#token={self.token}"


def publish(port: int, token: str) -> Path:
    """Write this instance's file, readable by the user only."""
    folder = private_dir(runtime_dir())
    path = folder / f"{port}.json"
    path.unlink(missing_ok=True)  # a file left by a killed run on the same port
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"port": port, "token": token, "pid": os.getpid()}, f)
    return path


def withdraw(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, first_line(exc))


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would end it there; a dead one fails to connect instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running() -> list[Instance]:
    """The instances whose process is alive, by port."""
    folder = runtime_dir()
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            instance = Instance(int(data["port"]), str(data["token"]), int(data["pid"]), path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(instance.pid):
            found.append(instance)
        else:
            withdraw(path)
    return sorted(found, key=lambda i: i.port)


def find(port: int | None = None) -> Instance:
    """The running instance (on ``port`` when given); one line when there is none or several."""
    instances = running()
    if port is not None:
        match = [i for i in instances if i.port == port]
        if not match:
            ports = ", ".join(str(i.port) for i in instances)
            raise UserError(f"no running realtime with a control port {port}" + (f" (running: {ports})" if ports else ""))
        return match[0]
    if not instances:
        raise UserError(f"no running realtime found (in {runtime_dir()}); start one, e.g. realtime --filter cartoon --virtual-cam")
    if len(instances) > 1:
        raise UserError(f"{len(instances)} realtime instances are running (control ports "
                        f"{', '.join(str(i.port) for i in instances)}): choose one with --port")
    return instances[0]
