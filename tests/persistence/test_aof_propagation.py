"""What every write command of Redis 7.0 propagates, compared byte for byte between
Ferrous and real Redis 7.0.15: the AOF (appendonly yes) and the replication stream
(a raw PSYNC link), case by case.

Each case is a small script; both servers run it and the commands each one wrote
between two barrier writes must be equal. Only what is legitimately random is
normalized: unix times in ms, clock-generated stream IDs, members picked at random,
and the order of the DELs a SCAN makes (hash-table order).
"""
from __future__ import annotations

import time

import pytest

from aof_helpers import Side, normalized, wait
from resp_client import encode_command


# -- steps a case is made of ------------------------------------------------------------------
class Block:
    """Send a blocking command on a second connection (in database db); wait until
    it is blocked."""

    def __init__(self, *argv, db: int = 0):
        self.argv = argv
        self.db = db


class Served:
    """Wait for the replies of every connection opened by Block."""


class Clock:
    """Let ms milliseconds of wall time pass (keys with a PX deadline expire)."""

    def __init__(self, ms: int):
        self.ms = ms


class AwaitDel:
    """Wait until the server itself deleted key (active expiry), without touching it."""

    def __init__(self, key: str):
        self.key = key


class Call:
    """Run fn(client) for steps that need a reply of an earlier step (DUMP, RESTORE)."""

    def __init__(self, fn):
        self.fn = fn


def _dump_and_restore(key: str):
    def run(client):
        payload = client.call("DUMP", key)
        client.call("DEL", key)
        client.call("RESTORE", key, "0", payload)
    return Call(run)


def _function_dump_flush_restore(client):
    payload = client.call("FUNCTION", "DUMP")
    client.call("FUNCTION", "FLUSH")
    client.call("FUNCTION", "RESTORE", payload)
    client.call("FUNCTION", "RESTORE", payload, "REPLACE")
    client.call("FUNCTION", "RESTORE", payload, "APPEND")       # an error: already there


_migrate_target: list = []


def _migrate_to_a_target(client):
    """MIGRATE is propagated as DEL of the keys the target acknowledged (none with COPY)."""
    if not _migrate_target:
        import atexit
        from servers import ServerProcess
        _migrate_target.append(ServerProcess("redis"))
        atexit.register(_migrate_target[0].stop)
    port = str(_migrate_target[0].port)
    from resp_client import RawClient
    target = RawClient(port=_migrate_target[0].port)
    target.call("FLUSHALL")             # both sides start from an empty target
    target.close()
    client.call("MSET", "m1", "1", "m2", "2", "m3", "3", "m4", "4")
    client.call("MIGRATE", "127.0.0.1", port, "", "0", "5000", "KEYS", "m2", "m3", "m4")
    client.call("MSET", "m1", "1", "m2", "2", "m3", "3", "m4", "4")
    client.call("MIGRATE", "127.0.0.1", port, "m1", "0", "5000", "COPY")
    client.call("MIGRATE", "127.0.0.1", port, "m1", "0", "5000", "REPLACE")
    client.call("MIGRATE", "127.0.0.1", port, "", "0", "5000", "REPLACE", "KEYS", "m2", "none")
    client.call("MIGRATE", "127.0.0.1", port, "", "0", "5000", "KEYS", "m3", "m4")  # BUSYKEY m3, m4
    client.call("MIGRATE", "127.0.0.1", port, "none", "0", "5000")
    client.call("SELECT", "3")
    client.call("SET", "m5", "5")
    client.call("MIGRATE", "127.0.0.1", port, "m5", "4", "5000", "REPLACE")
    client.call("SELECT", "0")


class Case:
    def __init__(self, name: str, *steps, random_members: bool = False, hash_order: bool = False,
                 primary_only=()):
        self.name = name
        self.steps = steps
        self.random_members = random_members   # SPOP's picks: keep only their number
        self.hash_order = hash_order            # SCAN's DELs come in hash-table order
        self.primary_only = set(primary_only)   # keys that by design never reach replicas


def _run(side: Side, case: Case) -> None:
    client = side.client()
    blocked: list = []
    try:
        for step in case.steps:
            if isinstance(step, Block):
                before = side.blocked_clients()
                conn = side.client()
                if step.db:
                    conn.call("SELECT", step.db)
                conn.send_raw(encode_command(*step.argv))
                blocked.append(conn)
                wait(lambda: side.blocked_clients() > before, what="client blocked")
            elif isinstance(step, Served):
                for conn in blocked:
                    conn.read_reply()
                    conn.close()
                blocked = []
            elif isinstance(step, Call):
                step.fn(client)
            elif isinstance(step, Clock):
                time.sleep(step.ms / 1000)
            elif isinstance(step, AwaitDel):
                marker = [b"DEL", step.key.encode()]
                wait(lambda: marker in side.aof()[side.aof_seen:], what=f"active expiry of {step.key}")
            else:
                client.call(*step)      # error replies are part of some cases
    finally:
        client.close()
        for conn in blocked:
            conn.close()


def _masked(commands: list, case: Case) -> list:
    out = normalized(commands)
    if case.random_members:
        out = [argv[:2] + ["<m>"] * (len(argv) - 2) if argv[0].upper() == "SREM" else argv
               for argv in out]
    if case.hash_order:
        out = _sorted_runs_of_del(out)
    return out


def _sorted_runs_of_del(commands: list) -> list:
    out, run = [], []
    for argv in commands + [None]:
        if argv is not None and argv[0] == "DEL":
            run.append(argv)
            continue
        out.extend(sorted(run))
        run = []
        if argv is not None:
            out.append(argv)
    return out


@pytest.fixture(scope="module")
def sides():
    pair = [Side("ferrous"), Side("redis")]
    yield pair
    for side in pair:
        side.stop()


# -- the cases --------------------------------------------------------------------------------
DUMPED_X = b"\x00\x01x\n\x00\"\x80\x86_\xbd\xe8H\xd0"   # DUMP of the string "x"
LUA_TWO_WRITES = "redis.call('set', KEYS[1], 'v'); redis.call('incr', KEYS[2]); return 1"
LUA_ONE_WRITE = "redis.call('get', KEYS[1]); return redis.call('rpush', KEYS[1], 'x')"
LUA_READS = "return redis.call('get', KEYS[1])"
LUA_SET_REPL = ("redis.set_repl(redis.REPL_AOF); redis.call('set', KEYS[1], 'aof');"
                "redis.set_repl(redis.REPL_REPLICA); redis.call('set', KEYS[2], 'replica');"
                "redis.set_repl(redis.REPL_NONE); redis.call('set', KEYS[3], 'none');"
                "redis.set_repl(redis.REPL_ALL); redis.call('set', KEYS[4], 'all'); return 1")
LIBRARY = ("#!lua name=proplib\n"
           "redis.register_function('pset', function(keys, args) "
           "redis.call('set', keys[1], args[1]); return redis.call('incr', keys[2]) end)\n"
           "redis.register_function{function_name='pget', callback=function(keys, args) "
           "return redis.call('get', keys[1]) end, flags={'no-writes'}}")

CASES = [
    # strings
    Case("set_family",
         ("debug", "set-active-expire", "0"),    # the key given a past EXAT expires lazily
         ("set", "s", "v"), ("set", "s", "v", "XX", "GET"), ("set", "s", "v", "NX"),
         ("set", "s", "v", "EX", "100"), ("set", "s", "v", "PX", "100000", "KEEPTTL"),
         ("set", "s", "v", "KEEPTTL"), ("set", "s", "v", "EXAT", "1900000000"),
         ("set", "s", "v", "PXAT", "1900000000000"), ("set", "s", "v", "EXAT", "1000"),
         ("setex", "s", "100", "v"), ("psetex", "s", "100000", "v"), ("setnx", "s", "v"),
         ("setnx", "s2", "v"), ("getset", "s2", "w"), ("mset", "a", "1", "b", "2"),
         ("msetnx", "a", "1", "c", "3"), ("msetnx", "c", "3", "d", "4"),
         ("debug", "set-active-expire", "1")),
    Case("string_updates",
         ("incr", "n"), ("decr", "n"), ("incrby", "n", "10"), ("decrby", "n", "3"),
         ("incrbyfloat", "f", "1.1"), ("incrbyfloat", "f", "1e3"), ("set", "f", "3", "EX", "100"),
         ("incrbyfloat", "f", "0.5"), ("append", "a", "xy"), ("setrange", "a", "5", "z"),
         ("setrange", "a", "0", ""), ("incr", "a")),
    Case("getex_getdel",
         ("set", "g", "v"), ("getex", "g"), ("getex", "g", "EX", "100"), ("getex", "g", "PX", "5000"),
         ("getex", "g", "EXAT", "1900000000"), ("getex", "g", "PXAT", "1900000000000"),
         ("getex", "g", "PERSIST"), ("getex", "g", "PERSIST"), ("getex", "g", "EXAT", "1000"),
         ("set", "g", "v"), ("getdel", "g"), ("getdel", "g")),
    # generic keyspace commands
    Case("expire_family",
         ("set", "k", "v"), ("expire", "k", "100"), ("expire", "k", "50", "GT"),
         ("expire", "k", "500", "GT"), ("expire", "k", "50", "LT"), ("expire", "k", "50", "NX"),
         ("expire", "k", "70", "XX"), ("pexpire", "k", "90000"), ("expireat", "k", "1900000000"),
         ("pexpireat", "k", "1900000000000"), ("persist", "k"), ("persist", "k"),
         ("expire", "k", "100", "XX"), ("expire", "k", "100", "NX"), ("expire", "nokey", "10"),
         ("set", "k2", "v"), ("expire", "k2", "0"), ("set", "k3", "v"), ("pexpire", "k3", "-5"),
         ("set", "k4", "v"), ("expireat", "k4", "1000"), ("set", "k5", "v"),
         ("pexpireat", "k5", "1000", "NX")),
    Case("delete_rename_copy_move",
         ("mset", "a", "1", "b", "2", "c", "3"), ("del", "a", "nokey"), ("unlink", "b"),
         ("del", "nokey"), ("rename", "c", "d"), ("set", "e", "5"), ("renamenx", "d", "e"),
         ("renamenx", "d", "f"), ("copy", "f", "g"), ("copy", "f", "g"), ("copy", "f", "g", "REPLACE"),
         ("copy", "f", "g", "DB", "5"), ("move", "g", "6"), ("move", "nokey", "6"),
         ("set", "h", "1", "EX", "100"), ("rename", "h", "h2"), ("copy", "h2", "h3")),
    Case("restore_and_object",
         ("rpush", "src", "a", "b"), ("set", "blob", "x"),
         ("eval", "local d = redis.call('dump', 'src'); redis.call('del', 'src');"
                  "return redis.call('restore', 'src', 0, d)", "0"),
         ("restore", "r1", "0", DUMPED_X),
         ("restore", "r1", "0", DUMPED_X, "REPLACE"),
         ("restore", "r2", "100000", DUMPED_X),
         ("restore", "r3", "1900000000000", DUMPED_X,
          "ABSTTL", "IDLETIME", "10"),
         ("restore", "r4", "0", DUMPED_X, "FREQ", "5"),
         ("object", "encoding", "r1"), ("touch", "r1"), _dump_and_restore("blob"),
         ("restore", "r1", "0", DUMPED_X), ("restore", "r5", "0", b"garbage"),
         ("restore-asking", "r6", "0", DUMPED_X),
         ("restore", "r6", "1000", DUMPED_X, "ABSTTL", "REPLACE"),    # past: the key goes
         ("restore", "r7", "1000", DUMPED_X, "ABSTTL")),

    Case("sort_store",
         ("rpush", "sl", "3", "1", "2"), ("sort", "sl", "STORE", "dst"),
         ("sort", "sl", "DESC", "LIMIT", "0", "2", "STORE", "dst2"), ("sort", "nokey", "STORE", "dst"),
         ("sort", "sl")),
    # lists
    Case("list_writes",
         ("rpush", "l", "a", "b", "c", "d", "e", "f"), ("lpush", "l", "z"), ("lpushx", "l", "y"),
         ("rpushx", "nol", "x"), ("linsert", "l", "BEFORE", "a", "q"), ("lset", "l", "0", "w"),
         ("lrem", "l", "1", "q"), ("ltrim", "l", "1", "-2"), ("lpop", "l"), ("rpop", "l", "2"),
         ("lpop", "l", "0"), ("rpoplpush", "l", "l2"), ("lmove", "l", "l2", "LEFT", "LEFT"),
         ("lmpop", "2", "nol", "l", "LEFT"), ("lmpop", "1", "l", "RIGHT", "COUNT", "10"),
         ("lpop", "l")),
    Case("list_blocking_served_at_once",
         ("rpush", "bl", "a", "b", "c", "d", "e", "f"), ("blpop", "nol", "bl", "0"),
         ("brpop", "bl", "0"), ("blmpop", "0", "1", "bl", "LEFT", "COUNT", "2"),
         ("blmpop", "0", "1", "bl", "RIGHT"), ("blmove", "bl", "bl2", "RIGHT", "LEFT", "0"),
         ("brpoplpush", "bl2", "bl3", "0")),
    Case("list_blocking_served_after_blocking",
         Block("blpop", "w1", "0"), ("rpush", "w1", "a", "b"), Served(),
         Block("brpop", "w2", "0"), ("lpush", "w2", "x"), Served(),
         Block("blmove", "w3", "w3dst", "LEFT", "RIGHT", "0"), ("rpush", "w3", "m"), Served(),
         Block("brpoplpush", "w4", "w4dst", "0"), ("rpush", "w4", "m"), Served(),
         Block("blmpop", "0", "1", "w5", "RIGHT", "COUNT", "5"), ("rpush", "w5", "1", "2", "3"), Served(),
         Block("blpop", "w6", "0"), Block("blpop", "w6", "0"), ("rpush", "w6", "1", "2", "3"), Served()),
    Case("list_blocking_chain",
         Block("blpop", "dst", "0"), Block("blmove", "src", "dst", "LEFT", "RIGHT", "0"),
         ("rpush", "src", "a", "b"), Served()),
    Case("list_blocking_woken_by_script",
         Block("brpop", "wl", "0"),
         ("eval", "redis.call('rpush', KEYS[1], 'a'); return redis.call('rpush', KEYS[1], 'b')",
          "1", "wl"), Served()),
    Case("list_blocking_in_other_db",
         Block("blpop", "od", "0", db=3), Block("bzpopmin", "oz", "0", db=5),
         ("select", "3"), ("rpush", "od", "a"), ("select", "5"), ("zadd", "oz", "1", "m"),
         ("select", "0"), ("set", "back", "v"), Served()),
    Case("list_blocking_in_multi",
         Block("blpop", "wm", "0"),
         ("multi",), ("rpush", "wm", "a"), ("rpush", "wm", "b"), ("exec",), Served()),
    Case("writes_that_change_nothing",
         ("rpush", "l", "a", "b"), ("lrem", "l", "0", "zz"), ("linsert", "l", "AFTER", "zz", "x"),
         ("ltrim", "l", "0", "-1"), ("lset", "l", "9", "x"), ("lmove", "l", "l", "LEFT", "RIGHT"),
         ("hdel", "noh", "f"), ("zrem", "noz", "m"), ("srem", "nos", "m"), ("xdel", "nox", "1-0"),
         ("zadd", "z", "1", "m"), ("zremrangebyscore", "z", "5", "9"), ("zadd", "z", "1", "m"),
         ("set", "s", "v"), ("setbit", "s", "0", "0"), ("append", "s", ""), ("incrby", "n", "0"),
         ("rename", "s", "s"), ("renamenx", "s", "s"), ("copy", "s", "s"), ("move", "s", "0"),
         ("del",), ("expire", "s", "abc"), ("getdel", "nokey"), ("getex", "nokey", "EX", "5"),
         ("sort", "l", "ALPHA", "STORE", "l"), ("bitop", "AND", "dst", "nokey1", "nokey2")),
    Case("stores_of_nothing_into_missing_keys",
         ("sinterstore", "d1", "nokey"), ("sunionstore", "d2", "nokey"), ("sdiffstore", "d3", "nokey"),
         ("zunionstore", "d4", "1", "nokey"), ("zinterstore", "d5", "1", "nokey"),
         ("zdiffstore", "d6", "1", "nokey"), ("zrangestore", "d7", "nokey", "0", "-1"),
         ("sort", "nokey", "STORE", "d8"), ("georadius", "nokey", "0", "0", "1", "km", "STORE", "d9"),
         ("geosearchstore", "d10", "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
         ("pfmerge", "d11", "nokey"), ("bitop", "OR", "d12", "nokey"), ("smove", "nokey", "d13", "m"),
         ("rpoplpush", "nokey", "d14"), ("lmpop", "1", "nokey", "LEFT"), ("zmpop", "1", "nokey", "MIN"),
         ("spop", "nokey"), ("zpopmin", "nokey", "3"), ("xtrim", "nokey", "MAXLEN", "0"),
         ("xautoclaim", "nokey", "g", "c", "0", "0")),
    # hashes
    Case("hash_writes",
         ("hset", "h", "a", "1", "b", "2"), ("hsetnx", "h", "a", "9"), ("hsetnx", "h", "c", "3"),
         ("hmset", "h", "d", "4"), ("hincrby", "h", "a", "5"), ("hincrbyfloat", "h", "b", "0.5"),
         ("hincrbyfloat", "h", "new", "2e2"), ("hdel", "h", "a", "zz"), ("hdel", "h", "zz"),
         ("hdel", "h", "b", "c", "d", "new")),
    # sets
    Case("set_writes",
         ("sadd", "st", "a", "b", "c"), ("sadd", "st", "a"), ("srem", "st", "a", "zz"),
         ("srem", "st", "zz"), ("smove", "st", "st2", "b"), ("smove", "st", "st2", "zz"),
         ("sadd", "o", "c", "x"), ("sinterstore", "d1", "st", "o"), ("sunionstore", "d2", "st", "o"),
         ("sdiffstore", "d3", "o", "st"), ("sdiffstore", "d3", "nokey"), ("sinterstore", "d2", "nokey"),
         ("smove", "st", "st", "c"), ("smove", "o", "st2", "x"), ("smove", "o", "st2", "c")),
    Case("spop_single",
         ("sadd", "sp", "only"), ("spop", "sp"), ("spop", "sp"), ("sadd", "sp", "1", "2"),
         ("spop", "sp"), random_members=True),
    Case("spop_count_covers_set",
         ("sadd", "sp", "a", "b", "c"), ("spop", "sp", "3"), ("sadd", "sp", "1", "2"),
         ("spop", "sp", "10"), ("spop", "sp", "0"), ("spop", "nokey", "2"), random_members=True),
    Case("spop_small_count",
         ("sadd", "sp", *[f"m{i}" for i in range(20)]), ("spop", "sp", "2"), ("spop", "sp", "1"),
         ("sadd", "ip", *[str(i) for i in range(20)]), ("spop", "ip", "3"), random_members=True),
    Case("spop_count_leaving_few",
         ("sadd", "sp", *[f"m{i}" for i in range(20)]), ("spop", "sp", "17"),
         ("sadd", "ip", *[str(i) for i in range(10)]), ("spop", "ip", "8"), random_members=True),
    Case("spop_many",
         ("sadd", "big", *[f"m{i}" for i in range(3000)]), ("spop", "big", "1500"),
         random_members=True),
    # sorted sets
    Case("zset_writes",
         ("zadd", "z", "1", "a", "2", "b", "3", "c"), ("zadd", "z", "NX", "5", "a", "6", "d"),
         ("zadd", "z", "XX", "CH", "7", "a"), ("zadd", "z", "INCR", "1.5", "a"),
         ("zadd", "z", "GT", "0", "b"), ("zincrby", "z", "2.5", "b"), ("zrem", "z", "d", "zz"),
         ("zrem", "z", "zz"), ("zadd", "z", "4", "e", "5", "f", "6", "g"),
         ("zremrangebyscore", "z", "4", "5"), ("zremrangebyrank", "z", "0", "0"),
         ("zadd", "lx", "0", "a", "0", "b", "0", "c"), ("zremrangebylex", "lx", "[a", "[b"),
         ("zremrangebylex", "lx", "[x", "[y")),
    Case("zset_stores",
         ("zadd", "z1", "1", "a", "2", "b"), ("zadd", "z2", "3", "b", "4", "c"),
         ("zunionstore", "u", "2", "z1", "z2", "WEIGHTS", "1", "2"),
         ("zinterstore", "i", "2", "z1", "z2", "AGGREGATE", "MAX"), ("zdiffstore", "d", "2", "z1", "z2"),
         ("zinterstore", "i", "2", "z1", "nokey"), ("zrangestore", "r", "z2", "0", "-1"),
         ("zrangestore", "r2", "z1", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1"),
         ("zrangestore", "r", "nokey", "0", "-1")),
    Case("zset_pops",
         ("zadd", "zp", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"),
         ("zpopmin", "zp"), ("zpopmax", "zp", "2"), ("zpopmin", "zp", "0"), ("zpopmin", "nokey"),
         ("zmpop", "2", "nokey", "zp", "MAX"), ("zmpop", "1", "zp", "MIN", "COUNT", "10"),
         ("zadd", "zb", "1", "a", "2", "b", "3", "c", "4", "d"), ("bzpopmin", "zb", "0"),
         ("bzpopmax", "zb", "0"), ("bzmpop", "0", "1", "zb", "MIN", "COUNT", "5")),
    Case("zset_blocking_served_after_blocking",
         Block("bzpopmin", "wz1", "0"), ("zadd", "wz1", "1", "a", "2", "b"), Served(),
         Block("bzpopmax", "wz2", "0"), ("zadd", "wz2", "1", "a", "2", "b"), Served(),
         Block("bzmpop", "0", "1", "wz3", "MAX", "COUNT", "3"), ("zadd", "wz3", "1", "a", "2", "b"),
         Served()),
    # bitmaps, HyperLogLog, geo
    Case("bitmaps",
         ("setbit", "bm", "7", "1"), ("setbit", "bm", "100", "0"), ("set", "b2", "ab"),
         ("bitop", "AND", "dst", "bm", "b2"), ("bitop", "NOT", "dst", "b2"), ("bitop", "OR", "dst", "nokey"),
         ("bitfield", "bf", "SET", "u8", "0", "200", "GET", "u8", "0"),
         ("bitfield", "bf", "INCRBY", "u8", "0", "100"),
         ("bitfield", "bf", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "100"),
         ("bitfield", "bf", "GET", "u8", "0"), ("bitfield_ro", "bf", "GET", "u8", "0")),
    Case("hyperloglog",
         ("pfadd", "hl", "a", "b", "c"), ("pfadd", "hl", "a"), ("pfadd", "hl2"), ("pfadd", "hl2"),
         ("pfcount", "hl"), ("pfcount", "hl"), ("pfadd", "hl", "d"), ("pfcount", "hl", "hl2"),
         ("pfmerge", "hl3", "hl", "hl2"), ("pfmerge", "hl3"), ("pfcount", "hl3")),
    Case("hyperloglog_debug", ("pfadd", "hd", "a", "b"), ("pfdebug", "todense", "hd"),
         ("pfdebug", "todense", "hd"), ("pfdebug", "getreg", "hd")),
    Case("geo",
         ("geoadd", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
         ("geoadd", "g", "NX", "13.361389", "38.115556", "Palermo"),
         ("geoadd", "g", "XX", "CH", "13.5", "38.1", "Palermo"),
         ("geosearchstore", "gs", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"),
         ("geosearchstore", "gs2", "g", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km",
          "STOREDIST"),
         ("georadius", "g", "15", "37", "200", "km", "STORE", "gr"),
         ("georadius", "g", "15", "37", "200", "km", "STOREDIST", "gr2"),
         ("georadiusbymember", "g", "Palermo", "300", "km", "STORE", "gr3"),
         ("georadius", "g", "15", "37", "200", "km"), ("georadius", "g", "0", "0", "1", "m", "STORE", "gr")),
    # streams
    Case("streams_basic",
         ("xadd", "x", "1-1", "f", "v"), ("xadd", "x", "*", "f", "v"), ("xadd", "x", "2000-*", "f", "v"),
         ("xadd", "x", "MAXLEN", "2", "3000-0", "f", "v"), ("xadd", "x", "MAXLEN", "~", "1", "*", "f", "v"),
         ("xadd", "x", "NOMKSTREAM", "*", "f", "v"), ("xadd", "nox", "NOMKSTREAM", "*", "f", "v"),
         ("xdel", "x", "3000-0", "9-9"), ("xtrim", "x", "MAXLEN", "1"), ("xtrim", "x", "MAXLEN", "5"),
         ("xadd", "y", "MINID", "=", "0", "5-0", "a", "b"), ("xtrim", "y", "MINID", "~", "10"),
         ("xsetid", "y", "99-0"), ("xsetid", "y", "100-0", "ENTRIESADDED", "10", "MAXDELETEDID", "50-0")),
    Case("streams_trim_approx",
         *[("xadd", "t", f"{i}-0", "f", "v") for i in range(1, 260)],
         ("xadd", "t", "MAXLEN", "~", "10", "300-0", "f", "v"), ("xtrim", "t", "MAXLEN", "~", "5"),
         ("xtrim", "t", "MAXLEN", "~", "5", "LIMIT", "200"), ("xtrim", "t", "MINID", "~", "250")),
    Case("streams_trim_keeps_a_deleted_head",
         *[("xadd", "t", f"{i}-0", "f", "v") for i in range(1, 260)], ("xdel", "t", "101-0", "102-0"),
         ("xtrim", "t", "MINID", "~", "150"), ("xdel", "t", "201-0"),
         ("xadd", "t", "MAXLEN", "~", "50", "300-0", "f", "v"), ("xtrim", "t", "MINID", "~", "1000")),
    Case("stream_groups",
         ("xadd", "s", "1-0", "a", "1"), ("xadd", "s", "2-0", "b", "2"), ("xadd", "s", "3-0", "c", "3"),
         ("xgroup", "create", "s", "g", "0"), ("xgroup", "create", "s", "g2", "$", "ENTRIESREAD", "1"),
         ("xgroup", "create", "new", "g", "$", "MKSTREAM"), ("xgroup", "createconsumer", "s", "g", "alice"),
         ("xgroup", "createconsumer", "s", "g", "alice"),
         ("xreadgroup", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">"),
         ("xreadgroup", "GROUP", "g", "bob", "STREAMS", "s", "0"),
         ("xreadgroup", "GROUP", "g", "carol", "NOACK", "STREAMS", "s", ">"),
         ("xreadgroup", "GROUP", "g", "carol", "STREAMS", "s", ">"),
         ("xack", "s", "g", "1-0", "9-0"), ("xack", "s", "g", "9-0"),
         ("xclaim", "s", "g", "alice", "0", "2-0"),
         ("xclaim", "s", "g", "alice", "0", "2-0", "JUSTID"),
         ("xclaim", "s", "g", "bob", "0", "2-0", "IDLE", "5", "RETRYCOUNT", "3", "FORCE"),
         ("xautoclaim", "s", "g", "dave", "0", "0-0", "COUNT", "5"),
         ("xautoclaim", "s", "g", "dave", "0", "0-0", "JUSTID"),
         ("xgroup", "setid", "s", "g", "1-0"), ("xgroup", "setid", "s", "g", "$", "ENTRIESREAD", "3"),
         ("xgroup", "delconsumer", "s", "g", "alice"), ("xgroup", "destroy", "s", "g2"),
         ("xgroup", "destroy", "s", "nog")),
    Case("stream_deleted_entries",
         ("xadd", "s", "1-0", "a", "1"), ("xadd", "s", "2-0", "b", "2"), ("xgroup", "create", "s", "g", "0"),
         ("xreadgroup", "GROUP", "g", "c", "STREAMS", "s", ">"), ("xdel", "s", "1-0"),
         ("xautoclaim", "s", "g", "d", "0", "0-0"), ("xclaim", "s", "g", "d", "0", "2-0", "1-0")),
    Case("stream_noack_and_limit",
         ("xgroup", "create", "nk", "g", "$", "MKSTREAM"),
         Block("xreadgroup", "GROUP", "g", "c", "NOACK", "BLOCK", "0", "STREAMS", "nk", ">"),
         ("xadd", "nk", "5-0", "f", "v"), Served(),
         *[("xadd", "lim", f"{i}-0", "f", "v") for i in range(1, 300)],
         ("xadd", "lim", "MAXLEN", "~", "10", "LIMIT", "100", "400-0", "f", "v"),
         ("xadd", "lim", "MINID", "~", "250", "LIMIT", "0", "401-0", "f", "v")),
    Case("stream_blocking_served_after_blocking",
         ("xgroup", "create", "ws", "g", "$", "MKSTREAM"),
         Block("xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "ws", ">"),
         ("xadd", "ws", "5-0", "f", "v"), Served(),
         Block("xread", "BLOCK", "0", "STREAMS", "ws", "$"), ("xadd", "ws", "6-0", "f", "v"), Served()),
    # scripting and functions
    Case("eval",
         ("eval", LUA_READS, "1", "k"), ("eval", LUA_ONE_WRITE, "1", "el"),
         ("eval", LUA_TWO_WRITES, "2", "e1", "e2"), ("evalsha", "0" * 40, "0"),
         ("script", "load", LUA_TWO_WRITES), ("script", "flush"),
         ("eval", "redis.call('set', KEYS[1], 'v', 'EX', 100); redis.call('spop', 'nokey');"
                  "return redis.call('incrbyfloat', KEYS[1] .. 'f', 1.5)", "1", "ex"),
         ("eval", "return redis.pcall('incr', KEYS[1])", "1", "ex"),
         ("eval", "redis.call('set', KEYS[1], 'a'); return redis.call('lpush', KEYS[1], 'b')", "1", "err"),
         ("eval_ro", LUA_READS, "1", "k")),
    Case("eval_nondeterministic_and_blocking",
         ("sadd", "es", *[f"m{i}" for i in range(10)]), ("rpush", "el", "a", "b"),
         ("eval", "redis.call('spop', KEYS[1], 2); return redis.call('srandmember', KEYS[1])", "1", "es"),
         ("eval", "return redis.call('blpop', KEYS[1], 0)", "1", "el"),
         ("eval", "return redis.call('blmove', KEYS[1], KEYS[2], 'LEFT', 'RIGHT', 0)", "2", "el", "el2"),
         ("eval", "redis.call('publish', 'c', 'm'); return redis.call('set', KEYS[1], 'v')", "1", "ep"),
         ("eval", "redis.call('publish', 'c', 'm'); return 1", "0"),
         ("eval", "return redis.call('expire', KEYS[1], 100)", "1", "ep"),
         random_members=True),
    Case("eval_set_repl", ("eval", LUA_SET_REPL, "4", "r1", "r2", "r3", "r4"),
         primary_only={"r1", "r3"}),
    Case("eval_in_other_db",
         ("select", "4"), ("eval", "redis.call('select', 5); redis.call('set', 'in5', 'v');"
                                  "redis.call('select', 4); return redis.call('set', 'in4', 'v')", "0"),
         ("eval", LUA_TWO_WRITES, "2", "a", "b"), ("set", "after", "v")),
    Case("functions",
         ("function", "load", LIBRARY), ("function", "load", "REPLACE", LIBRARY),
         ("fcall", "pset", "2", "fk", "fn", "val"), ("fcall", "pget", "1", "fk"),
         ("fcall_ro", "pget", "1", "fk"), ("function", "delete", "proplib"),
         ("function", "delete", "proplib"), ("function", "load", LIBRARY),
         ("function", "flush"), ("function", "flush", "SYNC"), ("function", "load", LIBRARY),
         ("eval", "return 1", "0")),
    Case("function_restore",
         ("function", "load", LIBRARY), Call(_function_dump_flush_restore),
         ("function", "flush", "ASYNC")),
    # transactions
    Case("multi_exec",
         ("multi",), ("get", "a"), ("exec",),
         ("multi",), ("set", "a", "1"), ("get", "a"), ("exec",),
         ("multi",), ("set", "a", "1"), ("incr", "a"), ("expire", "a", "100"), ("exec",),
         ("multi",), ("set", "a", "1"), ("lpush", "a", "x"), ("exec",),
         ("multi",), ("select", "3"), ("set", "a", "1"), ("select", "0"), ("set", "b", "2"), ("exec",),
         ("multi",), ("set", "a", "1"), ("discard",),
         ("multi",), ("eval", LUA_TWO_WRITES, "2", "m1", "m2"), ("incr", "m2"), ("exec",),
         ("multi",), ("eval", LUA_ONE_WRITE, "1", "ml"), ("exec",),
         ("multi",), ("spop", "nokey", "2"), ("sadd", "ms", "a", "b"), ("spop", "ms", "5"), ("exec",),
         ("multi",), ("set", "x", "1"), ("flushall",), ("set", "y", "1"), ("swapdb", "0", "1"), ("exec",),
         ("multi",), ("set", "x", "1"), ("blpop", "nolist", "0"), ("rpush", "l", "a"),
         ("blpop", "l", "0"), ("exec",)),
    Case("multi_exec_publish_and_empty",
         ("multi",), ("publish", "c", "1"), ("publish", "c", "2"), ("exec",),
         ("multi",), ("publish", "c", "1"), ("set", "a", "1"), ("exec",),
         ("multi",), ("del", "nokey"), ("exec",), ("multi",), ("exec",)),
    Case("lazy_expiry_in_multi_and_other_db",
         ("debug", "set-active-expire", "0"), ("set", "a", "v", "PX", "1"), ("select", "3"),
         ("set", "b", "v", "PX", "1"), Clock(20),
         ("multi",), ("get", "b"), ("select", "0"), ("get", "a"), ("set", "c", "1"), ("exec",),
         ("debug", "set-active-expire", "1")),
    # databases
    Case("databases",
         ("flushall",), ("select", "2"), ("set", "d", "v"), ("swapdb", "2", "3"), ("select", "3"),
         ("incr", "n"), ("flushdb",), ("set", "d", "v"), ("flushdb", "ASYNC"), ("set", "d", "v"),
         ("flushdb", "SYNC"), ("flushall", "ASYNC"), ("flushall", "SYNC"), ("select", "0"),
         ("swapdb", "0", "0"), ("flushall",)),
    Case("publish", ("publish", "chan", "msg"), ("select", "7"), ("publish", "chan", "msg2"),
         ("spublish", "chan", "msg3")),
    # expiry
    Case("lazy_expiry",
         ("debug", "set-active-expire", "0"),
         ("set", "e1", "v", "PX", "1"), ("set", "e2", "v", "PX", "1"), ("set", "e3", "v", "PX", "1"),
         ("rpush", "e4", "x"), ("pexpire", "e4", "1"), ("set", "e5", "v", "PX", "1"),
         ("select", "9"), ("set", "e9", "v", "PX", "1"), Clock(20),
         ("get", "e9"), ("select", "0"),
         ("get", "e1"), ("incr", "e2"), ("exists", "e3"), ("rpush", "e4", "y"),
         ("multi",), ("get", "e5"), ("exec",),
         ("debug", "set-active-expire", "1")),
    Case("lazy_expiry_in_script",
         ("debug", "set-active-expire", "0"),
         ("set", "ls", "v", "PX", "1"), Clock(20),
         ("eval", "return redis.call('incr', KEYS[1])", "1", "ls"),
         ("debug", "set-active-expire", "1")),
    Case("lazy_expiry_of_several_keys_in_one_command",
         ("debug", "set-active-expire", "0"), *[("set", f"w{i}", "v", "PX", "1") for i in range(6)],
         Clock(20), ("exists", "w0", "w1"), ("mget", "w2", "w3"), ("del", "w4", "w5"),
         ("debug", "set-active-expire", "1")),
    Case("lazy_expiry_in_keyspace_walks",     # commands that touch arbitrary keys: no MULTI
         ("debug", "set-active-expire", "0"), *[("set", f"w{i}", "v", "PX", "1") for i in range(5)],
         ("set", "live", "v"), Clock(20), ("keys", "*"), ("dbsize",), ("scan", "0", "COUNT", "100"),
         ("select", "6"), ("set", "r", "v", "PX", "1"), Clock(20), ("randomkey",),
         ("debug", "set-active-expire", "1"),
         hash_order=True),
    Case("active_expiry",
         ("set", "ax", "v", "PX", "1"), AwaitDel("ax"),
         ("select", "5"), ("set", "ay", "v", "PX", "1"), AwaitDel("ay")),
    Case("migrate", Call(_migrate_to_a_target)),
    Case("eviction",
         ("flushall",), ("set", "victim", "v"),
         ("config", "set", "maxmemory-policy", "allkeys-lru"), ("config", "set", "maxmemory", "1"),
         ("set", "newkey", "v"), ("config", "set", "maxmemory", "0"),
         ("config", "set", "maxmemory-policy", "noeviction")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_propagates_what_redis_propagates(sides, case):
    results = []
    for side in sides:
        side.reset()
        _run(side, case)
        aof, repl = side.barrier()
        results.append((_masked(aof, case), _masked(repl, case)))
    (ferrous_aof, ferrous_repl), (redis_aof, redis_repl) = results
    assert ferrous_aof == redis_aof, _diff("AOF", ferrous_aof, redis_aof)
    assert ferrous_repl == redis_repl, _diff("replication stream", ferrous_repl, redis_repl)


def _diff(what: str, ferrous: list, redis_: list) -> str:
    def show(commands):
        return "\n".join("  " + " ".join(repr(a) if " " in a or not a else a for a in argv)
                         for argv in commands)
    return f"{what} differs\n-- ferrous:\n{show(ferrous)}\n-- redis:\n{show(redis_)}"
