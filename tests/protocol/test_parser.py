"""The sans-IO request parser, fed bytes directly (no server)."""
import pytest
from hypothesis import given, settings, strategies as st

from ferrous.protocol import ProtocolError, RequestParser
from ferrous.protocol.parser import HiredisRequestParser, _hiredis_module

HIREDIS = _hiredis_module()
FACTORIES = [RequestParser] + ([lambda *a: HiredisRequestParser(*a, hiredis_module=HIREDIS)] if HIREDIS else [])
IDS = ["python"] + (["hiredis"] if HIREDIS else [])


@pytest.fixture(params=FACTORIES, ids=IDS)
def make(request):
    return request.param


def parse_all(make, data: bytes, chunks=None):
    parser = make()
    commands = []
    pieces = [data] if chunks is None else chunks
    for piece in pieces:
        parser.feed(piece)
        while True:
            cmd = parser.next_command()
            if cmd is None:
                break
            commands.append(cmd)
    return commands


def encode(*argvs):
    out = b""
    for argv in argvs:
        out += b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
    return out


REQUESTS = [
    [b"SET", b"key", b"value"],
    [b"GET", b""],
    [b"SET", b"bin\r\nary", bytes(range(256))],
    [b"PING"],
]


def test_multibulk_whole(make):
    assert parse_all(make, encode(*REQUESTS)) == REQUESTS


def test_multibulk_split_at_every_byte(make):
    data = encode(*REQUESTS) + b"PING\r\n" + b'SET "a b" \'c\'\r\n'
    expected = REQUESTS + [[b"PING"], [b"SET", b"a b", b"c"]]
    for cut in range(1, len(data)):
        assert parse_all(make, data, [data[:cut], data[cut:]]) == expected, cut


def test_byte_by_byte(make):
    data = encode(*REQUESTS)
    assert parse_all(make, data, [data[i:i + 1] for i in range(len(data))]) == REQUESTS


@pytest.mark.parametrize("line, expected", [
    (b"PING\r\n", [[b"PING"]]),
    (b"PING\n", [[b"PING"]]),
    (b"  set   a   b  \r\n", [[b"set", b"a", b"b"]]),
    (b'set "a\\x41\\n" b\r\n', [[b"set", b"aA\n", b"b"]]),
    (b"set 'it\\'s' x\r\n", [[b"set", b"it's", b"x"]]),
    (b"\r\n\r\nPING\r\n", [[b"PING"]]),
    (b'echo ""\r\n', [[b"echo", b""]]),
])
def test_inline(make, line, expected):
    assert parse_all(make, line) == expected


@pytest.mark.parametrize("data, message", [
    (b'set "abc\r\n', "Protocol error: unbalanced quotes in request"),
    (b'set "abc"x\r\n', "Protocol error: unbalanced quotes in request"),
    (b"*abc\r\n", "Protocol error: invalid multibulk length"),
    (b"*3000000000\r\n", "Protocol error: invalid multibulk length"),
    (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$600000000\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\nx3\r\n", "Protocol error: expected '$', got 'x'"),
    (b"*1\r\n*1\r\n$1\r\na\r\n", "Protocol error: expected '$', got '*'"),
    (b"*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
    (b"*1\r\n$03\r\nabc\r\n", "Protocol error: invalid bulk length"),
    (b"*01\r\n$4\r\nPING\r\n", "Protocol error: invalid multibulk length"),
    (b"*+1\r\n$4\r\nPING\r\n", "Protocol error: invalid multibulk length"),
    (b"*1\r\n$+4\r\nPING\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$ 4\r\nPING\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$-0\r\n\r\n", "Protocol error: invalid bulk length"),
    (b"x" * (64 * 1024 + 1), "Protocol error: too big inline request"),
    (b"*" + b"1" * (64 * 1024 + 1), "Protocol error: too big mbulk count string"),
    (b"*1\r\n$" + b"1" * (64 * 1024 + 1), "Protocol error: too big bulk count string"),
])
def test_protocol_errors(make, data, message):
    with pytest.raises(ProtocolError) as info:
        parse_all(make, data)
    assert info.value.message == message


def test_empty_multibulk_is_skipped(make):
    assert parse_all(make, b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n") == [[b"PING"]]


def test_commands_before_an_error_are_returned_first(make):
    parser = make()
    parser.feed(encode([b"PING"]) + b"*1\r\n$x\r\n")
    assert parser.next_command() == [b"PING"]
    with pytest.raises(ProtocolError):
        parser.next_command()


def test_unauthenticated_limits(make):
    parser = make()
    parser.auth_required = True
    parser.feed(b"*11\r\n")
    with pytest.raises(ProtocolError, match="unauthenticated multibulk length"):
        parser.next_command()
    parser = make()
    parser.auth_required = True
    parser.feed(b"*1\r\n$16385\r\n")
    with pytest.raises(ProtocolError, match="unauthenticated bulk length"):
        parser.next_command()


def test_max_bulk_len_is_configurable(make):
    parser = make(10)
    parser.feed(b"*1\r\n$11\r\n")
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        parser.next_command()


def test_large_bulk_in_small_pieces_is_not_rescanned(make):
    value = b"v" * 300_000
    data = encode([b"SET", b"k", value])
    parser = make()
    for i in range(0, len(data), 1000):
        parser.feed(data[i:i + 1000])
        cmd = parser.next_command()
        if cmd is not None:
            break
    assert cmd == [b"SET", b"k", value]
    assert parser.pending_bytes() == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=5), min_size=1, max_size=8),
       st.data())
def test_random_commands_random_splits(argvs, data):
    payload = encode(*argvs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=6)))
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(payload[last:cut])
        last = cut
    pieces.append(payload[last:])
    for make in FACTORIES:
        assert parse_all(make, payload, pieces) == argvs
