"""BZPOPMIN / BZPOPMAX / BZMPOP and CLIENT UNBLOCK, against Ferrous and real Redis 7.0.

A raw client blocks and another client writes; the tests wait for "the client is
blocked" by polling INFO blocked_clients with a deadline, never by sleeping.
"""
from __future__ import annotations

import time

import pytest
from resp_client import Error, RawClient, encode_command

DEADLINE = 5.0
WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
UNBLOCKED = Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")


@pytest.fixture
def raw_connect(server, protocol):
    """More raw clients on the same server (closed after the test)."""
    made = []

    def make():
        client = RawClient(port=server.port)
        if protocol == 3:
            client.call("HELLO", "3")
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def blocked_clients(r) -> int:
    return r.info("clients")["blocked_clients"]


def wait_blocked(r, count: int) -> None:
    """Poll until exactly `count` clients are blocked."""
    deadline = time.monotonic() + DEADLINE
    while blocked_clients(r) != count:
        assert time.monotonic() < deadline, f"never reached {count} blocked clients"
        time.sleep(0.002)


def block(r, raw, *command) -> None:
    """Send a blocking command on raw and wait until the server has parked it."""
    before = blocked_clients(r)
    raw.send_raw(encode_command(*command))
    wait_blocked(r, before + 1)


def score(protocol, text: bytes):
    """A score as RawClient reads it: a bulk string in RESP2, a double in RESP3."""
    return float(text) if protocol == 3 else text


def null_array(protocol) -> bytes:
    return b"_" if protocol == 3 else b"*-1"


# -- served at once -------------------------------------------------------------------------

def test_bzpopmin_bzpopmax_pop_at_once(r, raw, protocol):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert raw.call("BZPOPMIN", "missing", "z", "0") == [b"z", b"a", score(protocol, b"1")]
    assert raw.call("BZPOPMAX", "z", "0") == [b"z", b"c", score(protocol, b"3")]
    assert raw.call("BZPOPMAX", "z", "0") == [b"z", b"b", score(protocol, b"2")]
    assert r.exists("z") == 0


def test_bzmpop_shapes_at_once(r, raw, protocol):
    r.zadd("b", {"x": 1, "y": 2, "z": 3})
    assert raw.call("BZMPOP", "0", "2", "a", "b", "MIN") == [b"b", [[b"x", score(protocol, b"1")]]]
    assert raw.call("BZMPOP", "0", "2", "a", "b", "max", "count", "5") == \
        [b"b", [[b"z", score(protocol, b"3")], [b"y", score(protocol, b"2")]]]
    assert r.exists("b") == 0


def test_argument_errors(r, raw):
    r.set("s", "v")
    assert raw.call("BZPOPMIN", "s", "0") == WRONGTYPE
    assert raw.call("BZMPOP", "0", "1", "s", "MIN") == WRONGTYPE
    assert raw.call("BZPOPMIN", "z", "-1") == Error("ERR timeout is negative")
    assert raw.call("BZPOPMAX", "z", "x") == Error("ERR timeout is not a float or out of range")
    # BZMPOP checks its options before its timeout
    assert raw.call("BZMPOP", "x", "1", "z", "foo") == Error("ERR syntax error")
    assert raw.call("BZMPOP", "x", "1", "z", "MIN") == Error("ERR timeout is not a float or out of range")
    assert raw.call("BZMPOP", "0", "0", "z", "MIN") == Error("ERR numkeys should be greater than 0")
    assert raw.call("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0") == Error("ERR count should be greater than 0")
    assert raw.call("BZMPOP", "0", "1", "z") == Error("ERR wrong number of arguments for 'bzmpop' command")


# -- waking up ----------------------------------------------------------------------------

def test_bzpopmin_wakes_on_zadd(r, raw_connect, protocol):
    blocker = raw_connect()
    block(r, blocker, "BZPOPMIN", "z1", "z2", "0")
    assert r.zadd("z2", {"b": 2, "a": 1}) == 2
    assert blocker.read_reply() == [b"z2", b"a", score(protocol, b"1")]
    assert r.zrange("z2", 0, -1) == [b"b"]
    assert blocked_clients(r) == 0


def test_bzpopmax_wakes_on_zincrby(r, raw_connect, protocol):
    blocker = raw_connect()
    block(r, blocker, "BZPOPMAX", "z", "5")
    r.zincrby("z", 2.5, "m")
    assert blocker.read_reply() == [b"z", b"m", score(protocol, b"2.5")]
    assert r.exists("z") == 0


def test_bzpopmin_wakes_on_zunionstore(r, raw_connect, protocol):
    r.zadd("src", {"a": 1, "b": 2})
    blocker = raw_connect()
    block(r, blocker, "BZPOPMIN", "dst", "0")
    assert r.zunionstore("dst", ["src"]) == 2
    assert blocker.read_reply() == [b"dst", b"a", score(protocol, b"1")]


def test_bzpopmin_fifo_among_clients(r, raw_connect, protocol):
    first, second = raw_connect(), raw_connect()
    block(r, first, "BZPOPMIN", "z", "0")
    block(r, second, "BZPOPMIN", "z", "0")
    r.zadd("z", {"a": 1, "b": 2})
    assert first.read_reply() == [b"z", b"a", score(protocol, b"1")]
    assert second.read_reply() == [b"z", b"b", score(protocol, b"2")]
    assert r.exists("z") == 0


def test_bzmpop_wakes_with_count(r, raw_connect, protocol):
    blocker = raw_connect()
    block(r, blocker, "BZMPOP", "0", "2", "z1", "z2", "MAX", "COUNT", "2")
    r.zadd("z2", {"a": 1, "b": 2, "c": 3})
    assert blocker.read_reply() == [b"z2", [[b"c", score(protocol, b"3")], [b"b", score(protocol, b"2")]]]
    assert r.zrange("z2", 0, -1) == [b"a"]


def test_other_type_keeps_the_client_waiting(r, raw_connect, protocol):
    blocker = raw_connect()
    block(r, blocker, "BZPOPMIN", "k", "0")
    r.rpush("k", "x")       # a list on the key does not serve a zset waiter
    assert blocked_clients(r) == 1
    r.delete("k")
    r.zadd("k", {"m": 7})
    assert blocker.read_reply() == [b"k", b"m", score(protocol, b"7")]


# -- timeouts and MULTI ---------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ("BZPOPMIN", "z", "0.05"),
    ("BZPOPMAX", "z1", "z2", "0.05"),
    ("BZMPOP", "0.05", "1", "z", "MIN"),
])
def test_timeout_replies_null_array(raw, protocol, command):
    started = time.monotonic()
    raw.send_raw(encode_command(*command))
    assert raw._line() == null_array(protocol)
    assert time.monotonic() - started >= 0.05
    assert raw.call("PING").text == "PONG"


def test_inside_multi_they_do_not_block(raw, protocol):
    raw.call("MULTI")
    for command in (("BZPOPMIN", "z", "0"), ("BZPOPMAX", "z", "0"), ("BZMPOP", "0", "1", "z", "MIN")):
        assert raw.call(*command).text == "QUEUED"
    raw.send_raw(encode_command("EXEC"))
    assert [raw._line() for _ in range(4)] == [b"*3"] + [null_array(protocol)] * 3


# -- CLIENT UNBLOCK -------------------------------------------------------------------------

@pytest.mark.parametrize("command", [("BLPOP", "k", "0"), ("BZPOPMIN", "k", "0")])
def test_client_unblock_timeout(r, raw_connect, protocol, command):
    blocker = raw_connect()
    client_id = blocker.call("CLIENT", "ID")
    block(r, blocker, *command)
    assert r.execute_command("CLIENT", "UNBLOCK", client_id, "TIMEOUT") == 1
    assert blocker._line() == null_array(protocol)
    assert blocked_clients(r) == 0
    assert r.execute_command("CLIENT", "UNBLOCK", client_id) == 0
    assert blocker.call("PING").text == "PONG"


@pytest.mark.parametrize("command", [("BLPOP", "k", "0"), ("BZPOPMIN", "k", "0")])
def test_client_unblock_error(r, raw_connect, command):
    blocker = raw_connect()
    client_id = blocker.call("CLIENT", "ID")
    block(r, blocker, *command)
    assert r.execute_command("CLIENT", "UNBLOCK", client_id, "error") == 1
    assert blocker.read_reply() == UNBLOCKED
    assert blocked_clients(r) == 0
    assert r.execute_command("CLIENT", "UNBLOCK", client_id, "ERROR") == 0
    assert blocker.call("PING").text == "PONG"


def test_client_unblock_default_is_timeout(r, raw_connect, protocol):
    blocker = raw_connect()
    client_id = blocker.call("CLIENT", "ID")
    block(r, blocker, "BZMPOP", "0", "1", "z", "MIN")
    assert r.execute_command("CLIENT", "UNBLOCK", client_id) == 1
    assert blocker._line() == null_array(protocol)


def test_client_unblock_errors(raw):
    my_id = raw.call("CLIENT", "ID")
    assert raw.call("CLIENT", "UNBLOCK", my_id) == 0               # not blocked
    assert raw.call("CLIENT", "UNBLOCK", "999999", "TIMEOUT") == 0  # no such client
    assert raw.call("CLIENT", "UNBLOCK", "abc", "foo") == \
        Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    assert raw.call("CLIENT", "UNBLOCK", "abc") == Error("ERR value is not an integer or out of range")
    assert raw.call("CLIENT", "UnBlock", "1", "error", "x") == \
        Error("ERR unknown subcommand or wrong number of arguments for 'UnBlock'. Try CLIENT HELP.")
    assert raw.call("CLIENT", "UNBLOCK") == \
        Error("ERR wrong number of arguments for 'client|unblock' command")
