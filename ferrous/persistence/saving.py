"""The server's RDB duties (rdb.c's rdbSave/rdbSaveBackground, serverCron's save points,
loadDataFromDisk): SAVE, BGSAVE, save points, loading dump.rdb at start-up, and the
`# Persistence` fields of INFO.

A background save freezes the keyspace for an instant (snapshot.py) and writes the file
from a thread while clients keep being served. Files are written to temp-<pid>.rdb,
fsynced, then renamed over dbfilename, so a crash mid-save never leaves a broken
dump.rdb. One save runs at a time, as Redis has one child at a time.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from ferrous import errors
from ferrous.persistence import rdb
from ferrous.persistence.snapshot import SaveCancelled, Snapshot, SnapshotBusy, write_snapshot
from ferrous.storage.keyspace import now_ms

log = logging.getLogger("ferrous.rdb")

BGSAVE_RETRY_DELAY = 5          # CONFIG_BGSAVE_RETRY_DELAY: seconds between failed attempts


class _CancellableFile:
    """A file wrapper whose writes fail once the save is cancelled, so that a cancelled
    background save stops at its next buffer flush."""

    def __init__(self, fh, cancelled: threading.Event):
        self.fh = fh
        self.cancelled = cancelled

    def write(self, data) -> int:
        if self.cancelled.is_set():
            raise SaveCancelled()
        return self.fh.write(data)


class RdbState:
    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.lastsave = int(time.time())
        self.lastbgsave_try = 0
        self.last_bgsave_status = "ok"
        self.last_bgsave_time_sec = -1
        self.bgsave_thread: threading.Thread | None = None
        self.bgsave_started = 0.0
        self.bgsave_scheduled = False
        self.snapshot: Snapshot | None = None
        self.cancelled = threading.Event()
        self.dirty_baseline = 0         # total dirty at the last successful save
        self.saves = 0
        self.loaded_keys = 0
        self.load_expired = 0

    # -- counters ------------------------------------------------------------------
    def total_dirty(self) -> int:
        workers = getattr(self.server, "workers", None)
        return sum(ctx.dirty for ctx in workers.contexts) if workers is not None else 0

    def changes_since_save(self) -> int:
        return self.total_dirty() - self.dirty_baseline

    def in_progress(self) -> bool:
        return self.bgsave_thread is not None

    def path(self) -> str:
        config = self.server.config
        return os.path.join(config.dir or os.getcwd(), config.dbfilename)

    # -- writing -----------------------------------------------------------------------
    def _freeze(self, foreground: bool = False) -> tuple[Snapshot, int]:
        """Take a snapshot; the caller holds the whole keyspace (and keeps it until the
        file is written when foreground)."""
        snapshot = Snapshot(self.server.keyspace, self.server.config, foreground=foreground)
        return snapshot, self.total_dirty()

    def _write_file(self, snapshot: Snapshot, cancelled: threading.Event | None = None) -> None:
        """rdbSave's file dance: temp-<pid>.rdb, fsync, rename, fsync the directory."""
        config = self.server.config
        directory = config.dir or os.getcwd()
        temp = os.path.join(directory, "temp-%d.rdb" % os.getpid())
        try:
            with open(temp, "wb") as fh:
                target = _CancellableFile(fh, cancelled) if cancelled is not None else fh
                write_snapshot(target, snapshot, used_memory=_used_memory(self.server),
                               key_delay_us=max(0, getattr(config, "rdb_key_save_delay", 0)),
                               lru_idle="lru" in getattr(config, "maxmemory_policy", ""),
                               cancelled=cancelled)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, self.path())
            _fsync_dir(directory)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise

    def _saved(self, dirty_at_snapshot: int) -> None:
        self.dirty_baseline = dirty_at_snapshot
        self.lastsave = int(time.time())

    def save(self) -> None:
        """SAVE / SHUTDOWN's save: synchronous; the caller holds the whole keyspace (or
        the server no longer runs commands). Raises on failure."""
        self.saves += 1
        snapshot, dirty = self._freeze(foreground=True)
        try:
            self._write_file(snapshot)
        except Exception:
            # Only a background save's failure sets lastbgsave_status (rdb.c).
            log.exception("Failed saving the DB")
            raise
        finally:
            snapshot.release()
        self._saved(dirty)
        self._set_status("ok")
        log.info("DB saved on disk")

    def save_for_shutdown(self) -> None:
        """prepareForShutdown: stop a running BGSAVE, then save in the foreground with
        the whole keyspace held."""
        self.cancel_background()
        keyspace = self.server.keyspace
        keyspace.lock_all()
        try:
            log.info("Saving the final RDB snapshot before exiting.")
            self.save()
        finally:
            keyspace.unlock_all()

    def flushall_save(self) -> None:
        """flushAllDataAndResetRDB: FLUSHALL stops a running BGSAVE and, when save points
        are configured, saves the empty dataset at once (keeping the dirty counter, so
        that the FLUSHALL still counts as a change). Runs under the whole keyspace."""
        self.cancel_background()
        if not self.server.config.save:
            return
        try:
            snapshot, _ = self._freeze(foreground=True)
        except SnapshotBusy:
            # A replica's full sync holds the one snapshot (Redis would kill that child
            # and save). FLUSHALL still succeeds; its dirty count makes the next save
            # point write the empty dataset.
            log.warning("FLUSHALL: not saving now, a snapshot for a replica is being written")
            return
        try:
            self._write_file(snapshot)
            self.lastsave = int(time.time())
            self._set_status("ok")
        except Exception:
            log.exception("Failed saving the DB after FLUSHALL")
            self._set_status("err")
        finally:
            snapshot.release()

    def start_background(self, holding_keyspace: bool) -> bool:
        """rdbSaveBackground: False when a save already runs. The keyspace is taken
        before self.lock, in the same order as the BGSAVE command (which holds it)."""
        keyspace = self.server.keyspace
        if not holding_keyspace:
            keyspace.lock_all()
        try:
            with self.lock:
                if self.bgsave_thread is not None:
                    return False
                snapshot, dirty = self._freeze()
                self.saves += 1
                self.lastbgsave_try = int(time.time())
                self.bgsave_started = time.monotonic()
                self.snapshot = snapshot
                self.cancelled = cancelled = threading.Event()
                thread = threading.Thread(target=self._background_body, args=(snapshot, dirty, cancelled),
                                          name="ferrous-bgsave", daemon=True)
                self.bgsave_thread = thread
        finally:
            if not holding_keyspace:
                keyspace.unlock_all()
        log.info("Background saving started")
        thread.start()
        return True

    def _background_body(self, snapshot: Snapshot, dirty: int, cancelled: threading.Event) -> None:
        status = "ok"
        try:
            self._write_file(snapshot, cancelled)
            self._saved(dirty)
            log.info("Background saving terminated with success")
        except SaveCancelled:
            # killRDBChild's SIGUSR1 is not a failure: the last status stays as it was.
            status = self.last_bgsave_status
            log.warning("Background saving terminated by signal 10")
        except Exception:
            status = "err"
            log.exception("Background saving error")
        finally:
            snapshot.release()
            with self.lock:
                self._set_status(status)
                self.last_bgsave_time_sec = int(time.monotonic() - self.bgsave_started)
                self.snapshot = None
                self.bgsave_thread = None

    def cancel_background(self) -> None:
        """killRDBChild: stop a running BGSAVE and wait for its thread."""
        thread = self.bgsave_thread
        if thread is None:
            return
        self.cancelled.set()
        thread.join()

    def wait_background(self, timeout: float | None = None) -> None:
        thread = self.bgsave_thread
        if thread is not None:
            thread.join(timeout)

    def _set_status(self, status: str) -> None:
        """lastbgsave_status; after a failure, write commands are refused (MISCONF)
        through the dispatcher's disk check, which costs nothing while saves succeed."""
        self.last_bgsave_status = status
        self.server.disk_error_check = self._misconf if status == "err" else None

    def _misconf(self) -> str | None:
        """writeCommandsDeniedByDiskError for the RDB."""
        config = self.server.config
        if config.stop_writes_on_bgsave_error and config.save and self.last_bgsave_status == "err":
            return errors.MISCONF_RDB
        return None

    # -- serverCron --------------------------------------------------------------------
    def cron(self) -> None:
        """Save points and scheduled BGSAVEs."""
        if self.in_progress() or _aof_rewriting(self.server):
            return
        now = int(time.time())
        may_retry = now - self.lastbgsave_try > BGSAVE_RETRY_DELAY or self.last_bgsave_status == "ok"
        if not may_retry:
            return
        changes = self.changes_since_save()
        for seconds, needed in self.server.config.save:
            if changes >= needed and now - self.lastsave > seconds:
                log.info("%d changes in %d seconds. Saving...", needed, seconds)
                self.start_background(holding_keyspace=False)
                return
        if self.bgsave_scheduled and self.start_background(holding_keyspace=False):
            self.bgsave_scheduled = False

    # -- INFO ----------------------------------------------------------------------------
    def info(self) -> dict:
        snapshot = self.snapshot
        running = self.bgsave_thread is not None and snapshot is not None
        done = snapshot.keys_done if running else 0
        total = snapshot.keys_total if running else 0
        return {
            # A replica loading its primary's RDB (replication/replica.py): "sync" or "async".
            "loading": int(getattr(self.server, "replica_loading", None) == "sync"),
            "async_loading": int(getattr(self.server, "replica_loading", None) == "async"),
            "current_fork_perc": "%.2f" % (done * 100 / total if total else 0),
            "current_save_keys_processed": done,
            "current_save_keys_total": total,
            "rdb_changes_since_last_save": self.changes_since_save(),
            "rdb_bgsave_in_progress": int(running),
            "rdb_last_save_time": self.lastsave,
            "rdb_last_bgsave_status": self.last_bgsave_status,
            "rdb_last_bgsave_time_sec": self.last_bgsave_time_sec,
            "rdb_current_bgsave_time_sec": int(time.monotonic() - self.bgsave_started) if running else -1,
            "rdb_saves": self.saves,
            "rdb_last_load_keys_expired": self.load_expired,
            "rdb_last_load_keys_loaded": self.loaded_keys,
        }

    # -- loading -------------------------------------------------------------------------
    def load_at_boot(self) -> None:
        """loadDataFromDisk without an AOF: dump.rdb if it exists."""
        path = self.path()
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return
        except OSError as exc:      # "Fatal error loading the DB: <strerror>. Exiting."
            raise rdb.RDBError(os.strerror(exc.errno or 0)) from None
        started = time.monotonic()
        try:
            loaded, expired = load_into_keyspace(self.server, data, aof_preamble=False)
        except (rdb.RDBError, ValueError, IndexError, OverflowError) as exc:
            _log_corrupt_rdb(exc)
            raise rdb.RDBLoadAborted() from exc
        self.loaded_keys, self.load_expired = loaded, expired
        skipped = getattr(self.server, "rdb_empty_keys_skipped", 0)
        if skipped:
            log.warning("Done loading RDB, keys loaded: %d, keys expired: %d, empty keys skipped: %d.",
                        loaded, expired, skipped)
        else:
            log.info("Done loading RDB, keys loaded: %d, keys expired: %d.", loaded, expired)
        log.info("DB loaded from disk: %.3f seconds", time.monotonic() - started)


def _log_corrupt_rdb(exc: Exception) -> None:
    """rdbReportError's lines for a data file that fails to load (the suite greps
    "CRC error"); Ferrous knows no offset nor C line, so both read 0."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, rdb.RDBChecksumError):
        log.warning("Wrong RDB checksum expected: (%x) but got (%x). Aborting now.",
                    exc.expected, exc.got)
        reason = "RDB CRC error"
    message = "Internal error in RDB reading offset 0, function at rdb.c:0 -> %s" % reason
    log.warning("%s", message)
    # Redis then runs redis-check-rdb on the file, which reports the error again.
    log.warning("--- RDB ERROR DETECTED ---")
    log.warning("[offset 0] %s", message)


FUNCTIONS_FLUSH = "flush"        # the file's libraries replace ours (emptyData with functions)
FUNCTIONS_ADD = "add"            # added to ours; an existing name fails the load
FUNCTIONS_REPLACE = "replace"    # added to ours, replacing same-named (RDBFLAGS_ALLOW_DUP)


def load_into_keyspace(server, data, aof_preamble: bool,
                       functions: str = FUNCTIONS_FLUSH) -> tuple[int, int]:
    """rdbLoad into server.keyspace (no client runs yet): (keys loaded, keys skipped as
    expired). A primary skips keys already expired, except in an AOF preamble. The
    file's function libraries are loaded as `functions` says: by default they replace
    the server's, as at start-up, DEBUG RELOAD and a replica's full sync."""
    keyspace = server.keyspace
    now = now_ms()
    skip_expired = not aof_preamble and not keyspace.dbs[0].is_replica
    counts = [0, 0]
    monotonic = time.monotonic()

    def on_key(item: rdb.LoadedKey) -> None:
        if item.db >= len(keyspace.dbs):
            raise rdb.RDBError("FATAL: Data file was created with a Redis server configured to "
                               "handle more than %d databases. Exiting" % len(keyspace.dbs))
        if skip_expired and item.expire_ms != -1 and item.expire_ms < now:
            counts[1] += 1
            return
        db = keyspace.dbs[item.db]
        idx = hash(item.key) & db.mask
        if item.key in db.data[idx]:
            raise rdb.RDBError("RDB has duplicated key '%s' in DB %d"
                               % (item.key.decode(errors="replace"), item.db))
        db.set(item.key, item.value)
        if item.expire_ms != -1:
            db.set_expire(item.key, item.expire_ms)
        if item.idle is not None:
            db.atime[idx][item.key] = monotonic - item.idle
        counts[0] += 1

    reader = rdb.RdbReader(data, server.config)
    reader.on_function = _function_loader(server, functions)
    keyspace.set_loading(True)          # nothing expires while loading (keyIsExpired)
    try:
        end = reader.load(on_key, verify_checksum=bool(getattr(server.config, "rdbchecksum", True))
                          and not getattr(server.config, "skip_checksum_validation", False))
    finally:
        keyspace.set_loading(False)
    server.rdb_loaded_end = end
    server.rdb_empty_keys_skipped = reader.empty_keys_skipped
    server.rdb_loaded_aux = dict(reader.aux)    # repl-id / repl-offset (replication.start)
    return counts[0], counts[1]


def _function_loader(server, policy: str):
    """rdbFunctionLoad, called for each FUNCTION2 record as the reader meets it (before
    any key, as in Redis). A library that fails to load fails the whole load."""
    from ferrous.errors import CommandError
    from ferrous.scripting import state as scripting_state
    if policy == FUNCTIONS_FLUSH:
        scripting_state.flush_libraries(server)
    replace = policy == FUNCTIONS_REPLACE

    def load(code: bytes) -> None:
        try:
            scripting_state.restore_library(server, code, replace)
        except CommandError as exc:
            message = exc.message[4:] if exc.message.startswith("ERR ") else exc.message
            raise rdb.RDBError("Failed loading library, %s" % message) from None
    return load


def _aof_rewriting(server) -> bool:
    aof = getattr(server, "aof", None)
    return bool(aof is not None and getattr(aof, "rewrite_in_progress", False))


def _used_memory(server) -> int:
    """INFO used_memory for the used-mem aux field (informational only)."""
    try:
        from ferrous.commands.server import used_memory
        return int(used_memory(server))
    except Exception:
        return 0


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def install(server) -> RdbState:
    """Attach the RDB state to the server and the hooks other modules look for."""
    state = RdbState(server)
    server.rdb = state
    server.disk_error_check = None                          # MISCONF (server/dispatch.py)
    server.info_persistence = state.info                    # INFO persistence fields
    server.bgsave_in_progress = state.in_progress           # the AOF rewrite waits for it
    server.flushall_save = state.flushall_save              # FLUSHALL (commands/server.py)
    server.cron.tasks.append(state.cron)
    return state
