"""The face-finder loss: MediaPipe's face detector, in torch, on the output against the target."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from realtime.errors import UserError
from tests.conftest import torch_threads

pytest.importorskip("tflite", reason="the tflite package (train extra) is not installed")
face_finder = pytest.importorskip("models.losses.face_finder")


@pytest.fixture(scope="module")
def loss():
    with torch_threads(1):
        try:
            finder = face_finder.FaceFinderLoss()
        except UserError as e:
            pytest.skip(f"mediapipe's face detector is not available: {e}")
        yield finder


def picture(rgb: np.ndarray, side: int = 192) -> torch.Tensor:
    import cv2

    return torch.from_numpy(cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float() / 255


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe is not installed")
def test_the_detector_scores_faces_as_mediapipe_does(loss, face_photo, data_dir):
    """The torch detector reads its input as MediaPipe feeds it (RGB in −1..1): on 128² pictures
    its best anchor's score is MediaPipe's own detection score (a face, a collage of small faces,
    two dogs' faces)."""
    import cv2
    import mediapipe as mp
    from models.data.media import read_rgb

    photos = [face_photo, read_rgb(data_dir / "faces" / "3ddfa__emma.jpg"), read_rgb(data_dir / "faces" / "noface" / "dlib__dogs.jpg")]
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.3) as detector:
        for rgb in photos:
            rgb = np.ascontiguousarray(cv2.resize(rgb, (128, 128), interpolation=cv2.INTER_AREA))
            found = detector.process(rgb).detections
            theirs = max(d.score[0] for d in found)
            with torch.no_grad():
                ours = torch.sigmoid(loss.detect(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[-1]).max().item()
            assert abs(ours - theirs) < 0.01, (ours, theirs)


def test_a_blurred_face_costs_more_than_a_shifted_one_and_only_the_output_learns(loss, face_photo):
    x = picture(face_photo)
    assert loss(x, x).item() == 0.0
    blurred = torch.nn.functional.avg_pool2d(x, 9, stride=1, padding=4, count_include_pad=False)
    shifted = torch.roll(x, 1, dims=3)
    assert loss(blurred, x).item() > 3 * loss(shifted, x).item() > 0
    out = blurred.clone().requires_grad_(True)
    target = x.clone().requires_grad_(True)
    loss(out, target).backward()
    assert out.grad is not None and out.grad.abs().sum() > 0 and target.grad is None


def test_distill_refuses_a_negative_face_weight():
    from models.distill import main

    with pytest.raises(UserError, match="--face-weight"):
        main(["--teacher", "t.pt", "--out", "o.pt", "--face-weight", "-1"])
