"""Observability commands: SLOWLOG, LATENCY, MEMORY, MONITOR (slowlog.c,
latency.c, object.c, replication.c; DEBUG is in commands/debug.py). The state they read lives in
server/introspection.py (server.watch) and server/memory.py (server.memory).
"""
from __future__ import annotations

import time

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.connection import on_reset
from ferrous.commands.registry import TABLE, command, container
from ferrous.commands.server import help_reply, in_table_order, memory_figures
from ferrous.errors import CommandError
from ferrous.protocol import Raw, Verbatim
from ferrous.server import memory
from ferrous.server.introspection import (
    cumulative_usec, merge_histograms, percentile_label, values_at_percentiles,
)


def _subcommand_syntax(argv, container_name: str) -> CommandError:
    return CommandError(errors.SUBCOMMAND_SYNTAX % (argv[1].decode("utf-8", "surrogateescape"), container_name))


# ---------------------------------------------------------------------------------
# SLOWLOG
# ---------------------------------------------------------------------------------
container("slowlog", arity=-2, group="server")

_SLOWLOG_HELP = [
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
]


@command("slowlog|get", arity=-2, flags="admin loading stale")
def slowlog_get(ctx, argv):
    if len(argv) > 3:
        raise _subcommand_syntax(argv, "SLOWLOG")
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2], errors.SLOWLOG_COUNT)
        if count < -1:
            raise CommandError(errors.SLOWLOG_COUNT)
    return ctx.server.watch.slowlog.get(count)


@command("slowlog|len", arity=2, flags="admin loading stale")
def slowlog_len(ctx, argv):
    return len(ctx.server.watch.slowlog)


@command("slowlog|reset", arity=2, flags="admin loading stale")
def slowlog_reset(ctx, argv):
    ctx.server.watch.slowlog.reset()
    return "OK"


@command("slowlog|help", arity=2, flags="loading stale")
def slowlog_help(ctx, argv):
    return help_reply("SLOWLOG", _SLOWLOG_HELP)


# ---------------------------------------------------------------------------------
# LATENCY
# ---------------------------------------------------------------------------------
container("latency", arity=-2, group="server")

_LATENCY_HELP = [
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
]


@command("latency|latest", arity=2, flags="admin noscript loading stale")
def latency_latest(ctx, argv):
    events = ctx.server.watch.latency.snapshot()
    return [[name.encode(), latest[0], latest[1], high] for name, (_, latest, high) in events.items()]


@command("latency|history", arity=3, flags="admin noscript loading stale")
def latency_history(ctx, argv):
    event = ctx.server.watch.latency.snapshot().get(argv[2].decode("utf-8", "surrogateescape"))
    if event is None:
        return []
    return [[when, ms] for when, ms in event[0]]


@command("latency|reset", arity=-2, flags="admin noscript loading stale")
def latency_reset(ctx, argv):
    names = [arg.decode("utf-8", "surrogateescape") for arg in argv[2:]] or None
    return ctx.server.watch.latency.reset(names)


@command("latency|graph", arity=3, flags="admin noscript loading stale")
def latency_graph(ctx, argv):
    name = argv[2].decode("utf-8", "surrogateescape")
    event = ctx.server.watch.latency.snapshot().get(name)
    if event is None:
        raise CommandError(errors.LATENCY_NO_SAMPLES % name)
    samples, _, high = event
    return Verbatim(latency_graph_text(name, samples, high).encode())


@command("latency|doctor", arity=2, flags="admin noscript loading stale")
def latency_doctor(ctx, argv):
    return Verbatim(latency_report(ctx.server).encode())


@command("latency|histogram", arity=-2, flags="admin noscript loading stale")
def latency_histogram(ctx, argv):
    totals = command_histograms(ctx.server)
    if len(argv) == 2:
        wanted = [cmd for cmd in _all_commands() if cmd.name in totals]
    else:
        wanted = []
        for name in argv[2:]:
            cmd = _lookup_fullname(name)
            if cmd is None:
                continue
            for candidate in [cmd, *cmd.subcommands.values()]:
                if candidate.name in totals and candidate not in wanted:
                    wanted.append(candidate)
    reply = {}
    for cmd in wanted:
        hist = totals[cmd.name]
        reply[cmd.name.encode()] = {b"calls": sum(hist.values()), b"histogram_usec": cumulative_usec(hist)}
    return reply


@command("latency|help", arity=2, flags="loading stale")
def latency_help(ctx, argv):
    return help_reply("LATENCY", _LATENCY_HELP)


def _all_commands():
    for cmd in TABLE.values():
        yield cmd
        yield from cmd.subcommands.values()


def _lookup_fullname(name: bytes):
    parts = name.lower().split(b"|")
    cmd = TABLE.get(parts[0])
    if cmd is None or len(parts) == 1:
        return cmd
    return cmd.subcommands.get(parts[1]) if len(parts) == 2 else None


def command_histograms(server) -> dict:
    """Every worker's per-command histograms added up: name -> {ns bucket: calls}."""
    per_command: dict = {}
    workers = getattr(server, "workers", None)
    for worker_ctx in (workers.contexts if workers else ()):
        for name, stats in list(worker_ctx.command_stats.items()):
            if stats.histogram:
                per_command.setdefault(name, []).append(stats.histogram)
    return {name: merge_histograms(hists) for name, hists in per_command.items()}


def latencystats_fields(server) -> dict:
    """INFO latencystats: latency_percentiles_usec_<cmd>:p50=...,p99=...,p99.9=..."""
    percentiles = server.config.latency_tracking_info_percentiles or []
    totals = command_histograms(server)
    labels = ["p%s=" % percentile_label(p) for p in percentiles]
    fields = {}
    for name in in_table_order(totals):
        hist = totals[name]
        if not hist:
            continue
        values = values_at_percentiles(hist, percentiles)
        fields["latency_percentiles_usec_" + name] = ",".join(
            "%s%.3f" % (label, value / 1000) for label, value in zip(labels, values))
    return fields


# -- LATENCY GRAPH (latencyCommandGenSparkeline + sparkline.c) ------------------------
_GRAPH_COLUMNS = 80
_CHARSET_FILL = "_o#"


def latency_graph_text(name: str, samples: list, high: int) -> str:
    now = int(time.time())
    values = [ms for _, ms in samples]
    labels = [_ago(now - when) for when, _ in samples]
    low, top = (min(values), max(values)) if values else (0, 0)
    text = f"{name} - high {top} ms, low {low} ms (all time high {high} ms)\n" + "-" * _GRAPH_COLUMNS + "\n"
    for start in range(0, len(values), _GRAPH_COLUMNS):
        if start:
            text += "\n"
        text += _sparkline(values, labels, start, min(_GRAPH_COLUMNS, len(values) - start), low, top)
    return text


def _ago(elapsed: int) -> str:
    if elapsed < 60:
        return f"{elapsed}s"
    if elapsed < 3600:
        return f"{elapsed // 60}m"
    if elapsed < 86400:
        return f"{elapsed // 3600}h"
    return f"{elapsed // 86400}d"


def _sparkline(values, labels, offset, length, low, top, rows=4) -> str:
    """sparklineRenderRange with SPARKLINE_FILL: 4 rows of "_o#|", then the labels
    written downwards one character per row after a blank row."""
    relmax = (top - low) or 1
    steps = len(_CHARSET_FILL) * rows
    out = []
    row = 0
    while True:
        chars = [" "] * length
        loop = False
        for j in range(length):
            step = min(max(int((values[offset + j] - low) * steps / relmax), 0), steps - 1)
            if row < rows:
                loop = True
                index = step - (rows - row - 1) * len(_CHARSET_FILL)
                if 0 <= index < len(_CHARSET_FILL):
                    chars[j] = _CHARSET_FILL[index]
                elif index >= len(_CHARSET_FILL):
                    chars[j] = "|"
            else:
                if row - rows < 1:      # label_margin_top
                    loop = True
                    break
                label = labels[offset + j]
                position = row - rows - 1
                if len(label) > position:
                    loop = True
                    chars[j] = label[position]
        if not loop:
            break
        row += 1
        out.append("".join(chars) + "\n")
    return "".join(out)


# -- LATENCY DOCTOR (createLatencyReport), for the events Ferrous records ------------------
_ADVICE_SLOWLOG_ENABLE = ("- There are latency issues with potentially slow commands you are using. Try to "
                          "enable the Slow Log Redis feature using the command 'CONFIG SET "
                          "slowlog-log-slower-than %d'. If the Slow log is disabled Redis is not able to log "
                          "slow commands execution for you.\n")
_ADVICE_SLOWLOG_TUNE = ("- Your current Slow Log configuration only logs events that are slower than your "
                        "configured latency monitor threshold. Please use 'CONFIG SET "
                        "slowlog-log-slower-than %d'.\n")
_ADVICE_SLOWLOG_INSPECT = ("- Check your Slow Log to understand what are the commands you are running which "
                           "are too slow to execute. Please check https://redis.io/commands/slowlog for more "
                           "information.\n")
_ADVICE_SCHEDULER = (
    "- The system is slow to execute Redis code paths not containing system calls. This usually means the "
    "system does not provide Redis CPU time to run for long periods. You should try to:\n"
    "  1) Lower the system load.\n"
    "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n"
    "  3) Check if you have a \"noisy neighbour\" problem.\n"
    "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n"
    "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using "
    "Jemalloc. However this may create fragmentation problems.\n")
_ADVICE_HZ = ("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' "
              "configuration parameter to 100 using 'CONFIG SET hz 100'.\n")
_ADVICE_LARGE_OBJECTS = ("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a "
                         "blocking operation. If you have very large objects that are often deleted, expired, "
                         "or evicted, try to fragment those objects into multiple smaller objects.\n")
_ADVICE_MASS_EVICTION = ("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of "
                         "large objects via sets or sorted sets intersections, STORE option of SORT, Redis "
                         "Cluster large keys migrations (RESTORE command), may create sudden memory pressure "
                         "forcing the server to block trying to evict keys. \n")
_DOCTOR_DISABLED = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "
    "\"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep "
    "space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n")


def latency_report(server) -> str:
    config = server.config
    events = server.watch.latency.snapshot()
    threshold = config.latency_monitor_threshold
    if not events and threshold == 0:
        return _DOCTOR_DISABLED
    report = ""
    advice: set = set()
    now = int(time.time())
    for number, (name, (samples, _, high)) in enumerate(events.items(), 1):
        if number == 1:
            report += ("Dave, I have observed latency spikes in this Redis instance. You don't mind talking "
                       "about it, do you Dave?\n\n")
        report += _event_line(number, name, samples, high, now)
        advice |= _event_advice(name.lower(), config)
        report += "\n"
    if not events and not advice:
        return report + ("Dave, no latency spike was observed during the lifetime of this Redis instance, not "
                         "in the slightest bit. I honestly think you ought to sit down calmly, take a stress "
                         "pill, and think things over.\n")
    if not advice:
        return report + ("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please "
                         "use the Redis community to get some help, providing this report in your help "
                         "request.\n")
    report += "\nI have a few advices for you:\n\n"
    if "slowlog_enable" in advice:
        report += _ADVICE_SLOWLOG_ENABLE % (threshold * 1000)
    if "slowlog_tune" in advice:
        report += _ADVICE_SLOWLOG_TUNE % (threshold * 1000)
    if "slowlog_inspect" in advice:
        report += _ADVICE_SLOWLOG_INSPECT
    if "scheduler" in advice:
        report += _ADVICE_SCHEDULER
    if "hz" in advice and config.hz < 100:
        report += _ADVICE_HZ
    if "large_objects" in advice:
        report += _ADVICE_LARGE_OBJECTS
    if "mass_eviction" in advice:
        report += _ADVICE_MASS_EVICTION
    return report


def _event_line(number: int, name: str, samples: list, high: int, now: int) -> str:
    """analyzeLatencyForEvent's figures, in integer arithmetic like the C code."""
    count = len(samples)
    values = [ms for _, ms in samples]
    avg = sum(values) // count if count else 0
    mad = sum(abs(avg - v) for v in values) // count if count else 0
    period = (now - min(when for when, _ in samples)) if count else 0
    if count and period == 0:
        period = 1
    return (f"{number}. {name}: {count} latency spikes (average {avg}ms, mean deviation {mad}ms, "
            f"period {period / count if count else 0:.2f} sec). Worst all time event {high}ms.")


def _event_advice(name: str, config) -> set:
    advice = set()
    if name == "command":
        if config.slowlog_log_slower_than < 0:
            advice.add("slowlog_enable")
        elif config.slowlog_log_slower_than / 1000 > config.latency_monitor_threshold:
            advice.add("slowlog_tune")
        advice |= {"slowlog_inspect", "large_objects"}
    elif name == "fast-command":
        advice.add("scheduler")
    elif name == "expire-cycle":
        advice |= {"hz", "large_objects"}
    elif name == "eviction-del":
        advice.add("large_objects")
    elif name == "eviction-cycle":
        advice.add("mass_eviction")
    return advice


# ---------------------------------------------------------------------------------
# MEMORY
# ---------------------------------------------------------------------------------
container("memory", arity=-2, group="server")

_MEMORY_HELP = [
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
]


@command("memory|usage", arity=-3, flags="readonly", keys=(2, 2, 1))
def memory_usage(ctx, argv):
    samples = 5
    i = 3
    while i < len(argv):
        if argv[i].lower() == b"samples" and i + 1 < len(argv):
            samples = parse_int(argv[i + 1])
            if samples < 0:
                raise CommandError(errors.SYNTAX_ERR)
            i += 2
        else:
            raise CommandError(errors.SYNTAX_ERR)
    value = ctx.db.peek(argv[2])
    if value is None:
        return None
    return memory.key_usage(argv[2], value, samples)


@command("memory|stats", arity=2)
def memory_stats(ctx, argv):
    server = ctx.server
    fig = memory_figures(server)
    used, peak, startup = fig["used"], fig["peak"], fig["startup"]
    net = max(used - startup, 0)
    keys = sum(db.size() for db in ctx.keyspace.dbs)
    rss = fig["rss"]
    reply = {
        b"peak.allocated": peak, b"total.allocated": used, b"startup.allocated": startup,
        b"replication.backlog": fig["backlog"], b"clients.slaves": fig["clients_slaves"],
        b"clients.normal": fig["clients_normal"], b"cluster.links": 0, b"aof.buffer": fig["aof_buffer"],
        b"lua.caches": 0, b"functions.caches": 0,
    }
    reply.update(_per_db_overhead(ctx.keyspace))
    reply.update({
        b"overhead.total": fig["overhead"], b"keys.count": keys,
        b"keys.bytes-per-key": net // keys if keys else 0, b"dataset.bytes": fig["dataset"],
        b"dataset.percentage": fig["dataset"] * 100 / net if net else 0.0,
        b"peak.percentage": used * 100 / peak if peak else 0.0,
        b"allocator.allocated": used, b"allocator.active": used, b"allocator.resident": rss,
        b"allocator-fragmentation.ratio": 1.0, b"allocator-fragmentation.bytes": 0,
        b"allocator-rss.ratio": rss / used if used else 0.0, b"allocator-rss.bytes": rss - used,
        b"rss-overhead.ratio": 1.0, b"rss-overhead.bytes": 0,
        b"fragmentation": rss / used if used else 0.0, b"fragmentation.bytes": rss - used,
    })
    return reply


def _per_db_overhead(keyspace) -> dict:
    import sys
    reply = {}
    for db in keyspace.dbs:
        if not db.size():
            continue
        main = sum(sys.getsizeof(shard) for shard in db.data if shard)
        expires = sum(sys.getsizeof(e.when) for e in db.expires if getattr(e, "when", None))
        reply[b"db.%d" % db.id] = {b"overhead.hashtable.main": main, b"overhead.hashtable.expires": expires,
                                   b"overhead.hashtable.slot-to-keys": 0}
    return reply


_DOCTOR_EMPTY = ("Hi Sam, this instance is empty or is using very little memory, my issues detector can't be "
                 "used in these conditions. Please, leave for your mission on Earth and fill it with some data. "
                 "The new Sam and I will be back to our programming as soon as I finished rebooting.\n")
_DOCTOR_FINE = ("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs "
                "on this base.\n")
_DOCTOR_PEAK = (" * Peak memory: In the past this instance used more than 150% the memory that is currently "
                "using. The allocator is normally not able to release memory after a peak, so you can expect to "
                "see a big fragmentation ratio, however this is actually harmless and is only due to the memory "
                "peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the "
                "memory will be used as soon as you fill the Redis instance with more data. If the memory peak "
                "was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE "
                "command, otherwise the only other option is to shutdown and restart the instance.\n\n")
_DOCTOR_CLIENTS = (
    " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on "
    "average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not "
    "receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending "
    "commands with large replies or very large sequences of commands in the same pipeline. Please use the "
    "CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to "
    "understand better why certain clients are using a big amount of memory.\n\n")


@command("memory|doctor", arity=2)
def memory_doctor(ctx, argv):
    """getMemoryDoctorReport. "Empty" is judged on what the data set adds to the
    interpreter's own start-up memory (Redis: less than 5 MB allocated)."""
    fig = memory_figures(ctx.server)
    if fig["used"] - fig["startup"] < 5 * 1024 * 1024:
        return Verbatim(_DOCTOR_EMPTY.encode())
    issues = ""
    if fig["peak"] / fig["used"] > 1.5:
        issues += _DOCTOR_PEAK
    clients = max(len(ctx.server.client_list()), 1)
    if fig["clients_normal"] / clients > 200 * 1024:
        issues += _DOCTOR_CLIENTS
    if not issues:
        return Verbatim(_DOCTOR_FINE.encode())
    return Verbatim(("Sam, I detected a few issues in this Redis instance memory implants:\n\n" + issues
                     + "I'm here to keep you safe, Sam. I want to help you.\n").encode())


@command("memory|malloc-stats", arity=2)
def memory_malloc_stats(ctx, argv):
    # Redis without jemalloc answers this (a libc build); Ferrous has no jemalloc either.
    return b"Stats not supported for the current allocator"


@command("memory|purge", arity=2)
def memory_purge(ctx, argv):
    memory.purge()
    return "OK"


@command("memory|help", arity=2, flags="loading stale")
def memory_help(ctx, argv):
    return help_reply("MEMORY", _MEMORY_HELP)


# ---------------------------------------------------------------------------------
# MONITOR
# ---------------------------------------------------------------------------------
@command("monitor", arity=1, flags="admin noscript loading stale", group="server")
def monitor(ctx, argv):
    conn = ctx.conn
    if conn.multi is not None or getattr(ctx, "deny_blocking", False):
        raise CommandError(errors.MONITOR_DENY_BLOCKING)
    if "O" in conn.flags or "S" in conn.flags:
        return Raw(b"")             # already a replica or a monitor: no reply at all
    conn.flags.add("O")
    ctx.server.watch.add_monitor(conn)
    return "OK"


@on_reset
def _reset_monitor(ctx, conn) -> None:
    """RESET ends MONITOR mode (clearClientConnectionState)."""
    if "O" in conn.flags:
        conn.flags.discard("O")
        ctx.server.watch.remove_monitor(conn)

