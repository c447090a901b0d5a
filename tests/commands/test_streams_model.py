"""Random consumer-group command sequences on Ferrous and real Redis 7.0 side by side:
every reply must be the same (DESIGN.md §6, property tests).

Times are the only thing the two servers cannot agree on to the millisecond, so
idle times, delivery times and seen-times are masked before comparing; everything
else (IDs, PEL ownership, delivery counts, entries-read, lag, node layout, error
texts) is compared exactly. After every step both servers hold the same streams.
"""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from resp_client import RawClient, RespMap

NKEYS = 2
KEYS = st.integers(0, NKEYS - 1)
GROUPS = st.sampled_from([b"g1", b"g2"])
CONSUMERS = st.sampled_from([b"alice", b"bob", b"carol"])
IDS = st.builds(lambda ms, seq: b"%d-%d" % (ms, seq), st.integers(0, 12), st.integers(0, 2))
START_IDS = st.one_of(IDS, st.sampled_from([b"-", b"0", b"(3-1", b"+"]))
FIELDS = st.sampled_from([[b"f", b"1"], [b"f", b"2", b"g", b"x"], [b"other", b"v"]])
COUNTS = st.one_of(st.none(), st.integers(0, 3))
TIME_FIELDS = {b"idle", b"seen-time"}


def mask_times(reply, parent_key=None):
    """Replace time-dependent numbers by 0 (idle, seen-time, delivery times)."""
    if isinstance(reply, RespMap):
        return RespMap(tuple((k, 0 if k in TIME_FIELDS else mask_times(v, k)) for k, v in reply.items))
    if isinstance(reply, list):
        if reply and isinstance(reply[0], bytes) and reply[0] in TIME_FIELDS | {b"name", b"length"}:
            out = []
            for k, v in zip(reply[0::2], reply[1::2]):
                out += [k, 0 if k in TIME_FIELDS else mask_times(v, k)]
            return out
        if parent_key == b"pending" and reply and isinstance(reply[0], list):
            # [id, consumer, delivery-time, count] (group) or [id, delivery-time, count] (consumer)
            return [[*p[:-2], 0, p[-1]] for p in reply]
        return [mask_times(item) for item in reply]
    return reply


def mask_idle(reply):
    """XPENDING's extended form: [id, consumer, idle, deliveries] -> idle 0."""
    if isinstance(reply, list):
        return [[p[0], p[1], 0, p[3]] for p in reply]
    return reply


class StreamGroupMachine(RuleBasedStateMachine):
    ports: tuple = ()
    protocol = 2

    def __init__(self):
        super().__init__()
        self.ferrous = RawClient(port=self.ports[0])
        self.redis = RawClient(port=self.ports[1])
        if self.protocol == 3:
            self.ferrous.call("HELLO", "3")
            self.redis.call("HELLO", "3")
        self.prefix = uuid.uuid4().hex[:10].encode()

    def teardown(self):
        names = [self.key(i) for i in range(NKEYS)]
        self.ferrous.call("DEL", *names)
        self.redis.call("DEL", *names)
        self.ferrous.close()
        self.redis.close()

    def key(self, i: int) -> bytes:
        return b"{%s}:%d" % (self.prefix, i)

    def same(self, *args, mask=None):
        got, expected = self.ferrous.call(*args), self.redis.call(*args)
        if mask is not None:
            got, expected = mask(got), mask(expected)
        assert got == expected, f"{args!r}: ferrous {got!r}, redis {expected!r}"
        return expected

    # -- writes ------------------------------------------------------------------
    @rule(k=KEYS, stream_id=st.one_of(IDS, IDS.map(lambda i: i.split(b"-")[0] + b"-*")), fields=FIELDS,
          trim=st.one_of(st.none(), st.tuples(st.sampled_from([b"MAXLEN", b"MINID"]),
                                              st.sampled_from([b"=", b"~"]), st.sampled_from([b"2", b"5-0"]))))
    def xadd(self, k, stream_id, fields, trim):
        args = [b"XADD", self.key(k)]
        if trim is not None and not (trim[0] == b"MAXLEN" and b"-" in trim[2]):
            args += list(trim)
        self.same(*args, stream_id, *fields)

    @rule(k=KEYS, ids=st.lists(IDS, min_size=1, max_size=3))
    def xdel(self, k, ids):
        self.same("XDEL", self.key(k), *ids)

    @rule(k=KEYS, maxlen=st.integers(0, 4))
    def xtrim(self, k, maxlen):
        self.same("XTRIM", self.key(k), "MAXLEN", str(maxlen))

    @rule(k=KEYS, stream_id=IDS)
    def xsetid(self, k, stream_id):
        self.same("XSETID", self.key(k), stream_id)

    # -- groups ------------------------------------------------------------------
    @rule(k=KEYS, group=GROUPS, start=st.sampled_from([b"$", b"0", b"3-0"]), mkstream=st.booleans(),
          entries_read=st.one_of(st.none(), st.integers(-1, 3)))
    def xgroup_create(self, k, group, start, mkstream, entries_read):
        args = ["XGROUP", "CREATE", self.key(k), group, start]
        if mkstream:
            args.append("MKSTREAM")
        if entries_read is not None:
            args += ["ENTRIESREAD", str(entries_read)]
        self.same(*args)

    @rule(k=KEYS, group=GROUPS, start=st.sampled_from([b"$", b"0", b"2-0", b"+"]))
    def xgroup_setid(self, k, group, start):
        self.same("XGROUP", "SETID", self.key(k), group, start)

    @rule(k=KEYS, group=GROUPS)
    def xgroup_destroy(self, k, group):
        self.same("XGROUP", "DESTROY", self.key(k), group)

    @rule(k=KEYS, group=GROUPS, consumer=CONSUMERS, create=st.booleans())
    def xgroup_consumer(self, k, group, consumer, create):
        self.same("XGROUP", "CREATECONSUMER" if create else "DELCONSUMER", self.key(k), group, consumer)

    @rule(k=KEYS, group=GROUPS, consumer=CONSUMERS, count=COUNTS, start=st.sampled_from([b">", b"0", b"2-0"]),
          noack=st.booleans())
    def xreadgroup(self, k, group, consumer, count, start, noack):
        args = ["XREADGROUP", "GROUP", group, consumer]
        if count is not None:
            args += ["COUNT", str(count)]
        if noack:
            args.append("NOACK")
        self.same(*args, "STREAMS", self.key(k), start)

    @rule(k=KEYS, group=GROUPS, ids=st.lists(IDS, min_size=1, max_size=3))
    def xack(self, k, group, ids):
        self.same("XACK", self.key(k), group, *ids)

    @rule(k=KEYS, group=GROUPS, consumer=CONSUMERS, ids=st.lists(IDS, min_size=1, max_size=3),
          options=st.lists(st.sampled_from([b"JUSTID", b"FORCE", b"RETRYCOUNT", b"LASTID"]), max_size=2, unique=True))
    def xclaim(self, k, group, consumer, ids, options):
        args = ["XCLAIM", self.key(k), group, consumer, "0", *ids]
        for option in options:
            args.append(option)
            if option == b"RETRYCOUNT":
                args.append("5")
            elif option == b"LASTID":
                args.append("6-0")
        self.same(*args)

    @rule(k=KEYS, group=GROUPS, consumer=CONSUMERS, start=START_IDS, count=st.integers(1, 3), justid=st.booleans())
    def xautoclaim(self, k, group, consumer, start, count, justid):
        args = ["XAUTOCLAIM", self.key(k), group, consumer, "0", start, "COUNT", str(count)]
        if justid:
            args.append("JUSTID")
        self.same(*args)

    # -- reads -------------------------------------------------------------------
    @rule(k=KEYS, group=GROUPS, consumer=st.one_of(st.none(), CONSUMERS), start=START_IDS, count=st.integers(0, 4))
    def xpending(self, k, group, consumer, start, count):
        self.same("XPENDING", self.key(k), group)
        args = ["XPENDING", self.key(k), group, start, "+", str(count)]
        if consumer is not None:
            args.append(consumer)
        self.same(*args, mask=mask_idle)

    @rule(k=KEYS, start=START_IDS, end=st.one_of(IDS, st.sampled_from([b"+", b"(5-1", b"(0-0"])),
          count=COUNTS, rev=st.booleans())
    def xrange(self, k, start, end, count, rev):
        args = ["XREVRANGE", self.key(k), end, start] if rev else ["XRANGE", self.key(k), start, end]
        if count is not None:
            args += ["COUNT", str(count)]
        self.same(*args)

    @rule(ids=st.lists(st.one_of(IDS, st.just(b"$")), min_size=NKEYS, max_size=NKEYS), count=COUNTS)
    def xread(self, ids, count):
        args = ["XREAD"] if count is None else ["XREAD", "COUNT", str(count)]
        self.same(*args, "STREAMS", *[self.key(i) for i in range(NKEYS)], *ids)

    @rule(k=KEYS, minid=IDS, limit=st.one_of(st.none(), st.integers(0, 3)))
    def xtrim_minid(self, k, minid, limit):
        args = ["XTRIM", self.key(k), "MINID", "~" if limit is not None else "=", minid]
        if limit is not None:
            args += ["LIMIT", str(limit)]
        self.same(*args)

    @rule(k=KEYS, group=GROUPS)
    def xinfo_consumers(self, k, group):
        self.same("XINFO", "CONSUMERS", self.key(k), group, mask=mask_times)

    @invariant()
    def same_streams(self):
        for i in range(NKEYS):
            key = self.key(i)
            self.same("XRANGE", key, "-", "+")
            self.same("XINFO", "STREAM", key)
            self.same("XINFO", "GROUPS", key)
            self.same("XINFO", "STREAM", key, "FULL", mask=mask_times)


@pytest.mark.parametrize("resp,node_entries", [(2, 100), (3, 3)])
def test_random_group_commands_match_redis(ferrous, real_redis, resp, node_entries):
    """node_entries 3 makes most streams span several nodes (trims, tombstones, XINFO)."""
    machine = type("Machine", (StreamGroupMachine,), {"ports": (ferrous.port, real_redis.port), "protocol": resp})
    clients = [RawClient(port=ferrous.port), RawClient(port=real_redis.port)]
    for client in clients:
        client.call("CONFIG", "SET", "stream-node-max-entries", str(node_entries))
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=30, stateful_step_count=30, deadline=None,
            suppress_health_check=list(HealthCheck)))
    finally:
        for client in clients:
            client.call("CONFIG", "SET", "stream-node-max-entries", "100")
            client.close()


def test_mask_keeps_everything_but_times():
    reply = [b"name", b"c", b"pending", 2, b"idle", 17]
    assert mask_times(reply) == [b"name", b"c", b"pending", 2, b"idle", 0]
    full = RespMap(((b"pending", [[b"1-1", b"c", 123, 4]]), (b"seen-time", 99)))
    assert mask_times(full) == RespMap(((b"pending", [[b"1-1", b"c", 0, 4]]), (b"seen-time", 0)))
