"""fp16 and int8 variants of an exported fp32 ONNX file.

fp16 uses onnxconverter-common with the normalisation ops kept in fp32 (InstanceNorm's variance
overflows in half precision) and fp32 inputs/outputs, so callers do not change. int8 is
onnxruntime.quantization's static QDQ quantisation of the convolutions, calibrated on real
images at the model's work size, with per-channel 7-bit weights (see :data:`REDUCE_RANGE`).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnx

from realtime.errors import UserError
from realtime.filters.onnx_format import FilterContract, save_atomic, write_contract
from models.data.media import IMAGE_EXTS, fit_short_side, list_media, read_rgb

log = logging.getLogger(__name__)
# x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake, most AMD before Zen 4) multiply
# uint8 activations by int8 weights with vpmaddubsw, which adds pairs of products into int16
# and saturates: 255 * 127 * 2 = 64770 > 32767. The test UNet's int8 parity (p99 / mean on the
# 0-1 scale) was 0.157 / 0.014 on a VNNI CPU but 0.516 / 0.052 on the same files under QEMU's
# Haswell model (the failure a user saw). 7-bit weights (255 * 64 * 2 = 32640) cannot
# saturate: 0.168 / 0.0145 on both CPUs, the same output everywhere.
REDUCE_RANGE = True
KEEP_FP32_OPS = ["InstanceNormalization", "GroupNormalization", "LayerNormalization", "ReduceMean", "Pow", "Sqrt"]


def to_fp16(src: Path, dst: Path) -> Path:
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(KEEP_FP32_OPS))
    with warnings.catch_warnings(record=True) as clamped:  # one UserWarning per tensor out of range, with a source line
        warnings.simplefilter("always")
        half = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=block)
    onnx.save(half, str(dst))
    if clamped:
        log.info("fp16: weights beyond half precision's range clamped in %d places, e.g. %s (the parity check "
                 "after the export measures what that changed)", len(clamped), clamped[0].message)
    log.info("wrote %s", dst)
    return dst


def calibration_batches(folder: Path, contract: FilterContract, limit: int = 32) -> list[dict[str, np.ndarray]]:
    """Centre crops of the images in ``folder`` at the work size, as ONNX Runtime feeds."""
    paths = list_media(folder, IMAGE_EXTS) if Path(folder).is_dir() else []
    if not paths:
        raise UserError(f"no calibration images in {folder}: pass --calib with a folder of photos")
    m = contract.size_multiple
    h, w = contract.fixed_size or ((contract.work_size // m) * m,) * 2
    feeds = []
    for i, p in enumerate(paths[:limit]):
        img = fit_short_side(read_rgb(p), max(h, w))
        y, x = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        crop = img[y : y + h, x : x + w].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        feed = {"input": np.ascontiguousarray(crop * contract.scale, dtype=np.float32)}
        if contract.latent_codes:
            feed["latent"] = np.array([i % contract.latent_codes], dtype=np.int64)
        feeds.append(feed)
    return feeds


def to_int8(src: Path, dst: Path, calib_folder: Path, contract: FilterContract) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    feeds = calibration_batches(calib_folder, contract)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    prepped = dst.with_suffix(".prep.onnx")
    try:
        quant_pre_process(str(src), str(prepped), skip_symbolic_shape=True)
        quantize_static(
            str(prepped), str(dst), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
            per_channel=True, reduce_range=REDUCE_RANGE, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )
    finally:
        prepped.unlink(missing_ok=True)
    # quantize_static rewrites the model: carry the contract over
    model = onnx.load(str(dst))
    write_contract(model, contract)
    save_atomic(model, dst)
    log.info("wrote %s (calibrated on %d images)", dst, len(feeds))
    return dst
