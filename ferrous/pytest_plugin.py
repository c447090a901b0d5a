"""pytest plugin: a real Ferrous server inside the test process, no external binary.

Installed with the package (entry point `pytest11`), it gives every test suite:

- `ferrous_server`: one embedded `ferrous.Server` for the whole session, on a free port.
- `redis_client`: a redis-py client on it, for one test; the server is flushed before
  each test so tests don't see each other's keys.

Override `ferrous_server_options` (session scope) in a conftest.py to configure the
server (`{"maxmemory": "10mb"}`), or `redis_client_options` for the client
(`{"decode_responses": True, "protocol": 3}`).
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ferrous_server_options() -> dict:
    """Configuration parameters for the session's server (redis.conf names)."""
    return {}


@pytest.fixture(scope="session")
def ferrous_server(ferrous_server_options):
    from ferrous import Server

    with Server(**ferrous_server_options) as srv:
        yield srv


@pytest.fixture
def redis_client_options() -> dict:
    """Keyword arguments for redis.Redis (host and port come from the server)."""
    return {}


@pytest.fixture
def redis_client(ferrous_server, redis_client_options):
    import redis

    client = redis.Redis(host=ferrous_server.host, port=ferrous_server.port, **redis_client_options)
    client.flushall()
    yield client
    client.close()
