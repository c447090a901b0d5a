"""The console's replication pane (role, and each replica's state and lag) against a
Ferrous primary with a Ferrous or a Redis replica, and on the replica's side."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from ferrous.monitor.client import Endpoint, RespConnection
from servers import ROOT, ServerProcess, redis_available

REPLICA_KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]


def _wait(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def _info_replication(port: int) -> dict:
    conn = RespConnection(Endpoint(port=port))
    try:
        text = conn.call("INFO", "replication").decode()
    finally:
        conn.close()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _once(port: int) -> str:
    done = subprocess.run([sys.executable, "-m", "ferrous.monitor", "-p", str(port), "--once", "-i", "0.2",
                           "--height", "40", "--no-stream"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("replica_kind", REPLICA_KINDS)
def test_replication_pane_shows_each_replica_and_the_replica_side(replica_kind):
    primary = ServerProcess("ferrous")
    replica = ServerProcess(replica_kind, ["--replicaof", "127.0.0.1", str(primary.port)])
    try:
        _wait(lambda: "state=online" in _info_replication(primary.port).get("slave0", ""), "replica online")
        conn = RespConnection(Endpoint(port=primary.port))
        for i in range(100):
            conn.call("SET", f"k{i}", "v")
        conn.close()
        offset = int(_info_replication(primary.port)["master_repl_offset"])
        _wait(lambda: int(_info_replication(replica.port).get("slave_repl_offset", 0)) >= offset, "replica caught up")
        # >=: a PING into the stream (every repl-ping-replica-period) may move it on.
        _wait(lambda: _acked_offset(_info_replication(primary.port)["slave0"]) >= offset, "replica acknowledged")
        screen = _once(primary.port)
        assert re.search(r"role\s+master", screen), screen
        assert re.search(r"replicas\s+1\b", screen), screen
        # The replica's lines, whole at the default width: its address (the port it
        # listens on), then its state, its lag in seconds since its last ACK and how
        # far behind it is in bytes.
        lines = screen.splitlines()
        at = next(i for i, text in enumerate(lines) if re.search(r"│ 127\.0\.0\.1:%d\s+│" % replica.port, text))
        detail = re.search(r"│\s+online lag (\d+)s · (\S+) behind\s+│", lines[at + 1])
        assert detail, screen
        assert int(detail.group(1)) <= 2 and detail.group(2) == "0B"
        screen = _once(replica.port)
        assert re.search(r"role\s+slave", screen), screen
        assert re.search(r"primary\s+127\.0\.0\.1:%d" % primary.port, screen), screen
        assert re.search(r"link\s+up", screen), screen
    finally:
        replica.stop()
        primary.stop()


def _acked_offset(slave_line: str) -> int:
    """The offset= field of an INFO replication slaveN line."""
    fields = dict(part.split("=", 1) for part in slave_line.split(","))
    return int(fields["offset"])
