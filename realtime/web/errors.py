"""The one error type a request handler raises: a one-line message and the HTTP status it
answers with (400 bad field, 413 too large, 415 not a type the server takes, 503 busy)."""
from __future__ import annotations

from realtime.errors import UserError


class RequestError(UserError):
    """Input the client can fix; the server answers ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def one_line(exc: BaseException, limit: int = 400) -> str:
    """The whole message on one line (a request's problems are all listed, so not only the
    first line as on the command line), cut at ``limit`` characters."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__
