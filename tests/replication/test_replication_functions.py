"""Function libraries over replication, against real Redis 7.0 both ways: the full
sync carries them in the RDB (FUNCTION2 records) and replaces the replica's own; the
stream carries FUNCTION LOAD/DELETE/FLUSH/RESTORE; FCALL sends its effects."""
from __future__ import annotations

import time

import pytest
import redis

from servers import ServerProcess, redis_available

pytestmark = pytest.mark.skipif(not redis_available(), reason="needs redis-server 7.0")

LIB_SET = ("#!lua name=libset\n"
           "redis.register_function('setit', function(keys, args) "
           "return redis.call('SET', keys[1], args[1]) end)\n"
           # The value comes from TIME: only effects replication gives the replica the same.
           "redis.register_function('stamp', function(keys) local t = redis.call('TIME') "
           "return redis.call('SET', keys[1], t[1] .. '.' .. t[2]) end)")
LIB_ECHO = ("#!lua name=libecho\n"
            "redis.register_function{function_name='echoit', callback=function(keys, args) "
            "return args[1] end, flags={'no-writes'}, description='echo'}")
LIB_OWN = ("#!lua name=replicaown\n"
           "redis.register_function('mine', function() return 1 end)")


def _wait(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except redis.RedisError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in time (last error: {last})")


def _start(kind):
    return ServerProcess(kind, ["--repl-diskless-sync-delay", "0"])


def _client(proc):
    return redis.Redis(port=proc.port, socket_timeout=10)


def _in_sync(primary, replica) -> bool:
    p = _client(primary).info("replication")
    r = _client(replica).info("replication")
    return (r.get("master_link_status") == "up"
            and r["slave_repl_offset"] == p["master_repl_offset"])


def _libraries(proc) -> dict:
    out = {}
    for entry in _client(proc).execute_command("FUNCTION", "LIST", "WITHCODE"):
        if not isinstance(entry, dict):
            entry = dict(zip(entry[::2], entry[1::2]))
        out[entry[b"library_name"]] = entry[b"library_code"]
    return out


def _same_libraries(primary, replica, names) -> None:
    _wait(lambda: _in_sync(primary, replica), what="offsets match")
    expected = _libraries(primary)
    assert set(expected) == set(names)
    assert _libraries(replica) == expected


@pytest.mark.parametrize("primary_kind,replica_kind", [("ferrous", "redis"), ("redis", "ferrous")])
def test_libraries_follow_the_primary(primary_kind, replica_kind):
    primary, replica = _start(primary_kind), _start(replica_kind)
    try:
        p = _client(primary)
        p.execute_command("FUNCTION", "LOAD", LIB_SET)
        p.fcall("setit", 1, "before", "sync")
        _client(replica).execute_command("FUNCTION", "LOAD", LIB_OWN)
        # The full sync: the primary's libraries replace the replica's own.
        _client(replica).replicaof("127.0.0.1", primary.port)
        _same_libraries(primary, replica, [b"libset"])
        assert _client(replica).get("before") == b"sync"
        # The stream: every FUNCTION subcommand that changes the libraries.
        p.execute_command("FUNCTION", "LOAD", LIB_ECHO)
        p.fcall("stamp", 1, "stamped")
        _same_libraries(primary, replica, [b"libset", b"libecho"])
        assert _client(replica).get("stamped") == p.get("stamped")
        assert _client(replica).fcall_ro("echoit", 0, "hi") == b"hi"
        p.execute_command("FUNCTION", "DELETE", "libecho")
        _same_libraries(primary, replica, [b"libset"])
        payload = p.execute_command("FUNCTION", "DUMP")
        p.execute_command("FUNCTION", "FLUSH")
        _same_libraries(primary, replica, [])
        p.execute_command("FUNCTION", "RESTORE", payload)
        p.execute_command("FUNCTION", "LOAD", "REPLACE", LIB_SET.replace("'setit'", "'setit2'"))
        _same_libraries(primary, replica, [b"libset"])
        p.fcall("setit2", 1, "after", "stream")
        _wait(lambda: _client(replica).get("after") == b"stream", what="FCALL's effect")
        # FLUSHALL keeps the libraries on both sides.
        p.flushall()
        _same_libraries(primary, replica, [b"libset"])
        assert _client(replica).dbsize() == 0
    finally:
        replica.stop()
        primary.stop()
