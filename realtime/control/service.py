"""``realtime service install|uninstall|status``: the virtual camera starts at login.

Started by hand for every call, a filter is forgotten half the time. Installed as a service it
is simply there: a systemd user unit on Linux (``~/.config/systemd/user``, enabled for the
user's session, restarted 5 s after a crash), a LaunchAgent on macOS (``~/Library/LaunchAgents``,
loaded at login), and on Windows the Task Scheduler command to run (printed: registering a
logon task needs the user's own shell). The command it starts is ``realtime --virtual-cam
--no-preview`` with the preset asked for (else the settings of the last run), plus
``--ondemand`` on Linux unless ``--no-ondemand``: with it the webcam is released while no app
reads the virtual camera (:mod:`realtime.live.ondemand`), so a camera that runs all day costs
nothing and its light is off between calls. Other systems cannot tell who reads the OBS
virtual camera, so there the service keeps the camera on.
"""
from __future__ import annotations

import logging
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)
UNIT = "realtime-filter.service"
LABEL = "org.realtime-filters.camera"
TASK = "Realtime Filter"


@dataclass(frozen=True)
class Service:
    """What ``install`` writes and runs on one system."""
    system: str  # linux, darwin, win32
    command: tuple[str, ...]  # what starts at login
    path: Path | None  # the unit or plist (None on Windows: nothing is written)
    text: str  # its contents, or the command to run on Windows
    enable: tuple[tuple[str, ...], ...]  # run after writing
    disable: tuple[tuple[str, ...], ...]  # run before removing


def system_name(platform: str | None = None) -> str:
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return "linux"
    if platform in ("darwin", "win32"):
        return platform
    raise UserError(f"realtime service knows Linux (systemd), macOS (launchd) and Windows; not {platform}: "
                    "start `realtime --virtual-cam` from your session's autostart instead")


def live_command(preset: str | None, ondemand: bool, extra: list[str]) -> tuple[str, ...]:
    return (sys.executable, "-m", "realtime", "--virtual-cam", "--no-preview",
            *(("--preset", preset) if preset else ()), *(("--ondemand",) if ondemand else ()), *extra)


def _systemd_quote(arg: str) -> str:
    """One ExecStart word: double-quoted where needed, ``%`` doubled (systemd's specifiers)."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in ' \t"\'\\;$'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$") + '"'


def unit_text(command: tuple[str, ...]) -> str:
    return "\n".join([
        "[Unit]",
        "Description=Realtime Filter: the filtered virtual camera (realtime-filters)",
        "Documentation=https://github.com/realtime-filters (docs/virtual-camera.md)",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_systemd_quote(a) for a in command),
        "Restart=on-failure",
        "RestartSec=5",
        "Environment=PYTHONUNBUFFERED=1",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


def plist_text(command: tuple[str, ...], log_path: Path) -> str:
    return plistlib.dumps({
        "Label": LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restarted after a crash, not after a normal stop
        "StandardErrorPath": str(log_path),
        "StandardOutPath": str(log_path),
    }).decode()


def plan(system: str, command: tuple[str, ...]) -> Service:
    if system == "linux":
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        return Service(system, command, base / "systemd" / "user" / UNIT, unit_text(command),
                       (("systemctl", "--user", "daemon-reload"), ("systemctl", "--user", "enable", "--now", UNIT)),
                       (("systemctl", "--user", "disable", "--now", UNIT),))
    if system == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        domain = f"gui/{os.getuid()}" if hasattr(os, "getuid") else "gui/501"
        return Service(system, command, path, plist_text(command, Path.home() / "Library" / "Logs" / "realtime-filters.log"),
                       (("launchctl", "bootstrap", domain, str(path)),), (("launchctl", "bootout", f"{domain}/{LABEL}"),))
    task = subprocess.list2cmdline(command)
    return Service(system, command, None,
                   f'schtasks /Create /SC ONLOGON /TN "{TASK}" /TR "{task}" /F', (), ())


def _run(args: tuple[str, ...]) -> str | None:
    """Run a service manager command; None when it worked, else why not (one line)."""
    if shutil.which(args[0]) is None:
        return f"{args[0]} is not on PATH"
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        return f"`{' '.join(args)}` failed: {first_line(done.stderr.strip() or done.stdout.strip() or f'exit {done.returncode}')}"
    return None


def check_preset(preset: str | None) -> None:
    """The preset must exist, or without one the last run must have left a filter to start with."""
    from realtime.control.settings import SettingsFile

    saved = SettingsFile().load(warn=False)
    if preset is not None:
        if preset not in saved.presets:
            known = ", ".join(sorted(saved.presets)) or "none saved yet"
            raise UserError(f"no preset named {preset!r} (presets: {known}); save one with `realtime ctl save-preset NAME` "
                            "while the camera runs, or from the studio page")
    elif saved.last.filter is None and saved.last.background is None:
        raise UserError("nothing to start with yet: give --preset NAME, or options after -- (e.g. -- --filter cartoon), "
                        "or run `realtime --filter NAME` once (the service starts with the last run's settings)")


def install(service: Service, start: bool = True) -> list[str]:
    """Write the file and enable it; the lines to print."""
    if service.path is None:  # Windows: the user registers the task
        return ["register the camera as a logon task with this command (in cmd or PowerShell):", service.text,
                "(the OBS virtual camera cannot say who reads it: the camera stays on while the task runs)"]
    tmp = service.path.with_name(f".{service.path.name}.tmp")
    try:
        service.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(service.text)
        os.replace(tmp, service.path)
    except OSError as exc:
        raise UserError(f"cannot write {service.path} ({exc.strerror or exc}): check that folder's owner and "
                        "permissions") from None
    lines = [f"wrote {service.path}", "starts at login: " + shlex.join(service.command)]
    steps = service.enable if start else service.enable[:1]
    for args in steps:
        problem = _run(args)
        if problem is not None:
            lines.append(f"could not enable it ({problem}); enable it yourself: " + " && ".join(shlex.join(a) for a in steps))
            return lines
    lines.append("enabled and started" if start else "enabled at the next login (not started now)")
    return lines


def uninstall(service: Service) -> list[str]:
    if service.path is None:
        return [f'remove the logon task with: schtasks /Delete /TN "{TASK}" /F']
    if not service.path.exists():
        return [f"not installed ({service.path} does not exist)"]
    lines = []
    for args in service.disable:
        problem = _run(args)
        if problem is not None:
            lines.append(f"note: {problem}")
    try:
        service.path.unlink()
    except OSError as exc:
        raise UserError(f"cannot remove {service.path} ({exc.strerror or exc})") from None
    lines.append(f"removed {service.path}")
    if service.system == "linux":
        _run(("systemctl", "--user", "daemon-reload"))
    return lines


def status(service: Service) -> list[str]:
    if service.path is None:
        return [f'see the logon task with: schtasks /Query /TN "{TASK}"']
    if not service.path.exists():
        return [f"not installed (realtime service install writes {service.path})"]
    lines = [f"installed: {service.path}"]
    if service.system == "linux" and shutil.which("systemctl"):
        for what in ("is-enabled", "is-active"):
            done = subprocess.run(("systemctl", "--user", what, UNIT), capture_output=True, text=True)
            lines.append(f"{what[3:]}: {first_line(done.stdout.strip() or done.stderr.strip() or 'unknown')}")
        lines.append(f"its log: journalctl --user -u {UNIT} -f")
    return lines
