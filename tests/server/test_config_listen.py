"""CONFIG SET port / bind take effect at once (changeListenPort, changeBindAddr), and a
refused address rolls the whole CONFIG SET back, on Ferrous and real Redis 7.0."""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
from resp_client import Error, RawClient, Simple
from servers import KINDS, ServerProcess, free_port, run_until_exit, server_command

DEADLINE = 5.0
PORT_REFUSED = ("ERR CONFIG SET failed (possibly related to argument 'port') - "
                "Unable to listen on this port. Check server logs.")
BIND_REFUSED = ("ERR CONFIG SET failed (possibly related to argument 'bind') - "
                "Failed to bind to specified addresses.")


@pytest.fixture(params=KINDS)
def proc(request):
    server = ServerProcess(request.param)
    yield server
    server.stop()


def _answers(port: int) -> bool:
    try:
        client = RawClient(port=port, timeout=2)
    except OSError:
        return False
    try:
        return client.call("PING") == Simple("PONG")
    except OSError:
        return False
    finally:
        client.close()


def _wait_until(condition) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def _config(client, name: str) -> bytes:
    reply = client.call("CONFIG", "GET", name)
    return reply[1] if isinstance(reply, list) else dict(reply.items)[name.encode()]


def test_port_taken_by_another_socket_rolls_everything_back(proc):
    client = RawClient(port=proc.port)
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        taken = busy.getsockname()[1]
        reply = client.call("CONFIG", "SET", "maxmemory", "10000001", "port", str(taken),
                            "client-query-buffer-limit", "10m")
        assert reply == Error(PORT_REFUSED)
    finally:
        busy.close()
    assert _config(client, "port") == str(proc.port).encode()
    assert _config(client, "maxmemory") == b"0"
    assert _config(client, "client-query-buffer-limit") == b"1073741824"
    assert client.call("PING") == Simple("PONG")
    assert _answers(proc.port)


def test_new_port_is_listened_on_and_the_old_one_closed(proc):
    client = RawClient(port=proc.port)
    old, new = proc.port, free_port()
    assert client.call("CONFIG", "SET", "port", str(new)) == Simple("OK")
    proc.port = new                                 # so that stop() finds it
    _wait_until(lambda: _answers(new))
    assert not _answers(old)
    assert client.call("PING") == Simple("PONG")    # connections made before stay
    assert _config(client, "port") == str(new).encode()


def test_unavailable_bind_address_is_refused(proc):
    client = RawClient(port=proc.port)
    # 192.0.2.1 (TEST-NET-1) is no address of this host: EADDRNOTAVAIL.
    assert client.call("CONFIG", "SET", "bind", "127.0.0.1 192.0.2.1") == Error(BIND_REFUSED)
    assert _config(client, "bind") == b"127.0.0.1"
    assert _answers(proc.port)
    # Optional ("-") addresses may be unavailable.
    assert client.call("CONFIG", "SET", "bind", "127.0.0.1 -192.0.2.1") == Simple("OK")
    _wait_until(lambda: _answers(proc.port))


def test_port_change_keeps_the_unixsocket_listening(tmp_path):
    # The suite's servers all have a unixsocket: changing the TCP port must leave it
    # open (the acceptor once closed it along with the old TCP sockets and died).
    for kind in KINDS:
        path = str(tmp_path / f"{kind}.sock")
        server = ServerProcess(kind, ["--unixsocket", path])
        try:
            client = RawClient(port=server.port)
            new = free_port()
            assert client.call("CONFIG", "SET", "port", str(new)) == Simple("OK")
            server.port = new
            _wait_until(lambda: _answers(new))
            with socket.socket(socket.AF_UNIX) as unix:
                unix.settimeout(2)
                unix.connect(path)
                unix.sendall(b"PING\r\n")
                assert unix.recv(64) == b"+PONG\r\n"
            assert _answers(new)
        finally:
            server.stop()


def test_an_empty_bind_listens_on_no_tcp_address(tmp_path):
    # networking.tcl "Default bind address configuration handling": a config file
    # with `bind ""` (as CONFIG REWRITE writes it) starts with no TCP listener.
    for kind in KINDS:
        path = str(tmp_path / f"{kind}.sock")
        conf = tmp_path / f"{kind}.conf"
        port = free_port()
        conf.write_text(f'port {port}\nbind ""\nunixsocket {path}\n')
        cmd, env = server_command(kind)
        proc = subprocess.Popen(cmd + [str(conf)], cwd=str(tmp_path), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_until(lambda: os.path.exists(path) and _unix_ping(path))
            assert not _answers(port)
            with socket.socket(socket.AF_UNIX) as unix:
                unix.connect(path)
                unix.sendall(b"CONFIG SET bind 127.0.0.1\r\n")
                assert unix.recv(64) == b"+OK\r\n"
            _wait_until(lambda: _answers(port))
        finally:
            proc.terminate()
            proc.wait(10)


def _unix_ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as unix:
            unix.settimeout(2)
            unix.connect(path)
            unix.sendall(b"PING\r\n")
            return unix.recv(64) == b"+PONG\r\n"
    except OSError:
        return False


@pytest.mark.parametrize("kind", KINDS)
def test_listening_nowhere_exits(tmp_path, kind):
    result = run_until_exit(kind, tmp_path, "--bind", "")
    assert result.returncode == 1
    assert "Configured to not listen anywhere, exiting." in result.stdout
