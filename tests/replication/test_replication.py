"""Replication against real Redis 7.0: a Redis replica follows a Ferrous primary, a
Ferrous replica follows a Redis primary, partial resync after a dropped link,
chains, promotion, WAIT, ROLE and the replica's refusals."""
from __future__ import annotations

import os
import random
import time

import pytest
import redis

from servers import ROOT, ServerProcess

FAST_SYNC = ["--repl-diskless-sync-delay", "0"]     # no 5 s wait for more replicas


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


def _start(kind, *args):
    extra = FAST_SYNC + list(args)
    return ServerProcess(kind, extra)


def _client(proc, db=0):
    return redis.Redis(port=proc.port, db=db, socket_timeout=10)


def _in_sync(primary, replica) -> bool:
    p = _client(primary).info("replication")
    r = _client(replica).info("replication")
    return (r.get("master_link_status") == "up"
            and r["slave_repl_offset"] == p["master_repl_offset"])


def _mixed_load(client, rounds: int, seed: int) -> None:
    """Writes of every data type, expirations and transactions, in several databases."""
    rng = random.Random(seed)
    for i in range(rounds):
        k = rng.randrange(40)
        op = rng.randrange(18)
        if op == 0:
            client.set(f"s{k}", rng.random())
        elif op == 1:
            client.incrby(f"n{k}", rng.randrange(-5, 10))
        elif op == 2:
            client.rpush(f"l{k}", *[str(rng.random()) for _ in range(3)])
        elif op == 3:
            client.lpop(f"l{k}")
        elif op == 4:
            client.hset(f"h{k}", f"f{rng.randrange(10)}", rng.random())
        elif op == 5:
            client.sadd(f"t{k}", *[str(rng.randrange(30)) for _ in range(4)])
        elif op == 6:
            client.spop(f"t{k}")
        elif op == 7:
            client.zadd(f"z{k}", {f"m{rng.randrange(20)}": rng.random()})
        elif op == 8:
            client.zincrby(f"z{k}", 1.5, f"m{rng.randrange(20)}")
        elif op == 9:
            client.set(f"e{k}", "v", px=rng.randrange(1, 400))
        elif op == 10:
            client.pfadd(f"p{k}", *[str(rng.random()) for _ in range(5)])
        elif op == 11:
            pipe = client.pipeline(transaction=True)
            pipe.incr(f"n{k}").rpush(f"l{k}", "tx").expire(f"l{k}", 1000)
            pipe.execute()
        elif op == 12:
            client.incrbyfloat(f"f{k}", rng.random())
        elif op == 13:
            client.xadd(f"x{k % 5}", {"f": str(rng.random())}, maxlen=50, approximate=False)
        elif op == 14:
            client.geoadd(f"g{k % 5}", (rng.uniform(-170, 170), rng.uniform(-80, 80), f"p{rng.randrange(20)}"))
        elif op == 15:
            client.setbit(f"b{k % 5}", rng.randrange(2000), rng.randrange(2))
        elif op == 16:
            key = f"x{k % 5}"
            try:
                client.xgroup_create(key, "grp", id="0", mkstream=True)
            except redis.ResponseError:
                pass    # BUSYGROUP
            client.xreadgroup("grp", "c1", {key: ">"}, count=2)
        else:
            client.delete(f"s{k}")


def _settle(primary, replica) -> None:
    """Let the load's short TTLs run out (the primary then sends DELs) and the stream
    drain, so both sides can be compared key by key."""
    time.sleep(0.5)
    _client(primary).set("barrier", "1")
    _wait(lambda: _in_sync(primary, replica), what="offsets match again")


def _dataset(proc, databases=(0, 3)) -> dict:
    """Every key with its type, value and whether it has a TTL."""
    out = {}
    for db in databases:
        client = _client(proc, db)
        for key in sorted(client.keys("*")):
            kind = client.type(key)
            if kind == b"string":
                value = client.get(key)
            elif kind == b"list":
                value = client.lrange(key, 0, -1)
            elif kind == b"hash":
                value = client.hgetall(key)
            elif kind == b"set":
                value = client.smembers(key)
            elif kind == b"zset":
                value = client.zrange(key, 0, -1, withscores=True)
            elif kind == b"stream":
                groups = [(g["name"], g["last-delivered-id"], g["pending"])
                          for g in client.xinfo_groups(key)]
                value = (client.xrange(key), groups)
            else:
                value = None
            out[(db, key)] = (kind, value, client.ttl(key) > 0)
        client.close()
    return out


def _load_both_dbs(primary, rounds):
    for db, seed in ((0, 1), (3, 2)):
        client = _client(primary, db)
        _mixed_load(client, rounds, seed)
        client.close()


@pytest.mark.parametrize("primary_kind,replica_kind", [("ferrous", "redis"), ("redis", "ferrous")])
def test_replica_of_the_other_kind_holds_the_same_data(primary_kind, replica_kind):
    primary = _start(primary_kind)
    replica = None
    try:
        _load_both_dbs(primary, 300)            # some data before the full sync
        replica = _start(replica_kind, "--replicaof", "127.0.0.1", str(primary.port))
        _wait(lambda: _client(replica).info("replication")["master_link_status"] == "up",
              what="link up")
        _load_both_dbs(primary, 700)            # and a stream after it
        _wait(lambda: _in_sync(primary, replica), what="offsets match")
        _settle(primary, replica)
        assert _dataset(primary) == _dataset(replica)
        with pytest.raises(redis.ReadOnlyError):
            _client(replica).set("x", "1")
    finally:
        for proc in (replica, primary):
            if proc is not None:
                proc.stop()


@pytest.mark.parametrize("primary_kind,replica_kind", [("ferrous", "redis"), ("redis", "ferrous"),
                                                       ("ferrous", "ferrous")])
def test_a_dropped_link_continues_partially(primary_kind, replica_kind):
    primary = _start(primary_kind)
    replica = _start(replica_kind, "--replicaof", "127.0.0.1", str(primary.port))
    try:
        client = _client(primary)
        _wait(lambda: _in_sync(primary, replica), what="initial sync")
        full_before = client.info("stats")["sync_full"]
        _mixed_load(client, 200, 7)
        _wait(lambda: _in_sync(primary, replica), what="stream caught up")
        client.client_kill_filter(_type="replica")
        client.set("while-down", "1")
        _mixed_load(client, 100, 8)
        _wait(lambda: _in_sync(primary, replica), what="resynced")
        stats = client.info("stats")
        assert stats["sync_full"] == full_before
        assert stats["sync_partial_ok"] >= 1
        assert _client(replica).get("while-down") == b"1"
        _settle(primary, replica)
        assert _dataset(primary, (0,)) == _dataset(replica, (0,))
    finally:
        replica.stop()
        primary.stop()


@pytest.mark.parametrize("kind", ["ferrous", "redis"])
def test_wait_counts_acknowledging_replicas(kind):
    primary = _start(kind)
    replica = _start("ferrous" if kind == "redis" else "redis", "--replicaof", "127.0.0.1", str(primary.port))
    try:
        client = _client(primary)
        _wait(lambda: _in_sync(primary, replica), what="sync")
        client.set("k", "v")
        assert client.wait(1, 5000) == 1
        started = time.monotonic()
        assert client.wait(2, 300) == 1             # only one replica: times out
        assert time.monotonic() - started >= 0.25
        with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica instances"):
            _client(replica).wait(1, 10)
    finally:
        replica.stop()
        primary.stop()


@pytest.mark.parametrize("kind", ["ferrous", "redis"])
def test_role_and_info_shapes(kind):
    primary = _start(kind)
    replica = _start(kind, "--replicaof", "127.0.0.1", str(primary.port))
    try:
        _wait(lambda: _in_sync(primary, replica), what="sync")
        _client(primary).set("a", "1")
        _wait(lambda: _in_sync(primary, replica) and _client(primary).role()[2]
              and _client(primary).role()[2][0][2] == str(_client(primary).role()[1]).encode(),
              what="acked")
        role = _client(primary).role()
        assert role[0] == b"master" and isinstance(role[1], int)
        assert role[2] == [[b"127.0.0.1", str(replica.port).encode(), str(role[1]).encode()]]
        rrole = _client(replica).role()
        assert rrole[:4] == [b"slave", b"127.0.0.1", primary.port, b"connected"]
        info = _client(replica).info("replication")
        for field in ("master_host", "master_port", "master_link_status", "slave_repl_offset",
                      "slave_read_only", "master_replid", "master_repl_offset", "repl_backlog_active"):
            assert field in info
        pinfo = _client(primary).info("replication")
        assert pinfo["connected_slaves"] == 1 and pinfo["slave0"]["state"] == "online"
    finally:
        replica.stop()
        primary.stop()


@pytest.mark.parametrize("kind", ["ferrous", "redis"])
def test_promotion_keeps_history_for_the_other_replicas(kind):
    """REPLICAOF NO ONE on one replica; a second replica moves to it with +CONTINUE."""
    primary = _start(kind)
    first = _start(kind, "--replicaof", "127.0.0.1", str(primary.port))
    second = _start(kind, "--replicaof", "127.0.0.1", str(primary.port))
    try:
        _mixed_load(_client(primary), 150, 3)
        _wait(lambda: _in_sync(primary, first) and _in_sync(primary, second), what="sync")
        old_id = _client(primary).info("replication")["master_replid"]
        primary.stop()
        assert _client(first).replicaof("NO", "ONE")
        info = _client(first).info("replication")
        assert info["role"] == "master" and info["master_replid2"] == old_id
        _client(second).replicaof("127.0.0.1", first.port)
        _wait(lambda: _in_sync(first, second), what="second follows the promoted replica")
        stats = _client(first).info("stats")
        assert stats["sync_partial_ok"] == 1 and stats["sync_full"] == 0
        _client(first).set("after-failover", "1")
        _wait(lambda: _client(second).get("after-failover") == b"1", what="stream")
    finally:
        for proc in (second, first, primary):
            proc.stop()


def test_a_chain_redis_ferrous_redis():
    top = _start("redis")
    middle = _start("ferrous", "--replicaof", "127.0.0.1", str(top.port))
    bottom = _start("redis", "--replicaof", "127.0.0.1", str(middle.port))
    try:
        _load_both_dbs(top, 300)
        _wait(lambda: _in_sync(top, middle) and _in_sync(middle, bottom), timeout=60, what="chain")
        _settle(top, middle)            # the load's short TTLs run out, their DELs flow down
        _wait(lambda: _in_sync(top, middle) and _in_sync(middle, bottom), timeout=60, what="chain")
        assert (_client(bottom).info("replication")["master_repl_offset"]
                == _client(top).info("replication")["master_repl_offset"])
        assert _dataset(top) == _dataset(middle) == _dataset(bottom)
    finally:
        for proc in (bottom, middle, top):
            proc.stop()


@pytest.mark.parametrize("kind", ["ferrous", "redis"])
def test_stale_data_and_min_replicas(kind):
    proc = _start(kind, "--replicaof", "127.0.0.1", "1", "--replica-serve-stale-data", "no")
    try:
        client = _client(proc)
        with pytest.raises(redis.ResponseError, match="Link with MASTER is down and replica-serve-stale-data"):
            client.get("x")
        assert client.info("replication")["master_link_status"] == "down"   # INFO is 'stale'
    finally:
        proc.stop()
    proc = _start(kind, "--min-replicas-to-write", "1")
    try:
        with pytest.raises(redis.ResponseError, match="Not enough good replicas to write"):
            _client(proc).set("x", "1")
        assert _client(proc).get("x") is None
    finally:
        proc.stop()


def test_the_sample_config_files_start_a_working_pair():
    base = os.path.join(ROOT, "conf")
    master = _ferrous_with_conf(os.path.join(base, "master.conf"), [])
    replica = _ferrous_with_conf(os.path.join(base, "replica.conf"),
                                 ["--replicaof", "127.0.0.1", str(master.port)])
    try:
        _client(master).set("from-conf", "1")
        _wait(lambda: _client(replica).get("from-conf") == b"1", what="replicated")
    finally:
        replica.stop()
        master.stop()


def _ferrous_with_conf(path, args):
    """Ferrous started as `ferrous-server <conf> --port <free>` (the port is overridden)."""
    import subprocess
    import sys
    from servers import free_port, wait_for_port
    proc = ServerProcess.__new__(ServerProcess)
    proc.kind, proc.port, proc.own_dir = "ferrous", free_port(), True
    import tempfile
    proc.dir = tempfile.mkdtemp(prefix="ferrous-conf-")
    proc.log_path = os.path.join(proc.dir, "server.log")
    proc.log = open(proc.log_path, "ab")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc.proc = subprocess.Popen([sys.executable, "-m", "ferrous", path, "--port", str(proc.port),
                                  "--dir", proc.dir, *args], stdout=proc.log, stderr=subprocess.STDOUT,
                                 env=env, cwd=proc.dir)
    wait_for_port(proc.port, proc.proc)
    return proc


@pytest.mark.parametrize("kind", ["ferrous", "redis"])
def test_redis_cli_rdb_takes_a_dump_over_sync(kind, tmp_path):
    import subprocess
    proc = _start(kind)
    try:
        client = _client(proc)
        client.set("a", "1")
        client.rpush("l", "x", "y")
        client.zadd("z", {"m": 2.5})
        target = str(tmp_path / "dump.rdb")
        result = subprocess.run(["redis-cli", "-p", str(proc.port), "--rdb", target],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "Transfer finished with success" in result.stdout + result.stderr
        check = subprocess.run(["redis-check-rdb", target], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "3 keys read" in check.stdout
        assert client.info("replication")["connected_slaves"] == 0   # rdb-only: gone after the dump
    finally:
        proc.stop()


@pytest.mark.parametrize("primary_kind,replica_kind", [("ferrous", "redis"), ("redis", "ferrous")])
def test_replica_authenticates_with_masterauth(primary_kind, replica_kind):
    primary = _start(primary_kind, "--requirepass", "s3cret")
    replica = _start(replica_kind, "--replicaof", "127.0.0.1", str(primary.port),
                     "--masterauth", "s3cret")
    try:
        authed = redis.Redis(port=primary.port, password="s3cret", socket_timeout=10)
        authed.set("secret-key", "1")
        _wait(lambda: _client(replica).get("secret-key") == b"1", what="replicated with AUTH")
        assert _client(replica).info("replication")["master_link_status"] == "up"
    finally:
        replica.stop()
        primary.stop()
