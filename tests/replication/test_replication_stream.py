"""What a replica attached with SYNC reads first: the RDB, then the writes. Redis
PINGs its replicas when its once-a-second replicationCron count (from start-up) is
a multiple of repl-ping-replica-period, not as soon as one attaches, so a new
replica's stream begins with the SELECT of the first write (Redis's own tests read
it that way: `assert_replication_stream`)."""
from __future__ import annotations

import socket
import threading
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
    proc = ServerProcess(request.param, ["--enable-debug-command", "yes"])
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


def _commands_until_marker(reader: StreamReader) -> list:
    """The stream up to the SET of b"marker", PINGs left out."""
    seen = []
    while True:
        argv = reader.command()
        if argv == [b"PING"]:
            continue
        seen.append(argv)
        if argv[:2] == [b"SET", b"marker"]:
            return seen


def _blocked_brpop(port: int, db: int, timeout: float) -> threading.Thread:
    def run():
        client = redis.Redis(port=port, db=db, socket_timeout=20)
        client.brpop("k", timeout)
        client.close()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_blocked(client, count: int) -> None:
    deadline = time.monotonic() + 10
    while client.info("clients")["blocked_clients"] < count:
        assert time.monotonic() < deadline, "client did not block"
        time.sleep(0.01)


def test_swapdb_bringing_an_expired_key_to_a_blocked_client_propagates_its_del_after(primary):
    # Redis's list.tcl "SWAPDB wants to wake blocked client, but the key already
    # expired": the served client's lookup expires the key after the SWAPDB.
    client = redis.Redis(port=primary.port, db=9)
    _away_from_a_ping_second(client)
    reader = StreamReader(primary.port)
    try:
        reader.sync()
        client.flushall()
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        other = redis.Redis(port=primary.port, db=1)
        other.rpush("k", "hello")
        other.pexpire("k", 100)
        waiter = _blocked_brpop(primary.port, 9, 2)
        _wait_blocked(client, 1)
        time.sleep(0.12)                  # k has expired in db 1 (nothing deletes it)
        client.swapdb(1, 9)
        blocked = [c["id"] for c in client.client_list() if "b" in c["flags"]]
        assert len(blocked) == 1          # still waiting: the key it was handed is gone
        client.client_unblock(blocked[0])
        waiter.join(10)
        client.set("marker", 1)
        stream = _commands_until_marker(reader)
        assert [argv[0] for argv in stream] == [
            b"SELECT", b"FLUSHALL", b"SELECT", b"RPUSH", b"PEXPIREAT", b"SELECT", b"SWAPDB",
            b"DEL", b"SET"]
        assert stream[5:8] == [[b"SELECT", b"9"], [b"SWAPDB", b"1", b"9"], [b"DEL", b"k"]]
    finally:
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        reader.sock.close()
        client.close()


def test_exec_waking_a_client_on_an_expired_key_propagates_its_del_after_exec(primary):
    client = redis.Redis(port=primary.port, db=9)
    _away_from_a_ping_second(client)
    reader = StreamReader(primary.port)
    try:
        reader.sync()
        client.flushall()
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        waiter = _blocked_brpop(primary.port, 9, 0)
        _wait_blocked(client, 1)
        pipe = client.pipeline(transaction=True)
        pipe.rpush("k", "hello")
        pipe.pexpire("k", 100)
        pipe.execute_command("DEBUG", "SLEEP", "0.2")
        pipe.execute()
        blocked = [c["id"] for c in client.client_list() if "b" in c["flags"]]
        assert len(blocked) == 1
        client.client_unblock(blocked[0])
        waiter.join(10)
        client.set("marker", 1)
        stream = _commands_until_marker(reader)
        assert [argv[0] for argv in stream] == [
            b"SELECT", b"FLUSHALL", b"MULTI", b"RPUSH", b"PEXPIREAT", b"EXEC", b"DEL", b"SET"]
    finally:
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        reader.sock.close()
        client.close()


def test_flushdb_and_flushall_are_replicated_even_when_empty(primary):
    client = redis.Redis(port=primary.port)
    _away_from_a_ping_second(client)
    reader = StreamReader(primary.port)
    try:
        reader.sync()
        client.flushdb()
        client.flushdb()
        client.flushall()
        client.flushall()
        assert reader.command() == [b"SELECT", b"0"]
        assert [reader.command() for _ in range(4)] == [
            [b"FLUSHDB"], [b"FLUSHDB"], [b"FLUSHALL"], [b"FLUSHALL"]]
    finally:
        reader.sock.close()


def test_a_flush_before_any_replica_attached_leaves_later_commands_alone(primary):
    # multi.tcl "MULTI / EXEC is not propagated (single write command)" after the
    # SWAPDB tests' FLUSHALLs: a flush forces its own propagation, and with nobody
    # attached yet that must not carry over to the next command that a replica sees
    # (a read, a MULTI) on whichever worker ran the flush.
    flushers = [redis.Redis(port=primary.port) for _ in range(8)]
    client = redis.Redis(port=primary.port, db=9)
    for flusher in flushers:
        flusher.flushall()
        flusher.flushdb()
    _away_from_a_ping_second(client)
    reader = StreamReader(primary.port)
    try:
        reader.sync()
        for _ in range(4):
            client.get("nothing")
            client.ping()
        pipe = client.pipeline(transaction=True)
        pipe.set("foo", "bar")
        pipe.execute()
        client.set("marker", 1)
        assert _commands_until_marker(reader) == [
            [b"SELECT", b"9"], [b"SET", b"foo", b"bar"], [b"SET", b"marker", b"1"]]
    finally:
        reader.sock.close()
        client.close()
        for flusher in flushers:
            flusher.close()
