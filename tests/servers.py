"""Start Ferrous and real redis-server processes on free ports for the tests."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(kind: str) -> tuple[list[str], dict]:
    """The program (command line start) and environment that run a server of `kind`;
    the caller adds its arguments."""
    if kind == "ferrous":
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        return [sys.executable, "-m", "ferrous"], env
    return [shutil.which("redis-server") or "redis-server"], dict(os.environ)


def run_until_exit(kind: str, directory, *args: str) -> subprocess.CompletedProcess:
    """Run a server that is expected to stop by itself (refused data, busy port, ...)
    on a free port in `directory`."""
    cmd, env = server_command(kind)
    cmd += ["--port", str(free_port()), "--bind", "127.0.0.1", "--dir", str(directory), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, cwd=str(directory))


def wait_until(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `predicate` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in time")


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith((b"+PONG", b"-")):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start in {timeout}s")


class ServerProcess:
    """A running server: kind is 'ferrous' or 'redis'."""

    def __init__(self, kind: str, args: list[str] | None = None, python: str | None = None,
                 directory: str | None = None, port: int | None = None):
        """`directory`: run in this existing dir and leave it on stop (restarts)."""
        self.kind = kind
        self.port = port or free_port()
        self.own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix=f"{kind}-test-")
        extra = list(args or [])
        cmd, env = server_command(kind)
        if kind == "ferrous" and python:
            cmd[0] = python
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        if kind != "ferrous":
            cmd += ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes"]
        cmd += extra
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        try:
            wait_for_port(self.port, self.proc)
        except Exception:
            self.log.flush()
            log = self.read_log()       # before stop() removes the directory
            self.stop()
            raise RuntimeError(f"{kind} failed to start:\n{log}")

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
        self.log.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


# The session-wide servers behind the `server` fixture (tests/conftest.py), here so
# test modules can import them without importing a conftest (pytest loads several).
KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]
_running: dict = {}


def get_server(kind: str) -> ServerProcess:
    if kind not in _running:
        _running[kind] = ServerProcess(kind)
    return _running[kind]


_get_server = get_server


def stop_all() -> None:
    for proc in _running.values():
        proc.stop()
    _running.clear()
