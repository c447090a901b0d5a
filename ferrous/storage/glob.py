"""Glob-style matching with the exact semantics of Redis's stringmatchlen (util.c).

Used by KEYS, SCAN MATCH, HSCAN/SSCAN/ZSCAN, CONFIG GET, PSUBSCRIBE ... Patterns
are translated once into a compiled regular expression (cached), so matching a
key is a single call into the C regex engine.

Redis quirks reproduced here (they matter for byte-exact compatibility):
- `[...]` classes: `^` negates, `a-z` ranges (reversed ends are swapped), `\\x`
  escapes a character; an unterminated class (`[ab`) ends with the pattern, and a
  class that is just `[` matches nothing.
- Characters are C `char`s, i.e. signed: in a range, bytes >= 0x80 sort before
  0x00, so `[a-\\xff]` means `\\xff..a` and matches `\\x00`..`a` and `\\xff`.
- nocase folds only A-Z (the C locale), is applied to range ends *after* they are
  swapped, and is not applied to escaped characters inside a class.
- A trailing lone backslash matches a backslash.
- The empty string matches only the empty pattern (so `*` does not match `''`;
  KEYS and SCAN special-case the pattern `*` before calling this).

Matching must also stay fast on hostile patterns like `*a*a*a*a*b` (Redis's fix for
CVE-2022-36021). A glob segment between two stars only ever needs its *earliest*
occurrence, so each such segment becomes an atomic group `(?>.*?segment)`: the
regex never backtracks into it, which keeps matching O(len(pattern) * len(string)).
"""
from __future__ import annotations

import functools
import re

_ANY = None  # token for '?'
_STAR = "*"  # token for a run of '*'


def glob_match(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """stringmatchlen(pattern, string, nocase) as Redis computes it."""
    if not string:
        return not pattern
    return _compile(bytes(pattern), nocase)(string) is not None


def glob_matcher(pattern: bytes, nocase: bool = False):
    """A `match(string) -> bool` function, for loops that test many strings."""
    if not pattern:
        return lambda string: not string
    fullmatch = _compile(bytes(pattern), nocase)
    return lambda string: bool(string) and fullmatch(string) is not None


@functools.lru_cache(maxsize=1024)
def _compile(pattern: bytes, nocase: bool):
    regex = _to_regex(_tokenize(pattern, nocase))
    return re.compile(regex, re.DOTALL).fullmatch


# -- tokenizing: mirrors the control flow of stringmatchlen_impl ---------------

def _tokenize(pattern: bytes, nocase: bool) -> list:
    """Tokens: _STAR, _ANY, or a frozenset of the byte values one position accepts."""
    tokens = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == 0x2A:  # '*': a run of stars is one star
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            tokens.append(_STAR)
        elif ch == 0x3F:  # '?'
            tokens.append(_ANY)
        elif ch == 0x5B:  # '['
            accepted, i = _parse_class(pattern, i + 1, nocase)
            tokens.append(accepted)
        else:
            if ch == 0x5C and i + 1 < n:  # backslash escapes the next byte
                i += 1
                ch = pattern[i]
            tokens.append(_literal(ch, nocase))
        i += 1
    return tokens


def _literal(ch: int, nocase: bool) -> frozenset:
    if nocase and (_lower(ch) != ch or _upper(ch) != ch):
        return frozenset((_lower(ch), _upper(ch)))
    return frozenset((ch,))


def _parse_class(pattern: bytes, i: int, nocase: bool) -> tuple[frozenset, int]:
    """Parse the class body starting at i (just after '['): (accepted bytes, index of
    the class's last pattern byte). The loop matches Redis's, item for item."""
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # '^'
    if negate:
        i += 1
    members: set = set()
    while True:
        if i < n and pattern[i] == 0x5C and n - i >= 2:     # '\x': exact, even with nocase
            i += 1
            members.add(pattern[i])
        elif i < n and pattern[i] == 0x5D:                   # ']' closes the class
            break
        elif i >= n:                                         # unterminated: ends with the pattern
            i = n - 1
            break
        elif n - i >= 3 and pattern[i + 1] == 0x2D:          # 'a-z'
            members.update(_range(pattern[i], pattern[i + 2], nocase))
            i += 2
        else:
            members.update(_literal(pattern[i], nocase))
        i += 1
    if negate:
        members = set(range(256)) - members
    return frozenset(members), i


def _range(start: int, end: int, nocase: bool) -> list[int]:
    """Bytes c with start <= c <= end compared as signed C chars, as Redis does."""
    start, end = _signed(start), _signed(end)
    if start > end:
        start, end = end, start
    if nocase:
        start, end = _lower(start), _lower(end)
    accepted = []
    for byte in range(256):
        c = _signed(byte)
        if nocase:
            c = _lower(c)
        if start <= c <= end:
            accepted.append(byte)
    return accepted


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _lower(c: int) -> int:
    return c + 32 if 0x41 <= c <= 0x5A else c


def _upper(c: int) -> int:
    return c - 32 if 0x61 <= c <= 0x7A else c


# -- regex generation -----------------------------------------------------------

def _to_regex(tokens: list) -> bytes:
    """Segments between stars; middle segments match at their earliest occurrence."""
    segments: list[list] = [[]]
    for token in tokens:
        if token is _STAR:
            segments.append([])
        else:
            segments[-1].append(token)
    parts = [_segment(segments[0])]
    for middle in segments[1:-1]:
        parts.append(b"(?>.*?" + _segment(middle) + b")")
    if len(segments) > 1:
        parts.append(b".*" + _segment(segments[-1]))
    return b"".join(parts)


def _segment(tokens: list) -> bytes:
    return b"".join(_one_char(token) for token in tokens)


def _one_char(token) -> bytes:
    if token is _ANY or len(token) == 256:
        return b"."
    if not token:
        return b"(?!)"
    if len(token) == 1:
        return b"\\x%02x" % next(iter(token))
    return b"[" + b"".join(_class_ranges(sorted(token))) + b"]"


def _class_ranges(values: list[int]):
    start = prev = values[0]
    for value in values[1:] + [None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        yield b"\\x%02x" % start if start == prev else b"\\x%02x-\\x%02x" % (start, prev)
        if value is not None:
            start = prev = value
