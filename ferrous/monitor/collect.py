"""Data collection: two background threads, each with its own connection.

- Poller: INFO everything and SLOWLOG GET every interval -> Snapshot events.
- MonitorStream: MONITOR on a second connection -> parsed lines in a bounded deque.

Both reconnect on their own after the server goes away, so the console survives a
restart; the rendering thread never waits on the network.
"""
from __future__ import annotations

import collections
import queue
import socket
import threading
import time

from ferrous.monitor.client import Endpoint, RespConnection, ServerError, is_unknown_command
from ferrous.monitor.info import monitor_client, slowlog_entries
from ferrous.monitor.model import Snapshot

SLOWLOG_ENTRIES = 32
RETRY_UNSUPPORTED = 5.0     # seconds before asking again for a command the server lacked
NETWORK_ERRORS = (OSError, ConnectionError, EOFError)


class Poller(threading.Thread):
    """Events on .events: ("up", None), ("down", reason), ("snapshot", Snapshot)."""

    def __init__(self, endpoint: Endpoint, interval: float):
        super().__init__(name="ferrous-monitor-poller", daemon=True)
        self.endpoint = endpoint
        self.interval = interval
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.stop_event = threading.Event()
        self.own_addresses: set[str] = set()     # our connections, hidden from the stream
        self._conn: RespConnection | None = None
        self._info_args = ("INFO", "everything")
        self._slowlog_retry_at = 0.0
        self._slowlog_note = ""

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                fresh = self._ensure_connected()
                snapshot = self.poll()
                if fresh:                       # "up" only once the server really answers
                    self.events.put(("up", None))
                self.events.put(("snapshot", snapshot))
            except NETWORK_ERRORS as exc:
                self._drop(exc)
            except ServerError as exc:          # e.g. NOAUTH: keep trying, say why
                self._drop(exc)
            self.stop_event.wait(max(0.05, self.interval - (time.monotonic() - started)))
        self._close()

    def _ensure_connected(self) -> bool:
        """Connect if needed; True for a new connection."""
        if self._conn is not None:
            return False
        self._conn = RespConnection(self.endpoint)
        self.own_addresses.add(_address(self._conn.sock))
        self._slowlog_retry_at = 0.0
        return True

    def _drop(self, exc: Exception) -> None:
        self._close()
        self.events.put(("down", _reason(exc)))

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def poll(self) -> Snapshot:
        text = self._info()
        slowlog = self._slowlog()
        return Snapshot.from_text(text, time.monotonic(), slowlog, self._slowlog_note, time.time())

    def _info(self) -> str:
        try:
            reply = self._conn.call(*self._info_args)
        except ServerError as exc:
            # Only a server that rejects the "everything" argument gets plain INFO;
            # NOAUTH / NOPERM are reported as they are.
            if self._info_args == ("INFO",) or not str(exc).startswith("ERR"):
                raise
            self._info_args = ("INFO",)
            reply = self._conn.call(*self._info_args)
        return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)

    def _slowlog(self) -> list | None:
        if time.monotonic() < self._slowlog_retry_at:
            return None
        try:
            reply = self._conn.call("SLOWLOG", "GET", SLOWLOG_ENTRIES)
        except ServerError as exc:
            # Degrade: the pane says why, and we ask again later (the server may be upgraded).
            self._slowlog_note = str(exc)
            self._slowlog_retry_at = time.monotonic() + RETRY_UNSUPPORTED
            return None
        self._slowlog_note = ""
        return slowlog_entries(reply)


class MonitorStream(threading.Thread):
    """MONITOR on its own connection. .lines holds raw lines (text) not yet shown;
    they are parsed only when drawn, as a busy server sends thousands a second;
    .status says "streaming", "unsupported: ...", or "reconnecting: ..."."""

    def __init__(self, endpoint: Endpoint, own_addresses: set, maxlen: int = 5000):
        super().__init__(name="ferrous-monitor-stream", daemon=True)
        self.endpoint = endpoint
        self.own_addresses = own_addresses
        self.lines: collections.deque = collections.deque(maxlen=maxlen)
        self.status = "starting"
        self.stop_event = threading.Event()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            retry_after = 0.5
            try:
                self._stream()
            except NETWORK_ERRORS as exc:
                self.status = "reconnecting: " + _reason(exc)
            except ServerError as exc:
                self.status = ("unsupported: " if is_unknown_command(exc) else "error: ") + str(exc)
                retry_after = RETRY_UNSUPPORTED
            self.stop_event.wait(retry_after)

    def _stream(self) -> None:
        conn = RespConnection(self.endpoint)
        try:
            conn.send("MONITOR")
            # From here on raw reads: MONITOR sends status lines forever, and a short
            # timeout lets the thread notice stop() between them.
            conn.settimeout(0.5)
            self._read_lines(conn.sock)
        finally:
            conn.close()

    def _read_lines(self, sock) -> None:
        buffer = b""
        first = True
        while not self.stop_event.is_set():
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if not chunk:
                raise ConnectionError("connection closed by server")
            buffer += chunk
            *complete, buffer = buffer.split(b"\r\n")
            for raw in complete:
                if first:
                    first = False
                    self._check_reply(raw)
                    continue
                self._add(raw)

    def _check_reply(self, raw: bytes) -> None:
        if raw.startswith(b"-"):
            raise ServerError(raw[1:].decode("utf-8", "replace"))
        self.status = "streaming"

    def _add(self, raw: bytes) -> None:
        line = raw[1:].decode("utf-8", "replace") if raw[:1] == b"+" else raw.decode("utf-8", "replace")
        if monitor_client(line) not in self.own_addresses:
            self.lines.append(line)


def _address(sock) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    return text
