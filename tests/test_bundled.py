"""The filters shipped in the package load in ONNX Runtime and really filter a real face photo."""
from __future__ import annotations

import json

import cv2
import numpy as np
import onnxruntime as ort

from export.contract import FilterContract
from models.media import fit_short_side
from models.teachers import CARTOON_STYLES, cartoon
from realtime.registry import BUNDLED, bundled_filters


def test_cartoon_is_bundled_with_its_model_card():
    assert "cartoon" in bundled_filters()
    card = json.loads((BUNDLED / "cartoon.json").read_text())
    assert 0 < card["validation_l1"] < 0.1
    total = sum(p.stat().st_size for p in BUNDLED.glob("*.onnx"))
    assert total < 40e6, "bundled models must stay within the ~40 MB budget"


def test_bundled_cartoon_changes_a_face_photo_towards_the_teacher(face_photo):
    session = ort.InferenceSession(str(bundled_filters()["cartoon"]), providers=["CPUExecutionProvider"])
    contract = FilterContract.from_props(session.get_modelmeta().custom_metadata_map)
    assert contract.name == "cartoon" and contract.input_range == "0-1" and contract.latent_codes == len(contract.latent_names)
    img = fit_short_side(face_photo, contract.work_size)
    h, w = (img.shape[0] // 4) * 4, (img.shape[1] // 4) * 4
    img = np.ascontiguousarray(img[:h, :w])
    x = img.transpose(2, 0, 1)[None].astype(np.float32) / 255
    outs = []
    for code in range(max(contract.latent_codes, 1)):
        feeds = {"input": x}
        if contract.latent_codes:
            feeds["latent"] = np.array([code], np.int64)
        y = session.run(None, feeds)[0][0].transpose(1, 2, 0)
        assert y.shape == img.shape and np.isfinite(y).all()
        outs.append((y * 255).round().astype(np.uint8))
    best = min(outs, key=lambda o: np.abs(o.astype(int) - cartoon(img, CARTOON_STYLES["bold"])).mean())
    teacher = cartoon(img, CARTOON_STYLES["bold"]).astype(int)
    assert np.abs(best.astype(int) - img).mean() > 8, "the filter must visibly change the photo"
    assert np.abs(best.astype(int) - teacher).mean() < 0.8 * np.abs(img.astype(int) - teacher).mean()
    # cartoon look: fewer distinct colours in a smooth region than the photo has
    gray_in = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    gray_out = cv2.Laplacian(cv2.cvtColor(best, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    assert not np.allclose(gray_in, gray_out)
