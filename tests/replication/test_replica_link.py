"""The replica's link as Redis's own replication tests observe it: the handshake
state while the primary holds a diskless sync back and the timeout during it, the
stream's commands in INFO commandstats, a writable replica expiring its own keys,
errors from the stream (== CRITICAL ==, propagation-error-behavior panic), and the
master client in CLIENT LIST / CLIENT KILL. Each test runs with a Ferrous pair and
a real Redis pair."""
from __future__ import annotations

import threading
import time

import pytest
import redis

from servers import KINDS, ServerProcess, wait_until as _wait


@pytest.fixture(params=KINDS)
def pair(request):
    kind = request.param
    primary = ServerProcess(kind, ["--save", "", "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"])
    replica = ServerProcess(kind, ["--save", ""])
    yield primary, replica
    replica.stop()
    primary.stop()


def _client(proc):
    return redis.Redis(port=proc.port, socket_timeout=20)


def test_replica_waits_in_handshake_then_times_out(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    p.config_set("repl-diskless-sync", "yes")
    p.config_set("repl-diskless-sync-delay", "1000")    # the full sync never starts
    r.config_set("repl-timeout", "1")
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.role()[3] == b"handshake", what="handshake state")
    assert r.role() == [b"slave", b"127.0.0.1", primary.port, b"handshake", -1]
    assert r.info("replication")["master_sync_in_progress"] == 0
    # The primary's newlines keep the link alive while it waits ...
    time.sleep(2.5)
    assert "Timeout connecting to the MASTER" not in replica.read_log()
    # ... until the primary is busy and sends none: the replica gives up on it.
    sleeper = threading.Thread(target=lambda: _client(primary).execute_command("DEBUG", "SLEEP", 3))
    sleeper.start()
    try:
        _wait(lambda: "Timeout connecting to the MASTER..." in replica.read_log(), what="timeout logged")
    finally:
        sleeper.join()


def test_replicated_commands_counted_in_replica_commandstats(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    r.config_resetstat()
    p.set("k", "a")
    p.getset("k", "b")      # propagated as SET
    p.set("k", "c", get=True)
    _wait(lambda: r.get("k") == b"c", what="writes replicated")
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["calls"] == 3
    assert "cmdstat_getset" not in stats


def test_writable_replica_expires_its_own_keys_only(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    p.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)     # the primary sends no DEL
    p.set("from-rdb", "v", px=300)          # reaches the replica in the full sync's RDB
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    p.set("from-primary", "v", px=50)       # reaches it in the stream
    _wait(lambda: r.dbsize() == 2, what="key replicated")
    r.config_set("replica-read-only", "no")
    r.set("own", "v", px=50)
    r.set("own-no-ttl", "v")
    _wait(lambda: r.dbsize() == 3, what="own key expired by the replica")
    time.sleep(0.5)     # a while longer: the primary's keys stay (logically expired)
    assert r.dbsize() == 3
    assert r.exists("from-primary", "from-rdb", "own") == 0
    assert r.get("own-no-ttl") == b"v"


def test_a_write_on_a_writable_replica_replaces_an_expired_key(pair):
    # replication-3.tcl "Writable replica doesn't return expired keys": a write's
    # lookup deletes the logically expired key first (force_delete_expired), so INCR
    # starts again from 0 without the old TTL; a read leaves its key alone.
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    p.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    p.set("key1", 5, px=10)
    p.set("key2", 5, px=10)
    _wait(lambda: r.dbsize() == 2 and r.exists("key1", "key2") == 0, what="keys replicated and expired")
    r.config_set("replica-read-only", "no")
    assert r.incr("key1") == 1
    assert r.ttl("key1") == -1
    assert r.get("key2") is None
    assert r.dbsize() == 2


def test_replica_connects_from_bind_source_addr(pair):
    # networking.tcl "CONFIG SET bind-source-addr": the link's local address.
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    p.config_set("protected-mode", "no")
    r.config_set("bind-source-addr", "127.0.0.2")
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    assert p.info("replication")["slave0"]["ip"] == "127.0.0.2"


def _count_in_log(proc, text: str) -> int:
    return sum(1 for line in proc.read_log().splitlines() if text in line)


def test_error_from_primary_stream_is_logged_as_critical(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    r.config_set("propagation-error-behavior", "ignore")
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    r.config_set("replica-read-only", "no")
    r.set("number", "foo")
    p.incrby("number", 1)       # fails on the replica: its value is not an integer
    p.wait(1, 2000)
    _wait(lambda: _count_in_log(replica, "== CRITICAL ==") == 1, what="critical line")
    line = next(text for text in replica.read_log().splitlines() if "== CRITICAL ==" in text)
    assert line.endswith("== CRITICAL == This replica is sending an error to its master: "
                         "'value is not an integer or out of range' after processing "
                         "the command 'incrby'")
    assert r.get("number") == b"foo" and p.get("number") == b"1"


def test_error_from_primary_stream_panics_a_read_only_replica(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    r.config_set("propagation-error-behavior", "panic")
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    p.execute_command("DEBUG", "REPLICATE", "fake-command-1")
    _wait(lambda: replica.proc.poll() is not None, what="replica exit")
    assert "This replica panicked sending an error to its master" in replica.read_log()


def test_config_get_replicaof_follows_replicaof_command(pair):
    primary, replica = pair
    r = _client(replica)
    assert r.config_get("replicaof") == {"replicaof": ""}
    r.replicaof("127.0.0.1", primary.port)
    assert r.config_get("replicaof") == {"replicaof": f"127.0.0.1 {primary.port}"}
    r.replicaof("no", "one")
    assert r.config_get("replicaof") == {"replicaof": ""}


def test_killing_the_master_client_makes_the_replica_continue_partially(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    masters = [c for c in r.client_list() if c["flags"] == "M"]
    assert len(masters) == 1 and masters[0]["addr"] == f"127.0.0.1:{primary.port}"
    assert r.client_kill_filter(_type="master") == 1
    p.set("k", "v")
    _wait(lambda: r.get("k") == b"v", what="write after the reconnection")
    _wait(lambda: p.info("stats")["sync_partial_ok"] == 1, what="partial resync")
    assert p.info("stats")["sync_full"] == 1
    r.execute_command("CLIENT", "KILL", f"127.0.0.1:{primary.port}")     # the old form
    _wait(lambda: p.info("stats")["sync_partial_ok"] == 2, what="second partial resync")


def test_primary_stream_waits_for_a_busy_script_on_the_replica(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    r.config_set("propagation-error-behavior", "panic")     # a -BUSY from the stream would kill it
    r.config_set("busy-reply-threshold", 10)
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    errors = []

    def busy_script():
        try:
            _client(replica).eval("for i=1,3000000000 do end", 0)
        except redis.ResponseError as exc:
            errors.append(str(exc))

    script = threading.Thread(target=busy_script)
    script.start()
    try:
        def is_busy():
            try:
                r.ping()
            except redis.exceptions.BusyLoadingError:
                return True
            except redis.ResponseError as exc:
                return str(exc).startswith("BUSY")
            return False
        _wait(is_busy, what="replica busy")
        p.set("k", "v")
        time.sleep(0.3)         # the stream reaches the replica meanwhile
        r.script_kill()
    finally:
        script.join()
    assert errors and "Script killed by user" in errors[0]
    _wait(lambda: r.get("k") == b"v", what="write applied after the script")
    assert replica.proc.poll() is None
