"""What every ``realtime`` command line shares: a parser that reports a bad option in one line,
and number types that refuse nan and inf (``realtime``, ``realtime web``, ``realtime service``,
``realtime batch``). Light on purpose: the CLIs import it before the signal handler is in place."""
from __future__ import annotations

import argparse
import math
from typing import Callable, NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (not the usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def number(kind: type) -> Callable[[str], int | float]:
    """An argparse type for int or float that refuses nan/inf (ranges: each command's config)."""
    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        return value
    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert
