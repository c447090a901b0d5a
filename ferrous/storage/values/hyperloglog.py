"""HyperLogLog values in Redis 7.0's exact byte layout (hyperloglog.c).

An HLL is a plain string value, so GET/SET move it between Ferrous and Redis:

    "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | 8-byte cached cardinality
    (little endian; the top bit of the last byte set = cache invalid) | registers

Dense: 16384 registers of 6 bits, packed least significant bit first.
Sparse: opcodes ZERO 00xxxxxx (1-64 zero registers), XZERO 01xxxxxx yyyyyyyy (1-16384
zero registers), VAL 1vvvvvxx (1-4 registers of value 1-32).

The sparse update follows hllSparseSet step by step (split, then a local merge of
adjacent VALs over at most five opcodes) because its output is not canonical: a
different but equivalent encoding would not be byte-identical with Redis. Corrupt
values (set by SET, SETBIT, BITFIELD ...) are edited as Redis edits them too: PFADD
keeps what it changed before meeting the corruption, and a value ending in half an
XZERO reads the byte past its end.
"""
from __future__ import annotations

import math
import re
import threading
from bisect import bisect_right
from itertools import accumulate

HLL_P = 14
HLL_Q = 64 - HLL_P
HLL_REGISTERS = 1 << HLL_P
HLL_P_MASK = HLL_REGISTERS - 1
HLL_BITS = 6
HLL_REGISTER_MAX = (1 << HLL_BITS) - 1
HLL_HDR_SIZE = 16
HLL_DENSE_BYTES = (HLL_REGISTERS * HLL_BITS + 7) // 8
HLL_DENSE_SIZE = HLL_HDR_SIZE + HLL_DENSE_BYTES
HLL_DENSE, HLL_SPARSE = 0, 1
HLL_SPARSE_VAL_MAX_VALUE = 32
HLL_SPARSE_VAL_MAX_LEN = 4
HLL_SPARSE_ZERO_MAX_LEN = 64
HLL_SPARSE_XZERO_MAX_LEN = 16384
HLL_ALPHA_INF = 0.721347520444481703680
_CACHE_INVALID_BYTE = 15          # card[7]: its top bit flags an invalid cache

_M64 = (1 << 64) - 1
_MURMUR_M = 0xC6A4A7935BD1E995
_MURMUR_SEED = 0xADC83B19


class CorruptedHLL(Exception):
    """INVALIDOBJ: the sparse opcodes do not cover exactly 16384 registers.

    `partial` is the value as the failing command leaves it: Redis edits the string in
    place, so PFADD keeps the registers it set before it met the corruption."""

    def __init__(self, partial: bytes | None = None):
        super().__init__()
        self.partial = partial


# ---------------------------------------------------------------------------
# The byte after the end of a sparse value
# ---------------------------------------------------------------------------
#
# The C code reads one byte past the last opcode when a corrupt value ends in the
# first half of an XZERO: the sds terminator, normally 0. But hllSparseSet's step 3
# writes its new opcodes after sdsIncrLen has placed the terminator, so splitting
# that truncated XZERO leaves the last byte of the new sequence just past the end,
# and later commands read it as the XZERO's second byte. Values are immutable bytes
# here, so the few values with such a non-zero "ghost" byte are remembered by
# content (a value written afresh with other bytes simply misses, as the sds
# terminator would be 0 again).

_GHOSTS: dict = {}
_GHOSTS_MAX = 256
_GHOSTS_LOCK = threading.Lock()


def ghost_of(value) -> int:
    """The byte Redis would find just past the end of this value (0 but for the case
    above)."""
    if not _GHOSTS:
        return 0
    with _GHOSTS_LOCK:
        return _GHOSTS.get(bytes(value), 0)


def remember_ghost(value: bytes, ghost: int) -> None:
    if not ghost and not _GHOSTS:
        return
    with _GHOSTS_LOCK:
        _GHOSTS.pop(value, None)
        if ghost:
            _GHOSTS[value] = ghost
            while len(_GHOSTS) > _GHOSTS_MAX:
                del _GHOSTS[next(iter(_GHOSTS))]


# ---------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------


def murmurhash64a(data: bytes, seed: int = _MURMUR_SEED) -> int:
    m = _MURMUR_M
    length = len(data)
    h = (seed ^ (length * m)) & _M64
    tail = length & ~7
    for k in memoryview(data[:tail]).cast("Q") if tail else ():
        k = (k * m) & _M64
        k ^= k >> 47
        k = (k * m) & _M64
        h = ((h ^ k) * m) & _M64
    if length & 7:
        h ^= int.from_bytes(data[tail:], "little")
        h = (h * m) & _M64
    h ^= h >> 47
    h = (h * m) & _M64
    return h ^ (h >> 47)


def pat_len(element: bytes) -> tuple[int, int]:
    """hllPatLen: (register index, run length of zeroes + 1) for an element."""
    h = murmurhash64a(element)
    index = h & HLL_P_MASK
    h = (h >> HLL_P) | (1 << HLL_Q)
    return index, (h & -h).bit_length()


# ---------------------------------------------------------------------------
# Header and validation
# ---------------------------------------------------------------------------


def new_sparse() -> bytes:
    """createHLLObject: an empty sparse HLL (one XZERO covering every register)."""
    xzero = HLL_REGISTERS - 1
    return b"HYLL\x01\x00\x00\x00" + bytes(8) + bytes((0x40 | (xzero >> 8), xzero & 0xFF))


def is_valid_hll(value: bytes) -> bool:
    """isHLLObjectOrReply's structural checks (the string type is checked by the caller)."""
    if len(value) < HLL_HDR_SIZE or value[:4] != b"HYLL" or value[4] > HLL_SPARSE:
        return False
    return value[4] != HLL_DENSE or len(value) == HLL_DENSE_SIZE


def is_sparse(value) -> bool:
    return value[4] == HLL_SPARSE


def cached_cardinality(value: bytes):
    """The cached cardinality, or None when the cache is flagged invalid."""
    if value[_CACHE_INVALID_BYTE] & 0x80:
        return None
    return int.from_bytes(value[8:16], "little")


def with_cached_cardinality(value: bytes, card: int) -> bytes:
    return value[:8] + card.to_bytes(8, "little") + value[16:]


def invalidate_cache(buf: bytearray) -> None:
    buf[_CACHE_INVALID_BYTE] |= 0x80


# ---------------------------------------------------------------------------
# Dense registers (buf is the whole value plus one spare zero byte, like the
# sds terminator the C macros read past the last register)
# ---------------------------------------------------------------------------


def dense_get(buf, index: int) -> int:
    pos = index * HLL_BITS
    byte = HLL_HDR_SIZE + (pos >> 3)
    fb = pos & 7
    return ((buf[byte] >> fb) | (buf[byte + 1] << (8 - fb))) & HLL_REGISTER_MAX


def dense_set(buf, index: int, count: int) -> None:
    pos = index * HLL_BITS
    byte = HLL_HDR_SIZE + (pos >> 3)
    fb = pos & 7
    buf[byte] = (buf[byte] & ~(HLL_REGISTER_MAX << fb) & 0xFF) | ((count << fb) & 0xFF)
    fb2 = 8 - fb
    buf[byte + 1] = (buf[byte + 1] & ~(HLL_REGISTER_MAX >> fb2)) | (count >> fb2)


# Whole-register-file work runs at C speed: every 3 packed bytes hold 4 registers, so
# the registers at i % 4 == k come from two of the byte columns j % 3, each shifted
# and masked by a 256-entry bytes.translate table, the two halves OR-ed as integers
# (their bits never overlap).

def _byte_table(func) -> bytes:
    return bytes(func(b) & 0xFF for b in range(256))


_LOW6 = _byte_table(lambda b: b & 63)
_SHR2, _SHR4, _SHR6 = (_byte_table(lambda b, n=n: b >> n) for n in (2, 4, 6))
_LOW4_SHL2 = _byte_table(lambda b: (b & 15) << 2)
_LOW2_SHL4 = _byte_table(lambda b: (b & 3) << 4)
_LOW2_SHL6 = _byte_table(lambda b: (b & 3) << 6)
_LOW4_SHL4 = _byte_table(lambda b: (b & 15) << 4)
_SHL2 = _byte_table(lambda b: b << 2)
_HIGH_BITS = int.from_bytes(b"\x80" * HLL_REGISTERS, "little")


def _or_bytes(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


def dense_registers(value: bytes) -> bytearray:
    """All 16384 dense registers, one byte each (every 3 bytes pack 4 registers)."""
    packed = bytes(value[HLL_HDR_SIZE:HLL_DENSE_SIZE])
    b0, b1, b2 = packed[0::3], packed[1::3], packed[2::3]
    out = bytearray(HLL_REGISTERS)
    out[0::4] = b0.translate(_LOW6)
    out[1::4] = _or_bytes(b0.translate(_SHR6), b1.translate(_LOW4_SHL2))
    out[2::4] = _or_bytes(b1.translate(_SHR4), b2.translate(_LOW2_SHL4))
    out[3::4] = b2.translate(_SHR2)
    return out


def pack_dense(header: bytes, registers) -> bytes:
    """A dense value with header's magic, unused bytes and cache, and these registers."""
    regs = bytes(registers)
    r0, r1, r2, r3 = regs[0::4], regs[1::4], regs[2::4], regs[3::4]
    packed = bytearray(HLL_DENSE_BYTES)
    packed[0::3] = _or_bytes(r0, r1.translate(_LOW2_SHL6))
    packed[1::3] = _or_bytes(r1.translate(_SHR2), r2.translate(_LOW4_SHL4))
    packed[2::3] = _or_bytes(r2.translate(_SHR4), r3.translate(_SHL2))
    return bytes(header[:4]) + b"\x00" + bytes(header[5:16]) + bytes(packed)


def registers_max(a, b) -> bytes:
    """The register-wise maximum of two register files (values below 128), with
    SWAR on integers: (a | 0x80) - b keeps a byte's top bit exactly where a >= b,
    and no byte borrows from the next."""
    x, y = int.from_bytes(a, "little"), int.from_bytes(b, "little")
    a_wins = ((((x | _HIGH_BITS) - y) & _HIGH_BITS) >> 7) * 0xFF
    return ((x & a_wins) | (y & ~a_wins)).to_bytes(HLL_REGISTERS, "little")


# ---------------------------------------------------------------------------
# Sparse opcodes
# ---------------------------------------------------------------------------


def _second_byte(value, p: int, end: int, ghost) -> int:
    """An XZERO's second byte; past the end it is the ghost byte (see above)."""
    if p + 1 < end:
        return value[p + 1]
    return ghost_of(value) if ghost is None else ghost


def sparse_runs(value, ghost=None):
    """Yield (register value, run length) for each opcode of a sparse value."""
    p, end = HLL_HDR_SIZE, len(value)
    while p < end:
        b = value[p]
        if b < 0x40:
            yield 0, b + 1
            p += 1
        elif b < 0x80:
            yield 0, (((b & 0x3F) << 8) | _second_byte(value, p, end, ghost)) + 1
            p += 2
        else:
            yield ((b >> 2) & 0x1F) + 1, (b & 3) + 1
            p += 1


# Whole-value walks over the opcodes run mostly in C too: a regular expression cuts
# the value into XZEROs (the only two-byte opcode) and runs of one-byte opcodes, and
# tables give each opcode's span and registers.
_SPARSE_TOKEN = re.compile(rb"[\x40-\x7f][\x00-\xff]|[\x00-\x3f\x80-\xff]+")
_SPAN_OF_BYTE = bytes(b + 1 if b < 0x40 else (b & 3) + 1 if b >= 0x80 else 0 for b in range(256))


class _XzeroRegisters(dict):
    """Opcode -> its registers as bytes; an XZERO's are made when asked for (there
    are few per value, and caching up to 16 KiB of zeros for each is not worth it)."""

    def __missing__(self, op: int) -> bytes:
        return bytes((op & 0x3FFF) + 1)


class _XzeroBytes(dict):
    """Opcode -> its bytes; an XZERO's two are made once and kept (16384 at most)."""

    def __missing__(self, op: int) -> bytes:
        self[op] = encoded = op.to_bytes(2, "big")
        return encoded


_OP_REGISTERS = _XzeroRegisters((b, bytes(b + 1) if b < 0x40 else bytes((((b >> 2) & 0x1F) + 1,)) * ((b & 3) + 1))
                                for b in range(256) if not 0x40 <= b < 0x80)
_OP_BYTES = _XzeroBytes((b, bytes((b,))) for b in range(256) if not 0x40 <= b < 0x80)


def sparse_opcodes(value):
    """(opcodes, registers each covers) of a sparse value, an opcode as an int (an
    XZERO's two bytes big endian), or None when the value ends in half an XZERO
    (whose second byte lies past the end)."""
    ops, spans = [], []
    parsed = 0
    for token in _SPARSE_TOKEN.findall(value, HLL_HDR_SIZE):
        parsed += len(token)
        if 0x40 <= token[0] < 0x80:
            op = (token[0] << 8) | token[1]
            ops.append(op)
            spans.append((op & 0x3FFF) + 1)
        else:
            ops += token
            spans += token.translate(_SPAN_OF_BYTE)
    if parsed != len(value) - HLL_HDR_SIZE:
        return None
    return ops, spans


def opcodes_registers(ops: list) -> bytearray:
    """hllSparseToDense: the registers, or CorruptedHLL if they do not add up to 16384."""
    registers = b"".join(map(_OP_REGISTERS.__getitem__, ops))
    if len(registers) != HLL_REGISTERS:
        raise CorruptedHLL
    return bytearray(registers)


def opcodes_bytes(ops: list) -> bytes:
    return b"".join(map(_OP_BYTES.__getitem__, ops))


def sparse_registers(value, ghost=None) -> bytearray:
    """hllSparseToDense's walk: the registers, or CorruptedHLL if they do not add up."""
    parsed = sparse_opcodes(value)
    if parsed is not None:
        return opcodes_registers(parsed[0])
    out = bytearray(HLL_REGISTERS)
    idx = 0
    for regval, runlen in sparse_runs(value, ghost):
        if regval and idx + runlen <= HLL_REGISTERS:
            out[idx:idx + runlen] = bytes((regval,)) * runlen
        elif regval:
            raise CorruptedHLL      # a run past the last register
        idx += runlen
    if idx != HLL_REGISTERS:
        raise CorruptedHLL
    return out


def registers_of(value) -> bytearray:
    return sparse_registers(value) if is_sparse(value) else dense_registers(value)


def sparse_to_dense(value, ghost=None) -> bytes:
    """hllSparseToDense: the header (magic, unused bytes, cache) is kept."""
    return pack_dense(value, sparse_registers(value, ghost))


def _val_op(value: int, length: int) -> int:
    return 0x80 | ((value - 1) << 2) | (length - 1)


def _zero_ops(length: int) -> bytes:
    if length > HLL_SPARSE_ZERO_MAX_LEN:
        length -= 1
        return bytes((0x40 | (length >> 8), length & 0xFF))
    return bytes((length - 1,))


class SparseWriter:
    """Applies hllSparseSet to a bytearray holding a whole sparse value, byte for byte
    as the C code does. SparseOps (below) does the same faster; this one remains for
    the values it cannot hold: those ending in half an XZERO (see the ghost byte).

    `hint` remembers an opcode boundary before the last change so that ascending
    updates (PFMERGE) do not rescan from the start; the scan result is the same.
    """

    __slots__ = ("buf", "max_bytes", "hint", "ghost")

    def __init__(self, value, max_bytes: int):
        self.buf = bytearray(value)
        self.max_bytes = max_bytes
        self.hint = (HLL_HDR_SIZE, 0, None)
        self.ghost = ghost_of(value)

    def result(self) -> bytes:
        """The edited value (its ghost byte remembered)."""
        value = bytes(self.buf)
        remember_ghost(value, self.ghost)
        return value

    def to_dense(self) -> bytes:
        return sparse_to_dense(self.buf, self.ghost)

    def set(self, index: int, count: int, ascending: bool = False) -> int:
        """1 if the register grew, 0 if not, -1 if the value must be promoted to dense.
        Raises CorruptedHLL on a malformed value."""
        if count > HLL_SPARSE_VAL_MAX_VALUE:
            return -1
        buf = self.buf
        end = len(buf)
        p, first, prev = self.hint if ascending else (HLL_HDR_SIZE, 0, None)
        prevprev = None
        span = oplen = 0
        while p < end:
            b = buf[p]
            if b < 0x40:
                span, oplen = b + 1, 1
            elif b >= 0x80:
                span, oplen = (b & 3) + 1, 1
            else:
                span, oplen = (((b & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else self.ghost)) + 1, 2
            if index <= first + span - 1:
                break
            prevprev, prev = prev, (p, first)
            p += oplen
            first += span
        if span == 0 or p >= end:
            raise CorruptedHLL
        b = buf[p]
        if b >= 0x80:
            if ((b >> 2) & 0x1F) + 1 >= count:
                return 0
            if span == 1:
                buf[p] = _val_op(count, 1)
                self._merge(prev, prevprev)
                return 1
        elif b < 0x40 and span == 1:
            buf[p] = _val_op(count, 1)
            self._merge(prev, prevprev)
            return 1
        seq = self._split(b, index, first, first + span - 1, count)
        delta = len(seq) - oplen
        if delta > 0 and len(buf) + delta > self.max_bytes:
            return -1
        truncated = p + oplen > end
        buf[p:p + oplen] = seq
        # sdsIncrLen puts the terminator at the new end, then memcpy writes the
        # sequence: for a corrupt value ending in half an XZERO the string is still
        # shortened by two, and the sequence's last byte lands past the new end.
        self.ghost = buf.pop() if truncated else 0
        self._merge(prev, prevprev)
        return 1

    @staticmethod
    def _split(op: int, index: int, first: int, last: int, count: int) -> bytes:
        seq = bytearray()
        if op < 0x80:
            if index != first:
                seq += _zero_ops(index - first)
            seq.append(_val_op(count, 1))
            if index != last:
                seq += _zero_ops(last - index)
        else:
            current = ((op >> 2) & 0x1F) + 1
            if index != first:
                seq.append(_val_op(current, index - first))
            seq.append(_val_op(count, 1))
            if index != last:
                seq.append(_val_op(current, last - index))
        return bytes(seq)

    def _merge(self, prev, prevprev) -> None:
        """Step 4 of hllSparseSet: merge adjacent same-value VALs, up to 5 opcodes
        from the one before the update. prev / prevprev: (offset, first register)
        of the two opcodes before the updated one, or None."""
        buf = self.buf
        p = prev[0] if prev is not None else HLL_HDR_SIZE
        end = len(buf)
        scanlen = 5
        while p < end and scanlen:
            scanlen -= 1
            b = buf[p]
            if b < 0x80:
                p += 2 if b >= 0x40 else 1
                continue
            if p + 1 < end and buf[p + 1] >= 0x80:
                b2 = buf[p + 1]
                if (b >> 2) & 0x1F == (b2 >> 2) & 0x1F:
                    length = (b & 3) + (b2 & 3) + 2
                    if length <= HLL_SPARSE_VAL_MAX_LEN:
                        # A merge uses up one of the five steps too (the C loop
                        # decrements scanlen on every pass, `continue` included).
                        del buf[p]
                        buf[p] = _val_op(((b >> 2) & 0x1F) + 1, length)
                        end -= 1
                        self.ghost = 0      # sdsIncrLen(-1) re-terminates
                        continue
            p += 1
        # Everything before `prev` is untouched, so the opcode before it is still a
        # valid place to resume a later scan for a higher register.
        self.hint = (prevprev[0], prevprev[1], None) if prevprev is not None else (HLL_HDR_SIZE, 0, None)


class SparseOps:
    """hllSparseSet on a well-formed sparse value held as a list of opcodes.

    The byte-level SparseWriter scans from the first opcode for every register, as
    the C code does: quadratic in Python. Here each opcode is an int (its byte, or
    its two bytes big endian for an XZERO) beside a list of the first register each
    covers, so the opcode is found by bisection. A split or a merge never changes
    which registers later opcodes cover, so those start registers need no update.
    The steps, and so the bytes, are hllSparseSet's, corrupt values included (their
    opcodes cover more or fewer than 16384 registers), except a value ending in half
    an XZERO, left to SparseWriter (see `parse`).
    """

    __slots__ = ("header", "ops", "starts", "nbytes", "max_bytes", "covered")

    def __init__(self, header: bytes, ops: list, starts: list, nbytes: int, max_bytes: int,
                 covered: int):
        self.header = bytearray(header)
        self.ops = ops
        self.starts = starts
        self.nbytes = nbytes
        self.max_bytes = max_bytes
        self.covered = covered      # registers the opcodes cover (16384 unless corrupt)

    @classmethod
    def parse(cls, value, max_bytes: int):
        """A SparseOps for value, or None if it ends in half an XZERO (whose second
        byte is read past the end)."""
        parsed = sparse_opcodes(value)
        if parsed is None:
            return None
        ops, spans = parsed
        starts = list(accumulate(spans, initial=0))
        covered = starts.pop()
        return cls(value[:HLL_HDR_SIZE], ops, starts, len(value), max_bytes, covered)

    def set(self, index: int, count: int, ascending: bool = False) -> int:
        """1 if the register grew, 0 if not, -1 if the value must become dense.
        Raises CorruptedHLL if no opcode covers the register."""
        if count > HLL_SPARSE_VAL_MAX_VALUE:
            return -1
        if index >= self.covered:
            raise CorruptedHLL
        ops, starts = self.ops, self.starts
        i = bisect_right(starts, index) - 1
        op = ops[i]
        first = starts[i]
        if op >= 0x80 and op < 0x100:
            if ((op >> 2) & 0x1F) + 1 >= count:
                return 0
            if op & 3 == 0:
                ops[i] = _val_op(count, 1)
                self._merge(i - 1)
                return 1
            span = (op & 3) + 1
        elif op < 0x40:
            if op == 0:
                ops[i] = _val_op(count, 1)
                self._merge(i - 1)
                return 1
            span = op + 1
        else:
            span = (op & 0x3FFF) + 1
        seq, seq_starts, seq_bytes = self._split(op, index, first, first + span - 1, count)
        delta = seq_bytes - (2 if op >= 0x4000 else 1)
        if delta > 0 and self.nbytes + delta > self.max_bytes:
            return -1
        ops[i:i + 1] = seq
        starts[i:i + 1] = seq_starts
        self.nbytes += delta
        self._merge(i - 1)
        return 1

    @staticmethod
    def _split(op: int, index: int, first: int, last: int, count: int):
        seq, seq_starts, nbytes = [], [], 0
        if op < 0x80 or op >= 0x4000:
            if index != first:
                zero = _zero_op(index - first)
                seq.append(zero)
                seq_starts.append(first)
                nbytes += 2 if zero >= 0x4000 else 1
            seq.append(_val_op(count, 1))
            seq_starts.append(index)
            nbytes += 1
            if index != last:
                zero = _zero_op(last - index)
                seq.append(zero)
                seq_starts.append(index + 1)
                nbytes += 2 if zero >= 0x4000 else 1
        else:
            current = ((op >> 2) & 0x1F) + 1
            if index != first:
                seq.append(_val_op(current, index - first))
                seq_starts.append(first)
            seq.append(_val_op(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_val_op(current, last - index))
                seq_starts.append(index + 1)
            nbytes = len(seq)
        return seq, seq_starts, nbytes

    def _merge(self, j: int) -> None:
        """Step 4: merge adjacent same-value VALs, five steps from the opcode before
        the update (a merge is a step too)."""
        ops, starts = self.ops, self.starts
        if j < 0:
            j = 0
        scanlen = 5
        while j < len(ops) and scanlen:
            scanlen -= 1
            op = ops[j]
            if op < 0x80 or op >= 0x100:
                j += 1
                continue
            if j + 1 < len(ops):
                nxt = ops[j + 1]
                if 0x80 <= nxt < 0x100 and (op >> 2) & 0x1F == (nxt >> 2) & 0x1F:
                    length = (op & 3) + (nxt & 3) + 2
                    if length <= HLL_SPARSE_VAL_MAX_LEN:
                        ops[j] = _val_op(((op >> 2) & 0x1F) + 1, length)
                        del ops[j + 1]
                        del starts[j + 1]
                        self.nbytes -= 1
                        continue
            j += 1

    def registers(self) -> bytearray:
        """hllSparseToDense's registers, or CorruptedHLL as it checks them."""
        if self.covered != HLL_REGISTERS:
            raise CorruptedHLL
        return opcodes_registers(self.ops)

    def to_dense(self) -> bytes:
        return pack_dense(self.header, self.registers())

    @property
    def buf(self) -> bytearray:
        return self.header          # invalidate_cache only touches the header

    def result(self) -> bytes:
        return bytes(self.header) + opcodes_bytes(self.ops)


def _zero_op(length: int) -> int:
    """The ZERO or XZERO opcode (as SparseOps holds it) for a run of zero registers."""
    if length > HLL_SPARSE_ZERO_MAX_LEN:
        return 0x4000 | (length - 1)
    return length - 1


def sparse_editor(value, max_bytes: int):
    """The fast SparseOps for a well-formed sparse value, else the byte-level
    SparseWriter, which reproduces what Redis does to corrupt ones."""
    ops = SparseOps.parse(value, max_bytes)
    return SparseWriter(value, max_bytes) if ops is None else ops


# ---------------------------------------------------------------------------
# PFADD / PFMERGE on whole values
# ---------------------------------------------------------------------------


def add_elements(value: bytes, elements, max_bytes: int) -> tuple[bytes, int]:
    """hllAdd for each element: (new value, number of registers changed)."""
    updated = 0
    if is_sparse(value):
        writer = sparse_editor(value, max_bytes)
        for i, element in enumerate(elements):
            index, count = pat_len(element)
            try:
                result = writer.set(index, count)
                if result < 0:
                    value = writer.to_dense()
            except CorruptedHLL:
                raise CorruptedHLL(_partial(writer, updated)) from None
            if result >= 0:
                updated += result
                continue
            changed, value = _dense_add(value, elements[i:], first=(index, count))
            return value, updated + changed
        if updated:
            invalidate_cache(writer.buf)
        return writer.result(), updated
    changed, value = _dense_add(value, elements)
    return value, changed


def _partial(writer, updated: int) -> bytes:
    """The value left by hllSparseSet calls before one failed: each successful update
    flagged the cache invalid."""
    if updated:
        invalidate_cache(writer.buf)
    return writer.result()


def _dense_add(value: bytes, elements, first=None) -> tuple[int, bytes]:
    buf = bytearray(value)
    buf.append(0)
    updated = 0
    pending = [first] if first else []
    for index, count in pending:
        if dense_get(buf, index) < count:
            dense_set(buf, index, count)
            updated += 1
    for element in (elements[1:] if first else elements):
        index, count = pat_len(element)
        if dense_get(buf, index) < count:
            dense_set(buf, index, count)
            updated += 1
    if updated:
        invalidate_cache(buf)
    del buf[-1]
    return updated, bytes(buf)


def merge_max(registers: bytearray, value: bytes) -> None:
    """hllMerge: registers[i] = max(registers[i], value's register i)."""
    registers[:] = registers_max(registers, registers_of(value))


def write_registers(dest: bytes, registers, use_dense: bool, max_bytes: int) -> bytes:
    """PFMERGE's write-back: dense set, or hllSparseSet per non-zero register in order
    (promoting to dense as Redis does), then the cache is invalidated."""
    if use_dense and is_sparse(dest):
        dest = sparse_to_dense(dest)
    if is_sparse(dest):
        writer = sparse_editor(dest, max_bytes)
        for index, count in enumerate(registers):
            if count and writer.set(index, count, ascending=True) < 0:
                return _dense_write(writer.to_dense(), registers)
        invalidate_cache(writer.buf)
        return writer.result()
    return _dense_write(dest, registers)


def _dense_write(dest: bytes, registers) -> bytes:
    """The dense half of hllMerge's write-back (registers already written by the
    sparse half are at least as large, so taking the maximum everywhere is the same)."""
    buf = bytearray(pack_dense(dest, registers_max(dense_registers(dest), registers)))
    invalidate_cache(buf)
    return bytes(buf)


# ---------------------------------------------------------------------------
# Cardinality (the 7.0 estimator of Otmar Ertl)
# ---------------------------------------------------------------------------


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prime = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if z_prime == z:
            return z / 3


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def histogram(value) -> list:
    """hllDenseRegHisto / hllSparseRegHisto; CorruptedHLL for a bad sparse value."""
    histo = [0] * 64
    if is_sparse(value):
        parsed = sparse_opcodes(value)
        if parsed is not None:
            return registers_histogram(opcodes_registers(parsed[0]))
        idx = 0
        for regval, runlen in sparse_runs(value):
            histo[regval] += runlen
            idx += runlen
        if idx != HLL_REGISTERS:
            raise CorruptedHLL
        return histo
    return registers_histogram(dense_registers(value))


def count_histogram(histo) -> int:
    """hllCount's estimator on a register histogram."""
    m = float(HLL_REGISTERS)
    z = m * _tau((m - histo[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    estimate = HLL_ALPHA_INF * m * m / z
    floor = math.floor(estimate)      # llroundl: halves round away from zero
    return int(floor + 1 if estimate - floor >= 0.5 else floor)


def registers_histogram(registers) -> list:
    """How many registers hold each value; counting stops at the largest value
    present (found by memchr), as every count above it is zero."""
    registers = bytes(registers)
    top = next(v for v in range(HLL_REGISTER_MAX, -1, -1) if v in registers)
    return [registers.count(v) for v in range(top + 1)] + [0] * (HLL_REGISTER_MAX - top)


def cardinality(value) -> int:
    return count_histogram(histogram(value))


def decode_sparse(value) -> bytes:
    """PFDEBUG DECODE's text."""
    parts = []
    p, end = HLL_HDR_SIZE, len(value)
    while p < end:
        b = value[p]
        if b < 0x40:
            parts.append(b"z:%d" % (b + 1))
            p += 1
        elif b < 0x80:
            nxt = _second_byte(value, p, end, None)
            parts.append(b"Z:%d" % ((((b & 0x3F) << 8) | nxt) + 1))
            p += 2
        else:
            parts.append(b"v:%d,%d" % (((b >> 2) & 0x1F) + 1, (b & 3) + 1))
            p += 1
    return b" ".join(parts)
