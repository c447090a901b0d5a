"""FAILOVER: a coordinated switch of roles between this primary and one of its
replicas (replication.c: failoverCommand, updateFailoverStatus, abortFailover and the
PSYNC ... FAILOVER variant of syncCommand).

    no-failover --FAILOVER--> waiting-for-sync --target acked our offset--> failover-in-progress
                                  |  (or TIMEOUT with FORCE)                 |
                                  +--TIMEOUT / ABORT--> no-failover <--------+--target answered PSYNC

waiting-for-sync pauses clients' writes (ClientPause.start_failover) so our offset holds
still, and a watcher thread waits for the target replica's REPLCONF ACK to reach it.
Then we follow the target (become_replica) and our PSYNC carries FAILOVER: the target,
if its replication ID is ours, promotes itself and continues us partially. Once it
answered +CONTINUE or +FULLRESYNC the pause ends (postponed writes now get -READONLY);
any other answer aborts: we are a primary again and the pause ends.

Every state change runs on the watcher thread or on the worker running FAILOVER, under
self.lock. The replica link only reports the target's answer (psync_answered); it never
changes the state itself, since aborting stops (joins) that very link.
"""
from __future__ import annotations

import logging
import threading
import time

from ferrous import errors
from ferrous.errors import CommandError
from ferrous.replication.primary import ONLINE

log = logging.getLogger("ferrous.replication")

NO_FAILOVER, WAIT_FOR_SYNC, IN_PROGRESS = "no-failover", "waiting-for-sync", "failover-in-progress"
POLL_SECONDS = 0.1      # the watcher also looks at least this often (Redis: every beforeSleep)


class Failover:
    """server.replication.failover: the failover_* fields of Redis's server struct."""

    def __init__(self, server):
        self.server = server
        self.lock = threading.RLock()
        self.state = NO_FAILOVER
        self.end_time = 0.0         # time.monotonic() deadline; 0 = no TIMEOUT
        self.force = False
        self.target_host: str | None = None
        self.target_port = 0
        self.generation = 0         # one per FAILOVER: a stale watcher or answer is ignored
        self.wakeup = threading.Event()
        self.answer = None          # (generation, accepted, reason) from the replica link
        self.answer_lock = threading.Lock()     # never held while anything else is awaited

    # -- FAILOVER [TO host port [FORCE]] [TIMEOUT ms] ---------------------------------------
    def begin(self, host: str | None, port: int, timeout_ms: int, force: bool) -> None:
        """failoverCommand once its arguments parsed: the checks in Redis's order, then
        pause writes and watch for the target to catch up."""
        repl = self.server.replication
        with self.lock:
            if self.state != NO_FAILOVER:
                raise CommandError(errors.FAILOVER_IN_PROGRESS)
            if repl.is_replica:
                raise CommandError(errors.FAILOVER_ON_REPLICA)
            if not repl.replicas:
                raise CommandError(errors.FAILOVER_NO_REPLICAS)
            if force and (not timeout_ms or host is None):
                raise CommandError(errors.FAILOVER_FORCE_NEEDS_TARGET)
            if host is not None:
                replica = find_replica(repl, host, port)
                if replica is None:
                    raise CommandError(errors.FAILOVER_TARGET_NOT_REPLICA)
                if replica.state != ONLINE:
                    raise CommandError(errors.FAILOVER_TARGET_NOT_ONLINE)
                log.info("FAILOVER requested to %s:%d.", host, port)
            else:
                log.info("FAILOVER requested to any replica.")
            self.target_host, self.target_port = host, port
            self.end_time = time.monotonic() + timeout_ms / 1000 if timeout_ms else 0.0
            self.force = force
            self.state = WAIT_FOR_SYNC
            self.generation += 1
            self.answer = None
            self.server.watch.pause.start_failover()
            generation = self.generation
        threading.Thread(target=self._watch, args=(generation,), name="ferrous-failover",
                         daemon=True).start()

    def abort_command(self, ctx) -> None:
        """FAILOVER ABORT."""
        if not self.abort("Failover manually aborted", ctx):
            raise CommandError(errors.NO_FAILOVER_IN_PROGRESS)

    # -- the watcher --------------------------------------------------------------------------
    def _watch(self, generation: int) -> None:
        self._settle_writes()
        while True:
            with self.lock:
                if self.generation != generation or self.state == NO_FAILOVER:
                    return
                if self.state == WAIT_FOR_SYNC:
                    self._update_status()
                else:
                    self._take_answer(generation)
                delay = POLL_SECONDS
                if self.state == WAIT_FOR_SYNC and self.end_time:
                    delay = max(0.0, min(delay, self.end_time - time.monotonic()))
            self.wakeup.wait(delay)
            self.wakeup.clear()

    def _settle_writes(self) -> None:
        """A write that passed the pause before FAILOVER began may still be running on
        another worker: holding every shard once waits for it (and its propagation),
        after which our offset only moves by PINGs and GETACKs."""
        keyspace = self.server.keyspace
        keyspace.lock_all()
        keyspace.unlock_all()

    def _update_status(self) -> None:
        """updateFailoverStatus: time out (fail over anyway with FORCE), or start the
        failover once the target (or, without TO, any replica) acknowledged our offset."""
        if self.end_time and self.end_time <= time.monotonic():
            if self.force:
                log.info("FAILOVER to %s:%d time out exceeded, failing over.",
                         self.target_host, self.target_port)
                self._fail_over()
            else:
                self.abort("Replica never caught up before timeout")
            return
        repl = self.server.replication
        offset = repl.offset
        if self.target_host is not None:
            replica = find_replica(repl, self.target_host, self.target_port)
        else:
            replica = next((r for r in list(repl.replicas) if r.ack_offset == offset), None)
            if replica is not None:     # we are now failing over to this one
                self.target_host, self.target_port = replica.ip, replica.listening_port
        if replica is not None and replica.ack_offset == offset:
            log.info("Failover target %s:%d is synced, failing over.", self.target_host, self.target_port)
            self._fail_over()

    def _fail_over(self) -> None:
        """replicationSetMaster(target) with the state failover-in-progress: the link's
        PSYNC then carries FAILOVER."""
        from ferrous.commands.replication import become_replica
        self.state = IN_PROGRESS
        become_replica(self.server, self.target_host, self.target_port)

    def _take_answer(self, generation: int) -> None:
        """syncWithMaster's check of the target's answer to PSYNC ... FAILOVER."""
        with self.answer_lock:
            answer, self.answer = self.answer, None
        if answer is None or answer[0] != generation:
            return
        if answer[1]:
            self._clear()
        else:
            self.abort(answer[2])

    # -- the replica link's side ---------------------------------------------------------------
    # Lock-free: an abort holds self.lock while it stops (joins) the link calling these.
    def psync_argument(self) -> tuple:
        """(generation, the extra PSYNC arguments): FAILOVER while in progress."""
        generation, state = self.generation, self.state
        return generation, [b"FAILOVER"] if state == IN_PROGRESS else []

    def psync_answered(self, generation: int, accepted: bool, reason: str = "") -> None:
        """The target answered our PSYNC FAILOVER (accepted: +CONTINUE / +FULLRESYNC),
        or writing it failed: the watcher acts on it (a stale generation is dropped)."""
        with self.answer_lock:
            self.answer = (generation, accepted, reason)
        self.wakeup.set()

    def on_ack(self) -> None:
        """A replica's REPLCONF ACK: look again at once (Redis does in beforeSleep)."""
        if self.state == WAIT_FOR_SYNC:
            self.wakeup.set()

    # -- ending -----------------------------------------------------------------------------------
    def abort(self, reason: str, ctx=None) -> bool:
        """abortFailover: when in progress we are a primary again
        (replicationUnsetMaster), then the state clears and writes resume."""
        from ferrous.commands.replication import become_primary
        with self.lock:
            if self.state == NO_FAILOVER:
                return False
            if self.target_host is not None:
                log.info("FAILOVER to %s:%d aborted: %s", self.target_host, self.target_port, reason)
            else:
                log.info("FAILOVER to any replica aborted: %s", reason)
            if self.state == IN_PROGRESS:
                become_primary(self.server)
            self._clear(ctx)
            return True

    def _clear(self, ctx=None) -> None:
        """clearFailoverState: forget the failover and end its pause (postponed clients
        are served on ctx's worker after its command, or at once without ctx)."""
        self.end_time = 0.0
        self.force = False
        self.target_host, self.target_port = None, 0
        self.state = NO_FAILOVER
        self.generation += 1        # a watcher still running stops
        self.answer = None
        self.server.watch.pause.stop(ctx, failover=True)
        self.wakeup.set()

    def holds_pings(self) -> bool:
        """replicationCron sends no PING while a FAILOVER with a TIMEOUT pauses writes:
        it would move the offset the replicas must reach."""
        return bool(self.end_time) and self.server.watch.pause.mode is not None


# -- the target's side: PSYNC <replid> <offset> FAILOVER -------------------------------------
def accept_failover_request(ctx, replid: bytes) -> None:
    """syncCommand: a replica asked to take over by its primary promotes itself when
    the request carries its own replication ID; the PSYNC then proceeds as usual."""
    from ferrous.commands.replication import become_primary
    repl = ctx.server.replication
    log.warning("Failover request received for replid %s.", replid.decode("latin-1"))
    if not repl.is_replica:
        raise CommandError(errors.PSYNC_FAILOVER_TO_MASTER)
    if replid.decode("latin-1").lower() != repl.replid.lower():
        raise CommandError(errors.PSYNC_FAILOVER_REPLID)
    _let_link_drain(repl.link)
    become_primary(ctx.server)
    log.info("MASTER MODE enabled (failover request from '%s')", ctx.conn.addr_text())


def _let_link_drain(link, timeout: float = 0.5) -> None:
    """The old primary closed our link before it sent PSYNC FAILOVER, so what it wrote
    is all in the link's socket: let the link apply it and meet the end of the stream
    (a FORCEd failover may come before we read it all), then promote, so the old
    primary continues partially. Redis's event loop may serve either socket first
    (failover.tcl accepts both outcomes); the link's thread is given the first go."""
    from ferrous.replication.replica import CONNECTED
    deadline = time.monotonic() + timeout
    while link is not None and link.state == CONNECTED and time.monotonic() < deadline:
        time.sleep(0.005)


def is_failover_request(argv: list) -> bool:
    return len(argv) > 3 and argv[3].lower() == b"failover"


def find_replica(repl, host: str, port: int):
    """findReplica: the replica announcing (or connected from) host, listening on port."""
    host = host.lower()
    for replica in list(repl.replicas):
        if replica.ip.lower() == host and replica.listening_port == port:
            return replica
    return None
