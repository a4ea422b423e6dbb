"""The control plane of a running live loop: a versioned request/event vocabulary
(:mod:`protocol`), the adapter that carries it out on the loop (:mod:`target`), the local
HTTP server that translates HTTP and Server-Sent Events to it (:mod:`server`), the studio
page (``studio.html``), ``realtime ctl`` (:mod:`ctl`), and the settings that stay between
runs (:mod:`settings`). See docs/control.md.

Nothing is imported here: ``realtime ctl`` must start in a blink (a desktop hotkey runs it),
so each module is imported where it is used.
"""
