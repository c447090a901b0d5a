"""Blocking list commands with several clients, against Ferrous and real Redis 7.0.

One client blocks (in a thread, or through a raw socket), another writes; the tests
wait for "the client is blocked" by polling INFO blocked_clients with a deadline,
never by sleeping.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from resp_client import Error, RawClient, encode_command

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
DEADLINE = 5.0


@pytest.fixture
def connect(server, protocol):
    """Make more redis-py clients on the same server (closed after the test)."""
    made = []

    def make(db: int = 0):
        client = redis.Redis(port=server.port, protocol=protocol, db=db, socket_timeout=10)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def raw_connect(server, protocol):
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


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def blocked_clients(r) -> int:
    return r.info("clients")["blocked_clients"]


def wait_blocked(r, count: int) -> None:
    """Poll until exactly `count` clients are blocked."""
    deadline = time.monotonic() + DEADLINE
    while blocked_clients(r) != count:
        assert time.monotonic() < deadline, f"never reached {count} blocked clients"
        time.sleep(0.002)


def send(raw, *commands) -> None:
    """Write several commands in one go (a pipeline), without reading replies."""
    raw.send_raw(b"".join(encode_command(*command) for command in commands))


def null_array_line(raw) -> bytes:
    return raw._line()


# -- waking up --------------------------------------------------------------------------

def test_blpop_wakes_on_push(r, connect, pool):
    waiting = pool.submit(connect().blpop, ["k"], 0)
    wait_blocked(r, 1)
    assert r.rpush("k", "v") == 1
    assert list(waiting.result(DEADLINE)) == [b"k", b"v"]
    assert r.exists("k") == 0
    assert blocked_clients(r) == 0


def test_brpop_takes_the_tail(r, connect, pool):
    waiting = pool.submit(connect().brpop, ["k"], 5)
    wait_blocked(r, 1)
    r.rpush("k", "a", "b", "c")
    assert list(waiting.result(DEADLINE)) == [b"k", b"c"]
    assert r.lrange("k", 0, -1) == [b"a", b"b"]


def test_fifo_order_among_three_clients(r, connect, pool):
    results = []
    for n in range(3):
        results.append(pool.submit(connect().blpop, ["k"], 5))
        wait_blocked(r, n + 1)
    r.rpush("k", "first", "second", "third")
    assert [list(f.result(DEADLINE)) for f in results] == \
        [[b"k", b"first"], [b"k", b"second"], [b"k", b"third"]]
    assert r.exists("k") == 0


def test_one_element_serves_the_first_waiter_only(r, connect, pool):
    first = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 1)
    second = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 2)
    r.lpush("k", "x")
    assert list(first.result(DEADLINE)) == [b"k", b"x"]
    wait_blocked(r, 1)
    assert not second.done()
    r.lpush("k", "y")
    assert list(second.result(DEADLINE)) == [b"k", b"y"]


def test_lpush_of_several_values_serves_from_the_head(r, connect, pool):
    first = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 1)
    second = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 2)
    r.lpush("k", "a", "b", "c")
    assert list(first.result(DEADLINE)) == [b"k", b"c"]
    assert list(second.result(DEADLINE)) == [b"k", b"b"]
    assert r.lrange("k", 0, -1) == [b"a"]


def test_served_from_the_key_that_was_pushed(r, connect, pool):
    waiting = pool.submit(connect().blpop, ["k1", "k2", "k3"], 5)
    wait_blocked(r, 1)
    r.rpush("k2", "v")
    assert list(waiting.result(DEADLINE)) == [b"k2", b"v"]


def test_same_key_twice_is_one_wait(r, connect, pool):
    waiting = pool.submit(connect().blpop, ["k", "k"], 5)
    wait_blocked(r, 1)
    r.rpush("k", "a", "b")
    assert list(waiting.result(DEADLINE)) == [b"k", b"a"]
    assert r.lrange("k", 0, -1) == [b"b"]
    assert blocked_clients(r) == 0


def test_blmpop_wakes_with_count(r, connect, pool):
    waiting = pool.submit(connect().blmpop, 5, 2, "a", "b", direction="RIGHT", count=2)
    wait_blocked(r, 1)
    r.rpush("b", "1", "2", "3")
    assert list(waiting.result(DEADLINE)) == [b"b", [b"3", b"2"]]
    assert r.lrange("b", 0, -1) == [b"1"]


def test_brpoplpush_wakes(r, connect, pool):
    waiting = pool.submit(connect().brpoplpush, "src", "dst", 5)
    wait_blocked(r, 1)
    r.rpush("src", "a", "b")
    assert waiting.result(DEADLINE) == b"b"
    assert r.lrange("src", 0, -1) == [b"a"]
    assert r.lrange("dst", 0, -1) == [b"b"]


def test_blmove_same_key_rotation(r, connect, pool):
    waiting = pool.submit(connect().blmove, "k", "k", 5, "RIGHT", "LEFT")
    wait_blocked(r, 1)
    r.rpush("k", "a")
    assert waiting.result(DEADLINE) == b"a"
    assert r.lrange("k", 0, -1) == [b"a"]


def test_blmove_chain_wakes_the_next_client(r, connect, pool):
    mover = pool.submit(connect().blmove, "a", "b", 5, "LEFT", "RIGHT")
    wait_blocked(r, 1)
    popper = pool.submit(connect().blpop, ["b"], 5)
    wait_blocked(r, 2)
    r.rpush("a", "x")
    assert mover.result(DEADLINE) == b"x"
    assert list(popper.result(DEADLINE)) == [b"b", b"x"]
    assert r.exists("a", "b") == 0


def test_push_pipeline_serves_blocked_client_before_the_next_command(r, connect, pool, raw_connect):
    waiting = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 1)
    pusher = raw_connect()
    send(pusher, ("RPUSH", "k", "x"), ("LPOP", "k"))
    assert pusher.read_reply() == 1
    assert pusher.read_reply() is None          # the blocked client already took x
    assert list(waiting.result(DEADLINE)) == [b"k", b"x"]


def test_wrong_type_key_keeps_the_client_waiting(r, connect, pool):
    waiting = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 1)
    r.set("k", "string")
    assert blocked_clients(r) == 1
    r.delete("k")
    r.rpush("k", "v")
    assert list(waiting.result(DEADLINE)) == [b"k", b"v"]


def test_blmove_to_wrongtype_destination_fails_when_served(r, raw_connect):
    mover = raw_connect()
    send(mover, ("BLMOVE", "src", "dst", "LEFT", "LEFT", "5"))
    wait_blocked(r, 1)
    r.set("dst", "string")
    r.rpush("src", "x")
    assert mover.read_reply() == WRONGTYPE
    assert r.lrange("src", 0, -1) == [b"x"]
    assert blocked_clients(r) == 0


def test_databases_are_separate(r, connect, pool):
    waiting = pool.submit(connect(db=1).blpop, ["k"], 5)
    wait_blocked(r, 1)
    r.rpush("k", "db0")
    assert blocked_clients(r) == 1
    assert r.llen("k") == 1
    connect(db=1).rpush("k", "db1")
    assert list(waiting.result(DEADLINE)) == [b"k", b"db1"]
    assert r.lrange("k", 0, -1) == [b"db0"]


def test_blocked_client_shows_in_client_list(r, connect, pool):
    blocker = connect()
    blocker_id = blocker.client_id()
    waiting = pool.submit(blocker.blpop, ["k"], 5)
    wait_blocked(r, 1)
    line = [c for c in r.client_list() if int(c["id"]) == blocker_id][0]
    assert line["flags"] == "b"
    assert line["cmd"] == "blpop"
    r.rpush("k", "v")
    waiting.result(DEADLINE)
    line = [c for c in r.client_list() if int(c["id"]) == blocker_id][0]
    assert line["flags"] == "N"


# -- timeouts ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ("BLPOP", "k", "0.05"),
    ("BRPOP", "k1", "k2", "0.05"),
    ("BLMPOP", "0.05", "1", "k", "LEFT"),
    ("BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"),
    ("BRPOPLPUSH", "k", "d", "0.05"),
])
def test_timeout_replies_null_array(raw, protocol, command):
    started = time.monotonic()
    send(raw, command)
    line = null_array_line(raw)
    assert line == (b"_" if protocol == 3 else b"*-1")
    assert time.monotonic() - started >= 0.05
    assert raw.call("PING").text == "PONG"


def test_fractional_timeout_fires_and_client_carries_on(r, connect):
    blocker = connect()
    started = time.monotonic()
    assert blocker.blpop(["k"], 0.2) is None
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < DEADLINE
    assert blocked_clients(r) == 0
    assert blocker.rpush("k", "v") == 1


def test_timeout_then_pipelined_commands_run(raw):
    send(raw, ("BLPOP", "k", "0.05"), ("PING",), ("RPUSH", "k", "v"))
    assert raw.read_reply() is None
    assert raw.read_reply().text == "PONG"
    assert raw.read_reply() == 1


def test_zero_timeout_waits_until_served(r, connect, pool):
    waiting = pool.submit(connect().brpop, ["k"], 0)
    wait_blocked(r, 1)
    r.lpush("k", "late")
    assert list(waiting.result(DEADLINE)) == [b"k", b"late"]


# -- pipelines and connections --------------------------------------------------------------

def test_pipelined_commands_after_a_blocking_command_wait_for_it(r, raw):
    send(raw, ("PING",), ("BLPOP", "k", "5"), ("SET", "after", "1"), ("GET", "after"), ("ECHO", "end"))
    assert raw.read_reply().text == "PONG"      # replies before the blocking command go out
    wait_blocked(r, 1)
    assert r.exists("after") == 0               # later commands have not run
    r.rpush("k", "v")
    assert raw.read_reply() == [b"k", b"v"]
    assert raw.read_reply().text == "OK"
    assert raw.read_reply() == b"1"
    assert raw.read_reply() == b"end"


def test_commands_sent_while_blocked_run_after_it(r, raw):
    send(raw, ("BLPOP", "k", "5"))
    wait_blocked(r, 1)
    send(raw, ("RPUSH", "mine", "1"), ("LLEN", "mine"))
    send(raw, ("ECHO", "x"))
    r.rpush("k", "v")
    assert raw.read_reply() == [b"k", b"v"]
    assert raw.read_reply() == 1
    assert raw.read_reply() == 1
    assert raw.read_reply() == b"x"


def test_two_blocking_commands_in_one_pipeline(r, raw):
    send(raw, ("BLPOP", "a", "5"), ("BLPOP", "b", "5"), ("PING",))
    wait_blocked(r, 1)
    r.rpush("b", "1")             # the client is blocked on a only: b keeps its element
    assert blocked_clients(r) == 1
    r.rpush("a", "2")
    assert raw.read_reply() == [b"a", b"2"]
    assert raw.read_reply() == [b"b", b"1"]     # the second BLPOP finds b non-empty
    assert raw.read_reply().text == "PONG"


def test_disconnected_blocked_client_is_dropped(r, raw_connect):
    blocker = raw_connect()
    send(blocker, ("BLPOP", "k", "0"))
    wait_blocked(r, 1)
    blocker.close()
    wait_blocked(r, 0)
    assert r.rpush("k", "kept") == 1
    assert r.lrange("k", 0, -1) == [b"kept"]


def test_disconnect_keeps_fifo_for_the_others(r, raw_connect, connect, pool):
    gone = raw_connect()
    send(gone, ("BLPOP", "k", "0"))
    wait_blocked(r, 1)
    waiting = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 2)
    gone.close()
    wait_blocked(r, 1)
    r.rpush("k", "v")
    assert list(waiting.result(DEADLINE)) == [b"k", b"v"]


# -- many clients at once ---------------------------------------------------------------------

def test_concurrent_producers_and_blocked_consumers_lose_nothing(r, connect, pool):
    consumers, pops_each, producers = 6, 20, 3
    total = consumers * pops_each

    def consume(client):
        return [client.blpop(["q1", "q2"], 5)[1] for _ in range(pops_each)]

    def produce(client, start):
        for n in range(start, total, producers):
            client.rpush("q1" if n % 2 else "q2", n)

    with ThreadPoolExecutor(max_workers=consumers + producers) as crowd:
        eaten = [crowd.submit(consume, connect()) for _ in range(consumers)]
        made = [crowd.submit(produce, connect(), start) for start in range(producers)]
        for future in made:
            future.result(DEADLINE * 2)
        received = [value for future in eaten for value in future.result(DEADLINE * 2)]
    assert sorted(int(v) for v in received) == list(range(total))
    assert r.exists("q1", "q2") == 0
    assert blocked_clients(r) == 0


# -- the registry API other commands use (in-process, Ferrous only) ----------------------------

@pytest.fixture(scope="module")
def inproc():
    """A Ferrous server inside the test process, to call server/blocking.py directly."""
    from servers import free_port

    from ferrous.config import Config
    from ferrous.server.app import Server
    config = Config()
    config.apply_args(["--port", str(free_port()), "--bind", "127.0.0.1"])
    server = Server(config)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def inproc_client(inproc):
    made = []

    def make():
        client = redis.Redis(port=inproc.port, protocol=2, socket_timeout=10)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def wait_inproc_blocked(server, count: int) -> None:
    from ferrous.server import blocking
    deadline = time.monotonic() + DEADLINE
    while blocking.blocked_clients(server) != count:
        assert time.monotonic() < deadline
        time.sleep(0.002)


def test_unblock_sends_the_timeout_reply_or_an_error(inproc, inproc_client, pool):
    from ferrous.server import blocking
    from ferrous.server.context import Context
    ctx = Context(inproc)
    for error, expected in ((False, None), (True, "UNBLOCKED client unblocked via CLIENT UNBLOCK")):
        client = inproc_client()
        client_id = client.client_id()
        waiting = pool.submit(client.blpop, ["unblock-me"], 0)
        wait_inproc_blocked(inproc, 1)
        assert blocking.unblock(ctx, client_id, error) is True
        if expected is None:
            assert waiting.result(DEADLINE) is None
        else:
            with pytest.raises(redis.ResponseError, match=expected):
                waiting.result(DEADLINE)
        assert blocking.unblock(ctx, client_id, error) is False
        assert client.ping() is True
    assert ctx.error_stats.get("UNBLOCKED") == 1


def test_resume_with_a_reply_and_timeout_table(inproc, inproc_client, pool):
    from ferrous.server import blocking
    client = inproc_client()
    client_id = client.client_id()
    waiting = pool.submit(client.blpop, ["resume-me"], 30)
    wait_inproc_blocked(inproc, 1)
    assert blocking.clients_in_timeout_table(inproc) == 1
    assert blocking.resume(inproc, client_id, [b"any", b"reply"]) is True
    assert list(waiting.result(DEADLINE)) == [b"any", b"reply"]
    assert blocking.clients_in_timeout_table(inproc) == 0
    assert blocking.resume(inproc, 10 ** 9, None) is False


def test_unblock_all_errors_and_closes_blocked_clients(inproc, pool):
    from ferrous.server import blocking
    blocker = RawClient(port=inproc.port)
    try:
        send(blocker, ("BLPOP", "all-1", "0"), ("PING",))
        wait_inproc_blocked(inproc, 1)
        blocking.unblock_all(inproc)
        assert blocker.read_reply() == Error(
            "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")
        with pytest.raises((ConnectionError, OSError)):
            blocker.read_reply()                   # closed: the PING never ran
    finally:
        blocker.close()
    wait_inproc_blocked(inproc, 0)


def test_swapped_database_serves_waiters(inproc, inproc_client, pool):
    from ferrous.server import blocking
    from ferrous.server.context import Context
    from ferrous.storage.values.lists import ListValue
    waiting = pool.submit(inproc_client().blpop, ["swapped"], 5)
    wait_inproc_blocked(inproc, 1)
    ctx = Context(inproc)
    keyspace = inproc.keyspace
    keyspace.lock_all()
    try:
        keyspace.dbs[1].set(b"swapped", ListValue([b"from-db1"]))
        keyspace.swap(0, 1)                      # what SWAPDB 0 1 does, then:
        blocking.signal_db_keys_ready(ctx, 0)
        blocking.signal_db_keys_ready(ctx, 1)
    finally:
        keyspace.unlock_all()
    blocking.serve_ready_keys(ctx)
    assert list(waiting.result(DEADLINE)) == [b"swapped", b"from-db1"]
    keyspace.lock_all()
    keyspace.swap(0, 1)
    keyspace.unlock_all()


def test_parse_timeout():
    from ferrous.errors import CommandError
    from ferrous.server.blocking import parse_timeout
    assert parse_timeout(b"0") == 0
    assert parse_timeout(b"-0.0001") == 0                  # ceill(-0.1) is 0: forever
    assert 0 < parse_timeout(b"0.0001") - time.monotonic() <= 0.001
    assert parse_timeout(b"9223372036854775") == 0          # the deadline overflows: never fires
    assert 0 < parse_timeout(b"1500", seconds=False) - time.monotonic() <= 1.5
    with pytest.raises(CommandError, match="timeout is not an integer or out of range"):
        parse_timeout(b"1.5", seconds=False)
    with pytest.raises(CommandError, match="timeout is negative"):
        parse_timeout(b"-1", seconds=False)


# -- inside MULTI/EXEC ----------------------------------------------------------------------------

def test_blocking_commands_inside_multi_do_not_block(raw, protocol):
    raw.call("MULTI")
    for command in (("BLPOP", "k", "0"), ("BRPOPLPUSH", "k", "d", "0"), ("BLMOVE", "k", "d", "LEFT", "LEFT", "0"),
                    ("BLMPOP", "0", "1", "k", "LEFT"), ("BRPOP", "k", "0")):
        assert raw.call(*command).text == "QUEUED"
    raw.send_raw(encode_command("EXEC"))
    lines = [raw._line() for _ in range(6)]
    if protocol == 3:
        assert lines == [b"*5", b"_", b"_", b"_", b"_", b"_"]
    else:   # BLMOVE / BRPOPLPUSH answer a null bulk there, the pops a null array
        assert lines == [b"*5", b"*-1", b"$-1", b"$-1", b"*-1", b"*-1"]


def test_exec_serves_blocked_clients_after_the_whole_transaction(r, connect, pool):
    waiting = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 1)
    pipe = r.pipeline(transaction=True)
    pipe.rpush("k", "a", "b").lpop("k").llen("k")
    assert pipe.execute() == [2, b"a", 1]       # the blocked client did not jump in
    assert list(waiting.result(DEADLINE)) == [b"k", b"b"]
    assert r.exists("k") == 0


def test_exec_that_empties_the_key_leaves_the_client_blocked(r, connect, pool):
    waiting = pool.submit(connect().blpop, ["k"], 5)
    wait_blocked(r, 1)
    pipe = r.pipeline(transaction=True)
    pipe.rpush("k", "a").lpop("k")
    assert pipe.execute() == [1, b"a"]
    assert blocked_clients(r) == 1
    r.rpush("k", "later")
    assert list(waiting.result(DEADLINE)) == [b"k", b"later"]


def test_swapdb_serves_a_client_blocked_on_a_list_in_the_swapped_db(r, server):
    import threading
    import redis as redis_module
    other = redis_module.Redis(port=server.port, db=1)
    other.rpush("q", "item")
    result = {}

    def blocker():
        client = redis_module.Redis(port=server.port, db=0, socket_timeout=10)
        result["value"] = client.blpop("q", timeout=5)
        client.close()

    thread = threading.Thread(target=blocker)
    thread.start()
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and r.info("clients")["blocked_clients"] < 1:
        time.sleep(0.02)
    r.swapdb(0, 1)
    thread.join(10)
    assert result["value"] == (b"q", b"item")
    other.flushall()
    other.close()
