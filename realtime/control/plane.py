"""What runs beside the live loop: the control server (unless ``--no-control``), the
instance file ``realtime ctl`` finds it by, the thumbnails' worker; and, once the loop has
stopped, the settings saved for the next run. :func:`control_plane` makes the ``attach``
that :func:`realtime.live.session.run` calls with the loop.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from realtime.control.settings import Saved, SettingsFile
from realtime.errors import UserError, first_line
from realtime.live.loop import LiveLoop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControlOptions:
    enabled: bool = True  # the server and the studio page (--no-control: off)
    port: int = 0  # 0: a free port
    saved: Saved = Saved()  # what the settings file held at the start
    settings_path: Path | None = None  # None: the user's config folder (realtime.control.paths)
    camera: tuple[str, tuple[int, int] | None] | None = None  # the camera and size to remember (None: not a camera)
    remember: bool = True  # save the live settings for the next run when it ends (not for a job: --frames, --fast)
    provider: str = "auto"  # the thumbnails' (their own sessions)
    variant: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise UserError(f"--control-port must be a port number 0..65535 (0: a free one), got {self.port!r}")


def control_plane(options: ControlOptions) -> Callable[[LiveLoop], Callable[[], None]]:
    def attach(loop: LiveLoop) -> Callable[[], None]:
        from realtime.control.target import LiveTarget
        from realtime.control.thumbnails import Thumbnails

        settings = SettingsFile(options.settings_path)
        thumbnails = Thumbnails(thumbnail_provider(loop, options.provider), options.variant) if options.enabled else None
        target = LiveTarget(loop, settings, options.saved, thumbnails, options.camera)
        server, instance = None, None
        if options.enabled:
            from realtime.control import instances
            from realtime.control.server import ControlServer

            server = ControlServer(target, options.port)
            server.start()
            try:
                instance = instances.publish(server.port, server.token)
            except OSError as exc:  # ctl will not find it; the page and the API still work
                log.warning("could not write the instance file for realtime ctl: %s", first_line(exc))
            announce(f"control: {server.studio_url}   (realtime ctl status, realtime ctl --help)")

        def detach() -> None:
            for step, action in (("stopping the control server", server.stop if server else None),
                                 ("removing the instance file", (lambda: instances.withdraw(instance)) if instance else None),
                                 ("stopping the thumbnails", thumbnails.close if thumbnails else None),
                                 ("saving the settings", target.save_last if options.remember else None)):
                if action is None:
                    continue
                try:
                    action()
                except Exception as exc:  # the run's outputs matter more: one line each
                    log.warning("%s: %s", step, first_line(exc))
        return detach
    return attach


def announce(line: str) -> None:
    """The studio's address on stdout; a closed stdout (``realtime ... | head -1``) must not
    stop the run before its work (the summary at the end says so: exit 141), and
    ``realtime ctl url`` still gives the address."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError):  # ValueError: stdout already closed
        log.debug("stdout is closed: the control address is not printed")


def thumbnail_provider(loop: LiveLoop, asked: str) -> str:
    """The loop's provider for the thumbnails' own sessions, but CUDA where the loop runs
    TensorRT (an engine build takes minutes; a thumbnail should not)."""
    provider = str(getattr(getattr(loop.processor.chains, "loader", None), "provider", asked))
    return "cuda" if provider == "tensorrt" else provider
