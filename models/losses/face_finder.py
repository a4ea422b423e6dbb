"""A loss that keeps faces findable: MediaPipe's face detector on the output against the target.

The style benchmark counts a face as kept when MediaPipe's short-range face detector (BlazeFace,
``face_detection_short_range.tflite`` in the installed mediapipe wheel) still finds it in the
filtered picture (:mod:`benchmarks.style_texture`). A student distilled by pixel losses copies
its teacher's strokes but not what the detector reads: on a held-out collage of three small
profile faces the full ``starry_night`` network kept a face (score 0.55) and each of three CPU
students none. This loss runs the same detector, through the torch executor of
:mod:`models.losses.tflite_net`, on the output and on the target at the detector's 128×128
input (RGB in −1..1, as MediaPipe feeds it), and penalises (a) each anchor's face score the
output loses against the target's (one-sided: a face the target shows must stay as findable;
summed over the 896 anchors, averaged over the batch) and (b) the distance of the detector's
encoder features (strides 2, 4, 8), each relative to the target's mean magnitude. It looks at
each crop twice (:data:`SCALES`): filling the detector's input (a training crop's faces, 40–80 px
there) and shrunk to 40 % in the middle of a black one (faces of 15–30 px, as a group photo or a
person further from the camera shows them to the detector: the collage the students lost is
letterboxed into 128×128 with faces about 15 px). The weights stay in the wheel and are used
only for training.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.losses.tflite_net import TFLiteNet, file_stage_taps, model_path

DETECTOR = "face_detection_short_range"
SIDE = 128  # the short-range detector's input
SCORES = "classificators"  # its N×896×1 face logits, one per anchor
SCALES = (1.0, 0.4)  # each crop filling the detector's input, and shrunk into the middle of a black one


class FaceFinderLoss(nn.Module):
    """``loss(out, target)`` for 0–1 RGB batches (N×3×H×W, any size): lost face score + feature distance."""

    def __init__(self, features: float = 1.0, path: Path | None = None) -> None:
        super().__init__()
        path = path or model_path(DETECTOR)
        taps = file_stage_taps(path)[:3]
        self.stages = len(taps)
        self.features = features
        self.net = TFLiteNet(path, [*taps, SCORES]).eval().requires_grad_(False)

    def detect(self, rgb01: torch.Tensor, scale: float = 1.0) -> list[torch.Tensor]:
        """The encoder's stage features, then the anchors' face logits, of 0–1 RGB ``rgb01``
        resized to ``scale`` of the detector's input side (in the middle of black where < 1)."""
        side = max(8, round(SIDE * scale))
        x = F.interpolate(rgb01, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        if side < SIDE:
            before = (SIDE - side) // 2
            x = F.pad(x, (before, SIDE - side - before, before, SIDE - side - before))
        return self.net(x * 2 - 1)

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = out.new_zeros(())
        for scale in SCALES:
            with torch.no_grad():
                want = self.detect(target, scale)
            got = self.detect(out, scale)
            total = total + (torch.sigmoid(want[-1]) - torch.sigmoid(got[-1])).clamp(min=0).sum(dim=(1, 2)).mean()
            if self.features:
                far = sum((a - b).abs().mean() / (b.abs().mean() + 1e-6) for a, b in zip(got[:-1], want[:-1]))
                total = total + self.features * far / self.stages
        return total / len(SCALES)
