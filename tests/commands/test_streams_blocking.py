"""XREAD BLOCK / XREADGROUP BLOCK against Ferrous and real Redis 7.0, RESP2 and RESP3.

A raw client blocks and another client writes; the tests wait for "the client is
blocked" by polling INFO blocked_clients with a deadline, never by sleeping.
"""
from __future__ import annotations

import time

import pytest
from resp_client import Error, RawClient, RespMap, Simple, encode_command

DEADLINE = 5.0


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


def blocked_clients(raw) -> int:
    info = raw.call("INFO", "clients")
    text = info.text if hasattr(info, "text") else info
    for line in text.decode().splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients in INFO")


def wait_blocked(raw, count: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while blocked_clients(raw) != count:
        assert time.monotonic() < deadline, f"never reached {count} blocked clients"
        time.sleep(0.002)


def block(raw, waiter, *command) -> None:
    before = blocked_clients(raw)
    waiter.send_raw(encode_command(*command))
    wait_blocked(raw, before + 1)


def by_key(reply) -> dict:
    if isinstance(reply, RespMap):
        return dict(reply.items)
    return {key: entries for key, entries in reply}


def test_xread_block_dollar_is_woken_by_xadd(raw, raw_connect, protocol):
    raw.call("XADD", "s", "1-1", "old", "1")
    waiter = raw_connect()
    block(raw, waiter, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    raw.call("XADD", "s", "2-1", "new", "2")
    reply = waiter.read_reply()
    assert isinstance(reply, RespMap if protocol == 3 else list)
    assert by_key(reply) == {b"s": [[b"2-1", [b"new", b"2"]]]}
    assert blocked_clients(raw) == 0


def test_xread_block_on_several_streams_gets_the_ready_one(raw, raw_connect):
    waiter = raw_connect()
    block(raw, waiter, "XREAD", "BLOCK", "0", "STREAMS", "a", "b", "c", "$", "$", "0")
    raw.call("XADD", "b", "5-1", "x", "1")
    assert by_key(waiter.read_reply()) == {b"b": [[b"5-1", [b"x", b"1"]]]}


def test_xread_block_serves_every_reader(raw, raw_connect):
    raw.call("XADD", "s", "1-1", "a", "1")
    first, second = raw_connect(), raw_connect()
    block(raw, first, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    block(raw, second, "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "$")
    raw.call("MULTI")
    raw.call("XADD", "s", "2-1", "b", "2")
    raw.call("XADD", "s", "3-1", "c", "3")
    raw.call("EXEC")
    assert by_key(first.read_reply()) == {b"s": [[b"2-1", [b"b", b"2"]], [b"3-1", [b"c", b"3"]]]}
    assert by_key(second.read_reply()) == {b"s": [[b"2-1", [b"b", b"2"]]]}


def test_xread_block_times_out_with_a_null_array(raw):
    started = time.monotonic()
    assert raw.call("XREAD", "BLOCK", "50", "STREAMS", "s", "$") is None
    assert time.monotonic() - started >= 0.04


def test_xread_block_ignores_entries_not_newer(raw, raw_connect):
    raw.call("XADD", "s", "5-1", "a", "1")
    waiter = raw_connect()
    block(raw, waiter, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    raw.call("DEL", "s")
    raw.call("XADD", "s", "3-1", "a", "1")      # below the ID it waits after
    assert blocked_clients(raw) == 1
    raw.call("XADD", "s", "6-1", "a", "2")
    assert by_key(waiter.read_reply()) == {b"s": [[b"6-1", [b"a", b"2"]]]}


def test_xread_block_survives_a_deleted_key(raw, raw_connect):
    raw.call("XADD", "s", "1-1", "a", "1")
    waiter = raw_connect()
    block(raw, waiter, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    raw.call("DEL", "s")
    raw.call("SET", "s", "string")
    assert blocked_clients(raw) == 1
    raw.call("DEL", "s")
    raw.call("XADD", "s", "2-1", "a", "2")
    assert by_key(waiter.read_reply()) == {b"s": [[b"2-1", [b"a", b"2"]]]}


def test_xreadgroup_block_is_woken_and_fills_the_pel(raw, raw_connect):
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    waiter = raw_connect()
    block(raw, waiter, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
    assert raw.call("XINFO", "CONSUMERS", "s", "g") == []     # created when served, not when blocked
    raw.call("XADD", "s", "1-1", "job", "1")
    assert by_key(waiter.read_reply()) == {b"s": [[b"1-1", [b"job", b"1"]]]}
    pending = raw.call("XPENDING", "s", "g", "-", "+", "10")
    assert [(p[0], p[1], p[3]) for p in pending] == [(b"1-1", b"alice", 1)]


def test_xreadgroup_block_noack_and_count(raw, raw_connect):
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    waiter = raw_connect()
    block(raw, waiter, "XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "BLOCK", "0", "NOACK", "STREAMS", "s", ">")
    raw.call("MULTI")
    raw.call("XADD", "s", "1-1", "a", "1")
    raw.call("XADD", "s", "2-1", "a", "2")
    raw.call("EXEC")
    assert by_key(waiter.read_reply()) == {b"s": [[b"1-1", [b"a", b"1"]]]}
    assert raw.call("XPENDING", "s", "g")[0] == 0


def test_blocked_xreadgroup_fails_when_the_stream_is_deleted(raw, raw_connect):
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    reader, grouped = raw_connect(), raw_connect()
    block(raw, reader, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    block(raw, grouped, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    assert raw.call("DEL", "s") == 1
    assert grouped.read_reply() == Error("UNBLOCKED the stream key no longer exists")
    assert blocked_clients(raw) == 1      # the plain XREAD keeps waiting
    assert raw.call("CLIENT", "UNBLOCK", str(_client_id(raw, "xread"))) == 1
    assert reader.read_reply() is None


def _client_id(raw, command: str) -> int:
    listing = raw.call("CLIENT", "LIST")
    for line in getattr(listing, "text", listing).decode().splitlines():
        fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
        if fields.get("cmd") == command:
            return int(fields["id"])
    raise AssertionError(f"no client running {command}")


def test_blocked_xreadgroup_fails_when_the_group_is_destroyed(raw, raw_connect):
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    waiter = raw_connect()
    block(raw, waiter, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    assert raw.call("XGROUP", "DESTROY", "s", "g") == 1
    assert waiter.read_reply() == Error("NOGROUP the consumer group this client was blocked on no longer exists")


def _stats_line(raw, section: str, name: str) -> str:
    info = raw.call("INFO", section)
    for line in getattr(info, "text", info).decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError(f"no {name} in INFO {section}")


def test_blocked_command_ending_in_an_error_is_a_failed_call(raw, raw_connect):
    """updateStatsOnUnblock: NOGROUP counts as one call that failed, and one error."""
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    raw.call("CONFIG", "RESETSTAT")
    waiter = raw_connect()
    block(raw, waiter, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    raw.call("XGROUP", "DESTROY", "s", "g")
    assert isinstance(waiter.read_reply(), Error)
    stats = _stats_line(raw, "commandstats", "cmdstat_xreadgroup")
    assert stats.startswith("calls=1,") and stats.endswith(",rejected_calls=0,failed_calls=1")
    assert _stats_line(raw, "errorstats", "errorstat_NOGROUP") == "count=1"
    assert _stats_line(raw, "stats", "total_error_replies") == "1"


def test_client_unblock_counts_a_failed_call_either_way(raw, raw_connect):
    """CLIENT UNBLOCK, with its timeout reply or with ERROR, counts the blocked call
    as failed (Redis 7.0's updateStatsOnUnblock(target, 0, 0, 1)); a timeout doesn't."""
    raw.call("CONFIG", "RESETSTAT")
    waiter = raw_connect()
    waiter_id = str(waiter.call("CLIENT", "ID"))
    for mode in ("TIMEOUT", "ERROR"):
        block(raw, waiter, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        assert raw.call("CLIENT", "UNBLOCK", waiter_id, mode) == 1
        waiter.read_reply()
    assert waiter.call("XREAD", "BLOCK", "1", "STREAMS", "s", "$") is None
    stats = _stats_line(raw, "commandstats", "cmdstat_xread")
    assert stats.startswith("calls=3,") and stats.endswith(",rejected_calls=0,failed_calls=2")
    assert _stats_line(raw, "errorstats", "errorstat_UNBLOCKED") == "count=1"


def test_client_unblock_timeout_and_error(raw, raw_connect):
    waiter = raw_connect()
    waiter_id = waiter.call("CLIENT", "ID")
    block(raw, waiter, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert raw.call("CLIENT", "UNBLOCK", str(waiter_id)) == 1
    assert waiter.read_reply() is None
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    block(raw, waiter, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    assert raw.call("CLIENT", "UNBLOCK", str(waiter_id), "ERROR") == 1
    assert waiter.read_reply() == Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert waiter.call("PING") == Simple("PONG")


def test_block_inside_multi_does_not_block(raw):
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    raw.call("MULTI")
    raw.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    raw.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    assert raw.call("EXEC") == [None, None]


def test_pipelined_commands_after_a_blocked_xread_wait_for_it(raw, raw_connect):
    waiter = raw_connect()
    before = blocked_clients(raw)
    waiter.send_raw(encode_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$") + encode_command("XLEN", "s"))
    wait_blocked(raw, before + 1)
    raw.call("XADD", "s", "1-1", "a", "1")
    assert by_key(waiter.read_reply()) == {b"s": [[b"1-1", [b"a", b"1"]]]}
    assert waiter.read_reply() == 1


# -- the stream removed under a blocked XREADGROUP (signalDeletedKeyAsReady) -------------
KEY_GONE = Error("UNBLOCKED the stream key no longer exists")
GROUP_GONE = Error("NOGROUP the consumer group this client was blocked on no longer exists")

REMOVALS = {
    "set": ([("SET", "s", "x")], KEY_GONE),
    "rename_away": ([("RENAME", "s", "s2")], KEY_GONE),
    "rename_onto": ([("XADD", "o", "1-1", "a", "1"), ("RENAME", "o", "s")], GROUP_GONE),
    "copy_replace": ([("XADD", "o", "1-1", "a", "1"), ("COPY", "o", "s", "REPLACE")], GROUP_GONE),
    "move": ([("MOVE", "s", "9")], KEY_GONE),
    "flushdb": ([("FLUSHDB",)], KEY_GONE),
    "flushall": ([("FLUSHALL",)], KEY_GONE),
    "swapdb": ([("SWAPDB", "0", "9")], KEY_GONE),
    "swapdb_other_stream": ([("SELECT", "9"), ("XADD", "s", "1-1", "a", "1"), ("SWAPDB", "0", "9"),
                             ("SELECT", "0")], GROUP_GONE),
    "sort_store": ([("RPUSH", "l", "1"), ("SORT", "l", "STORE", "s")], KEY_GONE),
    "unlink": ([("UNLINK", "s")], KEY_GONE),
    "multi": ([("MULTI",), ("SET", "s", "x"), ("EXEC",)], KEY_GONE),
}


@pytest.mark.parametrize("case", sorted(REMOVALS))
def test_blocked_xreadgroup_fails_when_the_stream_is_replaced_or_removed(raw, raw_connect, case):
    commands, expected = REMOVALS[case]
    raw.call("SELECT", "0")
    raw.call("XADD", "s", "1-1", "a", "1")
    raw.call("XGROUP", "CREATE", "s", "g", "$")
    waiter = raw_connect()
    block(raw, waiter, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    for command in commands:
        raw.call(*command)
    assert waiter.read_reply() == expected
    assert blocked_clients(raw) == 0
    raw.call("SELECT", "9")
    raw.call("FLUSHDB")
    raw.call("SELECT", "0")


@pytest.mark.parametrize("timeout", ["0", "60000"])
def test_blocked_xreadgroup_fails_when_the_stream_expires(raw, raw_connect, timeout):
    """Active expiry deletes the key while nobody touches it (the waiter has no
    timeout, or one far away)."""
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    waiter = raw_connect()
    block(raw, waiter, "XREADGROUP", "GROUP", "g", "c", "BLOCK", timeout, "STREAMS", "s", ">")
    assert raw.call("PEXPIRE", "s", "30") == 1
    assert waiter.read_reply() == KEY_GONE


def test_removed_stream_leaves_a_plain_xread_waiting(raw, raw_connect):
    raw.call("XADD", "s", "1-1", "a", "1")
    reader = raw_connect()
    block(raw, reader, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    for command in (("SET", "s", "x"), ("DEL", "s"), ("SET", "s", "y"), ("FLUSHDB",)):
        raw.call(*command)
        assert blocked_clients(raw) == 1
    raw.call("XADD", "s", "5-1", "b", "2")
    assert by_key(reader.read_reply()) == {b"s": [[b"5-1", [b"b", b"2"]]]}


# -- BLOCK from scripts --------------------------------------------------------------------
def _script_error(body: str, spelled: str) -> Error:
    import hashlib
    sha = hashlib.sha1(body.encode()).hexdigest()
    return Error(f"ERR {spelled} command is not allowed with BLOCK option from scripts "
                 f"script: {sha}, on @user_script:1.")


@pytest.mark.parametrize("command", [
    "'xReAd','BLOCK','0','STREAMS','s','$'",
    "'XREAD','COUNT','1','BLOCK','100','STREAMS','s','0'",
    "'XREADGROUP','GROUP','g','c','BLOCK','0','STREAMS','s','>'",
])
def test_block_from_a_script_is_an_error(raw, command):
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    body = f"return redis.call({command})"
    spelled = command.split(",")[0].strip("'")
    assert raw.call("EVAL", body, "0") == _script_error(body, spelled)
    # pcall hands the error to the script without the script's location
    caught = raw.call("EVAL", f"return redis.pcall({command})", "0")
    assert caught == Error(f"ERR {spelled} command is not allowed with BLOCK option from scripts")
    assert blocked_clients(raw) == 0


def test_xread_without_block_works_in_a_script(raw):
    raw.call("XADD", "s", "1-1", "a", "1")
    reply = raw.call("EVAL", "return redis.call('XREAD','STREAMS','s','0')", "0")
    assert reply == [[b"s", [[b"1-1", [b"a", b"1"]]]]]
