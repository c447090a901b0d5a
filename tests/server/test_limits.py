"""Client limits against Ferrous and real Redis 7.0: maxclients, timeout,
tcp-keepalive, proto-max-bulk-len, client-query-buffer-limit and
client-output-buffer-limit (hard and soft)."""
from __future__ import annotations

import re
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest
import redis
from resp_client import Error, RawClient, Simple, encode_command
from servers import ServerProcess

from servers import KINDS

DEADLINE = 10.0


@contextmanager
def configured(client, **params):
    names = [name.replace("_", "-") for name in params]
    old = {name: client.config_get(name)[name] for name in names}
    try:
        for name, value in zip(names, params.values()):
            client.config_set(name, value)
        yield
    finally:
        for name, value in old.items():
            client.config_set(name, value)


def poll(condition, deadline: float = DEADLINE, message: str = "condition not reached in time"):
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, message
        time.sleep(0.02)


def connection_closed(sock: socket.socket) -> bool:
    """True once the server closed sock (EOF or reset); never blocks."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def is_connected(admin, sock: socket.socket) -> bool:
    """Whether the server still lists sock's connection in CLIENT LIST."""
    port = sock.getsockname()[1]
    return any(c["addr"].rsplit(":", 1)[1] == str(port) for c in admin.client_list())


@pytest.fixture(scope="module", params=KINDS)
def own_server(request):
    """A server of the module's own (maxclients and timeout affect every client)."""
    proc = ServerProcess(request.param)
    yield proc
    proc.stop()


# -- maxclients -----------------------------------------------------------------------
def test_maxclients_refuses_with_redis_error_and_counts_rejections(own_server):
    admin = redis.Redis(port=own_server.port)
    before = admin.info("stats")
    other = RawClient(port=own_server.port)
    assert other.call("PING") == Simple("PONG")
    with configured(admin, maxclients=2):
        refused = socket.create_connection(("127.0.0.1", own_server.port), timeout=5)
        assert refused.recv(100) == b"-ERR max number of clients reached\r\n"
        assert refused.recv(100) == b""     # and closed
        refused.close()
        stats = admin.info("stats")
        assert stats["rejected_connections"] == before["rejected_connections"] + 1
        # A refused connection is not a received one.
        assert stats["total_connections_received"] == before["total_connections_received"] + 1
        other.close()
        # A freed slot takes a new client again.
        def accepted():
            with socket.create_connection(("127.0.0.1", own_server.port), timeout=5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(100) == b"+PONG\r\n"
        poll(accepted)
    admin.close()


# -- timeout --------------------------------------------------------------------------
def test_timeout_closes_idle_clients_but_not_subscribers_or_blocked_ones(own_server):
    admin = redis.Redis(port=own_server.port)
    with configured(admin, timeout=1):
        idle = socket.create_connection(("127.0.0.1", own_server.port))
        idle.sendall(b"PING\r\n")
        assert idle.recv(100) == b"+PONG\r\n"
        subscriber = RawClient(port=own_server.port)
        subscriber.call("SUBSCRIBE", "news")
        blocked = socket.create_connection(("127.0.0.1", own_server.port))
        blocked.sendall(encode_command("BLPOP", "queue", "0"))
        poll(lambda: admin.info("clients")["blocked_clients"] == 1)
        # The admin client itself keeps talking, so it is never idle.
        poll(lambda: admin.ping() and connection_closed(idle), message="the idle client was not closed")
        assert admin.info("clients")["blocked_clients"] == 1
        assert admin.publish("news", "still here") == 1
        assert subscriber.read_reply() == [b"message", b"news", b"still here"]
        admin.rpush("queue", "job")
        blocked.settimeout(5)
        assert blocked.recv(100) == b"*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n"
        subscriber.close()
        blocked.close()
    admin.close()


def test_timeout_zero_never_closes(own_server):
    admin = redis.Redis(port=own_server.port)
    assert admin.config_get("timeout") == {"timeout": "0"}
    client = RawClient(port=own_server.port)
    assert client.call("PING") == Simple("PONG")
    client.close()
    admin.close()


# -- tcp-keepalive --------------------------------------------------------------------
def _keepalive_timer(port: int, client_port: int) -> str:
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{port} and dport = :{client_port} )"],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"timer:\((\w+),", out)
    return match.group(1) if match else ""


@pytest.mark.parametrize("seconds, expected", [(300, "keepalive"), (0, "")])
def test_tcp_keepalive_sets_the_socket_option_on_new_connections(r, server, seconds, expected):
    with configured(r, tcp_keepalive=seconds):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(100) == b"+PONG\r\n"
            assert _keepalive_timer(server.port, sock.getsockname()[1]) == expected


# -- proto-max-bulk-len ---------------------------------------------------------------
def test_proto_max_bulk_len_applies_to_connected_clients(r, server):
    client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with configured(r, proto_max_bulk_len="1mb"):
        client.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n")
        assert client.recv(100) == b"-ERR Protocol error: invalid bulk length\r\n"
        assert client.recv(100) == b""
        # Exactly the limit is fine.
        ok = RawClient(port=server.port)
        assert ok.call("SET", "k", b"x" * (1024 * 1024)) == Simple("OK")
        ok.close()
    client.close()


# -- client-query-buffer-limit --------------------------------------------------------
def test_query_buffer_limit_closes_the_client_and_logs_it(r, server):
    with configured(r, client_query_buffer_limit="1mb"):
        greedy = socket.create_connection(("127.0.0.1", server.port))
        greedy.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n" + b"x" * 1_500_000)
        poll(lambda: connection_closed(greedy), message="the client was not closed")
        greedy.close()
        assert r.ping() is True
        assert r.exists("k") == 0
    poll(lambda: "Closing client that reached max query buffer length" in server.read_log())
    assert '(qbuf initial bytes: "' in server.read_log()


def test_query_buffer_under_the_limit_is_served(r, server):
    with configured(r, client_query_buffer_limit="1mb"):
        client = RawClient(port=server.port)
        assert client.call("SET", "k", b"x" * 900_000) == Simple("OK")
        client.close()
    assert r.strlen("k") == 900_000


# -- client-output-buffer-limit -------------------------------------------------------
@pytest.fixture
def big_list(r):
    r.rpush("big", *range(20000))      # LRANGE big 0 -1 is about 130 KB
    return "big"


def test_normal_hard_limit_closes_the_client_without_a_reply(r, server, big_list):
    with configured(r, client_output_buffer_limit="normal 100000 0 0"):
        client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        client.sendall(encode_command("LRANGE", big_list, "0", "-1"))
        received = b""
        while True:
            try:
                chunk = client.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        assert received == b""      # closed ASAP: nothing of the reply is written
        client.close()
        # A reply under the limit is fine.
        small = RawClient(port=server.port)
        assert len(small.call("LRANGE", big_list, "0", "99")) == 100
        small.close()
    poll(lambda: "scheduled to be closed ASAP for overcoming of output buffer limits" in server.read_log())


def test_normal_soft_limit_closes_a_client_over_it_for_longer_than_its_seconds(r, server, big_list):
    with configured(r, client_output_buffer_limit="normal 0 100000 1"):
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port))
        request = encode_command("LRANGE", big_list, "0", "-1")
        end = time.monotonic() + DEADLINE
        closed = False
        # A client that never reads stays over the soft limit; each new reply checks it.
        while not closed:
            assert time.monotonic() < end, "the slow client was never closed"
            try:
                slow.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
            closed = not is_connected(r, slow)
        slow.close()
    assert r.ping() is True


def test_pubsub_hard_limit_disconnects_the_slow_subscriber(r, server):
    with configured(r, client_output_buffer_limit="pubsub 100000 0 0"):
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port))
        slow.sendall(encode_command("SUBSCRIBE", "flood"))
        poll(lambda: r.pubsub_numsub("flood") == [(b"flood", 1)])
        payload = b"x" * 50_000
        end = time.monotonic() + DEADLINE
        while r.pubsub_numsub("flood") != [(b"flood", 0)]:
            assert time.monotonic() < end, "the slow subscriber was never disconnected"
            r.publish("flood", payload)
        slow.close()


def test_output_limits_leave_fast_clients_alone(raw, r, big_list):
    with configured(r, client_output_buffer_limit="normal 1mb 500kb 10"):
        for _ in range(5):
            assert len(raw.call("LRANGE", big_list, "0", "-1")) == 20000


def test_replica_class_takes_the_replica_name(r):
    with configured(r, client_output_buffer_limit="replica 1mb 512kb 30"):
        value = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
        assert "slave 1048576 524288 30" in value


def test_errors_on_bad_limits(raw):
    assert raw.call("CONFIG", "SET", "client-output-buffer-limit", "normal 1 2") == Error(
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - "
        "Wrong number of arguments in buffer limit configuration.")
