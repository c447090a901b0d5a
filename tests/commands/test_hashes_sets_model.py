"""Random hash and set command sequences, run on Ferrous and on real Redis 7.0 side
by side: every reply must be the same (DESIGN.md §6, property tests).

Where Redis leaves the result open, the check is weaker but still exact about
what is defined:
- order of hashtable-encoded collections is unspecified, so those replies are
  compared sorted (listpack and intset orders are compared exactly);
- SPOP, SRANDMEMBER and HRANDFIELD pick at random: Ferrous's reply is checked
  against Redis's contents (size, distinctness, membership, field values), and
  what SPOP removed on Ferrous is then removed on Redis too, the way Redis
  itself would have left the set (so encodings stay comparable).
After every step both servers must hold the same types, encodings and contents.
"""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from resp_client import Error, RawClient, RespMap, RespSet

LONG = b"L" * 65
KEYS = st.integers(0, 3)
MEMBERS = st.sampled_from([b"a", b"b", b"c", b"1", b"2", b"3", b"-7", b"10", b"01", b"", LONG])
FIELDS = st.sampled_from([b"f", b"g", b"h", b"1", b"n", b"", LONG])
VALUES = st.sampled_from([b"0", b"1", b"-5", b"1.5", b"x", b"", b"9223372036854775807",
                          b"3e2", b"0x10", b" 1", LONG])
FLOAT_TEXTS = st.one_of(
    st.sampled_from([b"0.1", b"-0.1", b"1e308", b"inf", b"nan", b"abc", b"", b"1e-5000",
                     b"3.0e3", b"0x1p-3", b"1.23456789012345678901"]),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
    st.integers(-10**6, 10**6).map(lambda i: b"%d" % i),
)
INT_TEXTS = st.one_of(st.integers(-100, 100).map(lambda i: b"%d" % i),
                      st.sampled_from([b"9223372036854775807", b"-9223372036854775808", b"1.5", b"x"]))
COUNTS = st.one_of(st.integers(-12, 12), st.sampled_from([600, -600, 0]))
SCAN_OPTIONS = st.lists(st.sampled_from([(b"COUNT", b"5"), (b"COUNT", b"50"), (b"MATCH", b"*"),
                                         (b"MATCH", b"1*"), (b"MATCH", b"[a-f]*")]), max_size=2)


def normalized(reply):
    """A reply with its elements sorted (for collections whose order Redis leaves open)."""
    if isinstance(reply, RespSet):
        return RespSet(tuple(sorted(reply.items)))
    if isinstance(reply, RespMap):
        return RespMap(tuple(sorted(reply.items)))
    if isinstance(reply, list):
        return sorted(reply, key=repr)
    return reply


def elements(reply) -> list:
    return list(reply.items) if isinstance(reply, RespSet) else list(reply)


class HashSetMachine(RuleBasedStateMachine):
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
        names = [self.key(i) for i in range(4)]
        self.ferrous.call("DEL", *names)
        self.redis.call("DEL", *names)
        self.ferrous.close()
        self.redis.close()

    # -- helpers ---------------------------------------------------------------------
    def key(self, i: int) -> bytes:
        return self.prefix + b":%d" % i

    def both(self, *args):
        return self.ferrous.call(*args), self.redis.call(*args)

    def same(self, *args, unordered: bool = False):
        got, expected = self.both(*args)
        if unordered:
            got, expected = normalized(got), normalized(expected)
        assert got == expected, f"{args!r}: ferrous {got!r}, redis {expected!r}"
        return expected

    def redis_encoding(self, key: bytes):
        return self.redis.call("OBJECT", "ENCODING", key)

    def unordered(self, key: bytes) -> bool:
        """Does Redis iterate this key in an unspecified (hashtable) order?"""
        return self.redis_encoding(key) == b"hashtable"

    def redis_type(self, key: bytes) -> str:
        return self.redis.call("TYPE", key).text

    # -- keys of other types -------------------------------------------------------------
    @rule(k=KEYS)
    def set_string(self, k):
        self.same("SET", self.key(k), "string")

    @rule(k=KEYS)
    def delete(self, k):
        self.same("DEL", self.key(k))

    # -- hashes --------------------------------------------------------------------------
    @rule(k=KEYS, pairs=st.lists(st.tuples(FIELDS, VALUES), min_size=1, max_size=4),
          command=st.sampled_from(["HSET", "HMSET"]))
    def hset(self, k, pairs, command):
        self.same(command, self.key(k), *[x for pair in pairs for x in pair])

    @rule(k=KEYS, n=st.integers(500, 520))
    def hset_many(self, k, n):
        args = [x for i in range(n) for x in (b"field%d" % i, b"%d" % i)]
        self.same("HSET", self.key(k), *args)

    @rule(k=KEYS, field=FIELDS, value=VALUES)
    def hsetnx(self, k, field, value):
        self.same("HSETNX", self.key(k), field, value)

    @rule(k=KEYS, fields=st.lists(FIELDS, min_size=1, max_size=3))
    def hdel(self, k, fields):
        self.same("HDEL", self.key(k), *fields)

    @rule(k=KEYS, field=FIELDS,
          command=st.sampled_from(["HGET", "HSTRLEN", "HEXISTS", "HMGET"]))
    def hash_field_read(self, k, field, command):
        self.same(command, self.key(k), field)

    @rule(k=KEYS, command=st.sampled_from(["HLEN", "HKEYS", "HVALS", "HGETALL"]))
    def hash_read(self, k, command):
        self.same(command, self.key(k), unordered=self.unordered(self.key(k)))

    @rule(k=KEYS, field=FIELDS, increment=INT_TEXTS)
    def hincrby(self, k, field, increment):
        self.same("HINCRBY", self.key(k), field, increment)

    @rule(k=KEYS, field=FIELDS, increment=FLOAT_TEXTS)
    def hincrbyfloat(self, k, field, increment):
        self.same("HINCRBYFLOAT", self.key(k), field, increment)

    @rule(k=KEYS, count=st.one_of(st.none(), COUNTS), withvalues=st.booleans())
    def hrandfield(self, k, count, withvalues):
        key = self.key(k)
        args = ["HRANDFIELD", key]
        if count is not None:
            args.append(b"%d" % count)
            if withvalues:
                args.append(b"WITHVALUES")
        size = self.redis.call("HLEN", key)
        if not isinstance(size, int) or size == 0 or count == 0:
            self.same(*args)                      # errors, nil, empty array
            return
        contents = self.redis.call("HGETALL", key)
        pairs = contents.items if isinstance(contents, RespMap) else zip(contents[::2], contents[1::2])
        hash_ = dict(pairs)
        got = self.ferrous.call(*args)
        if count is None:
            assert got in hash_
            return
        if count > 0 and count >= size:
            self.same(*args, unordered=self.unordered(key))
            return
        if withvalues:
            if self.protocol == 3:
                assert all(isinstance(p, list) and len(p) == 2 for p in got), got
                picked = [tuple(p) for p in got]
            else:
                picked = list(zip(got[::2], got[1::2]))
            assert all(hash_[f] == v for f, v in picked), got
            fields = [f for f, _ in picked]
        else:
            fields = got
        assert len(fields) == abs(count)
        assert set(fields) <= set(hash_)
        if count > 0:
            assert len(set(fields)) == count

    @rule(k=KEYS, options=SCAN_OPTIONS)
    def hscan(self, k, options):
        self._scan("HSCAN", self.key(k), options, pairs=True)

    # -- sets ----------------------------------------------------------------------------
    @rule(k=KEYS, members=st.lists(MEMBERS, min_size=1, max_size=5))
    def sadd(self, k, members):
        self.same("SADD", self.key(k), *members)

    @rule(k=KEYS, start=st.integers(-5, 5), n=st.integers(505, 515))
    def sadd_many(self, k, start, n):
        self.same("SADD", self.key(k), *range(start, start + n))

    @rule(k=KEYS, members=st.lists(MEMBERS, min_size=1, max_size=5))
    def srem(self, k, members):
        self.same("SREM", self.key(k), *members)

    @rule(k=KEYS, member=MEMBERS, command=st.sampled_from(["SISMEMBER", "SMISMEMBER"]))
    def sismember(self, k, member, command):
        self.same(command, self.key(k), member)

    @rule(k=KEYS, command=st.sampled_from(["SCARD", "SMEMBERS"]))
    def set_read(self, k, command):
        self.same(command, self.key(k), unordered=self.unordered(self.key(k)))

    @rule(src=KEYS, dst=KEYS, member=MEMBERS)
    def smove(self, src, dst, member):
        self.same("SMOVE", self.key(src), self.key(dst), member)

    @rule(ks=st.lists(KEYS, min_size=1, max_size=3),
          command=st.sampled_from(["SINTER", "SUNION", "SDIFF"]))
    def set_algebra(self, ks, command):
        self.same(command, *[self.key(k) for k in ks], unordered=True)

    @rule(dst=KEYS, ks=st.lists(KEYS, min_size=1, max_size=3),
          command=st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]))
    def set_algebra_store(self, dst, ks, command):
        self.same(command, self.key(dst), *[self.key(k) for k in ks])

    @rule(ks=st.lists(KEYS, min_size=1, max_size=3), limit=st.one_of(st.none(), st.integers(-1, 4)))
    def sintercard(self, ks, limit):
        args = ["SINTERCARD", len(ks), *[self.key(k) for k in ks]]
        if limit is not None:
            args += ["LIMIT", limit]
        self.same(*args)

    @rule(k=KEYS, count=st.one_of(st.none(), COUNTS))
    def srandmember(self, k, count):
        key = self.key(k)
        args = ["SRANDMEMBER", key] + ([] if count is None else [b"%d" % count])
        size = self.redis.call("SCARD", key)
        if not isinstance(size, int) or size == 0 or count == 0:
            self.same(*args)
            return
        members = set(elements(self.redis.call("SMEMBERS", key)))
        got = self.ferrous.call(*args)
        if count is None:
            assert got in members
        elif count > 0 and count >= size:
            self.same(*args, unordered=self.unordered(key))
        else:
            assert isinstance(got, list) and len(got) == abs(count) and set(got) <= members
            if count > 0:
                assert len(set(got)) == count

    @rule(k=KEYS, count=st.one_of(st.none(), st.integers(-1, 12), st.just(600)))
    def spop(self, k, count):
        key = self.key(k)
        args = ["SPOP", key] + ([] if count is None else [b"%d" % count])
        size = self.redis.call("SCARD", key)
        if not isinstance(size, int) or size == 0 or count is not None and (count <= 0 or count >= size):
            self.same(*args, unordered=isinstance(size, int) and self.unordered(key))
            return
        members = set(elements(self.redis.call("SMEMBERS", key)))
        got = self.ferrous.call(*args)
        if count is None:
            assert got in members
            self.redis.call("SREM", key, got)
            return
        assert isinstance(got, RespSet) if self.protocol == 3 else isinstance(got, list)
        popped = elements(got)
        assert len(popped) == len(set(popped)) == count and set(popped) <= members
        if (size - count) * 5 > count:
            self.redis.call("SREM", key, *popped)      # Redis pops one by one
        else:
            # Redis builds a new set of the members that stay: rebuild it the same way.
            self.redis.call("DEL", key)
            self.redis.call("SADD", key, *sorted(members - set(popped)))

    @rule(k=KEYS, options=SCAN_OPTIONS)
    def sscan(self, k, options):
        self._scan("SSCAN", self.key(k), options, pairs=False)

    def _scan(self, command, key, options, pairs):
        flat = [x for option in options for x in option]
        kind = "hash" if pairs else "set"
        if self.redis_type(key) != kind or self.redis_encoding(key) != b"hashtable":
            # Missing key, wrong type or compact encoding: one exact reply.
            self.same(command, key, b"0", *flat)
            return
        found = []
        for client in (self.ferrous, self.redis):
            cursor, seen = b"0", set()
            for _ in range(5000):
                cursor, batch = client.call(command, key, cursor, *flat)
                seen.update(zip(batch[::2], batch[1::2]) if pairs else batch)
                if cursor == b"0":
                    break
            found.append(seen)
        assert found[0] == found[1], f"{command} {key!r} {flat!r}"

    # -- the whole state -----------------------------------------------------------------
    @invariant()
    def same_state(self):
        for i in range(4):
            key = self.key(i)
            kind = self.same("TYPE", key).text
            if kind == "hash":
                self.same("OBJECT", "ENCODING", key)
                self.same("HGETALL", key, unordered=True)
            elif kind == "set":
                self.same("OBJECT", "ENCODING", key)
                self.same("SMEMBERS", key, unordered=self.unordered(key))




@pytest.mark.parametrize("resp", [2, 3])
def test_random_hash_and_set_commands_match_redis(ferrous, real_redis, resp):
    machine = type("Machine", (HashSetMachine,), {"ports": (ferrous.port, real_redis.port), "protocol": resp})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=30, stateful_step_count=30, deadline=None,
        suppress_health_check=list(HealthCheck)))


def test_model_sees_errors_as_replies(ferrous, real_redis):
    """The comparison helpers treat an error reply as a value (so WRONGTYPE paths are compared)."""
    machine = type("Machine", (HashSetMachine,), {"ports": (ferrous.port, real_redis.port), "protocol": 2})()
    try:
        machine.set_string(0)
        reply = machine.same("SADD", machine.key(0), "a")
        assert reply == Error("WRONGTYPE Operation against a key holding the wrong kind of value")
    finally:
        machine.teardown()
