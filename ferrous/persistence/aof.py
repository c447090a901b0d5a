"""The append only file, in Redis 7.0's multi-part layout (aof.c).

`appenddirname` holds a manifest naming a base file (a snapshot: RDB with
`aof-use-rdb-preamble`, else commands), zero or more history files waiting to be
deleted, and incremental files of commands written since the base:

    file appendonly.aof.2.base.rdb seq 2 type b
    file appendonly.aof.2.incr.aof seq 2 type i

The AOF is a consumer of the propagate step (server/propagate.py): every write
reaches `feed()` in execution order, under the propagator's lock, and is written
to the current incremental file at once. With `appendfsync always` it is also
fsynced there, before the worker lets the reply go, so an acknowledged write
survives kill -9; `everysec` fsyncs from a background thread once a second; `no`
leaves it to the kernel.

A rewrite (BGREWRITEAOF, automatic growth, turning appendonly on) opens the next
incremental file and writes a new base in the background from a point-in-time
view of the keyspace taken at that same instant, then swaps the manifest
atomically (write a temp file, fsync, rename) and deletes the history.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time

from ferrous.persistence import aof_format
from ferrous.persistence.aof_format import encode_command
from ferrous.server.propagate import TO_AOF

log = logging.getLogger("ferrous.aof")

BASE, HISTORY, INCR = "b", "h", "i"


class AofError(Exception):
    pass


_MANIFEST_MAX_LINE = 1024


def _manifest_error(reason: str, number: int = 0, line: str | None = None) -> None:
    """The lines aofLoadManifestFromFile logs before exit(1); the reason goes last."""
    log.warning("\n*** FATAL AOF MANIFEST FILE ERROR ***\n")
    if line is not None:
        log.warning("Reading the manifest file, at line %d\n", number)
        log.warning(">>> '%s'\n", line)
    raise AofError(reason + "\n")


def _atoll(text: str) -> int:
    """C atoll: the leading integer, 0 when there is none."""
    digits = re.match(r"\s*[+-]?\d+", text)
    return int(digits.group()) if digits else 0


# -- the manifest ---------------------------------------------------------------------
class Manifest:
    """The list of AOF files and their roles (aofManifest). Base and incremental
    files count their sequence numbers separately, as Redis does."""

    def __init__(self):
        self.base = None           # (name, seq) or None
        self.incrs = []            # [(name, seq)], oldest first
        self.history = []          # [(name, seq)]: replaced files, to delete
        self.base_seq = 0
        self.incr_seq = 0

    @classmethod
    def parse(cls, text: str) -> "Manifest":
        """aofLoadManifestFromFile: the first bad line stops the server, logged as Redis
        logs it (Redis's aof-multi-part.tcl greps these texts)."""
        manifest = cls()
        lines = text.splitlines(keepends=True)
        if not lines:
            _manifest_error("Found an empty AOF manifest")
        for number, raw in enumerate(lines, 1):
            if raw.startswith("#"):
                continue
            if not raw.endswith("\n") or len(raw) > _MANIFEST_MAX_LINE:
                _manifest_error("The AOF manifest file contains too long line")
            line = raw.strip(" \t\r\n")
            try:
                manifest._add_line(line)
            except AofError as exc:
                _manifest_error(str(exc), number, line)
        return manifest

    def _add_line(self, line: str) -> None:
        from ferrous.protocol.parser import split_inline_args
        fields = split_inline_args(line.encode("utf-8", "surrogateescape"))   # sdssplitargs
        fields = [field.decode("utf-8", "surrogateescape") for field in fields or ()]
        if not fields or len(fields) < 6 or len(fields) % 2:
            raise AofError("Invalid AOF manifest file format")
        name, seq, kind = None, 0, ""
        for key, value in zip(fields[::2], fields[1::2]):
            key = key.lower()
            if key == "file":
                name = value
                if os.path.basename(name) != name:
                    raise AofError("File can't be a path, just a filename")
            elif key == "seq":
                seq = _atoll(value)
            elif key == "type":
                kind = value[0]
        if not name or not seq or not kind:
            raise AofError("Invalid AOF manifest file format")
        entry = (name, seq)
        if kind == BASE:
            if self.base is not None:
                raise AofError("Found duplicate base file information")
            self.base = entry
            self.base_seq = seq
        elif kind == HISTORY:
            self.history.append(entry)
        elif kind == INCR:
            if seq <= self.incr_seq:
                raise AofError("Found a non-monotonic sequence number")
            self.incrs.append(entry)
            self.incr_seq = seq
        else:
            raise AofError("Unknown AOF file type")

    def render(self) -> str:
        lines = []
        if self.base is not None:
            lines.append(_manifest_line(self.base, BASE))
        lines += [_manifest_line(entry, HISTORY) for entry in self.history]
        lines += [_manifest_line(entry, INCR) for entry in self.incrs]
        return "".join(lines)


def _manifest_line(entry: tuple, kind: str) -> str:
    """aofInfoFormat: a name with spaces, quotes or control characters is quoted."""
    name, seq = entry
    if re.search(r'[\s"\\]|[^\x20-\x7e]', name):
        from ferrous.server.limits import sds_repr
        name = sds_repr(name.encode("utf-8", "surrogateescape"))
    return "file %s seq %d type %s\n" % (name, seq, kind)


# -- the writer -----------------------------------------------------------------------
class AppendOnlyFile:
    """The running AOF: the propagate consumer, fsync policy and rewrites."""

    def __init__(self, server):
        self.server = server
        self.config = server.config
        self.lock = threading.Lock()         # the file handle, manifest and sizes
        self.manifest = Manifest()
        self.fd = -1
        self.selected_db = -1
        self.annotated_second = 0      # aof_cur_timestamp: the last "#TS:" annotation
        self.unsynced = False
        self.last_fsync = time.monotonic()
        self.current_size = 0                # base + incrementals, for INFO and auto-rewrite
        self.base_size = 0
        self.rewrite_thread: threading.Thread | None = None
        self.initial_rewrite = False     # the running rewrite makes the first base (rewrite_background)
        self.rewrite_started = 0.0
        self.rewrite_scheduled = False
        self.last_rewrite_time = -1
        self.last_rewrite_status = "ok"
        self.rewrites = 0
        self.rewrite_failures = 0
        self.last_write_status = "ok"
        self.delayed_fsync = 0
        self.enabled = False
        self._rewrite_gate = threading.Lock()
        self.rewrite_cancelled = threading.Event()   # killAppendOnlyChild for the thread
        self._stop = threading.Event()
        self._fsync_thread = None

    # -- paths ----------------------------------------------------------------------
    @property
    def dir(self) -> str:
        return os.path.join(self.config.dir, self.config.appenddirname)

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _name(self, seq: int, kind: str, rdb: bool = False) -> str:
        base = self.config.appendfilename
        if kind == BASE:
            return "%s.%d.base.%s" % (base, seq, "rdb" if rdb else "aof")
        return "%s.%d.incr.aof" % (base, seq)

    # -- start and stop ---------------------------------------------------------------
    def open_at_boot(self, existing: Manifest | None) -> None:
        """Append after start-up loading; with no AOF yet, create the first base
        (the current dataset, empty on a fresh start) and incremental file."""
        os.makedirs(self.dir, exist_ok=True)
        self.enabled = True
        if existing is not None and (existing.incrs or existing.base):
            self.manifest = existing
            if existing.incrs:
                self._open_incr(existing.incrs[-1][0], append=True)
            else:   # a base alone (an upgraded old-style AOF): a first incremental file
                log.info("Creating AOF incr file %s on server start",
                         self._name(existing.incr_seq + 1, INCR))
                self._open_next_incr()
            self.current_size = self._files_size()
            self.base_size = self.current_size     # aof_rewrite_base_size: the size at start-up
            self.server.propagator.add_consumer(self)
        else:
            self.manifest = existing or Manifest()
            self._write_base_and_switch(synchronous=True)
            self.rewrites = 0       # the first base is not a rewrite (aof_rewrites:0)
        self._start_fsync_thread()

    def enable(self) -> None:
        """CONFIG SET appendonly yes (startAppendOnly): a rewrite makes the first base."""
        os.makedirs(self.dir, exist_ok=True)
        self.manifest = read_manifest(self.config) or Manifest()
        self.enabled = True
        self._stop.clear()
        self.rewrite_background(initial=True)
        self._start_fsync_thread()

    def disable(self) -> None:
        """CONFIG SET appendonly no (stopAppendOnly)."""
        self.enabled = False
        self.kill_rewrite()
        self.close()

    def kill_rewrite(self) -> None:
        """killAppendOnlyChild: a running background rewrite stops; its base is dropped."""
        thread = self.rewrite_thread
        if thread is None or not thread.is_alive():
            return
        log.info("Killing running AOF rewrite child: %d", thread.native_id or 0)
        self.rewrite_cancelled.set()
        if thread is not threading.current_thread():
            thread.join()

    def close(self) -> None:
        """Stop consuming, fsync and close (SHUTDOWN, appendonly no)."""
        self.server.propagator.remove_consumer(self)
        self._stop.set()
        thread = self.rewrite_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self.lock:
            if self.fd >= 0:
                os.fsync(self.fd)
                os.close(self.fd)
                self.fd = -1

    def _start_fsync_thread(self) -> None:
        from ferrous.server.background import Supervised
        self._fsync_thread = Supervised("ferrous-aof-fsync", self._fsync_loop, self._stop)
        self._fsync_thread.start()

    def _fsync_loop(self) -> None:
        while not self._stop.wait(1.0):
            if self.config.appendfsync == "everysec":
                self.fsync_now()

    def fsync_now(self) -> None:
        with self.lock:
            if self.fd >= 0 and self.unsynced:
                os.fsync(self.fd)
                self.unsynced = False
                self.last_fsync = time.monotonic()

    # -- the propagate consumer ---------------------------------------------------------
    def feed(self, entries: list) -> None:
        """Append one unit of (db, argv, targets) in execution order (propagator lock held)."""
        chunks = []
        for db, argv, targets in entries:
            if not targets & TO_AOF:
                continue
            if db != self.selected_db:
                chunks.append(encode_command([b"SELECT", b"%d" % db]))
                self.selected_db = db
            chunks.append(encode_command(argv))
        if not chunks:
            return
        if self.config.aof_timestamp_enabled:   # genAofTimestampAnnotationIfNeeded(0)
            now = int(time.time())
            if now > self.annotated_second:
                chunks.insert(0, b"#TS:%d\r\n" % now)
                self.annotated_second = now
        data = b"".join(chunks)
        with self.lock:
            self._write(data)
            if self.config.appendfsync == "always":
                os.fsync(self.fd)
            else:
                self.unsynced = True

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
        except OSError:
            self.last_write_status = "err"
            log.exception("Error writing to the AOF file")
            raise
        self.last_write_status = "ok"
        self.current_size += len(data)

    def _open_incr(self, name: str, append: bool) -> None:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(self._path(name), flags, 0o644)
        if self.fd >= 0:
            os.fsync(self.fd)
            os.close(self.fd)
        self.fd = fd
        self.selected_db = -1    # a new file starts with a SELECT

    # -- rewriting ------------------------------------------------------------------------
    @property
    def rewrite_in_progress(self) -> bool:
        thread = self.rewrite_thread
        return thread is not None and thread.is_alive()

    def rewrite_background(self, initial: bool = False) -> bool:
        """BGREWRITEAOF: switch to a new incremental file now, write the base behind.
        False when a rewrite is already running. initial: the first base after
        CONFIG SET appendonly yes (AOF_WAIT_REWRITE: a shutdown then must not exit)."""
        with self._rewrite_gate:
            if self.rewrite_in_progress:
                return False
            self.initial_rewrite = initial
            self.rewrite_scheduled = False
            self.rewrite_started = time.monotonic()
            self._write_base_and_switch(synchronous=False)
            return True

    def _write_base_and_switch(self, synchronous: bool) -> None:
        keyspace = self.server.keyspace
        # The switch and the snapshot happen at one instant: with the whole keyspace
        # held, no write can land between the new incremental file and the view.
        keyspace.lock_all()
        try:
            with self.lock:
                # With appendonly off a rewrite only writes a base (Redis does too).
                incr_seq = self._open_next_incr() if self.enabled else self.manifest.incr_seq + 1
                view = self._take_view()
            started = time.monotonic()
            if self.enabled:
                self.server.propagator.add_consumer(self)  # writes go to the new file now
            if synchronous:
                self._finish_rewrite(incr_seq, view, started)
                return
        finally:
            keyspace.unlock_all()
        self.rewrite_cancelled = threading.Event()
        thread = threading.Thread(target=self._rewrite_body, args=(incr_seq, view, started),
                                  name="ferrous-aof-rewrite", daemon=True)
        self.rewrite_thread = thread
        thread.start()

    def _take_view(self):
        """The base's point-in-time view (the whole keyspace is held): a copy-on-write
        snapshot when the base is RDB, else copies of the values (command form)."""
        if self._rdb_base():
            from ferrous.persistence.snapshot import Snapshot, SnapshotBusy
            try:
                return Snapshot(self.server.keyspace, self.config)
            except SnapshotBusy:
                pass    # a BGSAVE holds the snapshot machinery: copy instead
        return aof_format.snapshot(self.server)

    def _rdb_base(self) -> bool:
        return bool(self.config.aof_use_rdb_preamble) and aof_format.rdb_available()

    def _open_next_incr(self) -> int:
        """openNewIncrAofForAppend: the manifest lists the new file at once, so a
        crash during the rewrite still loads old base + old and new incrementals."""
        manifest = self.manifest
        manifest.incr_seq += 1
        name = self._name(manifest.incr_seq, INCR)
        self._open_incr(name, append=False)
        manifest.incrs.append((name, manifest.incr_seq))
        self._persist_manifest()
        return manifest.incr_seq

    def _rewrite_body(self, incr_seq, view, started) -> None:
        from ferrous.persistence.snapshot import SaveCancelled
        try:
            self._finish_rewrite(incr_seq, view, started, self.rewrite_cancelled)
        except SaveCancelled:
            pass    # killed (appendonly no): nothing is recorded, as for Redis's child
        except Exception:
            self.last_rewrite_status = "err"
            self.rewrite_failures += 1
            log.exception("Background AOF rewrite failed")

    def _finish_rewrite(self, incr_seq: int, view, started: float, cancelled=None) -> None:
        rdb = self._rdb_base() or not isinstance(view, list)
        base_seq = self.manifest.base_seq + 1
        base = self._name(base_seq, BASE, rdb=rdb)
        os.makedirs(self.dir, exist_ok=True)
        temp = self._path("temp-rewriteaof-bg-%d.aof" % os.getpid())
        delay = max(0, getattr(self.config, "rdb_key_save_delay", 0)) if cancelled else 0
        try:
            with open(temp, "wb") as fh:
                aof_format.write_base(fh, view, rdb=rdb, config=self.config,
                                      key_delay_us=delay, cancelled=cancelled)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            _unlink_quietly(temp)       # aofRemoveTempFile
            raise
        finally:
            if not isinstance(view, list):
                view.release()
        os.rename(temp, self._path(base))
        with self.lock:
            manifest = self.manifest
            # The old base and the incrementals before the switch are history now.
            if manifest.base is not None:
                manifest.history.append(manifest.base)
            manifest.history += [entry for entry in manifest.incrs if entry[1] < incr_seq]
            manifest.incrs = [entry for entry in manifest.incrs if entry[1] >= incr_seq]
            manifest.base, manifest.base_seq = (base, base_seq), base_seq
            self._persist_manifest()
            if not self.config.aof_disable_auto_gc:
                self._delete_history()
            self.current_size = self._files_size()
            # aof_rewrite_base_size: growth for auto-rewrite counts from here.
            self.base_size = self.current_size
        self.last_rewrite_time = int(time.monotonic() - started)
        self.last_rewrite_status = "ok"
        self.rewrites += 1
        self.rewrite_failures = 0
        log.info("Background AOF rewrite finished successfully")

    def _persist_manifest(self) -> None:
        _write_manifest(self.dir, self.config.appendfilename + ".manifest", self.manifest.render())

    def _delete_history(self) -> None:
        for name, _seq in self.manifest.history:
            try:
                os.unlink(self._path(name))
            except FileNotFoundError:
                pass
        self.manifest.history = []
        self._persist_manifest()

    def _file_size(self, name: str) -> int:
        try:
            return os.path.getsize(self._path(name))
        except OSError:
            return 0

    def _files_size(self) -> int:
        names = ([self.manifest.base[0]] if self.manifest.base else []) + [n for n, _ in self.manifest.incrs]
        return sum(self._file_size(n) for n in names)

    # -- automatic rewrite (serverCron) ------------------------------------------------
    def should_auto_rewrite(self) -> bool:
        percent = self.config.auto_aof_rewrite_percentage
        if not percent or self.rewrite_in_progress:
            return False
        if self.current_size < self.config.auto_aof_rewrite_min_size:
            return False
        base = self.base_size or 1
        return (self.current_size - base) * 100 // base >= percent

    def size_fields(self) -> list:
        return [("aof_current_size", self.current_size), ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", int(self.rewrite_scheduled)), ("aof_buffer_length", 0),
                ("aof_pending_bio_fsync", 0), ("aof_delayed_fsync", self.delayed_fsync)]

    def info_fields(self) -> list:
        now = time.monotonic()
        fields = [
            ("aof_rewrite_in_progress", int(self.rewrite_in_progress)),
            ("aof_rewrite_scheduled", int(self.rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.last_rewrite_time),
            ("aof_current_rewrite_time_sec",
             int(now - self.rewrite_started) if self.rewrite_in_progress else -1),
            ("aof_last_bgrewrite_status", self.last_rewrite_status),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.rewrite_failures),
            ("aof_last_write_status", self.last_write_status),
        ]
        return fields


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(config) -> Manifest | None:
    path = os.path.join(config.dir, config.appenddirname, config.appendfilename + ".manifest")
    try:
        with open(path) as fh:
            return Manifest.parse(fh.read())
    except FileNotFoundError:
        return None


# -- loading at start-up --------------------------------------------------------------------
def load(server, manifest: Manifest) -> int:
    """loadAppendOnlyFiles: the base, then each incremental file in order. Returns
    the number of commands replayed; raises AofError when the server must not start."""
    config = server.config
    directory = os.path.join(config.dir, config.appenddirname)
    files = ([manifest.base[0]] if manifest.base else []) + [name for name, _ in manifest.incrs]
    for name in files:      # getBaseAndIncrAppendOnlyFilesSize: every file must be there
        try:
            os.stat(os.path.join(directory, name))
        except OSError as exc:
            raise AofError("Unable to obtain the AOF file %s length. stat: %s"
                           % (name, os.strerror(exc.errno or 0))) from None
    replayer = _Replayer(server)
    server.keyspace.set_loading(True)
    try:
        for number, name in enumerate(files):
            path = os.path.join(directory, name)
            last = number == len(files) - 1
            _load_file(server, replayer, path, name, last)
    finally:
        server.keyspace.set_loading(False)
    return replayer.count


def _load_file(server, replayer, path: str, name: str, last: bool) -> None:
    with open(path, "rb") as fh:
        data = fh.read()
    if not data:
        return
    if data.startswith(b"REDIS"):
        from ferrous.persistence import rdb as rdb_module
        end = rdb_module.load_aof_preamble(server, data)
        log.info("Reading RDB base file on AOF loading...")
        data_start = end
    else:
        data_start = 0
    body = data[data_start:]
    try:
        valid = replayer.run(body)
    except aof_format.Truncated as torn:
        _handle_truncated(server, path, name, last, data_start + torn.valid_up_to)
        return
    except aof_format.AofFormatError:
        raise AofError("Bad file format reading the append only file %s: make a backup of your AOF "
                       "file, then use ./redis-check-aof --fix <filename.manifest>" % name) from None
    if replayer.in_multi:
        # A transaction without its EXEC at the end: Redis reverts it like a torn tail.
        _handle_truncated(server, path, name, last, data_start + replayer.multi_start)
        return
    log.debug("AOF %s: %d bytes replayed", name, valid)


def _handle_truncated(server, path: str, name: str, last: bool, valid_up_to: int) -> None:
    if not (last and server.config.aof_load_truncated):
        raise AofError(
            "Unexpected end of file reading the append only file %s. You can: 1) Make a "
            "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
            "2) Alternatively you can set the 'aof-load-truncated' configuration option to "
            "yes and restart the server." % name)
    log.warning("!!! Warning: short read while loading the AOF file %s!!!", name)
    log.warning("!!! Truncating the AOF %s at offset %d !!!", name, valid_up_to)
    os.truncate(path, valid_up_to)
    log.warning("AOF %s loaded anyway because aof-load-truncated is enabled", name)


class _Replayer:
    """Runs an AOF's commands as Redis's fake AOF client does; replies are dropped."""

    def __init__(self, server):
        from ferrous.server.connection import Connection
        from ferrous.server.context import Context
        self.ctx = Context(server)
        self.conn = Connection(None, ("aof", 0), ("aof", 0), None, 1 << 62)
        self.conn.is_aof = True         # mustObeyClient: what it replays was already accepted
        self.count = 0
        self.in_multi = False
        self.multi_start = 0

    def run(self, data: bytes) -> int:
        from ferrous.commands.registry import lookup
        from ferrous.server.dispatch import execute
        out = bytearray()
        offset = 0
        for argv, end in aof_format.read_commands(data):
            if lookup(argv) is None:
                raise AofError("Unknown command '%s' reading the append only file"
                               % argv[0].decode("latin-1"))
            name = argv[0].lower()
            if name == b"multi":
                self.in_multi, self.multi_start = True, offset
            elif name == b"exec":
                self.in_multi = False
            execute(self.ctx, self.conn, argv, out)
            out.clear()
            self.count += 1
            offset = end
        if self.in_multi:
            # Leave the half transaction unexecuted (its commands are queued only).
            self.conn.multi = None
            self.conn.multi_error = False
        return offset


# -- wiring into the server ---------------------------------------------------------------
def boot(server) -> bool:
    """At start-up, before clients: load the AOF when appendonly is on, then keep
    appending. Returns True when the AOF is the source of the dataset (no RDB load)."""
    server.aof = AppendOnlyFile(server)
    server.config.on_change("appendonly", lambda value: _toggle(server, value))
    server.cron.tasks.append(lambda: cron(server))
    if not server.config.appendonly:
        return False
    manifest = _upgrade_old_style(server.config, read_manifest(server.config))
    if manifest is not None:
        started = time.monotonic()
        count = load(server, manifest)
        log.info("DB loaded from append only file: %.3f seconds (%d commands)",
                 time.monotonic() - started, count)
    server.aof.open_at_boot(manifest)
    return True


def _upgrade_old_style(config, manifest: Manifest | None) -> Manifest | None:
    """loadAppendOnlyFiles / aofUpgradePrepare: an appendfilename file in dir (a Redis
    before 7.0) becomes the base of a manifest in appenddirname, when no manifest
    names other files yet."""
    old_path = os.path.join(config.dir, config.appendfilename)
    directory = os.path.join(config.dir, config.appenddirname)
    if not os.path.isfile(old_path):
        return manifest
    empty = manifest is None or (manifest.base is None and not manifest.incrs)
    interrupted = (manifest is not None and manifest.base is not None and not manifest.incrs
                   and manifest.base[0] == config.appendfilename
                   and not os.path.isfile(os.path.join(directory, config.appendfilename)))
    if os.path.isdir(directory) and not (empty or interrupted):
        return manifest
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise AofError("Can't open or create append-only dir %s: %s"
                       % (config.appenddirname, os.strerror(exc.errno or 0))) from None
    upgraded = manifest or Manifest()
    upgraded.base, upgraded.base_seq = (config.appendfilename, 1), 1
    _write_manifest(directory, config.appendfilename + ".manifest", upgraded.render())
    try:
        os.rename(old_path, os.path.join(directory, config.appendfilename))
    except OSError as exc:
        raise AofError("Error trying to move the old AOF file %s into dir %s: %s"
                       % (config.appendfilename, config.appenddirname,
                          os.strerror(exc.errno or 0))) from None
    log.info("Successfully migrated an old-style AOF file (%s) into the AOF directory (%s).",
             config.appendfilename, config.appenddirname)
    return upgraded


def _write_manifest(directory: str, name: str, text: str) -> None:
    """persistAofManifest: a temp file renamed over the manifest, then the dir fsynced."""
    temp = os.path.join(directory, "temp-" + name)
    with open(temp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(temp, os.path.join(directory, name))
    _fsync_dir(directory)


def _toggle(server, enabled: bool) -> None:
    """CONFIG SET appendonly yes|no."""
    aof = server.aof
    if enabled and not aof.enabled:
        aof.enable()
    elif not enabled and aof.enabled:
        aof.disable()


def bgsave_in_progress(server) -> bool:
    check = getattr(server, "bgsave_in_progress", None)
    return bool(check()) if callable(check) else False


def cron(server) -> None:
    """serverCron's AOF duties: a scheduled rewrite, or one triggered by growth."""
    aof = server.aof
    if aof.rewrite_in_progress or bgsave_in_progress(server):
        return
    if aof.rewrite_scheduled or (aof.enabled and aof.should_auto_rewrite()):
        aof.rewrite_background()
