"""Sinks: where filtered frames go (a video file, the virtual camera, the preview window) and the
checks of output paths before any work. May import only the base modules."""
