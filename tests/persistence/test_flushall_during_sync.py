"""FLUSHALL with save points while another snapshot (a replica's full sync) is being
written: the flush succeeds (Redis kills that child; Ferrous leaves it and lets the
next save point write the empty dataset) instead of failing with an internal error."""
from __future__ import annotations

import pytest
import redis

import ferrous
from ferrous.persistence.snapshot import Snapshot

pytestmark = pytest.mark.ferrous_only


def test_flushall_succeeds_while_a_replica_snapshot_runs():
    with ferrous.Server(save="3600 1") as srv:
        client = redis.Redis(port=srv.port)
        client.mset({"a": 1, "b": 2})
        keyspace = srv.app.keyspace
        keyspace.lock_all()
        try:
            busy = Snapshot(keyspace, srv.app.config)     # as _full_sync_body takes one
        finally:
            keyspace.unlock_all()
        try:
            assert client.flushall() is True
            assert client.dbsize() == 0
            assert client.info("persistence")["rdb_changes_since_last_save"] > 0
        finally:
            busy.release()
        client.close()
