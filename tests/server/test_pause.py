"""CLIENT PAUSE WRITE and what it holds, against Ferrous and Redis 7.0: besides writes,
the commands flagged may_replicate (PFCOUNT, PUBLISH, SPUBLISH, EVAL, EVALSHA,
FCALL), with a script's own shebang flags deciding for EVAL*/FCALL*
(getCommandFlags → scriptFlagsToCmdFlags), as Redis's unit/pause.tcl checks."""
from __future__ import annotations

import re
import time

import pytest

from resp_client import Error, RawClient, Simple, encode_command

NO_WRITES_FUNCTION = (
    "#!lua name=pauselib\n"
    "redis.register_function{function_name='ro_fn', callback=function() return 'ro' end,"
    " flags={'no-writes'}}\n"
    "redis.register_function('rw_fn', function() return 'rw' end)\n"
)


def _poll(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _blocked_clients(r) -> int:
    return r.info("clients")["blocked_clients"]


def _pause(r) -> None:
    r.execute_command("CLIENT", "PAUSE", 60000, "WRITE")


@pytest.fixture
def paused(server, r):
    """More connections for the test; any pause is lifted at the end whatever happens
    (a test pauses after its setup, which the pause would hold too)."""
    clients = []

    def client() -> RawClient:
        conn = RawClient(port=server.port)
        clients.append(conn)
        return conn

    try:
        yield client
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
        for conn in clients:
            conn.close()


def _held(r, paused, commands: list) -> list:
    """Send each command on its own connection; all must be postponed (counted in
    blocked_clients). Returns the connections, to read the replies after UNPAUSE."""
    conns = []
    for command in commands:
        conn = paused()
        conn.send_raw(encode_command(*command))
        conns.append(conn)
        assert _poll(lambda: _blocked_clients(r) == len(conns)), command
    return conns


@pytest.mark.parametrize("command,reply", [
    (("PFCOUNT", "hll"), 2),
    (("PUBLISH", "ch", "msg"), 0),
    (("SPUBLISH", "ch", "msg"), 0),
    (("EVAL", "return 1", "0"), 1),
    (("EVAL", "#!lua\nreturn 1", "0"), 1),
])
def test_may_replicate_commands_wait_for_a_write_pause(server, r, paused, command, reply):
    r.pfadd("hll", "a", "b")
    _pause(r)
    conn, = _held(r, paused, [command])
    assert r.get("hll").startswith(b"HYLL")     # reads go on
    r.execute_command("CLIENT", "UNPAUSE")
    assert conn.read_reply() == reply
    assert _poll(lambda: _blocked_clients(r) == 0)


def test_scripts_declaring_no_writes_run_through_a_write_pause(server, r, paused):
    r.set("x", "y")
    r.execute_command("FUNCTION", "LOAD", "REPLACE", NO_WRITES_FUNCTION)
    sha = r.script_load("#!lua flags=no-writes\nreturn 2")
    _pause(r)
    conn = paused()
    assert conn.call("EVAL", "#!lua flags=no-writes\nreturn 'unique'", "0") == b"unique"
    assert conn.call("EVAL", "#!lua flags=no-writes\nreturn 'unique'", "0") == b"unique"   # cached
    assert conn.call("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "x") == b"y"
    assert conn.call("EVALSHA", sha, "0") == 2
    assert conn.call("EVALSHA", sha.upper(), "0") == 2
    assert conn.call("FCALL", "ro_fn", "0") == b"ro"
    assert conn.call("FCALL_RO", "ro_fn", "0") == b"ro"
    assert _blocked_clients(r) == 0


def test_scripts_that_may_write_wait_for_a_write_pause(server, r, paused):
    r.execute_command("FUNCTION", "LOAD", "REPLACE", NO_WRITES_FUNCTION)
    sha = r.script_load("return 3")
    flagless_sha = r.script_load("#!lua\nreturn 4")
    _pause(r)
    conns = _held(r, paused, [
        ("EVALSHA", sha, "0"),
        ("EVALSHA", flagless_sha, "0"),
        ("FCALL", "rw_fn", "0"),
        # A shebang without no-writes makes even EVAL_RO a write: held, then refused.
        ("EVAL_RO", "#!lua\nreturn 5", "0"),
    ])
    r.execute_command("CLIENT", "UNPAUSE")
    assert [conn.read_reply() for conn in conns] == [
        3, 4, b"rw", Error("ERR Can not execute a script with write flag using *_ro command.")]


def test_exec_waits_only_when_a_queued_script_may_write(server, r, paused):
    _pause(r)
    reader = paused()
    assert reader.call("MULTI") == Simple("OK")
    assert reader.call("EVAL", "#!lua flags=no-writes\nreturn 12", "0") == Simple("QUEUED")
    assert reader.call("EVAL", "#!lua flags=no-writes\nreturn 13", "0") == Simple("QUEUED")
    assert reader.call("EXEC") == [12, 13]
    r.execute_command("CLIENT", "UNPAUSE")

    writer = paused()
    assert writer.call("MULTI") == Simple("OK")
    assert writer.call("EVAL", "#!lua\nreturn 14", "0") == Simple("QUEUED")
    _pause(r)
    writer.send_raw(encode_command("EXEC"))
    assert _poll(lambda: _blocked_clients(r) == 1)
    r.execute_command("CLIENT", "UNPAUSE")
    assert writer.read_reply() == [14]


@pytest.mark.parametrize("script", [
    "return redis.call('publish', 'ch', 'msg')",
    "return redis.call('pfcount', 'hll')",
])
def test_read_only_scripts_refuse_may_replicate_commands(raw, script):
    refused = r"ERR Write commands are not allowed from read-only scripts\. script: \w{40}, on @user_script:%d\."
    reply = raw.call("EVAL_RO", script, "0")
    assert isinstance(reply, Error) and re.fullmatch(refused % 1, reply.text)
    reply = raw.call("EVAL", "#!lua flags=no-writes\n" + script, "0")
    assert isinstance(reply, Error) and re.fullmatch(refused % 2, reply.text)
    assert raw.call("EVAL", script, "0") == 0


def test_monitor_client_cannot_publish_or_count(server):
    conn = RawClient(port=server.port)
    try:
        conn.call("MONITOR")
        for command in (("PUBLISH", "ch", "m"), ("PFCOUNT", "h"), ("SET", "k", "v")):
            assert conn.call(*command) == Error("ERR Replica can't interact with the keyspace")
    finally:
        conn.close()
