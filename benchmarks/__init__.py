"""Measurements: speed and latency, flicker, masks, smiles, landmarks, clone and style quality,
each beside a baseline; each writes a report with a plot under ``benchmarks/results``."""
import realtime  # noqa: F401  (first: OpenCV's pool is set up before a benchmark loads cv2: realtime.opencv_pool)
