"""The ordered propagate step (server/propagate.py), driven in-process: what a
consumer (the AOF, a replica link) receives for each kind of command. The shapes
are those real Redis 7.0 writes to its AOF for the same commands."""
from __future__ import annotations

import pytest

from ferrous.config import Config
from ferrous.server.app import Server
from ferrous.server.connection import Connection
from ferrous.server.context import Context
from ferrous.server.dispatch import execute
from ferrous.server.propagate import TO_ALL, TO_REPLICAS
from ferrous.storage.keyspace import now_ms


class Recorder:
    def __init__(self):
        self.units = []

    def feed(self, entries):
        self.units.append([(db, [bytes(a) for a in argv], targets) for db, argv, targets in entries])


@pytest.fixture
def setup():
    server = Server(Config())
    ctx = Context(server)
    conn = Connection(None, ("127.0.0.1", 1), ("127.0.0.1", 2), None, 512 * 1024 * 1024)
    recorder = Recorder()
    server.propagator.add_consumer(recorder)

    def run(*argv):
        out = bytearray()
        execute(ctx, conn, [a if isinstance(a, bytes) else str(a).encode() for a in argv], out)
        return bytes(out)

    return server, ctx, run, recorder


def _cmds(unit):
    return [(db, argv) for db, argv, _ in unit]


def test_a_write_is_one_unit_and_a_read_is_nothing(setup):
    server, ctx, run, rec = setup
    assert run("set", "k", "v") == b"+OK\r\n"
    run("get", "k")
    run("set", "k", "v", "NX")          # did nothing: not propagated
    assert rec.units == [[(0, [b"set", b"k", b"v"], TO_ALL)]]
    assert ctx.propagation_depth == 0 and ctx.propagation == []


def test_select_travels_as_the_db_of_each_entry(setup):
    server, ctx, run, rec = setup
    run("select", "3")
    run("incr", "n")
    assert _cmds(rec.units[0]) == [(3, [b"incr", b"n"])]


def test_exec_with_two_writes_is_wrapped_in_multi_exec(setup):
    server, ctx, run, rec = setup
    run("multi")
    run("set", "a", "1")
    run("get", "a")
    run("incr", "a")
    run("exec")
    assert _cmds(rec.units[0]) == [(0, [b"MULTI"]), (0, [b"set", b"a", b"1"]),
                                   (0, [b"incr", b"a"]), (0, [b"EXEC"])]


def test_exec_with_one_write_is_not_wrapped(setup):
    server, ctx, run, rec = setup
    run("multi")
    run("set", "b", "1")
    run("exec")
    assert rec.units == [[(0, [b"set", b"b", b"1"], TO_ALL)]]


def test_lazy_expiry_inside_a_write_joins_its_unit(setup):
    server, ctx, run, rec = setup
    run("set", "k", "old")
    rec.units.clear()
    db = server.keyspace.dbs[0]
    db.set_expire(b"k", now_ms() - 1)
    run("set", "k", "new")
    assert _cmds(rec.units[0]) == [(0, [b"MULTI"]), (0, [b"DEL", b"k"]),
                                   (0, [b"set", b"k", b"new"]), (0, [b"EXEC"])]


def test_lazy_expiry_inside_a_read_is_a_lone_del(setup):
    server, ctx, run, rec = setup
    run("set", "k", "old")
    rec.units.clear()
    server.keyspace.dbs[0].set_expire(b"k", now_ms() - 1)
    assert run("get", "k") == b"$-1\r\n"
    assert rec.units == [[(0, [b"DEL", b"k"], TO_ALL)]]


def test_handlers_can_rewrite_add_and_prevent(setup):
    server, ctx, run, rec = setup
    ctx.db = server.keyspace.dbs[0]
    from ferrous.server import propagate
    outer = propagate.begin(ctx, [b"original"])
    ctx.dirty += 1
    ctx.rewrite_propagation([b"rewritten"])
    ctx.also_propagate([b"publish", b"c", b"m"], targets=TO_REPLICAS)
    propagate.end(ctx, outer, True)
    assert rec.units[0][1:3] == [(0, [b"publish", b"c", b"m"], TO_REPLICAS), (0, [b"rewritten"], TO_ALL)]
    rec.units.clear()
    outer = propagate.begin(ctx, [b"original"])
    ctx.dirty += 1
    ctx.prevent_propagation()
    propagate.end(ctx, outer, True)
    assert rec.units == []


def test_nothing_is_recorded_without_consumers(setup):
    server, ctx, run, rec = setup
    server.propagator.remove_consumer(rec)
    assert not server.propagator.active
    run("set", "k", "v")
    server.keyspace.dbs[0].set_expire(b"k", now_ms() - 1)
    run("get", "k")
    assert rec.units == [] and ctx.propagation == []
