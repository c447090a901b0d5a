"""SAVE, BGSAVE, LASTSAVE, dir/dbfilename/save settings, INFO persistence and the
point-in-time guarantee of BGSAVE, on Ferrous and real Redis 7.0."""
from __future__ import annotations

import os
import random
import threading
import time

import pytest
import redis

from dataset import check_rdb, dump_path
from helpers import bgsave_done as _bgsave_done, client as _client, info as _info
from helpers import KINDS, load_file as _load_file, poll as _poll
from servers import ServerProcess, redis_available


@pytest.fixture(scope="module", params=KINDS)
def _shared(request):
    """One server per kind for the module (starting servers is most of the cost)."""
    proc = ServerProcess(request.param, ["--save", "", "--enable-protected-configs", "yes"])
    yield proc
    proc.stop()


@pytest.fixture
def srv(_shared):
    """The shared server, reset: no save running, default file settings, empty, just
    saved (so the change counter is 0) and no dump.rdb left."""
    c = redis.Redis(port=_shared.port)
    c.config_set("rdb-key-save-delay", 0)
    _poll(lambda: _bgsave_done(c), what="a previous BGSAVE")
    c.config_set("dir", _shared.dir)
    c.config_set("dbfilename", "dump.rdb")
    c.config_set("save", "")
    c.flushall()
    c.save()
    os.unlink(dump_path(_shared))
    c.close()
    return _shared


def test_save_and_lastsave(srv):
    c = redis.Redis(port=srv.port)
    before = c.lastsave()
    saves = _info(c)["rdb_saves"]
    c.set("a", "1")
    c.rpush("l", "x", "y")
    assert _info(c)["rdb_changes_since_last_save"] == 3     # one per pushed element
    assert c.save() is True
    assert _info(c)["rdb_changes_since_last_save"] == 0
    assert c.lastsave() >= before
    info = _info(c)
    assert info["rdb_last_save_time"] == int(c.lastsave().timestamp())
    assert info["rdb_saves"] == saves + 1
    check_rdb(dump_path(srv))
    assert set(_load_file(dump_path(srv))) == {(0, b"a"), (0, b"l")}
    assert not [f for f in os.listdir(srv.dir) if f.startswith("temp-")]


def test_bgsave_writes_a_valid_file(srv):
    c = redis.Redis(port=srv.port)
    c.mset({f"k{i}": i for i in range(100)})
    assert c.bgsave() is True
    _poll(lambda: _bgsave_done(c) and os.path.exists(dump_path(srv)), what="BGSAVE")
    info = _info(c)
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_changes_since_last_save"] == 0
    assert info["rdb_last_bgsave_time_sec"] >= 0
    check_rdb(dump_path(srv))
    assert len(_load_file(dump_path(srv))) == 100


def test_bgsave_replies_and_errors(srv):
    c = _client(srv.port)
    raw = c.execute_command
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        raw("BGSAVE", "NOW")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        raw("BGSAVE", "SCHEDULE", "X")
    c.mset({f"k{i}": i for i in range(40)})
    c.config_set("rdb-key-save-delay", 50000)    # 50 ms per key: a save of 2 s
    assert raw("BGSAVE") == b"Background saving started"
    assert _info(c)["rdb_bgsave_in_progress"] == 1
    with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
        raw("BGSAVE")
    with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
        raw("BGSAVE", "SCHEDULE")
    with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
        raw("SAVE")
    info = _info(c)
    assert info["rdb_current_bgsave_time_sec"] >= 0
    assert info["current_save_keys_total"] == 40
    c.config_set("rdb-key-save-delay", 0)
    _poll(lambda: _bgsave_done(c), what="BGSAVE")


def test_bgsave_inside_multi_is_scheduled(srv):
    c = _client(srv.port)
    c.set("x", "1")
    pipe = c.pipeline(transaction=True)
    pipe.execute_command("BGSAVE")
    assert pipe.execute() == [b"Background saving scheduled"]
    # serverCron starts the scheduled save
    _poll(lambda: os.path.exists(dump_path(srv)) and _bgsave_done(c), what="scheduled BGSAVE")
    assert _load_file(dump_path(srv)) == {(0, b"x"): b"1"}


def test_save_config_forms(srv):
    c = redis.Redis(port=srv.port)
    assert c.config_get("save") == {"save": ""}
    c.config_set("save", "3600 1 300 100 60 10000")
    assert c.config_get("save") == {"save": "3600 1 300 100 60 10000"}
    c.config_set("save", "")
    assert c.config_get("save") == {"save": ""}


def test_dir_and_dbfilename(srv, tmp_path):
    c = redis.Redis(port=srv.port)
    c.set("k", "v")
    c.config_set("dir", str(tmp_path))
    c.config_set("dbfilename", "other.rdb")
    assert c.save() is True
    assert _load_file(str(tmp_path / "other.rdb")) == {(0, b"k"): b"v"}


def test_info_persistence_field_names_match_redis():
    if not redis_available():
        pytest.skip("needs redis-server")
    f, r = ServerProcess("ferrous"), ServerProcess("redis")
    try:
        ours = list(redis.Redis(port=f.port).info("persistence"))
        theirs = list(redis.Redis(port=r.port).info("persistence"))
        assert ours == theirs
    finally:
        f.stop()
        r.stop()


ACCOUNTS = 60
START = 1000


def _transfer_load(port: int, stop: threading.Event, errors: list) -> None:
    """MULTI'd transfers between accounts of three kinds (string INCRBY, hash HINCRBY,
    list element replaced with LSET), each also counting itself in `seq`, some moved
    through RENAME and back inside the transaction."""
    c = redis.Redis(port=port)
    rnd = random.Random(11)
    try:
        while not stop.is_set():
            a, b = rnd.sample(range(ACCOUNTS), 2)
            amount = rnd.randrange(1, 50)
            pipe = c.pipeline(transaction=True)
            _withdraw(pipe, a, amount)
            _withdraw(pipe, b, -amount)
            if rnd.random() < 0.2:
                pipe.rename(f"acct:{a}", "moving")
                pipe.rename("moving", f"acct:{a}")
            pipe.incr("seq")
            pipe.rpush("log", b"%d:%d:%d" % (a, b, amount))
            pipe.execute()
    except Exception as exc:        # surfaced by the test
        errors.append(exc)


def _withdraw(pipe, account: int, amount: int) -> None:
    key = f"acct:{account}"
    kind = account % 3
    if kind == 0:
        pipe.incrby(key, -amount)
    elif kind == 1:
        pipe.hincrby(key, "balance", -amount)
    else:
        pipe.lpush(key, -amount)     # a list of deltas: the balance is its sum


def _balance(value) -> int:
    if isinstance(value, bytes):
        return int(value)
    if hasattr(value, "fields"):
        return int(value.fields[b"balance"])
    return sum(int(x) for x in value.items)


def test_bgsave_is_a_point_in_time_snapshot(kind):
    """While a slow BGSAVE runs, a client keeps moving money between accounts in
    transactions. The file must hold one instant: the balances are exactly the initial
    ones plus the first `seq` transfers of the log, and nothing after them."""
    proc = ServerProcess(kind, ["--save", ""])
    try:
        c = redis.Redis(port=proc.port)
        for i in range(ACCOUNTS):
            key = f"acct:{i}"
            if i % 3 == 0:
                c.set(key, START)
            elif i % 3 == 1:
                c.hset(key, mapping={"balance": START, "owner": f"o{i}"})
            else:
                c.rpush(key, START)
        c.config_set("rdb-key-save-delay", 8000)      # ~ 0.5 s for the whole file
        stop, errors = threading.Event(), []
        writer = threading.Thread(target=_transfer_load, args=(proc.port, stop, errors))
        writer.start()
        try:
            _poll(lambda: int(c.get("seq") or 0) > 20, what="transfers")
            assert c.bgsave() is True
            seq_at_start = int(c.get("seq"))
            _poll(lambda: _bgsave_done(c), what="BGSAVE")
            seq_at_end = int(c.get("seq"))
        finally:
            stop.set()
            writer.join(30)
        assert not errors
        assert seq_at_end > seq_at_start + 10, "transfers must run during the save"
        saved = _load_file(dump_path(proc))
        seq = int(saved[(0, b"seq")])
        log = saved[(0, b"log")].items
        assert len(log) == seq
        expected = {i: START for i in range(ACCOUNTS)}
        for entry in log:
            a, b, amount = (int(x) for x in entry.split(b":"))
            expected[a] -= amount
            expected[b] += amount
        got = {i: _balance(saved[(0, f"acct:{i}".encode())]) for i in range(ACCOUNTS)}
        assert got == expected
        assert sum(got.values()) == START * ACCOUNTS
        assert (0, b"moving") not in saved
    finally:
        proc.stop()


def test_failed_save_refuses_writes_until_a_save_works(kind, tmp_path):
    proc = ServerProcess(kind, ["--save", "3600 1", "--enable-protected-configs", "yes"])
    try:
        c = _client(proc.port)
        good = str(tmp_path)
        gone = tmp_path / "gone"
        gone.mkdir()
        c.config_set("dir", str(gone))
        gone.rmdir()                 # the save cannot create its temp file any more
        with pytest.raises(redis.ResponseError) as failure:
            c.execute_command("SAVE")
        assert str(failure.value) in ("", "ERR")
        assert _info(c)["rdb_last_bgsave_status"] == "ok"    # a failed SAVE is not a BGSAVE
        assert c.set("a", "1") is True
        c.delete("a")
        assert c.execute_command("BGSAVE") == b"Background saving started"
        _poll(lambda: _bgsave_done(c) and _info(c)["rdb_last_bgsave_status"] == "err", what="failure")
        with pytest.raises(redis.ResponseError, match="^MISCONF Redis is configured to save RDB snapshots"):
            c.set("a", "1")
        with pytest.raises(redis.ResponseError, match="^MISCONF"):
            c.ping()
        assert c.get("a") is None              # reads still work
        c.config_set("stop-writes-on-bgsave-error", "no")
        assert c.set("a", "1") is True
        c.config_set("stop-writes-on-bgsave-error", "yes")
        c.config_set("dir", good)
        assert c.execute_command("BGSAVE") == b"Background saving started"
        _poll(lambda: _bgsave_done(c) and _info(c)["rdb_last_bgsave_status"] == "ok", what="BGSAVE")
        assert c.set("b", "2") is True
    finally:
        proc.stop()


def test_flushall_stops_a_slow_bgsave_at_once(srv):
    # killRDBChild: FLUSHALL does not wait for the save, however slow its keys are.
    c = redis.Redis(port=srv.port, socket_timeout=10)
    c.mset({f"k{i}": i for i in range(20)})
    c.config_set("rdb-key-save-delay", 10_000_000)      # 10 s per key
    assert c.bgsave() is True
    _poll(lambda: _info(c)["rdb_bgsave_in_progress"] == 1, what="BGSAVE running")
    started = time.monotonic()
    assert c.flushall() is True
    assert time.monotonic() - started < 5
    assert c.dbsize() == 0
    _poll(lambda: _bgsave_done(c), what="the stopped BGSAVE")
    assert _info(c)["rdb_last_bgsave_status"] == "ok"      # a killed save is not a failure
