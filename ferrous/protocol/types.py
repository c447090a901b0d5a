"""Typed reply values that handlers return when a plain Python type is ambiguous.

Plain types map as: bytes/bytearray/memoryview -> bulk string, int -> integer,
float -> double (RESP3) or bulk (RESP2), bool -> boolean (RESP3) or 0/1 (RESP2),
None -> null bulk, list/tuple -> array, dict -> map (RESP3) or flat array (RESP2),
set/frozenset -> set (RESP3) or array (RESP2). str is a status (simple) string.
"""
from __future__ import annotations


class Simple(str):
    """A status reply (+OK). Plain str means the same; this name documents intent."""
    __slots__ = ()


class ErrorReply:
    """An error reply as a value (inside arrays, e.g. EXEC results or script replies)."""
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self):
        return f"ErrorReply({self.text!r})"

    def __eq__(self, other):
        return isinstance(other, ErrorReply) and other.text == self.text

    def __hash__(self):
        return hash(self.text)


class Verbatim:
    """RESP3 verbatim string (`=`); a bulk string in RESP2."""
    __slots__ = ("fmt", "data")

    def __init__(self, data: bytes, fmt: str = "txt"):
        self.fmt = fmt
        self.data = data


class Push:
    """RESP3 push message (`>`); an array in RESP2 (pub/sub messages)."""
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


class RespSet:
    """An ordered set reply: Redis emits set members in a defined order, Python sets don't keep one."""
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


class BigNumber:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class Attribute:
    """RESP3 attributes (`|`, a map) ahead of a reply; RESP2 gets the reply alone."""
    __slots__ = ("attrs", "value")

    def __init__(self, attrs: dict, value):
        self.attrs = attrs
        self.value = value


class _NullArray:
    """`*-1` in RESP2 (BLPOP timeout, EXEC after WATCH failure); `_` in RESP3."""
    __slots__ = ()

    def __repr__(self):
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()


class Raw:
    """Pre-encoded bytes, identical in both protocols."""
    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data
