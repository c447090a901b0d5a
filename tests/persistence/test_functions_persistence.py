"""Function libraries in the RDB file and the AOF, as Redis 7.0 keeps them.

RDB: one RDB_OPCODE_FUNCTION2 (245) record per library, holding its code, after the
aux fields and before the databases; loading replaces the libraries (start-up, DEBUG
RELOAD). AOF: FUNCTION LOAD/DELETE/FLUSH/RESTORE go to the incremental file as
written; a command-form base starts with one FUNCTION LOAD per library
(rewriteFunctions), an RDB-preamble base carries the FUNCTION2 records. Every file is
checked both ways: Ferrous loads what Redis wrote and Redis loads what Ferrous wrote.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import redis

from aof_helpers import AOF_ARGS, aof_dir, incr_commands, manifest, normalized, parse_commands
from helpers import KINDS, poll
from servers import ServerProcess, redis_available

from ferrous.config import Config
from ferrous.persistence import rdb

LIB_SET = ("#!lua name=libset\n"
           "redis.register_function('setit', function(keys, args) "
           "return redis.call('SET', keys[1], args[1]) end)\n"
           "redis.register_function{function_name='getit', callback=function(keys) "
           "return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads it'}")
LIB_ECHO = ("#!lua name=libecho\n"
            "redis.register_function('echoit', function(keys, args) return args[1] end)")
LIBS = {b"libset": LIB_SET.encode(), b"libecho": LIB_ECHO.encode()}

BOTH_WAYS = [("ferrous", "redis"), ("redis", "ferrous")] if redis_available() else []
DEBUG = ["--enable-debug-command", "yes"]


def _client(proc) -> redis.Redis:
    return redis.Redis(port=proc.port, socket_timeout=10)


def libraries(c) -> dict:
    """FUNCTION LIST WITHCODE as {library name: (code, functions)}; the order of the
    libraries is Redis's dict order, so it is not compared."""
    out = {}
    for entry in c.execute_command("FUNCTION", "LIST", "WITHCODE"):
        fields = _as_dict(entry)
        functions = [_as_dict(f) for f in fields[b"functions"]]
        functions = sorted((f[b"name"], f[b"description"] or b"", tuple(f[b"flags"])) for f in functions)
        out[fields[b"library_name"]] = (fields[b"library_code"], functions)
    return out


def _as_dict(reply) -> dict:
    """redis-py turns these maps into dicts; a flat RESP2 list otherwise."""
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))


def _load_libraries(c, *codes) -> None:
    for code in codes:
        c.execute_command("FUNCTION", "LOAD", code)


_DIRS: list = []


@pytest.fixture(autouse=True)
def _remove_directories():
    """Servers run in directories of ours, so that a restart finds its files."""
    yield
    while _DIRS:
        shutil.rmtree(_DIRS.pop(), ignore_errors=True)


def _start(kind, args=(), directory=None) -> ServerProcess:
    if directory is None:
        directory = tempfile.mkdtemp(prefix="functions-%s-" % kind)
        _DIRS.append(directory)
    return ServerProcess(kind, list(args), directory=directory)


def _restart(proc, args=()) -> ServerProcess:
    proc.stop()
    return _start(proc.kind, args, directory=proc.dir)


def _records_after_aux(data: bytes, with_span: bool = False):
    """The FUNCTION2 records that follow the aux fields and the next opcode (and
    the records' bytes with with_span)."""
    reader = rdb.RdbReader(data, Config())
    reader.header()
    op = reader.byte()
    while op == rdb.OP_AUX:
        reader.string()
        reader.string()
        op = reader.byte()
    start = reader.pos - 1
    codes = []
    while op == rdb.OP_FUNCTION2:
        codes.append(reader.string())
        op = reader.byte()
    if with_span:
        return codes, op, data[start:reader.pos - 1]
    return codes, op


def _saved_file(kind, args=(), codes=(LIB_SET,)) -> tuple[bytes, bytes]:
    """(dump.rdb, FUNCTION DUMP) of a server holding codes and one key."""
    proc = _start(kind, args)
    try:
        c = _client(proc)
        _load_libraries(c, *codes)
        c.set("k", "v")
        assert c.save() is True
        with open(os.path.join(proc.dir, "dump.rdb"), "rb") as fh:
            return fh.read(), c.execute_command("FUNCTION", "DUMP")
    finally:
        proc.stop()


# -- RDB -------------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", ["yes", "no"])
def test_rdb_holds_function2_records_between_aux_and_databases(compression):
    """Both servers write one FUNCTION2 record per library right after the aux fields;
    from that record to the EOF opcode the files are byte for byte the same (before it,
    the aux fields hold times and memory figures)."""
    saved = {kind: _saved_file(kind, ["--rdbcompression", compression]) for kind in KINDS}
    for data, payload in saved.values():
        codes, next_op, records = _records_after_aux(data, with_span=True)
        assert codes == [LIB_SET.encode()]
        assert next_op == rdb.OP_SELECTDB
        assert (records[1] == 0xC3) == (compression == "yes")     # LZF past 20 bytes
        # FUNCTION DUMP is the same records, then the RDB version and a CRC64.
        assert payload[:-10] == records
    if "redis" in saved:
        ours, theirs = saved["ferrous"][0], saved["redis"][0]
        assert ours[ours.index(b"\xf5"):-8] == theirs[theirs.index(b"\xf5"):-8]
        assert saved["ferrous"][1] == saved["redis"][1]


@pytest.mark.parametrize("source,target", BOTH_WAYS)
def test_rdb_with_functions_survives_a_restart_and_loads_in_the_other_server(source, target):
    src = _start(source)
    dst_dir = tempfile.mkdtemp(prefix="functions-rdb-")
    _DIRS.append(dst_dir)
    dst = None
    try:
        c = _client(src)
        _load_libraries(c, LIB_SET, LIB_ECHO)
        c.set("plain", "value")
        expected = libraries(c)
        assert set(expected) == set(LIBS)
        assert c.save() is True
        shutil.copy(os.path.join(src.dir, "dump.rdb"), os.path.join(dst_dir, "dump.rdb"))
        src = _restart(src)
        dst = _start(target, directory=dst_dir)
        for proc in (src, dst):
            d = _client(proc)
            assert libraries(d) == expected
            assert d.get("plain") == b"value"
            assert d.fcall("setit", 1, "fk", "fv") == b"OK"
            assert d.fcall_ro("getit", 1, "fk") == b"fv"
            assert d.fcall("echoit", 0, "hello") == b"hello"
    finally:
        src.stop()
        if dst is not None:
            dst.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_flushall_keeps_functions_and_debug_reload_reloads_them(kind):
    proc = _start(kind, DEBUG)
    try:
        c = _client(proc)
        _load_libraries(c, LIB_SET)
        c.set("k", "v")
        c.flushall()
        assert set(libraries(c)) == {b"libset"}
        assert c.dbsize() == 0
        c.set("k", "v")
        assert c.execute_command("DEBUG", "RELOAD") == b"OK"
        assert set(libraries(c)) == {b"libset"}
        assert c.get("k") == b"v"
        # The file's libraries replace ours: one loaded after the save is gone.
        c.save()
        _load_libraries(c, LIB_ECHO)
        assert c.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
        assert set(libraries(c)) == {b"libset"}
        # NOFLUSH keeps them: the same name then fails the load, unless MERGE.
        with pytest.raises(redis.ResponseError, match="^Error trying to load the RDB dump$"):
            c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH")
        assert c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
        assert set(libraries(c)) == {b"libset"}
        # DUMP / RESTORE of a key are not about functions.
        payload = c.dump("k")
        c.delete("k")
        assert c.restore("k", 0, payload) == b"OK"
        assert c.get("k") == b"v"
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_a_library_that_fails_to_load_fails_the_start(kind):
    """Each server refuses a file whose library does not compile."""
    bad = LIB_ECHO.replace("return args[1] end)", "return args[1] end")   # a syntax error
    directory = tempfile.mkdtemp(prefix="functions-bad-")
    try:
        out = bytearray()
        writer = rdb.RdbWriter(_Sink(out), Config())
        writer.header(rdb.aux_fields())
        writer.functions([bad.encode()])
        writer.finish()
        with open(os.path.join(directory, "dump.rdb"), "wb") as fh:
            fh.write(out)
        with pytest.raises(RuntimeError, match="failed to start"):
            _start(kind, directory=directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class _Sink:
    def __init__(self, out: bytearray):
        self.out = out

    def write(self, data) -> int:
        self.out += data
        return len(data)


# -- AOF -------------------------------------------------------------------------------------
def _aof_args(preamble: str) -> list:
    return AOF_ARGS + ["--aof-use-rdb-preamble", preamble]


def _rewrite(c, proc) -> None:
    bases = [line[1] for line in manifest(proc) if line[-1] == "b"]
    c.execute_command("BGREWRITEAOF")

    def rewritten():
        info = c.info("persistence")
        current = [line[1] for line in manifest(proc) if line[-1] == "b"]
        return current != bases and not info["aof_rewrite_in_progress"]
    poll(rewritten, what="the AOF rewrite")


def _base_path(proc) -> str:
    base = [line[1] for line in manifest(proc) if line[-1] == "b"][-1]
    return os.path.join(aof_dir(proc), base)


def _wait_for_manifest(proc) -> None:
    poll(lambda: os.path.exists(os.path.join(aof_dir(proc), "appendonly.aof.manifest")),
         what="the AOF manifest")


def _check_base(proc, preamble: str) -> None:
    """rewriteFunctions: FUNCTION LOAD per library before the data; with the preamble,
    the FUNCTION2 records of an RDB file."""
    with open(_base_path(proc), "rb") as fh:
        data = fh.read()
    if preamble == "yes":
        codes, next_op = _records_after_aux(data)
        assert next_op == rdb.OP_SELECTDB
    else:
        commands = parse_commands(data)
        codes = [argv[2] for argv in commands if argv[:2] == [b"FUNCTION", b"LOAD"]]
        assert commands[len(codes):] == [[b"SELECT", b"0"], [b"SET", b"k", b"v"]]
    assert sorted(codes) == sorted(LIBS.values())


def _function_script(c) -> None:
    """FUNCTION LOAD/DELETE/FLUSH/RESTORE and FCALL, as a client would send them."""
    c.execute_command("function", "load", LIB_SET)
    c.execute_command("FUNCTION", "LOAD", "REPLACE", LIB_SET)
    c.execute_command("FUNCTION", "LOAD", LIB_ECHO)
    c.fcall("setit", 1, "fk", "fv")
    c.fcall_ro("getit", 1, "fk")
    c.execute_command("FUNCTION", "DELETE", "libecho")
    payload = c.execute_command("FUNCTION", "DUMP")
    c.execute_command("FUNCTION", "FLUSH", "ASYNC")
    c.execute_command("FUNCTION", "RESTORE", payload)
    c.execute_command("FUNCTION", "RESTORE", payload, "REPLACE")
    with pytest.raises(redis.ResponseError):
        c.execute_command("FUNCTION", "RESTORE", payload, "APPEND")
    c.execute_command("FUNCTION", "FLUSH")
    c.execute_command("FUNCTION", "RESTORE", payload, "FLUSH")


@pytest.mark.skipif(not redis_available(), reason="needs redis-server 7.0")
def test_incremental_aof_holds_the_function_commands_as_redis_writes_them():
    written = {}
    for kind in ("ferrous", "redis"):
        proc = _start(kind, _aof_args("no"))
        try:
            _wait_for_manifest(proc)
            c = _client(proc)
            _function_script(c)
            c.set("__end__", "1")
            poll(lambda: [b"SET", b"__end__", b"1"] in incr_commands(proc), what="the AOF")
            written[kind] = normalized(incr_commands(proc))
        finally:
            proc.stop()
    assert written["ferrous"] == written["redis"]
    assert ["FUNCTION", "RESTORE", written["redis"][-2][2], "FLUSH"] == written["redis"][-2]


@pytest.mark.parametrize("preamble", ["yes", "no"])
@pytest.mark.parametrize("source,target", BOTH_WAYS)
def test_aof_with_functions_loads_in_the_other_server(source, target, preamble):
    """A base written by a rewrite, then function commands in the incremental file."""
    src = _start(source, _aof_args(preamble))
    dst_dir = tempfile.mkdtemp(prefix="functions-aof-")
    _DIRS.append(dst_dir)
    dst = None
    try:
        _wait_for_manifest(src)
        c = _client(src)
        _load_libraries(c, LIB_SET, LIB_ECHO)
        c.set("k", "v")
        _rewrite(c, src)
        _check_base(src, preamble)
        c.execute_command("FUNCTION", "DELETE", "libecho")
        c.fcall("setit", 1, "fk", "fv")
        c.execute_command("FUNCTION", "LOAD", LIB_ECHO.replace("libecho", "libecho2"))
        expected = libraries(c)
        src.stop()
        shutil.copytree(aof_dir(src), os.path.join(dst_dir, "appendonlydir"))
        dst = _start(target, _aof_args(preamble), directory=dst_dir)
        d = _client(dst)
        assert libraries(d) == expected
        assert set(expected) == {b"libset", b"libecho2"}
        assert d.mget("k", "fk") == [b"v", b"fv"]
    finally:
        src.stop()
        if dst is not None:
            dst.stop()
