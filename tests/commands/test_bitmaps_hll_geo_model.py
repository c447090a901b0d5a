"""Random bitmap, HyperLogLog and geo command sequences on Ferrous and real Redis 7.0
side by side: every reply must be the same, and so must the stored bytes of every
string key (bitmaps and HyperLogLogs are strings, so GET compares them exactly).

Bit commands also land on HLL keys, so corrupt HLLs are exercised too. SETBIT offsets
stay small (a 4294967295 offset would make both servers allocate 512 MB). The number
of examples is bounded so the file runs in well under a minute, on 3.13t as well.
"""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from resp_client import RawClient

KEYS = st.integers(0, 3)
OFFSETS = st.one_of(st.integers(0, 200), st.sampled_from([b"-1", b"x", b"4294967296"]))
SPARSE_MAX_BYTES = 3000         # the default, restored after each run
RANGE_ENDS = st.integers(-30, 30)
UNITS = st.sampled_from([[], [b"BYTE"], [b"BIT"], [b"bit"]])
FIELD_TYPES = st.sampled_from([b"u1", b"u8", b"i8", b"i5", b"u63", b"i64", b"u64", b"x3"])
FIELD_OFFSETS = st.one_of(st.integers(0, 100).map(lambda i: b"%d" % i),
                          st.integers(0, 10).map(lambda i: b"#%d" % i))
OVERFLOWS = st.sampled_from([b"WRAP", b"SAT", b"FAIL"])
ELEMENTS = st.one_of(st.integers(0, 400).map(lambda i: b"e%d" % i), st.binary(max_size=6))
LONS = st.one_of(st.floats(-180, 180, allow_nan=False), st.sampled_from([200.0, -181.0]))
LATS = st.one_of(st.floats(-85.05112878, 85.05112878, allow_nan=False), st.sampled_from([86.0]))
MEMBERS = st.sampled_from([b"a", b"b", b"c", b"d", b"e"])
UNITS_GEO = st.sampled_from([b"m", b"km", b"mi", b"ft"])


class BitHllGeoMachine(RuleBasedStateMachine):
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
        names = [self.key(i) for i in range(4)]
        for client in (self.ferrous, self.redis):
            client.call("DEL", *names)
            client.call("CONFIG", "SET", "hll-sparse-max-bytes", SPARSE_MAX_BYTES)
            client.close()

    def key(self, i: int) -> bytes:
        return self.prefix + b":%d" % i

    def same(self, *args):
        got, expected = self.ferrous.call(*args), self.redis.call(*args)
        assert got == expected, f"{args!r}: ferrous {got!r}, redis {expected!r}"
        return expected

    @invariant()
    def stored_values_match(self):
        for i in range(4):
            key = self.key(i)
            self.same("TYPE", key)
            if self.redis.call("TYPE", key).text == "string":
                self.same("GET", key)

    # -- bitmaps --------------------------------------------------------------------------
    @rule(k=KEYS, offset=OFFSETS, bit=st.sampled_from([b"0", b"1", b"2"]))
    def setbit(self, k, offset, bit):
        self.same("SETBIT", self.key(k), offset, bit)

    @rule(k=KEYS, offset=OFFSETS)
    def getbit(self, k, offset):
        self.same("GETBIT", self.key(k), offset)

    @rule(k=KEYS, bounds=st.one_of(st.just([]), st.tuples(RANGE_ENDS, RANGE_ENDS).map(list)), unit=UNITS)
    def bitcount(self, k, bounds, unit):
        self.same("BITCOUNT", self.key(k), *bounds, *(unit if bounds else []))

    @rule(k=KEYS, bit=st.sampled_from([b"0", b"1"]),
          bounds=st.one_of(st.just([]), st.tuples(RANGE_ENDS).map(list),
                           st.tuples(RANGE_ENDS, RANGE_ENDS).map(list)), unit=UNITS)
    def bitpos(self, k, bit, bounds, unit):
        self.same("BITPOS", self.key(k), bit, *bounds, *(unit if len(bounds) == 2 else []))

    @rule(op=st.sampled_from([b"AND", b"OR", b"XOR", b"NOT"]), dest=KEYS,
          sources=st.lists(KEYS, min_size=1, max_size=3))
    def bitop(self, op, dest, sources):
        self.same("BITOP", op, self.key(dest), *[self.key(s) for s in sources])

    @rule(k=KEYS, ops=st.lists(st.tuples(st.sampled_from([b"GET", b"SET", b"INCRBY", b"OVERFLOW"]),
                                         FIELD_TYPES, FIELD_OFFSETS, st.integers(-300, 300), OVERFLOWS),
                               min_size=1, max_size=4))
    def bitfield(self, k, ops):
        args = []
        for op, ftype, offset, value, overflow in ops:
            if op == b"GET":
                args += [op, ftype, offset]
            elif op == b"OVERFLOW":
                args += [op, overflow]
            else:
                args += [op, ftype, offset, b"%d" % value]
        self.same("BITFIELD", self.key(k), *args)

    # -- HyperLogLog ---------------------------------------------------------------------
    @rule(k=KEYS, elements=st.lists(ELEMENTS, max_size=8))
    def pfadd(self, k, elements):
        self.same("PFADD", self.key(k), *elements)

    @rule(k=KEYS, start=st.integers(0, 10**6), n=st.sampled_from([300, 2000]))
    def pfadd_many(self, k, start, n):
        self.same("PFADD", self.key(k), *[b"m%d" % i for i in range(start, start + n)])

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3))
    def pfcount(self, keys):
        self.same("PFCOUNT", *[self.key(k) for k in keys])

    @rule(dest=KEYS, sources=st.lists(KEYS, max_size=3))
    def pfmerge(self, dest, sources):
        self.same("PFMERGE", self.key(dest), *[self.key(s) for s in sources])

    @rule(k=KEYS, sub=st.sampled_from([b"ENCODING", b"DECODE", b"GETREG", b"TODENSE"]))
    def pfdebug(self, k, sub):
        self.same("PFDEBUG", sub, self.key(k))

    @rule(max_bytes=st.sampled_from([0, 100, 700, SPARSE_MAX_BYTES]))
    def hll_sparse_max_bytes(self, max_bytes):
        self.same("CONFIG", "SET", "hll-sparse-max-bytes", max_bytes)

    # -- geo -------------------------------------------------------------------------------
    @rule(k=KEYS, points=st.lists(st.tuples(LONS, LATS, MEMBERS), min_size=1, max_size=4),
          flags=st.sampled_from([[], [b"NX"], [b"XX"], [b"CH"]]))
    def geoadd(self, k, points, flags):
        args = [x for lon, lat, m in points for x in (repr(lon), repr(lat), m)]
        self.same("GEOADD", self.key(k), *flags, *args)

    @rule(k=KEYS, members=st.lists(MEMBERS, min_size=1, max_size=3),
          command=st.sampled_from(["GEOPOS", "GEOHASH"]))
    def geo_read(self, k, members, command):
        self.same(command, self.key(k), *members)

    @rule(k=KEYS, a=MEMBERS, b=MEMBERS, unit=UNITS_GEO)
    def geodist(self, k, a, b, unit):
        self.same("GEODIST", self.key(k), a, b, unit)

    @rule(k=KEYS, member=MEMBERS, radius=st.sampled_from([b"100", b"5000", b"20000"]), unit=UNITS_GEO,
          extras=st.sampled_from([[b"ASC"], [b"DESC", b"WITHDIST"], [b"ASC", b"WITHCOORD", b"WITHHASH"]]))
    def geosearch(self, k, member, radius, unit, extras):
        self.same("GEOSEARCH", self.key(k), "FROMMEMBER", member, "BYRADIUS", radius, unit, *extras)

    @rule(k=KEYS)
    def delete(self, k):
        self.same("DEL", self.key(k))


@pytest.mark.parametrize("resp", [2, 3])
def test_random_bitmap_hll_geo_commands_match_redis(ferrous, real_redis, resp):
    machine = type("Machine", (BitHllGeoMachine,), {"ports": (ferrous.port, real_redis.port), "protocol": resp})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=20, stateful_step_count=20, deadline=None,
        suppress_health_check=list(HealthCheck)))
