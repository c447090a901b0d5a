"""Hand-built RDB files in the older formats Redis 7.0 still loads (ziplist, zipmap,
quicklist v1, text-score zsets, second-resolution expiry, versions 6 to 9), written
independently of Ferrous's writer so that each test checks Ferrous against Redis."""
from __future__ import annotations

import re
import struct

_INT = re.compile(rb"(?:0|-?[1-9][0-9]{0,18})\Z")

POLY = 0x95AC9329AC4BC9B5


def crc64(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ POLY if crc & 1 else crc >> 1
    return crc


def length(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    return b"\x80" + struct.pack(">I", n)


def string(s: bytes) -> bytes:
    return length(len(s)) + s


def _as_int(s: bytes):
    if _INT.match(s) and -(1 << 63) <= int(s) < (1 << 63):
        return int(s)
    return None


def ziplist(entries: list) -> bytes:
    """ziplist.c's layout: zlbytes, zltail, zllen, entries (prevlen, encoding, data), 0xff."""
    body = b""
    prevlen = 0
    tail = 10
    for entry in entries:
        value = _as_int(entry)
        if value is not None and len(entry) <= 31:
            if 0 <= value <= 12:
                enc = bytes((0xF1 + value,))
            elif -128 <= value <= 127:
                enc = b"\xfe" + struct.pack("<b", value)
            elif -32768 <= value <= 32767:
                enc = b"\xc0" + struct.pack("<h", value)
            elif -(1 << 23) <= value < (1 << 23):
                enc = b"\xf0" + value.to_bytes(3, "little", signed=True)
            elif -(1 << 31) <= value < (1 << 31):
                enc = b"\xd0" + struct.pack("<i", value)
            else:
                enc = b"\xe0" + struct.pack("<q", value)
        else:
            n = len(entry)
            if n < 64:
                enc = bytes((n,)) + entry
            elif n < 16384:
                enc = bytes((0x40 | (n >> 8), n & 0xFF)) + entry
            else:
                enc = b"\x80" + struct.pack(">I", n) + entry
        prev = bytes((prevlen,)) if prevlen < 254 else b"\xfe" + struct.pack("<I", prevlen)
        tail = 10 + len(body)
        record = prev + enc
        body += record
        prevlen = len(record)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, tail, min(len(entries), 65535)) + body + b"\xff"


def zipmap(pairs: list) -> bytes:
    out = bytes((min(len(pairs), 254),))
    for field, value in pairs:
        out += _zm_len(len(field)) + field + _zm_len(len(value)) + b"\x00" + value
    return out + b"\xff"


def _zm_len(n: int) -> bytes:
    return bytes((n,)) if n < 254 else b"\xfe" + struct.pack("<I", n)


def text_double(value: float) -> bytes:
    if value == float("inf"):
        return b"\xfe"
    if value == float("-inf"):
        return b"\xff"
    text = b"%.17g" % value
    return bytes((len(text),)) + text


def rdb_file(version: int, body: bytes) -> bytes:
    data = b"REDIS%04d" % version + body + b"\xff"
    if version >= 5:
        data += struct.pack("<Q", crc64(data))
    return data


def old_format_body() -> bytes:
    """One key of each older encoding, in db 0 and db 2."""
    parts = [b"\xfa" + string(b"redis-ver") + string(b"3.2.0")]
    parts.append(b"\xfe\x00")
    parts.append(b"\x00" + string(b"plain") + string(b"value"))
    parts.append(b"\x00" + string(b"intenc") + b"\xc1" + struct.pack("<h", -3000))
    parts.append(b"\xfd" + struct.pack("<i", 2_000_000_000) + b"\x00" + string(b"secexpire") + string(b"v"))
    parts.append(b"\xfc" + struct.pack("<q", 4_000_000_000_000) + b"\x00" + string(b"msexpire") + string(b"v"))
    parts.append(b"\x01" + string(b"oldlist") + length(3) + string(b"a") + string(b"b") + string(b"7"))
    parts.append(b"\x0a" + string(b"ziplist:list") + string(ziplist([b"x", b"12", b"-5", b"300", b"70000",
                                                                       b"5000000000", b"y" * 100])))
    nodes = [ziplist([b"n1", b"1"]), ziplist([b"n2", b"q" * 300])]
    parts.append(b"\x0e" + string(b"quicklist1") + length(len(nodes)) + b"".join(string(n) for n in nodes))
    parts.append(b"\x09" + string(b"zipmap:hash") + string(zipmap([(b"f1", b"v1"), (b"f2", b"22")])))
    parts.append(b"\x09" + string(b"zipmap:long") + string(zipmap([(b"f", b"v" * 300)])))
    parts.append(b"\x0d" + string(b"ziplist:hash") + string(ziplist([b"a", b"1", b"b", b"two"])))
    parts.append(b"\x0c" + string(b"ziplist:zset") + string(ziplist([b"m3", b"-7", b"m1", b"1", b"m2", b"2.5"])))
    parts.append(b"\x03" + string(b"textzset") + length(3) + string(b"a") + text_double(1.5)
                 + string(b"b") + text_double(float("inf")) + string(b"c") + text_double(-2.0))
    parts.append(b"\x02" + string(b"oldset") + length(3) + string(b"1") + string(b"2") + string(b"3"))
    parts.append(b"\x04" + string(b"oldhash") + length(2) + string(b"f") + string(b"v")
                 + string(b"g") + string(b"w" * 100))
    parts.append(b"\xfe\x02")
    parts.append(b"\x00" + string(b"db2key") + string(b"in db 2"))
    return b"".join(parts)
