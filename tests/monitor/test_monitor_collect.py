"""The console's data collection against live servers (Ferrous and real Redis): the poll,
the MONITOR stream, and the graceful degradation when a command is missing."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ferrous.monitor.client import Endpoint, RespConnection, ServerError, is_unknown_command
from ferrous.monitor.collect import MonitorStream, Poller
from ferrous.monitor.info import keyspace, parse_monitor_line
from ferrous.monitor.model import Dashboard
from ferrous.monitor.render import render_text
from servers import ROOT, ServerProcess, free_port, redis_available

KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]


def wait_until(condition, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def test_poll_gives_a_snapshot_the_dashboard_renders(r, server):
    # The session-wide server has run thousands of other commands: start the
    # top-commands pane from zero so the 50 INCRBYs below are on it.
    r.config_resetstat()
    r.slowlog_reset()
    r.set("a", "1")
    r.get("a")
    r.get("missing")
    r.execute_command("SELECT", 5)
    r.set("b", "2")
    poller = Poller(Endpoint(port=server.port), 1.0)
    poller._ensure_connected()
    try:
        first = poller.poll()
        r.execute_command("SELECT", 0)
        for i in range(50):
            r.incr("counter")
        second = poller.poll()
    finally:
        poller._close()
    assert [(d.db, d.keys) for d in keyspace(second.info)] == [(0, 2), (5, 1)]
    assert second.slowlog is not None and second.slowlog_note == ""
    dash = Dashboard(endpoint=f"127.0.0.1:{server.port}")
    dash.apply_snapshot(first)
    dash.apply_snapshot(second)
    assert dash.ops_per_sec > 0
    assert dash.command_rates["incrby"] > 0           # redis-py sends INCR as INCRBY
    screen = render_text(dash, width=200, height=120)   # room for every pane's rows
    assert "db5" in screen, screen
    assert "incrby" in screen, screen


def test_the_stream_shows_commands_but_not_the_console_own(r, server):
    endpoint = Endpoint(port=server.port)
    poller = Poller(endpoint, 1.0)
    poller._ensure_connected()
    stream = MonitorStream(endpoint, poller.own_addresses)
    stream.start()
    try:
        wait_until(lambda: stream.status == "streaming", "MONITOR started")
        poller.poll()                                  # INFO/SLOWLOG from the console itself
        r.set("seen:key", "value with space")
        raw = wait_until(lambda: [l for l in stream.lines if "seen:key" in l], "the SET in the stream")
    finally:
        stream.stop()
        stream.join(5)
        poller._close()
    line = parse_monitor_line(raw[0])
    assert line.name == "SET" and line.command == '"SET" "seen:key" "value with space"'
    assert line.db == "0" and line.client.startswith("127.0.0.1:")
    assert not [l for l in stream.lines if parse_monitor_line(l).name in ("INFO", "SLOWLOG")]
    assert not stream.is_alive()


@pytest.mark.parametrize("kind", KINDS)
def test_missing_commands_degrade_to_a_note(kind):
    # A server whose SLOWLOG and MONITOR are unknown (renamed away), as on a partial
    # implementation: the poll still succeeds and each pane says why it is empty.
    proc = ServerProcess(kind, ["--rename-command", "SLOWLOG", "", "--rename-command", "MONITOR", ""])
    try:
        endpoint = Endpoint(port=proc.port)
        conn = RespConnection(endpoint)
        with pytest.raises(ServerError) as failure:
            conn.call("MONITOR")
        assert is_unknown_command(failure.value)
        conn.close()
        poller = Poller(endpoint, 1.0)
        poller._ensure_connected()
        snap = poller.poll()
        poller._close()
        assert snap.slowlog is None and snap.slowlog_note.startswith("ERR unknown command 'SLOWLOG'")
        stream = MonitorStream(endpoint, set())
        stream.start()
        status = wait_until(lambda: stream.status if stream.status.startswith("unsupported") else "",
                            "the unsupported note")
        stream.stop()
        stream.join(5)
        assert status.startswith("unsupported: ERR unknown command 'MONITOR'")
    finally:
        proc.stop()


def test_auth_with_user_and_password(server, r):
    r.execute_command("ACL", "SETUSER", "watcher", "on", ">pw", "+@all", "~*")
    try:
        conn = RespConnection(Endpoint(port=server.port, user="watcher", password="pw"))
        assert conn.call("ACL", "WHOAMI") == b"watcher"
        conn.close()
        with pytest.raises(ServerError) as failure:
            RespConnection(Endpoint(port=server.port, user="watcher", password="wrong"))
        assert str(failure.value).startswith("WRONGPASS")
    finally:
        r.execute_command("ACL", "DELUSER", "watcher")


def test_a_stopped_server_is_reported_down_then_up_again():
    proc = ServerProcess("redis" if redis_available() else "ferrous")
    port = proc.port
    poller = Poller(Endpoint(port=port), 0.1)
    poller.start()
    try:
        events = []

        def saw(kind):
            while not poller.events.empty():
                events.append(poller.events.get()[0])
            return kind in events

        wait_until(lambda: saw("snapshot"), "a first snapshot")
        proc.stop()
        wait_until(lambda: saw("down"), "the server reported down")
    finally:
        poller.stop()
        poller.join(5)
    assert events[0] == "up" and not poller.is_alive()


def test_once_prints_a_frame_without_redis_py(server):
    # The console needs only the package's own dependencies (rich): block redis-py.
    code = ("import sys; sys.modules['redis'] = None; from ferrous.monitor.app import main; "
            f"sys.exit(main(['-p', '{server.port}', '--once', '-i', '0.2', '--width', '120', '--height', '40']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 40 and "● connected" in lines[0] and f"127.0.0.1:{server.port}" in lines[0]
    assert "Throughput" in done.stdout and "Command stream (MONITOR)" in done.stdout


def test_once_on_an_unreachable_server_fails_with_the_reason():
    done = subprocess.run([sys.executable, "-m", "ferrous.monitor", "-p", str(free_port()), "--once", "-i", "0.1"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 1
    assert "cannot reach" in done.stderr and "connection refused" in done.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_a_password_protected_server(kind):
    proc = ServerProcess(kind, ["--requirepass", "pw"])
    try:
        without = Poller(Endpoint(port=proc.port), 0.1)
        with_password = Poller(Endpoint(port=proc.port, password="pw"), 0.1)
        for poller in (without, with_password):
            poller.start()
        try:
            down = wait_until(lambda: _first_event(without, "down"), "NOAUTH reported")
            snap = wait_until(lambda: _first_event(with_password, "snapshot"), "a snapshot with the password")
        finally:
            for poller in (without, with_password):
                poller.stop()
                poller.join(5)
        assert down.startswith("NOAUTH")
        assert snap.text("server", "tcp_port") == str(proc.port)
    finally:
        proc.stop()


def _first_event(poller, kind):
    while not poller.events.empty():
        got, payload = poller.events.get()
        if got == kind:
            return payload
    return None
