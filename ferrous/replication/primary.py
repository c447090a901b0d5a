"""Replication state and the primary side (replication.c's master half).

The server always has a replication ID and offset. The first replica creates the
backlog and registers the replication stream as a consumer of the propagate step
(server/propagate.py): every write reaches `feed()` in execution order, is encoded
once (with SELECT when the database changes), appended to the backlog, and handed to
every replica's I/O thread.

A full resync takes a copy-on-write snapshot (persistence/snapshot.py) while the
whole keyspace is held, and at that same instant starts buffering the stream for the
new replica, so the RDB plus the buffered stream is exactly the primary's history.
The RDB is written by a background thread, never a worker.
"""
from __future__ import annotations

import io
import logging
import os
import threading
import time

from ferrous.persistence.aof_format import encode_command
from ferrous.replication.backlog import Backlog
from ferrous.server.propagate import TO_REPLICAS

log = logging.getLogger("ferrous.replication")

WAIT_BGSAVE, SEND_BULK, ONLINE = "wait_bgsave_start", "send_bulk", "online"


def new_replid() -> str:
    return os.urandom(20).hex()


class ReplicaClient:
    """A connected replica as the primary sees it (a client with CLIENT_SLAVE)."""

    def __init__(self, conn):
        self.conn = conn
        self.state = WAIT_BGSAVE
        self.pending = bytearray()       # the stream while the RDB is prepared
        self.ack_offset = 0
        self.ack_time = time.time()
        self.listening_port = 0
        self.announced_ip = None
        self.capabilities: set = set()
        self.rdb_only = False
        self.pre_psync = False           # attached with SYNC: never sends REPLCONF ACK
        # After a diskless transfer the stream waits for the replica's first ACK
        # (repl_start_cmd_stream_on_ack): bytes right after the EOF mark would be
        # taken for part of the RDB by a replica reading up to the mark.
        self.stream_on_ack = False

    @property
    def ip(self) -> str:
        return self.announced_ip or self.conn.addr[0]

    def send(self, data: bytes) -> None:
        self.conn.io.deliver(self.conn, data, "more")


class Replication:
    def __init__(self, server):
        self.server = server
        self.lock = threading.RLock()   # offset, backlog, replicas; inside the propagator's
        self.replid = new_replid()
        self.replid2 = "0" * 40
        self.offset = 0                  # master_repl_offset
        self.second_offset = -1
        self.backlog: Backlog | None = None
        self.replicas: list[ReplicaClient] = []
        self.selected_db = -1            # slaveseldb: the stream's current database
        self.link = None                 # replica.ReplicaLink while we follow a primary
        self.waiters: dict = {}          # client id -> (offset, numreplicas) for WAIT
        self.consuming = False
        self._diskless_waiting: dict = {}   # conn -> {"since", "go"}: full syncs held by the delay
        self.no_replicas_since = time.time()    # repl_no_slaves_since, for repl-backlog-ttl
        self._syncs_starting = 0                # full syncs not yet registered as replicas
        from ferrous.replication.failover import Failover
        self.failover = Failover(server)    # FAILOVER's state machine
        self._cron_epoch = time.monotonic()     # replicationCron's loop count starts here
        self._cron_second = -1

    # -- role --------------------------------------------------------------------------
    @property
    def is_replica(self) -> bool:
        return self.link is not None

    # -- the stream ---------------------------------------------------------------------
    def ensure_backlog(self) -> None:
        """createReplicationBacklog, and start consuming the propagate step. Never
        called holding self.lock: feed() takes the propagator's lock, then ours."""
        with self.lock:
            if self.backlog is None:
                self.backlog = Backlog(self.server.config.repl_backlog_size, self.offset)
            register = not self.consuming
            self.consuming = True
        if register:
            self.server.propagator.add_consumer(self)

    def feed(self, entries: list) -> None:
        """The propagate consumer: encode once, then backlog and every replica."""
        chunks = []
        for db, argv, targets in entries:
            if not targets & TO_REPLICAS:
                continue
            if db is not None and db != self.selected_db:
                chunks.append(encode_command([b"SELECT", b"%d" % db]))
                self.selected_db = db
            chunks.append(encode_command(argv))
        if chunks:
            self.feed_raw(b"".join(chunks))

    def feed_raw(self, data: bytes) -> None:
        """Bytes of the replication stream (also a primary's stream proxied by a replica)."""
        with self.lock:
            if self.backlog is None:
                return
            self.backlog.append(data)
            self.offset += len(data)
            for replica in self.replicas:
                if replica.state == ONLINE and not replica.stream_on_ack:
                    replica.send(data)
                else:
                    replica.pending += data

    def feed_command_unselected(self, argv: list) -> None:
        """A command outside any database (PING, REPLCONF GETACK) into the stream."""
        with self.server.propagator.locked():
            self.feed_raw(encode_command(argv))

    # -- a replica attaches -------------------------------------------------------------
    def psync(self, conn, replid: str, offset: int) -> bytes | None:
        """PSYNC: the +CONTINUE reply and backlog tail, or None for a full resync."""
        if self.backlog is not None:
            self.ensure_backlog()   # a promoted replica starts feeding its own writes
        with self.lock:
            if self.backlog is None or self.is_replica and self.link.state != "connected":
                return None
            same_history = replid == self.replid or (
                replid == self.replid2 and offset <= self.second_offset)
            if not same_history or not self.backlog.covers(offset, self.offset):
                return None
            replica = self._register(conn)
            replica.state = ONLINE
            replica.ack_offset = offset - 1
            capa_psync2 = "psync2" in getattr(conn, "repl_capabilities", set())
            head = (b"+CONTINUE %s\r\n" % self.replid.encode()) if capa_psync2 else b"+CONTINUE\r\n"
            replica.send(head + self.backlog.since(offset))
            log.info("Partial resynchronization request from %s accepted. Sending %d bytes of "
                     "backlog starting from offset %d.", conn.addr_text(),
                     self.offset + 1 - offset, offset)
            return head

    def full_sync(self, conn, with_header: bool) -> None:
        """Start a full resync for conn on a background thread (PSYNC or SYNC)."""
        self.ensure_backlog()
        with self.lock:
            self._syncs_starting += 1    # keeps repl-backlog-ttl off the backlog meanwhile
        thread = threading.Thread(target=self._full_sync_starting, args=(conn, with_header),
                                  name="ferrous-repl-sync", daemon=True)
        thread.start()

    def _full_sync_starting(self, conn, with_header: bool) -> None:
        try:
            self._full_sync_body(conn, with_header)
        finally:
            with self.lock:
                self._syncs_starting -= 1

    def _full_sync_body(self, conn, with_header: bool) -> None:
        from ferrous.persistence.snapshot import Snapshot, SnapshotBusy, write_snapshot
        server = self.server
        keyspace = server.keyspace
        if self._diskless_delay_applies(conn):
            self._wait_diskless_delay(conn)
            if conn.closed:
                return
        while True:
            keyspace.lock_all()
            try:
                try:
                    snapshot = Snapshot(keyspace, server.config)
                except SnapshotBusy:
                    snapshot = None
                if snapshot is not None:
                    with self.lock:
                        replica = self._register(conn)
                        replica.rdb_only = getattr(conn, "repl_rdb_only", False)
                        replica.pre_psync = not with_header
                        offset = self.offset
                        self.selected_db = -1      # the stream restarts with a SELECT
                        if with_header:
                            replica.send(b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), offset))
                    break
            finally:
                keyspace.unlock_all()
            if conn.closed:
                return
            time.sleep(0.05)        # a BGSAVE or AOF rewrite holds the snapshot: wait
        diskless = self._diskless_for(conn)
        if diskless:
            if not self._stream_snapshot(replica, snapshot):
                return
        else:
            log.info("Starting BGSAVE for SYNC with target: disk")
            try:
                buffer = io.BytesIO()
                write_snapshot(buffer, snapshot)
            finally:
                snapshot.release()
            payload = buffer.getvalue()
            replica.send(b"$%d\r\n" % len(payload) + payload)
        with self.lock:
            if replica.rdb_only:
                conn.io.deliver(conn, b"", "close")
                self._unregister(conn)
                return
            replica.stream_on_ack = diskless and not replica.pre_psync
            if replica.pending and not replica.stream_on_ack:
                replica.send(bytes(replica.pending))
                replica.pending = bytearray()
            replica.state = ONLINE
            replica.ack_time = time.time()
        log.info("Synchronization with replica %s succeeded", conn.addr_text())

    # -- diskless transfer (rdbSaveToSlavesSockets) ------------------------------------------------
    def _diskless_for(self, conn) -> bool:
        return bool(self.server.config.repl_diskless_sync
                    and "eof" in getattr(conn, "repl_capabilities", set()))

    def _stream_snapshot(self, replica, snapshot) -> bool:
        """Send the RDB as it is written, between "$EOF:<mark>" and the mark, at the
        pace rdb-key-save-delay sets; False when the replica went away meanwhile."""
        from ferrous.persistence.snapshot import SaveCancelled, write_snapshot
        log.info("Starting BGSAVE for SYNC with target: replicas sockets")
        config = self.server.config
        mark = os.urandom(20).hex().encode()
        replica.send(b"$EOF:" + mark + b"\r\n")
        try:
            write_snapshot(_ReplicaSink(replica), snapshot,
                           key_delay_us=max(0, getattr(config, "rdb_key_save_delay", 0)),
                           cancelled=_ReplicaGone(replica.conn))
        except SaveCancelled:
            self._unregister(replica.conn)
            log.warning("Diskless rdb transfer, last replica dropped, killing fork child.")
            return False
        finally:
            snapshot.release()
        replica.send(mark)
        return True

    # -- repl-diskless-sync-delay -------------------------------------------------------------
    def _diskless_delay_applies(self, conn) -> bool:
        """syncCommand delays the transfer only for diskless sync to an EOF-capable replica."""
        config = self.server.config
        return bool(config.repl_diskless_sync and config.repl_diskless_sync_delay
                    and "eof" in getattr(conn, "repl_capabilities", set()))

    def _wait_diskless_delay(self, conn) -> None:
        """Wait, as replicationCron does, until the longest-waiting replica has waited
        repl-diskless-sync-delay seconds (or repl-diskless-sync-max-replicas are
        waiting); the whole waiting batch then starts together. Meanwhile a newline
        each second keeps the replica's link alive."""
        log.info("Delay next BGSAVE for diskless SYNC")
        entry = {"since": time.monotonic(), "go": False}
        with self.lock:
            self._diskless_waiting[conn] = entry
        last_newline = time.monotonic()
        try:
            while not conn.closed:
                with self.lock:
                    if entry["go"] or self._diskless_batch_ready():
                        for waiting in self._diskless_waiting.values():
                            waiting["go"] = True
                        return
                time.sleep(0.05)
                if time.monotonic() - last_newline >= 1.0:
                    self._wait_for_idle_server()
                    conn.io.deliver(conn, b"\n", "more")
                    last_newline = time.monotonic()
        finally:
            with self.lock:
                self._diskless_waiting.pop(conn, None)

    def _diskless_batch_ready(self) -> bool:
        config = self.server.config
        waiting = self._diskless_waiting.values()
        oldest = min(entry["since"] for entry in waiting)
        max_replicas = config.repl_diskless_sync_max_replicas
        return (time.monotonic() - oldest >= config.repl_diskless_sync_delay
                or (max_replicas > 0 and len(waiting) >= max_replicas))

    def _wait_for_idle_server(self) -> None:
        """Redis's newlines come from its single thread, so a command that holds the
        server (DEBUG SLEEP, a long script) holds them back too: wait for the keyspace."""
        keyspace = self.server.keyspace
        keyspace.lock_all()
        keyspace.unlock_all()

    def _register(self, conn) -> ReplicaClient:
        for replica in self.replicas:
            if replica.conn is conn:
                return replica
        replica = ReplicaClient(conn)
        replica.listening_port = getattr(conn, "repl_listening_port", 0)
        replica.announced_ip = getattr(conn, "repl_announced_ip", None)
        replica.capabilities = getattr(conn, "repl_capabilities", set())
        conn.replica = replica
        conn.flags.add("S")
        self.replicas.append(replica)
        return replica

    def _unregister(self, conn) -> None:
        with self.lock:
            before = len(self.replicas)
            self.replicas = [r for r in self.replicas if r.conn is not conn]
            if before and not self.replicas:
                self.no_replicas_since = time.time()

    def client_gone(self, conn) -> None:
        if getattr(conn, "replica", None) is not None:
            self._unregister(conn)
            log.info("Connection with replica %s lost.", conn.addr_text())

    def disconnect_replicas(self) -> None:
        with self.lock:
            replicas, self.replicas = self.replicas, []
            if replicas:
                self.no_replicas_since = time.time()
        for replica in replicas:
            replica.conn.io.deliver(replica.conn, b"", "kill")

    # -- acknowledgements and WAIT ---------------------------------------------------------
    def ack(self, conn, offset: int) -> None:
        replica = getattr(conn, "replica", None)
        if replica is None:
            return
        if replica.stream_on_ack:
            with self.lock:     # replicaStartCommandStream: the stream starts now
                replica.stream_on_ack = False
                if replica.pending:
                    replica.send(bytes(replica.pending))
                    replica.pending = bytearray()
        replica.ack_offset = max(replica.ack_offset, offset)
        replica.ack_time = time.time()
        if self.waiters:
            self._wake_waiters()
        self.failover.on_ack()

    def acked(self, offset: int) -> int:
        with self.lock:
            return sum(1 for r in self.replicas if r.state == ONLINE and r.ack_offset >= offset)

    def _wake_waiters(self) -> None:
        from ferrous.server.blocking import resume
        with self.lock:
            ready = [(cid, off) for cid, (off, need) in self.waiters.items() if self.acked(off) >= need]
            for cid, _ in ready:
                del self.waiters[cid]
        for cid, off in ready:
            resume(self.server, cid, self.acked(off))

    def good_replicas(self) -> int:
        """Replicas whose last ACK is at most min-replicas-max-lag seconds old."""
        max_lag = self.server.config.min_replicas_max_lag
        now = time.time()
        with self.lock:
            return sum(1 for r in self.replicas if r.state == ONLINE and now - r.ack_time <= max_lag)

    # -- a replica becomes a primary ---------------------------------------------------------
    def shift_replid(self) -> None:
        """shiftReplicationId: keep the old history as replid2 so our replicas (and
        the old primary's other replicas) can still continue partially."""
        with self.lock:
            self.replid2 = self.replid
            self.second_offset = self.offset + 1
            self.replid = new_replid()
        log.info("Setting secondary replication ID to %s, valid up to offset: %d. "
                 "New replication ID is %s", self.replid2, self.second_offset, self.replid)

    # -- periodic ---------------------------------------------------------------------------
    def cron(self) -> None:
        """replicationCron, primary half: PING replicas every repl-ping-replica-period.

        Redis counts its once-a-second replicationCron runs from start-up and pings
        when the count is a multiple of the period, so a replica that just attached
        (redis-cli --replica, a test reading the stream) sees no PING before the next
        multiple; counting whole seconds since start-up does the same here."""
        second = int(time.monotonic() - self._cron_epoch)
        if second != self._cron_second:
            self._cron_second = second
            period = self.server.config.repl_ping_replica_period
            if (self.replicas and not self.is_replica and second % period == 0
                    and not self.failover.holds_pings()):   # FAILOVER ... TIMEOUT waits
                self.feed_command_unselected([b"PING"])
        self._drop_timed_out_replicas()
        self._free_idle_backlog()
        if self.is_replica and getattr(self.server, "active_expire_enabled", True):
            expire_replica_keys(self.server)

    def _free_idle_backlog(self) -> None:
        """repl-backlog-ttl: a primary without replicas for that long frees its backlog
        and starts a new history (changeReplicationId, clearReplicationId2)."""
        ttl = self.server.config.repl_backlog_ttl
        with self.lock:
            if (not ttl or self.backlog is None or self.replicas or self.is_replica
                    or self._syncs_starting or time.time() - self.no_replicas_since <= ttl):
                return
            self.backlog = None
            self.replid = new_replid()
            self.replid2 = "0" * 40
            self.second_offset = -1
        log.info("Replication backlog freed after %d seconds without connected replicas.", ttl)

    def _drop_timed_out_replicas(self) -> None:
        """A replica that has not acknowledged for repl-timeout seconds is gone."""
        timeout = self.server.config.repl_timeout
        now = time.time()
        with self.lock:
            late = [r for r in self.replicas if r.state == ONLINE and not r.pre_psync
                    and now - r.ack_time > timeout]
        for replica in late:
            log.warning("Disconnecting timedout replica (streaming sync): %s", replica.conn.addr_text())
            self._unregister(replica.conn)
            replica.conn.io.deliver(replica.conn, b"", "kill")

    # -- introspection --------------------------------------------------------------------
    def replicas_info(self) -> list:
        now = time.time()
        with self.lock:
            return [(r.ip, r.listening_port, r.state if r.state != SEND_BULK else "send_bulk",
                     r.ack_offset, int(now - r.ack_time)) for r in self.replicas]


class _ReplicaSink:
    """The file object write_snapshot writes to: each chunk goes to the replica."""

    def __init__(self, replica):
        self.replica = replica

    def write(self, data) -> int:
        self.replica.send(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


class _ReplicaGone:
    """write_snapshot's `cancelled` event: set once the replica's connection closed."""

    def __init__(self, conn):
        self.conn = conn

    def wait(self, timeout: float) -> bool:
        if not self.conn.closed:
            time.sleep(timeout)
        return self.conn.closed

    def is_set(self) -> bool:
        return self.conn.closed


def expire_replica_keys(server) -> None:
    """expireSlaveKeys: a writable replica deletes the keys its own clients gave a TTL
    once that TTL is over (the primary never sends a DEL for them). Keys that came from
    the primary stay until the primary's DEL, as everywhere on a replica."""
    from ferrous.storage.keyspace import now_ms, primary_stream
    keyspace = server.keyspace
    now = now_ms()
    for db in keyspace.dbs:
        if not db.replica_expires:
            continue
        for key in list(db.replica_expires):
            lock = keyspace.locks[keyspace.shard_of(key)]
            lock.acquire_write()
            try:
                deadline = db.get_expire(key)
                if deadline != -1 and deadline > now:
                    continue
                db.replica_expires.discard(key)
                if deadline == -1:
                    continue        # persisted or deleted meanwhile: no longer ours to expire
                primary_stream.applying = True      # so the lookup inside delete() sees it
                try:
                    db.delete(key)
                finally:
                    primary_stream.applying = False
                hook = keyspace.events.on_expired
                if hook is not None:
                    hook(db, key)
            finally:
                lock.release_write()
