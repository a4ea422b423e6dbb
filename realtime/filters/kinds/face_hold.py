"""A face network held while the face holds still: its last change reused, the network not run.

The face filter runs its network on an aligned crop (:mod:`realtime.filters.kinds.face_filter`):
the crop follows the head, so what is left to change in it is the expression and the light.
Where the crop's blurred 48×48 thumbnail is within :data:`HOLD_BELOW` grey levels of the one the
network's last change was made from, that change is added to the new crop instead of running the
network: ``aged``'s network is 9–11 ms of a 720p frame on 2 cores, the thumbnail 0.05 ms. The
change is reused, not the output, so the crop's own light and detail come through; the creases
are drawn afterwards from the tracked mesh as on every frame; a drift adds up against the held
thumbnail, so a slow change runs the network once it reaches the threshold. On two expressive
talking heads at 1280×720 and 30 fps (``liveportrait__d18``, ``__d0``) the network ran on 65 %
and 78 % of the frames (a stiller face is held more often), and the output differed from running
it on every frame by 0.06 grey levels on average, 2.2 at the 99.9th percentile. As the person
mask's still-frame skip (:mod:`realtime.analysis.segmentation`), it lives with the stream
(``Settings.temporal``'s memory, :mod:`realtime.filters.kinds.stream_state`): a still image
always runs the network.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.compositing.temporal import thumb

HOLD_BELOW = 2  # grey levels: the largest thumbnail change for which the last change is reused
THUMB_SCALE = 4  # the thumbnail is the crop's grey at 1/4 (48×48 for a 192-px crop), blurred


@dataclass
class HeldChange:
    """One face slot's last network change in its aligned crop (output − crop, int16), the
    thumbnail of the crop it was made from and the latent code it was made with."""

    thumb: np.ndarray | None = None
    change: np.ndarray | None = None
    latent: int = -1

    def reuse(self, crop: np.ndarray, small: np.ndarray, latent: int) -> np.ndarray | None:
        """``crop`` plus the held change when ``small`` (the crop's :func:`crop_thumb`) is within
        :data:`HOLD_BELOW` of the held one, with the same latent code; None: run the network."""
        if (self.change is None or self.thumb is None or latent != self.latent or small.shape != self.thumb.shape
                or self.change.shape != crop.shape or int(cv2.absdiff(small, self.thumb).max()) > HOLD_BELOW):
            return None
        return np.clip(crop.astype(np.int16) + self.change, 0, 255).astype(np.uint8)

    def keep(self, crop: np.ndarray, small: np.ndarray, output: np.ndarray, latent: int) -> None:
        """Hold the network's ``output`` on ``crop`` (thumbnail ``small``) made with ``latent``."""
        self.thumb, self.latent = small, latent
        self.change = output.astype(np.int16) - crop


def crop_thumb(crop: np.ndarray) -> np.ndarray:
    """The blurred grey thumbnail the hold compares (the stabiliser's, at 1/:data:`THUMB_SCALE`)."""
    return thumb(crop, THUMB_SCALE)
