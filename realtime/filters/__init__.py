"""Filters: the ONNX file format and its contract, providers and sessions, the filter kinds
(frame, face, effects), the chain that runs them. May import analysis, compositing, capture and the base modules."""
