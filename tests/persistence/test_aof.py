"""The append only file (persistence/aof.py), against real Redis 7.0 side by side:
what each command writes to the AOF, the multi-part layout, loading (also each
other's files), truncated tails, rewrites, and acknowledged writes surviving kill -9."""
from __future__ import annotations

import os
import re
import threading
import time

import pytest
import redis

from resp_client import RawClient, Simple
from servers import ServerProcess, redis_available

KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]
AOF_ARGS = ["--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "no",
            "--hz", "100"]


def _aof_dir(proc) -> str:
    return os.path.join(proc.dir, "appendonlydir")


def _manifest(proc) -> list:
    with open(os.path.join(_aof_dir(proc), "appendonly.aof.manifest")) as fh:
        return [line.split() for line in fh.read().splitlines() if line.strip()]


def _incr_commands(proc) -> list:
    """The commands of the last incremental file, as lists of bytes."""
    incr = [line[1] for line in _manifest(proc) if line[-1] == "i"][-1]
    with open(os.path.join(_aof_dir(proc), incr), "rb") as fh:
        data = fh.read()
    from ferrous.persistence.aof_format import read_commands
    return [argv for argv, _end in read_commands(data)]


def _normalized(commands: list) -> list:
    """Deadlines and float renderings vary between runs: keep their shape only."""
    out = []
    for argv in commands:
        argv = [arg.decode("latin-1") for arg in argv]
        argv = [re.sub(r"^1\d{12}$", "<ms>", arg) for arg in argv]
        out.append(argv)
    return out


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.fixture(params=KINDS)
def aof_server(request):
    proc = ServerProcess(request.param, AOF_ARGS)
    yield proc
    proc.stop()


# -- what each command writes -----------------------------------------------------------
SCRIPT = [
    ("set", "s1", "v"), ("set", "s1", "v2", "NX"), ("set", "s2", "v", "EX", "100"),
    ("set", "s3", "v", "PX", "100000", "GET"), ("set", "s4", "v", "PXAT", "1900000000000"),
    ("setex", "s5", "100", "v"), ("psetex", "s6", "100000", "v"), ("setnx", "s7", "v"),
    ("expire", "s1", "100"), ("pexpire", "s1", "100000"), ("expireat", "s1", "1900000000"),
    ("pexpireat", "s1", "1900000000000"), ("expire", "s1", "200", "GT"), ("persist", "s1"),
    ("expire", "s7", "-1"), ("del", "nokey"), ("getex", "s2", "EX", "50"),
    ("getex", "s2", "PERSIST"), ("getdel", "s3"), ("incrbyfloat", "f", "1.5"),
    ("incr", "n"), ("append", "n", "0"), ("mset", "m1", "a", "m2", "b"),
    ("hset", "h", "a", "1"), ("hincrbyfloat", "h", "a", "0.25"), ("hdel", "h", "zz"),
    ("rpush", "l", "a", "b", "c", "d"), ("lpop", "l"), ("lmpop", "1", "l", "RIGHT", "COUNT", "2"),
    ("blpop", "l", "0"), ("rpush", "l2", "x", "y"), ("blmove", "l2", "l3", "LEFT", "RIGHT", "0"),
    ("brpoplpush", "l2", "l3", "0"), ("lmove", "l3", "l4", "RIGHT", "LEFT"),
    ("sadd", "st", "a"), ("spop", "st"), ("zadd", "z", "1", "a", "2", "b", "3", "c"),
    ("zpopmin", "z"), ("bzpopmax", "z", "0"), ("zmpop", "1", "z", "MIN"), ("zincrby", "z", "1", "q"),
    ("pfadd", "hll", "a", "b"), ("setbit", "bits", "7", "1"), ("publish", "chan", "msg"),
    ("select", "2"), ("set", "d2", "v"), ("move", "d2", "3"), ("swapdb", "2", "3"), ("select", "0"),
    ("copy", "m1", "m3"), ("rename", "m3", "m4"), ("flushdb",), ("set", "after", "flush"),
]


def test_each_command_writes_what_redis_writes(aof_server, request):
    client = redis.Redis(port=aof_server.port, protocol=2)
    for argv in SCRIPT:
        client.execute_command(*argv)
    pipe = client.pipeline(transaction=True)
    pipe.set("t", "1").incr("t").get("t")
    pipe.execute()
    pipe = client.pipeline(transaction=True)
    pipe.set("t1", "1").get("t1")
    pipe.execute()
    client.close()
    got = _normalized(_incr_commands(aof_server))
    assert got == EXPECTED, "\n".join(" ".join(c) for c in got)


EXPECTED = [
    ["SELECT", "0"], ["set", "s1", "v"], ["SET", "s2", "v", "PXAT", "<ms>"],
    ["SET", "s3", "v", "PXAT", "<ms>"], ["SET", "s4", "v", "PXAT", "<ms>"],
    ["SET", "s5", "v", "PXAT", "<ms>"], ["SET", "s6", "v", "PXAT", "<ms>"], ["setnx", "s7", "v"],
    ["PEXPIREAT", "s1", "<ms>"], ["PEXPIREAT", "s1", "<ms>"], ["PEXPIREAT", "s1", "<ms>"],
    ["pexpireat", "s1", "<ms>"], ["persist", "s1"],
    ["DEL", "s7"], ["PEXPIREAT", "s2", "<ms>"], ["PERSIST", "s2"], ["DEL", "s3"],
    ["SET", "f", "1.5", "KEEPTTL"], ["incr", "n"], ["append", "n", "0"],
    ["mset", "m1", "a", "m2", "b"], ["hset", "h", "a", "1"], ["HSET", "h", "a", "1.25"],
    ["rpush", "l", "a", "b", "c", "d"], ["lpop", "l"], ["RPOP", "l", "2"], ["LPOP", "l"],
    ["rpush", "l2", "x", "y"], ["LMOVE", "l2", "l3", "LEFT", "RIGHT"],
    ["RPOPLPUSH", "l2", "l3"], ["lmove", "l3", "l4", "RIGHT", "LEFT"], ["sadd", "st", "a"],
    ["SREM", "st", "a"], ["zadd", "z", "1", "a", "2", "b", "3", "c"], ["zpopmin", "z"],
    ["ZPOPMAX", "z"], ["ZPOPMIN", "z", "1"], ["zincrby", "z", "1", "q"],
    ["pfadd", "hll", "a", "b"], ["setbit", "bits", "7", "1"],
    ["SELECT", "2"], ["set", "d2", "v"], ["move", "d2", "3"], ["swapdb", "2", "3"],
    ["SELECT", "0"], ["copy", "m1", "m3"], ["rename", "m3", "m4"], ["flushdb"],
    ["set", "after", "flush"],
    ["MULTI"], ["SET", "t", "1"], ["INCRBY", "t", "1"], ["EXEC"], ["SET", "t1", "1"],
]


# -- the layout, restarts and rewrites ---------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_fresh_start_creates_base_and_incr_and_data_survives_restart(kind, tmp_path):
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    try:
        assert _manifest(proc) == [["file", "appendonly.aof.1.base.aof", "seq", "1", "type", "b"],
                                   ["file", "appendonly.aof.1.incr.aof", "seq", "1", "type", "i"]]
        client = redis.Redis(port=proc.port)
        client.set("a", "1")
        client.set("b", "2", ex=1000)
        client.rpush("l", "x", "y")
        client.hset("h", mapping={"f": "v"})
        client.close()
    finally:
        proc.stop()
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        assert client.get("a") == b"1"
        assert 990 <= client.ttl("b") <= 1000
        assert client.lrange("l", 0, -1) == [b"x", b"y"]
        assert client.hgetall("h") == {b"f": b"v"}
        client.close()
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_bgrewriteaof_writes_a_new_base_and_drops_history(kind, tmp_path):
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        for i in range(200):
            client.incr("counter")
        client.rpush("list", *[str(i) for i in range(150)])
        client.zadd("z", {"a": 1.5, "b": 2})
        client.sadd("s", "x")
        client.set("ttl", "v", ex=500)
        client.execute_command("SELECT", 4)
        client.set("db4", "v")
        assert client.bgrewriteaof() is True
        _wait(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0
              and len(_manifest(proc)) == 2 and _manifest(proc)[0][3] == "2")
        assert _manifest(proc) == [["file", "appendonly.aof.2.base.aof", "seq", "2", "type", "b"],
                                   ["file", "appendonly.aof.2.incr.aof", "seq", "2", "type", "i"]]
        assert sorted(os.listdir(_aof_dir(proc))) == ["appendonly.aof.2.base.aof",
                                                     "appendonly.aof.2.incr.aof",
                                                     "appendonly.aof.manifest"]
        with open(os.path.join(_aof_dir(proc), "appendonly.aof.2.base.aof"), "rb") as fh:
            from ferrous.persistence.aof_format import read_commands
            base = [argv for argv, _ in read_commands(fh.read())]
        rpushes = [argv for argv in base if argv[0] == b"RPUSH"]
        assert [len(argv) - 2 for argv in rpushes] == [64, 64, 22]   # 64 items per command
        assert [b"ZADD", b"z", b"1.5", b"a", b"2", b"b"] in base
        assert [b"SET", b"counter", b"200"] in base
        client.execute_command("SELECT", 0)
        client.set("after", "rewrite")
        assert client.info("persistence")["aof_rewrites"] == 1
        client.close()
    finally:
        proc.stop()
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        assert client.get("counter") == b"200" and client.get("after") == b"rewrite"
        assert client.llen("list") == 150 and client.ttl("ttl") > 490
        client.execute_command("SELECT", 4)
        assert client.get("db4") == b"v"
        client.close()
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_bgrewriteaof_replies(kind):
    proc = ServerProcess(kind)
    try:
        client = redis.Redis(port=proc.port)
        client.set("a", "1")
        raw = RawClient(port=proc.port)
        raw.call("MULTI")
        raw.call("BGREWRITEAOF")
        assert raw.call("EXEC") == [Simple("Background append only file rewriting scheduled")]
        raw.close()
        _wait(lambda: client.info("persistence")["aof_rewrites"] >= 1
              and client.info("persistence")["aof_rewrite_in_progress"] == 0)
        # With appendonly off a rewrite writes a base alone.
        assert _manifest(proc) == [["file", "appendonly.aof.1.base.rdb" if kind == "redis" else
                                    _manifest(proc)[0][1], "seq", "1", "type", "b"]]
        assert client.info("persistence")["aof_enabled"] == 0
        client.close()
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_config_set_appendonly_yes_starts_logging(kind):
    proc = ServerProcess(kind, ["--aof-use-rdb-preamble", "no"])
    try:
        client = redis.Redis(port=proc.port)
        client.set("before", "1")
        client.config_set("appendonly", "yes")
        _wait(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0
              and client.info("persistence")["aof_enabled"] == 1
              and any(line[-1] == "b" for line in _manifest(proc)))
        client.set("after", "2")
        _wait(lambda: [b"SET", b"after", b"2"] in _incr_commands(proc))
        client.config_set("appendonly", "no")
        assert client.info("persistence")["aof_enabled"] == 0
        client.close()
    finally:
        proc.stop()


# -- each other's files --------------------------------------------------------------------
@pytest.mark.parametrize("preamble", ["no", "yes"])
@pytest.mark.parametrize("writer,reader", [("ferrous", "redis"), ("redis", "ferrous")])
def test_the_other_server_loads_the_aof(writer, reader, preamble, tmp_path):
    args = AOF_ARGS[:-4] + ["--aof-use-rdb-preamble", preamble] + AOF_ARGS[-2:]
    proc = ServerProcess(writer, args, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        client.set("s", "v")
        client.set("e", "v", ex=1000)
        client.incrbyfloat("f", 2.5)
        client.rpush("l", *"abcdef")
        client.lpop("l")
        client.sadd("set", "1", "2", "3")
        client.zadd("z", {"m": 3.25, "n": -1})
        client.hset("h", mapping={"a": "1", "b": "2"})
        client.pfadd("hll", "x", "y", "z")
        client.execute_command("SELECT", 9)
        client.set("nine", "9")
        pipe = client.pipeline(transaction=True)
        pipe.incr("c").incr("c")
        pipe.execute()
        if preamble == "yes":   # half the data in the RDB base, half in the incremental file
            client.bgrewriteaof()
            _wait(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0
                  and client.info("persistence")["aof_rewrites"] == 1)
            client.set("after-rewrite", "1")
        client.close()
    finally:
        proc.stop()
    if preamble == "yes":
        assert any(name.endswith(".base.rdb") for name in os.listdir(os.path.join(str(tmp_path), "appendonlydir")))
    proc = ServerProcess(reader, args, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        assert client.get("s") == b"v" and 990 < client.ttl("e") <= 1000
        assert client.get("f") == b"2.5"
        assert client.lrange("l", 0, -1) == [b"b", b"c", b"d", b"e", b"f"]
        assert client.smembers("set") == {b"1", b"2", b"3"}
        assert client.zrange("z", 0, -1, withscores=True) == [(b"n", -1.0), (b"m", 3.25)]
        assert client.hgetall("h") == {b"a": b"1", b"b": b"2"}
        assert client.pfcount("hll") == 3
        client.execute_command("SELECT", 9)
        assert client.get("nine") == b"9" and client.get("c") == b"2"
        if preamble == "yes":
            client.execute_command("SELECT", 9)
            assert client.get("after-rewrite") == b"1"
        client.close()
    finally:
        proc.stop()


# -- torn tails -------------------------------------------------------------------------------
def _write_then_tear(kind, tmp_path, tail: bytes):
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    client = redis.Redis(port=proc.port)
    client.set("a", "1")
    client.set("b", "2")
    client.close()
    proc.stop()
    incr = os.path.join(str(tmp_path), "appendonlydir", "appendonly.aof.1.incr.aof")
    with open(incr, "ab") as fh:
        fh.write(tail)
    return incr


@pytest.mark.parametrize("kind", KINDS)
def test_a_torn_tail_is_truncated_when_allowed(kind, tmp_path):
    incr = _write_then_tear(kind, tmp_path, b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1")
    size_before = os.path.getsize(incr)
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        assert client.get("a") == b"1" and client.get("b") == b"2" and client.get("c") is None
        assert os.path.getsize(incr) < size_before
        client.close()
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_a_torn_tail_stops_the_server_when_not_allowed(kind, tmp_path):
    _write_then_tear(kind, tmp_path, b"*2\r\n$3\r\nDEL\r\n$1")
    with pytest.raises(RuntimeError, match="failed to start"):
        ServerProcess(kind, AOF_ARGS + ["--aof-load-truncated", "no"], directory=str(tmp_path))


@pytest.mark.parametrize("kind", KINDS)
def test_an_unfinished_multi_at_the_end_is_dropped(kind, tmp_path):
    _write_then_tear(kind, tmp_path, b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n")
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        assert client.get("b") == b"2" and client.get("x") is None
        client.close()
    finally:
        proc.stop()


# -- acknowledged writes survive a crash --------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_acknowledged_writes_survive_kill_9_with_appendfsync_always(kind, tmp_path):
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    acknowledged: list = []
    stop = threading.Event()

    def writer(index: int):
        client = redis.Redis(port=proc.port, socket_timeout=5)
        n = 0
        try:
            while not stop.is_set():
                key = f"w{index}:{n}"
                client.set(key, n)
                acknowledged.append(key)
                n += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    _wait(lambda: len(acknowledged) >= 300)
    proc.kill()
    stop.set()
    for thread in threads:
        thread.join(10)
    proc = ServerProcess(kind, AOF_ARGS, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        pipe = client.pipeline(transaction=False)
        for key in acknowledged:
            pipe.exists(key)
        assert all(pipe.execute()), "an acknowledged write was lost"
        client.close()
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_the_aof_is_rewritten_automatically_when_it_grows(kind, tmp_path):
    # appendfsync no: 3000 fsyncs would measure the disk, not the rewrite trigger.
    args = ["--appendonly", "yes", "--appendfsync", "no", "--aof-use-rdb-preamble", "no", "--hz", "100",
            "--auto-aof-rewrite-min-size", "64kb", "--auto-aof-rewrite-percentage", "100"]
    proc = ServerProcess(kind, args, directory=str(tmp_path))
    try:
        client = redis.Redis(port=proc.port)
        pipe = client.pipeline(transaction=False)
        for i in range(3000):
            pipe.set("key", "x" * 40)      # the same key: the AOF grows, the data doesn't
        pipe.execute()
        _wait(lambda: client.info("persistence")["aof_rewrites"] >= 1
              and client.info("persistence")["aof_rewrite_in_progress"] == 0, timeout=20)
        base = [line for line in _manifest(proc) if line[-1] == "b"][0]
        assert int(base[3]) >= 2            # a new base replaced the first one
        assert client.get("key") == b"x" * 40
        client.close()
    finally:
        proc.stop()
