"""String values: byte-range edits, LCS and the long double arithmetic of INCRBYFLOAT.

Strings are stored as plain `bytes`; these helpers compute new values, the command
module (ferrous/commands/strings.py) stores them.
"""
from __future__ import annotations

import re
from fractions import Fraction

# ---------------------------------------------------------------------------
# GETRANGE / SETRANGE
# ---------------------------------------------------------------------------


def byte_range(value: bytes, start: int, end: int) -> bytes:
    """GETRANGE's slice, with getrangeCommand's exact clamping of negative indexes.

    Redis 7.0 clamps a too-negative end to 0 instead of returning nothing, so
    GETRANGE "Hello" 0 -100 is "H"; that quirk is kept.
    """
    length = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = max(length + end, 0)
    if end >= length:
        end = length - 1
    if start > end or length == 0:
        return b""
    return value[start:end + 1]


def overwrite_at(value: bytes, offset: int, patch: bytes) -> bytes:
    """SETRANGE: patch written at offset, the gap (if any) filled with zero bytes."""
    head = value[:offset]
    if len(head) < offset:
        head += bytes(offset - len(head))
    return head + patch + value[offset + len(patch):]


# ---------------------------------------------------------------------------
# INCRBYFLOAT: x87 80-bit long double, emulated exactly with Fractions
# ---------------------------------------------------------------------------
# Redis parses with strtold, adds two `long double`s and prints the sum with
# "%.17Lf" before trimming trailing zeros (ld2string, LD_STR_HUMAN). On x86-64 a
# long double is the x87 extended format: a 64-bit significand, exponents down to
# 2^-16382 (then gradual underflow to 2^-16445) and up to 2^16383. Every step is
# reproduced exactly: parsing and addition round to that format (nearest, ties to
# even, like glibc and the FPU), and printing uses the exact decimal expansion
# rounded half to even at the 17th fractional digit (as glibc's printf does).
# No approximation is made for finite values.

_MANTISSA_BITS = 64
_MIN_NORMAL_EXP = -16382            # smallest exponent of a normal number
_OVERFLOW_LIMIT = Fraction(2) ** 16384  # anything that rounds to this is infinite
_MAX_INPUT_CHARS = 5 * 1024         # MAX_LONG_DOUBLE_CHARS: longer input is rejected

# Inputs strtold accepts in full (anything else leaves unparsed bytes, which
# string2ld rejects). Leading spaces are rejected by string2ld itself.
_INF_RE = re.compile(rb"([+-]?)inf(?:inity)?\Z", re.I)
_HEX_RE = re.compile(rb"([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?[0-9]+))?\Z", re.I)
_DEC_RE = re.compile(rb"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:e([+-]?[0-9]+))?\Z", re.I)

INFINITY = float("inf")


def _round_to_extended(x: Fraction) -> Fraction | None:
    """x rounded to the nearest long double (ties to even); None on overflow."""
    if x == 0:
        return x
    magnitude = abs(x)
    num, den = magnitude.numerator, magnitude.denominator
    exp = num.bit_length() - den.bit_length()          # 2^exp <= |x| < 2^(exp+2)
    if (num << max(-exp, 0)) < (den << max(exp, 0)):
        exp -= 1                                        # now 2^exp <= |x| < 2^(exp+1)
    quantum = Fraction(2) ** (max(exp, _MIN_NORMAL_EXP) - (_MANTISSA_BITS - 1))
    rounded = round(magnitude / quantum) * quantum      # round() on a Fraction is half-even
    if rounded >= _OVERFLOW_LIMIT:
        return None
    return rounded if x > 0 else -rounded


def _decimal_int(digits: bytes) -> int:
    """int(digits) for any length (int() refuses more than 4300 decimal digits)."""
    if len(digits) <= 4000:
        return int(digits)
    cut = len(digits) // 2
    return _decimal_int(digits[:cut]) * 10 ** (len(digits) - cut) + _decimal_int(digits[cut:])


def _decimal_str(value: int) -> str:
    """str(value) for a non-negative int of any size."""
    if value < 10 ** 4000:
        return str(value)
    high, low = divmod(value, 10 ** 4000)
    return _decimal_str(high) + str(low).rjust(4000, "0")


def _exponent(text: bytes | None) -> int | None:
    """An exponent's value; None when it has more than 9 digits (certainly out of range)."""
    if not text:
        return 0
    digits = text.lstrip(b"+-").lstrip(b"0")
    if len(digits) > 9:
        return None
    value = int(digits or b"0")
    return -value if text.startswith(b"-") else value


def _exact_decimal(int_digits: bytes, frac_digits: bytes, exp_text: bytes | None):
    """The exact value of a decimal literal: a Fraction, or 'big' / 'tiny' when it is
    certainly out of the long double range (so no huge power is ever computed)."""
    digits = (int_digits + frac_digits).lstrip(b"0")
    if not digits:
        return Fraction(0)
    exp = _exponent(exp_text)
    if exp is None:
        return "tiny" if exp_text.startswith(b"-") else "big"
    exp10 = exp - len(frac_digits)
    magnitude = len(digits) + exp10          # 10^(magnitude-1) <= value < 10^magnitude
    if magnitude > 4934:
        return "big"
    if magnitude < -4952:
        return "tiny"
    mantissa = _decimal_int(digits)
    return Fraction(mantissa * 10 ** exp10) if exp10 >= 0 else Fraction(mantissa, 10 ** -exp10)


def _exact_hex(int_digits: bytes, frac_digits: bytes, exp_text: bytes | None):
    """The exact value of a hexadecimal float literal (0x1.8p3), like _exact_decimal."""
    mantissa = int((int_digits + frac_digits) or b"0", 16)
    if mantissa == 0:
        return Fraction(0)
    exp = _exponent(exp_text)
    if exp is None:
        return "tiny" if exp_text.startswith(b"-") else "big"
    exp2 = exp - 4 * len(frac_digits)
    magnitude = mantissa.bit_length() + exp2
    if magnitude > 16390:
        return "big"
    if magnitude < -16460:
        return "tiny"
    return Fraction(mantissa) * Fraction(2) ** exp2


def parse_long_double(data: bytes):
    """string2ld: the long double `data` denotes (a Fraction, or +/-INFINITY), or None
    when Redis would reply "value is not a valid float" (NaN, overflow, underflow to
    zero, trailing or leading garbage, empty or too long input)."""
    if not data or len(data) >= _MAX_INPUT_CHARS:
        return None
    match = _INF_RE.match(data)
    if match:
        return -INFINITY if match.group(1) == b"-" else INFINITY
    match = _HEX_RE.match(data)
    if match:
        sign, int_digits, frac_digits, exp_text = match.groups()
        frac_digits = frac_digits or b""
        if not int_digits and not frac_digits:
            return None
        exact = _exact_hex(int_digits, frac_digits, exp_text)
    else:
        match = _DEC_RE.match(data)
        if not match:
            return None
        sign, int_digits, frac_digits, exp_text = match.groups()
        frac_digits = frac_digits or b""
        if not int_digits and not frac_digits:
            return None
        exact = _exact_decimal(int_digits, frac_digits, exp_text)
    if exact == "big" or exact == "tiny":
        return None                      # ERANGE: overflow, or underflow to zero
    rounded = _round_to_extended(exact)
    if rounded is None or (rounded == 0 and exact != 0):
        return None
    return -rounded if sign == b"-" else rounded


def add_long_double(a, b):
    """a + b in long double arithmetic, or None when the sum is NaN or infinite."""
    if isinstance(a, float) or isinstance(b, float):
        return None                      # an infinite operand gives inf or NaN
    return _round_to_extended(a + b)


def format_long_double_human(value: Fraction) -> bytes:
    """ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and '.' trimmed, "-0" -> "0"."""
    scaled = round(abs(value) * 10 ** 17)          # half to even, like glibc
    integer, fraction = divmod(scaled, 10 ** 17)
    text = _decimal_str(integer)
    fraction_text = ("%017d" % fraction).rstrip("0")
    if fraction_text:
        text += "." + fraction_text
    if value < 0 and text != "0":
        text = "-" + text
    return text.encode()


# ---------------------------------------------------------------------------
# LCS
# ---------------------------------------------------------------------------


class LcsTable:
    """The LCS(i, j) table of lcsCommand, held as one bit-vector row per prefix of a.

    Row i has bit j-1 clear where LCS(i, j) = LCS(i, j-1) + 1 (Hyyrö's bit-parallel
    LCS), so LCS(i, j) = j - popcount(row_i & low j bits). The table is the same as
    the dynamic-programming one Redis fills, at a fraction of the Python work.
    """

    __slots__ = ("a", "b", "rows")

    def __init__(self, a: bytes, b: bytes, keep_rows: bool = True):
        self.a, self.b = a, b
        positions: dict[int, int] = {}
        for j, ch in enumerate(b):
            positions[ch] = positions.get(ch, 0) | (1 << j)
        mask = (1 << len(b)) - 1
        row = mask
        rows = [row]
        for ch in a:
            matches = row & positions.get(ch, 0)
            row = ((row + matches) | (row - matches)) & mask
            if keep_rows:
                rows.append(row)
        self.rows = rows if keep_rows else [row]

    def length(self) -> int:
        row = self.rows[-1]
        return len(self.b) - row.bit_count()

    def at(self, i: int, j: int) -> int:
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()


def lcs_matches(table: LcsTable, min_match_len: int):
    """Walk the table back from the end like lcsCommand: (lcs string, ranges), each range
    (a_start, a_end, b_start, b_end, length) in the order Redis emits them."""
    a, b = table.a, table.b
    alen = len(a)
    i, j = alen, len(b)
    out = bytearray()
    ranges = []
    a_start = alen                 # alen marks "no range in progress", as in Redis
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            i -= 1
            j -= 1
        else:
            if table.at(i - 1, j) > table.at(i, j - 1):
                i -= 1
            else:
                j -= 1
            if a_start != alen:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if min_match_len == 0 or match_len >= min_match_len:
                ranges.append((a_start, a_end, b_start, b_end, match_len))
            a_start = alen
    out.reverse()
    return bytes(out), ranges
