"""The live loop: camera → tracking → ONNX Runtime filters → preview / virtual camera.

This package never imports torch: an ONNX file with the filter contract is the whole interface.
"""
