"""models.gallery's before/after sheet: the earlier file and the bundled one, run as realtime runs them."""
from __future__ import annotations

import shutil

import cv2
import numpy as np

from models.gallery import main
from realtime.filters.registry import bundled_filters
from tests.conftest import assert_one_line


def test_before_after_puts_the_earlier_file_beside_the_bundled_one(tmp_path, data_dir):
    before = tmp_path / "before"
    before.mkdir()
    shutil.copy(bundled_filters()["candy"], before / "psychedelic.onnx")  # an "earlier" psychedelic that is candy
    out = tmp_path / "sheet.png"
    assert main(["--before", str(before), "--filter", "psychedelic", "--out", str(out)]) == 0
    sheet = cv2.imread(str(out))
    h, w = sheet.shape[:2]
    assert h == 320 and w % 3 == 0
    photo, old, new = (sheet[:, i * w // 3:(i + 1) * w // 3].astype(int) for i in range(3))
    assert np.abs(old - new).mean() > 10 and np.abs(new - photo).mean() > 10  # three different pictures


def test_a_missing_earlier_file_is_one_line(tmp_path, capsys):
    from realtime.errors import run_cli

    code = run_cli(lambda: main(["--before", str(tmp_path), "--filter", "candy", "--out", str(tmp_path / "x.jpg")]))
    assert_one_line(code, capsys.readouterr().err, "not found", "candy.onnx")


def test_the_fast_sheet_runs_the_earlier_fast_file_itself(tmp_path, data_dir):
    """--variant fast: the earlier folder holds NAME.fast.onnx, run as it is (not its own
    "fast variant"), beside the bundled NAME's fast variant."""
    from realtime.filters.onnx_format import variant_path

    before = tmp_path / "before"
    before.mkdir()
    shutil.copy(variant_path(bundled_filters()["candy"], "fast"), before / "psychedelic.fast.onnx")
    out = tmp_path / "sheet.png"
    assert main(["--before", str(before), "--filter", "psychedelic", "--variant", "fast", "--out", str(out)]) == 0
    sheet = cv2.imread(str(out))
    w = sheet.shape[1]
    photo, old, new = (sheet[:, i * w // 3:(i + 1) * w // 3].astype(int) for i in range(3))
    assert np.abs(old - new).mean() > 10 and np.abs(old - photo).mean() > 10
