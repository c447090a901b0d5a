"""ScanIndex / scan_sharded: Redis's SCAN guarantee under concurrent changes."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ferrous.storage.scan import MIN_BUCKETS, ScanIndex, scan_sharded


def full_scan(index, count=10, between=None) -> list:
    """Run a whole scan; `between(step)` may change the index between calls."""
    cursor, seen, step = 0, [], 0
    while True:
        cursor, items = index.scan(cursor, count)
        seen.extend(items)
        if cursor == 0:
            return seen
        step += 1
        assert step < 100_000, "scan does not terminate"
        if between is not None:
            between(step)


def test_empty_index_scan_ends_at_once():
    assert ScanIndex().scan(0, 10) == (0, [])
    assert ScanIndex().random_item() is None


def test_every_item_exactly_once_when_nothing_changes():
    index = ScanIndex(range(1000))
    seen = full_scan(index, count=7)
    assert sorted(seen) == list(range(1000))


def test_add_is_idempotent_and_remove_tolerant():
    index = ScanIndex()
    index.add(b"a")
    index.add(b"a")
    index.remove(b"missing")
    assert len(index) == 1 and full_scan(index) == [b"a"]
    index.remove(b"a")
    assert len(index) == 0 and full_scan(index) == []


def test_table_grows_and_shrinks():
    index = ScanIndex()
    for i in range(10_000):
        index.add(i)
    grown = len(index.buckets)
    assert grown >= 10_000 // 4
    for i in range(9_990):
        index.remove(i)
    assert len(index.buckets) == grown  # remove never resizes
    assert sorted(full_scan(index)) == list(range(9_990, 10_000))
    assert len(index.buckets) < grown  # scanning shrank it
    index.clear()
    assert len(index) == 0 and len(index.buckets) == MIN_BUCKETS


def test_stable_items_survive_growth_during_scan():
    stable = list(range(500))
    index = ScanIndex(stable)
    extra = iter(range(10_000, 100_000))

    def grow(step):
        if step <= 30:  # a table that grows forever is never scanned to the end
            for _ in range(300):
                index.add(next(extra))

    seen = set(full_scan(index, count=5, between=grow))
    assert set(stable) <= seen


def test_stable_items_survive_shrinking_during_scan():
    stable = list(range(200))
    volatile = list(range(1000, 20_000))
    index = ScanIndex(stable + volatile)

    def shrink(step):
        for _ in range(2000):
            if volatile:
                index.remove(volatile.pop())

    seen = full_scan(index, count=20, between=shrink)
    assert set(stable) <= set(seen)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 50))
def test_random_churn_keeps_the_guarantee(seed, count):
    rng = random.Random(seed)
    stable = {("s", i) for i in range(rng.randint(0, 300))}
    churn = [("c", i) for i in range(rng.randint(0, 3000))]
    index = ScanIndex(list(stable) + churn)
    added = iter(("n", i) for i in range(10**9))

    def churn_step(step):
        for _ in range(rng.randint(0, 100)):
            if churn and rng.random() < 0.5:
                index.remove(churn.pop(rng.randrange(len(churn))))
            else:
                item = next(added)
                churn.append(item)
                index.add(item)

    assert stable <= set(full_scan(index, count=count, between=churn_step))


def test_cursor_walks_reverse_binary_order():
    index = ScanIndex()  # MIN_BUCKETS = 4, visited as 0, 2, 1, 3
    assert len(index.buckets) == MIN_BUCKETS == 4
    assert [index.next_cursor(c) for c in (0, 2, 1, 3)] == [2, 1, 3, 0]


def test_random_item_is_a_member_and_covers_all():
    index = ScanIndex(range(20))
    picks = {index.random_item() for _ in range(2000)}
    assert picks == set(range(20))


def test_random_item_after_mass_removal():
    index = ScanIndex(range(100_000))
    for i in range(1, 100_000):
        index.remove(i)
    assert index.random_item() == 0


def sharded(nshards: int, items) -> list:
    shift = (nshards - 1).bit_length()
    shards = [[] for _ in range(nshards)]
    for item in items:
        shards[hash(item) & (nshards - 1)].append(item)
    return [ScanIndex(shard, shift) for shard in shards]


def full_sharded_scan(indexes, count, between=None) -> list:
    cursor, seen, step = 0, [], 0
    while True:
        cursor, items = scan_sharded(indexes, cursor, count)
        assert 0 <= cursor < 2**64
        seen.extend(items)
        if cursor == 0:
            return seen
        step += 1
        if between is not None:
            between(step)


def test_sharded_scan_returns_everything_once():
    keys = [b"key:%d" % i for i in range(3000)]
    indexes = sharded(16, keys)
    seen = full_sharded_scan(indexes, count=10)
    assert sorted(seen) == sorted(keys)


def test_sharded_small_set_in_one_call():
    indexes = sharded(16, [b"a", b"b", b"c"])
    cursor, items = scan_sharded(indexes, 0, 10)
    assert cursor == 0 and sorted(items) == [b"a", b"b", b"c"]


def test_sharded_stable_keys_survive_churn():
    stable = [b"stable:%d" % i for i in range(400)]
    indexes = sharded(16, stable)
    counter = iter(range(10**9))

    def churn(step):
        for _ in range(50):
            key = b"new:%d" % next(counter)
            indexes[hash(key) & 15].add(key)
        for index in indexes:
            for item in list(index.buckets[0]):
                if item.startswith(b"new:"):
                    index.remove(item)

    assert set(stable) <= set(full_sharded_scan(indexes, count=10, between=churn))


def test_sharded_arbitrary_cursor_is_accepted():
    indexes = sharded(16, [b"k%d" % i for i in range(100)])
    cursor, items = scan_sharded(indexes, 2**64 - 1, 10)
    assert 0 <= cursor < 2**64
