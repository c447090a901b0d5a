"""SLOWLOG, LATENCY, MEMORY, MONITOR, CLIENT PAUSE, INFO latencystats against Ferrous and
Redis 7.0 (RESP2 and RESP3). DEBUG needs `enable-debug-command`: those tests start
their own servers (test_introspection_debug.py)."""
from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import redis

from resp_client import Error, RawClient, Simple, Verbatim


def _poll(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def slowlog_all(r):
    """Log every command for the test, then restore the defaults."""
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    yield r
    r.config_set("slowlog-log-slower-than", 10000)
    r.config_set("slowlog-max-len", 128)
    r.slowlog_reset()


# ---------------------------------------------------------------------------------
# SLOWLOG
# ---------------------------------------------------------------------------------
def test_slowlog_entry_fields(slowlog_all, raw):
    r = slowlog_all
    r.client_setname("slowpoke")
    r.set("k", "v")
    entries = r.execute_command("SLOWLOG", "GET", 2)
    newest = entries[0]
    assert len(newest) == 6
    entry_id, when, duration, args, peer, name = newest
    assert args == [b"SET", b"k", b"v"]
    assert name == b"slowpoke"
    assert abs(when - time.time()) < 5 and duration >= 0
    assert re.fullmatch(rb"127\.0\.0\.1:\d+", peer)
    assert entries[1][3] == [b"CLIENT", b"SETNAME", b"slowpoke"]
    assert entries[1][0] == entry_id - 1       # ids count up


def test_slowlog_trims_arguments_and_strings(slowlog_all):
    r = slowlog_all
    r.execute_command("RPUSH", "l", *range(40))
    r.execute_command("SET", "s", "x" * 200)
    string_entry, list_entry = r.execute_command("SLOWLOG", "GET", 2)
    assert string_entry[3] == [b"SET", b"s", b"x" * 128 + b"... (72 more bytes)"]
    assert len(list_entry[3]) == 32
    assert list_entry[3][:3] == [b"RPUSH", b"l", b"0"]
    assert list_entry[3][30] == b"28"
    assert list_entry[3][31] == b"... (11 more arguments)"


def test_slowlog_redacts_auth(slowlog_all, raw):
    r = slowlog_all
    assert isinstance(raw.call("AUTH", "user", "secret"), Error)
    args = [entry[3] for entry in r.execute_command("SLOWLOG", "GET", -1)]
    assert [b"AUTH", b"(redacted)", b"(redacted)"] in args
    assert not any(b"secret" in arg for entry in args for arg in entry)


def test_slowlog_redacts_sensitive_config_set_values(slowlog_all, raw):
    """CONFIG SET shows masterauth, masteruser and requirepass values as "(redacted)",
    even when another name of the same command is refused; an odd argument count is
    refused before anything is looked at."""
    r = slowlog_all
    raw.call("CONFIG", "SET", "masterauth", "")
    raw.call("CONFIG", "SET", "MASTERUSER", "", "maxmemory-samples", "5", "requirepass", "")
    assert isinstance(raw.call("CONFIG", "SET", "nosuch", "x", "masterauth", "secret"), Error)
    assert isinstance(raw.call("CONFIG", "SET", "masterauth", "secret", "maxmemory-samples"), Error)
    args = [entry[3] for entry in r.execute_command("SLOWLOG", "GET", 4)]
    assert args == [
        [b"CONFIG", b"SET", b"masterauth", b"secret", b"maxmemory-samples"],
        [b"CONFIG", b"SET", b"nosuch", b"x", b"masterauth", b"(redacted)"],
        [b"CONFIG", b"SET", b"MASTERUSER", b"(redacted)", b"maxmemory-samples", b"5", b"requirepass", b"(redacted)"],
        [b"CONFIG", b"SET", b"masterauth", b"(redacted)"],
    ]


def test_slowlog_len_get_count_reset_and_max_len(slowlog_all):
    r = slowlog_all
    for i in range(12):
        r.set(f"k{i}", i)
    assert r.execute_command("SLOWLOG", "LEN") >= 12
    assert len(r.execute_command("SLOWLOG", "GET", 3)) == 3
    assert r.execute_command("SLOWLOG", "GET", 0) == []
    assert len(r.execute_command("SLOWLOG", "GET")) == 10
    r.config_set("slowlog-max-len", 2)
    r.set("after", 1)
    assert r.execute_command("SLOWLOG", "LEN") == 2
    assert r.execute_command("SLOWLOG", "RESET") in (b"OK", "OK", True)
    # The RESET itself is logged after it ran.
    assert [e[3] for e in r.execute_command("SLOWLOG", "GET", -1)] == [[b"SLOWLOG", b"RESET"]]


def test_slowlog_threshold_and_disabled(r):
    r.slowlog_reset()
    r.set("fast", 1)
    assert r.execute_command("SLOWLOG", "LEN") == 0    # default 10 ms threshold
    try:
        r.config_set("slowlog-log-slower-than", -1)
        r.set("x", 1)
        assert r.execute_command("SLOWLOG", "LEN") == 0
    finally:
        r.config_set("slowlog-log-slower-than", 10000)


def test_slowlog_errors_and_help(raw):
    count_error = Error("ERR count should be greater than or equal to -1")
    assert raw.call("SLOWLOG", "GET", "x") == count_error
    assert raw.call("SLOWLOG", "GET", "-5") == count_error
    assert raw.call("SLOWLOG", "GET", "1", "2") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.")
    assert raw.call("SLOWLOG", "LEN", "x") == Error("ERR wrong number of arguments for 'slowlog|len' command")
    assert raw.call("SLOWLOG", "FOO") == Error("ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.")
    help_lines = raw.call("SLOWLOG", "HELP")
    assert help_lines[0] == Simple("SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert Simple("    Return the length of the slowlog.") in help_lines
    assert help_lines[-1] == Simple("    Prints this help.")


# ---------------------------------------------------------------------------------
# LATENCY
# ---------------------------------------------------------------------------------
def test_latency_without_events(raw):
    raw.call("LATENCY", "RESET")
    assert raw.call("LATENCY", "LATEST") == []
    assert raw.call("LATENCY", "HISTORY", "command") == []
    assert raw.call("LATENCY", "GRAPH", "command") == Error("ERR No samples available for event 'command'")
    assert raw.call("LATENCY", "RESET", "nosuch") == 0
    text = _text(raw.call("LATENCY", "DOCTOR"))
    assert text.startswith(b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled")


def test_latency_errors_and_help(raw):
    assert raw.call("LATENCY", "HISTORY") == Error("ERR wrong number of arguments for 'latency|history' command")
    assert raw.call("LATENCY", "LATEST", "x") == Error("ERR wrong number of arguments for 'latency|latest' command")
    assert raw.call("LATENCY", "FOO") == Error("ERR unknown subcommand 'FOO'. Try LATENCY HELP.")
    help_lines = raw.call("LATENCY", "HELP")
    assert help_lines[0] == Simple("LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert Simple("HISTOGRAM [COMMAND ...]") in help_lines
    assert len(help_lines) == 17


def test_latency_histogram_shape(r):
    for _ in range(3):
        r.set("h", 1)
    r.config_get("maxmemory")
    reply = r.execute_command("LATENCY", "HISTOGRAM", "set", "nosuchcommand", "config")
    reply = _as_dict(reply)
    assert b"set" in reply and b"config|get" in reply
    assert b"nosuchcommand" not in reply
    entry = _as_dict(reply[b"set"])
    assert set(entry) == {b"calls", b"histogram_usec"}
    assert entry[b"calls"] >= 3
    buckets = _as_dict(entry[b"histogram_usec"])
    counts = list(buckets.values())
    assert counts == sorted(counts) and counts[-1] == entry[b"calls"]    # cumulative
    assert all(isinstance(b, int) for b in buckets)


def _as_dict(reply):
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2]))


def test_info_latencystats_percentiles(r):
    r.set("p", 1)
    text = _raw_info(r, "latencystats").decode()
    lines = [line for line in text.splitlines() if line.startswith("latency_percentiles_usec_set:")]
    assert len(lines) == 1
    assert re.fullmatch(r"latency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}", lines[0])
    try:
        r.config_set("latency-tracking-info-percentiles", "50 99.99")
        text = _raw_info(r, "latencystats").decode()
        assert re.search(r"latency_percentiles_usec_set:p50=\d+\.\d{3},p99\.99=\d+\.\d{3}\r?\n", text)
    finally:
        r.config_set("latency-tracking-info-percentiles", "50 99 99.9")


def test_info_latencystats_not_in_default(r):
    r.set("p", 1)
    assert b"# Latencystats" not in _raw_info(r)
    assert b"# Latencystats" in _raw_info(r, "everything")


def _raw_info(r, *sections):
    client = RawClient(port=r.connection_pool.connection_kwargs["port"])
    try:
        return _text(client.call("INFO", *sections))
    finally:
        client.close()


def _text(reply) -> bytes:
    """A bulk string (RESP2) or a verbatim string (RESP3) as bytes."""
    return reply.text if isinstance(reply, Verbatim) else reply


# ---------------------------------------------------------------------------------
# MEMORY
# ---------------------------------------------------------------------------------
MEMORY_STATS_KEYS = [
    b"peak.allocated", b"total.allocated", b"startup.allocated", b"replication.backlog", b"clients.slaves",
    b"clients.normal", b"cluster.links", b"aof.buffer", b"lua.caches", b"functions.caches", b"db.0",
    b"overhead.total", b"keys.count", b"keys.bytes-per-key", b"dataset.bytes", b"dataset.percentage",
    b"peak.percentage", b"allocator.allocated", b"allocator.active", b"allocator.resident",
    b"allocator-fragmentation.ratio", b"allocator-fragmentation.bytes", b"allocator-rss.ratio",
    b"allocator-rss.bytes", b"rss-overhead.ratio", b"rss-overhead.bytes", b"fragmentation",
    b"fragmentation.bytes",
]


def test_memory_usage(r):
    assert r.memory_usage("missing") is None
    r.set("small", "v")
    r.set("big", "x" * 10000)
    small, big = r.memory_usage("small"), r.memory_usage("big")
    assert 0 < small < big and big > 10000
    r.rpush("list", *range(1000))
    assert r.memory_usage("list", samples=0) > r.memory_usage("small")
    assert r.execute_command("MEMORY", "USAGE", "list", "SAMPLES", "10") > 0


def test_memory_usage_errors(raw):
    raw.call("SET", "k", "v")
    assert raw.call("MEMORY", "USAGE") == Error("ERR wrong number of arguments for 'memory|usage' command")
    assert raw.call("MEMORY", "USAGE", "k", "SAMPLES") == Error("ERR syntax error")
    assert raw.call("MEMORY", "USAGE", "k", "foo", "1") == Error("ERR syntax error")
    assert raw.call("MEMORY", "USAGE", "k", "SAMPLES", "-1") == Error("ERR syntax error")
    assert raw.call("MEMORY", "USAGE", "k", "SAMPLES", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("MEMORY", "FOO") == Error("ERR unknown subcommand 'FOO'. Try MEMORY HELP.")


def test_memory_stats_fields(r):
    r.set("k", "v")
    stats = _as_dict(r.execute_command("MEMORY", "STATS"))
    assert list(stats) == MEMORY_STATS_KEYS
    db0 = _as_dict(stats[b"db.0"])
    assert list(db0) == [b"overhead.hashtable.main", b"overhead.hashtable.expires",
                         b"overhead.hashtable.slot-to-keys"]
    assert stats[b"keys.count"] == 1
    assert stats[b"peak.allocated"] >= stats[b"total.allocated"] > stats[b"startup.allocated"]


def test_memory_doctor_purge_malloc_stats_help(raw):
    text = _text(raw.call("MEMORY", "DOCTOR"))
    assert text.startswith((b"Hi Sam", b"Sam, I detected"))
    assert raw.call("MEMORY", "PURGE") == Simple("OK")
    assert isinstance(_text(raw.call("MEMORY", "MALLOC-STATS")), bytes)
    help_lines = raw.call("MEMORY", "HELP")
    assert help_lines[0] == Simple("MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert Simple("USAGE <key> [SAMPLES <count>]") in help_lines


def test_info_memory_follows_the_data(r):
    # Many small values rather than one big one: a worker keeps its last command's
    # arguments until its next command, which would hide one big value's free.
    before = r.info("memory")["used_memory"]
    for chunk in range(20):
        r.mset({f"key:{chunk}:{i}": b"%d" % i * 40 for i in range(1000)})
    during = r.info("memory")["used_memory"]
    assert during - before > 3_000_000          # about 3 MB of keys and values, plus tables
    r.flushall()
    after = r.info("memory")["used_memory"]
    assert during - after > 2_500_000           # frees show at once
    info = r.info("memory")
    assert info["used_memory_peak"] >= during
    for field in ("used_memory_rss", "used_memory_startup", "used_memory_dataset", "mem_fragmentation_ratio",
                  "maxmemory_policy", "mem_allocator"):
        assert field in info


# ---------------------------------------------------------------------------------
# MONITOR
# ---------------------------------------------------------------------------------
class Monitor:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"MONITOR\r\n")
        self.buf = b""
        assert self.line() == b"+OK"

    def line(self, timeout=5.0) -> bytes:
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def lines_until(self, marker: bytes) -> list:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if marker in line:
                return lines

    def close(self):
        self.sock.close()


LINE = re.compile(rb'\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)')


def test_monitor_line_format_and_escaping(server, r):
    mon = Monitor(server.port)
    try:
        r.set("k", 'v\x00\n"\\é')
        r.set("n", 12345)
        r.execute_command("SELECT", "2")
        r.get("z")
        r.execute_command("SELECT", "0")
        r.execute_command("ECHO", "done")
        lines = [line for line in mon.lines_until(b'"done"') if b'"HELLO"' not in line]
        parsed = [LINE.fullmatch(line) for line in lines]
        assert all(parsed), lines
        commands = [m.group(5) for m in parsed]
        assert b'"SET" "k" "v\\x00\\n\\"\\\\\\xc3\\xa9"' in commands
        assert b'"SET" "n" "12345"' in commands
        by_command = {m.group(5): m for m in parsed}
        assert by_command[b'"GET" "z"'].group(3) == b"2"
        assert abs(int(parsed[0].group(1)) - time.time()) < 10
        assert re.fullmatch(rb"127\.0\.0\.1:\d+", parsed[0].group(4))
    finally:
        mon.close()


def test_monitor_hides_admin_commands_and_redacts_auth(server, r):
    mon = Monitor(server.port)
    try:
        r.config_get("maxmemory")                 # admin: not shown
        r.execute_command("CLIENT", "LIST")      # admin: not shown
        auth = RawClient(port=server.port)
        assert isinstance(auth.call("AUTH", "nosuchpassword"), Error)
        auth.close()
        with pytest.raises(redis.ResponseError):
            r.execute_command("NOSUCHCOMMAND")   # rejected before running: not shown
        r.execute_command("MULTI")
        r.execute_command("INCR", "c")
        r.execute_command("EXEC")
        r.execute_command("ECHO", "done")
        commands = [LINE.fullmatch(line).group(5) for line in mon.lines_until(b'"done"')]
        commands = [c for c in commands if not c.startswith((b'"HELLO"', b'"CLIENT" "SETINFO"'))]
        assert commands == [b'"AUTH" "(redacted)"', b'"MULTI"', b'"INCR" "c"', b'"EXEC"', b'"ECHO" "done"']
    finally:
        mon.close()


def test_monitor_client_cannot_touch_the_keyspace(server):
    mon = Monitor(server.port)
    try:
        mon.sock.sendall(b"GET x\r\nPING\r\n")
        me = mon.sock.getsockname()
        mine = b"%s:%d]" % (me[0].encode(), me[1])
        own = []
        while len(own) < 3:     # the error, +PONG, then the line for its own PING
            line = mon.line()
            if not line.startswith(b"+1") or mine in line:
                own.append(line)
        assert own[0] == b"-ERR Replica can't interact with the keyspace"
        assert own[1] == b"+PONG"     # Redis 7.0 feeds monitors after the call: reply first
        assert own[2].endswith(b'"PING"')
    finally:
        mon.close()


def test_monitor_inside_multi_and_client_list_flag(server):
    client = RawClient(port=server.port)
    try:
        client.call("MULTI")
        client.call("MONITOR")
        result = client.call("EXEC")
        assert result == [Error("ERR MONITOR isn't allowed for DENY BLOCKING client")]
    finally:
        client.close()
    mon = Monitor(server.port)
    try:
        listing = redis.Redis(port=server.port).execute_command("CLIENT", "LIST")
        listing = listing.decode() if isinstance(listing, bytes) else listing
        assert any("flags=O" in line and "cmd=monitor" in line for line in listing.splitlines())
    finally:
        mon.close()


# ---------------------------------------------------------------------------------
# CLIENT PAUSE / UNPAUSE
# ---------------------------------------------------------------------------------
def _in_thread(func):
    result = {}

    def run():
        try:
            result["value"] = func()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_client_pause_write_parks_writes_not_reads(server, r):
    other = redis.Redis(port=server.port)
    try:
        other.set("k", "before")
        assert r.execute_command("CLIENT", "PAUSE", 10000, "WRITE") in (b"OK", "OK", True)
        assert other.get("k") == b"before"                   # reads go on
        thread, result = _in_thread(lambda: other.set("k", "after"))
        blocked = _poll(lambda: r.info("clients")["blocked_clients"] == 1)
        assert blocked
        assert r.get("k") == b"before"
        assert r.execute_command("CLIENT", "UNPAUSE") in (b"OK", "OK", True)
        thread.join(5)
        assert result == {"value": True}
        assert r.get("k") == b"after"
        assert r.info("clients")["blocked_clients"] == 0
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
        other.close()


def test_client_pause_all_ends_by_itself(server, r):
    other = redis.Redis(port=server.port)
    try:
        r.execute_command("CLIENT", "PAUSE", 300)
        started = time.monotonic()
        assert other.ping()
        assert time.monotonic() - started >= 0.2
    finally:
        other.close()


def test_client_pause_keeps_pipeline_order(server):
    client = RawClient(port=server.port)
    pauser = RawClient(port=server.port)
    try:
        client.call("DEL", "seq")
        pauser.call("CLIENT", "PAUSE", "10000", "WRITE")
        client.send_raw(b"RPUSH seq a\r\nLRANGE seq 0 -1\r\nRPUSH seq b\r\n")
        assert _poll(lambda: _blocked_clients(pauser) == 1)
        pauser.call("CLIENT", "UNPAUSE")
        assert [client.read_reply() for _ in range(3)] == [1, [b"a"], 2]
    finally:
        client.close()
        pauser.call("CLIENT", "UNPAUSE")
        pauser.close()


def _blocked_clients(client) -> int:
    text = _text(client.call("INFO", "clients"))
    return int(re.search(rb"blocked_clients:(\d+)", text).group(1))


def test_client_pause_errors(raw):
    assert raw.call("CLIENT", "PAUSE") == Error("ERR wrong number of arguments for 'client|pause' command")
    assert raw.call("CLIENT", "PAUSE", "x") == Error("ERR timeout is not an integer or out of range")
    assert raw.call("CLIENT", "PAUSE", "-1") == Error("ERR timeout is negative")
    assert raw.call("CLIENT", "PAUSE", "10", "foo") == Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
    assert raw.call("CLIENT", "pause", "10", "write", "x") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.")
    assert raw.call("CLIENT", "UNPAUSE", "x") == Error("ERR wrong number of arguments for 'client|unpause' command")
    assert raw.call("CLIENT", "PAUSE", "0", "WRITE") == Simple("OK")
    assert raw.call("CLIENT", "UNPAUSE") == Simple("OK")


# ---------------------------------------------------------------------------------
# Odds and ends
# ---------------------------------------------------------------------------------
def test_object_freq_needs_an_lfu_policy(raw):
    raw.call("SET", "k", "v")
    assert raw.call("OBJECT", "FREQ", "k") == Error(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust.")


def test_debug_refused_by_default_on_ferrous(ferrous):
    client = RawClient(port=ferrous.port)
    try:
        assert client.call("DEBUG", "SLEEP", "0") == Error(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can "
            "run it from a local connection, otherwise you need to set this option in the configuration "
            "file, and then restart the server.")
    finally:
        client.close()


def test_info_stats_rates(r):
    for _ in range(50):
        r.set("rate", "x" * 100)
    stats = _poll(lambda: (lambda s: s if float(s["instantaneous_input_kbps"]) > 0 else None)(r.info("stats")))
    assert stats and float(stats["instantaneous_output_kbps"]) >= 0
    assert stats["total_net_input_bytes"] > 5000


def test_client_kill_has_no_maxage_in_70(raw):
    # MAXAGE arrived in Redis 7.4: 7.0 answers a syntax error.
    assert raw.call("CLIENT", "KILL", "MAXAGE", "10") == Error("ERR syntax error")


def test_reset_ends_monitor_mode(server):
    mon = Monitor(server.port)
    try:
        mon.sock.sendall(b"RESET\r\n")
        assert mon.line() == b"+RESET"
        mon.sock.sendall(b"SET after-reset 1\r\n")
        assert mon.line() == b"+OK"          # a normal client again: no keyspace refusal
    finally:
        mon.close()


def test_monitor_shows_scripts_before_their_commands(server, r):
    mon = Monitor(server.port)
    try:
        r.eval("redis.call('set', KEYS[1], '1') return redis.call('get', KEYS[1])", 1, "lk")
        r.execute_command("ECHO", "done")
        lines = [line for line in mon.lines_until(b'"done"') if b'"HELLO"' not in line]
        parsed = [LINE.fullmatch(line) for line in lines]
        assert [(m.group(4) == b"lua", m.group(5)) for m in parsed] == [
            (False, b'"EVAL" "redis.call(\'set\', KEYS[1], \'1\') return redis.call(\'get\', KEYS[1])" "1" "lk"'),
            (True, b'"set" "lk" "1"'), (True, b'"get" "lk"'), (False, b'"ECHO" "done"')]
    finally:
        mon.close()


def test_monitor_own_command_line_follows_its_reply(server):
    mon = Monitor(server.port)
    try:
        mon.sock.sendall(b"PING\r\nECHO hi\r\n")
        me = mon.sock.getsockname()
        mine = b"%s:%d]" % (me[0].encode(), me[1])
        own = []
        while len(own) < 5:
            line = mon.line()
            if not line.startswith(b"+1") or mine in line:
                own.append(line)
        assert own[0] == b"+PONG" and own[1].endswith(b'] "PING"')
        assert own[2:4] == [b"$2", b"hi"] and own[4].endswith(b'] "ECHO" "hi"')
    finally:
        mon.close()


def test_monitor_shows_a_blocked_command_when_it_blocks(server, r, slowlog_all):
    r.delete("mon-bl")
    mon = Monitor(server.port)
    blocker = RawClient(port=server.port)
    try:
        blocker.send_raw(b"BLPOP mon-bl 0\r\n")
        line = mon.line()
        while b'"HELLO"' in line or b'"CLIENT" "SETINFO"' in line:
            line = mon.line()
        assert line.endswith(b'"BLPOP" "mon-bl" "0"')       # shown before it is served
        _poll(lambda: r.info("clients")["blocked_clients"] == 1)
        r.rpush("mon-bl", "a")
        assert blocker.read_reply() == [b"mon-bl", b"a"]
        assert mon.lines_until(b'"RPUSH"')[-1].endswith(b'"RPUSH" "mon-bl" "a"')
        # Its slow log entry is written when it is served: after the RPUSH's.
        entries = r.slowlog_get(2)
        assert [e["command"] for e in entries] == [b"BLPOP mon-bl 0", b"RPUSH mon-bl a"]
        blocker.send_raw(b"BLPOP mon-bl 0.05\r\n")     # times out: shown, never slow-logged
        assert mon.lines_until(b'"BLPOP"')[-1].endswith(b'"BLPOP" "mon-bl" "0.05"')
        assert blocker.read_reply() is None
        logged = [e["command"] for e in r.slowlog_get(10)]
        assert b"BLPOP mon-bl 0" in logged and b"BLPOP mon-bl 0.05" not in logged
    finally:
        blocker.close()
        mon.close()


def test_monitor_shows_eval_queued_in_multi(server, r):
    mon = Monitor(server.port)
    try:
        pipe = r.pipeline(transaction=True)
        pipe.eval("return redis.call('set', KEYS[1], '1')", 1, "mk")
        pipe.set("mk2", "2")
        pipe.execute()
        r.execute_command("ECHO", "done")
        lines = [line for line in mon.lines_until(b'"done"') if b'"HELLO"' not in line]
        parsed = [LINE.fullmatch(line) for line in lines]
        assert [(m.group(4) == b"lua", m.group(5)) for m in parsed] == [
            (False, b'"MULTI"'),
            (False, b'"EVAL" "return redis.call(\'set\', KEYS[1], \'1\')" "1" "mk"'),
            (True, b'"set" "mk" "1"'), (False, b'"SET" "mk2" "2"'), (False, b'"EXEC"'),
            (False, b'"ECHO" "done"')]
    finally:
        mon.close()


def test_client_pause_write_freezes_expiry(server, r):
    """While paused, expired keys read as gone but stay: no lazy or active expiry
    (expired_keys unchanged, DBSIZE counts them); they go once the pause ends."""
    r.flushall()
    r.config_resetstat()
    for i in range(20):
        r.set(f"frozen:{i}", "v", px=50)
    r.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
    try:
        assert _poll(lambda: r.keys("frozen:*") == [])     # past their deadline: read as gone
        assert r.get("frozen:1") is None and r.exists("frozen:2") == 0 and r.pttl("frozen:3") == -2
        time.sleep(0.3)         # several cron ticks, in which active expiry must not run
        assert r.dbsize() == 20
        assert r.info("stats")["expired_keys"] == 0
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
    assert _poll(lambda: r.dbsize() == 0)
    assert r.info("stats")["expired_keys"] == 20


def test_client_pause_write_holds_eviction(server, r):
    r.flushall()
    r.config_resetstat()
    r.config_set("maxmemory-policy", "allkeys-random")
    for i in range(300):
        r.set(f"evict:{i}", b"x" * 1000)
    r.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
    try:
        r.config_set("maxmemory", int(r.info("memory")["used_memory"]) - 150_000)
        time.sleep(0.3)         # several cron ticks, in which nothing may be evicted
        assert r.info("stats")["evicted_keys"] == 0 and r.dbsize() == 300
        r.execute_command("CLIENT", "UNPAUSE")
        assert _poll(lambda: r.info("stats")["evicted_keys"] > 0)
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
        r.config_set("maxmemory", 0)
        r.config_set("maxmemory-policy", "noeviction")
        r.flushall()
