"""Saves across restarts: save points, SHUTDOWN SAVE/NOSAVE, loading at start-up, and a
crash in the middle of a save, on Ferrous and real Redis 7.0."""
from __future__ import annotations

import os
import signal
import socket

import pytest
import redis

from dataset import check_rdb, dump_path
from helpers import bgsave_done as _bgsave_done, info as _info
from helpers import load_file as _load_file, poll as _poll
from servers import ServerProcess


def _shutdown(port: int, option: bytes) -> bytes:
    """SHUTDOWN on a plain socket (redis-py retries the closed connection for seconds);
    returns what the server sent before closing: nothing when it shut down."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"SHUTDOWN %s\r\n" % option)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    return received


def test_save_points_trigger_a_background_save(kind):
    proc = ServerProcess(kind, ["--save", "1 2"])
    try:
        c = redis.Redis(port=proc.port)
        assert c.config_get("save") == {"save": "1 2"}
        c.set("a", "1")
        c.set("b", "2")
        _poll(lambda: os.path.exists(dump_path(proc)), timeout=10, what="a save point")
        _poll(lambda: _bgsave_done(c) and _info(c)["rdb_changes_since_last_save"] == 0, what="the save")
        assert _load_file(dump_path(proc)) == {(0, b"a"): b"1", (0, b"b"): b"2"}
    finally:
        proc.stop()


def test_shutdown_save_then_restart_loads_it(kind):
    proc = ServerProcess(kind, ["--save", ""])
    try:
        c = redis.Redis(port=proc.port)
        c.set("s", "v")
        c.hset("h", mapping={"a": "1"})
        c.expire("h", 1000)
        assert _shutdown(proc.port, b"SAVE") == b""
        proc.proc.wait(20)
        path = dump_path(proc)
        check_rdb(path)
        restarted = ServerProcess(kind, ["--dir", proc.dir, "--save", ""])
        try:
            r2 = redis.Redis(port=restarted.port)
            assert r2.get("s") == b"v"
            assert r2.hgetall("h") == {b"a": b"1"}
            assert 900 < r2.ttl("h") <= 1000
            assert _info(r2)["rdb_last_load_keys_loaded"] == 2
        finally:
            restarted.stop()
    finally:
        proc.stop()


def test_shutdown_nosave_writes_nothing(kind):
    proc = ServerProcess(kind, ["--save", "3600 1"])
    try:
        c = redis.Redis(port=proc.port)
        c.set("s", "v")
        assert _shutdown(proc.port, b"NOSAVE") == b""
        proc.proc.wait(20)
        assert not os.path.exists(dump_path(proc))
    finally:
        proc.stop()


def test_expired_keys_are_not_loaded(kind, tmp_path):
    proc = ServerProcess(kind, ["--save", ""])
    try:
        c = redis.Redis(port=proc.port)
        c.set("live", "1")
        c.set("dying", "1", px=300)
        c.save()
        saved = _load_file(dump_path(proc))
        assert (0, b"dying") in saved
        _poll(lambda: c.exists("dying") == 0, what="expiry")
        restarted = ServerProcess(kind, ["--dir", proc.dir, "--save", ""])
        try:
            r2 = redis.Redis(port=restarted.port)
            assert r2.keys() == [b"live"]
            assert _info(r2)["rdb_last_load_keys_expired"] == 1
        finally:
            restarted.stop()
    finally:
        proc.stop()


@pytest.mark.ferrous_only
def test_crash_mid_save_leaves_the_old_dump_intact():
    """kill -9 while a BGSAVE writes temp-<pid>.rdb: dump.rdb is still the previous,
    complete file (the new one is only renamed over it once fsynced)."""
    proc = ServerProcess("ferrous", ["--save", ""])
    try:
        c = redis.Redis(port=proc.port)
        c.mset({f"old{i}": i for i in range(50)})
        c.save()
        c.mset({f"new{i}": i for i in range(50)})
        c.config_set("rdb-key-save-delay", 20000)
        c.bgsave()
        temp = os.path.join(proc.dir, "temp-%d.rdb" % proc.proc.pid)
        _poll(lambda: os.path.exists(temp), what="the temp file")
        os.kill(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait(10)
        check_rdb(dump_path(proc))
        assert set(_load_file(dump_path(proc))) == {(0, b"old%d" % i) for i in range(50)}
    finally:
        proc.stop()




def test_sigterm_saves_when_save_points_are_set(kind):
    proc = ServerProcess(kind, ["--save", "3600 1"])
    try:
        redis.Redis(port=proc.port).set("k", "before-sigterm")
        proc.proc.terminate()
        assert proc.proc.wait(30) == 0
        assert _load_file(dump_path(proc)) == {(0, b"k"): b"before-sigterm"}
    finally:
        proc.stop()
