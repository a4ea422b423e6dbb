"""The wheel a user installs: the runtime with its bundled filters, no tests, no training
checkpoints."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_no_tests_and_no_checkpoints(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("realtime_filters-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("tests/")], "tests are not a package to install"
    assert not [n for n in names if n.endswith(".pt")], "training checkpoints are not read at run time"
    assert "realtime/bundled/cartoon.onnx" in names and "realtime/bundled/cartoon.fast.onnx" in names
    assert "realtime/web/page.html" in names and "realtime/capture/image_header.py" in names  # GET / reads the page from the package
    assert "realtime/filters/onnx_format.py" in names and "export/cli.py" in names
