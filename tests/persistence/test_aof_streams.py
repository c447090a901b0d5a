"""Streams in the AOF (rewriteStreamObject's command form and the RDB preamble), in
RDB files and in DUMP payloads, against real Redis 7.0 both ways: groups, PELs
(also entries deleted while pending), empty streams, consumers without pending
entries. Each state is compared with XINFO STREAM FULL (seen-time masked)."""
from __future__ import annotations

import os
import shutil

import pytest
import redis

from aof_helpers import aof_dir, parse_commands, wait
from resp_client import RawClient
from servers import ServerProcess, redis_available

pytestmark = pytest.mark.skipif(not redis_available(), reason="needs redis-server 7.0")

KINDS = ["ferrous", "redis"]
T0 = 1700000000000          # delivery times are set with XCLAIM TIME: reproducible


def populate(port: int) -> None:
    r = redis.Redis(port=port, protocol=2)
    # several nodes (100 entries each), same-field and different-field entries, tombstones
    for i in range(1, 251):
        fields = {"a": i, "b": "x" * (i % 7)} if i % 9 else {"other": i}
        r.xadd("big", fields, id=f"{i}-{i % 3}")
    r.xdel("big", "5-2", "6-0", "120-0")
    r.xtrim("big", minid="3", approximate=False)
    r.xgroup_create("big", "workers", id="0")
    r.xgroup_create("big", "late", id="$")
    r.xgroup_create("big", "mid", id="100-1", entries_read=90)
    r.xreadgroup("workers", "alice", {"big": ">"}, count=5)
    r.xreadgroup("workers", "bob", {"big": ">"}, count=3)
    r.xgroup_createconsumer("big", "workers", "idle-one")
    r.xgroup_createconsumer("big", "late", "nobody")
    pending = [entry["message_id"] for entry in r.xpending_range("big", "workers", "-", "+", 100)]
    for n, stream_id in enumerate(pending):
        owner = "bob" if n % 2 else "alice"
        r.xclaim("big", "workers", owner, 0, [stream_id], time=T0 + n, retrycount=n + 1, justid=True)
    r.xdel("big", pending[1])          # pending entries whose entry is gone
    r.xdel("big", pending[4])
    # an empty stream with a group; one emptied by XDEL; one emptied by MAXLEN
    r.xgroup_create("empty", "g", id="0", mkstream=True)
    r.xadd("deleted", {"f": "v"}, id="5-5")
    r.xdel("deleted", "5-5")
    r.xadd("trimmed", {"f": "v"}, id="7-1")
    r.xadd("trimmed", {"f": "v"}, id="9-1", maxlen=0)
    # another database, with an expiry
    r2 = redis.Redis(port=port, db=2, protocol=2)
    r2.xadd("db2", {"k": "v"}, id="1-1")
    r2.xgroup_create("db2", "g", id="0")
    r2.xreadgroup("g", "c", {"db2": ">"})
    r2.xclaim("db2", "g", "c", 0, ["1-1"], time=T0, retrycount=4, justid=True)
    r2.pexpireat("db2", 4102444800000)      # a fixed deadline (year 2100)
    r.close()
    r2.close()


def _masked(value):
    """XINFO STREAM FULL with the consumers' seen-time (the load time) masked."""
    if isinstance(value, list):
        out = []
        for n, item in enumerate(value):
            out.append("<t>" if n and value[n - 1] == b"seen-time" else _masked(item))
        return out
    return value


def state(port: int) -> dict:
    """{(db, key): (masked XINFO STREAM FULL, has TTL)} of every stream."""
    out = {}
    for db in (0, 2):
        raw = RawClient(port=port)
        raw.call("SELECT", db)
        for key in raw.call("KEYS", "*"):
            info = raw.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")
            out[(db, key)] = (_masked(info), raw.call("PTTL", key) > 0)
        raw.close()
    return out


def _rewrite(port: int) -> None:
    client = redis.Redis(port=port)
    before = client.info("persistence")["aof_rewrites"]
    client.bgrewriteaof()
    wait(lambda: client.info("persistence")["aof_rewrites"] > before
         and client.info("persistence")["aof_rewrite_in_progress"] == 0, timeout=30, what="rewrite")
    client.close()


def _base_commands(proc) -> dict:
    """The command-form base file, grouped by (db, key) (key order differs by server)."""
    with open(os.path.join(aof_dir(proc), _base_name(proc)), "rb") as fh:
        commands = parse_commands(fh.read())
    grouped, db = {}, None
    for argv in commands:
        if argv[0] == b"SELECT":
            db = int(argv[1])
            continue
        key = argv[2] if argv[0] == b"XGROUP" else argv[1]
        grouped.setdefault((db, key), []).append(argv)
    return grouped


def _base_name(proc) -> str:
    with open(os.path.join(aof_dir(proc), "appendonly.aof.manifest")) as fh:
        return [line.split()[1] for line in fh.read().splitlines() if line.endswith(" b")][-1]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """For each writer kind and preamble setting: the AOF directory after a rewrite,
    and the state the writer had."""
    out = {}
    for kind in KINDS:
        for preamble in ("no", "yes"):
            proc = ServerProcess(kind, ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble])
            try:
                populate(proc.port)
                _rewrite(proc.port)
                commands = _base_commands(proc) if preamble == "no" else None
                saved = str(tmp_path_factory.mktemp(f"{kind}-{preamble}"))
                shutil.copytree(aof_dir(proc), os.path.join(saved, "appendonlydir"))
                out[(kind, preamble)] = (saved, state(proc.port), commands)
            finally:
                proc.stop()
    # the reference: what real Redis rebuilds from its own files
    reference = {preamble: _load("redis", out[("redis", preamble)][0], preamble,
                                 tmp_path_factory.mktemp("reference"))
                 for preamble in ("no", "yes")}
    return out, reference


def _load(kind: str, saved: str, preamble: str, tmp_path) -> dict:
    directory = str(tmp_path / f"load-{kind}")
    shutil.copytree(saved, directory)
    proc = ServerProcess(kind, ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble],
                         directory=directory)
    try:
        return state(proc.port)
    finally:
        proc.stop()


def test_command_form_base_is_what_redis_writes(written):
    files = written[0]
    ferrous, redis_ = files[("ferrous", "no")][2], files[("redis", "no")][2]
    assert sorted(ferrous) == sorted(redis_)
    for key in redis_:
        assert ferrous[key] == redis_[key], key
    # the forms of rewriteStreamObject are all there
    assert redis_[(0, b"empty")][0] == [b"XADD", b"empty", b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    assert [b"XGROUP", b"CREATECONSUMER", b"big", b"workers", b"idle-one"] in redis_[(0, b"big")]
    assert [b"XCLAIM", b"db2", b"g", b"c", b"0", b"1-1", b"TIME", b"%d" % T0, b"RETRYCOUNT", b"4",
            b"JUSTID", b"FORCE"] in redis_[(2, b"db2")]


@pytest.mark.parametrize("preamble", ["no", "yes"])
@pytest.mark.parametrize("writer", KINDS)
def test_each_loads_what_each_wrote(written, writer, preamble, tmp_path):
    files, reference = written
    saved, before, _commands = files[(writer, preamble)]
    loaded = {kind: _load(kind, saved, preamble, tmp_path) for kind in KINDS}
    assert loaded["ferrous"] == loaded["redis"] == reference[preamble]
    if preamble == "yes":
        assert loaded["redis"] == before            # the RDB keeps everything
    else:
        # XCLAIM drops a pending entry whose stream entry is gone, as in Redis
        assert loaded["redis"] != before
        assert _pel_count(loaded["redis"], b"workers") == _pel_count(before, b"workers") - 2


def _pel_count(state_: dict, group: bytes) -> int:
    info = state_[(0, b"big")][0]
    groups = info[info.index(b"groups") + 1]
    for entry in groups:
        fields = dict(zip(entry[0::2], entry[1::2]))
        if fields[b"name"] == group:
            return fields[b"pel-count"]
    raise AssertionError(group)


@pytest.mark.parametrize("direction", ["ferrous->redis", "redis->ferrous"])
def test_dump_restore_and_rdb_across_servers(direction, tmp_path):
    source_kind, target_kind = direction.split("->")
    source = ServerProcess(source_kind)
    target = ServerProcess(target_kind)
    try:
        populate(source.port)
        expected = state(source.port)
        for db in (0, 2):
            src = redis.Redis(port=source.port, db=db)
            dst = redis.Redis(port=target.port, db=db)
            for key in src.keys("*"):
                assert dst.restore(key, max(src.pttl(key), 0), src.dump(key)) == b"OK"
            src.close()
            dst.close()
        assert state(target.port) == expected
        # and through an RDB file: the target saves, the source's kind loads it
        assert redis.Redis(port=target.port).save() is True
        directory = str(tmp_path / "reload")
        os.makedirs(directory)
        shutil.copy(os.path.join(target.dir, "dump.rdb"), directory)
        reloaded = ServerProcess(source_kind, directory=directory)
        try:
            assert state(reloaded.port) == expected
        finally:
            reloaded.stop()
    finally:
        source.stop()
        target.stop()
