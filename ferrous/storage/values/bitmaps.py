"""Bit operations on string values (bitops.c): counting, searching, BITOP, bitfields.

Bits are numbered from the most significant bit of the first byte, as in Redis.
"""
from __future__ import annotations

_M64 = (1 << 64) - 1


def get_bit(value: bytes, offset: int) -> int:
    byte = offset >> 3
    if byte >= len(value):
        return 0
    return (value[byte] >> (7 - (offset & 7))) & 1


def set_bit(buf: bytearray, offset: int, on: int) -> int:
    """Set one bit in a bytearray already long enough; returns the old bit."""
    byte, shift = offset >> 3, 7 - (offset & 7)
    old = (buf[byte] >> shift) & 1
    if on:
        buf[byte] |= 1 << shift
    else:
        buf[byte] &= ~(1 << shift) & 0xFF
    return old


def clamp_range(start: int, end: int, total: int) -> tuple[int, int]:
    """Redis's negative-index conversion for BITCOUNT / BITPOS ranges."""
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    if end >= total:
        end = total - 1
    return start, end


def count_bits(value: bytes, start_bit: int, end_bit: int) -> int:
    """Set bits in the inclusive bit range (which lies within value)."""
    first, last = start_bit >> 3, end_bit >> 3
    number = int.from_bytes(value[first:last + 1], "big")
    number >>= 7 - (end_bit & 7)
    number &= (1 << (end_bit - start_bit + 1)) - 1
    return number.bit_count()


def first_bit(value: bytes, bit: int, start_bit: int, end_bit: int) -> int:
    """Position of the first bit equal to `bit` in the inclusive range, or -1."""
    first, last = start_bit >> 3, end_bit >> 3
    seg = bytearray(value[first:last + 1])
    head_mask = 0xFF >> (start_bit & 7)                  # bits of the first byte in range
    tail_mask = (0xFF << (7 - (end_bit & 7))) & 0xFF     # bits of the last byte in range
    if bit:
        seg[0] &= head_mask
        seg[-1] &= tail_mask
        rest = seg.lstrip(b"\x00")
    else:
        seg[0] |= ~head_mask & 0xFF
        seg[-1] |= ~tail_mask & 0xFF
        rest = seg.lstrip(b"\xff")
    if not rest:
        return -1
    byte = rest[0] if bit else rest[0] ^ 0xFF
    return (first + len(seg) - len(rest)) * 8 + 8 - byte.bit_length()


def bitop(op: bytes, sources: list) -> bytes:
    """BITOP over strings zero-padded to the longest; NOT takes one source."""
    size = max(len(s) for s in sources)
    numbers = [int.from_bytes(s.ljust(size, b"\0"), "big") for s in sources]
    result = numbers[0]
    if op == b"NOT":
        result ^= (1 << (8 * size)) - 1
    elif op == b"AND":
        for n in numbers[1:]:
            result &= n
    elif op == b"OR":
        for n in numbers[1:]:
            result |= n
    else:
        for n in numbers[1:]:
            result ^= n
    return result.to_bytes(size, "big")


# ---------------------------------------------------------------------------
# BITFIELD
# ---------------------------------------------------------------------------


def read_field(value, offset: int, bits: int, signed: bool) -> int:
    """getUnsignedBitfield / getSignedBitfield; bits past the end read as zero."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    chunk = bytes(value[first:last + 1]).ljust(last - first + 1, b"\0")
    number = int.from_bytes(chunk, "big") >> (7 - ((offset + bits - 1) & 7))
    number &= (1 << bits) - 1
    if signed and number >> (bits - 1):
        number -= 1 << bits
    return number


def write_field(buf: bytearray, offset: int, bits: int, number: int) -> None:
    """setUnsignedBitfield: the low `bits` bits of number (two's complement)."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    shift = 7 - ((offset + bits - 1) & 7)
    width = (last - first + 1) * 8
    mask = ((1 << bits) - 1) << shift
    current = int.from_bytes(buf[first:last + 1], "big")
    current = (current & ~mask) | ((number << shift) & mask)
    buf[first:last + 1] = current.to_bytes(width // 8, "big")


def _int64(number: int) -> int:
    number &= _M64
    return number - (1 << 64) if number >> 63 else number


def field_overflow(value: int, incr: int, bits: int, signed: bool, mode: bytes):
    """checkSigned/UnsignedBitfieldOverflow: the value to store for value + incr, or
    None when OVERFLOW FAIL refuses it.

    The signed check is done with C's wrapping int64 arithmetic on purpose: Redis
    computes `max - value` in int64, so SET i5 -9223372036854775808 with SAT is seen
    as an overflow upwards and stores the maximum.
    """
    if signed:
        high = (1 << (bits - 1)) - 1
        low = -high - 1
        max_incr, min_incr = _int64(high - value), _int64(low - value)
        up = value > high or (bits != 64 and incr > max_incr) or \
            (value >= 0 and incr > 0 and incr > max_incr)
        down = not up and (value < low or (bits != 64 and incr < min_incr) or
                           (value < 0 and incr < 0 and incr < min_incr))
    else:
        high, low = (1 << bits) - 1, 0
        up = value > high or (incr > 0 and value + incr > high)
        down = not up and incr < 0 and value + incr < 0
    if not (up or down):
        return value + incr
    if mode == b"SAT":
        return high if up else low
    if mode == b"FAIL":
        return None
    wrapped = (value + incr) & ((1 << bits) - 1)
    if signed and wrapped >> (bits - 1):
        wrapped -= 1 << bits
    return wrapped
