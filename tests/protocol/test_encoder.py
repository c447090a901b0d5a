"""Reply encoding in RESP2 and RESP3 (no server)."""
import pytest

from ferrous.protocol import (
    NULL_ARRAY, BigNumber, ErrorReply, Push, Raw, RespSet, Simple, Verbatim, encode,
)

CASES = [
    ("OK", b"+OK\r\n", b"+OK\r\n"),
    (Simple("PONG"), b"+PONG\r\n", b"+PONG\r\n"),
    (b"hi", b"$2\r\nhi\r\n", b"$2\r\nhi\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (42, b":42\r\n", b":42\r\n"),
    (-5, b":-5\r\n", b":-5\r\n"),
    (2**63 - 1, b":9223372036854775807\r\n", b":9223372036854775807\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (1.1, b"$18\r\n1.1000000000000001\r\n", b",1.1000000000000001\r\n"),
    (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
    (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
    ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ({b"k": b"v"}, b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n", b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n"),
    (RespSet([b"x", b"y"]), b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n", b"~2\r\n$1\r\nx\r\n$1\r\ny\r\n"),
    (Push([b"message", b"c", b"m"]), b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
     b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"),
    (Verbatim(b"hello"), b"$5\r\nhello\r\n", b"=9\r\ntxt:hello\r\n"),
    (BigNumber("123456789012345678901234567890"), b"$30\r\n123456789012345678901234567890\r\n",
     b"(123456789012345678901234567890\r\n"),
    (ErrorReply("ERR x\ny"), b"-ERR x y\r\n", b"-ERR x y\r\n"),
    (Raw(b"+RAW\r\n"), b"+RAW\r\n", b"+RAW\r\n"),
]


@pytest.mark.parametrize("value, resp2, resp3", CASES)
def test_encode(value, resp2, resp3):
    assert encode(value, 2) == resp2
    assert encode(value, 3) == resp3


def test_large_bulk_header():
    assert encode(b"x" * 2000, 2).startswith(b"$2000\r\n")
