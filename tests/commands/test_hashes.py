"""Hash group: every test runs on Ferrous and real Redis 7.0, over RESP2 and RESP3."""
from collections import Counter

import pytest
from resp_client import Error, RespMap

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
LONG = b"x" * 65            # one byte over hash-max-listpack-value


def encoding(r, key):
    return r.object("encoding", key)


def config_get(raw, name):
    reply = raw.call("CONFIG", "GET", name)      # a map in RESP3, a flat array in RESP2
    return dict(reply.items)[name.encode()] if isinstance(reply, RespMap) else reply[1]


# -- HSET / HMSET / HSETNX / HGET / HMGET --------------------------------------------

def test_hset_counts_new_fields_only(r):
    assert r.hset("h", mapping={"a": 1, "b": 2}) == 2
    assert r.hset("h", mapping={"a": 10, "c": 3}) == 1
    assert r.hgetall("h") == {b"a": b"10", b"b": b"2", b"c": b"3"}


def test_hset_and_hmset_arity_errors(raw):
    assert raw.call("HSET", "h", "a") == Error("ERR wrong number of arguments for 'hset' command")
    assert raw.call("HSET", "h", "a", "1", "b") == Error("ERR wrong number of arguments for 'hset' command")
    assert raw.call("HMSET", "h", "a", "1", "b") == Error("ERR wrong number of arguments for 'hmset' command")
    assert raw.call("HGET", "h") == Error("ERR wrong number of arguments for 'hget' command")
    assert raw.call("EXISTS", "h") == 0


def test_hmset_replies_ok(raw):
    assert raw.call("HMSET", "h", "a", "1", "b", "2").text == "OK"
    assert raw.call("HMGET", "h", "a", "b", "zz") == [b"1", b"2", None]


def test_hmget_missing_key_is_all_nils(r):
    assert r.hmget("nokey", "a", "b") == [None, None]


def test_hsetnx(r):
    assert r.hsetnx("h", "f", "1") == 1
    assert r.hsetnx("h", "f", "2") == 0
    assert r.hget("h", "f") == b"1"
    assert r.hget("h", "nope") is None
    assert r.hget("nokey", "f") is None


def test_hset_keeps_ttl(r):
    r.hset("h", "a", "1")
    r.expire("h", 100)
    r.hset("h", "b", "2")
    r.hincrby("h", "n", 1)
    assert 0 < r.ttl("h") <= 100


# -- HDEL / HLEN / HSTRLEN / HEXISTS -----------------------------------------------

def test_hdel_counts_and_deletes_empty_hash(r):
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert r.hdel("h", "a", "zz", "a") == 1
    assert r.hlen("h") == 2
    assert r.hdel("h", "b", "c", "d") == 2
    assert r.exists("h") == 0
    assert r.hdel("h", "b") == 0


def test_hlen_hstrlen_hexists(r):
    r.hset("h", mapping={"a": "hello", "n": 12345, "e": ""})
    assert r.hlen("h") == 3
    assert r.hlen("nokey") == 0
    assert r.hstrlen("h", "a") == 5
    assert r.hstrlen("h", "n") == 5
    assert r.hstrlen("h", "e") == 0
    assert r.hstrlen("h", "zz") == 0
    assert r.hstrlen("nokey", "a") == 0
    assert r.hexists("h", "a") is True
    assert r.hexists("h", "zz") is False
    assert r.hexists("nokey", "a") is False


# -- HKEYS / HVALS / HGETALL order --------------------------------------------------

def test_listpack_order_is_insertion_order(r):
    r.hset("h", mapping={"z": 1, "a": 2, "m": 3, "b": 4})
    r.hset("h", "a", "20")          # an update keeps its place
    r.hdel("h", "m")
    r.hset("h", "m", "30")          # re-added at the end
    assert r.hkeys("h") == [b"z", b"a", b"b", b"m"]
    assert r.hvals("h") == [b"1", b"20", b"4", b"30"]
    assert list(r.hgetall("h").items()) == [(b"z", b"1"), (b"a", b"20"), (b"b", b"4"), (b"m", b"30")]


def test_hgetall_reply_types(raw, protocol):
    raw.call("HSET", "h", "a", "1", "b", "2")
    reply = raw.call("HGETALL", "h")
    if protocol == 3:
        assert reply == RespMap(((b"a", b"1"), (b"b", b"2")))
        assert raw.call("HGETALL", "nokey") == RespMap(())
    else:
        assert reply == [b"a", b"1", b"b", b"2"]
        assert raw.call("HGETALL", "nokey") == []
    assert raw.call("HKEYS", "nokey") == []
    assert raw.call("HVALS", "nokey") == []


def test_big_hash_contents(r):
    mapping = {f"f{i}": f"v{i}" for i in range(600)}
    r.hset("h", mapping=mapping)
    assert r.hlen("h") == 600
    assert sorted(r.hkeys("h")) == sorted(k.encode() for k in mapping)
    assert r.hgetall("h") == {k.encode(): v.encode() for k, v in mapping.items()}


# -- WRONGTYPE ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("HSET", "s", "a", "1"), ("HMSET", "s", "a", "1"), ("HSETNX", "s", "a", "1"),
    ("HGET", "s", "a"), ("HMGET", "s", "a"), ("HDEL", "s", "a"), ("HLEN", "s"),
    ("HSTRLEN", "s", "a"), ("HEXISTS", "s", "a"), ("HKEYS", "s"), ("HVALS", "s"),
    ("HGETALL", "s"), ("HINCRBY", "s", "a", "1"), ("HINCRBYFLOAT", "s", "a", "1"),
    ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2"), ("HSCAN", "s", "0"),
])
def test_wrongtype(raw, args):
    raw.call("SET", "s", "x")
    assert raw.call(*args) == Error(WRONGTYPE)
    assert raw.call("GET", "s") == b"x"


def test_hash_is_wrongtype_for_other_commands(raw):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("GET", "h") == Error(WRONGTYPE)
    assert raw.call("SADD", "h", "a") == Error(WRONGTYPE)
    assert raw.call("TYPE", "h").text == "hash"


# -- HINCRBY ----------------------------------------------------------------------

def test_hincrby(r):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    r.hset("h", "big", str(2**63 - 2))
    assert r.hincrby("h", "big", 1) == 2**63 - 1
    assert r.hget("h", "n") == b"-2"


def test_hincrby_errors(raw):
    raw.call("HSET", "h", "s", "abc", "max", str(2**63 - 1), "min", str(-2**63), "sp", " 1")
    assert raw.call("HINCRBY", "h", "s", "1") == Error("ERR hash value is not an integer")
    assert raw.call("HINCRBY", "h", "sp", "1") == Error("ERR hash value is not an integer")
    assert raw.call("HINCRBY", "h", "max", "1") == Error("ERR increment or decrement would overflow")
    assert raw.call("HINCRBY", "h", "min", "-1") == Error("ERR increment or decrement would overflow")
    assert raw.call("HINCRBY", "h", "n", "1.5") == Error("ERR value is not an integer or out of range")
    assert raw.call("HINCRBY", "h", "n", str(2**63)) == Error("ERR value is not an integer or out of range")
    # The increment is checked before the key's type.
    raw.call("SET", "str", "x")
    assert raw.call("HINCRBY", "str", "n", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("HEXISTS", "h", "n") == 0


# -- HINCRBYFLOAT -----------------------------------------------------------------

@pytest.mark.parametrize("start,increment,expected", [
    (None, "10.5", b"10.5"),
    ("10.5", "0.1", b"10.6"),
    ("3.0e3", "-0.1", b"2999.89999999999999991"),
    ("5.0e3", "2.0e2", b"5200"),
    ("0", "0x1p3", b"8"),
    ("0x10", "1", b"17"),
    ("1", "-1", b"0"),
    ("-0", "-0", b"0"),
    ("0", "1.23456789012345678901234", b"1.23456789012345679"),
    ("0", "-1e-20", b"0"),
    ("17179869184", "1.5", b"17179869185.5"),
    ("1e308", "1e308",
     b"199999999999999999993371759311691291321120199694831134415594095989843469737676123744200"
     b"253843777078640893494450108026446304269499187921167194841628860392837535918200039206381"
     b"557326219209014213335878306791577877829121087126122536729803237260434173178506889763247"
     b"582601711514636284849020905456510092687857156096"),
])
def test_hincrbyfloat_formatting(raw, start, increment, expected):
    if start is not None:
        raw.call("HSET", "h", "f", start)
    assert raw.call("HINCRBYFLOAT", "h", "f", increment) == expected   # bulk in RESP3 too
    assert raw.call("HGET", "h", "f") == expected


def test_hincrbyfloat_errors(raw):
    raw.call("HSET", "h", "s", "abc", "sp", " 5", "tiny", "1e-5000", "inf", "inf")
    not_float = Error("ERR value is not a valid float")
    for bad in ["", " 1", "1 ", "abc", "nan", "1e5000", "1e-5000", "1\x00"]:
        assert raw.call("HINCRBYFLOAT", "h", "n", bad) == not_float, bad
    assert raw.call("HINCRBYFLOAT", "h", "n", "inf") == Error("ERR value is NaN or Infinity")
    assert raw.call("HINCRBYFLOAT", "h", "n", "-Infinity") == Error("ERR value is NaN or Infinity")
    for field in ["s", "sp", "tiny"]:
        assert raw.call("HINCRBYFLOAT", "h", field, "1") == Error("ERR hash value is not a float")
    assert raw.call("HINCRBYFLOAT", "h", "inf", "1") == Error("ERR increment would produce NaN or Infinity")
    raw.call("HSET", "h", "max", "1e4932")
    assert raw.call("HINCRBYFLOAT", "h", "max", "1e4932") == Error("ERR increment would produce NaN or Infinity")
    assert raw.call("HEXISTS", "h", "n") == 0


# -- HRANDFIELD -------------------------------------------------------------------

def test_hrandfield_single(r):
    assert r.hrandfield("nokey") is None
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    for _ in range(20):
        assert r.hrandfield("h") in (b"a", b"b", b"c")


@pytest.mark.parametrize("size", [5, 600])
def test_hrandfield_counts(raw, size):
    fields = {b"f%d" % i: b"v%d" % i for i in range(size)}
    args = [x for pair in fields.items() for x in pair]
    raw.call("HSET", "h", *args)
    assert raw.call("HRANDFIELD", "h", "0") == []
    assert raw.call("HRANDFIELD", "nokey", "3") == []
    assert raw.call("HRANDFIELD", "nokey", "0") == []
    # Positive count: distinct fields, at most all of them.
    for count in [1, 2, size - 1, size, size + 5]:
        got = raw.call("HRANDFIELD", "h", str(count))
        assert len(got) == min(count, size)
        assert len(set(got)) == len(got)
        assert set(got) <= set(fields)
    assert sorted(raw.call("HRANDFIELD", "h", str(size + 5))) == sorted(fields)
    # Negative count: exactly that many, repeats allowed.
    got = raw.call("HRANDFIELD", "h", "-50")
    assert len(got) == 50 and set(got) <= set(fields)
    if size == 5:
        assert len(set(got)) < 50


def test_hrandfield_withvalues_shapes(raw, protocol):
    raw.call("HSET", "h", "a", "1", "b", "2", "c", "3")
    values = {b"a": b"1", b"b": b"2", b"c": b"3"}
    for count in ["2", "-5", "10", "1", "-1"]:
        got = raw.call("HRANDFIELD", "h", count, "WITHVALUES")
        if protocol == 3:
            pairs = [tuple(p) for p in got]
            assert all(len(p) == 2 for p in got)
        else:
            pairs = list(zip(got[::2], got[1::2]))
        expected = min(int(count), 3) if int(count) > 0 else -int(count)
        assert len(pairs) == expected
        assert all(values[f] == v for f, v in pairs)
    assert raw.call("HRANDFIELD", "h", "0", "withvalues") == []


def test_hrandfield_errors(raw):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("HRANDFIELD", "h", "abc") == Error("ERR value is not an integer or out of range")
    assert raw.call("HRANDFIELD", "h", "1", "x") == Error("ERR syntax error")
    assert raw.call("HRANDFIELD", "h", "1", "withvalues", "x") == Error("ERR syntax error")
    assert raw.call("HRANDFIELD", "h", "-9223372036854775808") == Error(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    for huge in ["9223372036854775807", "-9223372036854775807", "4611686018427387904"]:
        assert raw.call("HRANDFIELD", "h", huge, "WITHVALUES") == Error("ERR value is out of range")
    # The count is parsed before the key is looked up; a NUL ends the option word.
    raw.call("SET", "s", "x")
    assert raw.call("HRANDFIELD", "s", "abc") == Error("ERR value is not an integer or out of range")
    assert raw.call("HRANDFIELD", "h", "1", "withvalues\x00zz") in ([b"a", b"1"], [[b"a", b"1"]])


# -- HSCAN ------------------------------------------------------------------------

def test_hscan_small_hash_in_one_call(raw):
    raw.call("HSET", "h", "b", "1", "a", "2", "c", "3", "ab", "4")
    assert raw.call("HSCAN", "h", "0") == [b"0", [b"b", b"1", b"a", b"2", b"c", b"3", b"ab", b"4"]]
    assert raw.call("HSCAN", "h", "0", "COUNT", "1") == raw.call("HSCAN", "h", "0")
    assert raw.call("HSCAN", "h", "0", "MATCH", "a*") == [b"0", [b"a", b"2", b"ab", b"4"]]
    assert raw.call("HSCAN", "h", "0", "MATCH", "*", "COUNT", "2")[1][:2] == [b"b", b"1"]
    assert raw.call("HSCAN", "h", "123") == raw.call("HSCAN", "h", "0")     # cursor ignored
    assert raw.call("HSCAN", "nokey", "0") == [b"0", []]


def test_hscan_errors(raw):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("HSCAN", "h", "abc") == Error("ERR invalid cursor")
    assert raw.call("HSCAN", "h", " 1") == Error("ERR invalid cursor")
    assert raw.call("HSCAN", "h", "18446744073709551616") == Error("ERR invalid cursor")
    assert raw.call("HSCAN", "h", "0", "COUNT", "0") == Error("ERR syntax error")
    assert raw.call("HSCAN", "h", "0", "COUNT", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("HSCAN", "h", "0", "MATCH") == Error("ERR syntax error")
    assert raw.call("HSCAN", "h", "0", "FOO", "1") == Error("ERR syntax error")
    assert raw.call("HSCAN", "h", "0", "TYPE", "string") == Error("ERR syntax error")
    # strtoul: "", "-1" and "+5" are cursors; options are parsed after the key lookup.
    for cursor in ["", "-1", "+5"]:
        assert raw.call("HSCAN", "h", cursor)[0] == b"0"
    assert raw.call("HSCAN", "nokey", "0", "COUNT", "0") == [b"0", []]
    assert raw.call("HSCAN", "nokey", "abc") == Error("ERR invalid cursor")


def _full_hscan(raw, key, *options):
    cursor, seen = b"0", []
    for _ in range(10000):
        cursor, items = raw.call("HSCAN", key, cursor, *options)
        seen.extend(zip(items[::2], items[1::2]))
        if cursor == b"0":
            return seen
    raise AssertionError("HSCAN did not finish")


def test_hscan_big_hash(raw):
    fields = {b"f%d" % i: b"v%d" % i for i in range(1000)}
    raw.call("HSET", "h", *[x for pair in fields.items() for x in pair])
    seen = _full_hscan(raw, "h", "COUNT", "20")
    assert dict(seen) == fields
    matched = _full_hscan(raw, "h", "MATCH", "f1*", "COUNT", "50")
    assert dict(matched) == {f: v for f, v in fields.items() if f.startswith(b"f1")}


def test_hscan_returns_fields_present_for_the_whole_scan(raw):
    raw.call("HSET", "h", *[x for i in range(1000) for x in (b"f%d" % i, b"v")])
    cursor, seen, step = b"0", set(), 0
    while True:
        cursor, items = raw.call("HSCAN", "h", cursor, "COUNT", "25")
        seen.update(items[::2])
        step += 1
        # Churn while scanning: remove some of the first half, add new fields.
        raw.call("HDEL", "h", b"f%d" % (step * 3))
        raw.call("HSET", "h", b"new%d" % step, b"v")
        if cursor == b"0":
            break
    stable = {b"f%d" % i for i in range(1000)} - {b"f%d" % (s * 3) for s in range(1, step + 1)}
    assert stable <= seen


# -- encodings ----------------------------------------------------------------------

def test_encoding_listpack_to_hashtable_by_entries(r):
    r.hset("h", mapping={f"f{i}": i for i in range(512)})
    assert encoding(r, "h") == b"listpack"
    r.hset("h", "one-more", 1)
    assert encoding(r, "h") == b"hashtable"
    r.hdel("h", *[f"f{i}" for i in range(500)])
    assert encoding(r, "h") == b"hashtable"        # one-way


@pytest.mark.parametrize("command", [
    ("HSET", "h", "f", LONG), ("HSET", "h", LONG, "v"), ("HMSET", "h", "f", LONG),
    ("HSETNX", "h", "new", LONG), ("HINCRBY", "h", LONG, "1"), ("HINCRBYFLOAT", "h", LONG, "1.5"),
])
def test_encoding_long_strings(raw, command):
    raw.call("HSET", "h", "a", "1")
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
    raw.call(*command)
    assert raw.call("OBJECT", "ENCODING", "h") == b"hashtable"


def test_encoding_exact_limits(raw):
    raw.call("HSET", "h", "f" * 64, "v" * 64)
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
    # HSETNX on an existing field changes nothing, not even the encoding.
    assert raw.call("HSETNX", "h", "f" * 64, LONG) == 0
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
    # HSET converts on any long argument, even when the field already holds it.
    raw.call("HSET", "h", "a", "1", "b", LONG)
    raw.call("HDEL", "h", "b")
    assert raw.call("OBJECT", "ENCODING", "h") == b"hashtable"


def test_hscan_of_hashtable_after_shrinking(raw):
    raw.call("HSET", "h", "a", "1", "b", LONG)
    raw.call("HDEL", "h", "b")
    cursor, items = raw.call("HSCAN", "h", "0")
    seen = list(items)
    while cursor != b"0":
        cursor, items = raw.call("HSCAN", "h", cursor)
        seen.extend(items)
    assert seen == [b"a", b"1"]


def test_hrandfield_negative_counts_cover_fields(r):
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    counts = Counter(r.hrandfield("h", -3000))
    assert set(counts) == {b"a", b"b", b"c"}
    assert min(counts.values()) > 700


def test_encoding_follows_configured_limits(raw):
    old = {name: config_get(raw, name) for name in ("hash-max-listpack-entries", "hash-max-listpack-value")}
    try:
        raw.call("CONFIG", "SET", "hash-max-listpack-entries", "2", "hash-max-listpack-value", "3")
        raw.call("HSET", "h", "a", "1", "b", "2")
        assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
        raw.call("HSET", "h", "c", "3")
        assert raw.call("OBJECT", "ENCODING", "h") == b"hashtable"
        raw.call("HINCRBY", "counter", "f", "1000")       # the new value is 4 bytes long
        assert raw.call("OBJECT", "ENCODING", "counter") == b"hashtable"
    finally:
        for name, value in old.items():
            raw.call("CONFIG", "SET", name, value)
