"""Bitmap group (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD(_RO).

Bitmaps are plain string values (`bytes`); the bit arithmetic is in
storage/values/bitmaps.py.
"""
from __future__ import annotations

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.server.notify import NOTIFY_GENERIC, NOTIFY_STRING, notify
from ferrous.storage.values import bitmaps as bits_ops


def _check_string(value):
    if value is not None and type(value) is not bytes:
        raise CommandError(errors.WRONGTYPE)
    return value


def _bit_offset(ctx, arg: bytes, hash_bits: int = 0) -> int:
    """getBitOffsetFromArgument: `#N` means N * width (BITFIELD only)."""
    use_hash = hash_bits > 0 and arg[:1] == b"#"
    offset = parse_int(arg[1:] if use_hash else arg, errors.BIT_OFFSET_INVALID)
    if use_hash:
        offset *= hash_bits
    if offset < 0 or (offset >> 3) >= ctx.server.config.proto_max_bulk_len:
        raise CommandError(errors.BIT_OFFSET_INVALID)
    return offset


def _generic_grow_for_bits(ctx, key: bytes, max_bit: int):
    """lookupStringForBitCommand: (bytearray at least max_bit long, grew or created?)."""
    value = _check_string(ctx.db.lookup(key))
    size = (max_bit >> 3) + 1
    if value is None:
        return bytearray(size), True
    if len(value) < size:
        return bytearray(value) + bytearray(size - len(value)), True
    return bytearray(value), False


@command("setbit", arity=4, flags="write denyoom", keys=(1, 1, 1), group="bitmap")
def setbit(ctx, argv):
    offset = _bit_offset(ctx, argv[2])
    on = parse_int(argv[3], errors.BIT_VALUE_INVALID)
    if on & ~1:
        raise CommandError(errors.BIT_VALUE_INVALID)
    key = argv[1]
    buf, grew = _generic_grow_for_bits(ctx, key, offset)
    old = bits_ops.set_bit(buf, offset, on)
    if grew or old != on:
        ctx.db.set(key, bytes(buf), keep_ttl=True)
        notify(ctx, NOTIFY_STRING, "setbit", key)
        ctx.dirty += 1
    ctx.db.mark_raw(key, buf)   # lookupStringForBitCommand unshares it even unchanged
    return old


@command("getbit", arity=3, flags="readonly fast", keys=(1, 1, 1), group="bitmap")
def getbit(ctx, argv):
    offset = _bit_offset(ctx, argv[2])
    value = _check_string(ctx.read(argv[1]))
    return 0 if value is None else bits_ops.get_bit(value, offset)


def _unit_is_bit(arg: bytes) -> bool:
    unit = arg.upper()
    if unit not in (b"BIT", b"BYTE"):
        raise CommandError(errors.SYNTAX_ERR)
    return unit == b"BIT"


def _bit_range(value: bytes, start: int, end: int, is_bit: bool):
    """A clamped inclusive bit range, or None when it is empty."""
    total = len(value) * 8 if is_bit else len(value)
    start, end = bits_ops.clamp_range(start, end, total)
    if start > end:
        return None
    return (start, end) if is_bit else (start * 8, end * 8 + 7)


@command("bitcount", arity=-2, flags="readonly", keys=(1, 1, 1), group="bitmap")
def bitcount(ctx, argv):
    value = _check_string(ctx.read(argv[1]))
    if value is None:
        return 0
    if len(argv) == 2:
        return bits_ops.count_bits(value, 0, len(value) * 8 - 1) if value else 0
    if len(argv) not in (4, 5):
        raise CommandError(errors.SYNTAX_ERR)
    start, end = parse_int(argv[2]), parse_int(argv[3])
    is_bit = len(argv) == 5 and _unit_is_bit(argv[4])
    if start < 0 and end < 0 and start > end:
        return 0            # bitcountCommand's early exit, before clamping
    bit_range = _bit_range(value, start, end, is_bit)
    return 0 if bit_range is None else bits_ops.count_bits(value, *bit_range)


@command("bitpos", arity=-3, flags="readonly", keys=(1, 1, 1), group="bitmap")
def bitpos(ctx, argv):
    bit = parse_int(argv[2])
    if bit not in (0, 1):
        raise CommandError(errors.BITPOS_BIT_INVALID)
    value = _check_string(ctx.read(argv[1]))
    if value is None:
        return -1 if bit else 0     # a missing key is an endless run of zeroes
    if len(argv) > 6:
        raise CommandError(errors.SYNTAX_ERR)
    start = parse_int(argv[3]) if len(argv) > 3 else 0
    is_bit = len(argv) == 6 and _unit_is_bit(argv[5])
    end_given = len(argv) > 4
    end = parse_int(argv[4]) if end_given else len(value) - 1
    bit_range = _bit_range(value, start, end, is_bit)
    if bit_range is None:
        return -1
    found = bits_ops.first_bit(value, bit, *bit_range)
    if found < 0 and bit == 0 and not end_given:
        # Without an explicit end the string counts as padded with zero bits.
        return bit_range[1] + 1
    return found


_BITOPS = {b"AND", b"OR", b"XOR", b"NOT"}


@command("bitop", arity=-4, flags="write denyoom", keys=(2, -1, 1), group="bitmap")
def bitop(ctx, argv):
    op = argv[1].upper()
    if op not in _BITOPS:
        raise CommandError(errors.SYNTAX_ERR)
    if op == b"NOT" and len(argv) != 4:
        raise CommandError(errors.BITOP_NOT_SINGLE_SOURCE)
    sources = [_check_string(ctx.read(key)) or b"" for key in argv[3:]]
    result = bits_ops.bitop(op, sources)
    target = argv[2]
    if result:
        ctx.db.set(target, result)
        ctx.db.mark_raw(target, result)     # a new raw object, whatever its length
        notify(ctx, NOTIFY_STRING, "set", target)
        ctx.dirty += 1
    elif ctx.db.delete(target):
        notify(ctx, NOTIFY_GENERIC, "del", target)
        ctx.dirty += 1      # nothing stored, nothing deleted: not a write (not propagated)
    return len(result)


# ---------------------------------------------------------------------------
# BITFIELD
# ---------------------------------------------------------------------------

_OVERFLOWS = {b"WRAP", b"SAT", b"FAIL"}


def _field_type(arg: bytes) -> tuple[bool, int]:
    """getBitfieldTypeFromArgument: (signed?, width); i1..i64, u1..u63."""
    kind = arg[:1].lower()
    width = None
    if kind in (b"i", b"u"):
        try:
            width = parse_int(arg[1:])
        except CommandError:
            width = None
    limit = 64 if kind == b"i" else 63
    if width is None or not 1 <= width <= limit:
        raise CommandError(errors.BITFIELD_INVALID_TYPE)
    return kind == b"i", width


def _parse_bitfield_ops(ctx, argv) -> list:
    """[(op, signed, width, offset, argument, overflow mode)] in order."""
    ops = []
    overflow = b"WRAP"
    j = 2
    while j < len(argv):
        sub, remaining = argv[j].upper(), len(argv) - j - 1
        if sub == b"OVERFLOW" and remaining >= 1:
            overflow = argv[j + 1].upper()
            if overflow not in _OVERFLOWS:
                raise CommandError(errors.BITFIELD_INVALID_OVERFLOW)
            j += 2
            continue
        if not ((sub == b"GET" and remaining >= 2) or (sub in (b"SET", b"INCRBY") and remaining >= 3)):
            raise CommandError(errors.SYNTAX_ERR)
        signed, width = _field_type(argv[j + 1])
        offset = _bit_offset(ctx, argv[j + 2], width)
        argument = parse_int(argv[j + 3]) if sub != b"GET" else 0
        ops.append((sub, signed, width, offset, argument, overflow))
        j += 3 if sub == b"GET" else 4
    return ops


def _generic_bitfield(ctx, argv, readonly_command: bool):
    ops = _parse_bitfield_ops(ctx, argv)
    writes = [op for op in ops if op[0] != b"GET"]
    key = argv[1]
    if not writes:
        value = _check_string(ctx.read(key)) or b""
        return [bits_ops.read_field(value, op[3], op[2], op[1]) for op in ops]
    if readonly_command:
        raise CommandError(errors.BITFIELD_RO_ONLY_GET)
    highest = max(offset + width - 1 for _, _, width, offset, _, _ in writes)
    buf, grew = _generic_grow_for_bits(ctx, key, highest)
    replies, changes = [], 0
    for sub, signed, width, offset, argument, overflow in ops:
        old = bits_ops.read_field(buf, offset, width, signed)
        if sub == b"GET":
            replies.append(old)
            continue
        if sub == b"INCRBY":
            new = bits_ops.field_overflow(old, argument, width, signed, overflow)
        else:           # SET: Redis casts the argument to uint64 for unsigned types
            target = argument if signed else argument & ((1 << 64) - 1)
            new = bits_ops.field_overflow(target, 0, width, signed, overflow)
        if new is None:             # OVERFLOW FAIL: nothing written, a null reply
            replies.append(None)
            continue
        replies.append(new if sub == b"INCRBY" else old)
        bits_ops.write_field(buf, offset, width, new)
        if grew or old != new:
            changes += 1
    # The key is created/grown even when every write failed, as in Redis.
    ctx.db.set(key, bytes(buf), keep_ttl=True)
    ctx.db.mark_raw(key, buf)   # lookupStringForBitCommand unshares it
    if changes:
        notify(ctx, NOTIFY_STRING, "setbit", key)
        ctx.dirty += changes
    return replies


@command("bitfield", arity=-2, flags="write denyoom", keys=(1, 1, 1), group="bitmap")
def bitfield(ctx, argv):
    return _generic_bitfield(ctx, argv, readonly_command=False)


@command("bitfield_ro", arity=-2, flags="readonly fast", keys=(1, 1, 1), group="bitmap")
def bitfield_ro(ctx, argv):
    return _generic_bitfield(ctx, argv, readonly_command=True)
