"""Running one script or function: the run context (Redis's scriptRunCtx), the
redis.call bridge (scriptCall), and the conversions between RESP and Lua
(redisProtocolToLuaType / luaReplyToRedisReply).

Inner commands run through dispatch.call(..., lock=False): the EVAL/FCALL command
holds the whole keyspace, so a script is atomic. They run as the engine's own
client (Redis's lua client), whose database follows SELECT inside the script and
whose protocol follows redis.setresp().
"""
from __future__ import annotations

import math
import time

from ferrous import errors
from ferrous.commands.registry import TABLE
from ferrous.errors import CommandError
from ferrous.protocol.types import Raw
from ferrous.scripting import busy
from ferrous.server import acl, dispatch
from ferrous.server.connection import Connection

# Script flags (#!lua flags=...) and Redis's names for them.
FLAG_NO_WRITES = "no-writes"
SCRIPT_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")
_REPL_ALL = 3


def lookup_for_script(argv: list):
    """lookupCommand: the command or sub-command, None when unknown."""
    cmd = TABLE.get(argv[0].lower())
    if cmd is None:
        return None
    if cmd.subcommands and len(argv) >= 2:
        return cmd.subcommands.get(argv[1].lower())
    return cmd


def script_client() -> Connection:
    """The engine's client (Redis's lua client): no socket, never registered."""
    conn = Connection(None, ("", 0), ("", 0), None, 512 << 20)
    conn.name = None
    conn.flags.add("lua")
    return conn


def not_enough_good_replicas(server) -> bool:
    """!checkGoodReplicasStatus(): a primary with min-replicas-to-write unmet."""
    config = server.config
    replication = getattr(server, "replication", None)
    if replication is None or replication.link is not None:
        return False
    if not (config.min_replicas_to_write and config.min_replicas_max_lag):
        return False
    return replication.good_replicas() < config.min_replicas_to_write


def _blocks(argv: list) -> bool:
    """XREAD/XREADGROUP with BLOCK (before STREAMS): refused inside scripts."""
    for arg in argv[1:]:
        lowered = arg.lower()
        if lowered == b"streams":
            return False
        if lowered == b"block":
            return True
    return False


class Run:
    """One script execution (scriptRunCtx)."""

    def __init__(self, engine, ctx, name: str, is_eval: bool, read_only: bool):
        self.engine = engine
        self.ctx = ctx
        self.server = ctx.server
        self.caller = ctx.conn
        self.name = name
        self.is_eval = is_eval
        self.read_only = read_only
        self.command_name = ctx.command.name
        self.argv = list(ctx.argv)
        self.client = engine.client
        self.client.db = self.caller.db
        self.client.resp = 2            # scripts start in RESP2; redis.setresp changes it
        if hasattr(self.caller, "acl_user"):
            self.client.acl_user = self.caller.acl_user    # scripts run as their caller
        self.repl_flags = _REPL_ALL
        self.wrote = False
        self.deny_oom = False           # over maxmemory when the script started
        self.killed = False
        self.busy = False
        self.started = time.monotonic()
        self.server_was_running = self.server.started
        threshold = self.server.config.busy_reply_threshold
        self.threshold = threshold / 1000.0 if threshold > 0 else None

    # -- redis.setresp ---------------------------------------------------------------
    def set_resp(self, resp: int) -> None:
        self.client.resp = resp

    # -- busy scripts (luaMaskCountHook) ---------------------------------------------
    def on_hook(self):
        """Called every 100000 Lua instructions: returns the kill message, if any."""
        if self.killed or (self.server_was_running and not self.server.started):  # SHUTDOWN NOSAVE
            return b"ERR Script killed by user with SCRIPT KILL..."
        if not self.busy and self.threshold is not None \
                and time.monotonic() - self.started >= self.threshold:
            self.busy = True
            self.server.busy_script = self
            busy.hand_off_batch(self.ctx, self.caller)
        return None

    @property
    def busy_error(self) -> str:
        return errors.BUSY_SCRIPT if self.is_eval else errors.BUSY_FUNCTION

    def refuses(self, cmd) -> bool:
        """processCommand's busy check: only allow-busy commands pass."""
        return "allow_busy" not in cmd.flags

    def kill(self, from_eval: bool) -> None:
        """scriptKill: refuse once the script wrote, or from the wrong family."""
        if self.wrote:
            raise CommandError(errors.UNKILLABLE)
        if from_eval and not self.is_eval:
            raise CommandError(errors.BUSY_FUNCTION)
        if not from_eval and self.is_eval:
            raise CommandError(errors.BUSY_SCRIPT)
        self.killed = True

    def finish(self) -> None:
        if self.server.busy_script is self:
            self.server.busy_script = None

    # -- redis.call / redis.pcall (scriptCall) ----------------------------------------
    def redis_call(self, args: tuple):
        engine = self.engine
        if not args:
            return False, engine.error_table("Please specify at least one argument for this redis lib call")
        argv = []
        for arg in args:
            kind = type(arg)
            if kind is bytes:
                argv.append(arg)
            elif kind is int or kind is float:
                argv.append(b"%.17g" % arg)
            else:
                return False, engine.error_table("Lua redis lib command arguments must be strings or integers")
        cmd, error = self._check(argv)
        if error is not None:
            # Counted here (errorstats, rejected_calls), as scriptCall's error path does.
            dispatch.reject(self.ctx, self.client, error.lstrip("-") if error.startswith("-") else "ERR " + error,
                            bytearray(), cmd)
            table = engine.error_table(error)
            table[b"ignore_error_stats_update"] = True
            return False, table
        ctx = self.ctx
        out = bytearray()
        mark = len(ctx.propagation)
        dispatch.call(ctx, self.client, cmd, argv, out, lock=False)
        if cmd.is_write:
            self.wrote = True
        if self.repl_flags != _REPL_ALL and ctx.propagation_depth:
            self._apply_repl_flags(mark)
        value, is_error = RespToLua(engine, out).parse()
        return not is_error, value

    def _check(self, argv: list):
        """scriptCall's checks: (command, None) or (command or None, error text)."""
        cmd = lookup_for_script(argv)
        if cmd is None:
            return None, "Unknown Redis command called from script"
        arity = cmd.arity
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity or cmd.handler is None:
            return cmd, "Wrong number of args calling Redis command from script"
        if "noscript" in cmd.flags and not getattr(self.ctx.server, "script_disable_deny_script", False):
            return cmd, "This Redis command is not allowed from script"   # DEBUG SET-DISABLE-DENY-SCRIPTS
        denied = acl.script_denied(self.ctx, self.caller, cmd, argv)   # scriptVerifyACL
        if denied is not None:
            return cmd, denied
        if self.read_only and (cmd.is_write or "may_replicate" in cmd.flags):
            return cmd, "Write commands are not allowed from read-only scripts."
        if cmd.is_write:
            refused = self._write_refused(cmd)
            if refused is not None:
                return cmd, refused
        if cmd.name in ("xread", "xreadgroup") and _blocks(argv):
            # Redis names the command as the script spelled it (c->argv[0]).
            return cmd, "-ERR %s command is not allowed with BLOCK option from scripts" % argv[0].decode("latin-1")
        if self.deny_oom and cmd.denyoom and not self.wrote:
            # scriptVerifyOOM: only the first write can be refused, not a later one.
            return cmd, "-" + errors.OOM
        return cmd, None

    def _write_refused(self, cmd):
        """scriptVerifyWriteCommandAllow: read-only replica, then a failed save."""
        server = self.server
        if getattr(self.caller, "is_master", False) or getattr(self.caller, "is_aof", False):
            return None     # mustObeyClient: our primary's stream and the AOF being loaded
        config = server.config
        if getattr(config, "replicaof", None) and getattr(config, "replica_read_only", True):
            return "-READONLY You can't write against a read only replica."
        disk_check = getattr(server, "disk_error_check", None)
        message = disk_check() if disk_check is not None else None
        if message:
            return "-" + message
        if not_enough_good_replicas(server):     # only compat-mode EVAL gets this far
            return "-" + errors.NOREPLICAS
        return None

    def _apply_repl_flags(self, mark: int) -> None:
        """redis.set_repl: the commands just run go only where the flags say."""
        ctx = self.ctx
        kept = []
        for db_id, argv, targets in ctx.propagation[mark:]:
            targets &= self.repl_flags
            if targets:
                kept.append((db_id, argv, targets))
        ctx.propagation[mark:] = kept


# -------------------------------------------------------------------------------------
# RESP reply -> Lua value (redisProtocolToLuaType)
# -------------------------------------------------------------------------------------
class RespToLua:
    def __init__(self, engine, data: bytearray):
        self.engine = engine
        self.data = bytes(data)
        self.pos = 0

    def parse(self):
        """(Lua value, whether the reply is an error)."""
        is_error = self.data[:1] == b"-"
        return self.value(), is_error

    def line(self) -> bytes:
        end = self.data.index(b"\r\n", self.pos)
        text = self.data[self.pos + 1:end]
        self.pos = end + 2
        return text

    def bulk(self, n: int) -> bytes:
        text = self.data[self.pos:self.pos + n]
        self.pos += n + 2
        return text

    def value(self):
        kind = self.data[self.pos:self.pos + 1]
        table_from = self.engine.table_from
        if kind == b"$":
            n = int(self.line())
            return False if n < 0 else self.bulk(n)
        if kind == b":":
            return int(self.line())
        if kind == b"+":
            return table_from({b"ok": self.line()})
        if kind == b"*" or kind == b">":
            n = int(self.line())
            if n < 0:
                return False
            return table_from([self.value() for _ in range(n)])
        if kind == b"-":
            table = self.engine.error_table(b"-" + self.line())
            table[b"ignore_error_stats_update"] = True
            return table
        if kind == b"_":
            self.line()
            return None
        if kind == b"#":
            return self.line() == b"t"
        if kind == b",":
            return table_from({b"double": _parse_double(self.line())})
        if kind == b"(":
            return table_from({b"big_number": self.line()})
        if kind == b"=":
            n = int(self.line())
            text = self.bulk(n)
            return table_from({b"verbatim_string": table_from({b"format": text[:3], b"string": text[4:]})})
        if kind == b"%":
            n = int(self.line())
            inner = table_from({})
            for _ in range(n):
                key = self.value()
                inner[key] = self.value()
            return table_from({b"map": inner})
        if kind == b"~":
            n = int(self.line())
            inner = table_from({})
            for _ in range(n):
                inner[self.value()] = True
            return table_from({b"set": inner})
        if kind == b"|":
            n = int(self.line())
            for _ in range(2 * n):
                self.value()
            return self.value()
        raise ValueError("unexpected reply type %r" % kind)


def _parse_double(text: bytes) -> float:
    lowered = text.lower()
    if lowered in (b"inf", b"+inf"):
        return math.inf
    if lowered == b"-inf":
        return -math.inf
    return float(text)


# -------------------------------------------------------------------------------------
# Lua value -> RESP reply for the caller (luaReplyToRedisReply)
# -------------------------------------------------------------------------------------
def _null(resp: int) -> bytes:
    return b"_\r\n" if resp == 3 else b"$-1\r\n"


def _clean_line(text: bytes) -> bytes:
    return text.replace(b"\r", b" ").replace(b"\n", b" ")


def _lua_to_int(n) -> int:
    if isinstance(n, int):
        return n if -(1 << 63) <= n < (1 << 63) else -(1 << 63)
    if math.isnan(n) or math.isinf(n) or not -(2.0 ** 63) <= n < 2.0 ** 63:
        return -(1 << 63)
    return int(n)


def format_double(d: float, resp: int) -> bytes:
    if math.isinf(d):
        text = b"inf" if d > 0 else b"-inf"
    else:
        text = b"%.17g" % d
        if math.isnan(d):
            text = b"nan" if str(d)[0] != "-" else b"-nan"
    if resp == 3:
        return b"," + text + b"\r\n"
    return b"$%d\r\n%s\r\n" % (len(text), text)


# lua_checkstack(lua, 4) fails past LUAI_MAXCSTACK (8000) slots; the reply starts
# with 2 in use, and each nesting level holds a few more (1 per array level).
_LUA_STACK_SLOTS = 8000 - 2 - 4
_STACK_LIMIT_ERROR = b"-ERR reached lua stack limit\r\n"


class LuaToResp:
    """Encodes a script's return value for the caller's protocol.

    Iterative, not recursive: a self-referencing table nests until Lua's stack
    limit (about 8000 levels), as luaReplyToRedisReply does, far past Python's
    recursion limit."""

    def __init__(self, engine, caller_resp: int, script_resp: int):
        self.engine = engine
        self.lua_type = engine.lua_type
        self.resp = caller_resp
        self.script_resp = script_resp

    def encode(self, value, out: bytearray) -> None:
        pending = [(value, 0)]      # (value, stack slots above the reply's base), LIFO
        while pending:
            value, level = pending.pop()
            if level > _LUA_STACK_SLOTS:
                out += _STACK_LIMIT_ERROR
            else:
                self.one(value, level, out, pending)

    def one(self, value, level: int, out: bytearray, pending: list) -> None:
        kind = type(value)
        if kind is bytes:
            out += b"$%d\r\n%s\r\n" % (len(value), value)
        elif kind is bool:
            if self.script_resp == 2:
                out += b":1\r\n" if value else _null(self.resp)
            elif self.resp == 3:
                out += b"#t\r\n" if value else b"#f\r\n"
            else:
                out += b":1\r\n" if value else b":0\r\n"
        elif kind is int or kind is float:
            out += b":%d\r\n" % _lua_to_int(value)
        elif value is not None and self.lua_type(value) == "table":
            self.table(value, level, out, pending)
        else:
            out += _null(self.resp)

    def table(self, t, level: int, out: bytearray, pending: list) -> None:
        """Writes the table's own header; its elements go on `pending` in reverse."""
        shape = self.engine.reply_shape(t)
        kind = shape[0]
        if kind == b"err":
            out += b"-" + _clean_line(shape[1].strip(b"\r\n")) + b"\r\n"
        elif kind == b"ok":
            out += b"+" + _clean_line(shape[1]) + b"\r\n"
        elif kind == b"double":
            out += format_double(float(shape[1]), self.resp)
        elif kind == b"big_number":
            big = _clean_line(shape[1])
            out += (b"(%s\r\n" % big) if self.resp == 3 else b"$%d\r\n%s\r\n" % (len(big), big)
        elif kind == b"verbatim":
            fmt, text = shape[1], shape[2]
            if self.resp == 3:
                out += b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt[:3], text)
            else:
                out += b"$%d\r\n%s\r\n" % (len(text), text)
        elif kind == b"map":
            items = list(shape[1].items())
            out += (b"%%%d\r\n" % len(items)) if self.resp == 3 else (b"*%d\r\n" % (2 * len(items)))
            for key, value in reversed(items):     # lua_next: key, value, then a copy of key
                pending.append((value, level + 2))
                pending.append((key, level + 3))
        elif kind == b"set":
            keys = [key for key, _ in shape[1].items()]
            out += (b"~%d\r\n" % len(keys)) if self.resp == 3 else (b"*%d\r\n" % len(keys))
            pending.extend((key, level + 2) for key in reversed(keys))
        else:
            n = shape[1]
            out += b"*%d\r\n" % n
            rawget = self.engine.rawget
            pending.extend((rawget(t, i), level + 1) for i in range(n, 0, -1))


def reply_for(engine, run: Run, value) -> Raw:
    """The script's return value as the caller's reply; an error raises CommandError."""
    if value is not None and engine.lua_type(value) == "table":
        err = engine.rawget(value, b"err")
        if type(err) is bytes:
            error = CommandError(_clean_line(err.strip(b"\r\n")).decode("utf-8", "surrogateescape"))
            error.counted = bool(value[b"ignore_error_stats_update"])
            raise error
    out = bytearray()
    LuaToResp(engine, run.caller.resp, run.client.resp).encode(value, out)
    return Raw(bytes(out))


def error_for(engine, run: Run, error) -> CommandError:
    """The reply for a script that raised: Redis's "<msg> script: <name>, on <src>:<line>."."""
    if error is None or engine.lua_type(error) != "table":
        if type(error) is bytes:
            message = error.decode("utf-8", "surrogateescape")
        elif isinstance(error, (int, float)) and not isinstance(error, bool):
            message = str(error)
        else:
            message = "execution failure"
        text = "ERR Error running script %s, %.100s" % (run.name, message)
        return CommandError(text.strip("\r\n").replace("\r", " ").replace("\n", " "))
    msg = error[b"err"]
    source = error[b"source"]
    line = error[b"line"]
    text = _as_text(msg) if msg is not None else ""
    if source is not None and line is not None:
        text += " script: %s, on %s:%s." % (run.name, _as_text(source), _as_text(line))
    result = CommandError(text.strip("\r\n").replace("\r", " ").replace("\n", " "))
    result.counted = bool(error[b"ignore_error_stats_update"])
    return result


def _as_text(value) -> str:
    if type(value) is bytes:
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
