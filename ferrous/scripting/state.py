"""Per-server scripting state: the EVAL script cache and the FUNCTION libraries.

The script cache is global (a script loaded on one connection runs by SHA1 on any
other). Everything here is touched only by commands that hold the whole keyspace
(EVAL*, FCALL*, SCRIPT LOAD/FLUSH, FUNCTION LOAD/DELETE/...), except the read-only
lookups of SCRIPT EXISTS / FUNCTION LIST, which take `lock`.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time

from ferrous import errors
from ferrous.errors import CommandError
from ferrous.protocol.parser import split_inline_args
from ferrous.scripting.engine import LuaEngine
from ferrous.scripting.runner import SCRIPT_FLAGS

_NAME_OK = re.compile(rb"^[A-Za-z0-9_]+$")
LOAD_TIMEOUT = 0.5      # seconds a library's main chunk may run (LOAD_TIMEOUT_MS)
NAME_ERROR = ("Library names can only contain letters, numbers, or underscores(_) and must be at "
              "least one character long")


class Script:
    __slots__ = ("sha", "body", "function", "flags", "compat")

    def __init__(self, sha, body, function, flags, compat):
        self.sha = sha
        self.body = body
        self.function = function
        self.flags = flags          # set of flag names from the shebang
        self.compat = compat        # no shebang: Redis 6 compatible mode


class Function:
    __slots__ = ("name", "callback", "flags", "description", "library")

    def __init__(self, name, callback, flags, description, library):
        self.name = name
        self.callback = callback
        self.flags = flags
        self.description = description
        self.library = library


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name: bytes, code: bytes):
        self.name = name
        self.code = code
        self.functions: dict = {}     # name -> Function, in registration order


def parse_eval_shebang(body: bytes):
    """evalExtractShebangFlags: (flags, compat mode, shebang length)."""
    if not body.startswith(b"#!"):
        return set(), True, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError(errors.SCRIPT_SHEBANG_INVALID)
    parts = split_inline_args(body[:end])     # sdssplitargs, as evalExtractShebangFlags
    if not parts:
        raise CommandError(errors.SCRIPT_SHEBANG_NO_ENGINE)
    if parts[0] != b"#!lua":
        raise CommandError(errors.SCRIPT_SHEBANG_ENGINE % parts[0].decode("utf-8", "surrogateescape"))
    flags = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise CommandError(errors.SCRIPT_SHEBANG_OPTION % part.decode("utf-8", "surrogateescape"))
        # sdssplitlen: "flags=" alone lists no flag at all (but "a,,b" has an empty one).
        for flag in part[6:].split(b",") if part[6:] else ():
            name = flag.decode("utf-8", "surrogateescape")
            if name not in SCRIPT_FLAGS:
                raise CommandError(errors.SCRIPT_SHEBANG_FLAG % name)
            flags.add(name)
    return flags, False, end


def parse_library_metadata(code: bytes):
    """functionExtractLibMetaData: (engine name, library name, shebang length)."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError(errors.LIBRARY_METADATA_INVALID)
    parts = split_inline_args(code[:end])     # sdssplitargs: name="foo" is foo
    if not parts:
        raise CommandError(errors.LIBRARY_METADATA_INVALID)
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("ERR Invalid metadata value, name argument was given multiple times")
            name = part[5:]
        else:
            raise CommandError("ERR Invalid metadata value given: %s" % part.decode("utf-8", "surrogateescape"))
    if name is None:
        raise CommandError("ERR Library name was not given")
    return engine, name, end


class Scripting:
    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.max_memory = None
        self.eval_engine = None
        self.scripts: dict = {}
        self.function_engine = None
        self.libraries: dict = {}     # name -> Library
        # Every library's functions by name, case-insensitively (functionDictType
        # compares with dictSdsKeyCaseCompare): FCALL TEST runs 'test'.
        self.functions: dict = {}     # name.lower() -> Function

    # -- EVAL ---------------------------------------------------------------------
    def engine_for_eval(self) -> LuaEngine:
        if self.eval_engine is None:
            self.eval_engine = LuaEngine()
        return self.eval_engine

    def load_script(self, body: bytes) -> Script:
        """luaCreateFunction: compile and cache body (or return the cached one)."""
        sha = hashlib.sha1(body).hexdigest()
        script = self.scripts.get(sha)
        if script is not None:
            return script
        flags, compat, shebang_len = parse_eval_shebang(body)
        engine = self.engine_for_eval()
        function, error = engine.compile(body[shebang_len:], b"@user_script")
        if function is None:
            raise CommandError(errors.SCRIPT_COMPILE % error.decode("utf-8", "surrogateescape"))
        script = Script(sha, body, function, flags, compat)
        with self.lock:
            self.scripts[sha] = script
        return script

    def find_script(self, sha: bytes):
        return self.scripts.get(sha.decode("latin-1").lower())

    def flush_scripts(self) -> None:
        """SCRIPT FLUSH: Redis drops the whole Lua state with the cache."""
        with self.lock:
            self.scripts.clear()    # the same dict: INFO counts it (server.scripts)
            self.eval_engine = None

    # -- FUNCTION -------------------------------------------------------------------
    def engine_for_functions(self) -> LuaEngine:
        if self.function_engine is None:
            self.function_engine = LuaEngine()
        return self.function_engine

    def load_library(self, code: bytes, replace: bool, restoring: bool = False) -> Library:
        """functionsCreateWithLibraryCtx: compile, run the registrations, then install."""
        engine_name, name, shebang_len = parse_library_metadata(code)
        if engine_name.upper() != b"LUA":
            raise CommandError("ERR Engine '%s' not found" % engine_name.decode("utf-8", "surrogateescape"))
        if not _NAME_OK.match(name):
            raise CommandError("ERR " + NAME_ERROR)
        old = self.libraries.get(name)
        if old is not None and not replace:
            if restoring:
                raise CommandError("ERR Library %s already exists" % name.decode("utf-8", "surrogateescape"))
            raise CommandError("ERR Library '%s' already exists" % name.decode("utf-8", "surrogateescape"))
        library = self._compile_library(code, name, shebang_len)
        for fname in library.functions:
            existing = self.functions.get(fname.lower())
            if existing is not None and existing.library is not old:
                raise CommandError("ERR Function %s already exists" % fname.decode("utf-8", "surrogateescape"))
        with self.lock:
            if old is not None:
                self._remove_library(old)
            self.libraries[name] = library
            self.functions.update((fname.lower(), f) for fname, f in library.functions.items())
        return library

    def _compile_library(self, code: bytes, name: bytes, shebang_len: int) -> Library:
        engine = self.engine_for_functions()
        function, error = engine.compile(code[shebang_len:], b"@user_function")
        if function is None:
            raise CommandError("ERR Error compiling function: %s" % error.decode("utf-8", "surrogateescape"))
        library = Library(name, code)

        def register(fname, callback, flags, description):
            if not _NAME_OK.match(fname):
                return NAME_ERROR.encode()
            if fname in library.functions:
                return b"Function already exists in the library"
            flag_names = [flags[i].decode() for i in range(1, len(flags) + 1)]
            library.functions[fname] = Function(fname, callback, flag_names, description, library)
            return None

        api = engine.api
        deadline = time.monotonic() + LOAD_TIMEOUT
        api.begin_load(api.make_register(register))
        try:
            result = api.load(function, lambda: time.monotonic() > deadline)
        finally:
            api.end_load()
        if isinstance(result, tuple) and not result[0]:
            raise CommandError("ERR Error registering functions: %s" % result[1].decode("utf-8", "surrogateescape"))
        if not library.functions:
            raise CommandError("ERR No functions registered")
        return library

    def _remove_library(self, library: Library) -> None:
        for fname in library.functions:
            if self.functions.get(fname.lower()) is library.functions[fname]:
                del self.functions[fname.lower()]
        self.libraries.pop(library.name, None)

    def delete_library(self, name: bytes) -> None:
        library = self.libraries.get(name)
        if library is None:
            raise CommandError("ERR Library not found")
        with self.lock:
            self._remove_library(library)

    def flush_functions(self) -> None:
        with self.lock:
            self.libraries = {}
            self.functions = {}
            self.function_engine = None

    def snapshot(self):
        """What a failed FUNCTION RESTORE puts back (the runtime too: FLUSH drops it)."""
        return dict(self.libraries), dict(self.functions), self.function_engine

    def restore_snapshot(self, snapshot) -> None:
        with self.lock:
            self.libraries, self.functions = dict(snapshot[0]), dict(snapshot[1])
            self.function_engine = snapshot[2]


def library_codes(server) -> list:
    """The code of every function library, for RDB saving (RDB_OPCODE_FUNCTION2) and
    the AOF base (rewriteFunctions). The caller holds the whole keyspace."""
    scripting = getattr(server, "scripting", None)
    if scripting is None:
        return []
    return [library.code for library in scripting.libraries.values()]


def restore_libraries(server, codes: list, flush: bool = True, replace: bool = False) -> None:
    """Load libraries read from an RDB file (rdbLoad's FUNCTION2 records). flush: the
    file's libraries replace all of ours, as after emptyData() with functions (start-up,
    DEBUG RELOAD, a replica's full sync). replace: RDBFLAGS_ALLOW_DUP (DEBUG RELOAD
    MERGE); otherwise a library that exists already fails the load, as in Redis."""
    if flush:
        flush_libraries(server)
    for code in codes:
        restore_library(server, code, replace)


def flush_libraries(server) -> None:
    """functionsLibCtxClearCurrent (without creating the state when there is none)."""
    scripting = getattr(server, "scripting", None)
    if scripting is not None:
        scripting.flush_functions()


def restore_library(server, code: bytes, replace: bool = False) -> None:
    """rdbFunctionLoad's functionsCreateWithLibraryCtx; CommandError when it fails."""
    state(server).load_library(code, replace=replace)


def state(server) -> Scripting:
    scripting = getattr(server, "scripting", None)
    if scripting is None:
        with _create_lock:
            scripting = getattr(server, "scripting", None)
            if scripting is None:
                scripting = Scripting(server)
                _install_info_hooks(server, scripting)
                # Snapshots (persistence/snapshot.py) only see the keyspace.
                keyspace = getattr(server, "keyspace", None)
                if keyspace is not None:
                    keyspace.library_codes = lambda: library_codes(server)
                server.scripting = scripting
    return scripting


def _install_info_hooks(server, scripting: Scripting) -> None:
    """The figures INFO memory reads (commands/server.py _info_memory)."""
    def engine_memory(attribute):
        def measure() -> int:
            engine = getattr(scripting, attribute)
            return engine.memory_used() if engine is not None else 0
        return measure
    server.lua_memory = engine_memory("eval_engine")
    server.functions_memory = engine_memory("function_engine")
    server.scripts = scripting.scripts
    server.functions_count = lambda: len(scripting.functions)


_create_lock = threading.Lock()


# -- getCommandFlags ---------------------------------------------------------------
_EVAL_BY_SHA = {"eval": False, "eval_ro": False, "evalsha": True, "evalsha_ro": True}
_FCALLS = frozenset(("fcall", "fcall_ro"))


def command_flags(server, cmd, argv: list) -> frozenset:
    """getCommandFlags: EVAL*/FCALL* have the flags their script declares
    (evalGetCommandFlags, fcallGetCommandFlags), e.g. for CLIENT PAUSE WRITE, which
    lets a no-writes script run but holds `#!lua` with no flags."""
    name = cmd.name
    if len(argv) < 2 or (name not in _EVAL_BY_SHA and name not in _FCALLS):
        return cmd.flags
    scripting = state(server)
    if name in _FCALLS:
        function = scripting.functions.get(argv[1].lower())
        declared = set(function.flags) if function is not None else None
    else:
        declared = _eval_declared_flags(scripting, argv[1], _EVAL_BY_SHA[name])
    if declared is None:
        return cmd.flags
    return _script_flags_to_command_flags(cmd.flags, declared)


def _eval_declared_flags(scripting: Scripting, body: bytes, by_sha: bool):
    """The shebang flags of the script EVAL/EVALSHA would run; None for a script in
    compatibility mode, or one that is not known yet (or not valid) at this point."""
    if by_sha:
        script = scripting.find_script(body) if len(body) == 40 else None
    else:
        script = scripting.scripts.get(hashlib.sha1(body).hexdigest())
        if script is None:
            try:
                flags, compat, _ = parse_eval_shebang(body)
            except CommandError:
                return None
            return None if compat else flags
    if script is None or script.compat:
        return None
    return script.flags


def _script_flags_to_command_flags(cmd_flags: frozenset, declared: set) -> frozenset:
    """scriptFlagsToCmdFlags: a script that declares flags writes unless it says
    no-writes, and is then known to replicate or not (no may_replicate)."""
    flags = set(cmd_flags) - {"stale", "denyoom", "write", "may_replicate"}
    if not declared & {"allow-oom", "no-writes"}:
        flags.add("denyoom")
    if "no-writes" not in declared:
        flags.add("write")
    if "allow-stale" in declared:
        flags.add("stale")
    return frozenset(flags)
