"""Shutting down as Redis 7.0 does (server.c: prepareForShutdown, isReadyToShutdown,
finishShutdown, abortShutdown).

SHUTDOWN, SIGTERM and SIGINT first let lagging replicas catch up: writes are
paused, the replicas are asked for an ACK (REPLCONF GETACK), and the shutdown
waits until every replica has acknowledged the whole stream or `shutdown-timeout`
seconds pass (`shutdown_in_milliseconds` in INFO server counts down). The SHUTDOWN
client is parked meanwhile. Then the final steps run: lagging replicas are logged,
a running BGSAVE is cancelled, the AOF is fsynced, the final RDB is saved when
asked to, the pid file is removed and the server stops. A failed save (without
FORCE) cancels the whole shutdown: the pause ends and every parked SHUTDOWN client
gets "Errors trying to SHUTDOWN. Check logs.". SHUTDOWN ABORT cancels a waiting
shutdown the same way.

The waiting is driven by the cron thread (`tick`), as serverCron drives it.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

from ferrous import errors
from ferrous.protocol import ErrorReply

log = logging.getLogger("ferrous")

# prepareForShutdown's flags, as SHUTDOWN's arguments and shutdown-on-sig* spell them.
SAVE, NOSAVE, NOW, FORCE = "save", "nosave", "now", "force"

_GIVE_UP_REPLYING_AFTER = 100   # cron ticks a cancelled SHUTDOWN client may take to park


class Shutdown:
    """server.shutdown: the state of a shutdown in progress (one per server)."""

    def __init__(self, server):
        self.server = server
        self.lock = threading.RLock()
        self.deadline = 0.0         # time.monotonic() when waiting ends; 0: none (shutdown_mstime)
        self.flags: frozenset = frozenset()
        self.signal = None          # shutdown_asap / last_sig_received: a signal to act on
        self.parked: set = set()    # ids of the SHUTDOWN clients waiting (BLOCKED_SHUTDOWN)
        self._owed: dict = {}       # cancelled clients not yet parked -> ticks left
        self.finished = False

    # -- state --------------------------------------------------------------------------
    def initiated(self) -> bool:
        return self.deadline != 0.0

    def remaining_ms(self) -> int | None:
        """INFO server's shutdown_in_milliseconds, or None while none is in progress."""
        if not self.initiated():
            return None
        return max(0, int((self.deadline - time.monotonic()) * 1000))

    def ready(self) -> bool:
        """isReadyToShutdown: every replica acknowledged the whole stream."""
        repl = self.server.replication
        with repl.lock:
            return all(replica.ack_offset == repl.offset for replica in repl.replicas)

    # -- the steps ----------------------------------------------------------------------
    def prepare(self, flags: frozenset) -> str:
        """prepareForShutdown: "exit" (the server is stopping), "wait" (for the
        replicas), "failed" (finishShutdown failed and cancelled) or "pending" (a
        shutdown was already in progress)."""
        with self.lock:
            if self.initiated() or self.finished:
                return "pending"
            if getattr(self.server, "replica_loading", None) == "sync":    # server.loading
                flags = (flags - {SAVE}) | {NOSAVE}
            self.flags = frozenset(flags)
            log.warning("User requested shutdown...")
            timeout = self.server.config.shutdown_timeout
            if NOW not in flags and timeout != 0 and not self.ready():
                self.deadline = time.monotonic() + timeout
                pause = self.server.watch.pause
                if pause.mode is None:      # areClientsPaused: a pause already holds the offset
                    self.server.replication.feed_command_unselected([b"REPLCONF", b"GETACK", b"*"])
                pause.start_shutdown()
                log.info("Waiting for replicas before shutting down.")
                return "wait"
            return "exit" if self.finish() else "failed"

    def finish(self) -> bool:
        """finishShutdown: the final steps; True when the server is stopping."""
        with self.lock:
            flags = self.flags
            self._log_replicas()
            saving = self.server.rdb
            if saving.in_progress():
                log.warning("There is a child saving an .rdb. Killing it!")
                saving.cancel_background()
            if not self._stop_aof_rewrite(flags) or not self._final_save(flags):
                log.warning("Errors trying to shut down the server. Check the logs for more information.")
                self.cancel()
                return False
            pidfile = self.server.config.pidfile
            if pidfile:
                log.info("Removing the pid file.")
                try:
                    os.unlink(pidfile)
                except OSError:
                    pass
            self.finished = True
            self.deadline = 0.0
        self.server.request_shutdown()
        return True

    def _stop_aof_rewrite(self, flags) -> bool:
        """A running AOF rewrite is killed, unless it writes the first base after
        CONFIG SET appendonly yes (nothing else holds the data yet) and FORCE is absent."""
        aof = self.server.aof
        if aof is None:
            return True
        if aof.rewrite_in_progress:
            if aof.initial_rewrite and aof.enabled:
                if FORCE not in flags:
                    log.warning("Writing initial AOF, can't exit.")
                    return False
                log.warning("Writing initial AOF. Exit anyway.")
            log.warning("There is a child rewriting the AOF. Killing it!")
            aof.kill_rewrite()
        if aof.enabled:
            log.info("Calling fsync() on the AOF file.")
            aof.fsync_now()
        return True

    def _final_save(self, flags) -> bool:
        if not ((self.server.config.save and NOSAVE not in flags) or SAVE in flags):
            return True
        try:
            self.server.rdb.save_for_shutdown()    # logs "Saving the final RDB snapshot ..."
        except Exception:
            if FORCE not in flags:
                log.warning("Error trying to save the DB, can't exit.")
                return False
            log.warning("Error trying to save the DB. Exit anyway.")
        return True

    def _log_replicas(self) -> None:
        repl = self.server.replication
        now = time.time()
        with repl.lock:
            replicas = list(repl.replicas)
            offset = repl.offset
        lagging = 0
        for replica in replicas:
            if replica.ack_offset != offset:
                lagging += 1
                lag = int(now - replica.ack_time) if replica.state == "online" else 0
                log.warning("Lagging replica %s:%d reported offset %d behind master, lag=%d, state=%s.",
                            replica.ip, replica.listening_port, offset - replica.ack_offset, lag,
                            replica.state)
        if replicas:
            log.info("%d of %d replicas are in sync when shutting down.",
                     len(replicas) - lagging, len(replicas))

    def cancel(self) -> None:
        """cancelShutdown: forget the shutdown, answer the parked SHUTDOWN clients with
        an error and end the pause."""
        with self.lock:
            was_paused = self.initiated()
            self.deadline = 0.0
            self.flags = frozenset()
            self.signal = None
            parked, self.parked = self.parked, set()
        for client_id in parked:
            self._answer(client_id)
        if was_paused:
            self.server.watch.pause.stop(None, shutdown=True)

    def abort(self) -> bool:
        """abortShutdown (SHUTDOWN ABORT): False when no shutdown was in progress."""
        with self.lock:
            if self.initiated():
                self.cancel()
            elif self.signal is not None:
                self.signal = None      # a signal's shutdown not started yet
            else:
                return False
        log.info("Shutdown manually aborted.")
        return True

    def _answer(self, client_id: int) -> None:
        if not self._resume_with_error(client_id):
            self._owed[client_id] = _GIVE_UP_REPLYING_AFTER     # parks after this; see tick()

    def _resume_with_error(self, client_id: int) -> bool:
        from ferrous.server.blocking import resume
        return resume(self.server, client_id, ErrorReply(errors.SHUTDOWN_ERR))

    # -- signals and the cron -------------------------------------------------------------
    def on_signal(self, signum: int) -> None:
        """sigShutdownHandler (in the main thread): the cron does the work."""
        if self.signal is not None and signum == signal.SIGINT:
            log.warning("You insist... exiting now.")
            os._exit(1)
        name = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}.get(signum)
        log.warning("Received %s scheduling shutdown..." % name if name
                    else "Received shutdown signal, scheduling shutdown...")
        self.signal = signum

    def tick(self) -> None:
        """serverCron's part: start a signal's shutdown, or end a waiting one."""
        for client_id in list(self._owed):
            self._owed[client_id] -= 1
            if self._resume_with_error(client_id) or self._owed[client_id] <= 0:
                del self._owed[client_id]
        signum = self.signal
        if signum is not None and not self.initiated() and not self.finished:
            config = self.server.config
            option = config.shutdown_on_sigint if signum == signal.SIGINT else config.shutdown_on_sigterm
            if self.prepare(_signal_flags(option)) == "failed":
                self.signal = None
        elif self.initiated() and (time.monotonic() >= self.deadline or self.ready()):
            self.finish()

    def park(self, client_id: int) -> None:
        with self.lock:
            self.parked.add(client_id)


def _signal_flags(option) -> frozenset:
    """shutdown-on-sigterm / shutdown-on-sigint ("default" or flags) as prepare()'s flags."""
    if not option:
        return frozenset()
    if isinstance(option, str):
        option = option.split()
    return frozenset(flag for flag in option if flag != "default")


def install(server) -> None:
    server.shutdown = Shutdown(server)
    server.cron.tasks.append(server.shutdown.tick)
