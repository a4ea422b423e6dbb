"""Filter kinds: what a chain is made of, registered in one place.

A filter is anything with a ``name``, the analysis it ``needs`` (see :mod:`realtime.analysis.analysers`)
and ``apply(bgr, analysis, settings) -> Applied``; a model kind also says what size its
model sees (``input_hw``, for the warm-up before the first frame). Two registries make them:

- :data:`MODEL_KINDS`: an ONNX file's ``filter.kind`` (``frame``, ``face``) → the class that
  runs such a model (:mod:`realtime.filters.kinds.frame_filter`, :mod:`realtime.filters.kinds.face_filter`);
- :data:`EFFECTS`: a name usable in ``--filter a+b`` → a filter without a network (warps,
  stickers, background compositing), made from the chain's settings.

Adding a kind is one module that calls :func:`register_model_kind` or :func:`register_effect`
when imported (and one line importing it below); the registries and the types are
:mod:`realtime.filters.kinds.base`. Per-frame values (strength, latent code)
come in as :class:`Settings` and results go back as :class:`Applied`: nothing about a call is
kept on the filter, so one chain can serve several threads.
"""
from realtime.filters.kinds import auto_frame, face_effects, face_filter, frame_filter, low_light  # noqa: F401  (they register themselves)
