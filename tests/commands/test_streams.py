"""Stream group against Ferrous and real Redis 7.0, RESP2 and RESP3: IDs, XADD/XTRIM
node semantics, ranges, consumer groups, PEL commands, XINFO, error texts,
keyspace notifications. Blocking reads are in test_streams_blocking.py."""
from __future__ import annotations

import time

import pytest
from resp_client import Error, RespMap, Simple

OK = Simple("OK")
INVALID_ID = Error("ERR Invalid stream ID specified as stream command argument")
WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = Error("ERR syntax error")


def flat(reply):
    """A RESP3 map as RESP2's flat array, recursively, so one expectation fits both."""
    if isinstance(reply, RespMap):
        out = []
        for key, value in reply.items:
            out += [flat(key), flat(value)]
        return out
    if isinstance(reply, list):
        return [flat(item) for item in reply]
    return reply


def as_dict(reply) -> dict:
    pairs = flat(reply)
    return dict(zip(pairs[0::2], pairs[1::2]))


def by_key(reply) -> dict:
    """XREAD's reply as {key: entries}: a map in RESP3, [[key, entries], ...] in RESP2."""
    if isinstance(reply, RespMap):
        return dict(reply.items)
    return {key: entries for key, entries in reply}


def fill(raw, key="s", n=3, start=1):
    for i in range(start, start + n):
        raw.call("XADD", key, f"{i}-1", "f", str(i))


# -- XADD and IDs -----------------------------------------------------------------------
def test_xadd_explicit_and_partial_ids(raw):
    assert raw.call("XADD", "s", "1-1", "a", "1") == b"1-1"
    assert raw.call("XADD", "s", "1-*", "a", "2") == b"1-2"
    assert raw.call("XADD", "s", "5-*", "a", "3") == b"5-0"
    assert raw.call("XADD", "s", "7", "a", "4") == b"7-0"
    assert raw.call("XADD", "s", "7-0", "a", "5") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    assert raw.call("XADD", "s", "6-*", "a", "5") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    assert raw.call("XLEN", "s") == 4


def test_xadd_auto_id_is_time_based_and_monotonic(raw):
    before = int(time.time() * 1000)
    first = raw.call("XADD", "s", "*", "a", "1")
    second = raw.call("XADD", "s", "*", "a", "2")
    ms, seq = map(int, first.split(b"-"))
    assert ms >= before - 1000
    assert tuple(map(int, second.split(b"-"))) > (ms, seq)
    raw.call("XADD", "t", "99999999999999-5", "a", "1")
    assert raw.call("XADD", "t", "*", "a", "1") == b"99999999999999-6"


def test_xadd_zero_id_and_exhausted_stream(raw):
    assert raw.call("XADD", "s", "0-0", "a", "1") == Error("ERR The ID specified in XADD must be greater than 0-0")
    assert raw.call("EXISTS", "s") == 0
    assert raw.call("XADD", "s", "0-*", "a", "1") == b"0-1"
    top = "18446744073709551615-18446744073709551615"
    assert raw.call("XADD", "s", top, "a", "1") == top.encode()
    assert raw.call("XADD", "s", "*", "a", "1") == Error(
        "ERR The stream has exhausted the last possible ID, unable to add more items")


@pytest.mark.parametrize("bad", ["abc", "1-x", "-1", "1-1-1", "18446744073709551616-0", "-", "+", "", "1-"])
def test_xadd_invalid_ids(raw, bad):
    assert raw.call("XADD", "s", bad, "a", "1") == INVALID_ID


def test_xadd_lax_number_forms_like_strtoull(raw):
    # string2ull falls back to strtoull: leading zeros, '+' and spaces are accepted.
    assert raw.call("XADD", "s", "007-+3", "a", "1") == b"7-3"
    assert raw.call("XADD", "s", " 8-1", "a", "1") == b"8-1"


def test_xadd_arity_and_options(raw):
    assert raw.call("XADD", "s", "1-1", "a") == Error("ERR wrong number of arguments for 'xadd' command")
    assert raw.call("XADD", "s", "1-1", "a", "1", "b") == Error("ERR wrong number of arguments for 'xadd' command")
    assert raw.call("XADD", "s", "NOMKSTREAM", "1-1", "a", "1") is None
    assert raw.call("EXISTS", "s") == 0
    assert raw.call("XADD", "s", "MAXLEN", "1", "MINID", "1", "1-1", "a", "1") == Error(
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    assert raw.call("XADD", "s", "MAXLEN", "-1", "1-1", "a", "1") == Error("ERR The MAXLEN argument must be >= 0.")
    assert raw.call("XADD", "s", "MAXLEN", "x", "1-1", "a", "1") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("XADD", "s", "LIMIT", "5", "1-1", "a", "1") == Error(
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    assert raw.call("XADD", "s", "MAXLEN", "1", "LIMIT", "5", "1-1", "a", "1") == Error(
        "ERR syntax error, LIMIT cannot be used without the special ~ option")
    assert raw.call("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "1-1", "a", "1") == Error(
        "ERR The LIMIT argument must be >= 0.")
    assert raw.call("XADD", "s", "MINID", "bad", "1-1", "a", "1") == INVALID_ID
    assert raw.call("XADD", "s", "MAXLEN", "=", "1", "1-1", "a", "1") == b"1-1"
    assert raw.call("XADD", "s", "MAXLEN", "1", "2-1", "a", "1") == b"2-1"
    assert raw.call("XLEN", "s") == 1


def test_xadd_wrongtype(raw):
    raw.call("SET", "str", "x")
    assert raw.call("XADD", "str", "*", "a", "1") == WRONGTYPE
    assert raw.call("XLEN", "str") == WRONGTYPE
    assert raw.call("XRANGE", "str", "-", "+") == WRONGTYPE
    assert raw.call("TYPE", "str") == Simple("string")


def test_type_and_object_encoding(raw):
    fill(raw)
    assert raw.call("TYPE", "s") == Simple("stream")
    assert raw.call("OBJECT", "ENCODING", "s") == b"stream"


def test_copy_is_deep(raw):
    fill(raw)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    assert raw.call("COPY", "s", "t") == 1
    raw.call("XADD", "s", "9-9", "x", "y")
    raw.call("XACK", "s", "g", "1-1")
    assert raw.call("XLEN", "t") == 3
    assert flat(raw.call("XPENDING", "t", "g"))[0] == 1
    assert flat(raw.call("XPENDING", "s", "g"))[0] == 0


# -- XRANGE / XREVRANGE ----------------------------------------------------------------
def test_xrange_bounds_count_and_exclusive(raw):
    fill(raw, n=5)
    ids = lambda reply: [entry[0] for entry in reply]  # noqa: E731
    assert raw.call("XRANGE", "s", "-", "+") == [[b"%d-1" % i, [b"f", b"%d" % i]] for i in range(1, 6)]
    assert ids(raw.call("XRANGE", "s", "2", "4")) == [b"2-1", b"3-1", b"4-1"]
    assert ids(raw.call("XRANGE", "s", "(2-1", "(4-1")) == [b"3-1"]
    assert ids(raw.call("XRANGE", "s", "-", "+", "COUNT", "2")) == [b"1-1", b"2-1"]
    assert ids(raw.call("XREVRANGE", "s", "+", "-", "COUNT", "2")) == [b"5-1", b"4-1"]
    assert ids(raw.call("XREVRANGE", "s", "(5-1", "(1-1")) == [b"4-1", b"3-1", b"2-1"]
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "-3") is None      # a negative COUNT is 0
    assert raw.call("XRANGE", "s", "4", "2") == []
    assert raw.call("XRANGE", "nokey", "-", "+") == []


def test_xrange_count_zero_is_a_null_array(raw):
    fill(raw)
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "0") is None
    assert raw.call("XRANGE", "nokey", "-", "+", "COUNT", "0") == []


def test_xrange_errors(raw):
    fill(raw)
    assert raw.call("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+") == Error(
        "ERR invalid start ID for the interval")
    assert raw.call("XRANGE", "s", "-", "(0-0") == Error("ERR invalid end ID for the interval")
    assert raw.call("XRANGE", "s", "(-", "+") == INVALID_ID
    assert raw.call("XRANGE", "s", "x", "+") == INVALID_ID
    assert raw.call("XRANGE", "s", "-", "+", "COUNT") == SYNTAX
    assert raw.call("XRANGE", "s", "-", "+", "LIMIT", "1") == SYNTAX
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "x") == Error("ERR value is not an integer or out of range")


def test_xrange_across_many_nodes(raw):
    raw.call("CONFIG", "SET", "stream-node-max-entries", "10")
    try:
        for i in range(1, 301):
            raw.call("XADD", "s", f"{i}-0", "n", str(i))
        got = raw.call("XRANGE", "s", "95", "(212")
        # "(212" excludes 212-18446744073709551615 only: 212-0 is in.
        assert [e[0] for e in got] == [b"%d-0" % i for i in range(95, 213)]
        got = raw.call("XREVRANGE", "s", "212", "95", "COUNT", "30")
        assert [e[0] for e in got] == [b"%d-0" % i for i in range(212, 182, -1)]
        for i in range(100, 200):
            raw.call("XDEL", "s", f"{i}-0")
        got = raw.call("XRANGE", "s", "95", "205")
        assert [e[0] for e in got] == [b"%d-0" % i for i in [*range(95, 100), *range(200, 206)]]
        got = raw.call("XREVRANGE", "s", "205", "95", "COUNT", "8")
        assert [e[0] for e in got] == [b"%d-0" % i for i in [*range(205, 199, -1), 99, 98]]
    finally:
        raw.call("CONFIG", "SET", "stream-node-max-entries", "100")


def test_mixed_fields_entries(raw):
    raw.call("XADD", "s", "1-1", "a", "1", "b", "2")
    raw.call("XADD", "s", "2-1", "b", "2", "a", "1")
    raw.call("XADD", "s", "3-1", "a", "x")
    assert raw.call("XRANGE", "s", "-", "+") == [
        [b"1-1", [b"a", b"1", b"b", b"2"]], [b"2-1", [b"b", b"2", b"a", b"1"]], [b"3-1", [b"a", b"x"]]]


# -- XDEL / XTRIM / XLEN ----------------------------------------------------------------
def test_xdel(raw):
    fill(raw, n=4)
    assert raw.call("XDEL", "s", "2-1", "3-1", "9-9") == 2
    assert raw.call("XDEL", "s", "2-1") == 0
    assert raw.call("XDEL", "s", "1-1", "bad") == INVALID_ID
    assert raw.call("XDEL", "s", "-") == INVALID_ID
    assert raw.call("XDEL", "nokey", "bad") == 0
    assert raw.call("XLEN", "s") == 2
    info = as_dict(raw.call("XINFO", "STREAM", "s"))
    assert info[b"max-deleted-entry-id"] == b"3-1"
    assert info[b"recorded-first-entry-id"] == b"1-1"
    raw.call("XDEL", "s", "1-1")
    assert as_dict(raw.call("XINFO", "STREAM", "s"))[b"recorded-first-entry-id"] == b"4-1"
    raw.call("XDEL", "s", "4-1")
    info = as_dict(raw.call("XINFO", "STREAM", "s"))
    assert (info[b"length"], info[b"recorded-first-entry-id"], info[b"radix-tree-keys"]) == (0, b"0-0", 0)


def test_xtrim_exact_and_approximate_follow_nodes(raw):
    for i in range(1, 251):
        raw.call("XADD", "s", f"{i}-0", "a", "1", "b", "2")
    # ~ removes whole nodes of stream-node-max-entries (100) only.
    assert raw.call("XTRIM", "s", "MAXLEN", "~", "120") == 100
    assert raw.call("XTRIM", "s", "MAXLEN", "~", "120") == 0
    assert as_dict(raw.call("XINFO", "STREAM", "s"))[b"radix-tree-keys"] == 2
    assert raw.call("XTRIM", "s", "MAXLEN", "120") == 30
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "1")[0][0] == b"131-0"
    assert raw.call("XTRIM", "s", "MINID", "~", "205") == 70      # the first node ends at 200
    assert raw.call("XTRIM", "s", "MINID", "205") == 4
    assert raw.call("XLEN", "s") == 46
    assert raw.call("XTRIM", "s", "MINID", "~", "300", "LIMIT", "10") == 0
    assert raw.call("XTRIM", "nokey", "MAXLEN", "0") == 0


def test_xadd_trims_and_reports(raw):
    for i in range(1, 201):
        raw.call("XADD", "s", "MAXLEN", "~", "50", f"{i}-0", "a", "1")
    assert raw.call("XLEN", "s") == 100
    raw.call("XADD", "s", "MINID", "190", "201-0", "a", "1")
    assert raw.call("XLEN", "s") == 12


def test_node_size_limit_by_bytes(raw):
    raw.call("CONFIG", "SET", "stream-node-max-bytes", "200")
    try:
        for i in range(1, 41):
            raw.call("XADD", "s", f"{i}-0", "field", "v" * (i % 30), "n", str(i * 1000))
        info = as_dict(raw.call("XINFO", "STREAM", "s"))
        assert (info[b"radix-tree-keys"], info[b"radix-tree-nodes"]) == (7, 16)
        assert raw.call("XTRIM", "s", "MAXLEN", "~", "10") == 28
    finally:
        raw.call("CONFIG", "SET", "stream-node-max-bytes", "4096")


def test_xtrim_errors(raw):
    fill(raw)
    assert raw.call("XTRIM", "s", "FOO", "1") == SYNTAX
    assert raw.call("XTRIM", "s", "LIMIT", "5", "x") == SYNTAX
    assert raw.call("XTRIM", "s", "LIMIT", "0", "MAXLEN") == SYNTAX
    assert raw.call("XTRIM", "s", "MAXLEN", "1", "LIMIT", "1") == Error(
        "ERR syntax error, LIMIT cannot be used without the special ~ option")
    assert raw.call("XTRIM", "s", "MINID", "x") == INVALID_ID
    assert raw.call("XTRIM", "s", "MINID", "-") == INVALID_ID
    assert raw.call("XTRIM", "s", "LIMIT", "0", "LIMIT", "0") == Error(
        "ERR syntax error, XTRIM must be called with a trimming strategy")


# -- XSETID ------------------------------------------------------------------------------
def test_xsetid(raw):
    fill(raw)
    assert raw.call("XSETID", "s", "2-1") == Error(
        "ERR The ID specified in XSETID is smaller than the target stream top item")
    assert raw.call("XSETID", "s", "5-1", "ENTRIESADDED", "1") == Error(
        "ERR The entries_added specified in XSETID is smaller than the target stream length")
    assert raw.call("XSETID", "s", "5-1", "ENTRIESADDED", "-1") == Error("ERR entries_added must be positive")
    assert raw.call("XSETID", "s", "5-1", "MAXDELETEDID", "6-1") == Error(
        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
    assert raw.call("XSETID", "s", "5-1", "FOO") == SYNTAX
    assert raw.call("XSETID", "nokey", "5-1") == Error("ERR no such key")
    assert raw.call("XSETID", "s", "+") == INVALID_ID
    assert raw.call("XSETID", "s", "9-1", "ENTRIESADDED", "10", "MAXDELETEDID", "8-1") == OK
    info = as_dict(raw.call("XINFO", "STREAM", "s"))
    assert (info[b"last-generated-id"], info[b"entries-added"], info[b"max-deleted-entry-id"]) == (
        b"9-1", 10, b"8-1")
    assert raw.call("XADD", "s", "9-*", "a", "1") == b"9-2"
    assert raw.call("XSETID", "s", "9-5") == OK
    assert raw.call("XADD", "s", "*", "a", "1").split(b"-")[0] != b"9"


# -- consumer groups ------------------------------------------------------------------
def test_xgroup_create_and_errors(raw):
    assert raw.call("XGROUP", "CREATE", "s", "g", "$") == Error(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
        "the MKSTREAM option to create an empty stream automatically.")
    assert raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM") == OK
    assert raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM") == Error(
        "BUSYGROUP Consumer Group name already exists")
    assert raw.call("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-2") == Error(
        "ERR value for ENTRIESREAD must be positive or -1")
    assert raw.call("XGROUP", "CREATE", "s", "g2", "0", "FOO") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.")
    assert raw.call("XGROUP", "create", "s", "g2", "0", "MKSTREAM", "MKSTREAM", "MKSTREAM", "MKSTREAM") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP.")
    assert raw.call("XGROUP", "CREATE", "s", "g2", "-") == INVALID_ID
    assert raw.call("XGROUP", "SETID", "s", "nog", "0") == Error(
        "NOGROUP No such consumer group 'nog' for key name 's'")
    assert raw.call("XGROUP", "CREATECONSUMER", "s", "nog", "c") == Error(
        "NOGROUP No such consumer group 'nog' for key name 's'")
    assert raw.call("XGROUP", "DESTROY", "s", "nog") == 0
    assert raw.call("XGROUP", "SETID", "nokey", "g", "0") == Error(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
        "the MKSTREAM option to create an empty stream automatically.")
    assert raw.call("XGROUP", "FOO", "s", "g") == Error(
        "ERR unknown subcommand 'FOO'. Try XGROUP HELP.")
    raw.call("SET", "str", "x")
    assert raw.call("XGROUP", "CREATE", "str", "g", "$") == WRONGTYPE


def test_xgroup_help(raw):
    reply = raw.call("XGROUP", "HELP")
    assert reply[0] == Simple("XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert reply[-2:] == [Simple("HELP"), Simple("    Prints this help.")]
    assert len(reply) == 17
    reply = raw.call("XINFO", "HELP")
    assert reply[5] == Simple("STREAM <key> [FULL [COUNT <count>]")
    assert len(reply) == 9


def test_consumers_create_and_delete(raw):
    fill(raw)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    assert raw.call("XGROUP", "CREATECONSUMER", "s", "g", "c1") == 1
    assert raw.call("XGROUP", "CREATECONSUMER", "s", "g", "c1") == 0
    raw.call("XREADGROUP", "GROUP", "g", "c2", "COUNT", "2", "STREAMS", "s", ">")
    names = [as_dict(c)[b"name"] for c in raw.call("XINFO", "CONSUMERS", "s", "g")]
    assert names == [b"c1", b"c2"]
    assert raw.call("XGROUP", "DELCONSUMER", "s", "g", "c2") == 2
    assert raw.call("XGROUP", "DELCONSUMER", "s", "g", "c2") == 0
    assert flat(raw.call("XPENDING", "s", "g"))[0] == 0
    assert raw.call("XGROUP", "DESTROY", "s", "g") == 1
    assert raw.call("XINFO", "GROUPS", "s") == []


def test_xreadgroup_delivers_and_tracks_pel(raw):
    fill(raw, n=4)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    got = by_key(raw.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"))
    assert got == {b"s": [[b"1-1", [b"f", b"1"]], [b"2-1", [b"f", b"2"]]]}
    raw.call("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
    assert raw.call("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">") is None
    summary = flat(raw.call("XPENDING", "s", "g"))
    assert summary == [4, b"1-1", b"4-1", [[b"alice", b"2"], [b"bob", b"2"]]]
    # History: only the consumer's own pending entries, counting deliveries.
    history = by_key(raw.call("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"))
    assert history == {b"s": [[b"1-1", [b"f", b"1"]], [b"2-1", [b"f", b"2"]]]}
    detail = raw.call("XPENDING", "s", "g", "-", "+", "10", "alice")
    assert [(d[0], d[1], d[3]) for d in detail] == [(b"1-1", b"alice", 2), (b"2-1", b"alice", 2)]
    assert raw.call("XACK", "s", "g", "1-1", "9-9") == 1
    raw.call("XDEL", "s", "2-1")
    history = by_key(raw.call("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"))
    assert history == {b"s": [[b"2-1", None]]}
    group = as_dict(raw.call("XINFO", "GROUPS", "s")[0])
    assert (group[b"pending"], group[b"last-delivered-id"], group[b"entries-read"], group[b"lag"]) == (
        3, b"4-1", 4, 0)


def test_xreadgroup_noack_and_setid(raw):
    fill(raw, n=3)
    raw.call("XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">")
    assert flat(raw.call("XPENDING", "s", "g"))[0] == 0
    assert raw.call("XGROUP", "SETID", "s", "g", "1-1", "ENTRIESREAD", "1") == OK
    group = as_dict(raw.call("XINFO", "GROUPS", "s")[0])
    assert (group[b"entries-read"], group[b"lag"]) == (1, 2)
    raw.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    group = as_dict(raw.call("XINFO", "GROUPS", "s")[0])
    assert (group[b"last-delivered-id"], group[b"entries-read"], group[b"lag"]) == (b"2-1", 2, 1)


def test_lag_is_null_when_tombstones_lie_ahead(raw):
    fill(raw, n=5)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    raw.call("XDEL", "s", "3-1")
    group = as_dict(raw.call("XINFO", "GROUPS", "s")[0])
    assert (group[b"entries-read"], group[b"lag"]) == (1, None)
    raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    group = as_dict(raw.call("XINFO", "GROUPS", "s")[0])
    assert (group[b"entries-read"], group[b"lag"]) == (5, 0)


def test_xreadgroup_errors(raw):
    fill(raw)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    assert raw.call("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">") == Error(
        "NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$") == Error(
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this "
        "consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just "
        "return an empty result set.")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">", "s") == Error(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
    assert raw.call("XREADGROUP", "NOACK", "COUNT", "1", "STREAMS", "s", ">") == Error(
        "ERR Missing GROUP option for XREADGROUP")
    assert raw.call("XREAD", "GROUP", "g", "c", "STREAMS", "s", ">") == Error(
        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
    assert raw.call("XREAD", "NOACK", "STREAMS", "s", "0") == Error(
        "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
    assert raw.call("XREAD", "STREAMS", "s", ">") == Error(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
    assert raw.call("XREAD", "STREAMS", "s", "0", "t") == Error(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
    assert raw.call("XREAD", "FOO", "STREAMS", "s", "0") == SYNTAX
    assert raw.call("XREAD", "COUNT", "1", "s", "0") == SYNTAX
    assert raw.call("XREAD", "BLOCK", "-1", "STREAMS", "s", "0") == Error("ERR timeout is negative")
    assert raw.call("XREAD", "BLOCK", "x", "STREAMS", "s", "0") == Error(
        "ERR timeout is not an integer or out of range")
    raw.call("SET", "str", "x")
    assert raw.call("XREAD", "STREAMS", "str", "0") == WRONGTYPE


def test_xread_shapes(raw, protocol):
    fill(raw, key="a", n=2)
    fill(raw, key="b", n=1)
    reply = raw.call("XREAD", "COUNT", "1", "STREAMS", "a", "nokey", "b", "0", "0", "0")
    entries_a, entries_b = [[b"1-1", [b"f", b"1"]]], [[b"1-1", [b"f", b"1"]]]
    if protocol == 3:
        assert reply == RespMap(((b"a", entries_a), (b"b", entries_b)))
    else:
        assert reply == [[b"a", entries_a], [b"b", entries_b]]
    assert raw.call("XREAD", "STREAMS", "a", "$") is None
    assert raw.call("XREAD", "STREAMS", "a", "2-1") is None
    assert by_key(raw.call("XREAD", "STREAMS", "a", "1-1")) == {b"a": [[b"2-1", [b"f", b"2"]]]}


# -- XPENDING / XCLAIM / XAUTOCLAIM -----------------------------------------------------------
def _pending_setup(raw):
    fill(raw, n=4)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">")


def test_xpending_forms_and_errors(raw):
    _pending_setup(raw)
    assert flat(raw.call("XPENDING", "s", "g", "-", "+", "2"))[0][:2] == [b"1-1", b"c1"]
    assert len(raw.call("XPENDING", "s", "g", "(1-1", "(4-1", "10")) == 2
    assert raw.call("XPENDING", "s", "g", "-", "+", "10", "nobody") == []
    assert raw.call("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10") == []
    assert len(raw.call("XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "c1")) == 4
    assert raw.call("XPENDING", "s", "g", "-", "+", "-1") == []
    assert raw.call("XPENDING", "s", "g", "-", "+") == SYNTAX
    assert raw.call("XPENDING", "s", "g", "IDLE", "1", "-", "+") == SYNTAX
    assert raw.call("XPENDING", "s", "g", "IDLE", "x", "-", "+", "1") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("XPENDING", "s", "g", "x", "+", "1") == INVALID_ID
    assert raw.call("XPENDING", "s", "nog") == Error("NOGROUP No such key 's' or consumer group 'nog'")
    assert raw.call("XPENDING", "nokey", "g", "-", "+", "1") == Error(
        "NOGROUP No such key 'nokey' or consumer group 'g'")
    raw.call("XACK", "s", "g", "1-1", "2-1", "3-1", "4-1")
    assert flat(raw.call("XPENDING", "s", "g")) == [0, None, None, None]


def test_xclaim(raw):
    _pending_setup(raw)
    got = raw.call("XCLAIM", "s", "g", "c2", "0", "1-1", "2-1")
    assert got == [[b"1-1", [b"f", b"1"]], [b"2-1", [b"f", b"2"]]]
    assert raw.call("XCLAIM", "s", "g", "c2", "3600000", "3-1") == []
    assert raw.call("XCLAIM", "s", "g", "c3", "0", "3-1", "JUSTID", "RETRYCOUNT", "7", "TIME", "1000") == [b"3-1"]
    detail = raw.call("XPENDING", "s", "g", "3-1", "3-1", "1")
    assert (detail[0][1], detail[0][3]) == (b"c3", 7)
    assert raw.call("XCLAIM", "s", "g", "c3", "0", "9-9", "FORCE") == []
    raw.call("XADD", "s", "5-1", "f", "5")
    assert raw.call("XCLAIM", "s", "g", "c3", "0", "5-1", "FORCE") == [[b"5-1", [b"f", b"5"]]]
    assert raw.call("XPENDING", "s", "g", "5-1", "5-1", "1")[0][3] == 2
    raw.call("XDEL", "s", "4-1")
    assert raw.call("XCLAIM", "s", "g", "c3", "0", "4-1") == []
    assert flat(raw.call("XPENDING", "s", "g"))[0] == 4
    assert raw.call("XCLAIM", "s", "g", "c3", "0", "1-1", "LASTID", "9-9", "JUSTID") == [b"1-1"]
    assert as_dict(raw.call("XINFO", "GROUPS", "s")[0])[b"last-delivered-id"] == b"9-9"


def test_xclaim_errors(raw):
    _pending_setup(raw)
    assert raw.call("XCLAIM", "s", "g", "c", "x", "1-1") == Error("ERR Invalid min-idle-time argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-1", "IDLE", "x") == Error(
        "ERR Invalid IDLE option argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-1", "TIME", "x") == Error(
        "ERR Invalid TIME option argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-1", "RETRYCOUNT", "x") == Error(
        "ERR Invalid RETRYCOUNT option argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-1", "BOGUS") == Error("ERR Unrecognized XCLAIM option 'BOGUS'")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-1", "LASTID", "x") == INVALID_ID
    assert raw.call("XCLAIM", "s", "nog", "c", "0", "1-1") == Error("NOGROUP No such key 's' or consumer group 'nog'")


def test_xautoclaim_cursor_and_deleted_ids(raw):
    _pending_setup(raw)
    raw.call("XDEL", "s", "2-1")
    got = raw.call("XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", "2")
    assert got == [b"3-1", [[b"1-1", [b"f", b"1"]]], [b"2-1"]]
    got = raw.call("XAUTOCLAIM", "s", "g", "c2", "0", got[0], "JUSTID")
    assert got == [b"0-0", [b"3-1", b"4-1"], []]
    assert raw.call("XAUTOCLAIM", "s", "g", "c3", "3600000", "0") == [b"0-0", [], []]
    names = [as_dict(c)[b"name"] for c in raw.call("XINFO", "CONSUMERS", "s", "g")]
    assert names == [b"c1", b"c2"]        # nothing claimed: no consumer created
    assert raw.call("XAUTOCLAIM", "s", "g", "c2", "0", "(1-1", "COUNT", "1", "JUSTID") == [b"4-1", [b"3-1"], []]


def test_xautoclaim_errors(raw):
    _pending_setup(raw)
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "x", "0") == Error(
        "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "x") == INVALID_ID
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0") == Error("ERR COUNT must be > 0")
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "x") == Error("ERR COUNT must be > 0")
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO") == SYNTAX
    assert raw.call("XAUTOCLAIM", "s", "nog", "c", "0", "0") == Error(
        "NOGROUP No such key 's' or consumer group 'nog'")
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "(18446744073709551615-18446744073709551615") == Error(
        "ERR invalid start ID for the interval")


# -- XINFO -----------------------------------------------------------------------------
def test_xinfo_stream_summary(raw, protocol):
    fill(raw, n=3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    reply = raw.call("XINFO", "STREAM", "s")
    if protocol == 3:
        assert isinstance(reply, RespMap)
    assert flat(reply) == [
        b"length", 3, b"radix-tree-keys", 1, b"radix-tree-nodes", 2, b"last-generated-id", b"3-1",
        b"max-deleted-entry-id", b"0-0", b"entries-added", 3, b"recorded-first-entry-id", b"1-1",
        b"groups", 1, b"first-entry", [b"1-1", [b"f", b"1"]], b"last-entry", [b"3-1", [b"f", b"3"]]]


def test_xinfo_stream_full(raw):
    fill(raw, n=3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
    raw.call("XCLAIM", "s", "g", "c", "0", "1-1", "2-1", "TIME", "12345", "JUSTID")
    info = as_dict(raw.call("XINFO", "STREAM", "s", "FULL", "COUNT", "1"))
    assert list(info) == [b"length", b"radix-tree-keys", b"radix-tree-nodes", b"last-generated-id",
                          b"max-deleted-entry-id", b"entries-added", b"recorded-first-entry-id",
                          b"entries", b"groups"]
    assert info[b"entries"] == [[b"1-1", [b"f", b"1"]]]
    group = dict(zip(info[b"groups"][0][0::2], info[b"groups"][0][1::2]))
    assert group[b"pending"] == [[b"1-1", b"c", 12345, 1]]
    assert (group[b"pel-count"], group[b"entries-read"], group[b"lag"]) == (2, 2, 1)
    consumer = dict(zip(group[b"consumers"][0][0::2], group[b"consumers"][0][1::2]))
    assert consumer[b"pending"] == [[b"1-1", 12345, 1]]
    assert consumer[b"pel-count"] == 2
    full = as_dict(raw.call("XINFO", "STREAM", "s", "FULL"))
    assert len(full[b"entries"]) == 3


def test_xinfo_errors(raw):
    fill(raw)
    assert raw.call("XINFO", "STREAM", "nokey") == Error("ERR no such key")
    assert raw.call("XINFO", "GROUPS", "nokey") == Error("ERR no such key")
    assert raw.call("XINFO", "CONSUMERS", "s", "nog") == Error("NOGROUP No such consumer group 'nog' for key name 's'")
    assert raw.call("XINFO", "STREAM", "s", "FOO") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    assert raw.call("XINFO", "STREAM", "s", "FULL", "COUNT") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    assert raw.call("XINFO", "STREAM", "s", "FULL", "COUNT", "x") == Error(
        "ERR value is not an integer or out of range")
    raw.call("SET", "str", "x")
    assert raw.call("XINFO", "STREAM", "str") == WRONGTYPE


def test_radix_tree_nodes_match_redis(raw):
    for i in range(1, 1001):
        raw.call("XADD", "s", f"{i * 1000}-{i % 7}", "a", "1")
    info = as_dict(raw.call("XINFO", "STREAM", "s"))
    assert (info[b"radix-tree-keys"], info[b"radix-tree-nodes"]) == (10, 22)


# -- keyspace notifications ----------------------------------------------------------
def test_stream_events(r, server, protocol):
    from resp_client import RawClient
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    sub = RawClient(port=server.port)
    try:
        sub.call("SUBSCRIBE", "__keyevent@0__:xadd")
        sub.call("PSUBSCRIBE", "__keyevent@0__:x*")
        r.config_set("notify-keyspace-events", "Et")
        commands = [("XADD", "s", "1-1", "a", "1"), ("XGROUP", "CREATE", "s", "g", "0"),
                    ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"), ("XCLAIM", "s", "g", "c2", "0", "1-1"),
                    ("XGROUP", "CREATECONSUMER", "s", "g", "c4"), ("XGROUP", "DELCONSUMER", "s", "g", "c4"),
                    ("XGROUP", "SETID", "s", "g", "0"), ("XSETID", "s", "5-5"),
                    ("XADD", "s", "MAXLEN", "0", "6-1", "a", "1"), ("XADD", "s", "7-1", "a", "1"),
                    ("XDEL", "s", "7-1"), ("XTRIM", "s", "MAXLEN", "0"), ("XACK", "s", "g", "1-1"),
                    ("XGROUP", "DESTROY", "s", "g"), ("PUBLISH", "__keyevent@0__:xend", "end")]
        for command in commands:
            r.execute_command(*command)
        events = []
        while True:
            message = sub.read_reply()
            items = list(getattr(message, "items", message))
            if items[0] != b"pmessage":
                continue
            if items[2] == b"__keyevent@0__:xend":
                break
            events.append(items[2].split(b":")[1].decode())
        assert events == ["xadd", "xgroup-create", "xgroup-createconsumer", "xgroup-createconsumer",
                          "xgroup-createconsumer", "xgroup-delconsumer", "xgroup-setid", "xsetid", "xadd",
                          "xtrim", "xadd", "xdel", "xgroup-destroy"]
    finally:
        r.config_set("notify-keyspace-events", old)
        sub.close()


def test_approximate_trim_default_limit_is_100_nodes(r):
    """Without LIMIT, `~` trims at most 100 * stream-node-max-entries entries, with no
    cap at 10000 (that is only the value used when the setting is 0)."""
    r.config_set("stream-node-max-entries", "101")
    try:
        pipe = r.pipeline(transaction=False)
        for i in range(1, 10101):
            pipe.execute_command("XADD", "s", f"{i}-0", "a", "1")
        pipe.execute()
        assert r.xtrim("s", maxlen=0, approximate=True) == 10100
    finally:
        r.config_set("stream-node-max-entries", "100")


def test_memory_usage_grows_with_the_stream(raw):
    fill(raw, n=10)
    small = raw.call("MEMORY", "USAGE", "s")
    fill(raw, n=500, start=11)
    assert raw.call("MEMORY", "USAGE", "s", "SAMPLES", "0") > small > 100
