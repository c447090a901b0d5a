"""ferrous-monitor as a person sees it: run in a real terminal (tmux, 160x50) against a
live server under load, read the screen with capture-pane, press keys with send-keys.

Runs against Ferrous and against real Redis 7.0, and restarts the server under the
console to check that it shows "reconnecting" and then resumes.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import redis

from servers import ROOT, free_port, redis_available, wait_for_port

KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]
POLL = 0.1


class PortServer:
    """A server process that can be stopped and started again on the same port."""

    def __init__(self, kind: str):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"monitor-{kind}-")
        self.proc = None
        try:
            self.start()
        except Exception:
            self.cleanup()
            raise

    def start(self) -> None:
        if self.kind == "ferrous":
            cmd = [sys.executable, "-m", "ferrous", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", self.dir, "--save", ""]
        else:
            cmd = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", self.dir, "--save", "", "--appendonly", "no"]
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        try:
            wait_for_port(self.port, self.proc)
        except RuntimeError as exc:
            with open(os.path.join(self.dir, "server.log"), "rb") as fh:
                raise RuntimeError(f"{exc}:\n{fh.read().decode(errors='replace')[-3000:]}") from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Load(threading.Thread):
    """A steady, light load (~300 commands/s) in db0 and db2 that rides out restarts."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.stop_event = threading.Event()

    def run(self) -> None:
        db0 = redis.Redis(port=self.port, socket_timeout=2)
        db2 = redis.Redis(port=self.port, db=2, socket_timeout=2)
        n = 0
        while not self.stop_event.is_set():
            try:
                pipe = db0.pipeline(transaction=False)
                for i in range(4):
                    pipe.set(f"k:{(n + i) % 50}", n).get(f"k:{(n + i) % 50}").lpush("queue", n)
                pipe.ltrim("queue", 0, 99)
                pipe.execute()
                db2.set(f"other:{n % 5}", n)
                n += 1
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                pass                    # the server is restarting: keep trying
            self.stop_event.wait(0.04)  # pacing, not waiting for a condition
        db0.close()
        db2.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(10)


class Terminal:
    """The console in a detached tmux session on a private tmux server."""

    def __init__(self, tmp_path, port: int):
        self.socket = f"ferrous-monitor-test-{os.getpid()}-{port}"
        conf = tmp_path / "tmux.conf"
        conf.write_text("set -g remain-on-exit on\nset -g history-limit 0\n")
        # The shell reports the console's exit status on the screen and stays (read) so
        # the line can be read: tmux may reap a dead pane's process late, and may drop
        # its last output, so #{pane_dead_status} is not dependable.
        command = (f"cd {ROOT} && env PYTHONPATH={ROOT} LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color "
                   f"{sys.executable} -m ferrous.monitor -p {port} -i 0.5; "
                   f"echo console exited with status $?; read line")
        self.tmux("-f", str(conf), "new-session", "-d", "-s", "mon", "-x", "160", "-y", "50", command)

    def tmux(self, *args) -> str:
        done = subprocess.run(["tmux", "-u", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "mon")

    def keys(self, *keys) -> None:
        self.tmux("send-keys", "-t", "mon", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "mon", "-l", text)

    def settled_screen(self, timeout: float = 10.0) -> str:
        """A screen read twice alike: capture-pane can catch a frame half drawn."""
        previous = self.screen()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(POLL)
            current = self.screen()
            if current == previous:
                return current
            previous = current
        raise AssertionError(f"the screen kept changing for {timeout}s:\n{previous}")

    def wait_for(self, predicate, what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(POLL)
        raise AssertionError(f"{what}: not seen within {timeout}s; screen:\n{screen}")

    def close(self) -> None:
        socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()
        self.tmux("kill-server")
        if socket_path and os.path.exists(socket_path):
            os.unlink(socket_path)      # tmux leaves its socket file behind


def ops_per_sec(screen: str) -> int:
    match = re.search(r"ops/s\s+([\d,]+)", screen)
    return int(match.group(1).replace(",", "")) if match else 0


def header(screen: str) -> str:
    return screen.splitlines()[0] if screen else ""


def frozen_part(screen: str) -> list[str]:
    """The rows a pause must freeze: throughput figures and the command stream."""
    return [line for line in screen.splitlines() if re.search(r"ops/s|history|commands|\d\d:\d\d:\d\d\.\d{3}", line)]


def stream_rows(screen: str) -> list[str]:
    return [line for line in screen.splitlines() if re.search(r"\d\d:\d\d:\d\d\.\d{3}", line)]


@pytest.fixture(params=KINDS)
def live(request, tmp_path):
    server = PortServer(request.param)
    load = Load(server.port)
    load.start()
    terminal = Terminal(tmp_path, server.port)
    yield server, terminal
    terminal.close()
    load.stop()
    server.cleanup()


def test_the_console_under_load(live):
    server, term = live
    # 50 strings and a list in db0, 5 strings in db2.
    screen = term.wait_for(lambda s: ops_per_sec(s) > 0 and re.search(r"db0\s+51\b", s) and
                           re.search(r"db2\s+5\b", s), "non-zero ops/s and the keyspace of db0 and db2")
    assert "● connected" in header(screen) and "role master" in header(screen), screen
    assert re.search(r"(?m)^\s*│.*\bset\s+[\d,.k]+", screen)  # top commands from commandstats

    # Pause: the figures and the stream stop moving although the load goes on.
    term.keys("p")
    term.wait_for(lambda s: "PAUSED" in header(s), "the PAUSED badge")
    frozen = frozen_part(term.settled_screen())
    watch_until = time.monotonic() + 1.5                     # three poll intervals
    while time.monotonic() < watch_until:
        assert frozen_part(term.screen()) == frozen
        time.sleep(POLL)
    term.keys("Space")
    term.wait_for(lambda s: "PAUSED" not in header(s) and frozen_part(s) != frozen, "figures moving again")

    # Filter the command stream (full-height pane 4).
    term.keys("4")
    term.wait_for(lambda s: "Command stream (MONITOR)" in s and "Throughput" not in s, "the stream pane")
    term.type("/lpush")
    term.wait_for(lambda s: "filter: lpush" in s.splitlines()[-1], "the filter being typed")
    term.keys("Enter")
    if server.kind == "redis" or "unsupported" not in term.screen():
        screen = term.wait_for(lambda s: "filter 'lpush'" in s and len(stream_rows(s)) >= 5 and
                               all('"LPUSH" "queue"' in row for row in stream_rows(s)), "only LPUSH in the stream")
        assert not any('"SET"' in row or '"GET"' in row for row in stream_rows(screen))
        term.keys("Escape")
        term.wait_for(lambda s: any('"SET"' in row for row in stream_rows(s)), "unfiltered stream")
    else:
        # A server without MONITOR: the pane says so, the rest of the console works.
        screen = term.wait_for(lambda s: "filter 'lpush'" in s, "filter shown")
        assert "unsupported: ERR unknown command 'MONITOR'" in screen

    # Restart the server under the console.
    term.keys("1")
    term.wait_for(lambda s: "Throughput" in s, "the overview")
    server.stop()
    term.wait_for(lambda s: "reconnecting" in header(s), "reconnecting")
    server.start()
    screen = term.wait_for(lambda s: "● connected" in header(s) and ops_per_sec(s) > 0 and
                           re.search(r"db2\s+5\b", s), "the console resuming after the restart")
    assert "reconnecting" not in header(screen)

    # q quits, with exit status 0 (the terminal is restored by then).
    term.keys("q")
    screen = term.wait_for(lambda s: "console exited with status" in s, "the console exiting", timeout=10)
    assert "console exited with status 0" in screen, screen
