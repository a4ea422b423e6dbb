"""One ONNX filter model in one ONNX Runtime session, driven by the filter contract.

:class:`FilterModel` takes camera frames as they are (BGR uint8, H×W×3), pads them to the
model's size multiple (or resizes to its fixed size), runs the model and returns the same
layout. The frame goes to the graph as uint8 RGB planes (an OpenCV split, 0.03 ms at 852×480),
and the conversion to the model's float input range and back happens inside the graph
(:mod:`realtime.filters.frame_graph`). A model that
returns NaN/inf is caught here, not in the picture; one that returns anything but a 3-channel
image of its input's size is refused when it is loaded (its warm-up frame), with one line.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError, first_line
from realtime.filters.frame_graph import CHECKSUM, FRAME_IN, FRAME_OUT, from_planes, is_quantized, to_planes
from realtime.filters.onnx_format import inspect
from realtime.filters.providers import ShapeProfile, create_session, short_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inference:
    image: np.ndarray  # BGR uint8, the input's size
    ms: float  # time inside ONNX Runtime (the graph's uint8↔float conversion included)
    planes_ms: float = 0.0  # on the host: the frame split into the graph's planes and the result merged back


class NonFiniteOutput(RuntimeError):
    """The model produced NaN or infinite values for this frame."""


class FilterModel:
    def __init__(self, path: Path, provider: str = "auto", threads: int = 0, profile: ShapeProfile | None = None,
                 io_binding: bool | None = None, beside: bool = False, **overrides: object) -> None:
        """``io_binding``: feed and fetch through an ONNX Runtime IO binding (default: on GPU
        providers, where outputs are written straight into a binding instead of new arrays).
        ``beside``: on CPU, a second session with one thread, for runs beside another frame's
        network (:meth:`infer`'s ``crowded``; ``realtime --in-flight 2``)."""
        self.path = Path(path)
        info = inspect(self.path, weights=True, **overrides)  # every check, one line each
        self.input_name, self.contract = info.input_name, info.contract
        graph = info.framed
        data, quantized = graph.SerializeToString(), is_quantized(graph)
        self.session, used = create_session(self.path, provider, profile or ShapeProfile(), threads, data=data, quantized=quantized)
        self.provider = short_name(used)
        # one thread: two one-thread runs side by side finish more frames than two-thread runs in turn
        # (realtime.live.turns); a GPU session serves both
        self.beside_session = create_session(self.path, "cpu", threads=1, data=data, quantized=quantized)[0] if beside and self.provider == "cpu" else None
        self.latent_name = next((i.name for i in self.session.get_inputs() if i.name == "latent"), None)
        self.io_binding = self.provider != "cpu" if io_binding is None else io_binding

    @property
    def name(self) -> str:
        return self.contract.name

    def infer(self, bgr: np.ndarray, latent: int = 0, crowded: bool = False) -> Inference:
        """Filter one H×W×3 BGR uint8 image with latent code ``latent`` (taken modulo the
        model's codes); the result has the same shape and type. Safe to call from several
        threads at once: nothing about the call is kept on the model. ``crowded``: another
        network is running beside this one (the one-thread session runs it, where there is one;
        the picture is the same, bit for bit)."""
        h, w = bgr.shape[:2]
        c = self.contract
        split = time.perf_counter()
        if c.fixed_size:
            planes = to_planes(cv2.resize(bgr, (c.fixed_size[1], c.fixed_size[0]), interpolation=cv2.INTER_AREA))
        else:
            ph, pw = padding(h, w, c.size_multiple)
            if ph < h and pw < w:  # mirrored as the planes are made
                planes = to_planes(bgr, (ph, pw))
            else:  # a frame smaller than its padding (under MIN_SIDE): its edge repeated
                planes = to_planes(cv2.copyMakeBorder(bgr, 0, ph, 0, pw, cv2.BORDER_REPLICATE))
        feeds = {FRAME_IN: planes}
        if self.latent_name:
            feeds[self.latent_name] = np.array([latent % max(c.latent_codes, 1)], dtype=np.int64)
        session = self.beside_session if crowded and self.beside_session is not None else self.session
        start = time.perf_counter()
        if not self.io_binding:
            y, checksum = session.run([FRAME_OUT, CHECKSUM], feeds)
        else:  # a binding per call: bindings hold their inputs, so one shared binding is not thread-safe
            binding = session.io_binding()
            for name, value in feeds.items():
                binding.bind_cpu_input(name, value)
            for name in (FRAME_OUT, CHECKSUM):
                binding.bind_output(name, "cpu")
            session.run_with_iobinding(binding)
            y, checksum = binding.copy_outputs_to_cpu()
        ran = time.perf_counter()
        ms = (ran - start) * 1000
        if not np.isfinite(checksum):
            raise NonFiniteOutput(f"{self.name} returned NaN or infinite values")
        if y.shape != planes.shape:
            got = "x".join(map(str, y.shape))
            raise UserError(
                f"{self.name} returned a {got} (NxCxHxW) image for a {planes.shape[3]}x{planes.shape[2]} frame: a filter must return a 3-channel image of its input's size "
                "(an upscaler or a mask model is not a filter)")
        if c.fixed_size:
            y = cv2.resize(from_planes(y), (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            y = from_planes(y, (h, w))  # the padding left out
        return Inference(y, ms, (start - split + time.perf_counter() - ran) * 1000)

    def warmup(self, size: tuple[int, int] | None = None) -> None:
        """Run once before the first frame, so the first real frame is not slow and a model
        that cannot work (wrong output shape, NaN on a plain frame, a failing graph) is refused
        with one line before the loop starts."""
        s = self.contract.work_size
        h, w = size or self.contract.fixed_size or (s, s * 4 // 3)
        frame = np.full((h, w, 3), 128, np.uint8)
        frame[: h // 2] = 96  # an edge, so filters that only react to structure still run their graph
        try:
            self.infer(frame)
            if self.beside_session is not None:
                self.infer(frame, crowded=True)
        except NonFiniteOutput:
            raise UserError(f"{self.path.name} returns NaN or infinite values on a plain test frame: the file is "
                            "broken (re-export it, or check its input range with `realtime-export info`)") from None
        except UserError:
            raise
        except Exception as exc:  # ONNX Runtime refuses the graph at run time
            raise UserError(f"{self.path.name} fails on a {w}x{h} test frame ({first_line(exc)}): it is not a filter this tool can run") from None


MIN_SIDE = 64  # frames are padded up to this: style networks reflect-pad by 4 at full and 1 at 1/4 size, students run at 1/4 size, TensorRT's profile starts at 64


def padding(h: int, w: int, multiple: int) -> tuple[int, int]:
    """Rows and columns to add below and right of an h×w frame so each side is at least
    :data:`MIN_SIDE` and a multiple of ``multiple``: any frame size runs, even 3×5."""
    def up(n: int) -> int:
        n = max(n, MIN_SIDE)
        return n + (-n) % multiple
    return up(h) - h, up(w) - w
