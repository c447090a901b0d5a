"""A tiny blocking RESP2/RESP3 client that keeps every reply type distinct.

redis-py folds RESP3 types together (a set becomes a Python set, a simple string
becomes bytes); byte-exact tests and the metadata capture need to see the wire
types, so this client parses replies into tagged Python values.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Simple:
    text: str


@dataclass(frozen=True)
class Error:
    text: str


@dataclass(frozen=True)
class RespSet:
    items: tuple


@dataclass(frozen=True)
class RespMap:
    items: tuple  # ((key, value), ...) in wire order


@dataclass(frozen=True)
class Push:
    items: tuple


@dataclass(frozen=True)
class Verbatim:
    fmt: str
    text: bytes


@dataclass(frozen=True)
class BigNumber:
    text: str


def encode_command(*args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RawClient:
    def __init__(self, host="127.0.0.1", port=6379, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def call(self, *args):
        self.send_raw(encode_command(*args))
        return self.read_reply()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while True:
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line, self.buf = self.buf[:idx], self.buf[idx + 2:]
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Simple(rest.decode())
        if kind == b"-":
            return Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        if kind == b"_":
            return None
        if kind == b"#":
            return rest == b"t"
        if kind == b",":
            return float(rest)
        if kind == b"(":
            return BigNumber(rest.decode())
        if kind == b"=":
            data = self._exact(int(rest))
            return Verbatim(data[:3].decode(), data[4:])
        if kind == b"~":
            return RespSet(tuple(self.read_reply() for _ in range(int(rest))))
        if kind == b"%":
            return RespMap(tuple((self.read_reply(), self.read_reply()) for _ in range(int(rest))))
        if kind == b">":
            return Push(tuple(self.read_reply() for _ in range(int(rest))))
        if kind == b"|":
            # attribute: skip it, return the reply that follows
            for _ in range(int(rest)):
                self.read_reply(), self.read_reply()
            return self.read_reply()
        raise ValueError(f"bad reply type byte {kind!r} in {line!r}")
