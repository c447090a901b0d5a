"""The start-up log reads like Redis's where tools read it: a " PID: <pid>" line in
the logo (always-show-logo, which Redis's own test suite sets), "Ready to accept
connections", and on a busy port Redis's two lines and exit status 1."""
from __future__ import annotations

import re
import subprocess
import time

import pytest

from servers import KINDS, ServerProcess, server_command


def _wait_for(proc: ServerProcess, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        proc.log.flush()
        log = proc.read_log()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


@pytest.mark.parametrize("kind", KINDS)
def test_logo_carries_the_pid_and_the_server_says_it_is_ready(kind):
    proc = ServerProcess(kind, ["--always-show-logo", "yes"])
    try:
        log = _wait_for(proc, "Ready to accept connections")
        assert f" PID: {proc.proc.pid}" in log
        assert f"Port: {proc.port}" in log
        assert re.search(rf"^{proc.proc.pid}:M \d\d \w{{3}} \d{{4}} [\d:.]+ \* Ready to accept connections$",
                         log, re.M), log
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_without_the_logo_the_mode_and_port_are_one_line(kind):
    proc = ServerProcess(kind)
    try:
        log = _wait_for(proc, "Ready to accept connections")
        assert f"Running mode=standalone, port={proc.port}." in log
    finally:
        proc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_a_busy_port_is_reported_and_the_server_exits_1(kind, tmp_path):
    first = ServerProcess(kind)
    try:
        cmd, env = server_command(kind)
        cmd += ["--port", str(first.port), "--bind", "127.0.0.1", "--save", ""]
        second = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert (f"# Warning: Could not create server TCP listening socket 127.0.0.1:{first.port}: "
                f"bind: Address already in use") in second.stdout
        assert f"# Failed listening on port {first.port} (TCP), aborting." in second.stdout
    finally:
        first.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_a_relative_logfile_is_written_in_dir(kind, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    proc = ServerProcess(kind, ["--dir", str(data), "--logfile", "server.log"])
    try:
        deadline = time.monotonic() + 10
        log = data / "server.log"
        while not (log.exists() and "Ready to accept connections" in log.read_text()):
            assert time.monotonic() < deadline, "no log in dir"
            time.sleep(0.05)
    finally:
        proc.stop()
