"""What every ``realtime`` command line shares: a parser that reports a bad option in one line,
number types that refuse nan and inf (``realtime``, ``realtime web``, ``realtime service``,
``realtime batch``) and the ``WxH`` size type (those and ``realtime-export``). Light on purpose:
the CLIs import it before the signal handler is in place."""
from __future__ import annotations

import argparse
import math
from typing import Callable, NoReturn

from realtime.config import parse_size


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


def size(max_side: int) -> Callable[[str], tuple[int, int]]:
    """An argparse type for 'WxH' (e.g. 1280x720) → (width, height), each side 1..``max_side``."""
    def convert(text: str) -> tuple[int, int]:
        try:
            w, h = parse_size(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if w > max_side or h > max_side:
            raise argparse.ArgumentTypeError(f"{w}x{h}: each side at most {max_side}, e.g. 1280x720")
        return w, h
    convert.__name__ = "size"
    return convert
