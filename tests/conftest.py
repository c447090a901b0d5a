"""Shared fixtures: every behaviour test runs against Ferrous and real Redis 7.0,
over RESP2 and RESP3 (DESIGN.md §6).

- `server`: a session-wide running server, parametrized 'ferrous' / 'redis'.
- `r`: a redis-py client on it (bytes replies), parametrized over protocol 2 / 3;
  the database is flushed before each test.
- `raw`: a tools/resp_client.RawClient on the same server with the same protocol,
  for byte-exact checks of reply types.
Tests marked `ferrous_only` run on Ferrous only (behaviour newer than Redis 7.0).
"""
from __future__ import annotations

import os
import sys

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from resp_client import RawClient  # noqa: E402
from servers import KINDS, ServerProcess, _get_server, stop_all  # noqa: E402,F401


def pytest_sessionfinish(session, exitstatus):
    stop_all()


def pytest_generate_tests(metafunc):
    # Parametrize here rather than with fixture params, so ferrous_only tests are
    # simply not generated for Redis (instead of showing up as skipped).
    if "server" in metafunc.fixturenames:
        only_ferrous = metafunc.definition.get_closest_marker("ferrous_only") is not None
        metafunc.parametrize("server", ["ferrous"] if only_ferrous else KINDS, indirect=True)


@pytest.fixture
def server(request) -> ServerProcess:
    return _get_server(request.param)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request) -> int:
    return request.param


@pytest.fixture
def r(server, protocol):
    client = redis.Redis(port=server.port, protocol=protocol, socket_timeout=20)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def raw(server, protocol):
    client = RawClient(port=server.port)
    if protocol == 3:
        client.call("HELLO", "3")
    client.call("FLUSHALL")
    yield client
    client.close()


@pytest.fixture
def ferrous():
    """The shared Ferrous server alone (for tests of Ferrous-only behaviour)."""
    return _get_server("ferrous")


@pytest.fixture(scope="module")
def real_redis():
    """A real Redis of the module's own, beside the shared Ferrous (differential model tests)."""
    proc = ServerProcess("redis")
    yield proc
    proc.stop()
