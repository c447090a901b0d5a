"""MIGRATE between Ferrous and real Redis in every direction.

The source is the session server (`r`/`raw`, both kinds); the target is a server of
this module's own, of each kind, so Ferrous->Redis, Redis->Ferrous, Ferrous->Ferrous
(and Redis->Redis, the reference) all run.
"""
from __future__ import annotations

import socket
import time

import pytest
import redis

from resp_client import Error, Simple
from servers import KINDS, ServerProcess, free_port

BUSYKEY = "ERR Target instance replied with error: BUSYKEY Target key name already exists."


@pytest.fixture(scope="module", params=KINDS, ids=[f"to-{k}" for k in KINDS])
def target_server(request):
    proc = ServerProcess(request.param)
    yield proc
    proc.stop()


@pytest.fixture
def target(target_server):
    client = redis.Redis(port=target_server.port)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="module", params=KINDS, ids=[f"to-{k}-auth" for k in KINDS])
def auth_target_server(request):
    proc = ServerProcess(request.param, args=["--requirepass", "s3cret"])
    yield proc
    proc.stop()


def _migrate(client, port: int, key, *options, db: int = 0, timeout: int = 5000):
    return client.call("MIGRATE", "127.0.0.1", str(port), key, str(db), str(timeout), *options)


def test_single_key_moves_with_its_ttl(raw, r, target, target_server):
    r.set("k", "v")
    r.pexpire("k", 100_000)
    r.rpush("list", "a", "b", "c")
    assert _migrate(raw, target_server.port, "k") == Simple("OK")
    assert _migrate(raw, target_server.port, "list") == Simple("OK")
    assert r.exists("k", "list") == 0
    assert target.get("k") == b"v"
    assert 90_000 < target.pttl("k") <= 100_000
    assert target.lrange("list", 0, -1) == [b"a", b"b", b"c"]


def test_keys_form_and_destination_db(raw, r, target, target_server):
    r.set("a", "1")
    r.hset("h", mapping={"f": "v"})
    reply = _migrate(raw, target_server.port, "", "KEYS", "a", "missing", "h", db=3)
    assert reply == Simple("OK")
    assert r.exists("a", "h") == 0
    db3 = redis.Redis(port=target_server.port, db=3)
    assert db3.get("a") == b"1" and db3.hgetall("h") == {b"f": b"v"}
    assert target.dbsize() == 0
    db3.flushdb()
    db3.close()


def test_copy_keeps_the_source(raw, r, target, target_server):
    r.sadd("s", "x", "y")
    assert _migrate(raw, target_server.port, "s", "COPY") == Simple("OK")
    assert r.smembers("s") == {b"x", b"y"}
    assert target.smembers("s") == {b"x", b"y"}


def test_busykey_and_replace(raw, r, target, target_server):
    r.set("k", "new")
    target.set("k", "old")
    assert _migrate(raw, target_server.port, "k") == Error(BUSYKEY)
    assert r.get("k") == b"new" and target.get("k") == b"old"
    assert _migrate(raw, target_server.port, "k", "REPLACE") == Simple("OK")
    assert r.exists("k") == 0 and target.get("k") == b"new"


def test_busykey_moves_the_other_keys(raw, r, target, target_server):
    r.mset({"a": "1", "b": "2"})
    target.set("a", "taken")
    assert _migrate(raw, target_server.port, "", "KEYS", "a", "b") == Error(BUSYKEY)
    assert r.get("a") == b"1" and r.exists("b") == 0
    assert target.get("b") == b"2"


def test_nokey(raw, target_server):
    assert _migrate(raw, target_server.port, "missing") == Simple("NOKEY")
    assert _migrate(raw, target_server.port, "", "KEYS", "x", "y") == Simple("NOKEY")
    assert _migrate(raw, target_server.port, "", "KEYS") == Simple("NOKEY")


def test_argument_errors(raw):
    port = "1"
    assert raw.call("MIGRATE", "127.0.0.1", port, "k", "0", "0", "KEYS", "a") == Error(
        "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
    assert raw.call("MIGRATE", "127.0.0.1", port, "k", "0", "x") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("MIGRATE", "127.0.0.1", port, "k", "x", "0") == Error(
        "ERR value is not an integer or out of range")
    for options in (["AUTH"], ["AUTH2", "u"], ["FOO"]):
        assert raw.call("MIGRATE", "127.0.0.1", port, "k", "0", "0", *options) == Error("ERR syntax error")
    assert raw.call("MIGRATE", "127.0.0.1", port, "k", "0") == Error(
        "ERR wrong number of arguments for 'migrate' command")


def test_getkeys(raw):
    base = ["COMMAND", "GETKEYS", "MIGRATE", "h", "1"]
    assert raw.call(*base, "k", "0", "0") == [b"k"]
    assert raw.call(*base, "", "0", "0", "AUTH", "keys", "COPY", "KEYS", "a", "b") == [b"a", b"b"]
    assert raw.call(*base, "", "0", "0", "AUTH2", "u", "p", "KEYS", "a") == [b"a"]


def _drop_cached_connections(port: int) -> None:
    """Both servers cache MIGRATE connections for 10 s (an authenticated one included):
    kill them on the target so the next MIGRATE starts afresh (after a silent retry)."""
    target = redis.Redis(port=port, password="s3cret")
    target.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    target.close()


def test_auth_to_a_protected_target(raw, r, auth_target_server):
    _drop_cached_connections(auth_target_server.port)
    r.set("k", "v")
    assert _migrate(raw, auth_target_server.port, "k") == Error(
        "ERR Target instance replied with error: NOAUTH Authentication required.")
    assert r.get("k") == b"v"
    assert _migrate(raw, auth_target_server.port, "k", "COPY", "AUTH", "s3cret") == Simple("OK")
    assert _migrate(raw, auth_target_server.port, "k", "REPLACE", "AUTH2", "default", "s3cret") == Simple("OK")
    assert r.exists("k") == 0
    target = redis.Redis(port=auth_target_server.port, password="s3cret")
    assert target.get("k") == b"v"
    target.flushall()
    target.close()


def test_connection_is_cached_and_reselects(raw, r, target, target_server):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert _migrate(raw, target_server.port, "a", db=1) == Simple("OK")
    connections = len(target.client_list())
    assert _migrate(raw, target_server.port, "b", db=2) == Simple("OK")
    assert _migrate(raw, target_server.port, "c", db=1) == Simple("OK")
    # The cached link was reused (it SELECTed again): no new connection on the target.
    assert len(target.client_list()) == connections
    for db, keys in ((1, ["a", "c"]), (2, ["b"])):
        client = redis.Redis(port=target_server.port, db=db)
        assert client.exists(*keys) == len(keys)
        client.flushdb()
        client.close()


def test_wrong_password_error_text(raw, r, auth_target_server):
    _drop_cached_connections(auth_target_server.port)
    r.set("k", "v")
    assert _migrate(raw, auth_target_server.port, "k", "AUTH", "wrong") == Error(
        "ERR Target instance replied with error: WRONGPASS invalid username-password pair "
        "or user is disabled.")
    assert r.get("k") == b"v"


def test_ioerr(raw, r):
    r.set("k", "v")
    closed = free_port()
    assert _migrate(raw, closed, "k", timeout=200) == Error(
        "IOERR error or timeout writing to target instance")
    assert _migrate(raw, -1, "k", timeout=200) == Error(
        "IOERR error or timeout connecting to the client")
    assert r.get("k") == b"v"


def test_ioerr_reading_from_a_silent_target(raw, r):
    # The target accepts the connection (backlog) but never replies: the read times out.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    try:
        r.set("k", "v")
        started = time.monotonic()
        assert _migrate(raw, silent.getsockname()[1], "k", timeout=300) == Error(
            "IOERR error or timeout reading to target instance")
        assert 0.25 < time.monotonic() - started < 5     # one attempt: timeouts are not retried
        assert r.get("k") == b"v"
    finally:
        silent.close()


@pytest.fixture(params=KINDS, ids=[f"from-{k}" for k in KINDS])
def fresh_source(request):
    """A source with an empty connection cache (the session server's is shared)."""
    proc = ServerProcess(request.param)
    client = redis.Redis(port=proc.port)
    yield client
    client.close()
    proc.stop()


def _cached_sockets(client) -> int:
    return client.info("stats")["migrate_cached_sockets"]


def test_info_counts_cached_migrate_connections(fresh_source, target, target_server):
    assert _cached_sockets(fresh_source) == 0
    fresh_source.mset({"a": "1", "b": "2"})
    fresh_source.migrate("127.0.0.1", target_server.port, "a", 0, 5000)
    assert _cached_sockets(fresh_source) == 1
    fresh_source.migrate("127.0.0.1", target_server.port, "b", 0, 5000)
    assert _cached_sockets(fresh_source) == 1


@pytest.mark.slow
def test_idle_migrate_connections_are_closed_after_ten_seconds(fresh_source, target, target_server):
    fresh_source.set("a", "1")
    fresh_source.migrate("127.0.0.1", target_server.port, "a", 0, 5000)
    assert _cached_sockets(fresh_source) == 1
    deadline = time.monotonic() + 20
    while _cached_sockets(fresh_source) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _cached_sockets(fresh_source) == 0
    assert time.monotonic() > deadline - 10          # not before the 10 s TTL
