"""ferrous.Server: a full server inside the test process, started and stopped cleanly."""
from __future__ import annotations

import socket
import threading

import pytest
import redis

import ferrous

pytestmark = pytest.mark.ferrous_only


def _server_threads() -> set:
    return {t for t in threading.enumerate() if t.name.startswith("ferrous")}


def _port_refuses(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def test_context_manager_serves_on_a_free_port():
    with ferrous.Server() as srv:
        assert srv.port != 0 and srv.running
        client = redis.Redis(port=srv.port)
        assert client.ping() is True
        assert client.set("greeting", "hello") is True
        assert client.get("greeting") == b"hello"
        # The bound port is the configured one as far as clients can tell.
        assert client.info("server")["tcp_port"] == srv.port
        assert client.config_get("port") == {"port": str(srv.port)}
        client.close()
    assert not srv.running


def test_stop_leaves_no_threads_and_frees_the_port():
    before = set(threading.enumerate())
    srv = ferrous.Server().start()
    client = redis.Redis(port=srv.port)
    client.set("k", "v")
    # A timed-out blocking call starts the on-demand timer thread too.
    assert client.blpop(["nothing"], timeout=0.1) is None
    assert len(_server_threads()) >= 4
    client.close()
    srv.stop()
    assert set(threading.enumerate()) - before == set()
    assert _port_refuses(srv.port)
    # The port can be bound again straight away (a restarted server would).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", srv.port))


def test_stop_is_idempotent_and_start_twice_is_refused():
    srv = ferrous.Server()
    srv.stop()                      # never started: nothing to do
    srv.start()
    with pytest.raises(RuntimeError):
        srv.start()
    srv.stop()
    srv.stop()
    assert not srv.running


def test_options_are_configuration_parameters():
    with ferrous.Server(maxmemory="1mb", maxmemory_policy="allkeys-lru", databases=4) as srv:
        client = redis.Redis(port=srv.port)
        assert client.config_get("maxmemory") == {"maxmemory": "1048576"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        assert client.config_get("databases") == {"databases": "4"}
        # Nothing persists by default: the embedded server is for tests.
        assert client.config_get("save") == {"save": ""}
        client.close()


def test_two_servers_have_separate_keyspaces():
    with ferrous.Server() as first, ferrous.Server() as second:
        assert first.port != second.port
        a, b = redis.Redis(port=first.port), redis.Redis(port=second.port)
        a.set("where", "first")
        assert b.get("where") is None
        b.set("where", "second")
        assert a.get("where") == b"first"
        a.close()
        b.close()


def test_a_specific_port_and_the_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with ferrous.Server(port=port) as srv:
        assert srv.port == port
        assert srv.url == f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(srv.url)
        assert client.ping() is True
        client.close()


def test_shutdown_command_stops_the_embedded_server():
    srv = ferrous.Server().start()
    # A raw socket: redis-py would retry the closed connection for seconds.
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(b"SHUTDOWN NOSAVE\r\n")
        assert sock.recv(64) == b""            # closed without a reply, as Redis
    assert srv.app.shutdown_event.wait(5)
    srv.stop()
    assert _port_refuses(srv.port)
