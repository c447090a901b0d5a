"""Reply encoder: typed values -> RESP2 or RESP3 bytes.

The common replies (+OK, small integers, nulls) are pre-encoded; the rest is
dispatched on the exact type first (cheap) and on isinstance only as a fallback.
"""
from __future__ import annotations

import math

from ferrous.protocol.types import (
    Attribute, BigNumber, ErrorReply, NULL_ARRAY, Push, Raw, RespSet, Simple, Verbatim,
)

_SMALL_INTS = [b":%d\r\n" % i for i in range(-1, 10001)]
_BULK_HEADERS = [b"$%d\r\n" % i for i in range(0, 1025)]
_SIMPLE_CACHE: dict = {}


def format_double(value: float) -> bytes:
    """Redis 7.0's addReplyDouble text: %.17g, with inf/-inf spelled out."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value != value:
        return b"nan"
    return b"%.17g" % value


def _simple(text: str) -> bytes:
    encoded = _SIMPLE_CACHE.get(text)
    if encoded is None:
        encoded = b"+" + text.encode() + b"\r\n"
        if len(_SIMPLE_CACHE) < 4096:
            _SIMPLE_CACHE[text] = encoded
    return encoded


def _error_line(text: str) -> bytes:
    # Error texts never carry newlines on the wire (Redis replaces them with spaces).
    return b"-" + text.replace("\r", " ").replace("\n", " ").encode("utf-8", "surrogateescape") + b"\r\n"


def encode(value, resp: int = 2) -> bytes:
    out = bytearray()
    encode_into(out, value, resp)
    return bytes(out)


def encode_into(out: bytearray, value, resp: int) -> None:
    t = type(value)
    if t is bytes or t is bytearray:
        n = len(value)
        out += _BULK_HEADERS[n] if n <= 1024 else b"$%d\r\n" % n
        out += value
        out += b"\r\n"
    elif t is str or t is Simple:
        out += _simple(value)
    elif t is int:
        if -1 <= value <= 10000:
            out += _SMALL_INTS[value + 1]
        else:
            out += b":%d\r\n" % value
    elif value is None:
        out += b"_\r\n" if resp == 3 else b"$-1\r\n"
    elif t is list or t is tuple:
        out += b"*%d\r\n" % len(value)
        for item in value:
            encode_into(out, item, resp)
    elif t is Raw:
        out += value.data
    elif t is ErrorReply:
        out += _error_line(value.text)
    elif t is bool:
        if resp == 3:
            out += b"#t\r\n" if value else b"#f\r\n"
        else:
            out += b":1\r\n" if value else b":0\r\n"
    elif t is float:
        text = format_double(value)
        if resp == 3:
            out += b"," + text + b"\r\n"
        else:
            out += b"$%d\r\n%s\r\n" % (len(text), text)
    elif t is dict:
        if resp == 3:
            out += b"%%%d\r\n" % len(value)
        else:
            out += b"*%d\r\n" % (len(value) * 2)
        for key, item in value.items():
            encode_into(out, key, resp)
            encode_into(out, item, resp)
    elif t is set or t is frozenset or t is RespSet:
        items = value.items if t is RespSet else value
        out += (b"~%d\r\n" if resp == 3 else b"*%d\r\n") % len(items)
        for item in items:
            encode_into(out, item, resp)
    elif value is NULL_ARRAY:
        out += b"_\r\n" if resp == 3 else b"*-1\r\n"
    elif t is Push:
        out += (b">%d\r\n" if resp == 3 else b"*%d\r\n") % len(value.items)
        for item in value.items:
            encode_into(out, item, resp)
    elif t is Verbatim:
        if resp == 3:
            body = value.fmt.encode() + b":" + value.data
            out += b"=%d\r\n%s\r\n" % (len(body), body)
        else:
            out += b"$%d\r\n%s\r\n" % (len(value.data), value.data)
    elif t is BigNumber:
        if resp == 3:
            out += b"(" + value.text.encode() + b"\r\n"
        else:
            data = value.text.encode()
            out += b"$%d\r\n%s\r\n" % (len(data), data)
    elif t is Attribute:
        if resp == 3:
            out += b"|%d\r\n" % len(value.attrs)
            for key, item in value.attrs.items():
                encode_into(out, key, resp)
                encode_into(out, item, resp)
        encode_into(out, value.value, resp)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    elif isinstance(value, BaseException) and hasattr(value, "message"):
        out += _error_line(value.message)
    elif isinstance(value, int):
        out += b":%d\r\n" % int(value)
    elif isinstance(value, str):
        out += _simple(str(value))
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")
