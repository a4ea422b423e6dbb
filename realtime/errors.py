"""The one exception type that command-line tools turn into a single clear line.

Raise :class:`UserError` for anything the user can fix (a missing file, a corrupt model, a
wrong size). The CLIs catch it, print ``error: <message>`` and exit non-zero; nothing else is
caught, so real bugs still show their traceback.
"""
from __future__ import annotations

import logging
import sys
from typing import Callable

log = logging.getLogger(__name__)


class UserError(Exception):
    """An error caused by input the user can fix; its message says how."""


def run_cli(main: Callable[[], int | None]) -> int:
    """Run ``main`` and turn a :class:`UserError` or Ctrl-C into one line and an exit code."""
    try:
        code = main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
