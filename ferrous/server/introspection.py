"""What the server records about the commands it runs: the slow log (slowlog.c), the
latency monitor (latency.c), per-command latency histograms (INFO latencystats,
LATENCY HISTOGRAM), the MONITOR feed (replicationFeedMonitors) and CLIENT PAUSE
(the postponed clients of blocked.c).

dispatch.call() reaches this module through two cheap tests per command:
`elapsed >= watch.slow_ns` (the lower of the two thresholds, in ns; a huge number
when both are off) and `watch.monitors` (an empty tuple unless someone runs
MONITOR). dispatch.execute() tests `watch.gated` (a pause is on, or a MONITOR client
exists) before it runs anything. Everything else happens here, off the hot path.
"""
from __future__ import annotations

import collections
import re
import threading
import time

from ferrous import errors
from ferrous.protocol import Raw

NEVER = 1 << 62                 # slow_ns when neither the slow log nor the latency monitor is on
SLOWLOG_ENTRY_MAX_ARGC = 32     # slowlog.h
SLOWLOG_ENTRY_MAX_STRING = 128
LATENCY_TS_LEN = 160            # latency.h: samples kept per event
# The entry postponed clients wait on in the blocking registry (one per db). No real
# key is involved: serving it only re-runs the client's command when the pause is over.
PAUSE_ENTRY_KEY = b"\x00ferrous:client-pause\x00"


class Watch:
    """One per server (server.watch): the state every hook here reads."""

    def __init__(self, server):
        self.server = server
        config = server.config
        self.slow_ns = NEVER
        self.track_latency = config.latency_tracking
        self.monitors: tuple = ()           # connections in MONITOR mode (copy-on-write)
        self.monitor_lock = threading.Lock()
        self.slowlog = SlowLog()
        self.latency = LatencyMonitor()
        self.pause = ClientPause(self)
        self.gated = False                  # a pause is on or a MONITOR client exists
        for name in ("slowlog-log-slower-than", "latency-monitor-threshold"):
            config.on_change(name, lambda value: self.update_thresholds())
        config.on_change("latency-tracking", self._set_tracking)
        self.update_thresholds()

    def update_thresholds(self) -> None:
        config = self.server.config
        candidates = []
        if config.slowlog_log_slower_than >= 0:
            candidates.append(config.slowlog_log_slower_than * 1000)
        if config.latency_monitor_threshold > 0:
            candidates.append(config.latency_monitor_threshold * 1_000_000)
        self.slow_ns = min(candidates) if candidates else NEVER

    def _set_tracking(self, value) -> None:
        self.track_latency = value

    def update_gate(self) -> None:
        self.gated = bool(self.monitors) or self.pause.mode is not None

    # -- after every call (dispatch._count) --------------------------------------------
    def after_call(self, ctx, conn, cmd, argv: list, elapsed_ns: int) -> None:
        """The slow log, the latency monitor's command events and the MONITOR feed."""
        if elapsed_ns >= self.slow_ns and "skip_slowlog" not in cmd.flags:
            self._record_slow(conn, cmd, argv, elapsed_ns)
        if self.monitors and not cmd.flags & _NOT_MONITORED:
            self.feed_monitors(ctx, conn, argv, cmd=cmd)

    def blocked_call(self, ctx, waiter) -> None:
        """A command that blocked (blocking.park): Redis 7.0's call() shows it in
        MONITOR as it blocks; its duration and slow log entry wait until a key
        serves it (served_call). A client postponed by CLIENT PAUSE is not shown:
        its command is fed when it really runs."""
        if self.monitors and not waiter.cmd.flags & _NOT_MONITORED and not is_postponed(waiter):
            self.feed_monitors(ctx, waiter.conn, waiter.argv, db=waiter.db, cmd=waiter.cmd, echo=False)

    def served_call(self, ctx, waiter, elapsed_ns: int) -> None:
        """updateStatsOnUnblock: a blocked command served by a key adds its serving
        time to its usec and latency histogram, and may enter the slow log then
        (a timeout or CLIENT UNBLOCK does neither, as in Redis 7.0)."""
        if is_postponed(waiter):
            return
        cmd = waiter.cmd
        stats = ctx.command_stats.get(cmd.name)
        if stats is None:
            from ferrous.server.context import CommandStats
            stats = ctx.command_stats[cmd.name] = CommandStats()
        usec = elapsed_ns // 1000
        stats.usec += usec
        if self.track_latency:
            stats.histogram[usec] = stats.histogram.get(usec, 0) + 1
        if elapsed_ns >= self.slow_ns:
            self._record_slow(waiter.conn, cmd, waiter.argv, elapsed_ns, unblocking=True)

    def _record_slow(self, conn, cmd, argv: list, elapsed_ns: int, unblocking: bool = False) -> None:
        config = self.server.config
        threshold_ms = config.latency_monitor_threshold
        elapsed_ms = elapsed_ns // 1_000_000
        if threshold_ms and elapsed_ms >= threshold_ms:
            event = "command-unblocking" if unblocking else "fast-command" if "fast" in cmd.flags else "command"
            self.latency.add(event, elapsed_ms)
        slower_than = config.slowlog_log_slower_than
        elapsed_us = elapsed_ns // 1000
        if slower_than >= 0 and elapsed_us >= slower_than:
            self.slowlog.push(conn, redacted_argv(cmd, argv), elapsed_us, config.slowlog_max_len)

    # -- MONITOR ---------------------------------------------------------------------
    def add_monitor(self, conn) -> None:
        with self.monitor_lock:
            if conn not in self.monitors:
                self.monitors = self.monitors + (conn,)
        self.update_gate()

    def remove_monitor(self, conn) -> None:
        with self.monitor_lock:
            self.monitors = tuple(c for c in self.monitors if c is not conn)
        self.update_gate()

    def feed_monitors(self, ctx, conn, argv: list, db: int | None = None, cmd=None,
                      echo: bool = True) -> None:
        """replicationFeedMonitors: one "+<time> [<db> <client>] <args>" line to every
        MONITOR client; a script's own commands show as "lua". A monitoring client's
        own command line follows that command's reply (dispatch.call appends
        ctx.monitor_echo), as Redis 7.0 feeds monitors after the call."""
        now = time.time_ns() // 1000
        if conn is None:
            label = "?"
        elif "lua" in conn.flags:       # the scripting engine's client (scripting/runner.py)
            label = "lua"
        else:
            label = conn.addr_text()
        dbid = conn.db if db is None and conn is not None else (db or 0)
        line = b"+%d.%06d [%d %s] %s\r\n" % (now // 1_000_000, now % 1_000_000, dbid, label.encode(),
                                            b" ".join(map(repr_bytes, redacted_argv(cmd or ctx.command, argv))))
        own_echo = echo and conn is not None and conn.multi is None
        with self.monitor_lock:
            for monitor in self.monitors:
                if monitor is conn and own_echo:
                    ctx.monitor_echo = line     # after its reply, in the same output
                elif not monitor.closed and monitor.io is not None:
                    monitor.io.deliver(monitor, line, "more")

    def client_gone(self, conn) -> None:
        if conn in self.monitors:
            self.remove_monitor(conn)

    # -- the gate in dispatch.execute ----------------------------------------------------
    def gate(self, ctx, conn, cmd, argv: list, out: bytearray) -> bool:
        """True when the command must not run now: a MONITOR client touching the
        keyspace (refused, as Redis refuses replicas), or a paused client (parked
        until the pause ends)."""
        if "O" in conn.flags and cmd.flags & _KEYSPACE_FLAGS:
            from ferrous.server.dispatch import reject
            reject(ctx, conn, errors.REPLICA_KEYSPACE, out, cmd)
            return True
        if self.pause.mode is not None and self.pause.applies(conn, cmd, argv):
            self.pause.postpone(ctx, conn, cmd, argv)   # raises Blocked when it parks
        if self.monitors and conn.multi is None:
            self.feed_script_call(ctx, conn, cmd, argv)
        return False

    def feed_script_call(self, ctx, conn, cmd, argv: list) -> None:
        """EVAL/FCALL are skip_monitor: shown before the commands they run, as
        evalGenericCommand feeds them, at the top level and inside EXEC alike
        (transactions._run_queued calls this for each queued command)."""
        if cmd.name in _SCRIPT_COMMANDS:
            self.feed_monitors(ctx, conn, argv, cmd=cmd)


_NOT_MONITORED = frozenset(("admin", "skip_monitor"))
_SCRIPT_COMMANDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))
_KEYSPACE_FLAGS = frozenset(("write", "readonly", "may_replicate"))


def record_event(server, event: str, started: float) -> None:
    """latencyAddSampleIfNeeded for a background event that began at time.monotonic()
    `started` (expire-cycle, eviction-cycle, aof-fsync-always, ...)."""
    watch = getattr(server, "watch", None)
    if watch is not None and server.config.latency_monitor_threshold:
        watch.latency.add_if_needed(server.config, event, int((time.monotonic() - started) * 1000))


def install(server) -> Watch:
    """server.watch and server.memory, their cron tasks and their client-gone hook."""
    from ferrous.server import memory
    watch = Watch(server)
    server.watch = watch
    tracker = memory.install(server)
    tasks = server.cron.tasks
    tasks.append(tracker.sample)                # used_memory_peak, as serverCron
    tasks.append(server.stats.sample_net)       # instantaneous_*_kbps
    previous = getattr(server, "on_client_gone", None)

    def on_client_gone(conn):
        watch.client_gone(conn)
        if previous is not None:
            previous(conn)

    server.on_client_gone = on_client_gone
    return watch


# ---------------------------------------------------------------------------------
# Arguments as the slow log and MONITOR show them
# ---------------------------------------------------------------------------------
def redacted_argv(cmd, argv: list) -> list:
    """redactClientCommandArgument: AUTH's arguments, HELLO's and MIGRATE's AUTH/AUTH2
    credentials become "(redacted)"."""
    name = cmd.name if cmd is not None else ""
    if name == "auth":
        return [argv[0]] + [b"(redacted)"] * (len(argv) - 1)
    if name == "hello":
        return _redact_after(argv, 2, {b"auth": 2})
    if name == "migrate":
        return _redact_after(argv, 6, {b"auth": 1, b"auth2": 2})
    if name == "acl|setuser":   # the user name and every rule (passwords among them)
        return argv[:2] + [b"(redacted)"] * (len(argv) - 2)
    if name == "config|set" and len(argv) % 2 == 0:     # an odd count is refused unread
        return _redact_sensitive_configs(argv)
    return argv


# SENSITIVE_CONFIG in config.c: CONFIG SET shows their values as "(redacted)".
_SENSITIVE_CONFIGS = frozenset((b"masteruser", b"masterauth", b"requirepass"))


def _redact_sensitive_configs(argv: list) -> list:
    redacted = list(argv)
    for i in range(2, len(argv) - 1, 2):
        if argv[i].lower() in _SENSITIVE_CONFIGS:
            redacted[i + 1] = b"(redacted)"
    return redacted


def _redact_after(argv: list, start: int, options: dict) -> list:
    redacted = list(argv)
    i = start
    while i < len(argv):
        count = options.get(argv[i].lower())
        if count is not None:
            for j in range(i + 1, min(i + 1 + count, len(argv))):
                redacted[j] = b"(redacted)"
            i += count
        i += 1
    return redacted


_REPR_ESCAPES = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r",
                 ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b"}
_REPR_TABLE = [_REPR_ESCAPES.get(c) or (bytes([c]) if 32 <= c < 127 else b"\\x%02x" % c) for c in range(256)]


_NEEDS_ESCAPE = re.compile(rb'[^\x20-\x7e]|["\\]')


def repr_bytes(data: bytes) -> bytes:
    """sdscatrepr: a quoted string with C escapes, non-printable bytes as \\xNN."""
    if _NEEDS_ESCAPE.search(data) is None:
        return b'"' + data + b'"'
    table = _REPR_TABLE
    return b'"' + b"".join([table[c] for c in data]) + b'"'


def trimmed_argv(argv: list) -> list:
    """slowlogCreateEntry: at most 32 arguments (the last says how many more) and
    strings cut at 128 bytes."""
    shown = argv
    extra = None
    if len(argv) > SLOWLOG_ENTRY_MAX_ARGC:
        shown = argv[:SLOWLOG_ENTRY_MAX_ARGC - 1]
        extra = b"... (%d more arguments)" % (len(argv) - SLOWLOG_ENTRY_MAX_ARGC + 1)
    result = []
    for arg in shown:
        if len(arg) > SLOWLOG_ENTRY_MAX_STRING:
            arg = arg[:SLOWLOG_ENTRY_MAX_STRING] + b"... (%d more bytes)" % (len(arg) - SLOWLOG_ENTRY_MAX_STRING)
        else:
            arg = bytes(arg)
        result.append(arg)
    if extra is not None:
        result.append(extra)
    return result


# ---------------------------------------------------------------------------------
# The slow log
# ---------------------------------------------------------------------------------
class SlowLog:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries: collections.deque = collections.deque()   # newest first
        self.next_id = 0                # never reset, as slowlog_entry_id

    def push(self, conn, argv: list, duration_us: int, max_len: int) -> None:
        args = trimmed_argv(argv)
        peer = _slowlog_peer(conn)
        name = (conn.name or b"") if conn is not None else b""
        now = int(time.time())
        with self.lock:
            entry = [self.next_id, now, duration_us, args, peer, name]
            self.next_id += 1
            self.entries.appendleft(entry)
            while len(self.entries) > max_len:
                self.entries.pop()

    def get(self, count: int) -> list:
        with self.lock:
            chosen = list(self.entries) if count < 0 else list(self.entries)[:count]
        return [[e[0], e[1], e[2], list(e[3]), e[4], e[5]] for e in chosen]

    def trim(self, max_len: int) -> None:
        with self.lock:
            while len(self.entries) > max_len:
                self.entries.pop()

    def __len__(self) -> int:
        return len(self.entries)

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()


def _slowlog_peer(conn) -> bytes:
    """getClientPeerId: a client with no socket (the scripting engine's) is "?:0"."""
    if conn is None or "lua" in conn.flags:
        return b"?:0"
    return conn.addr_text().encode()


# ---------------------------------------------------------------------------------
# The latency monitor
# ---------------------------------------------------------------------------------
class TimeSeries:
    __slots__ = ("samples", "idx", "max")

    def __init__(self):
        self.samples = [[0, 0] for _ in range(LATENCY_TS_LEN)]   # [unix time, ms]
        self.idx = 0
        self.max = 0

    def ordered(self) -> list:
        """The samples oldest first (latencyCommandReplyWithSamples)."""
        n = LATENCY_TS_LEN
        return [self.samples[(self.idx + j) % n] for j in range(n) if self.samples[(self.idx + j) % n][0]]

    def latest(self) -> list:
        return self.samples[(self.idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN]


class LatencyMonitor:
    """latencyAddSample and friends; events appear in the order first recorded."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: dict[str, TimeSeries] = {}

    def add(self, event: str, latency_ms: int) -> None:
        now = int(time.time())
        with self.lock:
            ts = self.events.get(event)
            if ts is None:
                ts = self.events[event] = TimeSeries()
            if latency_ms > ts.max:
                ts.max = latency_ms
            prev = ts.samples[(ts.idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN]
            if prev[0] == now:
                prev[1] = max(prev[1], latency_ms)
                return
            ts.samples[ts.idx] = [now, latency_ms]
            ts.idx = (ts.idx + 1) % LATENCY_TS_LEN

    def add_if_needed(self, config, event: str, latency_ms: int) -> None:
        """latencyAddSampleIfNeeded."""
        threshold = config.latency_monitor_threshold
        if threshold and latency_ms >= threshold:
            self.add(event, latency_ms)

    def reset(self, events=None) -> int:
        with self.lock:
            if events is None:
                count = len(self.events)
                self.events.clear()
                return count
            count = 0
            for wanted in events:
                for name in [n for n in self.events if n.lower() == wanted.lower()]:
                    del self.events[name]
                    count += 1
            return count

    def snapshot(self) -> dict:
        with self.lock:
            return {name: (ts.ordered(), list(ts.latest()), ts.max) for name, ts in self.events.items()}


# ---------------------------------------------------------------------------------
# Per-command latency histograms (hdr_histogram with 2 significant figures)
# ---------------------------------------------------------------------------------
# dispatch._count counts calls per whole microsecond (one dict update: the usec figure
# it computes anyway). Reports turn that into Redis's hdr_histogram of nanoseconds
# with 2 significant figures: exact below 256 ns, then 128 sub-buckets per power of two.
def hdr_lowest(ns: int) -> int:
    shift = ns.bit_length() - 8
    return ns >> shift << shift if shift > 0 else ns


def bucket_highest(lowest: int) -> int:
    """highest_equivalent_value of the bucket starting at `lowest`."""
    shift = lowest.bit_length() - 8
    return lowest + (1 << shift) - 1 if shift > 0 else lowest


_BUCKET_OF_USEC: dict = {}      # usec -> hdr_lowest(usec * 1000), filled as met


def merge_histograms(histograms) -> dict:
    """Per-worker {usec: calls} -> one {hdr bucket's lowest ns: calls}."""
    total: dict = {}
    buckets = _BUCKET_OF_USEC
    for hist in histograms:
        for usec, count in list(hist.items()):
            key = buckets.get(usec)
            if key is None:
                key = buckets[usec] = hdr_lowest(usec * 1000)
            total[key] = total.get(key, 0) + count
    return total


def values_at_percentiles(hist: dict, percentiles) -> list:
    """value_at_percentile for several percentiles with one sort of the buckets."""
    total = sum(hist.values())
    if not total:
        return [0] * len(percentiles)
    ordered = sorted(hist.items())
    wanted = sorted((max(int(p / 100 * total + 0.5), 1), i) for i, p in enumerate(percentiles))
    values = [0] * len(percentiles)
    seen = 0
    j = 0
    for lowest, count in ordered:
        seen += count
        while j < len(wanted) and seen >= wanted[j][0]:
            values[wanted[j][1]] = bucket_highest(lowest)
            j += 1
        if j == len(wanted):
            break
    for rank, i in wanted[j:]:
        values[i] = bucket_highest(ordered[-1][0])
    return values


def value_at_percentile(hist: dict, percentile: float) -> int:
    """hdr_value_at_percentile: the highest equivalent value of the bucket holding
    the sample at that rank."""
    total = sum(hist.values())
    if not total:
        return 0
    wanted = max(int(percentile / 100 * total + 0.5), 1)
    seen = 0
    for lowest in sorted(hist):
        seen += hist[lowest]
        if seen >= wanted:
            return bucket_highest(lowest)
    return bucket_highest(max(hist))


def cumulative_usec(hist: dict) -> dict:
    """fillCommandCDF: hdr's log iterator from 1024 ns doubling; each level's
    highest equivalent value in usec -> samples at or below it, where that grew."""
    total = sum(hist.values())
    if not total:
        return {}
    ordered = sorted(hist.items())
    reply = {}
    level = 1024
    seen = previous = 0
    i = 0
    while previous < total:
        highest = bucket_highest(level)
        while i < len(ordered) and ordered[i][0] <= highest:
            seen += ordered[i][1]
            i += 1
        if seen > previous:
            reply[highest // 1000] = seen
        previous = seen
        level <<= 1
    return reply


def percentile_label(value: float) -> str:
    """sprintf("%f") then trimDoubleString: 50.000000 -> 50, 99.900000 -> 99.9."""
    text = "%f" % value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


# ---------------------------------------------------------------------------------
# CLIENT PAUSE
# ---------------------------------------------------------------------------------
class ClientPause:
    """pauseClients / unpauseClients. A paused client's command is parked through the
    blocking machinery (server/blocking.py), never a worker: it waits on a private
    per-db entry which unpausing signals; serving it re-queues the command itself
    ahead of the client's pipelined rest."""

    def __init__(self, watch: Watch):
        self.watch = watch
        self.lock = threading.Lock()
        self.mode = None        # None, "write" or "all": the purposes combined
        self.end = 0.0          # time.monotonic() deadline, the purposes combined
        self.client_mode = None     # the CLIENT PAUSE purpose (PAUSE_BY_CLIENT_COMMAND)
        self.client_end = 0.0
        self.failover = False       # PAUSE_DURING_FAILOVER: WRITE until FAILOVER ends
        self.shutdown = False       # PAUSE_DURING_SHUTDOWN: WRITE while SHUTDOWN waits for replicas
        self.timer = None

    def start(self, mode: str, timeout_ms: int) -> None:
        end = time.monotonic() + timeout_ms / 1000
        with self.lock:
            self.client_mode = mode         # the latest PAUSE sets the mode
            self.client_end = max(self.client_end, end) if self.client_end else end
            self._combine()
            self._arm_timer()
        self.watch.update_gate()

    def start_failover(self) -> None:
        """pauseClients(PAUSE_DURING_FAILOVER, forever, WRITE): FAILOVER's pause,
        which CLIENT UNPAUSE leaves alone (replication/failover.py ends it)."""
        with self.lock:
            self.failover = True
            self._combine()
        self.watch.update_gate()

    def start_shutdown(self) -> None:
        """pauseClients(PAUSE_DURING_SHUTDOWN, forever, WRITE): the replicas' offset
        holds still while a SHUTDOWN waits for them (server/shutdown.py ends it)."""
        with self.lock:
            self.shutdown = True
            self._combine()
        self.watch.update_gate()

    def _combine(self) -> None:
        """updateClientPauseTypeAndEndTime: the most restrictive mode among the
        purposes on, and the furthest end among the purposes of that mode."""
        purposes = [(self.client_mode, self.client_end)] if self.client_mode is not None else []
        if self.failover or self.shutdown:
            purposes.append(("write", float("inf")))
        if purposes:
            self.mode = "all" if any(mode == "all" for mode, _ in purposes) else "write"
            self.end = max(end for mode, end in purposes if mode == self.mode)
        else:
            self.mode, self.end = None, 0.0
        self._freeze_expiry(self.mode is not None)

    def freezes_dataset(self) -> bool:
        """checkClientPauseTimeoutAndReturnIfPaused: while any pause lasts, keys
        neither expire (active or lazy: they read as gone but stay) nor get evicted."""
        return self.failover or self.shutdown or (self.mode is not None and time.monotonic() < self.end)

    def _freeze_expiry(self, paused: bool) -> None:
        for db in self.watch.server.keyspace.dbs:
            db.expiry_paused = paused

    def _arm_timer(self) -> None:
        delay = max(0.0, self.client_end - time.monotonic())
        timer = threading.Timer(delay + 0.001, self._expire)
        timer.daemon = True
        timer.start()
        self.timer = timer

    def _expire(self) -> None:
        with self.lock:
            if self.client_mode is None:
                return
            if time.monotonic() < self.client_end:
                self._arm_timer()           # extended meanwhile
                return
        self.stop(None)

    def stop(self, ctx, failover: bool = False, shutdown: bool = False) -> None:
        """unpauseClients: the pause of one purpose (CLIENT PAUSE, FAILOVER's with
        failover=True, SHUTDOWN's with shutdown=True) ends and every postponed client
        runs again, unless another purpose still pauses it. With ctx (CLIENT UNPAUSE
        on a worker) they are served right after that command; otherwise on a
        context of our own."""
        with self.lock:
            if failover:
                self.failover = False
            elif shutdown:
                self.shutdown = False
            else:
                self.client_mode, self.client_end = None, 0.0
            self._combine()
        self.watch.update_gate()
        from ferrous.server import blocking
        own = ctx is None
        if own:
            from ferrous.server.context import Context
            ctx = Context(self.watch.server)
        for db in range(len(ctx.keyspace.dbs)):
            blocking.signal_key_ready(ctx, PAUSE_ENTRY_KEY, db)
        if own and ctx.ready_keys:
            blocking.serve_ready_keys(ctx)

    def applies(self, conn, cmd, argv: list) -> bool:
        """Replicas and the primary's link are never paused; WRITE pauses what may
        be replicated (EXEC when its queue holds such a command)."""
        mode = self.mode
        if time.monotonic() >= self.end:
            if not self.failover and not self.shutdown:
                return False
            mode = "write"      # CLIENT PAUSE ran out, FAILOVER's or SHUTDOWN's pause goes on
        if "S" in conn.flags or "M" in conn.flags or conn.is_master:
            return False
        if mode == "all":
            return True
        server = self.watch.server
        return _may_replicate(server, cmd, argv) or (cmd.name == "exec" and _queue_may_replicate(server, conn))

    def postpone(self, ctx, conn, cmd, argv: list) -> None:
        """blockPostponeClient: park the client; raises Blocked."""
        from ferrous.server import blocking
        ctx.conn = conn
        ctx.db = ctx.keyspace.dbs[conn.db]
        ctx.command = cmd
        ctx.argv = argv
        # park() counts the blocked command as a call (right for BLPOP); a postponed
        # command is counted when it really runs, so take that count back.
        _uncount(ctx, cmd)
        with self.lock:
            if self.mode is None:
                _recount(ctx, cmd)
                return
            # Under the pause lock: an unpause either sees this waiter or comes first.
            blocking.block(ctx, [PAUSE_ENTRY_KEY], 0, _serve_postponed)


def _serve_postponed(ctx, key):
    """Serving a postponed client: unless still paused, put its command back at the
    head of the commands it kept and answer nothing now."""
    from ferrous.server import blocking
    watch = ctx.server.watch
    conn = ctx.conn
    if watch.pause.mode is not None and watch.pause.applies(conn, ctx.command, conn.blocked.argv):
        return blocking.NOT_READY
    waiter = conn.blocked
    waiter.rest.insert(0, waiter.argv)
    return Raw(b"")


def is_postponed(waiter) -> bool:
    """A client parked by CLIENT PAUSE rather than by its own blocking command."""
    return waiter.keys == [PAUSE_ENTRY_KEY]


def _may_replicate(server, cmd, argv: list) -> bool:
    """is_may_replicate_command, with a script's own flags (getCommandFlags)."""
    flags = cmd.flags
    if cmd.group == "scripting":     # EVAL_RO with `#!lua` and no flags writes too
        from ferrous.scripting.state import command_flags
        flags = command_flags(server, cmd, argv)
    return "write" in flags or "may_replicate" in flags


def _queue_may_replicate(server, conn) -> bool:
    from ferrous.server.dispatch import resolve
    for item in list(conn.multi or ()):
        argv = item[-1] if isinstance(item, tuple) else item
        cmd, _ = resolve(argv)
        if cmd is not None and _may_replicate(server, cmd, argv):
            return True
    return False


def _uncount(ctx, cmd) -> None:
    from ferrous.server.context import CommandStats
    stats = ctx.command_stats.get(cmd.name)
    if stats is None:
        stats = ctx.command_stats[cmd.name] = CommandStats()
    stats.calls -= 1
    ctx.commands_processed -= 1


def _recount(ctx, cmd) -> None:
    ctx.command_stats[cmd.name].calls += 1
    ctx.commands_processed += 1
