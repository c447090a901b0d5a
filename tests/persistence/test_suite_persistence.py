"""Persistence behaviour Redis's own TCL units (integration/rdb, aof, ...) rely on:
the start-up log lines they wait for and grep, checked against Redis itself."""
from __future__ import annotations

import os
import time

import pytest
import redis

from helpers import client, info, poll
from rdb_builder import old_format_body, rdb_file, string, ziplist
from ferrous.persistence.aof_format import encode_command
from servers import ServerProcess, run_until_exit


def _run_until_exit(kind: str, directory, *args: str) -> str:
    """Start a server that is expected to refuse its data and exit 1; its log."""
    done = run_until_exit(kind, directory, "--always-show-logo", "yes", *args)
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_corrupt_checksum_logs_crc_error_after_the_pid(kind, tmp_path):
    # rdb.tcl "Server should not start if RDB is corrupted": the suite waits for
    # " PID: " first, then greps "CRC error" in the log's last lines.
    data = bytearray(rdb_file(10, old_format_body()))
    data[-8:] = b"foobar00"
    (tmp_path / "dump.rdb").write_bytes(bytes(data))
    log = _run_until_exit(kind, tmp_path)
    assert " PID: " in log
    assert "Wrong RDB checksum expected: (" in log
    assert "RDB CRC error" in log
    assert log.index(" PID: ") < log.index("CRC error")



def _write_incr_aof(directory, commands: list) -> None:
    """An AOF directory holding one incremental file with these commands."""
    aof_dir = directory / "appendonlydir"
    aof_dir.mkdir()
    (aof_dir / "appendonly.aof.1.incr.aof").write_bytes(b"".join(encode_command(c) for c in commands))
    (aof_dir / "appendonly.aof.manifest").write_text("file appendonly.aof.1.incr.aof seq 1 type i\n")


def test_aof_pexpireat_in_the_past_keeps_the_key_while_loading(kind, tmp_path):
    # aof.tcl "AOF+EXPIRE": a deadline already past does not delete the key during the
    # load (checkAlreadyExpired), so the later RPUSH extends the same expired list.
    _write_incr_aof(tmp_path, [[b"RPUSH", b"list", b"foo"], [b"PEXPIREAT", b"list", b"1000"],
                               [b"RPUSH", b"list", b"bar"]])
    server = ServerProcess(kind, ["--appendonly", "yes"], directory=str(tmp_path))
    try:
        c = client(server.port)
        poll(lambda: info(c)["loading"] == 0, timeout=60, what="the AOF to load")
        assert c.llen("list") == 0
        assert c.exists("list") == 0
    finally:
        server.stop()


def _write_aof_dir(directory, files: dict, manifest: str) -> None:
    aof_dir = directory / "appendonlydir"
    aof_dir.mkdir()
    for name, commands in files.items():
        (aof_dir / name).write_bytes(b"".join(encode_command(c) for c in commands))
    (aof_dir / "appendonly.aof.manifest").write_text(manifest)


def test_aof_file_missing_from_the_manifest_stops_the_server(kind, tmp_path):
    _write_aof_dir(tmp_path, {"appendonly.aof.1.base.aof": [[b"SET", b"k1", b"v1"]],
                              "appendonly.aof.2.incr.aof": [[b"SET", b"k2", b"v2"]]},
                   "file appendonly.aof.1.base.aof seq 1 type b\n"
                   "file appendonly.aof.1.incr.aof seq 1 type i\n"
                   "file appendonly.aof.2.incr.aof seq 2 type i\n")
    log = _run_until_exit(kind, tmp_path, "--appendonly", "yes")
    assert "Unable to obtain the AOF file appendonly.aof.1.incr.aof length. stat: " \
           "No such file or directory" in log


@pytest.mark.parametrize("manifest, reason", [
    ("file appendonly.aof.1.base.aof seq 1 type x\n", "Unknown AOF file type"),
    ("file appendonly.aof.1.base.aof seq 1 type b\n\n", "Invalid AOF manifest file format"),
    ("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.base.aof seq 2 type b\n",
     "Found duplicate base file information"),
    ("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
     "file appendonly.aof.1.incr.aof seq 1 type i\n", "Found a non-monotonic sequence number"),
    ("file appendonly.aof.1.base.aof seq 1 type b\nfile " + "a" * 1030 + " seq 1 type i\n",
     "The AOF manifest file contains too long line"),
    ("", "Found an empty AOF manifest"),
])
def test_bad_aof_manifest_stops_the_server(kind, tmp_path, manifest, reason):
    _write_aof_dir(tmp_path, {"appendonly.aof.1.base.aof": [[b"SET", b"k1", b"v1"]]}, manifest)
    log = _run_until_exit(kind, tmp_path, "--appendonly", "yes")
    assert "*** FATAL AOF MANIFEST FILE ERROR ***" in log
    assert log.count(reason) == 1


def test_old_style_aof_is_moved_into_the_aof_dir(kind, tmp_path):
    (tmp_path / "appendonly.aof").write_bytes(
        b"".join(encode_command(c) for c in [[b"SET", b"k1", b"v1"], [b"SET", b"k2", b"v2"]]))
    server = ServerProcess(kind, ["--appendonly", "yes"], directory=str(tmp_path))
    try:
        c = client(server.port)
        poll(lambda: info(c)["loading"] == 0, timeout=60, what="the AOF to load")
        assert c.mget("k1", "k2") == [b"v1", b"v2"]
        assert not (tmp_path / "appendonly.aof").exists()
        assert (tmp_path / "appendonlydir" / "appendonly.aof").exists()
        manifest = (tmp_path / "appendonlydir" / "appendonly.aof.manifest").read_text()
        assert manifest.splitlines() == ["file appendonly.aof seq 1 type b",
                                         "file appendonly.aof.1.incr.aof seq 1 type i"]
        assert "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF " \
               "directory (appendonlydir)." in server.read_log()
    finally:
        server.stop()


def test_debug_loadaof_replays_function_load_of_a_command_base(kind, tmp_path):
    # aofrw.tcl "AOF rewrite functions": a command-form base starts with FUNCTION LOAD.
    server = ServerProcess(kind, ["--aof-use-rdb-preamble", "no", "--enable-debug-command", "yes"],
                           directory=str(tmp_path))
    try:
        c = client(server.port)
        c.function_load("#!lua name=test\nredis.register_function('test', function() return 1 end)")
        c.bgrewriteaof()
        poll(lambda: c.info("persistence")["aof_rewrite_in_progress"] == 0
             and os.path.exists(tmp_path / "appendonlydir" / "appendonly.aof.manifest"),
             timeout=60, what="the rewrite")
        c.function_flush()
        assert c.execute_command("DEBUG", "LOADAOF") in (b"OK", "OK", True)
        assert c.fcall("test", 0) == 1
    finally:
        server.stop()


def test_appendfilename_with_whitespace_is_quoted_in_the_manifest(kind, tmp_path):
    # aof-multi-part.tcl "appendfilename contains whitespaces": aofInfoFormat quotes the
    # name (sdscatrepr) and the manifest parser splits with sdssplitargs.
    args = ["--appendonly", "yes", "--appendfilename", "my file.aof"]
    server = ServerProcess(kind, args, directory=str(tmp_path))
    try:
        c = client(server.port)
        c.set("k1", "v1")
        c.bgrewriteaof()
        manifest = tmp_path / "appendonlydir" / "my file.aof.manifest"
        expected = ['file "my file.aof.2.base.rdb" seq 2 type b',
                    'file "my file.aof.2.incr.aof" seq 2 type i']
        poll(lambda: manifest.read_text().splitlines() == expected, timeout=60, what="the rewritten manifest")
    finally:
        server.stop()
    server = ServerProcess(kind, args, directory=str(tmp_path))
    try:
        c = client(server.port)
        poll(lambda: info(c)["loading"] == 0, timeout=60, what="the AOF to load")
        assert c.get("k1") == b"v1"
    finally:
        server.stop()


# corrupt-dump.tcl "quicklist big ziplist prev len": a ziplist node whose second entry
# has a wrong prevlen. Redis 7.0 converts ziplists to listpacks on load, so it checks
# them deeply even with sanitize-dump-payload no.
_BAD_PREVLEN_QUICKLIST = (b"\x0E\x01\x13\x13\x00\x00\x00\x0E\x00\x00\x00\x02\x00\x00\x02\x61\x00"
                          b"\x0E\x02\x62\x00\xFF\x09\x00\x49\x97\x30\xB2\x0D\xA1\xED\xAA")


def test_restore_checks_ziplists_deeply_and_logs_why(kind, tmp_path):
    server = ServerProcess(kind, ["--loglevel", "verbose"], directory=str(tmp_path))
    try:
        c = client(server.port)
        c.config_set("sanitize-dump-payload", "no")
        with pytest.raises(redis.ResponseError, match="Bad data format"):
            c.restore("key", 0, _BAD_PREVLEN_QUICKLIST)
        assert c.exists("key") == 0
        poll(lambda: "integrity check failed" in server.read_log(), timeout=60, what="the log line")
    finally:
        server.stop()


def test_appendonly_no_kills_a_slow_rewrite(kind, tmp_path):
    # aofrw.tcl "Turning off AOF kills the background writing child": the rewrite
    # honours rdb-key-save-delay and CONFIG SET appendonly no stops it and says so.
    server = ServerProcess(kind, ["--appendonly", "yes"], directory=str(tmp_path))
    try:
        c = client(server.port)
        poll(lambda: c.info("persistence")["aof_rewrite_in_progress"] == 0, timeout=60, what="the first base")
        c.set("k", "v")
        c.config_set("rdb-key-save-delay", 10000000)
        c.bgrewriteaof()
        assert c.info("persistence")["aof_rewrite_in_progress"] == 1
        c.config_set("appendonly", "no")
        poll(lambda: "Killing running AOF rewrite child: " in server.read_log(), timeout=60, what="the kill")
        poll(lambda: c.info("persistence")["aof_rewrite_in_progress"] == 0, timeout=60, what="the rewrite to end")
        assert not [name for name in os.listdir(tmp_path / "appendonlydir") if name.startswith("temp-")]
    finally:
        server.stop()


@pytest.mark.parametrize("key, payload, reason", [
    # corrupt-dump.tcl "hash empty zipmap"
    ("_hash", b"\x09\x02\x00\xFF\x09\x00\xC0\xF1\xB8\x67\x4C\x16\xAC\xE3",
     "Zipmap integrity check failed"),
    # corrupt-dump.tcl "fuzzer findings - zset ziplist entry lensize is 0"
    ("_zsetbig", b"\x0C\x3D\x3D\x00\x00\x00\x3A\x00\x00\x00\x14\x00\x00\xF1\x02\xF1\x02\x02\x5F"
     b"\x31\x04\xF2\x02\xF3\x02\xF3\x02\x02\x5F\x33\x04\xF4\x02\xEE\x02\xF5\x02\x02\x5F\x35\x04"
     b"\xF6\x02\xF7\x02\xF7\x02\x02\x5F\x37\x04\xF8\x02\xF9\x02\xF9\x02\x02\x5F\x39\x04\xFA\xFF"
     b"\x09\x00\xAE\xF9\x77\x2A\x47\x24\x33\xF6", "Zset ziplist integrity check failed"),
])
def test_restore_names_the_type_whose_encoding_is_corrupt(kind, tmp_path, key, payload, reason):
    server = ServerProcess(kind, ["--loglevel", "verbose", "--enable-debug-command", "yes"],
                           directory=str(tmp_path))
    try:
        c = client(server.port)
        c.config_set("sanitize-dump-payload", "no")
        c.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 1)
        with pytest.raises(redis.ResponseError, match="Bad data format"):
            c.restore(key, 0, payload)
        poll(lambda: reason in server.read_log(), timeout=60, what="the log line")
    finally:
        server.stop()


# Redis 7.0.15 tests/assets/corrupt_empty_keys.rdb: nine keys whose values are empty.
_CORRUPT_EMPTY_KEYS_RDB = bytes.fromhex(
    "524544495330303130fa0972656469732d7665720b3235352e3235352e323535fa0a72656469732d6269"
    "7473c040fa056374696d65c27a181561fa08757365642d6d656dc280311000fa0c616f662d707265616d"
    "626c65c000fe00fb0900020373657400040468617368000a0c6c6973745f7a69706c6973740b0b000000"
    "0a0000000000ff05047a73657400110d7a7365745f6c6973747061636b07070000000000ff100c686173"
    "685f7a69706c69737407070000000000ff0e0e6c6973745f717569636b6c697374000c0c7a7365745f7a"
    "69706c6973740b0b0000000a0000000000ff0e1c6c6973745f717569636b6c6973745f656d7074795f7a"
    "69706c697374010b0b0000000a0000000000fffff0f506ddc66e6183"
)


def test_empty_keys_in_a_dump_are_skipped_and_logged(kind, tmp_path):
    # corrupt-dump.tcl "load corrupted rdb with empty keys" (Redis's own asset file).
    (tmp_path / "dump.rdb").write_bytes(_CORRUPT_EMPTY_KEYS_RDB)
    server = ServerProcess(kind, [], directory=str(tmp_path))
    try:
        c = client(server.port)
        poll(lambda: info(c)["loading"] == 0, timeout=60, what="the load")
        assert c.dbsize() == 0
        log = server.read_log()
        for key in ("set", "list_quicklist", "list_quicklist_empty_ziplist", "list_ziplist", "hash",
                    "hash_ziplist", "zset", "zset_ziplist", "zset_listpack"):
            assert "rdbLoadObject skipping empty key: %s\n" % key in log
        assert "empty keys skipped: 9." in log
    finally:
        server.stop()


ZIPLIST_SECOND_ENTRY = 13      # header (10 bytes) + the first entry "a" (3 bytes): its prevlen


def test_corrupt_ziplist_in_the_dump_stops_the_server_and_says_why_twice(kind, tmp_path):
    # corrupt-dump.tcl "load corrupted rdb with no CRC - #3505": the failure is logged,
    # then redis-check-rdb's report repeats it; the server ends with Redis's last words.
    zl = bytearray(ziplist([b"a", b"1", b"b", b"2"]))
    zl[ZIPLIST_SECOND_ENTRY] = 0x0E     # a wrong prevlen
    body = b"\xfe\x00" + bytes((13,)) + string(b"h") + string(bytes(zl))
    (tmp_path / "dump.rdb").write_bytes(rdb_file(9, body))
    log = _run_until_exit(kind, tmp_path, "--sanitize-dump-payload", "no")
    assert "Hash ziplist integrity check failed." in log
    assert len([line for line in log.splitlines() if "integrity check failed" in line]) > 1


# corrupt-dump.tcl "fuzzer findings - stream integrity check issue": a stream node whose
# master entry is cut short.
_SHORT_STREAM_MASTER_ENTRY = bytes.fromhex(
    "0f0210000001752da290670000000000000000c3404f405c185c0000002400050100014a01846974656d"
    "058576616c756506401000002001000120030005201c4009050101825f3103800d0002200d0002a01900"
    "03200b02825f33a0190004200d0004201900ff10000001752da290670000000000000005c34056406018"
    "600000002400050100010201846974656d058576616c756506401000002001060101825f350305201e40"
    "0b0301010601800b0002200b02825f376019030101dffb20050008601a200c00fc200502825f39201b00"
    "ff0a81000001752da29068010009001d6fc0698adef792"
)


def test_restore_of_a_truncated_stream_node_is_bad_data(kind, tmp_path):
    server = ServerProcess(kind, ["--enable-debug-command", "yes"], directory=str(tmp_path))
    try:
        c = client(server.port)
        c.config_set("sanitize-dump-payload", "yes")
        c.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 1)
        with pytest.raises(redis.ResponseError, match="Bad data format"):
            c.restore("_stream", 0, _SHORT_STREAM_MASTER_ENTRY)
        assert c.ping()
    finally:
        server.stop()


def test_aof_timestamp_annotations(kind, tmp_path):
    # aof.tcl "Generate timestamp annotations in AOF": the incremental file and a
    # command-form base start with "#TS:<unix time>".
    server = ServerProcess(kind, ["--appendonly", "yes"], directory=str(tmp_path))
    try:
        c = client(server.port)
        c.config_set("aof-timestamp-enabled", "yes")
        c.config_set("aof-use-rdb-preamble", "no")
        c.set("foo", "bar")
        aof_dir = tmp_path / "appendonlydir"

        def first_line(kind_mark: str) -> bytes:
            """The file's first line; b"" while a rewrite swaps the files under us."""
            manifest = (aof_dir / "appendonly.aof.manifest").read_text().split()
            names = [manifest[i + 1] for i in range(0, len(manifest), 6) if manifest[i + 5] == kind_mark]
            try:
                return (aof_dir / names[-1]).read_bytes().split(b"\r\n")[0]
            except FileNotFoundError:
                return b""

        assert first_line("i").startswith(b"#TS:")
        c.bgrewriteaof()
        poll(lambda: first_line("b").startswith(b"#TS:"), timeout=60, what="the rewritten base")
        assert int(first_line("b")[4:]) == pytest.approx(time.time(), abs=60)
    finally:
        server.stop()


def test_aof_scripts_write_on_a_read_only_replica(kind, tmp_path):
    # aof.tcl "EVAL can process writes from AOF in read-only replicas": the AOF is
    # obeyed like our primary's stream (mustObeyClient), scripts included.
    _write_incr_aof(tmp_path, [[b"SELECT", b"9"],
                               [b"EVAL", b'redis.call("set",KEYS[1],"100")', b"1", b"foo"],
                               [b"EVAL", b'redis.call("incr",KEYS[1])', b"1", b"foo"],
                               [b"EVAL", b'redis.call("incr",KEYS[1])', b"1", b"foo"]])
    server = ServerProcess(kind, ["--appendonly", "yes", "--replica-read-only", "yes",
                                  "--replicaof", "127.0.0.1 0"], directory=str(tmp_path))
    try:
        c = redis.Redis(port=server.port, db=9)
        poll(lambda: info(c)["loading"] == 0, timeout=60, what="the AOF to load")
        assert c.get("foo") == b"102"
    finally:
        server.stop()
