"""Shared helpers for the AOF / propagation tests: reading a server's AOF, a raw
replication stream (PSYNC as a replica would), and running one script of commands
against Ferrous and real Redis side by side to compare what each propagates."""
from __future__ import annotations

import os
import re
import socket

from resp_client import RawClient, encode_command
from servers import ServerProcess, wait_until as wait  # noqa: F401 (the AOF tests poll with it)

AOF_ARGS = ["--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "no",
            "--hz", "100"]


def aof_dir(proc) -> str:
    return os.path.join(proc.dir, "appendonlydir")


def manifest(proc) -> list:
    with open(os.path.join(aof_dir(proc), "appendonly.aof.manifest")) as fh:
        return [line.split() for line in fh.read().splitlines() if line.strip()]


def incr_path(proc) -> str:
    incr = [line[1] for line in manifest(proc) if line[-1] == "i"][-1]
    return os.path.join(aof_dir(proc), incr)


def incr_commands(proc) -> list:
    """The commands of the last incremental file, as lists of bytes."""
    with open(incr_path(proc), "rb") as fh:
        return parse_commands(fh.read())


def parse_commands(data: bytes) -> list:
    from ferrous.persistence.aof_format import read_commands
    return [argv for argv, _end in read_commands(data)]


_MS = re.compile(r"^1\d{12}$")                  # a unix time in ms (deadlines, TIME)
_STREAM_ID = re.compile(r"^1\d{12}-\d+$")       # a stream ID generated from the clock


def normalized(commands: list) -> list:
    """Keep the shape of what depends on the clock; everything else stays as is."""
    out = []
    for argv in commands:
        argv = [arg.decode("latin-1") for arg in argv]
        argv = [_STREAM_ID.sub("<id>", _MS.sub("<ms>", arg)) for arg in argv]
        out.append(argv)
    return out


class ReplStream:
    """A raw replica link: PSYNC without the EOF capability, so the primary sends
    the RDB as `$<len>\\r\\n<payload>`; then every propagated command, in order."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.sock.sendall(encode_command("REPLCONF", "capa", "psync2"))
        assert self._line() == b"+OK"
        self.sock.sendall(encode_command("PSYNC", "?", "-1"))
        assert self._line().startswith(b"+FULLRESYNC")
        header = self._line()
        while header == b"":          # keepalive newlines while the RDB is prepared
            header = self._line()
        assert header.startswith(b"$"), header
        self._take(int(header[1:]))
        self.commands: list = []

    def close(self):
        self.sock.close()

    def _fill(self, timeout=10.0):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("primary closed the replication link")
        self.buf += chunk

    def _line(self) -> bytes:
        while True:
            if self.buf.startswith(b"\n"):
                self.buf = self.buf[1:]
                return b""
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line, self.buf = self.buf[:idx], self.buf[idx + 2:]
                return line
            self._fill()

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def poll(self) -> list:
        """Read whatever arrived; return every command received so far (no PINGs)."""
        try:
            self._fill(timeout=0.02)
        except socket.timeout:
            pass
        while True:
            parsed = _parse_array(self.buf)
            if parsed is None:
                break
            argv, self.buf = parsed
            if [arg.upper() for arg in argv] != [b"PING"]:     # the primary's keepalive
                self.commands.append(argv)
        return self.commands


def _parse_array(buf: bytes):
    """One complete `*n` array of bulk strings at the head of buf, or None."""
    if not buf.startswith(b"*"):
        return None
    idx = buf.find(b"\r\n")
    if idx < 0:
        return None
    count, pos, argv = int(buf[1:idx]), idx + 2, []
    for _ in range(count):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        size = int(buf[pos + 1:end])
        if len(buf) < end + 2 + size + 2:
            return None
        argv.append(buf[end + 2:end + 2 + size])
        pos = end + 2 + size + 2
    return argv, buf[pos:]


class Side:
    """One server (Ferrous or Redis) with its AOF and a raw replication link, cut
    into per-case slices by barrier writes."""

    def __init__(self, kind: str, args: list | None = None):
        extra = ["--enable-debug-command", "yes"] if kind == "ferrous" else []   # Redis's has it
        # appendfsync no: the file is written before each reply all the same, and
        # the barrier waits for anything later (blocked clients served, expiry).
        args = AOF_ARGS + ["--appendfsync", "no", "--repl-diskless-sync", "no"] + extra + list(args or [])
        self.proc = ServerProcess(kind, args)
        self.kind = kind
        self.port = self.proc.port
        wait(lambda: os.path.exists(os.path.join(aof_dir(self.proc), "appendonly.aof.manifest")))
        self.repl = ReplStream(self.port)
        self.barrier_client = RawClient(port=self.port)
        self.barriers = 0
        self.aof_seen = 0
        self.repl_seen = 0
        self.barrier()

    def stop(self):
        self.repl.close()
        self.barrier_client.close()
        self.proc.stop()

    def client(self) -> RawClient:
        return RawClient(port=self.port)

    def blocked_clients(self) -> int:
        info = self.barrier_client.call("INFO", "clients")
        return int(re.search(rb"blocked_clients:(\d+)", info).group(1))

    def aof(self) -> list:
        return incr_commands(self.proc)

    def reset(self) -> None:
        """Empty every database and the function libraries, outside any case's slice."""
        self.barrier_client.call("FLUSHALL")
        self.barrier_client.call("FUNCTION", "FLUSH")
        self.barrier()

    def barrier(self) -> tuple:
        """Write a marker and wait for it in the AOF and the stream; return the
        (AOF, replication) commands since the previous marker."""
        self.barriers += 1
        marker = [b"SET", b"__barrier__", b"%d" % self.barriers]
        assert self.barrier_client.call(*marker) is not None
        wait(lambda: marker in self.aof()[self.aof_seen:], what="barrier in the AOF")
        wait(lambda: marker in self.repl.poll()[self.repl_seen:], what="barrier in the stream")
        aof, repl = self.aof(), self.repl.poll()
        aof_slice = _until(aof[self.aof_seen:], marker)
        repl_slice = _until(repl[self.repl_seen:], marker)
        self.aof_seen += len(aof_slice) + 1
        self.repl_seen += len(repl_slice) + 1
        return _drop_trailing_select(aof_slice), _drop_trailing_select(repl_slice)


def _until(commands: list, marker: list) -> list:
    return commands[:commands.index(marker)]


def _drop_trailing_select(commands: list) -> list:
    """The barrier's own SELECT 0 (after a case that left db 0) belongs to it."""
    if commands and commands[-1][0].upper() == b"SELECT":
        return commands[:-1]
    return commands
