"""A small blocking RESP2 client: the console must not depend on redis-py.

RESP2 is enough for everything the console asks (INFO, SLOWLOG, MONITOR), and every
server speaking the protocol accepts it without a HELLO.
"""
from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass


class ServerError(Exception):
    """An error reply (`-ERR ...`): the connection itself is still fine."""


def is_unknown_command(exc: Exception) -> bool:
    """A server that lacks a command (an older or partial implementation)."""
    text = str(exc)
    return text.startswith("ERR unknown command") or text.startswith("ERR unknown subcommand")


@dataclass
class Endpoint:
    host: str = "127.0.0.1"
    port: int = 6379
    password: str | None = None
    user: str | None = None
    tls: bool = False
    cacert: str | None = None
    insecure: bool = False
    timeout: float = 2.0

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


class RespConnection:
    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=endpoint.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if endpoint.tls:
            sock = _tls_context(endpoint).wrap_socket(sock, server_hostname=endpoint.host)
        self.sock = sock
        self.reader = sock.makefile("rb")
        if endpoint.password is not None:
            auth = ["AUTH", endpoint.password] if endpoint.user is None else ["AUTH", endpoint.user, endpoint.password]
            try:
                self.call(*auth)
            except Exception:
                self.close()            # WRONGPASS: don't leak the socket on each retry
                raise

    def call(self, *args):
        self.send(*args)
        return self.read_reply()

    def send(self, *args) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def read_reply(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            raise ServerError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.reader.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError("connection closed by server")
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.read_reply() for _ in range(count)]
        raise ConnectionError(f"protocol error: unexpected reply {line[:40]!r}")

    def close(self) -> None:
        for closer in (self.reader.close, self.sock.close):
            try:
                closer()
            except OSError:
                pass


def _tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=endpoint.cacert)
    if endpoint.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
