"""``realtime batch INPUTS... --out DIR``: many videos and images through one filter chain.

The work unit is a *segment*: one file's frame range, decoded (with ``--overlap`` frames of
warm-up before it), filtered with the live tool's :class:`~realtime.live.process.FrameProcessor`
and encoded to H.264 where it ran; an image is one unit of its own. The driver plans the units
(:mod:`.plan`), hands them to a runner (a local process pool, :mod:`.pool`, or Ray Data on a
cluster, :mod:`.ray_runner`; both call :mod:`.segment`), stores each finished unit atomically
and joins a file's segments in order by remuxing them, with the source's sound (:mod:`.join`).
See docs/batch.md.
"""
