"""RDB files and DUMP payloads between Ferrous and real Redis 7.0, both ways.

Each test compares the dataset of tests/persistence/dataset.py key by key: type,
value, OBJECT ENCODING and TTL.
"""
from __future__ import annotations

import os
import shutil

import pytest
import redis

from dataset import DBS, check_rdb, dump_path, populate, read_all
from servers import ServerProcess, redis_available

pytestmark = pytest.mark.skipif(not redis_available(), reason="needs redis-server 7.0")


@pytest.fixture(scope="module")
def ferrous_saved():
    """A Ferrous server holding the dataset, saved to its dump.rdb."""
    proc = ServerProcess("ferrous")
    populate(proc.port)
    client = redis.Redis(port=proc.port)
    assert client.save() is True
    client.close()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def redis_saved():
    proc = ServerProcess("redis")
    populate(proc.port)
    client = redis.Redis(port=proc.port)
    assert client.save() is True
    client.close()
    yield proc
    proc.stop()


def _start_on(kind: str, rdb_path: str, *args) -> ServerProcess:
    """A fresh server of kind that loads a copy of rdb_path at start-up."""
    staging = os.path.join(os.path.dirname(rdb_path), "load-%s" % kind)
    os.makedirs(staging, exist_ok=True)
    shutil.copy(rdb_path, os.path.join(staging, "dump.rdb"))
    return ServerProcess(kind, ["--dir", staging, "--dbfilename", "dump.rdb", *args])


def test_ferrous_dump_passes_redis_check_rdb(ferrous_saved):
    output = check_rdb(dump_path(ferrous_saved))
    assert "Checksum OK" in output
    assert "AUX FIELD redis-ver = '7.0.15'" in output


def test_ferrous_dump_loads_in_redis_with_equal_data(ferrous_saved):
    expected = read_all(ferrous_saved.port)
    assert len(expected) > 45
    loaded = _start_on("redis", dump_path(ferrous_saved))
    try:
        assert read_all(loaded.port) == expected
    finally:
        loaded.stop()


def test_ferrous_round_trip(ferrous_saved):
    expected = read_all(ferrous_saved.port)
    loaded = _start_on("ferrous", dump_path(ferrous_saved))
    try:
        assert read_all(loaded.port) == expected
    finally:
        loaded.stop()


def test_redis_dump_loads_in_ferrous_with_equal_data(redis_saved):
    expected = read_all(redis_saved.port)
    assert len(expected) > 45
    loaded = _start_on("ferrous", dump_path(redis_saved))
    try:
        assert read_all(loaded.port) == expected
    finally:
        loaded.stop()


def test_ferrous_writes_what_redis_writes(ferrous_saved, redis_saved):
    """Same dataset, same bytes: the DUMP payloads of both servers match (LZF output,
    integer encodings, listpacks, intsets, quicklist nodes), except for values Redis
    keeps in hash tables, whose order is the table's, and stream tombstones, whose
    content Ferrous does not keep (Redis never reads it)."""
    hash_ordered = {b"set:small", b"set:large", b"set:strings", b"hash:large", b"stream:small"}
    differing = []
    for db in DBS:
        fc = redis.Redis(port=ferrous_saved.port, db=db)
        rc = redis.Redis(port=redis_saved.port, db=db)
        for key in rc.keys("*"):
            if key not in hash_ordered and fc.dump(key) != rc.dump(key):
                differing.append(key)
        fc.close()
        rc.close()
    assert differing == []


@pytest.mark.parametrize("direction", ["ferrous->redis", "redis->ferrous"])
def test_dump_restore_across_servers(ferrous_saved, redis_saved, direction):
    source, target_kind = (ferrous_saved, "redis") if direction == "ferrous->redis" else (redis_saved, "ferrous")
    target = ServerProcess(target_kind)
    try:
        for db in DBS:
            src = redis.Redis(port=source.port, db=db)
            dst = redis.Redis(port=target.port, db=db)
            for key in src.keys("*"):
                ttl = max(src.pttl(key), 0)
                assert dst.restore(key, ttl, src.dump(key)) == b"OK"
            src.close()
            dst.close()
        assert read_all(target.port) == read_all(source.port)
    finally:
        target.stop()


def test_uncompressed_unchecksummed_file_loads_in_redis():
    proc = ServerProcess("ferrous", ["--rdbcompression", "no", "--rdbchecksum", "no"])
    try:
        populate(proc.port)
        client = redis.Redis(port=proc.port)
        client.save()
        expected = read_all(proc.port)
        client.close()
        with open(dump_path(proc), "rb") as fh:
            data = fh.read()
        assert data.endswith(b"\xff" + bytes(8))       # EOF, then a zero checksum
        assert b"abc" * 500 in data                     # stored raw, not LZF
        loaded = _start_on("redis", dump_path(proc))
        try:
            assert read_all(loaded.port) == expected
        finally:
            loaded.stop()
    finally:
        proc.stop()
