"""Redis 7.0's shutdown with lagging replicas (integration/shutdown.tcl): SHUTDOWN
and SIGTERM pause writes and wait up to shutdown-timeout for every replica to
acknowledge the whole stream (INFO shows shutdown_in_milliseconds meanwhile), and
SHUTDOWN ABORT or a failed final step answers the waiting SHUTDOWN clients with an
error. Each test runs with a Ferrous pair and a real Redis pair; the replica is
held still with SIGSTOP so that it cannot acknowledge."""
from __future__ import annotations

import os
import signal
import socket
import time

import pytest
import redis

from servers import KINDS, ServerProcess, wait_until

SHUTDOWN_ERROR = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"


@pytest.fixture(params=KINDS)
def pair(request):
    kind = request.param
    primary = ServerProcess(kind, ["--save", "", "--enable-debug-command", "yes"])
    replica = ServerProcess(kind, ["--save", ""])
    p, r = _client(primary), _client(replica)
    r.replicaof("127.0.0.1", primary.port)
    wait_until(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
    p.set("k", 1)
    wait_until(lambda: _in_sync(p), what="replica acknowledged")
    yield primary, replica
    os.kill(replica.proc.pid, signal.SIGCONT)
    replica.stop()
    primary.stop()


def _client(proc):
    return redis.Redis(port=proc.port, socket_timeout=20)


def _in_sync(p) -> bool:
    info = p.info("replication")
    return info["slave0"]["offset"] == info["master_repl_offset"]


def _send(proc, command: bytes) -> socket.socket:
    """A raw connection with one command sent; its reply is read later (or never)."""
    sock = socket.create_connection(("127.0.0.1", proc.port), timeout=20)
    sock.sendall(command)
    return sock


def _shutdown_pending(p) -> bool:
    return p.info("server").get("shutdown_in_milliseconds", 0) > 0


def _exits(proc, timeout: float = 20) -> int:
    return proc.proc.wait(timeout)


def _lagging_primary(primary, replica, timeout: int = 300):
    p = _client(primary)
    p.config_set("shutdown-timeout", timeout)
    os.kill(replica.proc.pid, signal.SIGSTOP)
    p.incr("k")
    return p


def test_shutdown_waits_for_a_lagging_replica(pair):
    primary, replica = pair
    p = _lagging_primary(primary, replica)
    _send(primary, b"SHUTDOWN\r\n")
    wait_until(lambda: _shutdown_pending(p), what="shutdown in progress")
    assert 290_000 < p.info("server")["shutdown_in_milliseconds"] <= 300_000
    # Writes are paused meanwhile (the replicas' offset must hold still); reads go on.
    writer = _send(primary, b"SET other 1\r\n")
    writer.settimeout(0.3)
    with pytest.raises(socket.timeout):
        writer.recv(64)
    assert p.get("k") == b"2"
    os.kill(replica.proc.pid, signal.SIGCONT)
    assert _exits(primary) == 0
    assert _client(replica).get("k") == b"2"
    log = primary.read_log()
    assert "Waiting for replicas before shutting down." in log
    assert "1 of 1 replicas are in sync when shutting down." in log
    assert "Lagging replica" not in log
    assert "ready to exit, bye bye" in log


def test_sigterm_waits_until_shutdown_timeout_then_exits(pair):
    primary, replica = pair
    p = _lagging_primary(primary, replica, timeout=1)
    os.kill(primary.proc.pid, signal.SIGTERM)
    wait_until(lambda: _shutdown_pending(p), what="shutdown in progress")
    assert _exits(primary) == 0
    log = primary.read_log()
    assert "Received SIGTERM scheduling shutdown..." in log
    assert "Lagging replica" in log
    assert "0 of 1 replicas are in sync when shutting down." in log


def test_shutdown_now_does_not_wait(pair):
    primary, replica = pair
    _lagging_primary(primary, replica)
    _send(primary, b"SHUTDOWN NOW\r\n")
    assert _exits(primary) == 0
    assert "Waiting for replicas" not in primary.read_log()


def test_shutdown_abort_answers_every_waiting_shutdown(pair):
    primary, replica = pair
    p = _lagging_primary(primary, replica)
    first, second = _send(primary, b"SHUTDOWN\r\n"), _send(primary, b"SHUTDOWN\r\n")
    wait_until(lambda: p.info("clients")["blocked_clients"] == 2, what="both SHUTDOWNs waiting")
    assert _shutdown_pending(p)
    assert p.execute_command("SHUTDOWN", "ABORT") is True       # +OK
    assert first.recv(100) == SHUTDOWN_ERROR
    assert second.recv(100) == SHUTDOWN_ERROR
    assert "shutdown_in_milliseconds" not in p.info("server")
    assert p.set("after", 1) is True          # the pause ended
    assert "Shutdown manually aborted." in primary.read_log()
    os.kill(replica.proc.pid, signal.SIGCONT)
    time.sleep(0.3)
    assert primary.proc.poll() is None       # still running
    with pytest.raises(redis.ResponseError, match="^No shutdown in progress.$"):
        p.execute_command("SHUTDOWN", "ABORT")


def test_a_failed_final_step_cancels_the_shutdown(pair):
    # An initial AOF rewrite (CONFIG SET appendonly yes) that has not finished
    # means the data is nowhere yet: without FORCE the shutdown is cancelled.
    primary, replica = pair
    p = _lagging_primary(primary, replica)
    waiting = _send(primary, b"SHUTDOWN\r\n")
    wait_until(lambda: p.info("clients")["blocked_clients"] == 1, what="SHUTDOWN waiting")
    p.config_set("rdb-key-save-delay", 30_000_000)
    p.config_set("appendonly", "yes")
    os.kill(replica.proc.pid, signal.SIGCONT)
    assert waiting.recv(100) == SHUTDOWN_ERROR
    log = primary.read_log()
    assert "1 of 1 replicas are in sync when shutting down." in log
    assert "Writing initial AOF, can't exit." in log
    assert "Errors trying to shut down the server. Check the logs for more information." in log
    assert p.set("after", 1) is True
    _send(primary, b"SHUTDOWN NOSAVE FORCE\r\n")
    assert _exits(primary) == 0
