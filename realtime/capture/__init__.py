"""Capture: where frames come from (a camera, a video file, a still image, a synthetic pattern),
as BGR uint8 with their pace. May import only realtime's base modules (errors, imaging, native)."""
