"""Connecting to Ray (or starting it on this machine) for ``realtime batch --ray`` and
``realtime web --ray``: one place that turns Ray's failures into one line that says what to do.

``ray.init(address=...)`` says only "Failed to connect to Ray cluster at HOST:PORT" for two
different problems: nothing listens there, or a cluster listens but refused this driver. Since
Ray 2.52 ``ray start --head`` turns token authentication on, so the second is what a user meets
first on a cluster started by hand (the head's token in ``~/.ray/auth_token`` on the head, not
on the driver's machine): one TCP connect to the address tells the two apart (~0.1 ms).
Ray's core logs each refused retry as a warning on stderr (six lines in 6 s);
``RAY_BACKEND_LOG_LEVEL=error`` keeps them out of the user's terminal unless they set it.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from typing import Any

from realtime.errors import UserError, first_line

log = logging.getLogger(__name__)

# the workers' environment: one thread per native library (the workers are the parallelism),
# and MediaPipe's and TensorFlow Lite's start-up notices off
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}


def listening(address: str, timeout: float = 1.0) -> bool | None:
    """Whether something accepts TCP connections at ``HOST:PORT`` (None: not that form)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def start_ray(address: str, option: str = "--ray", logging_level: int = logging.WARNING) -> bool:
    """Connect to the cluster at ``address`` (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``) or
    start one on this machine (``local``); True when this call did (the caller shuts it down),
    False when Ray was already initialised. Python's SIGTERM handler is kept (``ray.init``
    installs one that exits without the caller's cleanup)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    sigterm = signal.getsignal(signal.SIGTERM)
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging_level,
                               "runtime_env": {"env_vars": WORKER_ENV}}
    try:
        if address == "local":
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        log.debug("ray.init(%r) failed", address, exc_info=True)
        if listening(address):
            raise UserError(f"{option} {address}: the Ray cluster there refused this driver ({first_line(exc)}); "
                            "a cluster started with `ray start --head` asks for its token: set RAY_AUTH_TOKEN to "
                            "what `ray get-auth-token` prints on the head, or copy its ~/.ray/auth_token here") from None
        raise UserError(f"{option} {address}: no Ray cluster there ({first_line(exc)}); start one with "
                        f"`ray start --head`, or use {option} local for one on this machine") from None
    keep_sigterm(sigterm)
    return True


def keep_sigterm(handler: Any) -> None:
    """Put Python's SIGTERM handler back: ``ray.init`` installs its own (``sys.exit`` in the
    driver, a stack dump and abort in a core worker), so a server's or a run's cleanup would
    not run and a local cluster's agents would be left running."""
    if callable(handler) and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
