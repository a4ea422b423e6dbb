"""``realtime web``: a page on localhost that applies any filter of this package to an uploaded
image (every variant of it side by side, with ``latent=all``) and, with the ``web`` extra
(aiortc), to the user's own camera live over WebRTC.

Modules, in the order a request meets them: :mod:`~realtime.web.config` (what the server runs
with), :mod:`~realtime.web.server` (routes, errors as JSON, the worker pool),
:mod:`~realtime.web.uploads` (the form under its size caps) and
:mod:`~realtime.capture.image_header` (an image's size before it is decoded),
:mod:`~realtime.web.options` (what a client may ask for), :mod:`~realtime.web.chains` (models
loaded once), :mod:`~realtime.web.rendering` and :mod:`~realtime.web.grid` (the work),
:mod:`~realtime.web.live` (the camera). The page is ``page.html``: one file, nothing fetched
from elsewhere. With ``--ray``, :mod:`~realtime.web.ray_serve` takes the place of the local
worker pool behind the same seam (``Filterer`` in :mod:`~realtime.web.state`): the caps stay
here, the filtering runs on Ray Serve replicas (also ``serve run realtime.web.ray_serve:app``).
"""
from realtime.web.config import WebConfig

__all__ = ["WebConfig"]
