"""DEBUG and the latency monitor's events, on servers started with
`enable-debug-command yes` (Ferrous and Redis 7.0 side by side)."""
from __future__ import annotations

import re
import time

import pytest

from servers import KINDS
from resp_client import Error, RawClient, Simple, Verbatim
from servers import ServerProcess


@pytest.fixture(scope="module", params=KINDS)
def debug_server(request):
    proc = ServerProcess(request.param, args=["--enable-debug-command", "yes"])
    yield proc
    proc.stop()


@pytest.fixture
def client(debug_server):
    conn = RawClient(port=debug_server.port)
    conn.call("FLUSHALL")
    conn.call("LATENCY", "RESET")
    yield conn
    conn.call("CONFIG", "SET", "latency-monitor-threshold", "0")
    conn.close()


def _text(reply) -> bytes:
    return reply.text if isinstance(reply, Verbatim) else reply


def test_debug_sleep_and_latency_events(client):
    client.call("CONFIG", "SET", "latency-monitor-threshold", "10")
    started = time.monotonic()
    assert client.call("DEBUG", "SLEEP", "0.05") == Simple("OK")
    assert time.monotonic() - started >= 0.05
    assert client.call("DEBUG", "SLEEP", "0.03") == Simple("OK")
    latest = client.call("LATENCY", "LATEST")
    assert len(latest) == 1
    name, when, last, high = latest[0]
    assert name == b"command" and abs(when - time.time()) < 5
    assert 30 <= last < 1000 and 50 <= high < 1000 and last <= high
    history = client.call("LATENCY", "HISTORY", "command")
    assert 1 <= len(history) <= 2 and all(len(sample) == 2 for sample in history)
    assert max(ms for _, ms in history) == high


def test_latency_graph_and_doctor(client):
    client.call("CONFIG", "SET", "latency-monitor-threshold", "10")
    client.call("DEBUG", "SLEEP", "0.02")
    graph = _text(client.call("LATENCY", "GRAPH", "command")).decode()
    lines = graph.split("\n")
    assert re.fullmatch(r"command - high \d+ ms, low \d+ ms \(all time high \d+ ms\)", lines[0])
    assert lines[1] == "-" * 80
    assert lines[2:6] == [" ", " ", " ", "_"]        # one sample is its own minimum: the floor
    assert lines[6] == " " and re.fullmatch(r"\d", lines[7]) and lines[8] == "s"
    doctor = _text(client.call("LATENCY", "DOCTOR")).decode()
    assert doctor.startswith("Dave, I have observed latency spikes in this Redis instance.")
    assert re.search(r"1\. command: 1 latency spikes \(average \d+ms, mean deviation 0ms, period \d+\.\d\d sec\)\. "
                     r"Worst all time event \d+ms\.", doctor)
    assert "- Check your Slow Log to understand" in doctor
    assert client.call("LATENCY", "RESET", "COMMAND") == 1
    assert client.call("LATENCY", "LATEST") == []


def test_fast_commands_are_a_separate_event(client):
    client.call("CONFIG", "SET", "latency-monitor-threshold", "1")
    client.call("DEBUG", "SLEEP", "0.01")
    names = [entry[0] for entry in client.call("LATENCY", "LATEST")]
    assert names == [b"command"]            # DEBUG is not a fast command


def test_debug_object(client):
    client.call("SET", "s", "bar")
    text = client.call("DEBUG", "OBJECT", "s")
    assert isinstance(text, Simple)
    assert re.fullmatch(r"Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:\d+ lru:\d+ "
                        r"lru_seconds_idle:\d+", text.text)
    client.call("RPUSH", "l", "a", "b", "c")
    assert "encoding:quicklist" in client.call("DEBUG", "OBJECT", "l").text
    assert client.call("DEBUG", "OBJECT", "nokey") == Error("ERR no such key")


def test_debug_populate(client):
    assert client.call("DEBUG", "POPULATE", "3") == Simple("OK")
    assert sorted(client.call("KEYS", "*")) == [b"key:0", b"key:1", b"key:2"]
    assert client.call("GET", "key:1") == b"value:1"
    client.call("DEBUG", "POPULATE", "2", "p", "10")
    assert client.call("GET", "p:1") == b"value:1\x00\x00\x00"
    client.call("SET", "key:0", "mine")
    client.call("DEBUG", "POPULATE", "1")
    assert client.call("GET", "key:0") == b"mine"           # existing keys are left alone
    assert client.call("DEBUG", "POPULATE", "x") == Error("ERR value is out of range, must be positive")
    assert client.call("DEBUG", "POPULATE", "-1") == Error("ERR value is out of range, must be positive")


def test_debug_set_active_expire(client):
    assert client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == Simple("OK")
    try:
        client.call("SET", "gone", "v", "PX", "1")
        time.sleep(0.3)     # several active-expire cycles' worth
        assert client.call("DBSIZE") == 1                   # nobody expired it in the background
        assert client.call("GET", "gone") is None          # ... until it is looked up
    finally:
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_debug_errors_protocol_and_help(client):
    sub_error = "ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."
    assert client.call("DEBUG", "foo") == Error(sub_error % "foo")
    assert client.call("DEBUG", "sleep") == Error(sub_error % "sleep")
    assert client.call("DEBUG", "SLEEP", "x") == Simple("OK")      # atof("x") is 0
    assert client.call("DEBUG") == Error("ERR wrong number of arguments for 'debug' command")
    assert client.call("DEBUG", "ERROR", "MYERR custom") == Error("MYERR custom")
    assert client.call("DEBUG", "PROTOCOL", "integer") == 12345
    assert client.call("DEBUG", "PROTOCOL", "array") == [0, 1, 2]
    assert client.call("DEBUG", "PROTOCOL", "foo") == Error(
        "ERR Wrong protocol type name. Please use one of the following: "
        "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
    help_lines = client.call("DEBUG", "HELP")
    assert help_lines[0] == Simple("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    for line in ("SLEEP <seconds>", "OBJECT <key>", "SET-ACTIVE-EXPIRE <0|1>", "POPULATE <count> [<prefix>] [<size>]"):
        assert Simple(line) in help_lines


def test_slowlog_catches_a_slow_command(client):
    client.call("SLOWLOG", "RESET")
    client.call("DEBUG", "SLEEP", "0.02")           # over the default 10 ms threshold
    entries = client.call("SLOWLOG", "GET")
    assert [entry[3] for entry in entries] == [[b"DEBUG", b"SLEEP", b"0.02"]]
    assert entries[0][2] >= 20000


def test_latency_graph_drawing_matches_redis():
    """sparkline.c's drawing, checked against a graph real Redis 7.0 drew for two
    samples of 20 and 30 ms taken one second apart."""
    from ferrous.commands.introspection import latency_graph_text
    now = int(time.time())
    text = latency_graph_text("command", [[now - 1, 20], [now, 30]], 30)
    assert text == ("command - high 30 ms, low 20 ms (all time high 30 ms)\n" + "-" * 80 + "\n"
                    " #\n |\n |\n_|\n  \n10\nss\n")


def test_debug_reload(client):
    client.call("SET", "s", "v")
    client.call("RPUSH", "l", "a", "b")
    client.call("SET", "ttl", "x", "EX", "1000")
    assert client.call("DEBUG", "RELOAD") == Simple("OK")
    assert client.call("GET", "s") == b"v"
    assert client.call("LRANGE", "l", "0", "-1") == [b"a", b"b"]
    assert 0 < client.call("TTL", "ttl") <= 1000
    client.call("SET", "s", "changed")
    client.call("SET", "extra", "1")
    assert client.call("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == Simple("OK")
    assert client.call("GET", "s") == b"v"                 # the file's value wins
    assert client.call("GET", "extra") == b"1"             # kept: not flushed
    assert client.call("DEBUG", "RELOAD", "foo") == Error(
        "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
