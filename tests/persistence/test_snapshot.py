"""The copy-on-write snapshot (ferrous/persistence/snapshot.py) in-process: after the
snapshot instant, every way the keyspace can change leaves the written file as it was
at that instant."""
from __future__ import annotations

import io

from ferrous.config import Config
from ferrous.persistence import rdb
from ferrous.persistence.snapshot import Snapshot, SnapshotBusy, write_snapshot
from ferrous.storage.keyspace import Keyspace, now_ms
from ferrous.storage.values.hashes import HashValue
from ferrous.storage.values.lists import ListValue
from ferrous.storage.values.sets import SetValue

FAR = now_ms() + 10_000_000


def _keyspace() -> Keyspace:
    ks = Keyspace(databases=4)
    db = ks.dbs[0]
    for i in range(200):
        db.set(b"s%d" % i, b"v%d" % i)
    for i in range(50):
        db.set(b"l%d" % i, ListValue([b"a", b"b"]))
        db.set(b"h%d" % i, HashValue({b"f": b"1"}))
    db.set(b"set", SetValue({b"1", b"2"}))
    db.set(b"ttl", b"x")
    db.set_expire(b"ttl", FAR)
    ks.dbs[1].set(b"other", b"db1")
    return ks


def _contents(ks: Keyspace) -> dict:
    out = {}
    for db in ks.dbs:
        for shard, expires in zip(db.data, db.expires):
            for key, value in shard.items():
                out[(db.id, key)] = (_plain(value), expires.when.get(key, -1))
    return out


def _plain(value):
    if type(value) is bytes:
        return value
    if isinstance(value, ListValue):
        return ("list", list(value.items))
    if isinstance(value, HashValue):
        return ("hash", dict(value.fields))
    return ("set", sorted(value.members))


def _written(snapshot: Snapshot) -> dict:
    buf = io.BytesIO()
    write_snapshot(buf, snapshot)
    out = {}
    rdb.RdbReader(buf.getvalue(), Config()).load(
        lambda item: out.__setitem__((item.db, item.key), (_plain(item.value), item.expire_ms)))
    return out


def _mutate_every_way(ks: Keyspace) -> None:
    db = ks.dbs[0]
    for i in range(0, 200, 3):
        db.set(b"s%d" % i, b"changed")                   # overwrite
    for i in range(1, 200, 3):
        db.delete(b"s%d" % i)                            # delete
    db.set(b"brand-new", b"new")                         # create
    for i in range(0, 50, 2):
        db.lookup(b"l%d" % i).push([b"z"], 1)            # in place, after a lookup
        db.lookup(b"h%d" % i).set(b"g", b"2", (512, 64))
    moved = db.lookup(b"l1")                             # RENAME l1 -> moved, then change it
    db.delete(b"l1")
    db.set(b"moved", moved)
    db.lookup(b"moved").push([b"after-move"], 0)
    db.peek(b"set").add(b"3", 512)                       # a peek()ed value changed in place
    db.set_expire(b"s2", FAR)                            # expiry set
    db.persist(b"ttl")                                   # expiry removed
    ks.dbs[1].flush()                                    # FLUSHDB
    ks.swap(2, 3)                                        # SWAPDB
    ks.dbs[2].set(b"after-swap", b"x")


def test_every_change_after_the_instant_is_invisible():
    ks = _keyspace()
    before = _contents(ks)
    config = Config()
    ks.lock_all()
    snapshot = Snapshot(ks, config)
    ks.unlock_all()
    try:
        _mutate_every_way(ks)
        assert _contents(ks) != before
        assert _written(snapshot) == before
    finally:
        snapshot.release()
    assert all(db.cow is None for db in ks.dbs)


def test_changes_while_the_writer_runs():
    """Half of the shards are written before the changes, half after."""
    ks = _keyspace()
    before = _contents(ks)
    ks.lock_all()
    snapshot = Snapshot(ks, Config())
    ks.unlock_all()
    for idx in range(0, ks.nshards, 2):
        snapshot.shard(ks.dbs[0], idx)                   # the writer got there first
    _mutate_every_way(ks)
    try:
        assert _written(snapshot) == before
    finally:
        snapshot.release()


def test_one_snapshot_at_a_time():
    ks = _keyspace()
    first = Snapshot(ks, Config())
    try:
        try:
            Snapshot(ks, Config())
        except SnapshotBusy:
            pass
        else:
            raise AssertionError("a second snapshot started")
    finally:
        first.release()
    Snapshot(ks, Config()).release()
