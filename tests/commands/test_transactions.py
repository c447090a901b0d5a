"""MULTI / EXEC / DISCARD / WATCH / UNWATCH against Ferrous and real Redis 7.0."""
from __future__ import annotations

import threading
import time

import pytest
import redis
from resp_client import Error, RawClient, Simple, encode_command
from servers import KINDS, ServerProcess

OK, QUEUED = Simple("OK"), Simple("QUEUED")
EXECABORT = Error("EXECABORT Transaction discarded because of previous errors.")
DEADLINE = 5.0


@pytest.fixture
def other(server, protocol):
    """A second client on the same server, as redis-py."""
    client = redis.Redis(port=server.port, protocol=protocol, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def connect(server, protocol):
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


def test_exec_runs_the_queue_and_replies_with_an_array(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("SET", "a", "1") == QUEUED
    assert raw.call("INCR", "a") == QUEUED
    assert raw.call("GET", "a") == QUEUED
    assert raw.call("EXEC") == [OK, 2, b"2"]


def test_empty_transaction(raw):
    assert raw.call("MULTI") == OK
    assert raw.call("EXEC") == []


def test_runtime_error_is_an_element_and_nothing_rolls_back(raw):
    raw.call("SET", "s", "text")
    raw.call("MULTI")
    raw.call("INCR", "s")
    raw.call("SET", "t", "1")
    reply = raw.call("EXEC")
    assert reply == [Error("ERR value is not an integer or out of range"), OK]
    assert raw.call("GET", "t") == b"1"


@pytest.mark.parametrize("bad", [("NOSUCHCOMMAND",), ("GET",), ("SET", "k")])
def test_queueing_error_aborts_exec(raw, bad):
    raw.call("MULTI")
    assert raw.call("SET", "x", "1") == QUEUED
    assert isinstance(raw.call(*bad), Error)
    assert raw.call("EXEC") == EXECABORT
    assert raw.call("EXISTS", "x") == 0
    assert raw.call("EXEC") == Error("ERR EXEC without MULTI")   # the transaction is gone


def test_error_texts(raw):
    assert raw.call("EXEC") == Error("ERR EXEC without MULTI")
    assert raw.call("DISCARD") == Error("ERR DISCARD without MULTI")
    raw.call("MULTI")
    assert raw.call("MULTI") == Error("ERR MULTI calls can not be nested")
    assert raw.call("WATCH", "k") == Error("ERR WATCH inside MULTI is not allowed")
    # Neither error flags the transaction.
    assert raw.call("PING") == QUEUED
    assert raw.call("EXEC") == [Simple("PONG")]


def test_no_multi_command_is_rejected_and_aborts(raw):
    raw.call("MULTI")
    assert raw.call("SHUTDOWN") == Error("ERR Command not allowed inside a transaction")
    assert raw.call("EXEC") == EXECABORT


def test_discard_drops_the_queue(raw):
    raw.call("MULTI")
    raw.call("SET", "a", "1")
    assert raw.call("DISCARD") == OK
    assert raw.call("EXISTS", "a") == 0
    assert raw.call("PING") == Simple("PONG")


def test_select_inside_multi_applies_to_later_commands(raw):
    raw.call("MULTI")
    raw.call("SELECT", "1")
    raw.call("SET", "in1", "v")
    assert raw.call("EXEC") == [OK, OK]
    assert raw.call("GET", "in1") == b"v"
    raw.call("FLUSHDB")
    raw.call("SELECT", "0")
    assert raw.call("EXISTS", "in1") == 0


def test_watch_untouched_key_lets_exec_run(raw):
    raw.call("SET", "w", "1")
    assert raw.call("WATCH", "w") == OK
    raw.call("MULTI")
    raw.call("INCR", "w")
    assert raw.call("EXEC") == [2]


@pytest.mark.parametrize("change", [
    ("SET", "w", "2"), ("DEL", "w"), ("INCR", "w"), ("EXPIRE", "w", "100"),
    ("RENAME", "w", "w2"), ("APPEND", "w", "x"), ("FLUSHDB",), ("FLUSHALL",),
    ("SWAPDB", "0", "1"),
])
def test_another_clients_change_fails_exec(raw, other, change):
    raw.call("SET", "w", "1")
    raw.call("WATCH", "w")
    other.execute_command(*change)
    raw.call("MULTI")
    raw.call("SET", "x", "1")
    assert raw.call("EXEC") is None         # *-1 / _
    assert raw.call("EXISTS", "x") == 0
    raw.call("FLUSHALL")


def test_watching_a_missing_key_then_creating_it(raw, other):
    raw.call("WATCH", "nokey")
    other.lpush("nokey", "v")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") is None


def test_own_change_before_multi_fails_exec(raw):
    raw.call("WATCH", "w")
    raw.call("SET", "w", "1")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") is None


def test_change_in_another_db_does_not_fail(raw, other):
    raw.call("WATCH", "w")
    other.execute_command("SELECT", "1")
    other.set("w", "1")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == [Simple("PONG")]


def test_flushdb_of_an_empty_key_does_not_fail(raw, other):
    raw.call("WATCH", "missing")
    other.flushdb()
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == [Simple("PONG")]


def test_watched_key_that_expires_fails_exec(raw):
    # Long enough that WATCH surely comes first (a key already expired at WATCH time
    # does not fail EXEC in Redis 7.0).
    raw.call("SET", "w", "1", "PX", "150")
    raw.call("WATCH", "w")
    deadline = time.monotonic() + DEADLINE
    while raw.call("PTTL", "w") > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") is None


def test_unwatch_forgets_the_keys(raw, other):
    raw.call("WATCH", "w")
    assert raw.call("UNWATCH") == OK
    other.set("w", "1")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == [Simple("PONG")]


def test_exec_and_discard_unwatch(raw, other):
    raw.call("WATCH", "w")
    raw.call("MULTI")
    raw.call("DISCARD")
    other.set("w", "1")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == [Simple("PONG")]


def test_failed_exec_resets_the_watch(raw, other):
    raw.call("WATCH", "w")
    other.set("w", "1")
    raw.call("MULTI")
    assert raw.call("EXEC") is None
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == [Simple("PONG")]


def test_blocking_command_inside_multi_does_not_block(raw):
    raw.call("MULTI")
    raw.call("BLPOP", "nolist", "0")
    assert raw.call("EXEC") == [None]


def test_pipelined_transaction_byte_exact(server, protocol):
    client = RawClient(port=server.port)
    if protocol == 3:
        client.call("HELLO", "3")
    client.send_raw(b"MULTI\r\nSET p 1\r\nGET p\r\nEXEC\r\n")
    assert [client.read_reply() for _ in range(4)] == [OK, QUEUED, QUEUED, [OK, b"1"]]
    client.close()


def test_exec_is_atomic_against_other_clients(raw, connect, other):
    """Concurrent INCRs of two keys in transactions: every EXEC sees them equal."""
    other.mset({"c1": 0, "c2": 0})
    errors = []

    def worker():
        client = connect()
        for _ in range(100):
            client.call("MULTI")
            client.call("INCR", "c1")
            client.call("INCR", "c2")
            reply = client.call("EXEC")
            if reply[0] != reply[1]:
                errors.append(reply)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(100):
        raw.call("MULTI")
        raw.call("GET", "c1")
        raw.call("GET", "c2")
        first, second = raw.call("EXEC")
        assert first == second
    for thread in threads:
        thread.join()
    assert errors == []
    assert other.mget("c1", "c2") == [b"400", b"400"]


def test_reset_leaves_multi_and_unwatches(raw, other):
    raw.call("WATCH", "w")
    raw.call("MULTI")
    assert raw.call("RESET") == Simple("RESET")
    other.set("w", "1")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == [Simple("PONG")]


# -- keys already expired when WATCHed (Redis 7.0's watchedKey.expired) -------------------
# DEBUG SET-ACTIVE-EXPIRE 0 keeps a logically expired ("stale") key in the keyspace
# until something touches it: deleting it, flushing it or swapping it away is no
# logical change and must not fail EXEC.
@pytest.fixture(scope="module", params=KINDS)
def debug_server(request):
    proc = ServerProcess(request.param, ["--enable-debug-command", "yes"] if request.param == "ferrous" else [])
    yield proc
    proc.stop()


@pytest.fixture
def stale(debug_server):
    """A client on a server whose active expiry is off, and a maker of stale keys."""
    client = RawClient(port=debug_server.port)
    client.call("FLUSHALL")
    client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")

    def make(key: str, db: int = 0) -> None:
        client.call("SELECT", str(db))
        client.call("SET", key, "v", "PX", "1")
        expired_after = _server_ms(client) + 2
        deadline = time.monotonic() + DEADLINE
        while _server_ms(client) <= expired_after and time.monotonic() < deadline:
            pass    # the server's clock, not the key: looking at the key would expire it

    yield client, make
    client.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    client.call("FLUSHALL")
    client.close()


def _server_ms(client) -> int:
    seconds, micros = client.call("TIME")
    return int(seconds) * 1000 + int(micros) // 1000


def _exec_ping(client):
    client.call("MULTI")
    client.call("PING")
    return client.call("EXEC")


def test_watching_a_stale_key_does_not_fail_exec(stale):
    client, make = stale
    make("x")
    client.call("WATCH", "x")
    assert _exec_ping(client) == [Simple("PONG")]


def test_lazy_deletion_of_a_watched_stale_key_does_not_fail_exec(stale):
    client, make = stale
    make("x")
    client.call("WATCH", "x")
    assert client.call("EXISTS", "x") == 0      # deletes it
    assert _exec_ping(client) == [Simple("PONG")]


def test_overwriting_a_watched_stale_key_fails_exec(stale):
    client, make = stale
    make("x")
    client.call("WATCH", "x")
    client.call("SET", "x", "new")
    assert _exec_ping(client) is None


def test_flushdb_of_a_watched_stale_key_does_not_fail_exec(stale):
    client, make = stale
    make("x")
    client.call("WATCH", "x")
    client.call("FLUSHDB")
    assert _exec_ping(client) == [Simple("PONG")]


@pytest.mark.parametrize("stale_in, live_in, fails", [
    ((1,), (), False),      # a stale key replaced with no key
    ((0,), (), False),      # no key replaced with a stale key
    ((0, 1), (), False),    # a stale key replaced with another stale key
    ((1,), (0,), True),     # a stale key replaced with a live one
    ((), (1,), True),       # a live key replaced with no key
])
def test_swapdb_touches_watched_keys_only_when_they_logically_change(stale, stale_in, live_in, fails):
    client, make = stale
    for db in stale_in:
        make("x", db)
    for db in live_in:
        client.call("SELECT", str(db))
        client.call("SET", "x", "live")
    client.call("SELECT", "1")
    client.call("WATCH", "x")
    client.call("SWAPDB", "0", "1")
    assert _exec_ping(client) == (None if fails else [Simple("PONG")])


# -- EXEC refused by the server's state (rejectCommand -> execCommandAbort) ---------------
def test_exec_of_queued_writes_is_aborted_by_noreplicas(raw, other):
    raw.call("SET", "xx", "1")
    raw.call("MULTI")
    raw.call("INCR", "xx")
    other.config_set("min-replicas-to-write", 2)
    try:
        assert raw.call("EXEC") == Error(
            "EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write.")
    finally:
        other.config_set("min-replicas-to-write", 0)
    assert raw.call("GET", "xx") == b"1"
    assert raw.call("PING", "out") == b"out"      # no longer in MULTI


def test_exec_of_queued_reads_is_not_refused_by_noreplicas(raw, other):
    raw.call("SET", "xx", "1")
    raw.call("MULTI")
    raw.call("GET", "xx")
    other.config_set("min-replicas-to-write", 2)
    try:
        assert raw.call("EXEC") == [b"1"]
    finally:
        other.config_set("min-replicas-to-write", 0)


def test_exec_while_a_script_is_busy_is_aborted(server, raw, connect):
    busy = connect()
    raw.call("CONFIG", "SET", "busy-reply-threshold", "10")
    raw.call("MULTI")
    raw.call("SET", "xx", "1")
    busy.send_raw(encode_command("EVAL", "while true do end", "0"))
    watcher = connect()
    try:
        deadline = time.monotonic() + DEADLINE
        reply = watcher.call("PING")
        while isinstance(reply, Simple) and time.monotonic() < deadline:
            reply = watcher.call("PING")      # BUSY once the script is past the threshold
        assert raw.call("EXEC") == Error(
            "EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. "
            "You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    finally:
        watcher.call("SCRIPT", "KILL")
        assert isinstance(busy.read_reply(), Error)
        raw.call("CONFIG", "SET", "busy-reply-threshold", "5000")
    assert raw.call("EXISTS", "xx") == 0
    assert raw.call("PING", "out") == b"out"
