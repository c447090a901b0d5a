"""ferrous.storage.glob against Redis's stringmatchlen.

`stringmatchlen` below is a line-by-line port of the C function (util.c, Redis
7.0.15, with its reads of the NUL terminator); tests/commands/test_keys.py checks
this port against real Redis through KEYS, so comparing glob_match with it on
random inputs compares glob_match with Redis. The tables were checked by hand
against redis-server 7.0.15 (KEYS, and COMMAND LIST FILTERBY PATTERN for nocase).
"""
from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferrous.storage.glob import glob_match, glob_matcher


def _lower(c: int) -> int:
    return c + 32 if 0x41 <= c <= 0x5A else c


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def stringmatchlen(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Port of Redis's stringmatchlen (recursive, with skipLongerMatches)."""
    skip = [False]
    return _impl(pattern + b"\0", 0, len(pattern), string, 0, len(string), nocase, skip)


def _impl(p_, p, plen, s_, s, slen, nocase, skip) -> bool:  # noqa: C901 - mirrors C
    while plen and slen:
        c0 = p_[p]
        if c0 == 0x2A:  # '*'
            while plen and p_[p + 1] == 0x2A:
                p += 1
                plen -= 1
            if plen == 1:
                return True
            while slen:
                if _impl(p_, p + 1, plen - 1, s_, s, slen, nocase, skip):
                    return True
                if skip[0]:
                    return False
                s += 1
                slen -= 1
            skip[0] = True
            return False
        elif c0 == 0x3F:  # '?'
            s += 1
            slen -= 1
        elif c0 == 0x5B:  # '['
            p += 1
            plen -= 1
            negate = p_[p] == 0x5E
            if negate:
                p += 1
                plen -= 1
            match = False
            while True:
                if p_[p] == 0x5C and plen >= 2:
                    p += 1
                    plen -= 1
                    if p_[p] == s_[s]:
                        match = True
                elif p_[p] == 0x5D:
                    break
                elif plen == 0:
                    p -= 1
                    plen += 1
                    break
                elif plen >= 3 and p_[p + 1] == 0x2D:
                    start, end, c = _signed(p_[p]), _signed(p_[p + 2]), _signed(s_[s])
                    if start > end:
                        start, end = end, start
                    if nocase:
                        start, end, c = _lower(start), _lower(end), _lower(c)
                    p += 2
                    plen -= 2
                    if start <= c <= end:
                        match = True
                elif not nocase:
                    if p_[p] == s_[s]:
                        match = True
                elif _lower(p_[p]) == _lower(s_[s]):
                    match = True
                p += 1
                plen -= 1
            if negate:
                match = not match
            if not match:
                return False
            s += 1
            slen -= 1
        else:
            if c0 == 0x5C and plen >= 2:
                p += 1
                plen -= 1
            if not nocase:
                if p_[p] != s_[s]:
                    return False
            elif _lower(p_[p]) != _lower(s_[s]):
                return False
            s += 1
            slen -= 1
        p += 1
        plen -= 1
        if slen == 0:
            while p_[p] == 0x2A:
                p += 1
                plen -= 1
            break
    return plen == 0 and slen == 0


CASES = [
    # (pattern, string, expected) with nocase off; all checked with KEYS on Redis.
    (b"h?llo", b"hello", True), (b"h?llo", b"hllo", False),
    (b"h*llo", b"hllo", True), (b"h*llo", b"heeeello", True), (b"h*llo", b"hellox", False),
    (b"h[ae]llo", b"hallo", True), (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True), (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True), (b"h[a-b]llo", b"hcllo", False),
    (b"[b-a]", b"a", True), (b"[b-a]", b"b", True), (b"[b-a]", b"c", False),
    (b"\\*", b"*", True), (b"\\*", b"a", False), (b"\\?", b"?", True),
    (b"a\\", b"a\\", True), (b"a\\", b"a", False), (b"\\", b"\\", True),
    (b"Hello", b"hello", False),
    # Malformed classes.
    (b"[a", b"a", True), (b"[a", b"b", False), (b"[ab", b"b", True),
    (b"[", b"[", False), (b"[", b"a", False),
    (b"[^", b"x", True), (b"[^", b"xy", False),
    (b"[]", b"]", False), (b"[]a]", b"a]", False), (b"[^]", b"z", True),
    (b"[a-]", b"-", False), (b"[a-]", b"^", True), (b"[a-]", b"]", True), (b"[a-]", b"a", True),
    (b"[\\]]", b"]", True), (b"[\\]", b"]", True), (b"[\\", b"\\", True),
    (b"[\\^a]", b"^", True), (b"[*]", b"*", True), (b"[*]", b"a", False),
    # Signed chars: 0xff is -1, so [a-\xff] is [\xff..a].
    (b"[a-\xff]", b"\x00", True), (b"[a-\xff]", b"a", True), (b"[a-\xff]", b"\xff", True),
    (b"[a-\xff]", b"b", False), (b"[a-\xff]", b"\x80", False), (b"[\x80-\xff]", b"\x90", True),
    # Stars.
    (b"*", b"", False), (b"**", b"", False), (b"", b"", True), (b"", b"a", False),
    (b"a*", b"a", True), (b"*a*", b"a", True), (b"a*?", b"a", False),
    (b"*a*b", b"xaxxb", True), (b"*a*b", b"xbxxa", False),
    (b"a**b", b"ab", True), (b"a*\\*", b"ab*", True), (b"a*\\*", b"ab", False),
    (b"\x00*", b"\x00\x01", True), (b"*\n", b"a\n", True),
]

NOCASE_CASES = [
    # Checked with COMMAND LIST FILTERBY PATTERN (which matches without case).
    (b"G?T", b"get", True), (b"*ET", b"get", True),
    (b"[A-h]et", b"get", True), (b"[g-G]et", b"get", True),
    (b"[Z-h]et", b"get", False),   # ends swapped, *then* lowered: z..h is empty
    (b"[Z-a]et", b"get", False),
    (b"[\\G]et", b"get", False),   # escaped class members stay case-sensitive
    (b"[\\g]et", b"get", True), (b"[^G]et", b"get", False),
    (b"\\GET", b"get", True),
]


@pytest.mark.parametrize("pattern,string,expected", CASES)
def test_cases(pattern, string, expected):
    assert glob_match(pattern, string) is expected
    assert stringmatchlen(pattern, string) is expected


@pytest.mark.parametrize("pattern,string,expected", NOCASE_CASES)
def test_nocase_cases(pattern, string, expected):
    assert glob_match(pattern, string, nocase=True) is expected
    assert stringmatchlen(pattern, string, nocase=True) is expected


def test_nocase_folds_only_ascii():
    assert glob_match(b"\xc0", b"\xe0", nocase=True) is False
    assert glob_match(b"ABC", b"abc", nocase=True) is True
    assert glob_match(b"ABC", b"abc") is False


def test_matcher_function_agrees():
    match = glob_matcher(b"user:[0-9]*")
    assert [s for s in (b"user:1", b"user:x", b"user:42a", b"") if match(s)] == [b"user:1", b"user:42a"]
    empty = glob_matcher(b"")
    assert empty(b"") and not empty(b"a")
    assert glob_matcher(b"*")(b"") is False


def test_accepts_bytes_like():
    assert glob_match(bytearray(b"a*"), b"abc")
    assert glob_match(memoryview(b"a?c"), b"abc")


PATTERN_BYTES = st.sampled_from(list(b"abAZz*?[]^-\\") + [0x00, 0x80, 0xFF])
STRING_BYTES = st.sampled_from(list(b"abABz*?[]^-\\_`") + [0x00, 0x80, 0xFF])


@settings(max_examples=400, deadline=None)
@given(st.lists(PATTERN_BYTES, max_size=8).map(bytes),
       st.lists(STRING_BYTES, max_size=6).map(bytes), st.booleans())
def test_same_as_stringmatchlen(pattern, string, nocase):
    assert glob_match(pattern, string, nocase) is stringmatchlen(pattern, string, nocase)


def test_same_as_stringmatchlen_many_random_pairs():
    # Broader and cheaper than hypothesis: many strings per compiled pattern.
    rng = random.Random(2024)
    pattern_bytes = list(b"abAZz*?[]^-\\") + [0x00, 0x80, 0xFF]
    string_bytes = list(b"abABz*?[]^-\\_`") + [0x00, 0x80, 0xFF]
    for _ in range(1500):
        pattern = bytes(rng.choice(pattern_bytes) for _ in range(rng.randint(0, 8)))
        nocase = rng.random() < 0.5
        for _ in range(15):
            string = bytes(rng.choice(string_bytes) for _ in range(rng.randint(0, 6)))
            assert glob_match(pattern, string, nocase) is stringmatchlen(pattern, string, nocase), (
                pattern, string, nocase)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"*", b"?", b"a", b"b", b"[ab]"]), max_size=6).map(b"".join),
       st.text(alphabet="ab", max_size=30).map(str.encode))
def test_star_heavy_patterns_on_longer_strings(pattern, string):
    assert glob_match(pattern, string) is stringmatchlen(pattern, string)


def test_hostile_pattern_is_fast():
    # CVE-2022-36021: backtracking over many stars must not blow up.
    pattern = b"*a" * 30 + b"*b"
    string = b"a" * 5000
    started = time.monotonic()
    assert glob_match(pattern, string) is False
    assert glob_match(b"a*" * 200 + b"b", b"a" * 3000) is False
    assert time.monotonic() - started < 1.0
