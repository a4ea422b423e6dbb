"""A bundled filter's model card: what it is, how it was trained and how fast it runs on this
machine's CPU (ONNX Runtime, all cores), and which CPU that was (``cpu_ms_on``: the 2-core hosts
this project is built on differ, one ran the same network 2.5x as slowly as another);
``--retime`` measures every card again.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from realtime.host import machine
from realtime.imaging import work_shape
from realtime.live.stats import median_ms


def cpu_ms_per_frame(onnx_path: Path, h: int, w: int, runs: int = 20) -> float:
    """Median ONNX Runtime CPU time for one h×w frame (code 0 when the model has a latent)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {"input": np.random.rand(1, 3, h, w).astype(np.float32)}
    if any(i.name == "latent" for i in session.get_inputs()):
        feeds["latent"] = np.zeros(1, np.int64)
    return median_ms(lambda: session.run(None, feeds), runs)


def cpu_times(onnx_path: Path, work_size: int, multiple: int, kind: str = "frame") -> dict[str, float | int | str]:
    """The model card's CPU timings (ONNX Runtime, all cores of this machine); a face filter
    runs on one work_size² crop per face whatever the frame."""
    if kind == "face":
        return {"work_size": work_size, "cpu_ms_face_crop": round(cpu_ms_per_frame(onnx_path, work_size, work_size), 1),
                "cpu_ms_on": machine()}
    def padded(h: int, w: int) -> tuple[int, int]:  # the engine pads to the model's size multiple (12 at factor 3)
        return -(-h // multiple) * multiple, -(-w // multiple) * multiple

    return {
        "cpu_ms_256x256": round(cpu_ms_per_frame(onnx_path, *padded(256, 256)), 1),
        "work_size": work_size,
        # a 640×480 camera frame runs at the work size (short side), then is resized back
        "cpu_ms_640x480_frame": round(cpu_ms_per_frame(onnx_path, *padded(*work_shape(480, 640, work_size))), 1),
        "cpu_ms_640x480_full_res": round(cpu_ms_per_frame(onnx_path, *padded(480, 640), runs=5), 1),
        "cpu_ms_on": machine(),
    }


def retime(folder: Path) -> list[dict]:
    """Measure the CPU timings of every bundled model card again (on an otherwise idle machine)."""
    from realtime.filters.onnx_format import read_contract

    cards = []
    for card_path in sorted(folder.glob("*.json")):
        onnx_path = card_path.with_suffix(".onnx")
        if not onnx_path.is_file():
            continue
        card = json.loads(card_path.read_text())
        contract = read_contract(onnx_path)
        card.update(cpu_times(onnx_path, int(card.get("work_size") or contract.work_size), contract.size_multiple, contract.kind))
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        cards.append(card)
        if contract.kind == "face":
            print(f"{card['name']}: {card['cpu_ms_face_crop']} ms per {card['work_size']}² face crop")
        else:
            print(f"{card['name']}: {card['cpu_ms_256x256']} ms at 256×256, {card['cpu_ms_640x480_frame']} ms per 640×480 "
                  f"frame (work size {card['work_size']}), {card['cpu_ms_640x480_full_res']} ms at full 640×480")
    return cards
