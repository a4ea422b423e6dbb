"""realtime.ray_cluster: what a driver that cannot join a cluster is told (ray.init replaced:
the two failures it reports the same way are told apart by whether the address listens)."""
from __future__ import annotations

import logging
import signal
import socket

import pytest

from realtime.errors import UserError
from realtime.ray_cluster import listening, start_ray
from tests.processes import kept_signal_handlers

ray = pytest.importorskip("ray", reason="--ray needs the scale extra")


def refuse(**kwargs: object) -> None:
    raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.1:1")


def test_listening_tells_an_open_port_from_a_closed_one() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listening(f"127.0.0.1:{port}") is True
        assert listening(f"ray://127.0.0.1:{port}") is True
    assert listening(f"127.0.0.1:{port}") is False
    assert listening("auto") is None and listening("local") is None


def test_a_cluster_that_refuses_the_driver_is_told_about_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "init", lambda *a, **k: refuse())
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(UserError) as refused:
            start_ray(address, "--ray")
    assert "refused this driver" in str(refused.value) and "RAY_AUTH_TOKEN" in str(refused.value)
    with pytest.raises(UserError) as nobody:
        start_ray(address, "--ray")
    assert "no Ray cluster there" in str(nobody.value) and "--ray local" in str(nobody.value)
    assert "\n" not in str(refused.value) + str(nobody.value)


def test_python_s_sigterm_handler_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """ray.init installs its own SIGTERM handler; the caller's cleanup needs Python's back."""
    def init(**kwargs: object) -> None:
        signal.signal(signal.SIGTERM, lambda *a: None)

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with kept_signal_handlers():
        mine = lambda *a: None  # noqa: E731
        signal.signal(signal.SIGTERM, mine)
        assert start_ray("local", "--ray", logging.ERROR) is True
        assert signal.getsignal(signal.SIGTERM) is mine
