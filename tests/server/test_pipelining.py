"""Ordering and protocol-error behaviour over real sockets, on Ferrous and Redis."""
import socket
import threading
import time

import redis

from resp_client import RawClient, encode_command


def _read_until_closed(sock, deadline=10.0):
    sock.settimeout(deadline)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        if not chunk:
            return data, True
        data += chunk


def test_pipelined_replies_come_back_in_order(server):
    client = RawClient(port=server.port)
    client.call("DEL", "counter")
    payload = b"".join(encode_command("INCR", "counter") for _ in range(2000))
    client.send_raw(payload)
    assert [client.read_reply() for _ in range(2000)] == list(range(1, 2001))
    client.close()


def test_request_split_byte_by_byte(server):
    client = RawClient(port=server.port)
    payload = encode_command("SET", "split", "value") + encode_command("GET", "split")
    for i in range(len(payload)):
        client.send_raw(payload[i:i + 1])
    assert client.read_reply().text == "OK"
    assert client.read_reply() == b"value"
    client.close()


def test_inline_commands(server):
    client = RawClient(port=server.port)
    client.send_raw(b"PING\r\nSET inline 'a b'\r\nGET inline\r\n")
    assert client.read_reply().text == "PONG"
    assert client.read_reply().text == "OK"
    assert client.read_reply() == b"a b"
    client.close()


def test_protocol_error_replies_then_closes(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n")
    data, closed = _read_until_closed(sock)
    assert data == b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    assert closed
    sock.close()


def test_unbalanced_quotes_closes(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b'SET "a b\r\n')
    data, closed = _read_until_closed(sock)
    assert data == b"-ERR Protocol error: unbalanced quotes in request\r\n"
    assert closed
    sock.close()


def test_command_error_keeps_connection_open(server):
    client = RawClient(port=server.port)
    assert client.call("NOSUCHCOMMAND").text.startswith("ERR unknown command 'NOSUCHCOMMAND'")
    assert client.call("GET").text == "ERR wrong number of arguments for 'get' command"
    assert client.call("PING").text == "PONG"
    client.close()


def test_many_clients_interleaved_each_see_their_own_order(server):
    errors = []

    def worker(n):
        try:
            c = RawClient(port=server.port)
            key = f"client:{n}"
            c.call("DEL", key)
            c.send_raw(b"".join(encode_command("INCR", key) for _ in range(300)))
            got = [c.read_reply() for _ in range(300)]
            if got != list(range(1, 301)):
                errors.append((n, got[:5]))
            c.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append((n, repr(exc)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_quit_replies_ok_then_closes(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"QUIT\r\nPING\r\n")
    data, closed = _read_until_closed(sock)
    assert data == b"+OK\r\n"
    assert closed
    sock.close()


def test_redis_py_pipeline(r):
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"k{i}", i)
        pipe.get(f"k{i}")
    results = pipe.execute()
    assert results[1::2] == [str(i).encode() for i in range(100)]


def test_a_command_sent_during_a_big_reply_is_answered(tmp_path):
    # The INCR reaches the server while the DEBUG SLEEP + GET item runs; the GET.s
    # 40 MB reply then holds it back (output backpressure) until the client reads,
    # and it must be run once the reply drains even though nothing more arrives.
    from servers import KINDS, ServerProcess
    for kind in KINDS:
        proc = ServerProcess(kind, ["--enable-debug-command", "yes"])
        try:
            redis.Redis(port=proc.port).setrange("big", 40_000_000, "x")
            sock = socket.create_connection(("127.0.0.1", proc.port), timeout=20)
            sock.sendall(encode_command("DEBUG", "SLEEP", "0.3") + encode_command("GET", "big"))
            time.sleep(0.1)
            sock.sendall(encode_command("INCR", "counter"))
            time.sleep(0.5)                 # the replies pile up unread meanwhile
            expected = b"+OK\r\n$40000001\r\n"
            data = b""
            while not data.endswith(b"\r\n:1\r\n"):
                chunk = sock.recv(1 << 20)
                assert chunk, f"{kind} closed the connection"
                data += chunk
            assert data.startswith(expected) and len(data) == len(expected) + 40_000_001 + 2 + 4
            sock.close()
        finally:
            proc.stop()


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_commands_sent_just_before_closing_still_run(server):
    # Redis runs the commands of a read before it sees the end of the stream: a
    # client that writes and closes at once (nc, a fire-and-forget script) has them
    # run. The free-threaded build once dropped nearly all of them.
    client = RawClient(port=server.port)
    client.call("DEL", *[f"gone{i}" for i in range(50)], "pipe-counter")
    for i in range(50):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(encode_command("SET", f"gone{i}", "v"))
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"".join(encode_command("INCR", "pipe-counter") for _ in range(3000)))
        sock.shutdown(socket.SHUT_WR)           # the replies are still read
        _read_until_closed(sock)
    _wait_for(lambda: client.call("EXISTS", *[f"gone{i}" for i in range(50)]) == 50)
    assert client.call("GET", "pipe-counter") == b"3000"
    client.close()


def test_a_blocked_client_that_goes_away_is_released(server):
    client = RawClient(port=server.port)
    client.call("DEL", "never-pushed")
    before = client.call("INFO", "clients")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(encode_command("BLPOP", "never-pushed", "0"))
        _wait_for(lambda: b"blocked_clients:0" not in client.call("INFO", "clients"))
    _wait_for(lambda: b"blocked_clients:0" in client.call("INFO", "clients"))
    client.call("RPUSH", "never-pushed", "x")
    assert client.call("LLEN", "never-pushed") == 1     # nobody took it
    client.call("DEL", "never-pushed")
    assert b"blocked_clients:0" in before
    client.close()
