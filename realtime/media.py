"""The files the tool reads as pictures and as videos, by suffix: one list for the sources
(``--source``), the backdrops (``--background``) and the batch's inputs, so a file one of them
takes is not refused by another (FFmpeg, through PyAV and OpenCV, reads every video kind here)."""
from __future__ import annotations

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp",
                        ".gif"})
