"""LOLWUT: the version banner, Schotter (VERSION 5) and the skyline (VERSION 6).

Redis draws with rand(), so random drawings are compared by shape; the parts of
Schotter that use no randomness (its first two rows of squares) must be identical
to Redis's byte for byte, which checks the ported float arithmetic."""
from __future__ import annotations

import random
import re

import pytest

from resp_client import Error, RawClient, Verbatim

BANNER = b"Redis ver. 7.0.15\n"
SCHOTTER_CREDIT = b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n"
SKYLINE_CREDIT = (b"\nDedicated to the 8 bit game developers of past and present.\n"
                  b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15\n")
CELL = re.compile(rb"\x1b\[0;(30;40|90;100|37;47|97;107)m \x1b\[0m")


def _text(reply, protocol):
    if protocol == 3:
        assert isinstance(reply, Verbatim) and reply.fmt == "txt"
        return reply.text
    return reply


@pytest.mark.parametrize("argv", [(), ("foo",), ("VERSION",), ("VERSION", "7"),
                                  ("VERSION", "-1"), ("VERSION", "59"), ("VERSION", "4"),
                                  ("VERSION", "49")])
def test_other_versions_print_the_banner(raw, protocol, argv):
    assert _text(raw.call("LOLWUT", *argv), protocol) == BANNER


def test_version_must_be_an_integer(raw):
    assert raw.call("LOLWUT", "VERSION", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("LOLWUT", "VERSION", "5", "x") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("LOLWUT", "VERSION", "6", "80", "x") == Error(
        "ERR value is not an integer or out of range")


@pytest.mark.parametrize("args", [
    ("1", "1", "1"), ("66", "8", "2"), ("10", "3", "1"), ("333", "200", "1"), ("0", "0", "0"),
    ("2000", "-5", "2"),
])
def test_schotter_is_braille_art_with_the_credit(raw, protocol, args):
    text = _text(raw.call("LOLWUT", "VERSION", "5", *args), protocol)
    if args == ("1", "1", "1"):
        assert text == "\u280b\n".encode() + SCHOTTER_CREDIT
    assert text.endswith(SCHOTTER_CREDIT)
    art = text[:-len(SCHOTTER_CREDIT)].decode()
    assert art and all(0x2800 <= ord(ch) <= 0x28FF for ch in art.replace("\n", ""))


@pytest.mark.ferrous_only
def test_schotter_without_randomness_matches_redis_byte_for_byte(ferrous, real_redis):
    # Rows 0 and 1 of squares are never jittered: 300 canvases of 1-2 rows exercise
    # the canvas size, square placement, rounding and Braille packing.
    rng = random.Random(7)
    ours, theirs = RawClient(port=ferrous.port), RawClient(port=real_redis.port)
    try:
        for _ in range(300):
            args = (str(rng.randint(1, 400)), str(rng.randint(1, 60)), str(rng.randint(1, 2)))
            assert ours.call("LOLWUT", "VERSION", "5", *args) == \
                theirs.call("LOLWUT", "VERSION", "5", *args), args
    finally:
        ours.close()
        theirs.close()


def test_schotter_defaults_to_66_columns(raw, protocol):
    text = _text(raw.call("LOLWUT", "VERSION", "5"), protocol)
    rows = [row for row in text[:-len(SCHOTTER_CREDIT)].decode().split("\n") if row]
    assert text.endswith(SCHOTTER_CREDIT)
    assert [len(row) for row in rows] == [66] * len(rows) and len(rows) > 20


@pytest.mark.parametrize("argv,cols,rows", [
    (("VERSION", "6"), 80, 20), (("VERSION", "6", "30", "7"), 30, 7),
    (("VERSION", "6", "0", "-3"), 1, 1), (("VERSION", "6", "40", "5", "extra"), 40, 5),
])
def test_skyline_has_the_requested_size(raw, protocol, argv, cols, rows):
    text = _text(raw.call("LOLWUT", *argv), protocol)
    assert text.endswith(SKYLINE_CREDIT)
    lines = text[:-len(SKYLINE_CREDIT)].split(b"\n")
    assert len(lines) == rows
    for line in lines:
        assert len(CELL.findall(line)) == cols and CELL.sub(b"", line) == b""


def test_lolwut_is_readonly_and_fast(raw):
    [info] = raw.call("COMMAND", "INFO", "LOLWUT")
    assert info[0] == b"lolwut" and info[1] == -1
