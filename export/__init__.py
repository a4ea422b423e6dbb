"""PyTorch → ONNX export, precision variants, TensorRT engines and importers.

Only :mod:`export.contract` and :mod:`export.errors` are imported by the runtime; everything
else needs the ``train`` extra (torch, onnx).
"""
