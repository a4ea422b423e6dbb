"""benchmarks.student_cost: variants of a bundled student's architecture timed beside it, the files,
and one line for every bad variant."""
from __future__ import annotations

import json

import pytest

from benchmarks.student_cost import SHIPPED, UNTRAINED, changed_config, main, parse_variant
from realtime.errors import UserError, run_cli
from tests.conftest import assert_one_line

GUIDED = {"arch": "unet", "inner": {"channels": (8, 16, 16, 32), "tone_frequencies": 16}, "factor": 2}


def test_a_variant_is_python_values_by_key():
    assert parse_variant("tone_frequencies=8 channels=(16,16,16,32)") == {"tone_frequencies": 8, "channels": (16, 16, 16, 32)}
    assert parse_variant("edge_sigmas=()") == {"edge_sigmas": ()}
    for bad in ("tone_frequencies", "=8", "channels=(16,", ""):
        with pytest.raises(UserError):
            parse_variant(bad)


def test_each_setting_is_changed_where_it_lives_and_the_checkpoint_is_left_alone():
    out = changed_config(GUIDED, {"factor": 3, "tone_frequencies": 8})
    assert out["factor"] == 3 and out["inner"]["tone_frequencies"] == 8 and out["inner"]["channels"] == (8, 16, 16, 32)
    assert GUIDED["factor"] == 2 and GUIDED["inner"]["tone_frequencies"] == 16
    with pytest.raises(UserError, match="widht is not a setting of this student.*channels, factor, tone_frequencies"):
        changed_config(GUIDED, {"widht": 4})


def test_the_shipped_student_its_control_and_a_variant_are_timed_and_written(tmp_path):
    out = tmp_path / "cost"
    assert main(["--model", "aged.fast", "--size", "640x480", "--variant", "channels=(8,8,16,32)",
                 "--rounds", "1", "--repeat", "1", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["input"] == "192x192"  # a face filter's crop, whatever the frame
    shipped, control, lighter = report["rows"]
    assert (shipped["label"], control["label"], lighter["label"]) == (SHIPPED, UNTRAINED, "channels=(8,8,16,32)")
    assert shipped["ratio"] == 1.0 and shipped["params"] == control["params"] > lighter["params"]
    assert all(r["p50_ms"] > 0 for r in report["rows"])
    assert "| channels=(8,8,16,32) |" in (out / "report.md").read_text() and (out / "plot.png").stat().st_size > 1000


@pytest.mark.parametrize("args, needle", [
    (["--model", "nosuch.fast"], "no bundled student of that name"),
    (["--model", "aged.fast", "--variant", "widht=4"], "widht is not a setting"),
    (["--model", "aged.fast", "--variant", "channels=(8,16,32)"], "--variant channels=(8,16,32): invalid unet config"),
    (["--model", "aged.fast", "--variant", "channels"], "KEY=VALUE"),
    (["--size", "1280"], "WxH"),
])
def test_bad_input_is_one_line_before_any_export(args, needle, capsys, tmp_path):
    assert_one_line(run_cli(lambda: main([*args, "--out", str(tmp_path / "x")])), capsys.readouterr().err, needle)
    assert not (tmp_path / "x").exists()
