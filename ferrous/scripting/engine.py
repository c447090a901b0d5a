"""One Lua 5.1 runtime (lupa's lua51) with Redis 7.0's sandbox and `redis` API.

The server has two: one for EVAL scripts, one for FUNCTION libraries, as Redis
keeps two lua_States. A runtime is only used under the whole-keyspace lock
(EVAL/FCALL/FUNCTION LOAD take it), so one script runs at a time; lupa's own lock
covers the rest. The sandbox itself is Lua code (bootstrap.lua).
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading

from ferrous.scripting import libs
from ferrous.scripting.bytecode import without_tail_calls

log = logging.getLogger("ferrous.scripting")

_BOOTSTRAP = os.path.join(os.path.dirname(__file__), "bootstrap.lua")
DEFAULT_MAX_MEMORY = 256 << 20
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)


def lua_module():
    """lupa.lua51, imported on first use (on a free-threaded build the entry point
    has already set PYTHON_GIL=0, see server/app.py)."""
    import lupa.lua51
    return lupa.lua51


class Prng:
    """redisLrand48 (rand.c): one process-wide sequence, never reseeded per script."""

    _MASK = (1 << 48) - 1
    _MAX = 2 ** 31 - 1

    def __init__(self):
        self.state = 0x1234ABCD330E
        self.lock = threading.Lock()

    def random(self) -> float:
        with self.lock:
            self.state = (0x5DEECE66D * self.state + 0xB) & self._MASK
            value = self.state >> 17
        return (value % self._MAX) / self._MAX

    def seed(self, n) -> None:
        n = int(n) & 0xFFFFFFFF
        with self.lock:
            self.state = 0x330E | ((n & 0xFFFF) << 16) | ((n >> 16) << 32)


PRNG = Prng()


class ScriptError(Exception):
    """Raised by a bridge function: args[0] is the Lua error table ({err=...})."""


def _lua_number(value) -> float | None:
    """lua_tonumber: numbers and numeric strings, else None."""
    kind = type(value)
    if kind is int or kind is float:
        return value
    if kind is bytes:
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _lua_text(value) -> bytes | None:
    """lua_tolstring: strings and numbers (as Lua prints them), else None."""
    kind = type(value)
    if kind is bytes:
        return value
    if kind is int or kind is float:
        return libs.lua_number_text(value)
    return None


def _unpack(table) -> tuple:
    return tuple(table[i] for i in range(1, int(table[b"n"]) + 1))


class Bridge:
    """The Python side of the `redis` table. Each function is a C function to Lua;
    errors are raised as ScriptError carrying Redis's error table."""

    def __init__(self, engine):
        self.engine = engine

    def fail(self, text: str):
        raise ScriptError(self.engine.error_table(text))

    def _run(self, name: str):
        run = self.engine.current
        if run is None:
            self.fail("%s can only be called inside a script invocation" % name)
        return run

    def call(self, *args):
        ok, value = self._run("redis.call/pcall").redis_call(args)
        if not ok:
            raise ScriptError(value)
        return value

    def pcall(self, *args):
        return self._run("redis.call/pcall").redis_call(args)[1]

    def call_packed(self, table):
        """redis.call with its arguments in one table {n=count, ...} (too many for
        a direct call)."""
        return self.call(*_unpack(table))

    def pcall_packed(self, table):
        return self.pcall(*_unpack(table))

    def sha1hex(self, *args):
        if len(args) != 1:
            self.fail("wrong number of arguments")
        return hashlib.sha1(_lua_text(args[0]) or b"").hexdigest().encode()

    def error_reply(self, *args):
        if len(args) != 1 or type(args[0]) is not bytes:
            return self.engine.error_table("wrong number or type of arguments")
        text = args[0]
        return self.engine.error_table(text if text.startswith(b"-") else b"-" + text)

    def status_reply(self, *args):
        if len(args) != 1 or type(args[0]) is not bytes:
            return self.engine.error_table("wrong number or type of arguments")
        return self.engine.table_from({b"ok": args[0]})

    def log(self, *args):
        if len(args) < 2:
            self.fail("redis.log() requires two arguments or more.")
        level = _lua_number(args[0])
        if level is None:
            self.fail("First argument must be a number (log level).")
        level = int(level)
        if not 0 <= level <= 3:
            self.fail("Invalid debug level.")
        parts = [text for text in map(_lua_text, args[1:]) if text is not None]
        log.log(_LOG_LEVELS[level], "%s", b" ".join(parts).decode("utf-8", "replace"))

    def setresp(self, *args):
        run = self._run("redis.setresp")
        if len(args) != 1:
            self.fail("redis.setresp() requires one argument.")
        resp = int(_lua_number(args[0]) or 0)
        if resp not in (2, 3):
            self.fail("RESP version must be 2 or 3.")
        run.set_resp(resp)

    def set_repl(self, *args):
        run = self._run("redis.set_repl")
        if len(args) != 1:
            self.fail("redis.set_repl() requires two arguments.")
        flags = int(_lua_number(args[0]) or 0)
        if flags & ~3:
            self.fail("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
        run.repl_flags = flags

    def acl_check_cmd(self, *args):
        from ferrous.scripting.runner import lookup_for_script
        run = self._run("redis.acl_check_cmd")
        if not args:
            self.fail("Please specify at least one argument for this redis lib call")
        argv = [_lua_text(a) for a in args]
        if any(a is None for a in argv):
            self.fail("Lua redis lib command arguments must be strings or integers")
        cmd = lookup_for_script(argv)
        if cmd is None:
            self.fail("Invalid command passed to redis.acl_check_cmd()")
        # ACLCheckAllUserCommandPerm for the caller's user, without an ACL LOG entry.
        from ferrous.server import acl
        user = run.caller.acl_user
        return user.unrestricted or acl.check_user(user, cmd, argv)[0] == acl.OK

    def unwrap(self, error):
        """For the Lua error handler: ('table', t) or ('where', message) or nil."""
        if isinstance(error, ScriptError):
            return b"table", error.args[0]
        if isinstance(error, libs.LibError):
            return b"string", str(error).encode()
        return None

    def interrupt(self):
        """The count hook (every 100000 instructions): busy bookkeeping and SCRIPT KILL."""
        run = self.engine.current
        return run.on_hook() if run is not None else None

    def random(self) -> float:
        return PRNG.random()

    def randomseed(self, n) -> None:
        PRNG.seed(n)

    def functions(self) -> dict:
        names = ("call", "pcall", "call_packed", "pcall_packed", "sha1hex", "error_reply", "status_reply", "log", "setresp",
                 "set_repl", "acl_check_cmd", "unwrap", "interrupt", "random", "randomseed")
        return {name.encode(): getattr(self, name) for name in names}


class LuaEngine:
    def __init__(self, max_memory: int = DEFAULT_MAX_MEMORY):
        lua = lua_module()
        self.lua_type = lua.lua_type
        self.max_memory = max_memory
        self.runtime = lua.LuaRuntime(encoding=None, unpack_returned_tuples=True, register_eval=False,
                                      register_builtins=False, max_memory=max_memory)
        self.current = None      # the Run executing in this runtime, if any
        from ferrous.scripting.runner import script_client
        self.client = script_client()
        self.bridge = Bridge(self)
        with open(_BOOTSTRAP, "rb") as fh:
            source = fh.read()
        loader = self.runtime.globals().loadstring
        chunk = loader(source, b"=redis_internal")
        if isinstance(chunk, tuple):
            raise RuntimeError("bootstrap.lua: %r" % (chunk[1],))
        spec = self.bridge.functions()
        spec[b"untail"] = without_tail_calls     # bytecode.py, for engine.compile
        spec.update({b"version": b"7.0.15", b"version_num": 0x07000F,
                     b"libs": self.runtime.table_from(libs.exports(self))})
        spec = self.runtime.table_from(spec)
        self.api = chunk(spec)
        self._compile = self.api.compile
        self._run = self.api.run
        self._set_globals = self.api.set_globals
        self._error_table = self.api.error_table
        self.table_from = self.runtime.table_from
        self.reply_shape = self.api.reply_shape   # rawget-only view of a returned table
        self.rawget = self.api.rawget
        for _ in range(2):          # bootstrap garbage (finalized userdata takes two cycles)
            self.collect_garbage()

    # -- helpers for the bridge and conversions -------------------------------------
    def error_table(self, text: str):
        return self._error_table(text.encode() if isinstance(text, str) else text)

    def compile(self, body: bytes, chunkname: bytes):
        """(function, None) or (None, error message bytes)."""
        result = self._compile(body, chunkname)
        if isinstance(result, tuple):
            return None, result[1]
        return result, None

    def run(self, run, function, hooked: bool, *args):
        """Run a compiled chunk or a registered function for `run`: (ok, value)."""
        self.current = run
        try:
            result = self._run(function, hooked, *args)
        except BaseException:
            self.collect_garbage()
            raise
        finally:
            self.current = None
        if isinstance(result, tuple) and not result[0]:
            self.collect_garbage()   # a failed script's garbage must not starve the next one
        elif self.memory_used() > self.gc_mark:
            self.collect_garbage()   # keep used_memory_lua near the live size, as Redis's
        return result

    def set_globals(self, keys: list, argv: list) -> None:
        self.make_room()
        self._set_globals(self.table_from(keys), self.table_from(argv))

    def make_room(self) -> None:
        """Collect before Python builds tables near the cap: an allocation failure
        outside a protected Lua call would abort the process (Lua panic)."""
        if self.memory_used() > self.max_memory // 2:
            self.collect_garbage()

    # Garbage allowed between full collections: Lua's own pacing (pause 200%) would
    # let the heap reach twice the live size, which the bootstrap makes ~50KB.
    GC_SLACK = 24 << 10

    def collect_garbage(self) -> None:
        try:
            self.api.collect_garbage()
        except Exception:
            pass
        self.gc_mark = self.memory_used() + self.GC_SLACK

    def memory_used(self) -> int:
        return self.runtime.get_memory_used() or 0
