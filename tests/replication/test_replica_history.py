"""A server's replication history across restarts and idle time: the RDB's repl-id /
repl-offset aux fields let a restarted replica or primary continue partially, and
repl-backlog-ttl frees an idle primary's backlog. With Ferrous and real Redis."""
from __future__ import annotations

import time

import pytest
import redis

from servers import KINDS, ServerProcess, wait_until as _wait


@pytest.fixture(params=KINDS)
def pair(request):
    kind = request.param
    primary = ServerProcess(kind, ["--save", "", "--repl-diskless-sync-delay", "0"])
    replica = ServerProcess(kind, ["--save", ""])
    yield primary, replica
    replica.stop()
    primary.stop()


def _client(proc):
    return redis.Redis(port=proc.port, socket_timeout=20)


def _restart(proc, kind, args):
    """SHUTDOWN (saving, as a configured save point makes it) and start again in place."""
    try:
        _client(proc).shutdown(save=True)
    except redis.ConnectionError:
        pass
    proc.proc.wait(20)
    proc.log.close()
    return ServerProcess(kind, args, directory=proc.dir, port=proc.port)


@pytest.mark.parametrize("kind", KINDS)
def test_restarted_replica_continues_partially_from_its_rdb(kind, tmp_path):
    primary = ServerProcess(kind, ["--save", "", "--repl-diskless-sync-delay", "0"])
    replica_dir = tmp_path / "replica"
    replica_dir.mkdir()
    args = ["--save", "900 1", "--replicaof", "127.0.0.1", str(primary.port)]
    replica = ServerProcess(kind, args, directory=str(replica_dir))
    try:
        p, r = _client(primary), _client(replica)
        _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
        p.set("k", "v1")
        p.incr("n")
        offset = p.info("replication")["master_repl_offset"]
        _wait(lambda: r.info("replication")["slave_repl_offset"] == offset, what="caught up")
        full_syncs = p.info("stats")["sync_full"]
        replica = _restart(replica, kind, args)
        r = _client(replica)
        _wait(lambda: p.info("stats")["sync_partial_ok"] == 1, what="partial resync")
        assert p.info("stats")["sync_full"] == full_syncs
        p.incr("n")
        _wait(lambda: r.get("n") == b"2", what="stream continues")
        assert r.get("k") == b"v1"
    finally:
        replica.stop()
        primary.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_restarted_primary_lets_its_replica_continue(kind, tmp_path):
    primary_dir = tmp_path / "primary"
    primary_dir.mkdir()
    args = ["--save", "900 1", "--repl-diskless-sync-delay", "0"]
    primary = ServerProcess(kind, args, directory=str(primary_dir))
    replica = ServerProcess(kind, ["--save", ""])
    try:
        p, r = _client(primary), _client(replica)
        r.replicaof("127.0.0.1", primary.port)
        _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
        p.set("k", "v1")
        offset = p.info("replication")["master_repl_offset"]
        _wait(lambda: r.info("replication")["slave_repl_offset"] == offset, what="caught up")
        replid = p.info("replication")["master_replid"]
        primary = _restart(primary, kind, args)
        p = _client(primary)
        info = p.info("replication")
        # Its history as saved (Redis's SHUTDOWN may add a REPLCONF GETACK to it first).
        assert info["master_replid2"] == replid and info["master_replid"] != replid
        assert info["second_repl_offset"] == info["master_repl_offset"] + 1
        assert info["master_repl_offset"] >= offset
        _wait(lambda: p.info("stats")["sync_partial_ok"] == 1, timeout=20, what="partial resync")
        assert p.info("stats")["sync_full"] == 0
        p.set("k", "v2")
        _wait(lambda: r.get("k") == b"v2", what="stream continues")
    finally:
        replica.stop()
        primary.stop()


def test_backlog_freed_after_repl_backlog_ttl_without_replicas(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    p.config_set("repl-backlog-ttl", 1)
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    replid = p.info("replication")["master_replid"]
    r.replicaof("no", "one")
    _wait(lambda: p.info("replication")["repl_backlog_active"] == 0, what="backlog freed")
    info = p.info("replication")
    assert info["master_replid"] != replid
    assert info["master_replid2"] == 0 and info["second_repl_offset"] == -1     # 40 zeros
    assert "Replication backlog freed after 1 seconds without connected replicas." in primary.read_log()


def test_backlog_kept_while_a_full_sync_waits_for_its_delay(pair):
    primary, replica = pair
    p, r = _client(primary), _client(replica)
    p.config_set("repl-backlog-ttl", 1)
    p.config_set("repl-diskless-sync", "yes")
    p.config_set("repl-diskless-sync-delay", 3)     # longer than the TTL
    p.set("before", "1")
    time.sleep(1.5)         # the primary has been without replicas for over the TTL
    r.replicaof("127.0.0.1", primary.port)
    _wait(lambda: r.role()[3] == b"handshake", what="waiting for the delay")
    _wait(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    for i in range(20):
        p.incr("n")
    _wait(lambda: r.get("n") == b"20", what="stream after the sync")
    assert r.get("before") == b"1"
