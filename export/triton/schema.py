"""Triton's own model-config schema (``model_config.proto`` from ``tritonclient``): a
``config.pbtxt`` parsed, each unknown field or typo'd value one problem with its line and column."""
from __future__ import annotations

import difflib
import logging
import re
from typing import Any, Iterable

from export.triton.common import INSTALL_HINT, Problem
from realtime.errors import UserError

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- Triton's schema
def model_config_class() -> Any:
    """Triton's ``ModelConfig`` message (model_config.proto, shipped in tritonclient)."""
    try:
        from tritonclient.grpc.model_config_pb2 import ModelConfig
    except ImportError:
        raise UserError(f"checking Triton configs needs Triton's model-config schema from tritonclient: {INSTALL_HINT}") from None
    return ModelConfig


def parse_config(text: str, where: str) -> tuple[Any | None, list[Problem], list[tuple[int, int]]]:
    """Parse ``config.pbtxt`` text with Triton's schema: (config, problems, blocks). After a bad
    field name or value the field is blanked out (spaces, so later lines and columns stay true)
    and the text parsed again, up to 20 times, so each mistake gets its own line; ``blocks`` are
    the line ranges of the ``{ }`` blocks that held one, whose other checks wait for the fix.
    ``config`` is the parse of what was left (None when the text could not be recovered)."""
    from google.protobuf import text_format

    cls = model_config_class()
    problems: list[Problem] = []
    blocks: list[tuple[int, int]] = []
    for _ in range(20):
        try:
            return text_format.Parse(text, cls()), problems, blocks
        except text_format.ParseError as exc:
            line, col = exc.GetLine(), exc.GetColumn()
            message = _parse_message(exc, cls)
            problems.append(Problem(f"{where}:{line}:{col}", message))
            offset = _offset(text, line, col)
            field_here = "has no field named" in message
            value_here = any(s in message for s in ("has no value named", "Couldn't parse", "Expected integer",
                                                    "Expected double", "Expected string", "Invalid value"))
            blanked = _blank_field(text, offset, field_here) if offset is not None and (field_here or value_here) else None
            if blanked is None:
                return None, problems, blocks
            blocks.append(_enclosing_block(text, offset))
            text = blanked
    return None, problems, blocks


def _offset(text: str, line: int, col: int) -> int | None:
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(col - 1, 0)


def _blank_field(text: str, offset: int, field_here: bool) -> str | None:
    """``text`` with the field at ``offset`` (its name there, or its value there) and its value
    (a token, a string or a whole { } / [ ] block) replaced by spaces; None when unsure."""
    if field_here:
        start = offset
    else:
        before = re.search(r"(\w+)\s*:?\s*$", text[:offset])
        if before is None:
            return None
        start = before.start(1)
    m = re.compile(r"\w+\s*:?\s*").match(text, start)
    if m is None:
        return None
    end = _skip_value(text, m.end())
    if end is None:
        return None
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def _skip_value(text: str, i: int) -> int | None:
    """The end of the value starting at ``i``: a balanced block, a quoted string or a token."""
    if i >= len(text):
        return None
    if text[i] in "{[<":
        depth, quote = 0, ""
        for j in range(i, len(text)):
            c = text[j]
            if quote:
                quote = "" if c == quote and text[j - 1] != "\\" else quote
            elif c in "\"'":
                quote = c
            elif c in "{[<":
                depth += 1
            elif c in "}]>":
                depth -= 1
                if depth == 0:
                    return j + 1
        return None
    if text[i] in "\"'":
        close = text.find(text[i], i + 1)
        return None if close < 0 else close + 1
    m = re.compile(r"[^\s,;{}\[\]<>]+").match(text, i)
    return m.end() if m else None


def _enclosing_block(text: str, offset: int) -> tuple[int, int]:
    """(first line, last line) of the innermost ``{ }`` around ``offset`` (0, 0 at top level)."""
    stack: list[int] = []
    quote = ""
    opened = None
    for j, c in enumerate(text):
        if quote:
            quote = "" if c == quote and text[j - 1] != "\\" else quote
        elif c in "\"'":
            quote = c
        elif c == "{":
            stack.append(j)
        elif c == "}" and stack:
            start = stack.pop()
            if start < offset < j and (opened is None or start > opened[0]):
                opened = (start, j)
    if opened is None:
        return (0, 0)
    return (text.count("\n", 0, opened[0]) + 1, text.count("\n", 0, opened[1]) + 1)


def _parse_message(exc: Exception, cls: Any) -> str:
    """protobuf's parse error, without the echoed line, with the close name it probably meant."""
    message = str(exc).split(" : ", 1)[-1]
    message = re.sub(r"^'.*?': (?=[A-Z])", "", message)
    fix = ""
    unknown_field = re.search(r'Message type "([\w.]+)" has no field named "(\w+)"', message)
    unknown_enum = re.search(r'Enum type "([\w.]+)" has no value named (\w+)', message)
    if unknown_field:
        desc = cls.DESCRIPTOR.file.pool.FindMessageTypeByName(unknown_field.group(1))
        fix = did_you_mean(unknown_field.group(2), [f.name for f in desc.fields])
    elif unknown_enum:
        desc = cls.DESCRIPTOR.file.pool.FindEnumTypeByName(unknown_enum.group(1))
        names = [v.name for v in desc.values]
        fix = did_you_mean(unknown_enum.group(2), names) or f" (one of {', '.join(names)})"
    return f"{message.rstrip('.')}{fix} (Triton's model-config schema)"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
