"""Random list command sequences, run on Ferrous and on real Redis 7.0 side by side:
every reply must be the same bytes on the wire (DESIGN.md §6, property tests).

Replies are compared as raw RESP, so a null array (`*-1`) and a null bulk (`$-1`)
are told apart in RESP2. The blocking commands are sent only when one of their
keys already exists (then they answer at once, like their plain twin, or fail with
WRONGTYPE); parking and waking clients is covered by test_blocking.py. After every
step both servers must hold the same types and list contents.
"""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from resp_client import RawClient
from servers import redis_available

NKEYS = 4
KEYS = st.integers(0, NKEYS - 1)
ELEMENTS = st.sampled_from([b"a", b"b", b"c", b"1", b"10", b"", b"x" * 70])
VALUES = st.lists(ELEMENTS, min_size=1, max_size=4)
INDEXES = st.one_of(
    st.integers(-6, 6).map(lambda i: b"%d" % i),
    st.sampled_from([b"9223372036854775807", b"-9223372036854775808", b"x", b"1.5", b"+1"]),
)
COUNTS = st.one_of(st.none(), st.integers(-1, 5).map(lambda i: b"%d" % i), st.just(b"x"))
WHERE = st.sampled_from([b"LEFT", b"RIGHT", b"left", b"Right", b"UP"])
LPOS_OPTIONS = st.lists(
    st.tuples(st.sampled_from([b"RANK", b"COUNT", b"MAXLEN", b"rank", b"FOO"]),
              st.sampled_from([b"0", b"1", b"2", b"-1", b"-2", b"3", b"x", b"-9223372036854775808"])),
    max_size=3)


class RecordingClient(RawClient):
    """A RawClient that also returns each reply's exact bytes."""

    def __init__(self, port):
        super().__init__(port=port)
        self.trace = []

    def _line(self) -> bytes:
        line = super()._line()
        self.trace.append(line + b"\r\n")
        return line

    def _exact(self, n: int) -> bytes:
        data = super()._exact(n)
        self.trace.append(data + b"\r\n")
        return data

    def wire(self, *args) -> bytes:
        self.trace = []
        self.call(*args)
        return b"".join(self.trace)


class ListMachine(RuleBasedStateMachine):
    ports: tuple = ()
    protocol = 2

    def __init__(self):
        super().__init__()
        self.ferrous = RecordingClient(self.ports[0])
        self.redis = RecordingClient(self.ports[1])
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
        return b"{%s}:%d" % (self.prefix, i)

    def same(self, *args) -> bytes:
        got, expected = self.ferrous.wire(*args), self.redis.wire(*args)
        assert got == expected, f"{args!r}: ferrous {got!r}, redis {expected!r}"
        return expected

    def exists(self, *keys) -> bool:
        return self.redis.call("EXISTS", *keys) > 0

    # -- rules -------------------------------------------------------------------------------
    @rule(name=st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), k=KEYS, values=VALUES)
    def push(self, name, k, values):
        self.same(name, self.key(k), *values)

    @rule(name=st.sampled_from([b"LPOP", b"RPOP"]), k=KEYS, count=COUNTS)
    def pop(self, name, k, count):
        self.same(name, self.key(k), *([] if count is None else [count]))

    @rule(k=KEYS)
    def llen(self, k):
        self.same("LLEN", self.key(k))

    @rule(k=KEYS, index=INDEXES)
    def lindex(self, k, index):
        self.same("LINDEX", self.key(k), index)

    @rule(k=KEYS, index=INDEXES, value=ELEMENTS)
    def lset(self, k, index, value):
        self.same("LSET", self.key(k), index, value)

    @rule(k=KEYS, where=st.sampled_from([b"BEFORE", b"after", b"AROUND"]), pivot=ELEMENTS, value=ELEMENTS)
    def linsert(self, k, where, pivot, value):
        self.same("LINSERT", self.key(k), where, pivot, value)

    @rule(k=KEYS, start=INDEXES, end=INDEXES)
    def lrange(self, k, start, end):
        self.same("LRANGE", self.key(k), start, end)

    @rule(k=KEYS, start=INDEXES, end=INDEXES)
    def ltrim(self, k, start, end):
        self.same("LTRIM", self.key(k), start, end)

    @rule(k=KEYS, count=INDEXES, value=ELEMENTS)
    def lrem(self, k, count, value):
        self.same("LREM", self.key(k), count, value)

    @rule(k=KEYS, element=ELEMENTS, options=LPOS_OPTIONS)
    def lpos(self, k, element, options):
        self.same("LPOS", self.key(k), element, *[part for option in options for part in option])

    @rule(src=KEYS, dst=KEYS, wherefrom=WHERE, whereto=WHERE)
    def lmove(self, src, dst, wherefrom, whereto):
        self.same("LMOVE", self.key(src), self.key(dst), wherefrom, whereto)

    @rule(src=KEYS, dst=KEYS)
    def rpoplpush(self, src, dst):
        self.same("RPOPLPUSH", self.key(src), self.key(dst))

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3), numkeys_delta=st.sampled_from([0, 0, 0, 1, -1]),
          where=WHERE, count=COUNTS)
    def lmpop(self, keys, numkeys_delta, where, count):
        tail = [] if count is None else [b"COUNT", count]
        self.same("LMPOP", len(keys) + numkeys_delta, *[self.key(k) for k in keys], where, *tail)

    @rule(name=st.sampled_from([b"BLPOP", b"BRPOP"]), keys=st.lists(KEYS, min_size=1, max_size=3),
          timeout=st.sampled_from([b"0", b"0.5", b"-1", b"x"]))
    def blocking_pop(self, name, keys, timeout):
        names = [self.key(k) for k in keys]
        if self.exists(*names) or timeout in (b"-1", b"x"):
            self.same(name, *names, timeout)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3), where=WHERE, count=COUNTS)
    def blmpop(self, keys, where, count):
        names = [self.key(k) for k in keys]
        if self.exists(*names):
            tail = [] if count is None else [b"COUNT", count]
            self.same("BLMPOP", b"0", len(names), *names, where, *tail)

    @rule(src=KEYS, dst=KEYS, wherefrom=WHERE, whereto=WHERE)
    def blmove(self, src, dst, wherefrom, whereto):
        if self.exists(self.key(src)):
            self.same("BLMOVE", self.key(src), self.key(dst), wherefrom, whereto, b"0")
        if self.exists(self.key(dst)):
            self.same("BRPOPLPUSH", self.key(dst), self.key(src), b"0")

    @rule(k=KEYS)
    def set_string(self, k):
        self.same("SET", self.key(k), "not a list")

    @rule(k=KEYS)
    def delete(self, k):
        self.same("DEL", self.key(k))

    @invariant()
    def same_contents(self):
        for i in range(NKEYS):
            key = self.key(i)
            kind = self.same("TYPE", key)
            if kind == b"+list\r\n":
                self.same("LRANGE", key, "0", "-1")




@pytest.mark.skipif(not redis_available(), reason="needs redis-server to compare with")
@pytest.mark.parametrize("resp", [2, 3])
def test_random_list_commands_match_redis(ferrous, real_redis, resp):
    machine = type("Machine", (ListMachine,), {"ports": (ferrous.port, real_redis.port), "protocol": resp})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=50, stateful_step_count=40, deadline=None,
        suppress_health_check=list(HealthCheck)))
