"""The pytest plugin (entry point pytest11): ferrous_server and redis_client fixtures."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import pytest

import ferrous

pytestmark = pytest.mark.ferrous_only

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_seen_servers: list = []


def test_the_plugin_is_registered_by_its_entry_point(request):
    points = importlib.metadata.entry_points(group="pytest11")
    assert "ferrous.pytest_plugin" in {p.value for p in points}
    assert request.config.pluginmanager.has_plugin("ferrous")


def test_redis_client_talks_to_the_session_server(ferrous_server, redis_client):
    assert isinstance(ferrous_server, ferrous.Server) and ferrous_server.running
    assert redis_client.connection_pool.connection_kwargs["port"] == ferrous_server.port
    redis_client.set("left-over", "from this test")
    redis_client.rpush("list", "a", "b")
    assert redis_client.lrange("list", 0, -1) == [b"a", b"b"]
    _seen_servers.append(ferrous_server)


def test_each_test_starts_flushed_on_the_same_server(ferrous_server, redis_client):
    assert redis_client.dbsize() == 0
    assert redis_client.get("left-over") is None
    assert _seen_servers == [ferrous_server]       # session scope: one server


CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def ferrous_server_options():
    return {"databases": 4, "maxmemory_policy": "allkeys-lru"}

@pytest.fixture
def redis_client_options():
    return {"decode_responses": True, "protocol": 3}
"""

TESTS = """
def test_configured(redis_client):
    assert redis_client.config_get("databases") == {"databases": "4"}
    assert redis_client.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert redis_client.execute_command("HELLO")["proto"] == 3

def test_decoded(redis_client):
    redis_client.set("k", "v")
    assert redis_client.get("k") == "v"
"""


def test_an_outside_suite_gets_the_fixtures_without_any_setup(tmp_path):
    # A fresh pytest process in a directory that knows nothing of Ferrous: the
    # fixtures come from the installed entry point alone, options from its conftest.
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_app.py").write_text(textwrap.dedent(TESTS))
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
