"""Redis's compact blobs as they appear inside RDB files: listpack (written and read),
intset (written and read), ziplist and zipmap (read only: Redis 7.0 no longer writes
them, but older files and DUMP payloads contain them).

Every reader returns a list of bytes; integer entries come back as their decimal text,
which is how Redis hands them to the rest of the server.
"""
from __future__ import annotations

import struct

from ferrous.storage.values.sets import is_int


class EncodingError(ValueError):
    """A blob that does not parse (Redis: "... integrity check failed")."""


# ---------------------------------------------------------------------------
# listpack (listpack.c)
# ---------------------------------------------------------------------------
LP_HEADER_SIZE = 6
LP_EOF = 0xFF
_pack_u32 = struct.Struct("<I").pack


def _backlen(size: int) -> bytes:
    """lpEncodeBacklen: the entry size, readable from right to left."""
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes((size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128,
                      (size & 127) | 128))
    return bytes((size >> 28, ((size >> 21) & 127) | 128, ((size >> 14) & 127) | 128,
                  ((size >> 7) & 127) | 128, (size & 127) | 128))


def _after_backlen(blob: bytes, p: int, length: int) -> int:
    """The position after the back-length at p of an entry of `length` bytes, which
    must read back as that length (lpValidateNext); raises EncodingError if not."""
    size = _backlen_size(length)
    value = shift = 0
    i = p + size - 1
    while True:     # lpDecodeBacklen reads from the last byte backwards
        byte = blob[i]
        value |= (byte & 127) << shift
        if not byte & 128 or i == p:
            break
        shift += 7
        i -= 1
    if value != length:
        raise EncodingError("Listpack integrity check failed.")
    return p + size


def _backlen_size(size: int) -> int:
    if size <= 127:
        return 1
    if size < 16383:
        return 2
    if size < 2097151:
        return 3
    if size < 268435455:
        return 4
    return 5


def _lp_int_entry(v: int) -> bytes:
    """lpEncodeIntegerGetType: the smallest integer encoding that holds v."""
    if 0 <= v <= 127:
        return bytes((v,))
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF))
    if -32768 <= v <= 32767:
        return b"\xf1" + v.to_bytes(2, "little", signed=True)
    if -8388608 <= v <= 8388607:
        return b"\xf2" + v.to_bytes(3, "little", signed=True)
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + v.to_bytes(4, "little", signed=True)
    return b"\xf4" + v.to_bytes(8, "little", signed=True)


def lp_entry(element) -> bytes:
    """One listpack entry (encoding, data, backlen) for bytes or an int. Strings that
    are canonical 64-bit integers are stored as integers, as lpAppend does."""
    if type(element) is int:
        body = _lp_int_entry(element)
    elif len(element) <= 20 and is_int(element):
        body = _lp_int_entry(int(element))
    else:
        n = len(element)
        if n < 64:
            body = bytes((0x80 | n,)) + element
        elif n < 4096:
            body = bytes((0xE0 | (n >> 8), n & 0xFF)) + element
        else:
            body = b"\xf0" + _pack_u32(n) + element
    return body + _backlen(len(body))


def lp_pack_entries(entries: list, count: int) -> bytes:
    """A listpack from already encoded entries."""
    body = b"".join(entries)
    total = LP_HEADER_SIZE + len(body) + 1
    return _pack_u32(total) + struct.pack("<H", min(count, 65535)) + body + b"\xff"


def listpack(elements) -> bytes:
    entries = [lp_entry(e) for e in elements]
    return lp_pack_entries(entries, len(entries))


def listpack_items(blob: bytes, deep: bool = False) -> list:
    """Every entry of a listpack, integers as decimal bytes (lpValidateIntegrity's
    header checks included; deep: each entry's back-length too, as lpValidateNext)."""
    size = len(blob)
    if size < LP_HEADER_SIZE + 1 or int.from_bytes(blob[:4], "little") != size or blob[-1] != LP_EOF:
        raise EncodingError("Listpack integrity check failed.")
    out = []
    p = LP_HEADER_SIZE
    end = size - 1
    try:
        while p < end:
            b = blob[p]
            if b < 0x80:
                out.append(b"%d" % b)
                length = 1
            elif b < 0xC0:
                n = b & 0x3F
                out.append(blob[p + 1:p + 1 + n])
                length = 1 + n
            elif b < 0xE0:
                v = ((b & 0x1F) << 8) | blob[p + 1]
                out.append(b"%d" % (v - 0x2000 if v >= 0x1000 else v))
                length = 2
            elif b < 0xF0:
                n = ((b & 0x0F) << 8) | blob[p + 1]
                out.append(blob[p + 2:p + 2 + n])
                length = 2 + n
            elif b == 0xF0:
                n = int.from_bytes(blob[p + 1:p + 5], "little")
                out.append(blob[p + 5:p + 5 + n])
                length = 5 + n
            elif 0xF1 <= b <= 0xF4:
                width = (2, 3, 4, 8)[b - 0xF1]
                out.append(b"%d" % int.from_bytes(blob[p + 1:p + 1 + width], "little", signed=True))
                length = 1 + width
            else:
                raise EncodingError("Listpack integrity check failed.")
            p += length
            if not deep:
                p += _backlen_size(length)
            elif blob[p] == length:     # the back-length (one byte below 128) matches
                p += 1
            else:
                p = _after_backlen(blob, p, length)
    except IndexError:
        raise EncodingError("Listpack integrity check failed.") from None
    if p != end:
        raise EncodingError("Listpack integrity check failed.")
    return out


# ---------------------------------------------------------------------------
# intset (intset.c)
# ---------------------------------------------------------------------------
def intset(values) -> bytes:
    """A sorted intset with the narrowest encoding that holds every value."""
    ordered = sorted(values)
    width = 2
    if ordered:
        low, high = ordered[0], ordered[-1]
        if low < -2147483648 or high > 2147483647:
            width = 8
        elif low < -32768 or high > 32767:
            width = 4
    fmt = {2: "h", 4: "i", 8: "q"}[width]
    return struct.pack("<II%d%s" % (len(ordered), fmt), width, len(ordered), *ordered)


def intset_items(blob: bytes) -> list:
    if len(blob) < 8:
        raise EncodingError("Intset integrity check failed.")
    width, count = struct.unpack_from("<II", blob)
    if width not in (2, 4, 8) or len(blob) != 8 + width * count:
        raise EncodingError("Intset integrity check failed.")
    fmt = {2: "h", 4: "i", 8: "q"}[width]
    return [b"%d" % v for v in struct.unpack_from("<%d%s" % (count, fmt), blob, 8)]


# ---------------------------------------------------------------------------
# ziplist (ziplist.c), read only
# ---------------------------------------------------------------------------
ZIPLIST_HEADER_SIZE = 10


def ziplist_items(blob: bytes) -> list:
    """The entries, validated deeply as ziplistValidateIntegrity(deep=1) does: Redis 7.0
    always converts a loaded ziplist to a listpack, so it always checks every entry
    (prevlen chain, tail offset, count), sanitize-dump-payload or not."""
    size = len(blob)
    if size < ZIPLIST_HEADER_SIZE + 1 or int.from_bytes(blob[:4], "little") != size or blob[-1] != 0xFF:
        raise EncodingError("Ziplist integrity check failed.")
    out = []
    p = ZIPLIST_HEADER_SIZE
    prev_start, prev_raw = None, 0
    try:
        while blob[p] != 0xFF:
            start = p
            if blob[p] < 254:
                prevlen, p = blob[p], p + 1
            else:
                prevlen, p = int.from_bytes(blob[p + 1:p + 5], "little"), p + 5
            if prevlen != prev_raw:
                raise EncodingError("Ziplist integrity check failed.")
            b = blob[p]
            kind = b >> 6
            if kind == 0:
                n, p = b & 0x3F, p + 1
            elif kind == 1:
                n, p = ((b & 0x3F) << 8) | blob[p + 1], p + 2
            elif kind == 2:     # ZIP_STR_32B: the low 6 bits are not looked at
                n, p = int.from_bytes(blob[p + 1:p + 5], "big"), p + 5
            else:
                p += 1
                if b == 0xC0:
                    width = 2
                elif b == 0xD0:
                    width = 4
                elif b == 0xE0:
                    width = 8
                elif b == 0xF0:
                    width = 3
                elif b == 0xFE:
                    width = 1
                elif 0xF1 <= b <= 0xFD:
                    width = 0
                else:
                    raise EncodingError("Ziplist integrity check failed.")
                if p + width > size - 1:
                    raise EncodingError("Ziplist integrity check failed.")
                if width:
                    out.append(b"%d" % int.from_bytes(blob[p:p + width], "little", signed=True))
                else:
                    out.append(b"%d" % ((b & 0x0F) - 1))
                p += width
                prev_start, prev_raw = start, p - start
                continue
            if p + n > size - 1:
                raise EncodingError("Ziplist integrity check failed.")
            out.append(blob[p:p + n])
            p += n
            prev_start, prev_raw = start, p - start
    except IndexError:
        raise EncodingError("Ziplist integrity check failed.") from None
    tail = int.from_bytes(blob[4:8], "little")
    count = int.from_bytes(blob[8:10], "little")
    if tail > size - 1 or (prev_start is not None and tail != prev_start):
        raise EncodingError("Ziplist integrity check failed.")
    if count != 0xFFFF and count != len(out):
        raise EncodingError("Ziplist integrity check failed.")
    if p != size - 1:
        raise EncodingError("Ziplist integrity check failed.")
    return out


# ---------------------------------------------------------------------------
# zipmap (zipmap.c, Redis 2.4 hashes), read only
# ---------------------------------------------------------------------------
def zipmap_items(blob: bytes) -> list:
    """[field, value, field, value, ...] of a zipmap."""
    out = []
    p = 1                                               # zmlen
    try:
        while blob[p] != 0xFF:
            for is_value in (False, True):
                b = blob[p]
                if b < 254:
                    n, p = b, p + 1
                elif b == 254:
                    n, p = int.from_bytes(blob[p + 1:p + 5], "little"), p + 5
                else:
                    raise EncodingError("Zipmap integrity check failed.")
                free = 0
                if is_value:
                    free = blob[p]
                    p += 1
                if p + n > len(blob):
                    raise EncodingError("Zipmap integrity check failed.")
                out.append(blob[p:p + n])
                p += n + free
    except IndexError:
        raise EncodingError("Zipmap integrity check failed.") from None
    if p != len(blob) - 1:
        raise EncodingError("Zipmap integrity check failed.")
    return out
