"""Server group (server.c, db.c, config.c): DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME,
SHUTDOWN, INFO, CONFIG *, COMMAND *.

COMMAND INFO/DOCS are generated from the command table plus the tips, key specs and
docs recorded from Redis 7.0 (registry.redis_meta()), so they match Redis byte for
byte for every command both servers implement.
"""
from __future__ import annotations

import itertools
import os
import platform
import resource
import selectors
import struct
import sys
import time

from ferrous import REDIS_VERSION, __version__, errors
from ferrous.commands.args import is_int
from ferrous.commands.getkeys import REDIS_GETKEYS
from ferrous.commands.registry import (
    CATEGORY_ORDER, FLAG_ORDER, LOCK_ALL, TABLE, command, container, redis_meta,
)
from ferrous.config import ConfigError
from ferrous.errors import CommandError
from ferrous.protocol import ErrorReply, Raw, RespSet, Simple, Verbatim
from ferrous.protocol.encoder import encode
from ferrous.scripting.gil import gil_enabled
from ferrous.server import memory
from ferrous.server.blocking import block, signal_db_keys_ready
from ferrous.storage.glob import glob_match


# ---------------------------------------------------------------------------------
# Whole-keyspace commands
# ---------------------------------------------------------------------------------
@command("dbsize", arity=1, flags="readonly fast", group="server", acl="@keyspace", lock=LOCK_ALL)
def dbsize(ctx, argv):
    return ctx.db.size()


def _flush_flags(ctx, argv) -> bool:
    """getFlushCommandFlags: [SYNC|ASYNC]; returns True for ASYNC (freed in the background)."""
    if len(argv) == 1:
        return ctx.server.config.lazyfree_lazy_user_flush
    if len(argv) == 2 and argv[1].lower() in (b"sync", b"async"):
        return argv[1].lower() == b"async"
    raise CommandError(errors.SYNTAX_ERR)


def _generic_flush(ctx, dbs, lazy: bool = False) -> int:
    """emptyData: clear the databases, telling WATCH and blocked clients first; lazy
    (ASYNC) leaves the freeing to the lazyfree thread, as emptyDbAsync."""
    events = ctx.keyspace.events
    on_flushed = getattr(events, "on_flushed", None)
    removed = 0
    detached = [] if lazy else None
    for db in dbs:
        if on_flushed is not None:
            on_flushed(db)
        elif events.on_modified is not None:
            for key in list(db.iter_keys()):
                events.on_modified(db, key)
        removed += db.flush(detached)
    if lazy:
        ctx.server.lazyfree.free_databases(detached, removed)
    ctx.server.tracking.flushed(ctx)    # trackingInvalidateKeysOnFlush: one null for everyone
    # FLUSHDB/FLUSHALL are propagated even when nothing was removed (forceCommandPropagation).
    ctx.force_propagation = True
    return removed


@command("flushdb", arity=-1, flags="write", group="server", acl="@keyspace @dangerous", lock=LOCK_ALL)
def flushdb(ctx, argv):
    ctx.dirty += _generic_flush(ctx, [ctx.db], _flush_flags(ctx, argv))
    return "OK"


@command("flushall", arity=-1, flags="write", group="server", acl="@keyspace @dangerous", lock=LOCK_ALL)
def flushall(ctx, argv):
    ctx.dirty += _generic_flush(ctx, ctx.keyspace.dbs, _flush_flags(ctx, argv)) + 1
    # Redis also drops the functions and, when save points are configured, saves the
    # (now empty) dataset. Their modules provide these hooks; they run while this
    # command holds the whole keyspace, so they must not take shard locks.
    for hook_name in ("functions_flush", "flushall_save"):
        hook = getattr(ctx.server, hook_name, None)
        if hook is not None:
            hook()
    return "OK"


@command("swapdb", arity=3, flags="write fast", group="server", acl="@keyspace @dangerous", lock=LOCK_ALL)
def swapdb(ctx, argv):
    first = _db_index(argv[1], errors.SWAPDB_INVALID_FIRST)
    second = _db_index(argv[2], errors.SWAPDB_INVALID_SECOND)
    count = len(ctx.keyspace.dbs)
    if not (0 <= first < count and 0 <= second < count):
        raise CommandError(errors.INVALID_DB_INDEX)
    ctx.keyspace.swap(first, second)
    hook = getattr(ctx.keyspace.events, "on_swapdb", None)   # WATCH and blocked clients
    if hook is not None:
        hook(first, second)
    # scanDatabaseForReadyKeys: a list now in a db where a client blocks may serve it.
    signal_db_keys_ready(ctx, first)
    signal_db_keys_ready(ctx, second)
    ctx.dirty += 1
    return "OK"


def _db_index(arg: bytes, error: str) -> int:
    """getIntFromObjectOrReply: a C int, else the command's own error text."""
    if not is_int(arg) or not -(2**31) <= int(arg) < 2**31:
        raise CommandError(error)
    return int(arg)


@command("time", arity=1, flags="loading stale fast", group="server")
def time_(ctx, argv):
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


# ---------------------------------------------------------------------------------
# SHUTDOWN
# ---------------------------------------------------------------------------------
_SHUTDOWN_OPTIONS = {b"nosave": "nosave", b"save": "save", b"now": "now", b"force": "force"}


@command("shutdown", arity=-1, flags="admin noscript loading stale no_multi sentinel allow_busy", group="server")
def shutdown(ctx, argv):
    options, abort = set(), False
    for arg in argv[1:]:
        lowered = arg.lower()
        if lowered == b"abort":
            abort = True
        elif lowered in _SHUTDOWN_OPTIONS:
            options.add(_SHUTDOWN_OPTIONS[lowered])
        else:
            raise CommandError(errors.SYNTAX_ERR)
    if (abort and options) or {"save", "nosave"} <= options:
        raise CommandError(errors.SYNTAX_ERR)
    state = ctx.server.shutdown      # server/shutdown.py
    if abort:
        if not state.abort():
            raise CommandError(errors.SHUTDOWN_NOT_IN_PROGRESS)
        return "OK"
    outcome = state.prepare(frozenset(options))
    if outcome == "failed":
        raise CommandError(errors.SHUTDOWN_ERR)
    if outcome == "exit":
        # Like Redis, the client gets no reply: the connection closes as the server exits.
        ctx.conn.close_after_reply = True
        return Raw(b"")
    # Waiting for lagging replicas (or another SHUTDOWN is): park until the server
    # exits, or until the shutdown is cancelled and answers with an error.
    state.park(ctx.conn.id)
    block(ctx, [], 0, _shutdown_never_served, timeout_reply=ErrorReply(errors.SHUTDOWN_ERR))


def _shutdown_never_served(ctx, key):
    raise AssertionError("a parked SHUTDOWN is answered by server/shutdown.py, never by a key")


# ---------------------------------------------------------------------------------
# CONFIG
# ---------------------------------------------------------------------------------
container("config", arity=-2, group="server")


@command("config|get", arity=-3, flags="admin noscript loading stale")
def config_get(ctx, argv):
    return ctx.server.config.get_matching(argv[2:])


@command("config|set", arity=-4, flags="admin noscript loading stale")
def config_set(ctx, argv):
    if len(argv) % 2:
        raise CommandError(errors.SYNTAX_ERR)
    config = ctx.server.config
    pairs = [(argv[i], argv[i + 1]) for i in range(2, len(argv), 2)]
    config.set_many(pairs, protected_ok=config.protected_allowed(_is_local_client(ctx.conn)))
    return "OK"


def _is_local_client(conn) -> bool:
    """islocalClient: a unix socket or a loopback address."""
    addr = getattr(conn, "addr", None)
    if not addr or not isinstance(addr, tuple):
        return True
    host = addr[0]
    return host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127.")


@command("config|resetstat", arity=2, flags="admin noscript loading stale")
def config_resetstat(ctx, argv):
    reset_statistics(ctx.server)
    return "OK"


def reset_statistics(server) -> None:
    """resetServerStats + resetCommandTableStats + resetErrorTableStats."""
    server.lazyfree.reset_stats()
    for worker_ctx in _contexts(server):
        worker_ctx.command_stats = {}
        worker_ctx.error_stats = {}
        worker_ctx.commands_processed = 0
        worker_ctx.keyspace_hits = 0
        worker_ctx.keyspace_misses = 0
        worker_ctx.total_error_replies = 0
    stats = server.stats
    with stats._lock:
        for name in ("total_connections_received", "rejected_connections", "total_net_input_bytes",
                     "total_net_output_bytes", "expired_keys", "evicted_keys",
                     "expired_time_cap_reached_count"):
            setattr(stats, name, 0)
        stats.expired_stale_perc = 0.0
        stats.ops_samples.clear()
        stats.net_samples.clear()   # instantaneous_*_kbps; the peak memory is kept, as Redis


@command("config|rewrite", arity=2, flags="admin noscript loading stale")
def config_rewrite(ctx, argv):
    config = ctx.server.config
    if config.config_file is None:
        raise CommandError(errors.CONFIG_NO_FILE)
    describe_users = getattr(ctx.server, "acl_rewrite_lines", None)   # from the ACL module
    try:
        config.rewrite(user_lines=describe_users() if describe_users else None)
    except ConfigError as exc:
        raise CommandError("ERR " + exc.reason) from None
    return "OK"


_CONFIG_HELP = [
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
]


@command("config|help", arity=2, flags="loading stale")
def config_help(ctx, argv):
    return help_reply("CONFIG", _CONFIG_HELP)


def help_reply(name: str, lines: list) -> list:
    """addReplyHelp: a header, the lines, and the standard HELP entry, as status replies."""
    header = f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [Simple(text) for text in [header, *lines, "HELP", "    Prints this help."]]


# ---------------------------------------------------------------------------------
# COMMAND
# ---------------------------------------------------------------------------------
# Flags COMMAND INFO never shows (addReplyFlagsForCommand hides them on purpose).
_HIDDEN_FLAGS = frozenset(("may_replicate", "sentinel", "only_sentinel", "no_propagate", "protected"))


@command("command", arity=-1, flags="loading stale", group="server", acl="@connection")
def command_(ctx, argv):
    return [command_info(cmd) for cmd in TABLE.values()]


@command("command|count", arity=2, flags="loading stale", acl="@connection")
def command_count(ctx, argv):
    return len(TABLE)


@command("command|info", arity=-2, flags="loading stale", acl="@connection")
def command_info_(ctx, argv):
    if len(argv) == 2:
        return [command_info(cmd) for cmd in TABLE.values()]
    return [command_info(lookup_fullname(name)) for name in argv[2:]]


@command("command|docs", arity=-2, flags="loading stale", acl="@connection")
def command_docs(ctx, argv):
    if len(argv) == 2:
        return {cmd.name.encode(): command_doc(cmd) for cmd in TABLE.values()}
    pairs = []
    for name in argv[2:]:
        cmd = lookup_fullname(name)
        if cmd is not None:
            pairs.append((cmd.name.encode(), command_doc(cmd)))
    return _map_reply(ctx, pairs)


@command("command|list", arity=-2, flags="loading stale", acl="@connection")
def command_list(ctx, argv):
    keep = _list_filter(argv)
    return [cmd.name.encode() for cmd in _all_commands() if keep(cmd)]


@command("command|getkeys", arity=-4, flags="loading stale", acl="@connection")
def command_getkeys(ctx, argv):
    return [argv[2 + pos] for pos, _flags in _generic_getkeys(argv[2:])]


@command("command|getkeysandflags", arity=-4, flags="loading stale", acl="@connection")
def command_getkeysandflags(ctx, argv):
    return [[argv[2 + pos], flags] for pos, flags in _generic_getkeys(argv[2:])]


_COMMAND_HELP = [
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
]


@command("command|help", arity=2, flags="loading stale", acl="@connection")
def command_help(ctx, argv):
    return help_reply("COMMAND", _COMMAND_HELP)


def lookup_fullname(name: bytes):
    """lookupCommandBySds: 'get' or 'config|get' (case-insensitive), else None."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    cmd = TABLE.get(parts[0])
    if cmd is None or len(parts) == 1:
        return cmd
    return cmd.subcommands.get(parts[1])


def _all_commands():
    for cmd in TABLE.values():
        yield cmd
        yield from cmd.subcommands.values()


_command_positions: dict = {}


def in_table_order(names) -> list:
    """The command names that are in the table, in _all_commands() order (INFO's
    order) without walking the whole table on every INFO."""
    global _command_positions
    positions = _command_positions
    if any(name not in positions for name in names):
        positions = _command_positions = {cmd.name: i for i, cmd in enumerate(_all_commands())}
    return sorted((name for name in names if name in positions), key=positions.__getitem__)


def _list_filter(argv):
    """COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]."""
    keep = None
    i = 2
    while i < len(argv):
        if argv[i].lower() != b"filterby" or len(argv) - 1 - i != 2:
            raise CommandError(errors.SYNTAX_ERR)
        kind, arg = argv[i + 1].lower(), argv[i + 2]
        if kind == b"module":
            keep = lambda cmd: False                       # no modules in Ferrous  # noqa: E731
        elif kind == b"aclcat":
            category = arg.decode("utf-8", "replace").lower()
            keep = lambda cmd, c=category: c in cmd.categories  # noqa: E731
        elif kind == b"pattern":
            keep = lambda cmd, p=arg: glob_match(p, cmd.name.encode(), True)  # noqa: E731
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 3
    return keep or (lambda cmd: True)


def _map_reply(ctx, pairs: list):
    """A map that may repeat a key (COMMAND DOCS get get), which a dict cannot hold."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) == len(keys):
        return dict(pairs)
    resp = ctx.conn.resp
    header = b"%%%d\r\n" % len(pairs) if resp == 3 else b"*%d\r\n" % (2 * len(pairs))
    return Raw(header + b"".join(encode(k, resp) + encode(v, resp) for k, v in pairs))


# -- COMMAND INFO / DOCS entries, cached per command ---------------------------------
_INFO_CACHE: dict = {}
_DOCS_CACHE: dict = {}


def _from_meta(node):
    """redis_meta.json's tagged JSON -> reply values (str bulk, {"+"} simple, {"~"} set, {"%"} map)."""
    if isinstance(node, str):
        return node.encode()
    if isinstance(node, list):
        return [_from_meta(item) for item in node]
    if isinstance(node, dict):
        if "+" in node:
            return Simple(node["+"])
        if "~" in node:
            return RespSet([_from_meta(item) for item in node["~"]])
        if "%" in node:
            return {_from_meta(k): _from_meta(v) for k, v in node["%"]}
    return node


def _plain(node):
    """Tagged JSON -> plain Python (for evaluating key specs)."""
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, dict):
        if "+" in node:
            return node["+"]
        if "~" in node:
            return [_plain(item) for item in node["~"]]
        if "%" in node:
            return {k: _plain(v) for k, v in node["%"]}
    return node


def _meta(cmd) -> dict:
    return redis_meta().get(cmd.name) or {}


def _key_specs(cmd) -> list:
    return _plain(_meta(cmd).get("key_specs") or {"~": []})


def _is_movable(cmd) -> bool:
    """populateCommandMovableKeys: a getkeys function or a key spec that is not index+range."""
    if cmd.getkeys is not None:
        return True
    return any(spec["begin_search"]["type"] != "index" or spec["find_keys"]["type"] != "range"
               for spec in _key_specs(cmd))


def visible_flags(cmd) -> list:
    flags = set(cmd.flags) - _HIDDEN_FLAGS
    if _is_movable(cmd):
        flags.add("movablekeys")
    return [flag for flag in FLAG_ORDER if flag in flags]


def command_info(cmd):
    """addReplyCommandInfo: the 10-element COMMAND INFO entry (None for an unknown name)."""
    if cmd is None:
        return None
    cached = _INFO_CACHE.get(cmd.name)
    if cached is None:
        meta = _meta(cmd)
        cached = [
            cmd.name.encode(), cmd.arity,
            RespSet([Simple(flag) for flag in visible_flags(cmd)]),
            cmd.first_key, cmd.last_key, cmd.step,
            RespSet([Simple("@" + cat) for cat in CATEGORY_ORDER if cat in cmd.categories]),
            _from_meta(meta.get("tips") or {"~": []}),
            _from_meta(meta.get("key_specs") or {"~": []}),
            # A command without sub-commands replies an empty set, a container an array.
            [command_info(sub) for sub in cmd.subcommands.values()] if cmd.subcommands else RespSet([]),
        ]
        _INFO_CACHE[cmd.name] = cached
    return cached


def command_doc(cmd) -> dict:
    """addReplyCommandDocs: the recorded docs, plus a map of sub-command docs for containers."""
    cached = _DOCS_CACHE.get(cmd.name)
    if cached is None:
        docs = _meta(cmd).get("docs")
        if docs:
            cached = _from_meta(docs)
        else:   # a Ferrous-only command: the three mandatory fields
            cached = {b"summary": b"", b"since": b"", b"group": cmd.group.encode()}
        if cmd.subcommands:
            cached[b"subcommands"] = {sub.name.encode(): command_doc(sub) for sub in cmd.subcommands.values()}
        _DOCS_CACHE[cmd.name] = cached
    return cached


# -- COMMAND GETKEYS -----------------------------------------------------------------
def _lookup_argv(argv: list):
    """lookupCommand for a full command line: the sub-command when there is one."""
    cmd = TABLE.get(argv[0].lower())
    if cmd is None or len(argv) == 1 or not cmd.subcommands:
        return cmd
    return cmd.subcommands.get(argv[1].lower())


def _generic_getkeys(argv: list) -> list:
    """getKeysSubcommandImpl: [(position, flags)] of the keys of a full command line."""
    cmd = _lookup_argv(argv)
    if cmd is None:
        raise CommandError(errors.COMMAND_INVALID)
    specs = _key_specs(cmd)
    getkeys_proc = REDIS_GETKEYS.get(cmd.name)
    has_keyspec = any("not_key" not in s["flags"] for s in specs)
    if getkeys_proc is None and not has_keyspec:    # doesCommandHaveKeys
        raise CommandError(errors.COMMAND_NO_KEY_ARGS)
    if (cmd.arity > 0 and cmd.arity != len(argv)) or len(argv) < -cmd.arity:
        raise CommandError(errors.COMMAND_INVALID_ARG_COUNT)
    # getKeysFromCommandWithSpecs: the specs when their flags are reliable, else
    # the getkeys_proc (commands/getkeys.py), else no keys.
    keys = _keys_from_specs(cmd, specs, argv) if has_keyspec else None
    if keys is None and getkeys_proc is not None:
        keys = [(pos, RespSet([Simple(flag) for flag in flags])) for pos, flags in getkeys_proc(argv)]
    if not keys:
        if "no_mandatory_keys" in cmd.flags:
            return []
        raise CommandError(errors.COMMAND_INVALID_ARGS)
    return keys


def _keys_from_specs(cmd, specs: list, argv: list):
    """getKeysUsingKeySpecs; None when a spec is incomplete or does not fit argv."""
    if not any("not_key" not in spec["flags"] for spec in specs):
        return None
    if any("variable_flags" in spec["flags"] for spec in specs):
        return None
    argc = len(argv)
    keys = []
    for spec in specs:
        if "not_key" in spec["flags"]:
            continue
        first = _begin_search(spec["begin_search"], argv)
        if first is None:
            return None
        if first == 0:          # keyword not present: this spec has no keys here
            continue
        span = _find_keys(spec["find_keys"], first, argv)
        if span is None:
            return None
        first, last, step = span
        if last >= argc or last < first or first >= argc:
            return None
        flags = RespSet([Simple(flag) for flag in spec["flags"]])
        keys.extend((pos, flags) for pos in range(first, last + 1, step) if pos < argc)
        if "incomplete" in spec["flags"]:
            return None
    return keys


def _begin_search(begin: dict, argv: list):
    kind, spec = begin["type"], begin["spec"]
    if kind == "index":
        return spec["index"]
    if kind != "keyword":
        return None
    argc, keyword, start = len(argv), spec["keyword"].encode().lower(), spec["startfrom"]
    # Redis's loop stops short of its end index (argc-1, or 1 searching backwards):
    # a keyword that is the last argument is not found (GEORADIUS ... STORE).
    positions = range(start, argc - 1) if start > 0 else range(argc + start, 1, -1)
    for i in positions:
        if 1 <= i < argc and argv[i].lower() == keyword:
            return i + 1
    return 0


def _find_keys(find: dict, first: int, argv: list):
    kind, spec, argc = find["type"], find["spec"], len(argv)
    if kind == "range":
        lastkey, limit = spec["lastkey"], spec["limit"]
        if lastkey >= 0:
            last = first + lastkey
        elif not limit:
            last = argc + lastkey
        else:
            last = first + ((argc - first) // limit + lastkey)
        return first, last, spec["keystep"]
    if kind == "keynum":
        index = first + spec["keynumidx"]
        if index >= argc:
            return None
        if not is_int(argv[index]) or int(argv[index]) < 0:
            return None
        start = first + spec["firstkey"]
        return start, start + int(argv[index]) - 1, spec["keystep"]
    return None


# ---------------------------------------------------------------------------------
# INFO
# ---------------------------------------------------------------------------------
@command("info", arity=-1, flags="loading stale sentinel", group="server", acl="@dangerous")
def info(ctx, argv):
    sections = info_sections([arg.decode("utf-8", "replace").lower() for arg in argv[1:]])
    return Verbatim(generate_info(ctx, sections).encode())


_SECTION_ORDER = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                  "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]
_DEFAULT_SECTIONS = {"server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                     "modules", "errorstats", "cluster", "keyspace"}
_SECTION_TITLES = {"cpu": "CPU"}
# Ferrous's own fields (thread health, ...): shown only when asked for by name, so the
# Redis sections and `INFO everything` list exactly Redis's fields.
_FERROUS_SECTIONS = ["ferrous"]


def info_sections(names: list) -> list:
    """genInfoSectionDict: default/all/everything and section names, in Redis's order."""
    wanted = set()
    for name in names or ["default"]:
        if name in ("all", "everything"):
            wanted.update(_SECTION_ORDER)
        elif name == "default":
            wanted.update(_DEFAULT_SECTIONS)
        elif name == "module_list":
            wanted.add("modules")
        else:
            wanted.add(name)
    return [name for name in _SECTION_ORDER + _FERROUS_SECTIONS if name in wanted]


def generate_info(ctx, sections: list) -> str:
    parts = []
    for name in sections:
        fields = _SECTION_BUILDERS[name](ctx)
        # Other modules (persistence, replication, ...) may fill a section in:
        # server.info_<section>() returns {field: value} overriding or adding fields.
        provider = getattr(ctx.server, "info_" + name, None)
        if callable(provider):
            fields.update(provider())
        title = _SECTION_TITLES.get(name, name.capitalize())
        body = "".join(f"{key}:{value}\r\n" for key, value in fields.items())
        parts.append(f"# {title}\r\n{body}")
    return "\r\n".join(parts)


def _contexts(server) -> list:
    workers = getattr(server, "workers", None)
    return list(workers.contexts) if workers is not None else []


def _migrate_cached_sockets() -> int:
    from ferrous.commands.migrate import cached_sockets
    return cached_sockets()


def _sum(server, attr: str) -> int:
    return sum(getattr(c, attr, 0) for c in _contexts(server))


def _multiplexing_api() -> str:
    name = selectors.DefaultSelector.__name__
    return {"EpollSelector": "epoll", "KqueueSelector": "kqueue", "DevpollSelector": "devpoll",
            "PollSelector": "poll"}.get(name, "select")


def _compiler_version() -> str:
    digits = "".join(c if c.isdigit() or c == "." else " " for c in platform.python_compiler()).split()
    return digits[0] if digits and digits[0].count(".") == 2 else "0.0.0"


_BUILD_ID = format(abs(hash(("ferrous", __version__))) & 0xFFFFFFFFFFFFFFF, "x")


def _info_server(ctx) -> dict:
    server, config = ctx.server, ctx.server.config
    uname = platform.uname()
    now = time.time()
    uptime = int(now - server.stats.start_time)
    fields = {
        "redis_version": REDIS_VERSION,
        "redis_git_sha1": "00000000",
        "redis_git_dirty": 0,
        "redis_build_id": _BUILD_ID,
        "redis_mode": "standalone",
        "os": f"{uname.system} {uname.release} {uname.machine}",
        "arch_bits": struct.calcsize("P") * 8,
        "monotonic_clock": "POSIX clock_gettime",
        "multiplexing_api": _multiplexing_api(),
        "atomicvar_api": "python",
        "gcc_version": _compiler_version(),
        "process_id": os.getpid(),
        "process_supervised": "no",
        "run_id": server.run_id,
        "tcp_port": getattr(server, "port", config.port),
        "server_time_usec": int(now * 1_000_000),
        "uptime_in_seconds": uptime,
        "uptime_in_days": uptime // 86400,
        "hz": config.hz,
        "configured_hz": config.hz,
        "lru_clock": int(now) & ((1 << 24) - 1),
        "executable": sys.executable,
        "config_file": config.config_file or "",
        # Ferrous always reads and writes sockets on its I/O threads.
        "io_threads_active": 1,
    }
    remaining = server.shutdown.remaining_ms()
    if remaining is not None:   # a shutdown waits for lagging replicas (server/shutdown.py)
        fields["shutdown_in_milliseconds"] = remaining
    fields["ferrous_version"] = __version__
    fields["gil_enabled"] = int(gil_enabled())
    return fields


def _info_clients(ctx) -> dict:
    server = ctx.server
    clients = server.client_list()
    replicas = sum(1 for c in clients if "S" in getattr(c, "flags", ()))
    blocked = [c for c in clients if getattr(c, "blocked", None) is not None]
    return {
        "connected_clients": len(clients) - replicas,
        "cluster_connections": 0,
        "maxclients": server.config.maxclients,
        "client_recent_max_input_buffer": max((len(getattr(c.parser, "_buf", b"")) for c in clients), default=0),
        "client_recent_max_output_buffer": max((len(c.out) for c in clients), default=0),
        "blocked_clients": len(blocked),
        "tracking_clients": server.tracking.clients,
        "clients_in_timeout_table": sum(1 for c in blocked if getattr(c.blocked, "timeout", 0)),
    }


# -- memory -------------------------------------------------------------------------
# used_memory is measured from the allocators (server/memory.py; README "Observability").


def used_memory(server) -> int:
    """INFO used_memory, which maxmemory compares against (server/eviction.py)."""
    tracker = getattr(server, "memory", None)
    return tracker.used() if tracker is not None else memory.allocated_bytes()


bytes_to_human = memory.bytes_to_human


def _total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def memory_figures(server) -> dict:
    """The numbers INFO memory and MEMORY STATS share (getMemoryOverheadData)."""
    tracker = server.memory
    used = tracker.used()
    main, expires = memory.keyspace_overhead(server.keyspace)
    clients = server.client_list()
    clients_normal = sum(len(c.out) + c.parser.pending_bytes() for c in clients if "S" not in c.flags)
    replica_outputs = [len(c.out) for c in clients if "S" in c.flags]
    clients_slaves = sum(replica_outputs)
    backlog = getattr(server, "repl_backlog_memory", lambda: 0)()
    # Redis 7.0 keeps one buffer that the backlog and every replica's output share:
    # its size is the longer of the backlog and the most a replica has yet to receive.
    replication_buffers = max([backlog, *replica_outputs])
    aof_buffer = getattr(server, "aof_buffer_memory", lambda: 0)()
    startup = min(tracker.startup, used)
    overhead = min(startup + main + expires + clients_normal + clients_slaves + backlog + aof_buffer, used)
    return {
        "used": used, "peak": max(tracker.peak, used), "startup": startup, "main": main,
        "expires": expires, "clients_normal": clients_normal, "clients_slaves": clients_slaves,
        "backlog": backlog, "replication_buffers": replication_buffers,
        "aof_buffer": aof_buffer, "overhead": overhead,
        "dataset": used - overhead, "rss": tracker.rss,     # sampled by the cron, as Redis
    }


def _perc(part: int, whole: int) -> str:
    return "%.2f%%" % (part * 100 / whole) if whole > 0 else "0.00%"


def _info_memory(ctx) -> dict:
    server, config = ctx.server, ctx.server.config
    fig = memory_figures(server)
    used, rss, peak = fig["used"], fig["rss"], fig["peak"]
    lua = getattr(server, "lua_memory", lambda: 0)()
    functions = getattr(server, "functions_memory", lambda: 0)()
    scripts = len(getattr(server, "scripts", {}) or {})
    system = _total_system_memory()
    ratio = rss / used if used else 0
    return {
        "used_memory": used,
        "used_memory_human": bytes_to_human(used),
        "used_memory_rss": rss,
        "used_memory_rss_human": bytes_to_human(rss),
        "used_memory_peak": peak,
        "used_memory_peak_human": bytes_to_human(peak),
        "used_memory_peak_perc": _perc(used, peak),
        "used_memory_overhead": fig["overhead"],
        "used_memory_startup": fig["startup"],
        "used_memory_dataset": fig["dataset"],
        "used_memory_dataset_perc": _perc(fig["dataset"], used - fig["startup"]),
        "allocator_allocated": used,
        "allocator_active": used,
        "allocator_resident": rss,
        "total_system_memory": system,
        "total_system_memory_human": bytes_to_human(system),
        "used_memory_lua": lua,
        "used_memory_vm_eval": lua,
        "used_memory_lua_human": bytes_to_human(lua),
        "used_memory_scripts_eval": 0,
        "number_of_cached_scripts": scripts,
        "number_of_functions": getattr(server, "functions_count", lambda: 0)(),
        "number_of_libraries": 0,
        "used_memory_vm_functions": functions,
        "used_memory_vm_total": lua + functions,
        "used_memory_vm_total_human": bytes_to_human(lua + functions),
        "used_memory_functions": 0,
        "used_memory_scripts": 0,
        "used_memory_scripts_human": "0B",
        "maxmemory": config.maxmemory,
        "maxmemory_human": bytes_to_human(config.maxmemory),
        "maxmemory_policy": config.maxmemory_policy,
        "allocator_frag_ratio": "1.00",
        "allocator_frag_bytes": 0,
        "allocator_rss_ratio": "%.2f" % ratio,
        "allocator_rss_bytes": rss - used,
        "rss_overhead_ratio": "1.00",
        "rss_overhead_bytes": 0,
        "mem_fragmentation_ratio": "%.2f" % ratio,
        "mem_fragmentation_bytes": rss - used,
        "mem_not_counted_for_evict": fig["aof_buffer"],
        "mem_replication_backlog": fig["backlog"],
        "mem_total_replication_buffers": fig["replication_buffers"],
        "mem_clients_slaves": fig["clients_slaves"],
        "mem_clients_normal": fig["clients_normal"],
        "mem_cluster_links": 0,
        "mem_aof_buffer": fig["aof_buffer"],
        "mem_allocator": memory.allocator_name(),
        "active_defrag_running": 0,
        **ctx.server.lazyfree.info(),
    }


def _info_persistence(ctx) -> dict:
    # Static values until persistence lands (it fills this in through server.info_persistence).
    server = ctx.server
    changes = _sum(server, "dirty") - getattr(server, "dirty_at_last_save", 0)
    return {
        "loading": 0, "async_loading": 0, "current_cow_peak": 0, "current_cow_size": 0,
        "current_cow_size_age": 0, "current_fork_perc": "0.00", "current_save_keys_processed": 0,
        "current_save_keys_total": 0, "rdb_changes_since_last_save": changes,
        "rdb_bgsave_in_progress": 0,
        "rdb_last_save_time": int(getattr(server, "lastsave", server.stats.start_time)),
        "rdb_last_bgsave_status": "ok", "rdb_last_bgsave_time_sec": -1,
        "rdb_current_bgsave_time_sec": -1, "rdb_saves": 0, "rdb_last_cow_size": 0,
        "rdb_last_load_keys_expired": 0, "rdb_last_load_keys_loaded": 0,
        "aof_enabled": 0, "aof_rewrite_in_progress": 0, "aof_rewrite_scheduled": 0,
        "aof_last_rewrite_time_sec": -1, "aof_current_rewrite_time_sec": -1,
        "aof_last_bgrewrite_status": "ok", "aof_rewrites": 0, "aof_rewrites_consecutive_failures": 0,
        "aof_last_write_status": "ok", "aof_last_cow_size": 0, "module_fork_in_progress": 0,
        "module_fork_last_cow_size": 0,
        **_info_aof(server),
    }


def _info_aof(server) -> dict:
    """The AOF's fields (persistence/aof.py); the size fields only while it is on."""
    aof = getattr(server, "aof", None)
    if aof is None:
        return {}
    fields = dict(aof.info_fields())
    fields["aof_enabled"] = int(aof.enabled)
    if aof.enabled:
        fields.update(aof.size_fields())
    return fields


def _ops_per_sec(samples: list) -> int:
    """instantaneous_ops_per_sec: commands per second across the cron's recent samples."""
    if len(samples) < 2:
        return 0
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    if t1 <= t0 or n1 < n0:
        return 0
    return int((n1 - n0) / (t1 - t0))


def _pubsub_counts(server) -> tuple:
    counts = getattr(server, "pubsub_counts", None)
    return counts() if callable(counts) else (0, 0, 0)


def _info_stats(ctx) -> dict:
    server = ctx.server
    stats = server.stats
    channels, patterns, shard_channels = _pubsub_counts(server)
    kbps_in, kbps_out = stats.kbps()
    return {
        "total_connections_received": stats.total_connections_received,
        "total_commands_processed": _sum(server, "commands_processed"),
        "instantaneous_ops_per_sec": _ops_per_sec(list(stats.ops_samples)),
        "total_net_input_bytes": stats.total_net_input_bytes,
        "total_net_output_bytes": stats.total_net_output_bytes,
        "total_net_repl_input_bytes": 0,
        "total_net_repl_output_bytes": 0,
        "instantaneous_input_kbps": "%.2f" % kbps_in,
        "instantaneous_output_kbps": "%.2f" % kbps_out,
        "instantaneous_input_repl_kbps": "0.00",
        "instantaneous_output_repl_kbps": "0.00",
        "rejected_connections": stats.rejected_connections,
        "sync_full": getattr(stats, "sync_full", 0), "sync_partial_ok": getattr(stats, "sync_partial_ok", 0),
        "sync_partial_err": getattr(stats, "sync_partial_err", 0),
        "expired_keys": stats.expired_keys,
        "expired_stale_perc": "%.2f" % (stats.expired_stale_perc * 100),
        "expired_time_cap_reached_count": stats.expired_time_cap_reached_count,
        "expire_cycle_cpu_milliseconds": 0,
        "evicted_keys": stats.evicted_keys,
        "evicted_clients": 0,
        "total_eviction_exceeded_time": 0,
        "current_eviction_exceeded_time": 0,
        "keyspace_hits": _sum(server, "keyspace_hits"),
        "keyspace_misses": _sum(server, "keyspace_misses"),
        "pubsub_channels": channels,
        "pubsub_patterns": patterns,
        "pubsubshard_channels": shard_channels,
        "latest_fork_usec": 0, "total_forks": 0, "migrate_cached_sockets": _migrate_cached_sockets(),
        "slave_expires_tracked_keys": 0,
        "active_defrag_hits": 0, "active_defrag_misses": 0, "active_defrag_key_hits": 0,
        "active_defrag_key_misses": 0, "total_active_defrag_time": 0, "current_active_defrag_time": 0,
        **server.tracking.info_stats(),
        "unexpected_error_replies": 0,
        "total_error_replies": _sum(server, "total_error_replies"),
        "dump_payload_sanitizations": 0,
        "total_reads_processed": getattr(stats, "total_reads_processed", 0),
        "total_writes_processed": getattr(stats, "total_writes_processed", 0),
        "io_threaded_reads_processed": getattr(stats, "total_reads_processed", 0),
        "io_threaded_writes_processed": getattr(stats, "total_writes_processed", 0),
        "reply_buffer_shrinks": 0,
        "reply_buffer_expands": 0,
    }


_REPLID = os.urandom(20).hex()


def _info_replication(ctx) -> dict:
    if getattr(ctx.server, "replication", None) is not None:
        from ferrous.commands.replication import info_fields
        return info_fields(ctx.server)
    return {
        "role": "master",
        "connected_slaves": 0,
        "master_failover_state": "no-failover",
        "master_replid": getattr(ctx.server, "replid", _REPLID),
        "master_replid2": "0" * 40,
        "master_repl_offset": 0,
        "second_repl_offset": -1,
        "repl_backlog_active": 0,
        "repl_backlog_size": ctx.server.config.repl_backlog_size,
        "repl_backlog_first_byte_offset": 0,
        "repl_backlog_histlen": 0,
    }


def _info_cpu(ctx) -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Redis's "main thread" runs the commands: here, the worker thread answering INFO.
    thread = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return {
        "used_cpu_sys": "%.6f" % own.ru_stime,
        "used_cpu_user": "%.6f" % own.ru_utime,
        "used_cpu_sys_children": "%.6f" % children.ru_stime,
        "used_cpu_user_children": "%.6f" % children.ru_utime,
        "used_cpu_sys_main_thread": "%.6f" % thread.ru_stime,
        "used_cpu_user_main_thread": "%.6f" % thread.ru_utime,
    }


def _float32(value: float) -> float:
    # Redis divides as C floats: (float)usec / calls.
    return struct.unpack("f", struct.pack("f", value))[0]


def _info_commandstats(ctx) -> dict:
    totals: dict = {}
    for worker_ctx in _contexts(ctx.server):
        for name, stats in list(worker_ctx.command_stats.items()):
            total = totals.setdefault(name, [0, 0, 0, 0])
            total[0] += stats.calls
            total[1] += stats.usec
            total[2] += stats.rejected_calls
            total[3] += stats.failed_calls
    fields = {}
    for cmd_name in in_table_order(totals):
        total = totals[cmd_name]
        if not (total[0] or total[2] or total[3]):
            continue
        calls, usec, rejected, failed = total
        per_call = _float32(usec) / calls if calls else 0.0
        name = "".join("_" if c in "#:\n\r" else c for c in cmd_name)
        fields["cmdstat_" + name] = (f"calls={calls},usec={usec},usec_per_call={_float32(per_call):.2f},"
                                     f"rejected_calls={rejected},failed_calls={failed}")
    return fields


def _info_errorstats(ctx) -> dict:
    totals: dict = {}
    for worker_ctx in _contexts(ctx.server):
        for code, count in list(worker_ctx.error_stats.items()):
            totals[code] = totals.get(code, 0) + count
    # Redis keeps error codes in a radix tree: listed in byte order.
    return {f"errorstat_{code}": f"count={totals[code]}" for code in sorted(totals, key=str.encode)}


def _info_keyspace(ctx) -> dict:
    fields = {}
    now = time.time() * 1000
    for db in ctx.keyspace.dbs:
        keys = db.size()
        if keys:
            expires = db.volatile_count()
            avg_ttl = _avg_ttl(db, now) if expires else 0
            fields[f"db{db.id}"] = f"keys={keys},expires={expires},avg_ttl={avg_ttl}"
    return fields


def _avg_ttl(db, now: float) -> int:
    """An estimate like Redis's db->avg_ttl: the mean remaining TTL of sampled volatile
    keys (lock-free, like memory_estimate)."""
    ttls = []
    for expires in db.expires:
        try:
            ttls.extend(deadline - now for deadline in itertools.islice(expires.when.values(), 8))
        except RuntimeError:    # changed while sampled
            continue
    ttls = [ttl for ttl in ttls if ttl > 0]
    return int(sum(ttls) / len(ttls)) if ttls else 0


def _latencystats(ctx) -> dict:
    from ferrous.commands.introspection import latencystats_fields   # imports this module
    return latencystats_fields(ctx.server)


_SECTION_BUILDERS = {
    "server": _info_server,
    "clients": _info_clients,
    "memory": _info_memory,
    "persistence": _info_persistence,
    "stats": _info_stats,
    "replication": _info_replication,
    "cpu": _info_cpu,
    "modules": lambda ctx: {},
    "commandstats": _info_commandstats,
    "errorstats": _info_errorstats,
    "latencystats": lambda ctx: _latencystats(ctx),
    "cluster": lambda ctx: {"cluster_enabled": 0},
    "keyspace": _info_keyspace,
    "ferrous": lambda ctx: {"ferrous_version": __version__, "gil_enabled": int(gil_enabled())},
}
