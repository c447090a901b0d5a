#!/usr/bin/env python3
"""Protocol fuzzer: throw malformed and random frames at a server for a fixed time.

    tools/fuzz_protocol.py --budget 60              # starts its own Ferrous, 60 s
    tools/fuzz_protocol.py --budget 600 --kind redis  # the same against redis-server
    tools/fuzz_protocol.py --port 6379 --budget 30  # a server that is already running

Each round opens a connection and sends a few frames, often split at random
points: huge declared lengths, negative and absurd counts, binary garbage, half
frames followed by a disconnect (sometimes a reset), inline junk (overlong lines,
unbalanced quotes), other RESP types where a request belongs, and well-formed
commands with random arguments. Meanwhile a watcher client checks that the
server keeps answering. At the end the run passes when:
- the server process is still running and answers PING,
- its log holds no unhandled exception (no "Traceback", no Redis crash report),
- its RSS grew by less than --max-growth-mb after the warm-up,
- every client connection it had was closed (INFO connected_clients back to idle).
Loopback only; the exit status is 0 on a pass.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Commands a fuzzer may send with random arguments: nothing that stops, reconfigures
# or blocks the server on purpose (SHUTDOWN, DEBUG, CONFIG, REPLICAOF, MONITOR ...).
SAFE_COMMANDS = [
    b"PING", b"ECHO", b"SET", b"GET", b"DEL", b"INCR", b"APPEND", b"GETRANGE", b"SETRANGE",
    b"MSET", b"MGET", b"EXPIRE", b"TTL", b"TYPE", b"EXISTS", b"LPUSH", b"RPUSH", b"LPOP",
    b"LRANGE", b"LINSERT", b"HSET", b"HGET", b"HGETALL", b"HINCRBY", b"SADD", b"SMEMBERS",
    b"SINTER", b"ZADD", b"ZRANGE", b"ZRANGEBYSCORE", b"ZINCRBY", b"XADD", b"XRANGE",
    b"SETBIT", b"BITCOUNT", b"BITFIELD", b"PFADD", b"PFCOUNT", b"GEOADD", b"GEOSEARCH",
    b"MULTI", b"EXEC", b"DISCARD", b"WATCH", b"SUBSCRIBE", b"PUBLISH", b"HELLO", b"SELECT",
    b"SCAN", b"OBJECT", b"COMMAND", b"SORT", b"BLPOP", b"CLIENT", b"INFO", b"DBSIZE",
    b"NOSUCHCOMMAND", b"",
]
ARG_POOL = [b"0", b"-1", b"1", b"k", b"key", b"field", b"EX", b"PX", b"NX", b"XX", b"GET", b"WITHSCORES",
            b"LIMIT", b"COUNT", b"MATCH", b"*", b"+inf", b"-inf", b"nan", b"1e400", b"9223372036854775807",
            b"-9223372036854775808", b"18446744073709551616", b"3", b"2", b"AUTH", b"SETNAME", b"0.5",
            b"BEFORE", b"u8", b"i64", b"OVERFLOW", b"FAIL", b"BYSCORE", b"REV", b"ENCODING", b"\x00", b""]


def _bulk(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def command_frame(rng: random.Random) -> bytes:
    argv = [rng.choice(SAFE_COMMANDS)]
    for _ in range(rng.randrange(0, 6)):
        argv.append(rng.choice(ARG_POOL) if rng.random() < 0.8 else rng.randbytes(rng.randrange(0, 40)))
    if argv[0] == b"BLPOP":
        argv = [b"BLPOP", b"fuzz:list", b"0.01"]     # blocks briefly, never forever
    return b"*%d\r\n" % len(argv) + b"".join(map(_bulk, argv))


def huge_length_frame(rng: random.Random) -> bytes:
    size = rng.choice([2**31, 2**31 - 1, 2**32, 2**63 - 1, 2**63, 2**64, 10**30, 512 * 1024 * 1024 + 1])
    kind = rng.randrange(3)
    if kind == 0:
        return b"*%d\r\n" % size
    if kind == 1:
        return b"*2\r\n$3\r\nGET\r\n$%d\r\n" % size + rng.randbytes(rng.randrange(0, 200))
    return b"*1\r\n$%d\r\n" % rng.choice([1 << 20, 4 << 20, 100 << 20]) + rng.randbytes(rng.randrange(0, 5000))


def negative_count_frame(rng: random.Random) -> bytes:
    n = rng.choice([-1, -2, -100, -(2**31), -(2**63)])
    return rng.choice([b"*%d\r\n" % n, b"*1\r\n$%d\r\n" % n, b"*%d\r\n$4\r\nPING\r\n" % n])


def malformed_number_frame(rng: random.Random) -> bytes:
    junk = rng.choice([b"", b"+1", b" 1", b"1 ", b"01", b"0x10", b"1_0", b"abc", b"-0", b"1.5", b"\x00", b"9" * 30])
    return rng.choice([b"*%s\r\n$4\r\nPING\r\n" % junk, b"*1\r\n$%s\r\nPING\r\n" % junk,
                       b"*1\r\n%sPING\r\n" % rng.choice([b"+", b":", b"*", b"%", b"x", b"$"])])


def garbage_frame(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randrange(1, 3000))


def inline_frame(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return b"x" * rng.choice([64 * 1024 + 1, 70000, 200000])     # too big inline request
    if kind == 1:
        return b'SET "unbalanced\r\n'
    if kind == 2:
        return b"'a'b\r\n"
    if kind == 3:
        words = [rng.choice(SAFE_COMMANDS)] + [rng.choice(ARG_POOL) for _ in range(rng.randrange(4))]
        return b" ".join(words) + rng.choice([b"\r\n", b"\n", b" \r\n", b"\t\n"])
    printable = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 300)))
    return printable + b"\r\n"


def resp3_type_frame(rng: random.Random) -> bytes:
    return rng.choice([b"%1\r\n+a\r\n+b\r\n", b"~2\r\n:1\r\n:2\r\n", b">1\r\n+x\r\n", b"_\r\n", b",1.5\r\n",
                       b"#t\r\n", b"(123\r\n", b"=5\r\ntxt:a\r\n", b"|1\r\n+a\r\n+b\r\n", b"*1\r\n:5\r\n",
                       b"*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n"])


def half_frame(rng: random.Random) -> bytes:
    frame = command_frame(rng)
    return frame[:rng.randrange(1, len(frame))] if len(frame) > 1 else frame


GENERATORS = [command_frame, huge_length_frame, negative_count_frame, malformed_number_frame,
              garbage_frame, inline_frame, resp3_type_frame, half_frame]


@dataclass
class Result:
    rounds: int = 0
    frames: int = 0
    bytes_sent: int = 0
    elapsed: float = 0.0
    rss_start: int = 0
    rss_end: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        status = "PASS" if self.ok else "FAIL: " + "; ".join(self.problems)
        return (f"{self.rounds} connections, {self.frames} frames, {self.bytes_sent / 1e6:.1f} MB in "
                f"{self.elapsed:.0f} s; RSS {self.rss_start / 1e6:.1f} -> {self.rss_end / 1e6:.1f} MB; {status}")


def send_round(port: int, rng: random.Random) -> tuple[int, int]:
    """One connection: a few frames, split at random, replies drained, then a close
    that is sometimes abrupt (RST). Returns (frames, bytes)."""
    frames = [rng.choice(GENERATORS)(rng) for _ in range(rng.randrange(1, 5))]
    data = b"".join(frames)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        pos = 0
        while pos < len(data):
            step = rng.choice([1, 2, 7, 64, 1500, len(data)])
            try:
                sock.sendall(data[pos:pos + step])
            except OSError:
                break       # the server closed on a protocol error: expected
            pos += step
        _drain(sock, 0.02 if rng.random() < 0.9 else 0.2)
        if rng.random() < 0.3:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return len(frames), len(data)


def _drain(sock: socket.socket, seconds: float) -> None:
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def ping(port: int, timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64) == b"+PONG\r\n"
    except OSError:
        return False


def info_field(port: int, section: str, name: str) -> str | None:
    """One field of INFO <section>, read over a fresh RESP2 connection."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"*2\r\n$4\r\nINFO\r\n" + _bulk(section.encode()))
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                data += chunk
                header_end = data.find(b"\r\n")
                if header_end > 0 and len(data) >= header_end + 2 + int(data[1:header_end]) + 2:
                    break
    except (OSError, ValueError):
        return None
    for line in data.decode(errors="replace").splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def client_list(port: int) -> str:
    """CLIENT LIST, for diagnosing connections the server failed to let go."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n")
            time.sleep(0.2)
            return sock.recv(1 << 20).decode(errors="replace")
    except OSError as exc:
        return repr(exc)


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def log_problems(log_text: str) -> list:
    markers = ["Traceback (most recent call last)", "REDIS BUG REPORT", "crashed by signal"]
    return [f"log contains {m!r}" for m in markers if m in log_text]


def fuzz(port: int, budget: float, seed: int, pid: int | None = None, read_log=None,
         max_growth_mb: float = 64.0, warmup: float | None = None) -> Result:
    """Fuzz the server on port for `budget` seconds; pid and read_log enable the
    RSS and log checks."""
    rng = random.Random(seed)
    result = Result()
    started = time.monotonic()
    warmup = min(5.0, budget / 5) if warmup is None else warmup
    idle_clients = info_field(port, "clients", "connected_clients")
    next_check = started + 1.0
    while time.monotonic() - started < budget:
        try:
            frames, sent = send_round(port, rng)
        except OSError as exc:
            if not ping(port):
                result.problems.append(f"server stopped answering after {result.rounds} rounds ({exc})")
                break
            continue
        result.rounds += 1
        result.frames += frames
        result.bytes_sent += sent
        now = time.monotonic()
        if pid and not result.rss_start and now - started >= warmup:
            result.rss_start = rss_bytes(pid)
        if now >= next_check:
            next_check = now + 1.0
            if not ping(port):
                result.problems.append(f"no PONG after {result.rounds} rounds")
                break
    result.elapsed = time.monotonic() - started
    _final_checks(result, port, pid, read_log, max_growth_mb, idle_clients)
    return result


def _final_checks(result: Result, port: int, pid, read_log, max_growth_mb: float, idle_clients) -> None:
    if not ping(port):
        result.problems.append("no PONG at the end")
    if pid:
        result.rss_end = rss_bytes(pid)
        if not result.rss_end:
            result.problems.append("the server process is gone")
        result.rss_start = result.rss_start or result.rss_end
        growth = (result.rss_end - result.rss_start) / 1e6
        if growth > max_growth_mb:
            result.problems.append(f"RSS grew by {growth:.0f} MB")
    if idle_clients is not None:
        deadline = time.monotonic() + 10
        while info_field(port, "clients", "connected_clients") != idle_clients:
            if time.monotonic() > deadline:
                result.problems.append("connected_clients did not return to the idle count; left: "
                                       + client_list(port)[:2000])
                break
            time.sleep(0.05)
    if read_log is not None:
        result.problems.extend(log_problems(read_log()))


class LocalServer:
    """A server process of our own on a free loopback port, logging to a file."""

    def __init__(self, kind: str = "ferrous", python: str | None = None):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix=f"fuzz-{kind}-")
        self.log_path = os.path.join(self.dir, "server.log")
        if kind == "ferrous":
            cmd = [python or sys.executable, "-m", "ferrous"]
            env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        else:
            cmd = [shutil.which("redis-server") or "redis-server", "--appendonly", "no"]
            env = dict(os.environ)
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", ""]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        deadline = time.monotonic() + 20
        while not ping(self.port, 0.5):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.read_log()
                self.stop()
                raise RuntimeError(f"{kind} did not start:\n{log}")
            time.sleep(0.05)

    def read_log(self) -> str:
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of fuzzing (default 60)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--port", type=int, help="fuzz a server already running here (loopback)")
    parser.add_argument("--kind", choices=["ferrous", "redis"], default="ferrous")
    parser.add_argument("--python", help="interpreter for the Ferrous server (e.g. python3.13t)")
    parser.add_argument("--max-growth-mb", type=float, default=64.0)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzzing for {args.budget:.0f} s, seed {seed}")
    if args.port:
        result = fuzz(args.port, args.budget, seed)
    else:
        server = LocalServer(args.kind, args.python)
        try:
            result = fuzz(server.port, args.budget, seed, server.proc.pid, server.read_log, args.max_growth_mb)
        finally:
            server.stop()
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
