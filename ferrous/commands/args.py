"""Argument parsing with Redis's exact strictness and error texts."""
from __future__ import annotations

import math
import re

from ferrous.errors import CommandError, NOT_FLOAT, NOT_INTEGER, SYNTAX_ERR

_INT_RE = re.compile(rb"(?:0|-?[1-9][0-9]*)\Z")
LLONG_MIN, LLONG_MAX = -(2**63), 2**63 - 1


def parse_int(data: bytes, error: str = NOT_INTEGER) -> int:
    """string2ll: no sign '+', no spaces, no leading zeros, within a signed 64-bit long."""
    if len(data) > 20 or not _INT_RE.match(data):
        raise CommandError(error)
    value = int(data)
    if value < LLONG_MIN or value > LLONG_MAX:
        raise CommandError(error)
    return value


def is_int(data: bytes) -> bool:
    if len(data) > 20 or not _INT_RE.match(data):
        return False
    return LLONG_MIN <= int(data) <= LLONG_MAX


_FLOAT_RE = re.compile(rb"[+-]?(?:inf|infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)\Z", re.I)


def parse_float(data: bytes, error: str = NOT_FLOAT) -> float:
    """strtod as Redis uses it: no spaces, no NaN, inf/-inf accepted."""
    if not data or not _FLOAT_RE.match(data):
        raise CommandError(error)
    value = float(data)
    if math.isnan(value):
        raise CommandError(error)
    return value


class Args:
    """A cursor over argv[1:]; each accessor consumes one argument."""

    __slots__ = ("argv", "pos")

    def __init__(self, argv: list, start: int = 1):
        self.argv = argv
        self.pos = start

    def __len__(self) -> int:
        return len(self.argv) - self.pos

    def has_more(self) -> bool:
        return self.pos < len(self.argv)

    def next(self) -> bytes:
        if self.pos >= len(self.argv):
            raise CommandError(SYNTAX_ERR)
        value = self.argv[self.pos]
        self.pos += 1
        return value

    key = next
    bytes = next

    def peek_upper(self) -> bytes:
        return self.argv[self.pos].upper() if self.pos < len(self.argv) else b""

    def upper(self) -> bytes:
        return self.next().upper()

    def int(self, error: str = NOT_INTEGER) -> int:
        return parse_int(self.next(), error)

    def float(self, error: str = NOT_FLOAT) -> float:
        return parse_float(self.next(), error)

    def rest(self) -> list:
        values = self.argv[self.pos:]
        self.pos = len(self.argv)
        return values
