"""Measurements: flicker of filters on real videos (and, later, FPS/latency)."""
