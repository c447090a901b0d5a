"""maxmemory, the eight maxmemory-policy values, LFU counters and the OOM error,
against Ferrous and real Redis 7.0 (the shared servers, configuration restored)."""
from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
import redis
from resp_client import Error, RawClient, Simple

OOM = "OOM command not allowed when used memory > 'maxmemory'."
DEADLINE = 10.0
VALUE = b"v" * 1000
HEADROOM = 300_000      # bytes allowed above current usage before eviction starts


@contextmanager
def configured(client, **params):
    """CONFIG SET params for the duration of a test, then put the old values back."""
    names = [name.replace("_", "-") for name in params]
    old = {name: client.config_get(name)[name] for name in names}
    try:
        for name, value in zip(names, params.values()):
            client.config_set(name, value)
        yield
    finally:
        client.config_set("maxmemory", 0)
        for name, value in old.items():
            client.config_set(name, value)


def used_memory(client) -> int:
    return int(client.info("memory")["used_memory"])


def evicted_keys(client) -> int:
    return int(client.info("stats")["evicted_keys"])


def fill_until_evicting(client, prefix: str, evictions: int, **set_kwargs) -> int:
    """Write 1 KB keys until `evictions` more keys were evicted; returns keys written."""
    start = evicted_keys(client)
    deadline = time.monotonic() + DEADLINE
    written = 0
    while evicted_keys(client) - start < evictions:
        assert time.monotonic() < deadline, "no eviction happened"
        pipe = client.pipeline(transaction=False)
        for _ in range(50):
            pipe.set(f"{prefix}:{written}", VALUE, **set_kwargs)
            written += 1
        pipe.execute()
    return written


def limit_above_usage(client) -> int:
    return used_memory(client) + HEADROOM


# -- noeviction and the OOM error ------------------------------------------------------
def test_noeviction_refuses_denyoom_commands_only(r, raw):
    r.set("kept", "1")
    with configured(r, maxmemory=1, maxmemory_policy="noeviction"):
        assert raw.call("SET", "k", "v") == Error(OOM)
        assert raw.call("LPUSH", "l", "a") == Error(OOM)
        # Reads and deletions are not denyoom: they still run.
        assert raw.call("GET", "kept") == b"1"
        assert raw.call("DEL", "kept") == 1
        assert raw.call("EXPIRE", "nothing", "10") == 0
    assert r.set("k", "v") is True


def test_oom_inside_multi_refuses_every_queued_command_and_aborts_exec(r, raw):
    r.set("kept", "1")
    with configured(r, maxmemory=1, maxmemory_policy="noeviction"):
        assert raw.call("MULTI") == Simple("OK")
        # In MULTI even a read is refused: queueing itself takes memory.
        assert raw.call("GET", "kept") == Error(OOM)
        assert raw.call("SET", "k", "v") == Error(OOM)
        assert raw.call("EXEC") == Error("EXECABORT Transaction discarded because of previous errors.")
    assert r.get("k") is None


def test_discard_is_never_refused_for_memory(r, raw):
    with configured(r, maxmemory=1, maxmemory_policy="noeviction"):
        assert raw.call("MULTI") == Simple("OK")
        assert raw.call("DISCARD") == Simple("OK")
        assert raw.call("PING") == Simple("PONG")


def test_exec_is_refused_when_a_queued_command_is_denyoom(r, raw):
    raw.call("MULTI")
    raw.call("GET", "a")
    raw.call("SET", "a", "1")
    with configured(r, maxmemory=1, maxmemory_policy="noeviction"):
        assert raw.call("EXEC") == Error("EXECABORT Transaction discarded because of: " + OOM)
    # The refused EXEC discarded the transaction.
    assert raw.call("EXEC") == Error("ERR EXEC without MULTI")
    assert r.get("a") is None


def test_oom_counts_as_a_rejected_call_and_an_error_stat(r, raw):
    r.config_resetstat()
    with configured(r, maxmemory=1, maxmemory_policy="noeviction"):
        assert raw.call("SET", "k", "v") == Error(OOM)
    assert r.info("commandstats")["cmdstat_set"]["rejected_calls"] == 1
    assert r.info("errorstats")["errorstat_OOM"]["count"] == 1


def test_eviction_exceeded_time_runs_while_memory_stays_over_the_limit(r, raw):
    with configured(r, maxmemory_policy="noeviction"):
        r.config_set("maxmemory", 1)
        assert raw.call("SET", "k", "v") == Error(OOM)
        deadline = time.monotonic() + DEADLINE
        while r.info("stats")["current_eviction_exceeded_time"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        r.config_set("maxmemory", "4gb")
        assert r.set("k", "v") is True      # a pass under the limit ends the episode
        stats = r.info("stats")
        assert stats["current_eviction_exceeded_time"] == 0
        assert stats["total_eviction_exceeded_time"] > 0


# -- the eviction policies ---------------------------------------------------------------
@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_keep_memory_under_the_limit(r, policy):
    with configured(r, maxmemory_policy=policy):
        limit = limit_above_usage(r)
        r.config_set("maxmemory", limit)
        written = fill_until_evicting(r, "fill", 100)
        assert r.dbsize() < written
        assert used_memory(r) <= limit + 100_000
        # Writes keep succeeding: there is always something to evict.
        assert r.set("last", VALUE) is True


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_evict_only_keys_with_a_ttl(r, policy):
    with configured(r, maxmemory_policy=policy):
        for i in range(50):
            r.set(f"persistent:{i}", VALUE)
        r.config_set("maxmemory", limit_above_usage(r))
        fill_until_evicting(r, "volatile", 50, ex=1000)
        assert all(r.exists(f"persistent:{i}") for i in range(50))


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_fail_with_oom_when_no_key_has_a_ttl(r, raw, policy):
    with configured(r, maxmemory_policy=policy):
        for i in range(20):
            r.set(f"persistent:{i}", VALUE)
        r.config_set("maxmemory", 1)
        assert raw.call("SET", "more", "x") == Error(OOM)
        assert r.dbsize() == 20


def test_allkeys_policy_with_nothing_left_to_evict_fails_with_oom(r, raw):
    with configured(r, maxmemory=1, maxmemory_policy="allkeys-random"):
        # Everything is evicted and memory is still over the limit.
        assert raw.call("SET", "k", "v") == Error(OOM)
        assert r.dbsize() == 0


def test_volatile_ttl_evicts_the_keys_expiring_soonest(r):
    with configured(r, maxmemory_policy="volatile-ttl", maxmemory_samples=10):
        for i in range(100):
            r.set(f"soon:{i}", VALUE, ex=10_000)
        for i in range(100):
            r.set(f"late:{i}", VALUE, ex=1_000_000)
        r.config_set("maxmemory", limit_above_usage(r))
        fill_until_evicting(r, "new", 60, ex=5_000_000)
        soon_left = sum(r.exists(f"soon:{i}") for i in range(100))
        late_left = sum(r.exists(f"late:{i}") for i in range(100))
        assert soon_left < late_left


def _hot_keys_survive(r, evictions: int) -> None:
    """400 keys, every 8th of them hot; evicting fewer keys than there are cold ones
    must leave (nearly) every hot key in place."""
    hot = [f"key:{i}" for i in range(0, 400, 8)]
    r.config_set("maxmemory", limit_above_usage(r))
    fill_until_evicting(r, "new", evictions)
    hot_left = sum(r.exists(key) for key in hot)
    assert hot_left >= len(hot) * 0.9


def _write_cold_and_hot(r):
    pipe = r.pipeline(transaction=False)
    for i in range(400):
        pipe.set(f"key:{i}", VALUE)
    pipe.execute()


def test_allkeys_lfu_keeps_the_frequently_used_keys(r):
    with configured(r, maxmemory_policy="allkeys-lfu", lfu_log_factor=0, maxmemory_samples=10):
        _write_cold_and_hot(r)
        pipe = r.pipeline(transaction=False)
        for _ in range(10):
            for i in range(0, 400, 8):
                pipe.get(f"key:{i}")
        pipe.execute()
        _hot_keys_survive(r, 100)


def test_allkeys_lru_keeps_the_recently_used_keys(r):
    with configured(r, maxmemory_policy="allkeys-lru", maxmemory_samples=10):
        _write_cold_and_hot(r)
        # Redis's LRU clock ticks once a second: wait until the keys are visibly idle.
        deadline = time.monotonic() + 5
        while r.object("idletime", "key:1") < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for i in range(0, 400, 8):
            r.get(f"key:{i}")
        _hot_keys_survive(r, 100)


def test_evicted_keys_publish_the_evicted_event(r, server):
    with configured(r, maxmemory_policy="allkeys-random", notify_keyspace_events="Ee"):
        sub = redis.Redis(port=server.port).pubsub()
        sub.subscribe("__keyevent@0__:evicted")
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        for i in range(20):
            r.set(f"k:{i}", "x")
        r.config_set("maxmemory", 1)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            r.set("one-more", "x")
        evicted = set()
        while len(evicted) < 20:
            message = sub.get_message(timeout=5)
            assert message["channel"] == b"__keyevent@0__:evicted"
            evicted.add(message["data"])
        assert evicted == {b"k:%d" % i for i in range(20)}
        sub.close()


def test_eviction_touches_watched_keys(r, server):
    r.set("watched", "1")
    other = redis.Redis(port=server.port)
    pipe = other.pipeline()
    pipe.watch("watched")
    with configured(r, maxmemory_policy="allkeys-random", maxmemory=1):
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            r.set("trigger", "x")   # evicts everything, watched included, then fails
    pipe.multi()
    pipe.set("watched", "2")
    with pytest.raises(redis.WatchError):
        pipe.execute()
    other.close()


# -- LFU counters ------------------------------------------------------------------------
def test_object_freq_counts_accesses_logarithmically(r):
    with configured(r, maxmemory_policy="allkeys-lfu", lfu_log_factor=0):
        r.set("k", "v")
        assert r.object("freq", "k") == 5       # LFU_INIT_VAL
        for _ in range(10):
            r.get("k")
        # With lfu-log-factor 0 every access counts.
        assert r.object("freq", "k") == 15
        r.set("k", "w")     # an overwrite keeps the counter (and its lookup counts)
        assert r.object("freq", "k") == 16


def test_object_freq_saturates_at_255(r):
    with configured(r, maxmemory_policy="volatile-lfu", lfu_log_factor=0):
        r.set("k", "v")
        pipe = r.pipeline(transaction=False)
        for _ in range(300):
            pipe.get("k")
        pipe.execute()
        assert r.object("freq", "k") == 255


def test_lfu_log_factor_slows_the_counter_down(r):
    with configured(r, maxmemory_policy="allkeys-lfu", lfu_log_factor=100):
        r.set("k", "v")
        pipe = r.pipeline(transaction=False)
        for _ in range(200):
            pipe.get("k")
        pipe.execute()
        # p = 1 / ((counter - 5) * 100 + 1): a few hundred hits raise it only a little.
        assert 6 <= r.object("freq", "k") <= 15


def test_object_freq_and_idletime_follow_the_policy(r, raw):
    r.set("k", "v")
    with configured(r, maxmemory_policy="allkeys-lfu"):
        reply = raw.call("OBJECT", "IDLETIME", "k")
        assert isinstance(reply, Error) and reply.text.startswith("ERR An LFU maxmemory policy is selected")
    reply = raw.call("OBJECT", "FREQ", "k")
    assert isinstance(reply, Error) and reply.text.startswith("ERR An LFU maxmemory policy is not selected")


def test_eviction_settings_round_trip(r):
    with configured(r, maxmemory_eviction_tenacity=100, maxmemory_samples=3, lfu_decay_time=0):
        assert r.config_get("maxmemory-eviction-tenacity") == {"maxmemory-eviction-tenacity": "100"}
        assert r.config_get("maxmemory-samples") == {"maxmemory-samples": "3"}
        assert r.config_get("lfu-decay-time") == {"lfu-decay-time": "0"}
    assert r.config_get("maxmemory-eviction-tenacity") == {"maxmemory-eviction-tenacity": "10"}


def test_lowering_maxmemory_evicts_in_the_background(r, server):
    with configured(r, maxmemory_policy="allkeys-random"):
        for i in range(300):
            r.set(f"k:{i}", VALUE)
        r.config_set("maxmemory", used_memory(r) - 150_000)
        # Redis evicts in CONFIG SET itself, Ferrous in its next cron tick: poll.
        deadline = time.monotonic() + DEADLINE
        while evicted_keys(r) == 0 or r.dbsize() == 300:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert r.dbsize() < 300


def test_raw_client_still_served_after_oom(server):
    client = RawClient(port=server.port)
    try:
        client.call("CONFIG", "SET", "maxmemory", "1")
        assert client.call("SET", "k", "v") == Error(OOM)
        assert client.call("PING") == Simple("PONG")
    finally:
        client.call("CONFIG", "SET", "maxmemory", "0")
        client.close()
