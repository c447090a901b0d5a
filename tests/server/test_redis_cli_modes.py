"""redis-cli's monitoring modes against Ferrous and Redis 7.0: --stat, --latency,
--latency-history, --bigkeys, --memkeys, --hotkeys and -i. Each test checks the
shape of what redis-cli prints, which only works when the server answers INFO,
SCAN, TYPE, the size commands, MEMORY USAGE and OBJECT FREQ as Redis does."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import redis

pytestmark = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")


def cli(server, *args, timeout=60):
    return subprocess.run(["redis-cli", "-p", str(server.port), *args], capture_output=True, timeout=timeout,
                          check=False)


def cli_for(server, seconds: float, *args) -> str:
    """Run an endless mode for a while; stdbuf keeps its output line-buffered."""
    result = subprocess.run(["timeout", str(seconds), "stdbuf", "-oL", "redis-cli", "-p", str(server.port),
                             *args], capture_output=True, timeout=seconds + 30, check=False)
    return result.stdout.decode()


@pytest.fixture
def dataset(server):
    client = redis.Redis(port=server.port)
    client.flushall()
    client.mset({f"key:{i}": f"value:{i}" for i in range(300)})
    client.set("longest", "x" * 500)
    client.rpush("biglist", *range(50))
    client.rpush("smalllist", "a")
    client.hset("h", mapping={"a": 1, "b": 2})
    client.sadd("s", "m1", "m2", "m3")
    client.zadd("z", {"a": 1})
    yield client
    client.flushall()
    client.close()


def test_stat_mode_with_interval(server, dataset):
    out = cli_for(server, 1.6, "--stat", "-i", "0.3")
    lines = out.splitlines()
    assert lines[0].startswith("------- data ------ --------------------- load ----")
    assert lines[1].split() == ["keys", "mem", "clients", "blocked", "requests", "connections"]
    rows = [line.split() for line in lines[2:] if line.strip()]
    assert len(rows) >= 3                              # one row per 0.3 s
    for row in rows:
        assert row[0] == "306"                         # keys
        assert re.fullmatch(r"[\d.]+[KMG]?", row[1])   # mem, human-readable
        assert int(row[2]) >= 1 and row[3] == "0"      # clients, blocked
        assert re.fullmatch(r"\(\+\d+\)", row[5])       # requests delta
    requests = [int(row[4]) for row in rows]
    assert requests == sorted(requests)


def test_latency_mode(server, dataset):
    out = cli_for(server, 1.5, "--latency", "-i", "0.5")
    fields = out.split()
    assert len(fields) >= 4
    low, high, avg, samples = int(fields[0]), int(fields[1]), float(fields[2]), int(fields[3])
    assert 0 <= low <= avg <= high and samples > 0


def test_latency_history_mode(server, dataset):
    out = cli_for(server, 2.6, "--latency-history", "-i", "1")
    lines = [line for line in out.splitlines() if line.strip()]
    # Without a terminal: a "min max avg samples" line per sample, and each
    # interval closes with " -- <seconds> seconds range".
    ranges = [line for line in lines if line.startswith(" -- ")]
    assert len(ranges) >= 2 and all(re.fullmatch(r" -- \d+\.\d\d seconds range", line) for line in ranges)
    rows = [line.split() for line in lines if not line.startswith(" -- ")]
    assert rows
    for row in rows:
        assert len(row) == 4 and int(row[0]) <= float(row[2]) <= int(row[1])


def test_bigkeys(server, dataset):
    result = cli(server, "--bigkeys")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "Sampled 306 keys in the keyspace!" in out
    assert "Biggest   list found '\"biglist\"' has 50 items" in out
    assert "Biggest string found '\"longest\"' has 500 bytes" in out
    assert "Biggest    set found '\"s\"' has 3 members" in out
    assert "2 lists with 51 items (00.65% of keys, avg size 25.50)" in out
    assert "301 strings with " in out


def test_memkeys(server, dataset):
    result = cli(server, "--memkeys")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "Sampled 306 keys in the keyspace!" in out
    assert "Biggest string found '\"longest\"' has" in out      # MEMORY USAGE says it is the biggest
    biggest = re.search(r"Biggest string found '\"longest\"' has (\d+) bytes", out)
    assert biggest and int(biggest.group(1)) > 500
    assert re.search(r"1 hashs with \d+ bytes \(00\.33% of keys, avg size \d+\.\d\d\)", out)


def test_hotkeys_needs_an_lfu_policy(server, dataset):
    result = cli(server, "--hotkeys")
    assert b"ERR An LFU maxmemory policy is not selected" in result.stdout + result.stderr
    dataset.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        for _ in range(300):
            dataset.get("key:7")
        result = cli(server, "--hotkeys")
        out = result.stdout.decode()
        assert result.returncode == 0, result.stderr
        assert "Sampled 306 keys in the keyspace!" in out
        hot = re.search(r"hot key found with counter: (\d+)\tkeyname: \"key:7\"", out)
        assert hot and int(hot.group(1)) > 5
    finally:
        dataset.config_set("maxmemory-policy", "noeviction")
