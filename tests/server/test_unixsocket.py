"""`unixsocket` / `unixsocketperm`: clients over a unix socket, as in Redis 7.0 (the
path shown as addr and laddr with port 0, the U flag, the file's mode, a relative
path in `dir`, the file removed at shutdown)."""
from __future__ import annotations

import os
import stat
import time

import pytest
import redis

from servers import KINDS, ServerProcess


@pytest.fixture(params=KINDS)
def unix_server(request, tmp_path):
    path = str(tmp_path / "s.sock")
    proc = ServerProcess(request.param, ["--unixsocket", path, "--unixsocketperm", "700"])
    yield proc, path
    proc.stop()


def test_clients_connect_over_the_unix_socket(unix_server):
    proc, path = unix_server
    client = redis.Redis(unix_socket_path=path)
    assert client.ping() is True
    info = client.execute_command("CLIENT", "INFO").decode()
    assert f" addr={path}:0 laddr={path}:0 " in info
    assert " flags=U " in info
    assert client.config_get("unixsocket*") == {"unixsocket": path, "unixsocketperm": "700"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    tcp = redis.Redis(port=proc.port)
    assert " flags=N " in tcp.execute_command("CLIENT", "INFO").decode()
    assert tcp.execute_command("CLIENT", "KILL", f"{path}:0") == b"OK"
    deadline = time.monotonic() + 10
    while " flags=U " in tcp.execute_command("CLIENT", "LIST").decode():
        assert time.monotonic() < deadline, "the unix client is still connected"
        time.sleep(0.05)
    tcp.close()
    client.close()


def test_a_relative_unixsocket_is_in_dir_and_removed_at_shutdown(tmp_path):
    for kind in KINDS:
        data = tmp_path / kind
        data.mkdir()
        proc = ServerProcess(kind, ["--dir", str(data), "--unixsocket", "rel.sock"])
        try:
            client = redis.Redis(unix_socket_path=str(data / "rel.sock"))
            assert client.ping() is True
            try:
                client.shutdown(nosave=True)
            except redis.ConnectionError:
                pass                        # the server went away mid-reply
            deadline = time.monotonic() + 10
            while (data / "rel.sock").exists():
                assert time.monotonic() < deadline, f"{kind} left its socket file"
                time.sleep(0.05)
        finally:
            proc.stop()
