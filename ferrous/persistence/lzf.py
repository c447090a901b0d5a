"""LZF, the compressor Redis uses for RDB strings (liblzf 3.6 as Redis 7.0 ships it).

compress() follows lzf_c.c with Redis's lzfP.h settings (HLOG 16, VERY_FAST), so the
output is byte for byte what Redis writes; decompress() accepts any valid LZF stream.

Format: 000LLLLL + L+1 literal bytes; LLLooooo oooooooo a back reference of L+2 bytes
at distance o+1; 111ooooo LLLLLLLL oooooooo the same with length L+9.
"""
from __future__ import annotations

HLOG = 16
HSIZE = 1 << HLOG
MAX_LIT = 1 << 5
MAX_OFF = 1 << 13
MAX_REF = (1 << 8) + (1 << 3)


class LZFError(ValueError):
    pass


def _match_length(data: bytes, ref: int, ip: int, maxlen: int) -> int:
    """lzf_c.c's match loop, including its unrolled first 16 steps (which may run one
    byte past maxlen), so the back references are exactly Redis's."""
    length = 2
    if maxlen > 16:
        for _ in range(16):
            length += 1
            if data[ref + length] != data[ip + length]:
                return length
    while True:
        length += 1
        if length >= maxlen or data[ref + length] != data[ip + length]:
            return length


def compress(data: bytes, out_len: int) -> bytes | None:
    """lzf_compress with an output budget of out_len bytes; None when the result would
    not fit (Redis then stores the string uncompressed)."""
    in_len = len(data)
    if not in_len or not out_len:
        return None
    # htab holds position+1 so that 0 means "empty" (Redis's `ref > in_data` test
    # also rejects a reference to position 0).
    htab = {}
    out = bytearray()
    lit_pos = 0               # index in out of the pending literal run's header
    out.append(0)
    lit = 0
    ip = 0
    end = in_len
    hval = (data[0] << 8) | data[1] if in_len > 1 else 0
    while ip < end - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
        slot = ((hval >> 8) - hval * 5) & 0xFFFF
        ref = htab.get(slot, -1)
        htab[slot] = ip
        off = ip - ref - 1
        # Redis 7.0 ships the liblzf 3.6 test, without newer releases' `ip + 4 < in_end`
        if (ref > 0 and off < MAX_OFF
                and data[ref] == data[ip] and data[ref + 1] == data[ip + 1]
                and data[ref + 2] == data[ip + 2]):
            length = 2
            maxlen = end - ip - length
            if maxlen > MAX_REF:
                maxlen = MAX_REF
            # stop the literal run (drop its header when empty)
            if lit:
                out[lit_pos] = lit - 1
            else:
                del out[lit_pos]
            if len(out) + 3 + 1 >= out_len:
                return None
            length = _match_length(data, ref, ip, maxlen)
            length -= 2           # octets - 1... as in lzf_c.c: len is now #octets - 1
            ip += 1
            if length < 7:
                out.append((off >> 8) + (length << 5))
            else:
                out.append((off >> 8) + (7 << 5))
                out.append(length - 7)
            out.append(off & 0xFF)
            lit = 0
            lit_pos = len(out)
            out.append(0)
            ip += length + 1
            if ip >= end - 2:
                break
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
        else:
            if len(out) >= out_len:
                return None
            lit += 1
            out.append(data[ip])
            ip += 1
            if lit == MAX_LIT:
                out[lit_pos] = lit - 1
                lit = 0
                lit_pos = len(out)
                out.append(0)
    if len(out) + 3 > out_len:
        return None
    while ip < end:
        lit += 1
        out.append(data[ip])
        ip += 1
        if lit == MAX_LIT:
            out[lit_pos] = lit - 1
            lit = 0
            lit_pos = len(out)
            out.append(0)
    if lit:
        out[lit_pos] = lit - 1
    else:
        del out[lit_pos]
    return bytes(out)


def decompress(data: bytes, expected_len: int) -> bytes:
    """lzf_decompress; raises LZFError on a corrupt stream or a length mismatch."""
    out = bytearray()
    ip, end = 0, len(data)
    while ip < end:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if ip + run > end:
                raise LZFError("literal run past the end of the input")
            out += data[ip:ip + run]
            ip += run
            continue
        length = ctrl >> 5
        if length == 7:
            if ip >= end:
                raise LZFError("truncated back reference")
            length += data[ip]
            ip += 1
        if ip >= end:
            raise LZFError("truncated back reference")
        start = len(out) - ((ctrl & 0x1F) << 8) - data[ip] - 1
        ip += 1
        if start < 0:
            raise LZFError("back reference before the start of the output")
        length += 2
        if start + length <= len(out):
            out += out[start:start + length]
        else:                   # overlapping copy: repeat byte by byte
            for i in range(length):
                out.append(out[start + i])
    if len(out) != expected_len:
        raise LZFError("decompressed length mismatch")
    return bytes(out)
