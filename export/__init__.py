"""PyTorch → ONNX export with a parity check, precision variants, TensorRT engines, importers
for other people's weights, and the release tool that bundles a trained filter.

The layer above :mod:`models` and :mod:`realtime`: the ONNX file format itself (the contract
in the metadata, variant names) lives in :mod:`realtime.filters.onnx_format`, so the torch-free
runtime never imports this package.
"""
