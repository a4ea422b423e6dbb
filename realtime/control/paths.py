"""Where the control plane keeps its files.

- the config folder (settings, presets, favourites, recents): ``$REALTIME_CONFIG_DIR``, else
  platformdirs' ``user_config_dir("realtime-filters")`` (``~/.config/realtime-filters`` on
  Linux, ``~/Library/Application Support/realtime-filters`` on macOS, ``%LOCALAPPDATA%`` on
  Windows);
- the runtime folder (one file per running instance: its port and token, readable by the user
  only): ``$REALTIME_RUNTIME_DIR``, else ``$REALTIME_CONFIG_DIR/run`` when only that is set
  (tests), else platformdirs' ``user_runtime_dir`` (``$XDG_RUNTIME_DIR/realtime-filters``
  on Linux, where that variable names a folder platformdirs accepts and the user can write
  in), else ``user_state_dir`` (``~/.local/state/realtime-filters``): a shell without a login
  session (a container, ``su``, some ssh set-ups) has no ``$XDG_RUNTIME_DIR``.

Folders are made with mode 0700.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from platformdirs import user_config_dir, user_runtime_dir, user_state_dir

APP = "realtime-filters"
CONFIG_ENV = "REALTIME_CONFIG_DIR"
RUNTIME_ENV = "REALTIME_RUNTIME_DIR"


def config_dir() -> Path:
    env = os.environ.get(CONFIG_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(user_config_dir(APP))


def runtime_dir() -> Path:
    env = os.environ.get(RUNTIME_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    config = os.environ.get(CONFIG_ENV, "").strip()
    if config:
        return Path(config).expanduser() / "run"
    runtime = _runtime_base()
    if runtime is not None:
        return runtime
    return Path(user_state_dir(APP))


def _runtime_base() -> Path | None:
    """platformdirs' user_runtime_dir where its parent exists and is writable (a container
    or a service manager may have no /run/user/UID), else None.

    On Linux only under a usable ``$XDG_RUNTIME_DIR``: without one, platformdirs 4.14 warns
    (a Python warning with a source line, on every start of ``realtime``) and picks a folder
    of its own in /tmp, or /run/user/UID where that exists; the state folder is where we go
    then, quietly, and ``realtime ctl`` looks there by the same rule."""
    linux = sys.platform.startswith("linux")
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if linux and not os.path.isabs(xdg):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its note on an unusable $XDG_RUNTIME_DIR: that case is None below
        path = Path(user_runtime_dir(APP))
    parent = path.parent
    if linux and parent != Path(xdg):  # platformdirs refused the folder and fell back
        return None
    return path if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK) else None


def private_dir(path: Path) -> Path:
    """``path`` made (with its parents) and, being ours alone (the runtime folder), readable
    by the user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        os.chmod(path, 0o700)
    return path
