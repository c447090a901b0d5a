"""FAILOVER (Redis 7.0's coordinated failover, tests/integration/failover.tcl) against
Ferrous and real Redis, in every pairing: Ferrous primary -> Ferrous replica, Ferrous
-> Redis, Redis -> Ferrous, and Redis -> Redis as the reference.

Four servers (two of each kind) serve the whole module; each test first arranges the
pair it needs (`_arrange`): the primary standalone, the replica following it in sync,
the others detached. A replica that must not catch up is stopped with SIGSTOP, as the
TCL suite does, and always continued again.
"""
from __future__ import annotations

import os
import signal
import socket

import pytest
import redis

from resp_client import Error, RawClient, Simple
from servers import ServerProcess, redis_available
from test_replication import _dataset, _wait

KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]
PAIRS = [(p, r) for p in KINDS for r in KINDS]
MIXED_PAIRS = [pair for pair in PAIRS if pair[0] != pair[1]] or PAIRS
# Redis -> Redis runs as the reference where Redis alone shows something new.
FERROUS_PAIRS = [pair for pair in PAIRS if "ferrous" in pair]
PORTS = range(43200, 44000)     # this module's port range


# -- the server pool ------------------------------------------------------------------------
def _free_port(_next=[PORTS.start]) -> int:
    while _next[0] < PORTS.stop:
        port = _next[0]
        _next[0] += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port left in this module's range")


class Pool:
    """Servers of each kind, started on first use and kept for the whole module."""

    def __init__(self):
        self.servers: dict = {}

    def get(self, kind: str, index: int) -> ServerProcess:
        key = (kind, index)
        if key not in self.servers:
            # (Ferrous's FLUSHALL saves when save points are set, and cannot during a full sync.)
            args = ["--repl-diskless-sync-delay", "0"] + (["--save", ""] if kind == "ferrous" else [])
            self.servers[key] = ServerProcess(kind, args, port=_free_port())
        return self.servers[key]

    def distinct(self, *kinds: str) -> tuple:
        """One server of each kind asked for, never the same one twice."""
        return tuple(self.get(kind, kinds[:i].count(kind)) for i, kind in enumerate(kinds))

    def pair(self, primary_kind: str, replica_kind: str) -> tuple:
        return self.distinct(primary_kind, replica_kind)

    def stop(self) -> None:
        for proc in self.servers.values():
            _resume(proc)
            proc.stop()


@pytest.fixture(scope="module")
def pool():
    servers = Pool()
    yield servers
    servers.stop()


def _client(proc) -> redis.Redis:
    return redis.Redis(port=proc.port, socket_timeout=10)


def _info(proc, section="replication") -> dict:
    with _client(proc) as client:
        return client.info(section)


def _state(proc) -> str:
    return _info(proc)["master_failover_state"]


def _stats(proc) -> tuple:
    stats = _info(proc, "stats")
    return stats["sync_full"], stats["sync_partial_ok"]


def _suspend(proc) -> None:
    os.kill(proc.proc.pid, signal.SIGSTOP)


def _resume(proc) -> None:
    if proc.proc.poll() is None:
        os.kill(proc.proc.pid, signal.SIGCONT)


def _acked(primary, replica) -> bool:
    """The replica is linked, online, and has acknowledged the primary's whole stream."""
    info = _info(replica)
    if info.get("master_link_status") != "up" or info.get("master_port") != primary.port:
        return False
    info = _info(primary)       # its replicas' acknowledgements, a replica's too (a chain)
    offset = info["master_repl_offset"]
    return any(value["port"] == replica.port and value["state"] == "online" and value["offset"] == offset
               for key, value in info.items() if key.startswith("slave") and isinstance(value, dict))


def _arrange(pool, primary, *replicas) -> None:
    """primary standalone, the replicas following it with every byte acknowledged,
    the pool's other servers detached; the dataset flushed and no failover going on."""
    for proc in [primary, *replicas, *pool.servers.values()]:
        _resume(proc)
        with _client(proc) as client:
            try:
                client.execute_command("FAILOVER", "ABORT")
            except redis.ResponseError:
                pass            # none in progress
            client.execute_command("ACL", "SETUSER", "default", "+psync")
            if proc not in replicas and client.info("replication")["role"] == "slave":
                client.replicaof("NO", "ONE")
    with _client(primary) as client:
        client.flushall()
        client.set("seed", "1")
    for replica in replicas:
        with _client(replica) as client:
            client.replicaof("127.0.0.1", primary.port)
    for replica in replicas:
        _wait(lambda: _acked(primary, replica), what="the replica in sync and acknowledged")


def _write_some(proc, prefix: str, count: int = 20, db: int = 0) -> None:
    with redis.Redis(port=proc.port, db=db, socket_timeout=10) as client:
        pipe = client.pipeline(transaction=False)
        for i in range(count):
            pipe.set(f"{prefix}:s{i}", i)
            pipe.rpush(f"{prefix}:l", i)
            pipe.hset(f"{prefix}:h", f"f{i}", i)
        pipe.execute()


def _role(proc) -> bytes:
    with _client(proc) as client:
        return client.role()[0]


def _log_count(proc, text: str) -> int:
    return proc.read_log().count(text)


# -- argument checks (the shared servers: primaries without replicas) -----------------------------
def test_failover_argument_errors(raw):
    syntax = Error("ERR syntax error")
    not_integer = Error("ERR value is not an integer or out of range")
    no_replicas = Error("ERR FAILOVER requires connected replicas.")
    assert raw.call("FAILOVER") == no_replicas
    assert raw.call("FAILOVER", "TO", "127.0.0.1", "6379") == no_replicas
    assert raw.call("FAILOVER", "FORCE") == no_replicas     # FORCE's own check comes later
    assert raw.call("failover", "to", "h", "1", "force", "timeout", "10") == no_replicas
    assert raw.call("FAILOVER", "ABORT") == Error("ERR No failover in progress.")
    for bad in (["ABORT", "x"], ["ABORT", "TIMEOUT", "5"], ["TIMEOUT"], ["TIMEOUT", "5", "TIMEOUT", "6"],
                ["TO", "h"], ["TO", "h", "1", "TO", "h", "2"], ["FORCE", "FORCE"], ["foo"], ["TO"]):
        assert raw.call("FAILOVER", *bad) == syntax, bad
    for timeout in ("0", "-5"):
        assert raw.call("FAILOVER", "TIMEOUT", timeout) == Error("ERR FAILOVER timeout must be greater than 0")
    assert raw.call("FAILOVER", "TIMEOUT", "x") == not_integer
    assert raw.call("FAILOVER", "TIMEOUT", "1.5") == not_integer
    assert raw.call("FAILOVER", "TO", "h", "x") == not_integer
    assert raw.call("FAILOVER", "TO", "h", "+1") == not_integer
    assert raw.call("PSYNC", "x", "1", "FAILOVER") == Error("ERR PSYNC FAILOVER can't be sent to a master.")


def test_failover_state_in_info_and_in_multi(r, raw):
    assert r.info("replication")["master_failover_state"] == "no-failover"
    assert raw.call("MULTI") == Simple("OK")
    assert raw.call("FAILOVER", "TIMEOUT", "10") == Simple("QUEUED")
    assert raw.call("FAILOVER", "TIMEOUT", "0") == Simple("QUEUED")
    assert raw.call("EXEC") == [Error("ERR FAILOVER requires connected replicas."),
                                Error("ERR FAILOVER timeout must be greater than 0")]


# -- checks that need a replica ------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_failover_checks_with_a_replica(pool, kind):
    primary, replica = pool.pair(kind, kind)
    _arrange(pool, primary, replica)
    p, rep = RawClient(port=primary.port), RawClient(port=replica.port)
    try:
        port = str(replica.port)
        force = Error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
        assert p.call("FAILOVER", "TO", "127.0.0.1", port, "FORCE") == force
        assert p.call("FAILOVER", "TIMEOUT", "100", "FORCE") == force
        not_replica = Error("ERR FAILOVER target HOST and PORT is not a replica.")
        assert p.call("FAILOVER", "TO", "localhost", port) == not_replica      # addresses compare as text
        assert p.call("FAILOVER", "TO", "127.0.0.1", "99999") == not_replica
        assert p.call("FAILOVER", "TO", "127.0.0.1", str(primary.port), "TIMEOUT", "10", "FORCE") == not_replica
        on_replica = Error("ERR FAILOVER is not valid when server is a replica.")
        assert rep.call("FAILOVER") == on_replica
        assert rep.call("FAILOVER", "TO", "127.0.0.1", port) == on_replica
        assert rep.call("FAILOVER", "ABORT") == Error("ERR No failover in progress.")
        must_match = Error("ERR PSYNC FAILOVER replid must match my replid.")
        assert rep.call("PSYNC", "0" * 40, "1", "FAILOVER") == must_match
        assert rep.call("PSYNC", "?", "-1", "failover", "extra") == must_match
        assert _role(replica) == b"slave" and _state(primary) == "no-failover"

        # ABORT while in progress: a primary again, without the replica it dropped
        # on turning replica (the replica, stopped, cannot come back yet).
        _suspend(replica)
        assert p.call("FAILOVER", "TO", "127.0.0.1", port, "TIMEOUT", "100", "FORCE") == Simple("OK")
        _wait(lambda: _state(primary) == "failover-in-progress", what="the forced failover")
        assert p.call("REPLICAOF", "NO", "ONE") == Error("ERR REPLICAOF not allowed while failing over.")
        assert p.call("SET", "k", "v") == Error("READONLY You can't write against a read only replica.")
        assert p.call("FAILOVER", "ABORT") == Simple("OK")
        assert _state(primary) == "no-failover" and _role(primary) == b"master"
        assert p.call("SET", "k", "v") == Simple("OK")
        assert p.call("FAILOVER") == Error("ERR FAILOVER requires connected replicas.")
    finally:
        _resume(replica)
        p.close()
        rep.close()
    _wait(lambda: _acked(primary, replica), what="the replica back")
    assert _client(replica).get("k") == b"v"


# -- the happy path in every pairing -------------------------------------------------------------
@pytest.mark.parametrize("primary_kind,replica_kind", PAIRS)
def test_failover_swaps_roles_and_continues_partially(pool, primary_kind, replica_kind):
    primary, replica = pool.pair(primary_kind, replica_kind)
    _arrange(pool, primary, replica)
    _write_some(primary, "db3", db=3)
    # A dropped link continues partially, in the database the stream had selected.
    with _client(primary) as client:
        client.client_kill_filter(_type="replica")
    _write_some(primary, "db3-again", db=3)
    _wait(lambda: _acked(primary, replica), what="the replica back")
    assert _dataset(primary) == _dataset(replica)
    _write_some(primary, "before")
    old_replid = _info(primary)["master_replid"]
    primary_syncs, replica_syncs = _stats(primary), _stats(replica)
    with _client(primary) as client:
        assert client.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port) in (b"OK", True)
    _wait(lambda: _state(primary) == "no-failover" and _role(primary) == b"slave", what="failover done")
    _wait(lambda: _acked(replica, primary), what="the old primary follows")
    assert _role(replica) == b"master"
    with _client(replica) as client:
        # The follower is listed with its acknowledged offset; a PING the new primary
        # sends meanwhile moves its own offset until the next ACK, so poll.
        def lists_the_follower() -> bool:
            role = client.role()
            return role[2] == [[b"127.0.0.1", str(primary.port).encode(), str(role[1]).encode()]]
        _wait(lists_the_follower, what="ROLE lists the old primary at our offset")
    old, new = _info(primary), _info(replica)
    assert new["master_replid2"] == old_replid and new["master_replid"] != old_replid
    assert old["master_replid"] == new["master_replid"] and old["master_replid2"] == old_replid
    # The target promoted itself and continued the old primary: no full resync anywhere.
    assert _stats(replica) == (replica_syncs[0], replica_syncs[1] + 1)
    assert _stats(primary)[0] == primary_syncs[0]
    assert _dataset(primary, (0,)) == _dataset(replica, (0,))
    assert _client(primary).get("before:s7") == b"7"
    _write_some(replica, "after", db=3)
    _wait(lambda: _acked(replica, primary), what="the new primary's stream")
    with pytest.raises(redis.ReadOnlyError):
        _client(primary).set("x", "1")

    # And back: the stream that reached the old primary last selected db 3, so its
    # first write in db 0 as a primary again must select db 0 (replicationUnsetMaster
    # forgets the stream's database).
    with _client(replica) as client:
        assert client.execute_command("FAILOVER", "TO", "127.0.0.1", primary.port) in (b"OK", True)
    _wait(lambda: _state(replica) == "no-failover" and _role(replica) == b"slave", what="failover back")
    _write_some(primary, "back", db=0)
    _wait(lambda: _acked(primary, replica), what="the first primary's stream again")
    assert _stats(primary) == (primary_syncs[0], primary_syncs[1] + 1)
    assert _dataset(primary) == _dataset(replica)
    assert _client(replica).get("back:s3") == b"3"


# -- three nodes: FAILOVER to any replica picks the one that caught up -------------------------------
# Ferrous in each of the three roles, beside Redis in the other two.
THREE = ([("ferrous", "redis", "ferrous"), ("redis", "ferrous", "redis")]
         if redis_available() else [("ferrous", "ferrous", "ferrous")])


@pytest.mark.parametrize("primary_kind,target_kind,other_kind", THREE)
def test_failover_to_any_replica_and_the_others_follow(pool, primary_kind, target_kind, other_kind):
    primary, target, other = pool.distinct(primary_kind, target_kind, other_kind)
    _arrange(pool, primary, target, other)
    _write_some(primary, "three")
    _wait(lambda: _acked(primary, target) and _acked(primary, other), what="both replicas in sync")
    target_syncs, other_syncs = _stats(target), _stats(other)
    try:
        _suspend(other)         # it cannot acknowledge: the target is the one chosen
        _client(primary).set("case", "1")
        with _client(primary) as client:
            assert client.execute_command("FAILOVER") in (b"OK", True)
        _wait(lambda: _state(primary) == "no-failover" and _role(primary) == b"slave", what="failover done")
    finally:
        _resume(other)
    assert _role(target) == b"master"
    _wait(lambda: _acked(target, primary), what="the old primary follows the target")
    # The other replica went on following the old primary (now a replica): partially.
    _wait(lambda: _acked(primary, other), what="the other replica back on the old primary")
    _client(other).replicaof("127.0.0.1", target.port)
    _wait(lambda: _acked(target, other), what="the other replica moved to the target")
    assert _stats(target) == (target_syncs[0], target_syncs[1] + 2)
    assert _stats(other)[0] == other_syncs[0]
    assert _dataset(primary, (0,)) == _dataset(target, (0,)) == _dataset(other, (0,))
    assert _client(other).get("case") == b"1"


# -- waiting for the replica: paused writes, refusals, ABORT, TIMEOUT, READONLY after --------------
@pytest.mark.parametrize("primary_kind,replica_kind", MIXED_PAIRS)
def test_failover_waits_for_the_replica(pool, primary_kind, replica_kind):
    primary, replica = pool.pair(primary_kind, replica_kind)
    _arrange(pool, primary, replica)
    syncs = _stats(primary)
    control = RawClient(port=primary.port)
    writer = RawClient(port=primary.port)
    try:
        _suspend(replica)
        assert control.call("SET", "case", "1") == Simple("OK")     # never acknowledged
        # A TIMEOUT without FORCE gives up, and the primary stays one.
        assert control.call("FAILOVER", "TO", "127.0.0.1", str(replica.port), "TIMEOUT", "300") == Simple("OK")
        assert _state(primary) == "waiting-for-sync"
        _wait(lambda: _state(primary) == "no-failover", what="the timeout")
        assert _role(primary) == b"master"
        assert control.call("SET", "case", "2") == Simple("OK")

        assert control.call("FAILOVER", "TO", "127.0.0.1", str(replica.port), "TIMEOUT", "60000") == Simple("OK")
        assert _state(primary) == "waiting-for-sync"
        assert control.call("GET", "case") == b"2"                  # reads go on
        writer.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n1\r\n")
        _wait(lambda: _info(primary, "clients")["blocked_clients"] == 1, what="the write postponed")
        assert control.call("FAILOVER") == Error("ERR FAILOVER already in progress.")
        assert control.call("REPLICAOF", "NO", "ONE") == Error("ERR REPLICAOF not allowed while failing over.")
        assert control.call("REPLICAOF", "127.0.0.1", "1") == Error("ERR REPLICAOF not allowed while failing over.")
        syncer = RawClient(port=primary.port)
        assert syncer.call("PSYNC", "?", "-1") == Error("NOMASTERLINK Can't SYNC while failing over")
        syncer.close()
        assert control.call("CLIENT", "UNPAUSE") == Simple("OK")   # not FAILOVER's pause
        assert _info(primary, "clients")["blocked_clients"] == 1
        assert control.call("FAILOVER", "ABORT") == Simple("OK")
        assert writer.read_reply() == Simple("OK")
        assert _state(primary) == "no-failover" and _role(primary) == b"master"

        # Any replica, no timeout: a write postponed meanwhile meets a replica afterwards.
        assert control.call("FAILOVER") == Simple("OK")
        writer.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n2\r\n")
        _wait(lambda: _info(primary, "clients")["blocked_clients"] == 1, what="the write postponed")
        assert _state(primary) == "waiting-for-sync"
        _resume(replica)
        assert writer.read_reply() == Error("READONLY You can't write against a read only replica.")
        _wait(lambda: _state(primary) == "no-failover", what="failover done")
        assert _role(primary) == b"slave" and _role(replica) == b"master"
        _wait(lambda: _acked(replica, primary), what="the old primary follows")
        assert _stats(primary) == syncs     # it never resynced a replica of its own
        assert _client(replica).get("w") == b"1" and _client(replica).get("case") == b"2"
        assert _dataset(primary, (0,)) == _dataset(replica, (0,))
    finally:
        _resume(replica)
        control.close()
        writer.close()


# -- FORCE: fail over to a replica that never acknowledged -----------------------------------------
@pytest.mark.parametrize("primary_kind,replica_kind", FERROUS_PAIRS)
def test_forced_failover_after_the_timeout(pool, primary_kind, replica_kind):
    primary, replica = pool.pair(primary_kind, replica_kind)
    _arrange(pool, primary, replica)
    replica_syncs = _stats(replica)
    logged = _log_count(primary, "time out exceeded, failing over.")
    try:
        _suspend(replica)
        _client(primary).set("case", "2")     # the replica will not acknowledge this write
        with _client(primary) as client:
            assert client.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port,
                                          "TIMEOUT", 100, "FORCE") in (b"OK", True)
        _wait(lambda: _state(primary) == "failover-in-progress", what="the forced failover")
        assert _role(primary) == b"slave"       # never two primaries
        _resume(replica)
        _wait(lambda: _state(primary) == "no-failover", what="failover done")
        _wait(lambda: _acked(replica, primary), what="the old primary follows")
    finally:
        _resume(replica)
    assert _role(replica) == b"master" and _role(primary) == b"slave"
    assert _log_count(primary, "time out exceeded, failing over.") == logged + 1
    full, partial = _stats(replica)
    assert (full - replica_syncs[0], partial - replica_syncs[1]) in ((0, 1), (1, 0))
    if replica_kind == "ferrous":
        # Redis's target may read the PSYNC before the stream it has not applied yet
        # (then the old primary resyncs fully and "case" is lost, as failover.tcl
        # allows); Ferrous applies what its old primary sent first, then promotes.
        assert (full, partial) == (replica_syncs[0], replica_syncs[1] + 1)
        assert _client(replica).get("case") == b"2"
    assert _dataset(primary, (0,)) == _dataset(replica, (0,))


# -- the target refuses PSYNC: the failover aborts ----------------------------------------------------
@pytest.mark.parametrize("primary_kind,replica_kind", FERROUS_PAIRS)
def test_failover_aborts_when_the_target_rejects_psync(pool, primary_kind, replica_kind):
    primary, replica = pool.pair(primary_kind, replica_kind)
    _arrange(pool, primary, replica)
    syncs = _stats(primary)
    logged = _log_count(primary, "Failover target rejected psync request")
    _client(replica).execute_command("ACL", "SETUSER", "default", "-psync")
    with _client(primary) as client:
        assert client.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port) in (b"OK", True)
    _wait(lambda: _log_count(primary, "Failover target rejected psync request") > logged,
          what="the rejection")
    _wait(lambda: _state(primary) == "no-failover", what="the abort")
    assert _role(primary) == b"master" and _role(replica) == b"slave"
    assert _client(primary).set("after", "1")     # writes resumed
    _client(replica).execute_command("ACL", "SETUSER", "default", "+psync")
    _wait(lambda: _acked(primary, replica), what="the replica back")
    assert _log_count(primary, "Failover target rejected psync request") == logged + 1
    # The primary took a new replication ID; its replica continued partially.
    assert _stats(primary) == (syncs[0], syncs[1] + 1)
    assert _client(replica).get("after") == b"1"
