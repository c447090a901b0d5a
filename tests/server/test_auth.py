"""Authentication set at start-up, against Ferrous and real Redis 7.0 each in its own
process: requirepass, `user` directives, rename-command, the aclfile (ACL SAVE/LOAD)
and protected mode."""
from __future__ import annotations

import hashlib
import os
import socket
import time

import pytest
from resp_client import Error, RawClient, Simple
from servers import ServerProcess, redis_available

from ferrous.server.acl import is_loopback

KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]
WRONGPASS = Error("WRONGPASS invalid username-password pair or user is disabled.")
NOAUTH = Error("NOAUTH Authentication required.")
DEADLINE = 5.0


@pytest.fixture
def start():
    started = []

    def make(kind, *args):
        proc = ServerProcess(kind, list(args))
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("kind", KINDS)
def test_requirepass(start, kind):
    proc = start(kind, "--requirepass", "sec")
    client = RawClient(port=proc.port)
    assert client.call("GET", "k") == NOAUTH
    assert client.call("AUTH", "bad") == WRONGPASS
    assert client.call("HELLO", "3") == Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
        "protocol version at the same time")
    assert client.call("AUTH", "sec") == Simple("OK")
    assert client.call("ACL", "WHOAMI") == b"default"
    assert client.call("ACL", "LIST") == [f"user default on #{sha('sec')} ~* &* +@all".encode()]
    other = RawClient(port=proc.port)
    assert other.call("AUTH", "default", "sec") == Simple("OK")
    # CONFIG SET requirepass: the default user gets the new password; clients already
    # authenticated stay so, new ones need it.
    assert client.call("CONFIG", "SET", "requirepass", "new") == Simple("OK")
    assert client.call("PING") == Simple("PONG")
    third = RawClient(port=proc.port)
    assert third.call("AUTH", "sec") == WRONGPASS
    assert third.call("AUTH", "new") == Simple("OK")
    assert client.call("CONFIG", "SET", "requirepass", "") == Simple("OK")
    assert RawClient(port=proc.port).call("PING") == Simple("PONG")
    assert client.call("ACL", "LIST") == [b"user default on nopass ~* &* +@all"]
    log = client.call("ACL", "LOG")
    # Both failures (two clients, same user, same command) are grouped in one entry.
    assert [(e[1], e[3], e[7], e[9]) for e in log] == [(2, b"auth", b"AUTH", b"default")]


@pytest.mark.parametrize("kind", KINDS)
def test_hello_auth_with_requirepass(start, kind):
    proc = start(kind, "--requirepass", "sec")
    client = RawClient(port=proc.port)
    assert client.call("HELLO", "3", "AUTH", "default", "bad") == WRONGPASS
    reply = client.call("HELLO", "3", "AUTH", "default", "sec", "SETNAME", "me")
    assert dict(reply.items)[b"proto"] == 3
    assert client.call("CLIENT", "GETNAME") == b"me"


@pytest.mark.parametrize("kind", KINDS)
def test_disabled_default_user_requires_auth(start, kind):
    proc = start(kind)
    admin = RawClient(port=proc.port)
    admin.call("ACL", "SETUSER", "admin", "on", ">pw", "+@all", "~*", "&*")
    assert admin.call("ACL", "SETUSER", "default", "off") == Simple("OK")
    client = RawClient(port=proc.port)
    assert client.call("PING") == NOAUTH
    assert client.call("AUTH", "default", "x") == WRONGPASS
    assert client.call("AUTH", "admin", "pw") == Simple("OK")
    assert client.call("ACL", "SETUSER", "default", "on") == Simple("OK")


@pytest.mark.parametrize("kind", KINDS)
def test_user_directives(start, kind):
    proc = start(kind, "--user", "alice", "on", ">pw", "~a*", "+@read",
                 "--user", "default", "on", ">dpw", "~*", "&*", "+@all")
    client = RawClient(port=proc.port)
    assert client.call("PING") == NOAUTH
    assert client.call("AUTH", "alice", "pw") == Simple("OK")
    assert client.call("GET", "a1") is None
    assert client.call("SET", "a1", "x") == Error("NOPERM this user has no permissions to run the 'set' command")
    assert client.call("AUTH", "dpw") == Simple("OK")
    assert client.call("ACL", "LIST") == [
        f"user alice on #{sha('pw')} ~a* resetchannels -@all +@read".encode(),
        f"user default on sanitize-payload #{sha('dpw')} ~* &* +@all".encode(),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_rename_command(start, kind):
    proc = start(kind, "--rename-command", "flushall", "", "--rename-command", "dbsize", "size")
    client = RawClient(port=proc.port)
    assert client.call("flushall") == Error("ERR unknown command 'flushall', with args beginning with: ")
    assert client.call("DBSIZE") == Error("ERR unknown command 'DBSIZE', with args beginning with: ")
    client.call("SET", "k", "v")
    assert client.call("SIZE") == 1
    # ACL rules keep the original names, even of a command renamed to "".
    assert client.call("ACL", "SETUSER", "u", "+size") == Error(
        "ERR Error in ACL SETUSER modifier '+size': Unknown command or category name in ACL")
    assert client.call("ACL", "SETUSER", "u", "+dbsize", "+flushall") == Simple("OK")
    # (single commands come in Redis's hash-table order, random per process)
    rules = client.call("ACL", "LIST")[1].split()
    assert rules[:5] == [b"user", b"u", b"off", b"resetchannels", b"-@all"]
    assert sorted(rules[5:]) == [b"+dbsize", b"+flushall"]
    assert client.call("ACL", "DRYRUN", "u", "size") == Simple("OK")
    assert client.call("ACL", "DRYRUN", "u", "dbsize") == Error("ERR Command 'dbsize' not found")


@pytest.mark.parametrize("kind", KINDS)
def test_aclfile_save_and_load(start, kind, tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("user default on nopass ~* &* +@all\nuser alice on >pw ~a* +get\n")
    proc = start(kind, "--aclfile", str(path))
    admin = RawClient(port=proc.port)
    assert admin.call("ACL", "LIST") == [
        f"user alice on #{sha('pw')} ~a* resetchannels -@all +get".encode(),
        b"user default on nopass ~* &* +@all"]
    alice = RawClient(port=proc.port)
    assert alice.call("AUTH", "alice", "pw") == Simple("OK")
    assert admin.call("ACL", "SETUSER", "zed", "on", ">x", "(+get ~z)") == Simple("OK")
    assert admin.call("ACL", "SAVE") == Simple("OK")
    assert path.read_text() == (
        f"user alice on #{sha('pw')} ~a* resetchannels -@all +get\n"
        "user default on nopass ~* &* +@all\n"
        f"user zed on #{sha('x')} resetchannels -@all (~z resetchannels -@all +get)\n")
    # LOAD replaces every user; clients of the old (non-default) users are disconnected.
    path.write_text("user bob on nopass +@all ~*\n")
    assert admin.call("ACL", "LOAD") == Simple("OK")
    assert admin.call("ACL", "USERS") == [b"bob", b"default"]
    assert admin.call("ACL", "LIST")[1] == b"user default on nopass ~* &* +@all"
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            alice.call("PING")
        except (ConnectionError, OSError):
            break
        assert time.monotonic() < deadline, "alice's connection stayed open"
        time.sleep(0.01)
    assert admin.call("PING") == Simple("PONG")


@pytest.mark.parametrize("kind", KINDS)
def test_aclfile_load_errors_change_nothing(start, kind, tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("user alice on >pw\n")
    proc = start(kind, "--aclfile", str(path))
    admin = RawClient(port=proc.port)
    p = str(path)
    path.write_text("user default on nopass ~* &* +@all\nuser alice on >pw ~a* +nosuch\nuser bob foo\n"
                    "bad line\nuser alice on\n   # comment\n")
    assert admin.call("ACL", "LOAD") == Error(
        f"ERR {p}:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
        f"{p}:3: Syntax error. {p}:4 should start with user keyword followed by the username. "
        f"WARNING: Duplicate user 'alice' found on line 5. {p}:6 should start with user keyword "
        "followed by the username. WARNING: ACL errors detected, no change to the previously "
        "active ACL rules was performed")
    assert admin.call("ACL", "USERS") == [b"alice", b"default"]
    path.unlink()
    assert admin.call("ACL", "LOAD") == Error(
        f"ERR Error loading ACLs, opening file '{p}': No such file or directory")


def _non_loopback_address() -> str | None:
    """A local address other than loopback, found by routing a UDP socket (no traffic)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


LOCAL_ADDRESS = _non_loopback_address()


@pytest.mark.skipif(LOCAL_ADDRESS is None, reason="no non-loopback local address")
@pytest.mark.parametrize("kind", KINDS)
def test_protected_mode_refuses_remote_clients(start, kind):
    proc = start(kind, "--bind", f"127.0.0.1 {LOCAL_ADDRESS}")
    with socket.create_connection((LOCAL_ADDRESS, proc.port), timeout=5) as sock:
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"-DENIED Redis is running in protected mode because protected mode is "
                           b"enabled and no password is set for the default user.")
    assert data.endswith(b"the server to start accepting connections from the outside.\r\n")
    local = RawClient(port=proc.port)
    assert b"rejected_connections:1\r\n" in local.call("INFO", "stats")
    # A password for the default user lifts protected mode: remote clients get NOAUTH.
    local.call("CONFIG", "SET", "requirepass", "sec")
    remote = RawClient(host=LOCAL_ADDRESS, port=proc.port)
    assert remote.call("PING") == NOAUTH
    local.call("AUTH", "sec")
    local.call("CONFIG", "SET", "requirepass", "")
    local.call("CONFIG", "SET", "protected-mode", "no")
    assert RawClient(host=LOCAL_ADDRESS, port=proc.port).call("PING") == Simple("PONG")


@pytest.mark.ferrous_only
@pytest.mark.parametrize("addr, local", [
    (("127.0.0.1", 1), True), (("127.3.4.5", 1), True), (("::1", 1, 0, 0), True),
    (("::ffff:127.0.0.1", 1, 0, 0), True), (("10.0.0.1", 1), False), (("192.0.2.2", 1), False),
    (("fe80::1%eth0", 1, 0, 2), False), ("/tmp/redis.sock", True),
])
def test_protected_mode_loopback_decision(addr, local):
    assert is_loopback(addr) is local



def _start_with_config(kind: str, conf: str, cwd: str, port: int):
    import shutil
    import subprocess
    import sys
    from servers import ROOT, wait_for_port
    cmd = [shutil.which("redis-server"), conf] if kind == "redis" else [sys.executable, "-m", "ferrous", conf]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc


@pytest.mark.parametrize("kind", KINDS)
def test_config_rewrite_writes_users(kind, tmp_path):
    from servers import free_port
    port = free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsave \"\"\n# users\nuser alice on >pw ~* +@all\n"
                    "appendonly no\n")
    proc = _start_with_config(kind, str(conf), str(tmp_path), port)
    try:
        client = RawClient(port=port)
        client.call("ACL", "SETUSER", "bob", "on", ">x", "~b*", "+get")
        client.call("ACL", "SETUSER", "alice", "resetpass")
        assert client.call("CONFIG", "REWRITE") == Simple("OK")
        client.close()
    finally:
        proc.terminate()
        proc.wait(10)
    lines = conf.read_text().splitlines()
    # The old user line is replaced in place; the others are appended.
    assert lines[4] == "user alice on ~* resetchannels +@all"
    assert f"user bob on #{sha('x')} ~b* resetchannels -@all +get" in lines[5:]
    assert "user default on nopass ~* &* +@all" in lines[5:]


@pytest.mark.skipif(LOCAL_ADDRESS is None, reason="no non-loopback local address")
@pytest.mark.parametrize("kind", KINDS)
def test_bind_list(start, kind):
    # A '-' address is optional: one that does not exist is skipped (EADDRNOTAVAIL).
    proc = start(kind, "--bind", "127.0.0.1 -192.0.2.254", "--protected-mode", "no")
    assert RawClient(port=proc.port).call("PING") == Simple("PONG")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LOCAL_ADDRESS, proc.port), timeout=5).close()
    assert RawClient(port=proc.port).call("CONFIG", "GET", "bind") == [b"bind", b"127.0.0.1 -192.0.2.254"]


def _run_until_exit(kind: str, *args: str) -> tuple[int, str]:
    """Start a server expected to refuse to start; its exit code and output."""
    import shutil
    import subprocess
    import sys
    from servers import ROOT, free_port
    base = ["--port", str(free_port()), "--bind", "127.0.0.1", "--save", ""]
    cmd = ([shutil.which("redis-server")] if kind == "redis" else [sys.executable, "-m", "ferrous"]) + base
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(cmd + list(args), env=env, capture_output=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("args, message", [
    (("--user", "alice", "+nosuch"), "Error loading ACL rule '+nosuch' for the user named 'alice': "
                                     "Unknown command or category name in ACL"),
    (("--rename-command", "nosuch", "x"), "No such command in rename-command"),
    (("--rename-command", "get", "set"), "Target command name already exists"),
    (("--aclfile", "/nonexistent/users.acl"), "Aborting Redis startup because of ACL errors: Error loading "
                                              "ACLs, opening file '/nonexistent/users.acl': No such file or directory"),
    (("--aclfile", "/tmp/x.acl", "--user", "alice", "on"),
     "please define either an ACL file or declare users directly in your redis.conf, but not both."),
])
def test_startup_errors(kind, args, message):
    code, output = _run_until_exit(kind, *args)
    assert code == 1
    assert message in output


@pytest.mark.parametrize("kind", KINDS)
def test_a_relative_aclfile_is_in_dir(start, kind, tmp_path):
    # Redis chdir()s into `dir`, so a relative aclfile (Redis's own tests use
    # "aclfile nodefaultuser.acl" with "dir <path>") is read and saved there.
    data = tmp_path / "data"
    data.mkdir()
    (data / "users.acl").write_text("user default on nopass ~* &* +@all\nuser bob on nopass +ping\n")
    proc = start(kind, "--dir", str(data), "--aclfile", "users.acl")
    admin = RawClient(port=proc.port)
    assert admin.call("ACL", "USERS") == [b"bob", b"default"]
    assert admin.call("ACL", "SETUSER", "carol", "on") == Simple("OK")
    assert admin.call("ACL", "SAVE") == Simple("OK")
    assert "user carol off" not in (data / "users.acl").read_text()
    assert "user carol on" in (data / "users.acl").read_text()
    assert admin.call("ACL", "LOAD") == Simple("OK")
    assert admin.call("ACL", "USERS") == [b"bob", b"carol", b"default"]
    admin.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_relative_aclfile_names_the_configured_path(kind, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(RuntimeError) as failed:
        ServerProcess(kind, ["--dir", str(data), "--aclfile", "absent.acl"])
    assert ("Aborting Redis startup because of ACL errors: Error loading ACLs, opening file "
            "'absent.acl': No such file or directory") in str(failed.value)
