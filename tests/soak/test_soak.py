"""Soak: 200 connections run a random mix of every command group for a fixed time,
some of them vanishing mid-pipeline or mid-MULTI. Afterwards the server still
answers, INFO clients is back to the idle count, no command failed with an
internal error, the log holds no traceback, and (Ferrous) no thread has died.

Bounded in the default run (Ferrous 40 s, real Redis 5 s to check the harness);
FERROUS_SOAK_SECONDS overrides, and `pytest -m slow` soaks for 10 minutes.
"""
from __future__ import annotations

import asyncio
import os
import random
import time

import pytest
import redis
from servers import ServerProcess

from servers import KINDS

CONNECTIONS = 200
KEYS = 64
DEFAULT_SECONDS = {"ferrous": 40.0, "redis": 5.0}


def _key(rng: random.Random, kind: str) -> bytes:
    return b"soak:%s:%d" % (kind.encode(), rng.randrange(KEYS))


# One random command per group; keys are typed by prefix so most commands succeed,
# and a few cross-type ones produce WRONGTYPE on purpose.
def _strings(rng):
    k = _key(rng, "s")
    return rng.choice([[b"SET", k, b"%d" % rng.randrange(1000)], [b"GET", k], [b"INCR", _key(rng, "n")],
                       [b"APPEND", k, b"x"], [b"MSET", k, b"1", _key(rng, "s"), b"2"], [b"GETRANGE", k, b"0", b"3"],
                       [b"SET", k, b"v", b"PX", b"%d" % rng.randrange(1, 200)], [b"STRLEN", k]])


def _keys(rng):
    k = _key(rng, rng.choice("slhzx"))
    return rng.choice([[b"DEL", k], [b"EXISTS", k], [b"EXPIRE", k, b"1"], [b"TTL", k], [b"TYPE", k],
                       [b"RENAME", _key(rng, "s"), _key(rng, "s")], [b"SCAN", b"0", b"COUNT", b"10"],
                       [b"OBJECT", b"ENCODING", k], [b"PERSIST", k]])


def _lists(rng):
    k = _key(rng, "l")
    return rng.choice([[b"LPUSH", k, b"a", b"b"], [b"RPOP", k], [b"LRANGE", k, b"0", b"-1"], [b"LLEN", k],
                       [b"LMOVE", k, _key(rng, "l"), b"LEFT", b"RIGHT"], [b"BLPOP", k, b"0.01"],
                       [b"LTRIM", k, b"0", b"20"]])


def _hashes(rng):
    k = _key(rng, "h")
    return rng.choice([[b"HSET", k, b"f%d" % rng.randrange(20), b"v"], [b"HGETALL", k], [b"HINCRBY", k, b"n", b"1"],
                       [b"HDEL", k, b"f1"], [b"HSCAN", k, b"0"]])


def _sets(rng):
    k = _key(rng, "t")
    return rng.choice([[b"SADD", k, b"%d" % rng.randrange(50)], [b"SMEMBERS", k], [b"SINTER", k, _key(rng, "t")],
                       [b"SPOP", k], [b"SCARD", k]])


def _zsets(rng):
    k = _key(rng, "z")
    return rng.choice([[b"ZADD", k, b"%d" % rng.randrange(100), b"m%d" % rng.randrange(30)],
                       [b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"], [b"ZINCRBY", k, b"1", b"m1"],
                       [b"ZPOPMIN", k], [b"BZPOPMIN", k, b"0.01"], [b"ZRANGEBYSCORE", k, b"-inf", b"+inf"]])


def _streams(rng):
    k = _key(rng, "x")
    return rng.choice([[b"XADD", k, b"MAXLEN", b"~", b"100", b"*", b"f", b"v"],
                       [b"XRANGE", k, b"-", b"+", b"COUNT", b"5"], [b"XLEN", k]])


def _bits_hll_geo(rng):
    return rng.choice([[b"SETBIT", _key(rng, "b"), b"%d" % rng.randrange(1000), b"1"], [b"BITCOUNT", _key(rng, "b")],
                       [b"PFADD", _key(rng, "p"), b"%d" % rng.randrange(1000)], [b"PFCOUNT", _key(rng, "p")],
                       [b"GEOADD", _key(rng, "g"), b"13.36", b"38.11", b"m%d" % rng.randrange(9)],
                       [b"GEODIST", _key(rng, "g"), b"m1", b"m2"]])


def _server_and_connection(rng):
    return rng.choice([[b"PING"], [b"ECHO", b"hi"], [b"DBSIZE"], [b"INFO", b"stats"], [b"TIME"],
                       [b"CLIENT", b"SETNAME", b"soak"], [b"PUBLISH", b"soak:chan", b"m"], [b"COMMAND", b"COUNT"],
                       [b"CLIENT", b"INFO"], [b"SELECT", b"0"]])


GROUPS = [_strings, _keys, _lists, _hashes, _sets, _zsets, _streams, _bits_hll_geo, _server_and_connection]


def encode(argv: list) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


class Replies:
    """Counts complete RESP2 replies in a stream; collects error replies."""

    def __init__(self):
        self.buf = b""
        self.errors: list = []

    def feed(self, data: bytes) -> None:
        self.buf += data

    def take(self) -> int:
        count, pos = 0, 0
        while True:
            end = self._skip(pos)
            if end is None:
                break
            count, pos = count + 1, end
        self.buf = self.buf[pos:]
        return count

    def _skip(self, pos: int):
        buf = self.buf
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            return None
        kind, head = buf[pos:pos + 1], buf[pos + 1:nl]
        if kind == b"-":
            self.errors.append(head)
        if kind in (b"+", b"-", b":"):
            return nl + 2
        n = int(head)
        if kind == b"$":
            return None if n >= 0 and len(buf) < nl + 2 + n + 2 else (nl + 2 + n + 2 if n >= 0 else nl + 2)
        end = nl + 2
        for _ in range(max(n, 0)):
            end = self._skip(end)
            if end is None:
                return None
        return end


async def _exchange(reader, writer, commands: list, replies: Replies) -> None:
    writer.write(b"".join(map(encode, commands)))
    await writer.drain()
    expected = len(commands)
    while expected:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        replies.feed(data)
        expected -= replies.take()


async def _client(port: int, seed: int, deadline: float, stats: dict) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        replies = Replies()
        try:
            for _ in range(rng.randrange(1, 30)):
                if time.monotonic() >= deadline:
                    break
                roll = rng.random()
                if roll < 0.04:     # vanish mid-pipeline: half a pipeline, then gone
                    data = b"".join(encode(rng.choice(GROUPS)(rng)) for _ in range(rng.randrange(2, 20)))
                    writer.write(data[:rng.randrange(1, len(data))])
                    stats["dropped_mid_pipeline"] += 1
                    break
                if roll < 0.08:     # vanish mid-MULTI
                    await _exchange(reader, writer, [[b"MULTI"]] + [rng.choice(GROUPS)(rng) for _ in range(3)], replies)
                    stats["dropped_mid_multi"] += 1
                    break
                if roll < 0.2:      # a whole transaction
                    body = [rng.choice(GROUPS)(rng) for _ in range(rng.randrange(1, 6))]
                    await _exchange(reader, writer, [[b"WATCH", _key(rng, "s")], [b"MULTI"], *body, [b"EXEC"]], replies)
                    stats["transactions"] += 1
                    continue
                batch = [rng.choice(GROUPS)(rng) for _ in range(rng.randrange(1, 25))]
                await _exchange(reader, writer, batch, replies)
                stats["commands"] += len(batch)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
            stats["internal_errors"] += sum(1 for e in replies.errors if b"internal error" in e)


async def _soak(port: int, seconds: float) -> dict:
    stats = {"commands": 0, "transactions": 0, "dropped_mid_pipeline": 0, "dropped_mid_multi": 0,
             "internal_errors": 0}
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_client(port, seed, deadline, stats) for seed in range(CONNECTIONS)))
    return stats


def _soak_and_check(kind: str, server: ServerProcess, seconds: float) -> None:
    admin = redis.Redis(port=server.port, socket_timeout=30)
    idle = admin.info("clients")["connected_clients"]
    stats = asyncio.run(_soak(server.port, seconds))
    print(f"soak {kind} {seconds:.0f} s: {stats}")
    assert stats["internal_errors"] == 0, stats
    assert stats["commands"] > CONNECTIONS and stats["dropped_mid_pipeline"] and stats["dropped_mid_multi"], stats
    assert admin.ping() is True
    end = time.monotonic() + 15
    while admin.info("clients")["connected_clients"] != idle:
        assert time.monotonic() < end, "connected_clients did not return to the idle count"
        time.sleep(0.05)
    assert admin.info("clients")["blocked_clients"] == 0
    if kind == "ferrous":
        info = admin.info("ferrous")
        assert info["ferrous_threads_alive"] == info["ferrous_threads_expected"]
        assert info["ferrous_thread_crashes"] == 0
        assert "Traceback" not in server.read_log()
    admin.close()


@pytest.fixture(params=KINDS)
def soak_server(request):
    proc = ServerProcess(request.param)
    yield request.param, proc
    proc.stop()


def test_soak_bounded(soak_server):
    kind, server = soak_server
    seconds = float(os.environ.get("FERROUS_SOAK_SECONDS", DEFAULT_SECONDS[kind]))
    _soak_and_check(kind, server, seconds)


@pytest.mark.slow
def test_soak_long(soak_server):
    kind, server = soak_server
    _soak_and_check(kind, server, float(os.environ.get("FERROUS_SOAK_SECONDS", "600")))
