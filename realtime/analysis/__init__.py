"""Analysis: what a frame holds besides its pixels (faces and their smoothed landmarks, the
person's mask, the smile), computed only when a filter needs it. May import only the base modules.

The analysers register themselves by what they provide; importing the room registers them all.
"""
from realtime.analysis import expressions, segmentation  # noqa: F401  (they register themselves)
