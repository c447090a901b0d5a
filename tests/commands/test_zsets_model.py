"""Random sorted set command sequences, run on Ferrous and on real Redis 7.0 side by
side: every reply must be the same (DESIGN.md §6, property tests).

Where Redis leaves the result open, the check is weaker but still exact about what
is defined:
- ZSCAN of a skiplist follows the hash table's order: compared as sorted pairs;
- ZRANDMEMBER with a count below the size picks at random: size, distinctness and
  scores are checked against Redis's contents instead;
- lex ranges are only defined when every score is equal: lex commands run on keys
  whose scores are all the same (both servers agree on that through the invariant).
After every step both servers must hold the same types, encodings and contents.
"""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from resp_client import Error, RawClient

LONG = b"L" * 65
NKEYS = 4
KEYS = st.integers(0, NKEYS - 1)
MEMBERS = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"1", b"10", b"", LONG])
SCORES = st.one_of(
    st.integers(-3, 3).map(lambda i: b"%d" % i),
    st.sampled_from([b"1.5", b"-0", b"0.1", b"1.1", b"inf", b"-inf", b"+inf", b"1e300", b"0x10",
                     b"abc", b"nan", b"1e400"]),
)
BOUNDS = st.one_of(SCORES, SCORES.map(lambda s: b"(" + s), st.sampled_from([b"(", b""]))
LEX_BOUNDS = st.sampled_from([b"-", b"+", b"[a", b"(a", b"[c", b"(c", b"[", b"(", b"[10", b"a", b"+x"])
INDEXES = st.integers(-6, 6).map(lambda i: b"%d" % i)
LIMITS = st.one_of(st.none(), st.tuples(st.integers(-1, 4), st.integers(-1, 4)))
ZADD_FLAGS = st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"]), max_size=2, unique=True)


def pairs_of(flat: list) -> list:
    """[(member, score), ...] from a RESP2 flat or RESP3 nested WITHSCORES reply."""
    if flat and isinstance(flat[0], list):
        return [tuple(pair) for pair in flat]
    return list(zip(flat[0::2], flat[1::2]))


class ZSetMachine(RuleBasedStateMachine):
    ports: tuple = ()
    protocol = 2

    def __init__(self):
        super().__init__()
        self.ferrous = RawClient(port=self.ports[0])
        self.redis = RawClient(port=self.ports[1])
        if self.protocol == 3:
            self.ferrous.call("HELLO", "3")
            self.redis.call("HELLO", "3")
        self.prefix = uuid.uuid4().hex[:10].encode()   # no FLUSHALL needed between examples

    def teardown(self):
        names = [self.key(i) for i in range(NKEYS)]
        self.ferrous.call("DEL", *names)
        self.redis.call("DEL", *names)
        self.ferrous.close()
        self.redis.close()

    # -- helpers ---------------------------------------------------------------------------
    def key(self, i: int) -> bytes:
        # A hash tag keeps the keys together should the servers ever run clustered.
        return b"{%s}:%d" % (self.prefix, i)

    def same(self, *args):
        got, expected = self.ferrous.call(*args), self.redis.call(*args)
        assert got == expected, f"{args!r}: ferrous {got!r}, redis {expected!r}"
        return expected

    def is_zset(self, key: bytes) -> bool:
        return self.redis.call("TYPE", key).text == "zset"

    def uniform_scores(self, key: bytes) -> bool:
        """Lex ranges are defined when all scores are equal (or the key is missing)."""
        if self.redis.call("TYPE", key).text not in ("zset", "none"):
            return True   # WRONGTYPE either way
        scores = {score for _, score in pairs_of(self.redis.call("ZRANGE", key, "0", "-1", "WITHSCORES"))}
        return len(scores) <= 1

    # -- other types and deletion ------------------------------------------------------------
    @rule(k=KEYS)
    def set_string(self, k):
        self.same("SET", self.key(k), "string")

    @rule(k=KEYS, members=st.lists(MEMBERS, min_size=1, max_size=3))
    def sadd(self, k, members):
        self.same("SADD", self.key(k), *members)

    @rule(k=KEYS)
    def delete(self, k):
        self.same("DEL", self.key(k))

    # -- writes ------------------------------------------------------------------------------
    @rule(k=KEYS, flags=ZADD_FLAGS, pairs=st.lists(st.tuples(SCORES, MEMBERS), min_size=1, max_size=4))
    def zadd(self, k, flags, pairs):
        self.same("ZADD", self.key(k), *flags, *[x for pair in pairs for x in pair])

    @rule(k=KEYS, start=st.integers(-50, 50), n=st.sampled_from([5, 130]), same_score=st.booleans())
    def zadd_many(self, k, start, n, same_score):
        flat = []
        for i in range(n):
            flat += [b"0" if same_score else b"%d" % (start + i), b"m%d" % (start + i)]
        self.same("ZADD", self.key(k), *flat)

    @rule(k=KEYS, increment=SCORES, member=MEMBERS)
    def zincrby(self, k, increment, member):
        self.same("ZINCRBY", self.key(k), increment, member)

    @rule(k=KEYS, members=st.lists(MEMBERS, min_size=1, max_size=3))
    def zrem(self, k, members):
        self.same("ZREM", self.key(k), *members)

    @rule(k=KEYS, low=INDEXES, high=INDEXES)
    def zremrangebyrank(self, k, low, high):
        self.same("ZREMRANGEBYRANK", self.key(k), low, high)

    @rule(k=KEYS, low=BOUNDS, high=BOUNDS)
    def zremrangebyscore(self, k, low, high):
        self.same("ZREMRANGEBYSCORE", self.key(k), low, high)

    @rule(k=KEYS, low=LEX_BOUNDS, high=LEX_BOUNDS)
    def zremrangebylex(self, k, low, high):
        if self.uniform_scores(self.key(k)):
            self.same("ZREMRANGEBYLEX", self.key(k), low, high)

    @rule(k=KEYS, command=st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), count=st.one_of(st.none(), st.integers(-1, 4)))
    def zpop(self, k, command, count):
        self.same(command, self.key(k), *([] if count is None else [b"%d" % count]))

    @rule(ks=st.lists(KEYS, min_size=1, max_size=3), where=st.sampled_from([b"MIN", b"max"]),
          count=st.one_of(st.none(), st.integers(0, 4)))
    def zmpop(self, ks, where, count):
        extra = [] if count is None else [b"COUNT", b"%d" % count]
        self.same("ZMPOP", len(ks), *[self.key(k) for k in ks], where, *extra)

    # -- ranges --------------------------------------------------------------------------------
    def range_args(self, data, kind: str) -> list:
        if kind == "rank":
            args = [data.draw(INDEXES), data.draw(INDEXES)]
        elif kind == "score":
            args = [data.draw(BOUNDS), data.draw(BOUNDS), b"BYSCORE"]
        else:
            args = [data.draw(LEX_BOUNDS), data.draw(LEX_BOUNDS), b"BYLEX"]
        if data.draw(st.booleans()):
            args.append(b"REV")
        limit = data.draw(LIMITS)
        if limit is not None:
            args += [b"LIMIT", b"%d" % limit[0], b"%d" % limit[1]]
        return args

    @rule(data=st.data(), k=KEYS, kind=st.sampled_from(["rank", "score", "lex"]), withscores=st.booleans())
    def zrange(self, data, k, kind, withscores):
        key = self.key(k)
        if kind == "lex" and not self.uniform_scores(key):
            return
        self.same("ZRANGE", key, *self.range_args(data, kind), *([b"WITHSCORES"] if withscores else []))

    @rule(data=st.data(), dst=KEYS, src=KEYS, kind=st.sampled_from(["rank", "score", "lex"]))
    def zrangestore(self, data, dst, src, kind):
        if kind == "lex" and not self.uniform_scores(self.key(src)):
            return
        self.same("ZRANGESTORE", self.key(dst), self.key(src), *self.range_args(data, kind))

    @rule(k=KEYS, low=BOUNDS, high=BOUNDS, command=st.sampled_from(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]),
          limit=LIMITS, withscores=st.booleans())
    def zrangebyscore(self, k, low, high, command, limit, withscores):
        extra = ([b"WITHSCORES"] if withscores else []) + ([] if limit is None else
                                                           [b"LIMIT", b"%d" % limit[0], b"%d" % limit[1]])
        self.same(command, self.key(k), low, high, *extra)

    @rule(k=KEYS, low=BOUNDS, high=BOUNDS)
    def zcount(self, k, low, high):
        self.same("ZCOUNT", self.key(k), low, high)

    @rule(k=KEYS, low=LEX_BOUNDS, high=LEX_BOUNDS)
    def zlexcount(self, k, low, high):
        if self.uniform_scores(self.key(k)):
            self.same("ZLEXCOUNT", self.key(k), low, high)

    # -- point reads ---------------------------------------------------------------------------
    @rule(k=KEYS, member=MEMBERS, command=st.sampled_from(["ZSCORE", "ZRANK", "ZREVRANK"]))
    def point_read(self, k, member, command):
        self.same(command, self.key(k), member)

    @rule(k=KEYS, members=st.lists(MEMBERS, min_size=1, max_size=3))
    def zmscore(self, k, members):
        self.same("ZMSCORE", self.key(k), *members)

    @rule(k=KEYS)
    def zcard(self, k):
        self.same("ZCARD", self.key(k))

    # -- set operations ------------------------------------------------------------------------
    @rule(data=st.data(), ks=st.lists(KEYS, min_size=1, max_size=3),
          op=st.sampled_from(["ZUNION", "ZINTER", "ZDIFF"]), store=st.one_of(st.none(), KEYS))
    def setop(self, data, ks, op, store):
        extra = []
        if op != "ZDIFF" and data.draw(st.booleans()):
            extra += [b"WEIGHTS"] + [data.draw(st.sampled_from([b"1", b"-1", b"0", b"2.5", b"inf"])) for _ in ks]
        if op != "ZDIFF" and data.draw(st.booleans()):
            extra += [b"AGGREGATE", data.draw(st.sampled_from([b"SUM", b"MIN", b"max"]))]
        names = [self.key(k) for k in ks]
        if store is None:
            self.same(op, len(ks), *names, *extra, *([b"WITHSCORES"] if data.draw(st.booleans()) else []))
        else:
            self.same(op + "STORE", self.key(store), len(ks), *names, *extra)

    @rule(ks=st.lists(KEYS, min_size=1, max_size=3), limit=st.one_of(st.none(), st.integers(0, 3)))
    def zintercard(self, ks, limit):
        extra = [] if limit is None else [b"LIMIT", b"%d" % limit]
        self.same("ZINTERCARD", len(ks), *[self.key(k) for k in ks], *extra)

    # -- random and scan -----------------------------------------------------------------------
    @rule(k=KEYS, count=st.one_of(st.none(), st.integers(-6, 6), st.just(300)), withscores=st.booleans())
    def zrandmember(self, k, count, withscores):
        key = self.key(k)
        if count is None:
            got, expected = self.ferrous.call("ZRANDMEMBER", key), self.redis.call("ZRANDMEMBER", key)
            assert (got is None) == (expected is None) and type(got) is type(expected)
            if isinstance(got, bytes):
                assert self.redis.call("ZSCORE", key, got) is not None
            return
        args = ["ZRANDMEMBER", key, b"%d" % count, *([b"WITHSCORES"] if withscores else [])]
        got, expected = self.ferrous.call(*args), self.redis.call(*args)
        size = len(self.members(key))
        if not isinstance(expected, list) or not size or count >= size or count == 0:
            assert got == expected, f"{args!r}: ferrous {got!r}, redis {expected!r}"
            return
        self.check_random_pick(key, got, count, withscores)

    def members(self, key: bytes) -> dict:
        if not self.is_zset(key):
            return {}
        return dict(pairs_of(self.redis.call("ZRANGE", key, "0", "-1", "WITHSCORES")))

    def check_random_pick(self, key, got, count, withscores):
        content = self.members(key)
        picked = pairs_of(got) if withscores else [(m, None) for m in got]
        assert len(picked) == abs(count)
        if count > 0:
            assert len({m for m, _ in picked}) == count
        for member, score in picked:
            assert member in content
            if withscores:
                assert score == content[member]

    @rule(k=KEYS, count=st.sampled_from([None, b"1", b"7", b"100"]), match=st.sampled_from([None, b"*", b"m1*", b"[a-c]"]))
    def zscan(self, k, count, match):
        key = self.key(k)
        options = ([] if count is None else [b"COUNT", count]) + ([] if match is None else [b"MATCH", match])
        results = []
        for client in (self.ferrous, self.redis):
            reply, seen, cursor = None, [], b"0"
            for _ in range(1000):
                reply = client.call("ZSCAN", key, cursor, *options)
                if isinstance(reply, Error):
                    break
                cursor, flat = reply
                seen += list(zip(flat[0::2], flat[1::2]))
                if cursor == b"0":
                    break
            results.append(reply if isinstance(reply, Error) else seen)
        listpack = self.redis.call("OBJECT", "ENCODING", key) == b"listpack"
        got, expected = results if listpack else [r if isinstance(r, Error) else sorted(set(r)) for r in results]
        assert got == expected, f"ZSCAN {key!r} {options!r}: ferrous {got!r}, redis {expected!r}"

    # -- the whole state -------------------------------------------------------------------------
    @invariant()
    def same_state(self):
        for i in range(NKEYS):
            key = self.key(i)
            kind = self.same("TYPE", key).text
            if kind == "zset":
                self.same("OBJECT", "ENCODING", key)
                self.same("ZRANGE", key, "0", "-1", "WITHSCORES")




@pytest.mark.parametrize("resp", [2, 3])
def test_random_zset_commands_match_redis(ferrous, real_redis, resp):
    machine = type("Machine", (ZSetMachine,), {"ports": (ferrous.port, real_redis.port), "protocol": resp})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=40, stateful_step_count=30, deadline=None,
        suppress_health_check=list(HealthCheck)))


def test_model_compares_error_replies(ferrous, real_redis):
    """Errors are replies like any other to the model (so WRONGTYPE paths are compared)."""
    machine = type("Machine", (ZSetMachine,), {"ports": (ferrous.port, real_redis.port), "protocol": 2})()
    try:
        machine.set_string(0)
        assert machine.same("ZADD", machine.key(0), "1", "a") == Error(
            "WRONGTYPE Operation against a key holding the wrong kind of value")
        assert machine.same("ZADD", machine.key(1), "nan", "a") == Error("ERR value is not a valid float")
    finally:
        machine.teardown()
