"""Hostile input: malformed and random frames never crash the server, never make it
log an unhandled exception, never grow its memory without bound, and never stop
it serving other clients. Runs against Ferrous and, to check the harness itself,
against real Redis 7.0.

The default run is a bounded slice (about 40 s in all); `pytest -m slow` runs the
long budget (FERROUS_FUZZ_BUDGET seconds, default 300). tools/fuzz_protocol.py is
the same fuzzer as a command-line tool.
"""
from __future__ import annotations

import os
import socket
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers import KINDS

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "tools"))
import fuzz_protocol  # noqa: E402

SLICE_SECONDS = {"ferrous": 15.0, "redis": 3.0}


@pytest.fixture(scope="module", params=KINDS)
def target(request):
    server = fuzz_protocol.LocalServer(request.param)
    yield request.param, server
    server.stop()


def _assert_healthy(server) -> None:
    assert server.proc.poll() is None, "the server exited"
    assert fuzz_protocol.ping(server.port), "the server stopped answering"
    assert fuzz_protocol.log_problems(server.read_log()) == []


# -- structured random frames (hypothesis) --------------------------------------------------
_counts = st.one_of(st.integers(-3, 5), st.sampled_from([-(2**63), 2**31 - 1, 2**31, 2**32, 2**63, 10**25]))
_args = st.one_of(st.sampled_from([b"PING", b"SET", b"GET", b"k", b"v", b"EX", b"-1", b"MULTI", b"EXEC"]),
                  st.binary(max_size=30))


@st.composite
def frames(draw) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:       # a header that lies about its count or lengths
        n = draw(_counts)
        body = b"".join(b"$%d\r\n%s\r\n" % (draw(_counts) if draw(st.booleans()) else len(a), a)
                        for a in draw(st.lists(_args, max_size=4)))
        return b"*%d\r\n" % n + body
    if kind == 1:       # binary garbage
        return draw(st.binary(min_size=1, max_size=2000))
    if kind == 2:       # inline junk
        line = draw(st.binary(max_size=200).filter(lambda b: b"\n" not in b))
        return line + draw(st.sampled_from([b"\r\n", b"\n", b""]))
    if kind == 3:       # a well-formed command cut short
        argv = draw(st.lists(_args, min_size=1, max_size=4))
        frame = b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
        return frame[:draw(st.integers(1, len(frame)))]
    if kind == 4:       # other RESP types where a request belongs
        return draw(st.sampled_from([b"%1\r\n", b"~1\r\n", b">1\r\n", b"|1\r\n", b"_\r\n", b":1\r\n",
                                     b"*1\r\n*536870913\r\n", b"*1\r\n~536870913\r\n"]))
    return draw(st.sampled_from(fuzz_protocol.GENERATORS))(__import__("random").Random(draw(st.integers())))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.lists(frames(), min_size=1, max_size=4), split=st.integers(1, 64), reset=st.booleans())
def _fuzz_one(port, data, split, reset):
    payload = b"".join(data)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        for i in range(0, len(payload), split):
            try:
                sock.sendall(payload[i:i + split])
            except OSError:
                break
        fuzz_protocol._drain(sock, 0.01)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    # Another client is served at once after every example.
    assert fuzz_protocol.ping(port, timeout=2)


def test_random_frames_never_break_the_server(target):
    _, server = target
    _fuzz_one(server.port)
    _assert_healthy(server)


def test_huge_declared_counts_are_refused_without_allocating(target):
    """`*536870913` must not make the server reserve room for half a billion
    arguments: the reply comes at once and RSS stays put."""
    _, server = target
    before = fuzz_protocol.rss_bytes(server.proc.pid)
    for header in (b"*536870913\r\nXX\r\n", b"*1\r\n~536870913\r\nXX\r\n", b"*2147483648\r\n"):
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(header)
            reply = sock.recv(200)
        assert reply.startswith(b"-ERR Protocol error") or reply == b""
        assert time.monotonic() - started < 1.0
    assert fuzz_protocol.rss_bytes(server.proc.pid) - before < 50 * 1024 * 1024
    _assert_healthy(server)


def test_a_blocked_client_behind_a_protocol_error_is_released_when_it_goes(target):
    """Found by the fuzzer: BLPOP ... 0 followed by a malformed frame, then the client
    leaves. Redis still reads the socket and frees the client; so must Ferrous."""
    _, server = target
    idle = fuzz_protocol.info_field(server.port, "clients", "connected_clients")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"BLPOP fuzz:never 0\n*1\r\n$-2\r\n")
        deadline = time.monotonic() + 5
        while fuzz_protocol.info_field(server.port, "clients", "blocked_clients") != "1":
            assert time.monotonic() < deadline
            time.sleep(0.01)
    deadline = time.monotonic() + 5
    while fuzz_protocol.info_field(server.port, "clients", "connected_clients") != idle:
        assert time.monotonic() < deadline, "the blocked client was never freed"
        time.sleep(0.01)
    assert fuzz_protocol.info_field(server.port, "clients", "blocked_clients") == "0"


def test_fuzz_runner_bounded_slice(target):
    kind, server = target
    result = fuzz_protocol.fuzz(server.port, SLICE_SECONDS[kind], seed=20261123, pid=server.proc.pid,
                                read_log=server.read_log, max_growth_mb=64)
    assert result.ok, result.summary()
    assert result.rounds > 50


@pytest.mark.slow
def test_fuzz_runner_long_budget(target):
    kind, server = target
    budget = float(os.environ.get("FERROUS_FUZZ_BUDGET", "300"))
    result = fuzz_protocol.fuzz(server.port, budget, seed=int(time.time()), pid=server.proc.pid,
                                read_log=server.read_log, max_growth_mb=64)
    assert result.ok, result.summary()
