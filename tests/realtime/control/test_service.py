"""``realtime service install|uninstall|status``: the unit (Linux), the LaunchAgent (macOS) and
the logon task command (Windows) it writes, with the service managers replaced by scripts on
PATH that record their arguments. The command a unit starts is parsed by the live command's
own parser, so what starts at login is a run that would start."""
from __future__ import annotations

import os
import plistlib
import shlex
import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from realtime.cli import build_parser, service_main
from realtime.config import RunConfig
from realtime.control import service
from realtime.control.settings import Look, SettingsFile
from realtime.control.startup import with_saved_settings
from realtime.errors import UserError, run_cli


@pytest.fixture
def managers(tmp_path, monkeypatch):
    """systemctl and launchctl as scripts that append their arguments to calls.txt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    for name in ("systemctl", "launchctl"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\necho enabled\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("realtime.sinks.virtual_cam.loopback_devices", lambda: ["/dev/video10"])
    return lambda: calls.read_text().splitlines() if calls.exists() else []


@pytest.fixture
def preset():
    SettingsFile().update(lambda s: replace(s, presets={"work": Look(filter="cartoon", background="blur")}))
    return "work"


def exec_start(unit: Path) -> list[str]:
    line = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    return shlex.split(line[len("ExecStart="):].replace("%%", "%"))


def test_install_on_linux_writes_an_enabled_unit_that_starts_the_camera_on_demand(tmp_path, managers, preset, capsys):
    assert service_main(["install", "--preset", preset, "--", "--size", "1280x720"], platform="linux") == 0
    unit = tmp_path / "xdg" / "systemd" / "user" / service.UNIT
    text = unit.read_text()
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    argv = exec_start(unit)
    assert argv[:3] == [sys.executable, "-m", "realtime"]
    parser = build_parser()  # the start as live_main makes it: the preset's look under the options
    args, _ = with_saved_settings(parser, argv[3:], {}, parser.parse_args(argv[3:]).preset)
    config = RunConfig.from_options(vars(args))
    assert config.virtual_cam is True and config.ondemand and not config.preview and config.size == (1280, 720)
    assert config.filter == "cartoon" and config.background == "blur"  # the preset's
    assert managers() == ["systemctl --user daemon-reload", f"systemctl --user enable --now {service.UNIT}"]
    out = capsys.readouterr().out
    assert f"wrote {unit}" in out and "enabled and started" in out


def test_no_ondemand_keeps_the_camera_on_and_no_start_only_enables(tmp_path, managers, preset):
    assert service_main(["install", "--preset", preset, "--no-ondemand", "--no-start"], platform="linux") == 0
    argv = exec_start(tmp_path / "xdg" / "systemd" / "user" / service.UNIT)
    assert "--ondemand" not in argv
    assert managers() == ["systemctl --user daemon-reload"]


def test_uninstall_and_status(tmp_path, managers, preset, capsys):
    unit = tmp_path / "xdg" / "systemd" / "user" / service.UNIT
    assert service_main(["status"], platform="linux") == 0
    assert "not installed" in capsys.readouterr().out
    service_main(["install", "--preset", preset], platform="linux")
    assert service_main(["status"], platform="linux") == 0
    out = capsys.readouterr().out
    assert f"installed: {unit}" in out and "enabled: enabled" in out
    assert service_main(["uninstall"], platform="linux") == 0
    assert not unit.exists()
    assert f"systemctl --user disable --now {service.UNIT}" in managers()


def test_without_systemctl_the_unit_is_written_and_the_enable_command_printed(tmp_path, monkeypatch, preset, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("realtime.sinks.virtual_cam.loopback_devices", lambda: [])
    assert service_main(["install", "--preset", preset], platform="linux") == 0
    out = capsys.readouterr().out
    assert (tmp_path / "xdg" / "systemd" / "user" / service.UNIT).exists()
    assert "systemctl is not on PATH" in out and f"systemctl --user enable --now {service.UNIT}" in out
    assert "no v4l2loopback device yet" in out


def test_macos_writes_a_launch_agent_without_ondemand(tmp_path, managers, preset, capsys):
    assert service_main(["install", "--preset", preset], platform="darwin") == 0
    path = tmp_path / "home" / "Library" / "LaunchAgents" / f"{service.LABEL}.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["Label"] == service.LABEL and agent["RunAtLoad"] is True
    assert agent["ProgramArguments"][1:] == ["-m", "realtime", "--virtual-cam", "--no-preview", "--preset", "work"]
    assert managers()[0].startswith("launchctl bootstrap gui/")
    assert "on-demand release needs Linux" in capsys.readouterr().out


def test_windows_prints_the_logon_task_and_writes_nothing(tmp_path, managers, preset, capsys):
    assert service_main(["install", "--preset", preset], platform="win32") == 0
    out = capsys.readouterr().out
    assert 'schtasks /Create /SC ONLOGON /TN "Realtime Filter"' in out and "--virtual-cam" in out
    assert managers() == [] and not (tmp_path / "xdg").exists()


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = run_cli(lambda: service_main(argv, platform="linux"))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["install", "--preset", "gym"], ["no preset named 'gym'", "presets: work"]),
    (["install", "--preset", "work", "--", "--size", "big"], ["not valid for realtime", "--size"]),
])
def test_bad_install_requests_are_one_line_and_write_nothing(tmp_path, managers, preset, capsys, argv, expected):
    code, err = run(argv, capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1, err
    assert all(part in err for part in expected), err
    assert not (tmp_path / "xdg" / "systemd").exists() and managers() == []


def test_nothing_to_start_with_is_one_line(tmp_path, managers, capsys):
    code, err = run(["install"], capsys)
    assert code != 0 and "nothing to start with yet" in err and len(err.strip().splitlines()) == 1
    assert service_main(["install", "--", "--filter", "cartoon"], platform="linux") == 0  # options name the filter


def test_a_unit_that_cannot_be_written_is_one_line(tmp_path, managers, preset, capsys, monkeypatch):
    (tmp_path / "xdg-file").write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-file"))  # a file where the folder should be
    code, err = run(["install", "--preset", preset], capsys)
    assert code != 0 and "cannot write" in err and "systemd/user" in err and len(err.strip().splitlines()) == 1
    assert managers() == []


def test_systemd_quoting_keeps_spaces_quotes_and_percent_signs():
    words = ["/opt/my env/bin/python", "-m", "realtime", "--background", "/home/a/100% real.png", 'say "hi"']
    line = " ".join(service._systemd_quote(w) for w in words)
    assert shlex.split(line.replace("%%", "%")) == words


def test_an_unknown_system_is_one_line():
    with pytest.raises(UserError, match="autostart"):
        service.system_name("freebsd14")
