"""A network on an aligned square crop around each tracked face, pasted back with a
feathered mask; frames without a face pass through."""
from __future__ import annotations

import cv2
import numpy as np

from realtime.analysis import FACES, FrameAnalysis
from realtime.engine import FilterModel, NonFiniteOutput
from realtime.kinds import Applied, Settings, register_model_kind
from realtime.onnx_format import FilterContract
from realtime.tracking import face_transform, feather_mask


@register_model_kind("face")
class FaceFilter:
    needs: frozenset[str] = frozenset({FACES})

    def __init__(self, model: FilterModel) -> None:
        self.model = model
        self.name = model.name
        self.mask = feather_mask(model.contract.work_size)

    @staticmethod
    def input_hw(contract: FilterContract, frame_hw: tuple[int, int] | None, work_size: int | None) -> tuple[int, int]:
        """The aligned square crop, whatever the frame."""
        return contract.fixed_size or (contract.work_size, contract.work_size)

    def apply(self, bgr: np.ndarray, analysis: FrameAnalysis, settings: Settings) -> Applied:
        size = self.model.contract.work_size
        h, w = bgr.shape[:2]
        out, ms = bgr, 0.0
        for face in analysis.faces:
            m = face_transform(face, size)
            crop = cv2.warpAffine(out, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            try:
                result = self.model.infer(crop, settings.latent)
            except NonFiniteOutput:
                return Applied(bgr, ms, nonfinite=True)
            ms += result.ms
            inv = cv2.invertAffineTransform(m)
            back = cv2.warpAffine(result.image, inv, (w, h), flags=cv2.INTER_LINEAR)
            alpha = cv2.warpAffine(self.mask, inv, (w, h), flags=cv2.INTER_LINEAR)[..., None] * settings.strength
            out = (out * (1.0 - alpha) + back * alpha + 0.5).astype(np.uint8)
        return Applied(out, ms)
