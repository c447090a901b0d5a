"""Scripting group: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION, FCALL,
FCALL_RO (eval.c, functions.c, script.c).

EVAL and FCALL take the whole keyspace (lock=LOCK_ALL), so a script is atomic; the
script's redis.call runs commands through dispatch.call without re-locking
(ferrous/scripting/runner.py). Effects replication: the script's own argv is never
propagated, the commands it ran are (ctx.prevent_propagation()).
"""
from __future__ import annotations

import time

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import LOCK_ALL, command, container
from ferrous.commands.server import help_reply
from ferrous.errors import CommandError
from ferrous.protocol.types import RespSet, Simple
from ferrous.scripting import runner
from ferrous.scripting.state import state
from ferrous.storage.glob import glob_match
from ferrous.storage.keyspace import now_ms, script_time

_SCRIPT_FLAGS = "noscript stale skip_monitor no_mandatory_keys"


def _numkeys_keys(argv: list) -> list:
    """getkeys for EVAL/FCALL: the numkeys keys after argv[2]."""
    try:
        numkeys = int(argv[2])
    except ValueError:
        return []
    if numkeys < 0 or numkeys > len(argv) - 3:
        return []
    return list(range(3, 3 + numkeys))


def _numkeys(argv: list, not_integer: str = errors.NOT_INTEGER) -> int:
    numkeys = parse_int(argv[2], not_integer)
    if numkeys > len(argv) - 3:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    if numkeys < 0:
        raise CommandError(errors.NUMKEYS_NEGATIVE)
    return numkeys


# -------------------------------------------------------------------------------------
# Running a script or a function
# -------------------------------------------------------------------------------------
def _run(ctx, engine, name: str, function, numkeys: int, is_eval: bool, read_only: bool,
         allow_oom: bool = False):
    """luaCallFunction: run function with KEYS/ARGV, as the engine's client."""
    argv = ctx.argv
    keys, args = argv[3:3 + numkeys], argv[3 + numkeys:]
    ctx.prevent_propagation()       # effects replication: the inner commands speak for us
    conn, command, out = ctx.conn, ctx.command, ctx.out
    run = runner.Run(engine, ctx, name, is_eval, read_only)
    run.deny_oom = not allow_oom and _over_maxmemory(ctx)   # server.pre_command_oom_state
    deny_blocking = getattr(ctx, "deny_blocking", False)
    ctx.deny_blocking = True        # blocking commands answer at once inside scripts
    frozen = getattr(script_time, "ms", None)
    script_time.ms = now_ms()       # scriptTimeSnapshot: keys expire as of the start
    in_script = getattr(ctx, "in_script", False)
    ctx.in_script = True            # CLIENT_SCRIPT for the inner commands (SORT reads it)
    try:
        ok, value = _call_engine(engine, run, function, keys, args)
    finally:
        ctx.in_script = in_script
        script_time.ms = frozen
        run.finish()
        ctx.deny_blocking = deny_blocking
        ctx.conn, ctx.command, ctx.argv, ctx.out = conn, command, argv, out
        ctx.db = ctx.keyspace.dbs[conn.db]
    if not ok:
        if value == b"not enough memory":
            raise CommandError(errors.SCRIPT_OOM % name)
        raise runner.error_for(engine, run, value)
    return runner.reply_for(engine, run, value)


def _call_engine(engine, run, function, keys: list, args: list):
    """(ok, value): EVAL scripts see KEYS/ARGV as globals, functions as arguments."""
    hooked = run.threshold is not None
    try:
        if run.is_eval:
            engine.set_globals(keys, args)
            result = engine.run(run, function, hooked)
        else:
            engine.make_room()
            result = engine.run(run, function, hooked, engine.table_from(keys), engine.table_from(args))
    except MemoryError:
        raise CommandError(errors.SCRIPT_OOM % run.name) from None
    except Exception as exc:
        if type(exc).__name__ == "LuaMemoryError":    # lupa's, raised outside a protected call
            raise CommandError(errors.SCRIPT_OOM % run.name) from None
        raise
    return result if isinstance(result, tuple) else (result, None)


def _over_maxmemory(ctx) -> bool:
    limit = ctx.server.config.maxmemory
    if not limit:
        return False
    from ferrous.server.eviction import over_limit
    return over_limit(ctx.server, limit)


def _check_flags(ctx, flags: set, compat: bool, read_only_command: bool) -> bool:
    """scriptPrepareForRun's flag checks; returns whether the run is read-only."""
    if compat:
        return read_only_command
    if not flags & {"allow-oom", "no-writes"} and _over_maxmemory(ctx):
        # evalGetCommandFlags makes such a script a denyoom command (processCommand).
        raise CommandError(errors.OOM)
    if "no-writes" not in flags:
        if _is_readonly_replica(ctx):
            raise CommandError("READONLY Can not run script with write flag on readonly replica")
        disk_check = getattr(ctx.server, "disk_error_check", None)
        disk_error = disk_check() if disk_check is not None and not _must_obey(ctx.conn) else None
        if disk_error:
            if disk_error.startswith("MISCONF Redis is configured to save RDB snapshots"):
                disk_error = errors.SCRIPT_MISCONF_RDB
            raise CommandError(disk_error)
        if read_only_command:
            raise CommandError(errors.SCRIPT_WRITE_FLAG_RO)
        if not _must_obey(ctx.conn) and runner.not_enough_good_replicas(ctx.server):
            raise CommandError(errors.NOREPLICAS)
        return False
    return True


def _must_obey(conn) -> bool:
    """mustObeyClient: our primary's stream and the AOF being loaded are never refused."""
    return getattr(conn, "is_master", False) or getattr(conn, "is_aof", False)


def _is_readonly_replica(ctx) -> bool:
    """server.masterhost && server.repl_slave_ro, for a caller that must not be obeyed."""
    config = ctx.server.config
    return bool(getattr(config, "replicaof", None)) and getattr(config, "replica_read_only", True) \
        and not _must_obey(ctx.conn)


def _eval_generic(ctx, argv: list, by_sha: bool, read_only: bool):
    numkeys = _numkeys(argv)
    scripting = state(ctx.server)
    if by_sha:
        script = scripting.find_script(argv[1])
        if script is None:
            raise CommandError(errors.NOSCRIPT)
    else:
        script = scripting.load_script(argv[1])
    read_only = _check_flags(ctx, script.flags, script.compat, read_only)
    engine = scripting.engine_for_eval()
    return _run(ctx, engine, script.sha, script.function, numkeys, True, read_only,
                allow_oom=not script.compat and "allow-oom" in script.flags)


@command("eval", arity=-3, flags=_SCRIPT_FLAGS + " may_replicate", getkeys=_numkeys_keys, lock=LOCK_ALL,
         group="scripting")
def eval_(ctx, argv):
    return _eval_generic(ctx, argv, by_sha=False, read_only=False)


@command("evalsha", arity=-3, flags=_SCRIPT_FLAGS + " may_replicate", getkeys=_numkeys_keys, lock=LOCK_ALL,
         group="scripting")
def evalsha(ctx, argv):
    return _eval_generic(ctx, argv, by_sha=True, read_only=False)


@command("eval_ro", arity=-3, flags="readonly " + _SCRIPT_FLAGS, getkeys=_numkeys_keys, lock=LOCK_ALL,
         group="scripting")
def eval_ro(ctx, argv):
    return _eval_generic(ctx, argv, by_sha=False, read_only=True)


@command("evalsha_ro", arity=-3, flags="readonly " + _SCRIPT_FLAGS, getkeys=_numkeys_keys, lock=LOCK_ALL,
         group="scripting")
def evalsha_ro(ctx, argv):
    return _eval_generic(ctx, argv, by_sha=True, read_only=True)


def _fcall_generic(ctx, argv: list, read_only: bool):
    scripting = state(ctx.server)
    function = scripting.functions.get(argv[1].lower())
    if function is None:
        raise CommandError("ERR Function not found")
    numkeys = _numkeys(argv, "ERR Bad number of keys provided")
    read_only = _check_flags(ctx, set(function.flags), False, read_only)
    engine = scripting.engine_for_functions()
    return _run(ctx, engine, function.name.decode("utf-8", "surrogateescape"), function.callback,
                numkeys, False, read_only, allow_oom="allow-oom" in function.flags)


@command("fcall", arity=-3, flags=_SCRIPT_FLAGS + " may_replicate", getkeys=_numkeys_keys, lock=LOCK_ALL,
         group="scripting")
def fcall(ctx, argv):
    return _fcall_generic(ctx, argv, read_only=False)


@command("fcall_ro", arity=-3, flags="readonly " + _SCRIPT_FLAGS, getkeys=_numkeys_keys, lock=LOCK_ALL,
         group="scripting")
def fcall_ro(ctx, argv):
    return _fcall_generic(ctx, argv, read_only=True)


# -------------------------------------------------------------------------------------
# SCRIPT
# -------------------------------------------------------------------------------------
container("script", arity=-2, group="scripting")

_SCRIPT_HELP = [
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
]


@command("script|help", arity=2, flags="loading stale")
def script_help(ctx, argv):
    return help_reply("SCRIPT", _SCRIPT_HELP)


@command("script|load", arity=3, flags="noscript stale", lock=LOCK_ALL)
def script_load(ctx, argv):
    return state(ctx.server).load_script(argv[2]).sha.encode()


@command("script|exists", arity=-3, flags="noscript")
def script_exists(ctx, argv):
    scripting = state(ctx.server)
    return [1 if scripting.find_script(sha) is not None else 0 for sha in argv[2:]]


def _flush_mode(argv: list, error: str) -> None:
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        raise CommandError(error)


@command("script|flush", arity=-2, flags="noscript", lock=LOCK_ALL)
def script_flush(ctx, argv):
    _flush_mode(argv, errors.SCRIPT_FLUSH_OPTION)
    state(ctx.server).flush_scripts()
    return "OK"


def _kill(ctx, from_eval: bool):
    run = ctx.server.busy_script
    if run is None:
        raise CommandError(errors.NOTBUSY)
    run.kill(from_eval)
    return "OK"


@command("script|debug", arity=3, flags="noscript")
def script_debug(ctx, argv):
    mode = argv[2].lower()
    if mode not in (b"yes", b"sync", b"no"):
        raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")
    if ctx.conn.multi is not None:
        raise CommandError("ERR SCRIPT DEBUG must be called outside MULTI")
    if mode != b"no":
        # The Lua debugger (ldb.c) speaks its own protocol over the connection.
        raise CommandError("ERR SCRIPT DEBUG YES/SYNC is not supported: Ferrous has no Lua debugger")
    return "OK"


@command("script|kill", arity=2, flags="noscript allow_busy")
def script_kill(ctx, argv):
    return _kill(ctx, from_eval=True)


# -------------------------------------------------------------------------------------
# FUNCTION
# -------------------------------------------------------------------------------------
container("function", arity=-2, group="scripting")

_FUNCTION_HELP = [
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
]


@command("function|help", arity=2, flags="loading stale")
def function_help(ctx, argv):
    return help_reply("FUNCTION", _FUNCTION_HELP)


@command("function|load", arity=-3, flags="write denyoom noscript", lock=LOCK_ALL)
def function_load(ctx, argv):
    replace = False
    args = argv[2:]
    if len(args) > 1:
        if args[0].lower() != b"replace":
            raise CommandError("ERR Unknown option given: %s" % args[0].decode("utf-8", "surrogateescape"))
        replace = True
        args = args[1:]
    if len(args) != 1:
        raise CommandError("ERR Function code was not given")
    library = state(ctx.server).load_library(args[0], replace)
    ctx.dirty += 1
    return library.name


@command("function|delete", arity=3, flags="write noscript", lock=LOCK_ALL)
def function_delete(ctx, argv):
    state(ctx.server).delete_library(argv[2])
    ctx.dirty += 1
    return "OK"


@command("function|flush", arity=-2, flags="write noscript", lock=LOCK_ALL)
def function_flush(ctx, argv):
    if len(argv) > 3:   # functionFlushCommand checks argc first (SCRIPT FLUSH does not)
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (argv[1].decode("utf-8", "surrogateescape"), "FUNCTION"))
    _flush_mode(argv, errors.FUNCTION_FLUSH_OPTION)
    state(ctx.server).flush_functions()
    ctx.dirty += 1
    return "OK"


@command("function|kill", arity=2, flags="noscript allow_busy")
def function_kill(ctx, argv):
    return _kill(ctx, from_eval=False)


@command("function|list", arity=-2, flags="noscript")
def function_list(ctx, argv):
    with_code, pattern = False, None
    i = 2
    while i < len(argv):
        arg = argv[i].lower()
        if arg == b"withcode" and not with_code:
            with_code = True
        elif arg == b"libraryname" and pattern is None:
            if i + 1 >= len(argv):
                raise CommandError("ERR library name argument was not given")
            pattern = argv[i + 1]
            i += 1
        else:
            raise CommandError("ERR Unknown argument %s" % argv[i].decode("utf-8", "surrogateescape"))
        i += 1
    scripting = state(ctx.server)
    with scripting.lock:
        libraries = list(scripting.libraries.values())
    reply = []
    for library in libraries:
        if pattern is not None and not glob_match(pattern, library.name):
            continue
        entry = {b"library_name": library.name, b"engine": b"LUA",
                 b"functions": [_function_info(f) for f in library.functions.values()]}
        if with_code:
            entry[b"library_code"] = library.code
        reply.append(entry)
    return reply


def _function_info(function) -> dict:
    flags = [Simple(flag) for flag in runner.SCRIPT_FLAGS if flag in function.flags]
    return {b"name": function.name, b"description": function.description, b"flags": RespSet(flags)}


@command("function|stats", arity=2, flags="noscript allow_busy")
def function_stats(ctx, argv):
    scripting = state(ctx.server)
    run = ctx.server.busy_script
    running = None
    if run is not None and not run.is_eval:
        running = {b"name": run.name.encode(), b"command": list(run.argv),
                   b"duration_ms": int((time.monotonic() - run.started) * 1000)}
    with scripting.lock:
        counts = (len(scripting.libraries), len(scripting.functions))
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": counts[0], b"functions_count": counts[1]}}}


@command("function|dump", arity=2, flags="noscript", lock=LOCK_ALL)
def function_dump(ctx, argv):
    from ferrous.persistence.crc64 import crc64
    from ferrous.persistence.rdb import RDB_VERSION, put_string
    body = bytearray()
    for library in state(ctx.server).libraries.values():
        body.append(0xF5)         # RDB_OPCODE_FUNCTION2
        # rdbSaveFunctions compresses only with rdbcompression on, as in a file.
        put_string(body, library.code, compress=bool(getattr(ctx.server.config, "rdbcompression", True)))
    body += bytes((RDB_VERSION & 0xFF, RDB_VERSION >> 8))
    body += crc64(0, body).to_bytes(8, "little")
    return bytes(body)


_RESTORE_POLICIES = (b"flush", b"append", b"replace")


@command("function|restore", arity=-3, flags="write denyoom noscript", lock=LOCK_ALL)
def function_restore(ctx, argv):
    policy = b"append"
    if len(argv) > 4:
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (argv[1].decode("utf-8", "surrogateescape"), "FUNCTION"))
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in _RESTORE_POLICIES:
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    codes = _parse_function_payload(ctx, argv[2])
    scripting = state(ctx.server)
    saved = scripting.snapshot()
    if policy == b"flush":
        scripting.flush_functions()
    try:
        for code in codes:
            scripting.load_library(code, replace=policy == b"replace", restoring=True)
    except CommandError:
        scripting.restore_snapshot(saved)
        raise
    ctx.dirty += 1
    return "OK"


def _parse_function_payload(ctx, payload: bytes) -> list:
    from ferrous.persistence.rdb import RdbReader, verify_dump_payload
    if not verify_dump_payload(payload):
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    reader = RdbReader(payload[:-10], ctx.server.config)
    codes = []
    try:
        while reader.pos < len(payload) - 10:
            opcode = reader.byte()
            if opcode != 0xF5:
                raise CommandError("ERR given type is not a function")
            codes.append(reader.string())
    except CommandError:
        raise
    except Exception:
        raise CommandError("ERR payload contains invalid data") from None
    return codes
