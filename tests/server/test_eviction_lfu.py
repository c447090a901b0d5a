"""Redis's LFU counter (evict.c) as Ferrous computes it: decay by lfu-decay-time
minutes, logarithmic increments by lfu-log-factor, and the eviction time budget
of maxmemory-eviction-tenacity. Unit tests of Ferrous's own functions: waiting
minutes for a real server's counter to decay is out of the question."""
from __future__ import annotations

import random

import pytest

from ferrous.server import eviction
from ferrous.storage import lfu

pytestmark = pytest.mark.ferrous_only


@pytest.fixture
def settings(monkeypatch):
    monkeypatch.setattr(lfu.LFUSettings, "log_factor", 10)
    monkeypatch.setattr(lfu.LFUSettings, "decay_time", 1)
    return lfu.LFUSettings


def at_minute(monkeypatch, minute: int) -> None:
    monkeypatch.setattr(lfu, "minutes_now", lambda: minute & 65535)


def test_counter_decays_one_per_decay_period(monkeypatch, settings):
    at_minute(monkeypatch, 1000)
    info = (1000 << 8) | 20
    assert lfu.lfu_counter(info) == 20
    at_minute(monkeypatch, 1007)
    assert lfu.lfu_counter(info) == 13
    settings.decay_time = 3
    assert lfu.lfu_counter(info) == 18      # 7 minutes: two whole periods of 3
    settings.decay_time = 0                 # 0: never decay
    assert lfu.lfu_counter(info) == 20
    settings.decay_time = 1
    at_minute(monkeypatch, 1100)
    assert lfu.lfu_counter(info) == 0       # never below zero


def test_decay_survives_the_16_bit_minute_clock_wrapping(monkeypatch, settings):
    info = (65530 << 8) | 10
    at_minute(monkeypatch, 65536 + 2)       # 65530 -> 2: 7 minutes later (LFUTimeElapsed)
    assert lfu.lfu_counter(info) == 10 - 7


def test_a_touch_counts_and_stamps_the_time(monkeypatch, settings):
    at_minute(monkeypatch, 500)
    settings.log_factor = 0                 # p = 1: every access counts
    info = lfu.lfu_new()
    assert info == (500 << 8) | lfu.LFU_INIT_VAL
    for expected in range(6, 11):
        info = lfu.lfu_touched(info)
        assert info == (500 << 8) | expected


def test_increments_get_rarer_as_the_counter_grows(monkeypatch, settings):
    monkeypatch.setattr(lfu, "_random", random.Random(7).random)
    counter = lfu.LFU_INIT_VAL
    for _ in range(100):
        counter = lfu.lfu_log_incr(counter)
    # redis.conf's table for lfu-log-factor 10: about 10 after 100 hits, 18 after 1000.
    assert 8 <= counter <= 13
    for _ in range(900):
        counter = lfu.lfu_log_incr(counter)
    assert 15 <= counter <= 24
    assert lfu.lfu_log_incr(255) == 255


def test_lru_times_read_as_a_new_keys_counter(settings):
    assert lfu.lfu_counter(12345.6) == lfu.LFU_INIT_VAL
    assert lfu.idle_score((1 << 8) | 5, 100.0) == 0.0
    assert lfu.idle_score(90.0, 100.0) == 10.0


@pytest.mark.parametrize("tenacity, redis_us", [(0, 0), (1, 50), (10, 500), (11, 575), (99, 500 * 1.15 ** 89)])
def test_eviction_time_budget_follows_tenacity(tenacity, redis_us):
    # evictionTimeLimitUs, scaled by how much slower than C an eviction is here.
    assert eviction.time_limit_us(tenacity) == pytest.approx(redis_us * eviction.PYTHON_SLOWDOWN)


def test_tenacity_100_has_no_time_limit():
    assert eviction.time_limit_us(100) == float("inf")
