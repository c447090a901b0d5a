"""What a replica attached with SYNC reads first: the RDB, then the writes. Redis
PINGs its replicas when its once-a-second replicationCron count (from start-up) is
a multiple of repl-ping-replica-period, not as soon as one attaches, so a new
replica's stream begins with the SELECT of the first write (Redis's own tests read
it that way: `assert_replication_stream`)."""
from __future__ import annotations

import socket
import time

import pytest
import redis

from servers import KINDS, ServerProcess


class StreamReader:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _fill(self):
        data = self.sock.recv(65536)
        assert data, "primary closed the link"
        self.buf += data

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def sync(self) -> None:
        self.sock.sendall(b"SYNC\r\n")
        while True:                         # newlines keep the link alive meanwhile
            while self.buf.startswith(b"\n"):
                self.buf = self.buf[1:]
            if self.buf:
                break
            self._fill()
        header = self._line()
        assert header.startswith(b"$"), header
        assert self._exact(int(header[1:])).startswith(b"REDIS")

    def command(self) -> list:
        header = self._line()
        assert header.startswith(b"*"), header
        argv = []
        for _ in range(int(header[1:])):
            size = int(self._line()[1:])
            argv.append(self._exact(size + 2)[:-2])
        return argv


@pytest.fixture(params=KINDS)
def primary(request):
    proc = ServerProcess(request.param)
    yield proc
    proc.stop()


def _away_from_a_ping_second(client) -> None:
    # A PING is due at whole multiples of the period (10 s) since start-up; attach
    # and write well inside one period so the test never straddles that instant.
    while client.info("server")["uptime_in_seconds"] % 10 in (0, 8, 9):
        time.sleep(0.2)


def test_a_new_replica_reads_the_first_write_before_any_ping(primary):
    client = redis.Redis(port=primary.port)
    _away_from_a_ping_second(client)
    reader = StreamReader(primary.port)
    try:
        reader.sync()
        client.set("k", "v")
        client.getdel("k")
        assert reader.command() == [b"SELECT", b"0"]
        assert reader.command() == [b"SET", b"k", b"v"]
        assert reader.command() == [b"DEL", b"k"]
    finally:
        reader.sock.close()
        client.close()
