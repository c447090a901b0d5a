"""DEBUG and the latency monitor's events, on servers started with
`enable-debug-command yes` (Ferrous and Redis 7.0 side by side)."""
from __future__ import annotations

import os
import re
import time

import pytest
import redis

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
    assert len(help_lines) == 106 and help_lines[-3:] == [
        Simple("    Kills the link based on the direction to/from (both) with the provided node."),
        Simple("HELP"), Simple("    Prints this help.")]


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


# ---------------------------------------------------------------------------------
# DIGEST / DIGEST-VALUE
# ---------------------------------------------------------------------------------
_ZERO_DIGEST = "0" * 40


def _build_dataset(call) -> None:
    """Every type in every encoding, with TTLs and a second database."""
    call("SET", "str", "hello")
    call("SET", "int", "12345")
    call("SET", "raw", "x" * 100)
    call("SET", "ttl", "v", "EX", "1000")
    call("SETBIT", "bits", "100", "1")
    call("PFADD", "hll", "a", "b", "c")
    call("RPUSH", "list", "a", "b", "1", "2", "c")
    call("RPUSH", "biglist", *[str(i) * (i % 50 + 1) for i in range(300)])
    call("SADD", "intset", "1", "2", "3", "-5")
    call("SADD", "hashset", "a", "b", "c", "1")
    call("SADD", "bigset", *[str(i) for i in range(600)])
    call("ZADD", "zlistpack", "1", "a", "2.5", "b", "-0", "c", "inf", "d", "-inf", "e", "3", "10")
    call("ZADD", "zskiplist", *[x for i in range(200) for x in (str(i * 0.1), "m%d" % i)])
    call("HSET", "hlistpack", "f", "v", "n", "1", "e", "")
    call("HSET", "hhashtable", *[x for i in range(300) for x in ("f%d" % i, "v%d" % i)])
    call("HSET", "hlong", "f", "y" * 100)
    call("XADD", "stream", "1-1", "a", "1", "b", "2")
    call("XADD", "stream", "1-2", "a", "3", "b", "4")
    call("XADD", "stream", "2-0", "c", "5")
    call("XDEL", "stream", "1-2")
    call("XGROUP", "CREATE", "stream", "g", "0")
    call("XADD", "emptystream", "5-5", "x", "y")
    call("XDEL", "emptystream", "5-5")
    call("PEXPIRE", "zskiplist", "100000")
    call("EXPIRE", "list", "500")
    call("SELECT", "3")
    call("SET", "db3", "v")
    call("RPUSH", "list3", "x")
    call("SELECT", "0")


def _digests(client) -> tuple:
    keys = sorted(client.call("KEYS", "*"))
    values = client.call("DEBUG", "DIGEST-VALUE", *keys, "missing")
    return client.call("DEBUG", "DIGEST"), dict(zip(keys + [b"missing"], values))


@pytest.fixture(scope="module")
def ferrous_debug():
    proc = ServerProcess("ferrous", args=["--enable-debug-command", "yes"])
    yield proc
    proc.stop()


@pytest.mark.ferrous_only
def test_digests_equal_real_redis_for_the_same_dataset(ferrous_debug, real_redis):
    """computeDatasetDigest / xorObjectDigest give Redis's own hex digests."""
    results = []
    for proc in (ferrous_debug, real_redis):
        conn = RawClient(port=proc.port)
        conn.call("FLUSHALL")
        _build_dataset(conn.call)
        results.append(_digests(conn))
        conn.close()
    (ferrous_digest, ferrous_values), (redis_digest, redis_values) = results
    assert ferrous_values == redis_values
    assert ferrous_digest == redis_digest != Simple(_ZERO_DIGEST)
    assert ferrous_values[b"missing"] == Simple(_ZERO_DIGEST)


@pytest.mark.ferrous_only
def test_debug_help_is_redis_text(ferrous_debug, real_redis):
    replies = []
    for proc in (ferrous_debug, real_redis):
        conn = RawClient(port=proc.port)
        replies.append(conn.call("DEBUG", "HELP"))
        conn.close()
    assert replies[0] == replies[1]


def test_digest_of_empty_dataset_and_of_missing_keys(client):
    assert client.call("DEBUG", "DIGEST") == Simple(_ZERO_DIGEST)
    assert client.call("DEBUG", "DIGEST-VALUE") == []
    assert client.call("DEBUG", "DIGEST-VALUE", "nokey") == [Simple(_ZERO_DIGEST)]
    client.call("SELECT", "5")
    client.call("SET", "k", "v")
    in_db5 = client.call("DEBUG", "DIGEST")
    client.call("MOVE", "k", "0")
    assert client.call("DEBUG", "DIGEST") not in (in_db5, Simple(_ZERO_DIGEST))   # the db id counts
    client.call("SELECT", "0")
    assert client.call("DEBUG", "DIGEST", "x") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'DIGEST'. Try DEBUG HELP.")


def test_digest_ignores_set_order_but_not_list_order(client):
    client.call("SADD", "s1", "a", "b", "c")
    client.call("SADD", "s2", "c", "b", "a")
    client.call("RPUSH", "l1", "a", "b")
    client.call("RPUSH", "l2", "b", "a")
    client.call("HSET", "h1", "f", "v", "g", "w")
    client.call("HSET", "h2", "g", "w", "f", "v")
    s1, s2, l1, l2, h1, h2 = client.call("DEBUG", "DIGEST-VALUE", "s1", "s2", "l1", "l2", "h1", "h2")
    assert s1 == s2 and h1 == h2 and l1 != l2


def test_digest_counts_the_ttl_and_survives_copy_and_reload(client):
    """COPY of every encoding digests like its original (unit/keyspace's COPY tests)."""
    _build_dataset(client.call)
    keys = [b"list", b"intset", b"hashset", b"zlistpack", b"zskiplist", b"hlistpack", b"hhashtable", b"stream"]
    for key in keys:
        client.call("COPY", key, b"copy:" + key)
        original, copied = client.call("DEBUG", "DIGEST-VALUE", key, b"copy:" + key)
        assert original == copied, key      # COPY keeps the TTL too
    before = client.call("DEBUG", "DIGEST")
    assert client.call("DEBUG", "RELOAD") == Simple("OK")
    assert client.call("DEBUG", "DIGEST") == before
    with_ttl = client.call("DEBUG", "DIGEST-VALUE", "ttl")
    client.call("PERSIST", "ttl")
    assert client.call("DEBUG", "DIGEST-VALUE", "ttl") != with_ttl


# ---------------------------------------------------------------------------------
# PROTOCOL: byte for byte
# ---------------------------------------------------------------------------------
_PROTOCOL_BYTES = {
    2: {
        "double": b"$5\r\n3.141\r\n", "null": b"$-1\r\n", "set": b"*3\r\n:0\r\n:1\r\n:2\r\n",
        "map": b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
        "bignum": b"$37\r\n1234567999999999999999999999999999999\r\n",
        "attrib": b"$39\r\nSome real reply following the attribute\r\n",
        "push": b"-ERR RESP2 is not supported by this command\r\n",
        "verbatim": b"$25\r\nThis is a verbatim\nstring\r\n", "true": b":1\r\n", "false": b":0\r\n",
    },
    3: {
        "double": b",3.141\r\n", "null": b"_\r\n", "set": b"~3\r\n:0\r\n:1\r\n:2\r\n",
        "map": b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
        "bignum": b"(1234567999999999999999999999999999999\r\n",
        "attrib": (b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
                   b"$39\r\nSome real reply following the attribute\r\n"),
        "push": b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n",
        "verbatim": b"=29\r\ntxt:This is a verbatim\nstring\r\n", "true": b"#t\r\n", "false": b"#f\r\n",
    },
}
_PROTOCOL_SAME = {"string": b"$11\r\nHello World\r\n", "integer": b":12345\r\n",
                  "array": b"*3\r\n:0\r\n:1\r\n:2\r\n"}


def _raw_bytes(client, expected_length: int, *args) -> bytes:
    from resp_client import encode_command
    client.send_raw(encode_command(*args))
    while len(client.buf) < expected_length:
        client._fill()
    data, client.buf = client.buf[:expected_length], client.buf[expected_length:]
    return data


@pytest.mark.parametrize("resp", [2, 3])
def test_debug_protocol_bytes(client, resp):
    if resp == 3:
        client.call("HELLO", "3")
    for kind, expected in {**_PROTOCOL_SAME, **_PROTOCOL_BYTES[resp]}.items():
        assert _raw_bytes(client, len(expected), "DEBUG", "PROTOCOL", kind.upper()) == expected, kind
    assert client.call("PING") == Simple("PONG")       # nothing left over on the connection


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def debug_r(debug_server, request):
    """redis-py on the DEBUG-enabled server, over RESP2 and RESP3."""
    client = redis.Redis(port=debug_server.port, protocol=request.param, socket_timeout=20)
    client.flushall()
    yield client
    client.close()


def test_protocol_reads_through_clients(debug_r):
    """redis-py reads the types it knows (it has no parser for RESP3 attributes)."""
    resp3 = debug_r.get_connection_kwargs().get("protocol") == 3
    bignum = debug_r.execute_command("DEBUG", "PROTOCOL", "bignum")     # bytes or int per parser
    assert int(bignum) == 1234567999999999999999999999999999999
    assert debug_r.execute_command("DEBUG", "PROTOCOL", "map") == (
        {0: False, 1: True, 2: False} if resp3 else [0, 0, 1, 1, 2, 0])
    assert debug_r.execute_command("DEBUG", "PROTOCOL", "double") == (3.141 if resp3 else b"3.141")
    if not resp3:
        assert debug_r.execute_command("DEBUG", "PROTOCOL", "attrib") == b"Some real reply following the attribute"
    assert debug_r.ping()


# ---------------------------------------------------------------------------------
# QUICKLIST-PACKED-THRESHOLD, OBJECT, LISTPACK, QUICKLIST
# ---------------------------------------------------------------------------------
_THRESHOLD_ERROR = Error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")


def _ql_fields(client, key) -> dict:
    text = client.call("DEBUG", "OBJECT", key).text
    return dict(re.findall(r"(ql_\w+|serializedlength):(\S+)", text))


def test_quicklist_packed_threshold_validation(client):
    for good in ("1b", "b", "", "0", "1k", "4095mb", "100", "1GB"):
        assert client.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", good) == Simple("OK"), good
    for bad in ("4gb", "-1", "1x", "1 kb", "9" * 128):
        assert client.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", bad) == _THRESHOLD_ERROR, bad
    assert client.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'QUICKLIST-PACKED-THRESHOLD'. Try DEBUG HELP.")
    client.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0")


def test_packed_threshold_gives_large_elements_plain_nodes(client):
    """Elements at or over the threshold get nodes of their own: DEBUG OBJECT and the
    serialized (DUMP) form show the plain nodes, and every list command still works."""
    client.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5b")
    try:
        client.call("RPUSH", "l", "aa", "bb", "xxxxxxxxxx", "cc", "dddddd", "12")
        assert _ql_fields(client, "l") == {
            "serializedlength": "62", "ql_nodes": "5", "ql_avg_node": "1.20", "ql_listpack_max": "-2",
            "ql_compressed": "0", "ql_uncompressed_size": "51"}
        payload = client.call("DUMP", "l")
        client.call("LSET", "l", "0", "y" * 50)
        client.call("LINSERT", "l", "BEFORE", "cc", "zzzzzzzz")
        assert client.call("LRANGE", "l", "0", "-1") == [
            b"y" * 50, b"bb", b"xxxxxxxxxx", b"zzzzzzzz", b"cc", b"dddddd", b"12"]
    finally:
        client.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0")
    client.call("RESTORE", "back", "0", payload)
    assert client.call("LRANGE", "back", "0", "-1") == [b"aa", b"bb", b"xxxxxxxxxx", b"cc", b"dddddd", b"12"]
    client.call("DEL", "l2")
    client.call("RPUSH", "l2", "aa", "bb", "xxxxxxxxxx", "cc", "dddddd", "12")
    assert _ql_fields(client, "l2")["ql_nodes"] == "1"         # the 1gb default packs them all


def test_debug_object_quicklist_nodes_follow_the_fill(client):
    client.call("CONFIG", "SET", "list-max-listpack-size", "5")
    try:
        client.call("RPUSH", "l", *range(23))
        assert _ql_fields(client, "l") == {
            "serializedlength": "92", "ql_nodes": "5", "ql_avg_node": "4.60", "ql_listpack_max": "5",
            "ql_compressed": "0", "ql_uncompressed_size": "81"}
    finally:
        client.call("CONFIG", "SET", "list-max-listpack-size", "-2")
    client.call("RPUSH", "big", *range(1, 2001))
    assert _ql_fields(client, "big") == {
        "serializedlength": "5884", "ql_nodes": "1", "ql_avg_node": "2000.00", "ql_listpack_max": "-2",
        "ql_compressed": "0", "ql_uncompressed_size": "5880"}


def test_debug_listpack_and_quicklist(client):
    client.call("RPUSH", "l", "a", "b")
    client.call("HSET", "h", "f", "v")
    client.call("ZADD", "z", "1", "m")
    client.call("SET", "s", "v")
    assert client.call("DEBUG", "LISTPACK", "h") == Simple("Listpack structure printed on stdout")
    assert client.call("DEBUG", "LISTPACK", "z") == Simple("Listpack structure printed on stdout")
    assert client.call("DEBUG", "LISTPACK", "l") == Error("ERR Not a listpack encoded object.")
    assert client.call("DEBUG", "LISTPACK", "s") == Error("ERR Not a listpack encoded object.")
    assert client.call("DEBUG", "LISTPACK", "nokey") == Error("ERR no such key")
    assert client.call("DEBUG", "QUICKLIST", "l") == Simple("Quicklist structure printed on stdout")
    assert client.call("DEBUG", "QUICKLIST", "l", "1") == Simple("Quicklist structure printed on stdout")
    assert client.call("DEBUG", "QUICKLIST", "h") == Error("ERR Not a quicklist encoded object.")
    assert client.call("DEBUG", "QUICKLIST", "nokey") == Error("ERR no such key")
    assert client.call("DEBUG", "QUICKLIST", "l", "1", "2") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'QUICKLIST'. Try DEBUG HELP.")


# ---------------------------------------------------------------------------------
# HTSTATS, HTSTATS-KEY
# ---------------------------------------------------------------------------------
_EMPTY_TABLE = "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"


def _table_stats(text: str) -> dict:
    assert text.startswith("Hash table 0 stats (main hash table):\n")
    fields = dict(re.findall(r"^ ([a-z ()]+): (\d+(?:\.\d\d)?)$", text, re.M))
    distribution = {int(n): int(c) for n, c, _ in re.findall(r"^   (\d+): (\d+) \((\d+\.\d\d)%\)$", text, re.M)}
    assert sum(distribution.values()) == int(fields["table size"])
    assert sum(n * c for n, c in distribution.items()) == int(fields["number of elements"])
    assert int(fields["different slots"]) == int(fields["table size"]) - distribution.get(0, 0)
    assert int(fields["max chain length"]) == max(distribution)
    return fields


def test_debug_htstats(client):
    assert _text(client.call("DEBUG", "HTSTATS", "0")).decode() == (
        "[Dictionary HT]\n" + _EMPTY_TABLE + "[Expires HT]\n" + _EMPTY_TABLE)
    client.call("DEBUG", "POPULATE", "7")
    client.call("EXPIRE", "key:1", "100")
    text = _text(client.call("DEBUG", "HTSTATS", "0")).decode()
    main, expires = text.split("[Expires HT]\n")
    assert main.startswith("[Dictionary HT]\n")
    fields = _table_stats(main[len("[Dictionary HT]\n"):])
    assert fields["table size"] == "8" and fields["number of elements"] == "7"
    assert _table_stats(expires)["number of elements"] == "1"
    assert client.call("DEBUG", "HTSTATS", "16") == Error("ERR Out of range database")
    assert client.call("DEBUG", "HTSTATS", "-1") == Error("ERR Out of range database")
    assert client.call("DEBUG", "HTSTATS", "x") == Error("ERR value is not an integer or out of range")


def test_debug_htstats_key(client):
    client.call("SADD", "s", *range(600))
    fields = _table_stats(_text(client.call("DEBUG", "HTSTATS-KEY", "s")).decode())
    assert fields["table size"] == "1024" and fields["number of elements"] == "600"
    client.call("ZADD", "z", *[x for i in range(200) for x in (i, "m%d" % i)])
    assert _table_stats(_text(client.call("DEBUG", "HTSTATS-KEY", "z")).decode())["table size"] == "256"
    client.call("HSET", "h", *[x for i in range(600) for x in ("f%d" % i, i)])
    assert _table_stats(_text(client.call("DEBUG", "HTSTATS-KEY", "h")).decode())["number of elements"] == "600"
    client.call("SADD", "small", "1")
    client.call("RPUSH", "l", "a")
    not_table = Error("ERR The value stored at the specified key is not represented using an hash table")
    for key in ("small", "l"):
        assert client.call("DEBUG", "HTSTATS-KEY", key) == not_table
    assert client.call("DEBUG", "HTSTATS-KEY", "nokey") == Error("ERR no such key")


# ---------------------------------------------------------------------------------
# Switches and the rest of debug.c's subcommands
# ---------------------------------------------------------------------------------
def test_debug_switches_reply_as_redis(client):
    ok = Simple("OK")
    for args in (("PAUSE-CRON", "1"), ("PAUSE-CRON", "0"), ("SET-SKIP-CHECKSUM-VALIDATION", "0"),
                 ("SET-DISABLE-DENY-SCRIPTS", "0"), ("AOF-FLUSH-SLEEP", "0"), ("LEAK", "x"),
                 ("REPLYBUFFER", "PEAK-RESET-TIME", "NEVER"), ("REPLYBUFFER", "PEAK-RESET-TIME", "RESET"),
                 ("REPLYBUFFER", "PEAK-RESET-TIME", "100"), ("REPLYBUFFER", "RESIZING", "0"),
                 ("REPLYBUFFER", "RESIZING", "1"), ("DROP-CLUSTER-PACKET-FILTER", "-1"), ("REPLICATE", "x")):
        assert client.call("DEBUG", *args) == ok, args
    syntax = "ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."
    assert client.call("DEBUG", "REPLYBUFFER", "foo", "1") == Error(syntax % "REPLYBUFFER")
    assert client.call("DEBUG", "REPLYBUFFER", "RESIZING") == Error(syntax % "REPLYBUFFER")
    assert client.call("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "x") == Error(
        "ERR value is not an integer or out of range")
    assert client.call("DEBUG", "PAUSE-CRON") == Error(syntax % "PAUSE-CRON")
    assert client.call("DEBUG", "CHANGE-REPL-ID", "x") == Error(syntax % "CHANGE-REPL-ID")
    assert client.call("DEBUG", "STRINGMATCH-TEST", "x") == Error(syntax % "STRINGMATCH-TEST")
    assert client.call("DEBUG", "REPLICATE") == Error(syntax % "REPLICATE")
    assert client.call("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "x") == Error(
        "ERR value is not an integer or out of range")
    assert client.call("DEBUG", "CLUSTERLINK", "KILL", "to", "x") == Error(
        "ERR Debug option only available for cluster mode enabled setup!")
    assert client.call("DEBUG", "CLUSTERLINK", "foo") == Error(syntax % "CLUSTERLINK")
    assert client.call("DEBUG", "MALLCTL", "nosuchkey") == Error("ERR No such file or directory")
    assert client.call("DEBUG", "CONFIG-REWRITE-FORCE-ALL") == Error(
        "ERR CONFIG-REWRITE-FORCE-ALL failed: Bad address")          # no config file
    assert client.call("DEBUG", "POPULATE", "1", "p", "-1") == Error("ERR value is out of range, must be positive")


def test_debug_change_repl_id(client):
    def replids():
        info = client.call("INFO", "replication").decode()
        return re.search(r"master_replid:(\w+)", info).group(1), re.search(r"master_replid2:(\w+)", info).group(1)

    before, _ = replids()
    assert client.call("DEBUG", "CHANGE-REPL-ID") == Simple("OK")
    after, second = replids()
    assert after != before and len(after) == 40 and second == "0" * 40


def test_debug_set_disable_deny_scripts(client):
    script = "return redis.call('debug', 'digest-value', 'nokey')"
    assert client.call("EVAL", script, "0").text.startswith("ERR This Redis command is not allowed from script")
    client.call("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")
    try:
        assert client.call("EVAL", script, "0") == [Simple(_ZERO_DIGEST)]
    finally:
        client.call("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")
    assert isinstance(client.call("EVAL", script, "0"), Error)


def test_debug_set_skip_checksum_validation(client):
    client.call("SET", "k", "value")
    payload = bytearray(client.call("DUMP", "k"))
    payload[-1] ^= 0xFF                         # break the CRC64
    assert client.call("RESTORE", "k2", "0", bytes(payload)) == Error("ERR DUMP payload version or checksum are wrong")
    client.call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
    try:
        assert client.call("RESTORE", "k2", "0", bytes(payload)) == Simple("OK")
    finally:
        client.call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0")
    assert client.call("GET", "k2") == b"value"


@pytest.mark.slow
def test_debug_stringmatch_test(client):
    assert client.call("DEBUG", "STRINGMATCH-TEST") == Simple("Apparently Redis did not crash: test passed")


@pytest.mark.parametrize("kind", KINDS)
def test_debug_loadaof(kind):
    """LOADAOF replays the AOF (MULTI blocks and SELECTs included) into an emptied
    dataset and writes nothing new to it."""
    proc = ServerProcess(kind, args=["--enable-debug-command", "yes", "--appendonly", "yes"])
    try:
        conn = RawClient(port=proc.port)
        conn.call("SET", "k", "v")
        conn.call("RPUSH", "l", "a", "b")
        conn.call("MULTI")
        conn.call("INCR", "n")
        conn.call("INCR", "n")
        conn.call("EXEC")
        conn.call("SELECT", "2")
        conn.call("SET", "k2", "v2", "EX", "100")
        conn.call("SELECT", "0")
        digest = conn.call("DEBUG", "DIGEST")
        incr = [os.path.join(proc.dir, "appendonlydir", name)
                for name in os.listdir(os.path.join(proc.dir, "appendonlydir")) if ".incr." in name]
        sizes = [os.path.getsize(path) for path in incr]
        conn.call("SET", "k", "changed-only-in-the-file-too")
        conn.call("SET", "k", "v")
        assert conn.call("DEBUG", "LOADAOF") == Simple("OK")
        assert conn.call("DEBUG", "DIGEST") == digest
        assert conn.call("GET", "n") == b"2" and conn.call("LRANGE", "l", "0", "-1") == [b"a", b"b"]
        conn.call("SELECT", "2")
        assert 0 < conn.call("TTL", "k2") <= 100
        assert [os.path.getsize(path) for path in incr] > sizes       # only the two SETs were added
        grown = [os.path.getsize(path) for path in incr]
        conn.call("DEBUG", "LOADAOF")
        assert [os.path.getsize(path) for path in incr] == grown
        conn.close()
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_debug_loadaof_without_an_aof_exits(kind):
    """loadAppendOnlyFiles finds nothing to load: Redis exits with status 1."""
    proc = ServerProcess(kind, args=["--enable-debug-command", "yes"])
    try:
        conn = RawClient(port=proc.port)
        conn.send_raw(b"DEBUG LOADAOF\r\n")
        with pytest.raises((ConnectionError, OSError)):
            conn.read_reply()
        assert proc.proc.wait(10) == 1
        conn.close()
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_xadd_trimmed_with_limit_replays_from_the_aof(kind):
    """stream.tcl's "XADD with ~ MAXLEN and LIMIT can propagate correctly": the AOF
    holds the exact rewrite (MAXLEN = n LIMIT l), which the AOF client must accept
    (mustObeyClient), and neither DEBUG LOADAOF nor DEBUG RELOAD lands in the AOF."""
    proc = ServerProcess(kind, args=["--enable-debug-command", "yes", "--appendonly", "yes",
                                     "--stream-node-max-entries", "10"])
    try:
        conn = RawClient(port=proc.port)
        for _ in range(100):
            conn.call("XADD", "mystream", "*", "xitem", "v")
        conn.call("XADD", "mystream", "MAXLEN", "~", "55", "LIMIT", "30", "*", "xitem", "v")
        assert conn.call("XLEN", "mystream") == 71
        conn.call("CONFIG", "SET", "stream-node-max-entries", "1")
        assert conn.call("DEBUG", "LOADAOF") == Simple("OK")
        conn.call("XADD", "mystream", "*", "xitem", "v")
        assert conn.call("XLEN", "mystream") == 72
        assert conn.call("DEBUG", "RELOAD") == Simple("OK")
        directory = os.path.join(proc.dir, "appendonlydir")
        for name in os.listdir(directory):
            if ".incr." in name:
                with open(os.path.join(directory, name), "rb") as fh:
                    assert b"debug" not in fh.read().lower()
        conn.close()
    finally:
        proc.stop()
