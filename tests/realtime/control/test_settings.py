"""Settings that stay: the file in the config folder (REALTIME_CONFIG_DIR in every test), what
a damaged or hand-edited file does (one line, the defaults, never a traceback), the order of
the layers at start, and the instance files realtime ctl finds a running one by."""
from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys

import pytest

from realtime.cli import build_parser
from realtime.control import instances, paths
from realtime.control.settings import Look, Saved, SettingsFile, remember
from realtime.control.startup import explicit_options, with_saved_settings
from realtime.errors import UserError
from tests.conftest import assert_one_line, run_realtime


def write(folder, data) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(data if isinstance(data, str) else json.dumps(data))


def test_the_config_folder_is_the_tests_own(own_config_dir, monkeypatch, tmp_path):
    assert paths.config_dir() == own_config_dir and SettingsFile().path == own_config_dir / "settings.json"
    assert paths.runtime_dir() == own_config_dir / "run"
    monkeypatch.setenv("REALTIME_RUNTIME_DIR", str(tmp_path / "rt"))
    assert paths.runtime_dir() == tmp_path / "rt"
    monkeypatch.delenv("REALTIME_CONFIG_DIR")
    monkeypatch.delenv("REALTIME_RUNTIME_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert paths.config_dir() == tmp_path / "xdg" / "realtime-filters"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="$XDG_RUNTIME_DIR is Linux's")
def test_the_runtime_folder_is_xdg_s_where_usable_else_the_state_folder_without_a_warning(own_config_dir, monkeypatch, tmp_path, recwarn):
    """A shell without a login session has no $XDG_RUNTIME_DIR; platformdirs 4.14 warns then (a
    Python warning on every start) and picks a /tmp folder: the state folder is used instead,
    quietly, and realtime ctl finds the instances there by the same rule."""
    monkeypatch.delenv("REALTIME_CONFIG_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    state = tmp_path / "state" / "realtime-filters"
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert paths.runtime_dir() == state
    for unusable in (tmp_path / "missing", "relative/run"):
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(unusable))
        assert paths.runtime_dir() == state
    usable = tmp_path / "run-user"
    usable.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(usable))
    assert paths.runtime_dir() == usable / "realtime-filters"
    assert [str(w.message) for w in recwarn] == []


def test_a_round_trip_keeps_everything(own_config_dir):
    settings = SettingsFile()
    look = Look(filter="cartoon", strength=0.4, latent=2, background="blur", filter_region="person", on_smile="candy",
                mirror=True, mirror_output=False, source="0", size=(1280, 720))
    settings.update(lambda s: Saved(last=look, presets={"work": look.without_camera()}, favourites=("cartoon", "candy+glasses"),
                                    recents=("candy",)))
    saved = settings.load()
    assert saved.last == look and saved.presets["work"] == look.without_camera()
    assert saved.favourites == ("cartoon", "candy+glasses") and saved.recents == ("candy",)
    assert remember(saved, "cartoon").recents == ("cartoon", "candy")
    assert look.options()["size"] == (1280, 720) and Look(background="none").options() == {"background": None}


def test_a_damaged_file_is_one_line_and_the_defaults_and_it_is_kept_aside(own_config_dir, caplog):
    write(own_config_dir, '{"last": {"filter": "cartoon",, }')
    with caplog.at_level(logging.WARNING):
        saved = SettingsFile().load()
    assert saved == Saved()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "is not valid JSON" in lines[0] and "fall back to the defaults" in lines[0]
    SettingsFile().update(lambda s: Saved(favourites=("candy",)))
    assert (own_config_dir / "settings.json.bad").read_text() == '{"last": {"filter": "cartoon",, }'
    assert SettingsFile().load().favourites == ("candy",)


def test_hand_edited_values_that_do_not_fit_fall_back_each_in_one_line(own_config_dir, caplog):
    write(own_config_dir, {"version": 1, "colour": "red",
                           "last": {"filter": "cartoon", "strength": 3, "latent": 99, "mirror": "yes", "size": [0, 5],
                                    "source": "talk.mp4", "background": "blur", "volume": 11},
                           "presets": {"work": {"filter": "nosuch"}, "../x": {}},
                           "favourites": ["candy", "nosuch", 7], "recents": "candy"})
    with caplog.at_level(logging.WARNING):
        saved = SettingsFile().load()
    assert saved.last == Look(filter="cartoon", background="blur")
    assert saved.presets == {"work": Look()} and saved.favourites == ("candy",) and saved.recents == ()
    [line] = [r.getMessage() for r in caplog.records]
    for needle in ("strength 3", "latent 99 is out of range", "mirror 'yes'", "size [0, 5]", "source 'talk.mp4'",
                   "unknown setting 'volume'", "unknown key 'colour'", "unknown filter 'nosuch'", "preset name '../x'",
                   "recents is not a list"):
        assert needle in line, needle


def test_a_damaged_file_never_stops_realtime(own_config_dir):
    write(own_config_dir, "\x00\xff not json")
    run = subprocess.run([sys.executable, "-m", "realtime.cli", "--filter", "none", "--source", "synthetic", "--size", "64x48",
                          "--no-preview", "--frames", "3", "--no-control"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith("WARNING") and "settings.json: is not valid JSON" in line and "fall back to the defaults" in line
    assert (own_config_dir / "settings.json").read_bytes() == "\x00\xff not json".encode(), \
        "a job (--frames) leaves the saved look alone"


def test_the_layers_last_then_config_then_preset_then_the_command_line(own_config_dir):
    look = Look(filter="cartoon", strength=0.4, latent=2, background="blur", mirror=True, source="1", size=(640, 480))
    SettingsFile().update(lambda s: Saved(last=look, presets={"work": Look(filter="candy", strength=0.9)}))
    parser = build_parser()
    args, saved = with_saved_settings(parser, [], {}, None)
    assert (args.filter, args.strength, args.latent, args.background, args.mirror, args.source, args.size) == \
        ("cartoon", 0.4, 2, "blur", True, "1", (640, 480))
    args, _ = with_saved_settings(build_parser(), ["--filter", "oil"], {}, None)
    assert args.filter == "oil" and args.latent == 0, "a latent belongs to the filter it was saved with"
    args, _ = with_saved_settings(build_parser(), ["--source", "talk.mp4", "--no-mirror"], {}, None)
    assert args.size is None and args.source == "talk.mp4" and args.mirror is False, "the size belongs to its camera"
    args, _ = with_saved_settings(build_parser(), [], {"strength": 0.7}, "work")
    assert (args.filter, args.strength, args.latent, args.background) == ("candy", 0.9, 0, "blur")
    args, _ = with_saved_settings(build_parser(), ["--strength", "0.2"], {"strength": 0.7}, "work")
    assert args.strength == 0.2
    with pytest.raises(UserError, match="--preset home: no such preset \\(saved: work\\)"):
        with_saved_settings(build_parser(), [], {}, "home")
    assert explicit_options(build_parser(), ["-vv", "--filter", "x", "--no-track"]) == {"verbose", "filter", "track"}


def test_an_unknown_preset_is_one_line(monkeypatch, capsys):
    code, err = run_realtime(monkeypatch, capsys, "--preset", "work", "--source", "synthetic", "--no-preview")
    assert_one_line(code, err, "--preset work: no such preset", "realtime ctl save-preset")


def test_the_instance_file_is_the_users_alone_and_ctl_finds_the_live_ones(own_config_dir):
    path = instances.publish(40001, "secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    found = instances.find()
    assert (found.port, found.token, found.pid) == (40001, "secret", os.getpid())
    assert found.studio == "http://127.0.0.1:40001/studio#token=secret"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    stale = path.parent / "40002.json"
    stale.write_text(json.dumps({"port": 40002, "token": "old", "pid": int(dead)}))
    assert [i.port for i in instances.running()] == [40001] and not stale.exists(), "a killed run's file goes"
    instances.publish(40003, "other")
    with pytest.raises(UserError, match="2 realtime instances are running .*40001, 40003.*--port"):
        instances.find()
    assert instances.find(40003).token == "other"
    with pytest.raises(UserError, match="no running realtime with a control port 40004"):
        instances.find(40004)
    instances.withdraw(path), instances.withdraw(path.parent / "40003.json")
    with pytest.raises(UserError, match="no running realtime found"):
        instances.find()


def test_ctl_without_a_running_one_and_with_bad_words_is_one_line(monkeypatch, capsys):
    code, err = run_realtime(monkeypatch, capsys, "ctl", "next")
    assert_one_line(code, err, "no running realtime found")
    instances.publish(40005, "t")
    code, err = run_realtime(monkeypatch, capsys, "ctl", "wobble")
    assert_one_line(code, err, "unknown command 'wobble'")
    code, err = run_realtime(monkeypatch, capsys, "ctl", "strength", "loud")
    assert_one_line(code, err, "expected a number")
    code, err = run_realtime(monkeypatch, capsys, "ctl", "strength", "0.5")
    assert_one_line(code, err, "does not answer")
