"""The reader side: files in every format Redis 7.0 loads, checked against Redis itself,
plus the building blocks (CRC64, LZF, corrupt files)."""
from __future__ import annotations

import os
import random
import subprocess

import pytest

from dataset import read_all
from ferrous.config import Config
from ferrous.persistence import lzf, rdb
from ferrous.persistence.crc64 import crc64
from rdb_builder import old_format_body, rdb_file
from servers import ServerProcess, redis_available, run_until_exit

OLD_DBS = (0, 2)


def _load(kind: str, data: bytes, tmp_path) -> ServerProcess:
    directory = tmp_path / kind
    directory.mkdir()
    (directory / "dump.rdb").write_bytes(data)
    return ServerProcess(kind, ["--dir", str(directory)])


@pytest.mark.parametrize("version", [6, 7, 8, 9, 10])
def test_older_encodings_load_like_redis(version, tmp_path):
    data = rdb_file(version, old_format_body())
    ferrous = _load("ferrous", data, tmp_path)
    try:
        got = read_all(ferrous.port, OLD_DBS)
        if redis_available():
            real = _load("redis", data, tmp_path)
            try:
                assert got == read_all(real.port, OLD_DBS)
            finally:
                real.stop()
    finally:
        ferrous.stop()
    assert got[(0, b"ziplist:list")][1] == [b"x", b"12", b"-5", b"300", b"70000", b"5000000000", b"y" * 100]
    assert got[(0, b"quicklist1")][1] == [b"n1", b"1", b"n2", b"q" * 300]
    assert got[(0, b"zipmap:hash")][1:3] == ({b"f1": b"v1", b"f2": b"22"}, b"listpack")
    assert got[(0, b"zipmap:long")][2] == b"hashtable"
    assert got[(0, b"textzset")][1] == [(b"c", -2.0), (b"a", 1.5), (b"b", float("inf"))]
    assert got[(0, b"intenc")][1] == (b"-3000", None)
    assert got[(2, b"db2key")][1] == (b"in db 2", None)
    assert len(got) == 15


def test_crc64_is_redis_crc64_jones():
    assert crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA
    data = os.urandom(1001)
    assert crc64(crc64(0, data[:333]), data[333:]) == crc64(0, data)


def test_lzf_round_trip_and_incompressible():
    rnd = random.Random(1)
    for size in (21, 64, 1000, 70000):
        text = (b"abc %d " % rnd.randrange(10) * size)[:size]
        packed = lzf.compress(text, size - 4)
        assert packed is not None and len(packed) < size
        assert lzf.decompress(packed, size) == text
    noise = os.urandom(500)
    assert lzf.compress(noise, len(noise) - 4) is None
    with pytest.raises(lzf.LZFError):
        lzf.decompress(b"\x20\x00", 3)       # a back reference before the start


def test_wrong_checksum_is_refused():
    data = bytearray(rdb_file(10, old_format_body()))
    data[-1] ^= 0xFF
    with pytest.raises(rdb.RDBError, match="Wrong RDB checksum"):
        rdb.RdbReader(bytes(data), Config()).load(lambda item: None)
    # a zero checksum means "saved with rdbchecksum no": not verified
    data[-8:] = bytes(8)
    keys = []
    rdb.RdbReader(bytes(data), Config()).load(keys.append)
    assert len(keys) == 15


def test_truncated_file_and_bad_signature():
    data = rdb_file(10, old_format_body())
    with pytest.raises(rdb.RDBError):
        rdb.RdbReader(data[:-30], Config()).load(lambda item: None)
    with pytest.raises(rdb.RDBError, match="Wrong signature"):
        rdb.RdbReader(b"REDIX0010" + data[9:], Config()).load(lambda item: None)
    with pytest.raises(rdb.RDBError, match="Can't handle RDB format version 11"):
        rdb.RdbReader(b"REDIS0011" + data[9:], Config()).load(lambda item: None)


def _start_and_exit(kind: str, directory) -> subprocess.CompletedProcess:
    """Run a server that is expected to refuse its dump.rdb and exit."""
    return run_until_exit(kind, directory)


@pytest.mark.parametrize("kind", ["ferrous", "redis"] if redis_available() else ["ferrous"])
def test_corrupt_dump_file_stops_the_server(kind, tmp_path):
    data = bytearray(rdb_file(10, old_format_body()))
    data[-1] ^= 0xFF
    (tmp_path / "dump.rdb").write_bytes(bytes(data))
    done = _start_and_exit(kind, tmp_path)
    assert done.returncode == 1
    assert "Wrong RDB checksum" in done.stdout + done.stderr
