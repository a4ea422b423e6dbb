"""Loading filter models: the provider is known first, then the variant file is chosen, then
its one session is made and warmed up; each file is loaded once per loader.

The old loader made a full session of the fp32 model only to learn which provider ONNX
Runtime would give it, then loaded the variant: on CPU every filter loaded twice.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from realtime import signals
from realtime.filters.engine import FilterModel
from realtime.filters.providers import probe
from realtime.filters.registry import variant_file

log = logging.getLogger(__name__)


class ModelLoader:
    """Models by file for one run: ``provider`` auto|tensorrt|cuda|cpu, ``variant``
    auto|full|fast, ``frame_hw`` the frame size warm-up runs at (frame filters), ``beside``:
    each with a one-thread session for frames in flight (:class:`FilterModel`)."""

    def __init__(self, provider: str = "auto", variant: str = "auto", threads: int = 0,
                 frame_hw: tuple[int, int] | None = None, work_size: int | None = None, beside: bool = False) -> None:
        self.provider = probe(provider)  # fails here, before any model, when a GPU was asked for and is not there
        signals.checkpoint()  # probing imports ONNX Runtime: a signal during it acts here
        self.asked, self.variant, self.threads = provider, variant, threads
        self.frame_hw, self.work_size, self.beside = frame_hw, work_size, beside
        self.models: dict[Path, FilterModel] = {}
        self.lock = threading.Lock()

    def model(self, path: Path) -> FilterModel:
        """The model to run for the bundled or user file ``path``, loaded and warmed up once."""
        path = Path(path)
        with self.lock:
            if path not in self.models:
                self.models[path] = self.load(path)
            model = self.models[path]
        signals.checkpoint()  # start-up: a signal during the load stops here, with the model whole
        return model

    def load(self, path: Path) -> FilterModel:
        chosen = variant_file(path, self.provider, self.variant)
        if chosen != path:
            log.info("%s on %s: running %s (--variant full to force the full fp32 model)", path.stem, self.provider, chosen.name)
        # the probed provider, so a session never tries (and fails) a GPU again
        model = FilterModel(chosen, self.provider if self.asked == "auto" else self.asked, self.threads, beside=self.beside)
        model.warmup(self.warm_size(model))
        return model

    def warm_size(self, model: FilterModel) -> tuple[int, int] | None:
        """The size the model will see first: its kind knows (a face crop, or the frame at
        the work size)."""
        from realtime.filters.kinds.base import MODEL_KINDS

        return MODEL_KINDS[model.contract.kind].input_hw(model.contract, self.frame_hw, self.work_size)

    @property
    def providers(self) -> str:
        """The providers the loaded models really run on, e.g. ``cpu``."""
        with self.lock:
            return ",".join(sorted({m.provider for m in self.models.values()})) or self.provider
