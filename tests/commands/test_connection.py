"""PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET against Ferrous and Redis 7.0."""
from __future__ import annotations

import pytest
import redis
from resp_client import Error, RawClient, RespMap, Simple
from servers import ServerProcess, redis_available

PASSWORD = "s3cret"
AUTH_NOT_CONFIGURED = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOAUTH = "NOAUTH Authentication required."
HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    "the RESP protocol version at the same time"
)
CLIENT_NAME_ERR = "ERR Client names cannot contain spaces, newlines or special characters."
HELLO_KEYS = [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"]


def assert_closed(client: RawClient) -> None:
    """The server closed the connection: the next read sees end of file."""
    client.sock.settimeout(5)
    try:
        assert client.sock.recv(64) == b""
    except ConnectionResetError:
        pass


def hello_pairs(reply) -> list:
    """HELLO's reply as (key, value) pairs, from a RESP3 map or a RESP2 flat array."""
    if isinstance(reply, RespMap):
        return list(reply.items)
    return list(zip(reply[::2], reply[1::2]))


# -- PING / ECHO ---------------------------------------------------------------------

def test_ping(raw):
    assert raw.call("PING") == Simple("PONG")
    assert raw.call("PING", "hello") == b"hello"
    assert raw.call("PING", "") == b""


def test_ping_wrong_arity(raw):
    assert raw.call("PING", "a", "b") == Error("ERR wrong number of arguments for 'ping' command")


def test_ping_redis_py(r):
    assert r.ping() is True
    assert r.echo("x") == b"x"


def test_ping_resp3_is_status(raw):
    raw.call("HELLO", "3")
    assert raw.call("PING") == Simple("PONG")


def test_echo(raw):
    assert raw.call("ECHO", "hi there") == b"hi there"
    assert raw.call("ECHO", "") == b""
    assert raw.call("ECHO") == Error("ERR wrong number of arguments for 'echo' command")
    assert raw.call("ECHO", "a", "b") == Error("ERR wrong number of arguments for 'echo' command")


def test_echo_binary(r):
    assert r.echo(b"\x00\xff\r\n") == b"\x00\xff\r\n"


# -- SELECT ----------------------------------------------------------------------------

def test_select_isolates_databases(r):
    r.set("k", "db0")
    assert r.execute_command("SELECT", 3) in (True, b"OK", "OK")
    assert r.get("k") is None
    r.set("k", "db3")
    r.execute_command("SELECT", 0)
    assert r.get("k") == b"db0"


def test_select_errors(raw):
    assert raw.call("SELECT", "15") == Simple("OK")
    assert raw.call("SELECT", "16") == Error("ERR DB index is out of range")
    assert raw.call("SELECT", "-1") == Error("ERR DB index is out of range")
    assert raw.call("SELECT", "2147483647") == Error("ERR DB index is out of range")
    out_of_int = "ERR value is out of range, value must between -2147483648 and 2147483647"
    assert raw.call("SELECT", "4294967296") == Error(out_of_int)
    assert raw.call("SELECT", "-2147483649") == Error(out_of_int)
    for bad in ("abc", "+1", "01", "1.0", "", "99999999999999999999"):
        assert raw.call("SELECT", bad) == Error("ERR value is not an integer or out of range"), bad
    assert raw.call("SELECT") == Error("ERR wrong number of arguments for 'select' command")


# -- QUIT ------------------------------------------------------------------------------

def test_quit_replies_ok_then_closes(raw):
    assert raw.call("QUIT") == Simple("OK")
    assert_closed(raw)


def test_quit_accepts_arguments(raw):
    assert raw.call("QUIT", "now", "please") == Simple("OK")
    assert_closed(raw)


def test_quit_discards_pipelined_commands(raw):
    raw.send_raw(b"PING\r\nQUIT\r\nPING\r\n")
    assert raw.read_reply() == Simple("PONG")
    assert raw.read_reply() == Simple("OK")
    assert_closed(raw)


# -- AUTH without a password -------------------------------------------------------------

def test_auth_without_password_configured(raw):
    assert raw.call("AUTH", "anything") == Error(AUTH_NOT_CONFIGURED)
    # The default user has no password: any password is accepted for it.
    assert raw.call("AUTH", "default", "anything") == Simple("OK")
    assert raw.call("AUTH", "nosuchuser", "anything") == Error(WRONGPASS)
    assert raw.call("AUTH", "a", "b", "c") == Error("ERR syntax error")
    assert raw.call("AUTH") == Error("ERR wrong number of arguments for 'auth' command")
    assert raw.call("PING") == Simple("PONG")


# -- HELLO -------------------------------------------------------------------------------

def test_hello_reply(raw, protocol):
    client_id = raw.call("CLIENT", "ID")
    pairs = hello_pairs(raw.call("HELLO"))
    assert [k for k, _ in pairs] == HELLO_KEYS
    values = dict(pairs)
    assert values[b"server"] == b"redis"
    assert values[b"version"] == b"7.0.15"
    assert values[b"proto"] == protocol
    assert values[b"id"] == client_id
    assert values[b"mode"] == b"standalone"
    assert values[b"role"] == b"master"
    assert values[b"modules"] == []


def test_hello_switches_protocol(raw):
    reply = raw.call("HELLO", "3")
    assert isinstance(reply, RespMap)
    assert dict(reply.items)[b"proto"] == 3
    assert isinstance(raw.call("HELLO"), RespMap)
    reply = raw.call("HELLO", "2")
    assert isinstance(reply, list)
    assert dict(hello_pairs(reply))[b"proto"] == 2
    assert isinstance(raw.call("HELLO"), list)


def test_hello_redis_py(r, protocol):
    reply = r.execute_command("HELLO")
    if isinstance(reply, list):  # RESP2: a flat array
        reply = dict(zip(reply[::2], reply[1::2]))
    assert reply[b"proto"] == protocol
    assert reply[b"server"] == b"redis"


def test_hello_protocol_errors(raw):
    for version in ("1", "4", "-1", "0"):
        assert raw.call("HELLO", version) == Error("NOPROTO unsupported protocol version")
    for version in ("abc", "02", "3.0", "99999999999999999999"):
        assert raw.call("HELLO", version) == Error("ERR Protocol version is not an integer or out of range")


def test_hello_option_errors(raw):
    assert raw.call("HELLO", "3", "FOO") == Error("ERR Syntax error in HELLO option 'FOO'")
    assert raw.call("HELLO", "3", "AUTH", "default") == Error("ERR Syntax error in HELLO option 'AUTH'")
    assert raw.call("HELLO", "3", "SETNAME") == Error("ERR Syntax error in HELLO option 'SETNAME'")
    # Options are all parsed first: a bad one after AUTH is reported as such.
    assert raw.call("HELLO", "3", "AUTH", "default", "x", "foo") == Error("ERR Syntax error in HELLO option 'foo'")
    assert raw.call("HELLO", "3", "SETNAME", "a b") == Error(CLIENT_NAME_ERR)
    # The name is checked while parsing, before credentials are.
    assert raw.call("HELLO", "3", "SETNAME", "a b", "AUTH", "x", "y") == Error(CLIENT_NAME_ERR)
    # A failed HELLO changes nothing.
    assert raw.call("CLIENT", "GETNAME") is None
    assert isinstance(raw.call("HELLO"), (list, RespMap))


def test_hello_protocol_error_keeps_protocol(raw, protocol):
    raw.call("HELLO", "4")
    assert dict(hello_pairs(raw.call("HELLO")))[b"proto"] == protocol


def test_hello_setname(raw):
    raw.call("HELLO", "2", "SETNAME", "conn-a")
    assert raw.call("CLIENT", "GETNAME") == b"conn-a"
    raw.call("HELLO", "2", "setname", "")
    assert raw.call("CLIENT", "GETNAME") is None


def test_hello_auth_without_password(raw):
    reply = raw.call("HELLO", "3", "auth", "default", "whatever")
    assert dict(reply.items)[b"proto"] == 3
    assert raw.call("HELLO", "2", "AUTH", "nobody", "x") == Error(WRONGPASS)


# -- RESET -------------------------------------------------------------------------------

def test_reset_reply(raw):
    assert raw.call("RESET") == Simple("RESET")
    assert raw.call("RESET", "x") == Error("ERR wrong number of arguments for 'reset' command")


def test_reset_restores_connection_state(raw):
    client_id = raw.call("CLIENT", "ID")
    raw.call("SELECT", "5")
    raw.call("SET", "k", "v")
    raw.call("CLIENT", "SETNAME", "named")
    raw.call("HELLO", "3")
    assert raw.call("RESET") == Simple("RESET")
    assert raw.call("GET", "k") is None                  # back in db 0
    assert raw.call("CLIENT", "GETNAME") is None         # name cleared
    assert isinstance(raw.call("HELLO"), list)           # back to RESP2
    assert raw.call("CLIENT", "ID") == client_id         # same connection


def test_reset_turns_replies_back_on(raw):
    raw.send_raw(b"CLIENT REPLY OFF\r\nPING\r\nRESET\r\nPING\r\n")
    assert raw.read_reply() == Simple("RESET")
    assert raw.read_reply() == Simple("PONG")


def test_reset_keeps_no_evict(raw):
    raw.call("CLIENT", "NO-EVICT", "on")
    raw.call("RESET")
    info = raw.call("CLIENT", "INFO")
    text = info if isinstance(info, bytes) else info.text
    assert b" flags=e " in text
    raw.call("CLIENT", "NO-EVICT", "off")


# -- servers with requirepass --------------------------------------------------------------

@pytest.fixture(scope="module", params=["ferrous", "redis"] if redis_available() else ["ferrous"])
def auth_server(request):
    proc = ServerProcess(request.param, ["--requirepass", PASSWORD])
    yield proc
    proc.stop()


@pytest.fixture
def locked(auth_server):
    client = RawClient(port=auth_server.port)
    yield client
    client.close()


def test_noauth_before_auth(locked):
    assert locked.call("PING") == Error(NOAUTH)
    assert locked.call("GET", "x") == Error(NOAUTH)
    assert locked.call("CLIENT", "ID") == Error(NOAUTH)
    assert locked.call("NOSUCHCOMMAND") == Error("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ")
    assert locked.call("HELLO") == Error(HELLO_NOAUTH)
    assert locked.call("HELLO", "3") == Error(HELLO_NOAUTH)
    assert locked.call("HELLO", "1") == Error("NOPROTO unsupported protocol version")


def test_auth_one_argument(locked):
    assert locked.call("AUTH", "wrong") == Error(WRONGPASS)
    assert locked.call("PING") == Error(NOAUTH)
    assert locked.call("AUTH", PASSWORD) == Simple("OK")
    assert locked.call("PING") == Simple("PONG")


def test_auth_two_arguments(locked):
    assert locked.call("AUTH", "default", "wrong") == Error(WRONGPASS)
    assert locked.call("AUTH", PASSWORD, "x") == Error(WRONGPASS)
    assert locked.call("AUTH", "other", PASSWORD) == Error(WRONGPASS)
    assert locked.call("AUTH", "default", PASSWORD) == Simple("OK")
    assert locked.call("PING") == Simple("PONG")


def test_failed_auth_keeps_authenticated_client(locked):
    locked.call("AUTH", PASSWORD)
    assert locked.call("AUTH", "wrong") == Error(WRONGPASS)
    assert locked.call("PING") == Simple("PONG")


def test_quit_before_auth(locked):
    assert locked.call("QUIT") == Simple("OK")
    assert_closed(locked)


def test_hello_auth(locked):
    assert locked.call("HELLO", "3", "AUTH", "default", "wrong") == Error(WRONGPASS)
    assert locked.call("PING") == Error(NOAUTH)
    reply = locked.call("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "nm")
    assert dict(reply.items)[b"proto"] == 3
    assert locked.call("PING") == Simple("PONG")
    assert locked.call("CLIENT", "GETNAME") == b"nm"


def test_hello_auth_wrong_password_keeps_protocol(locked):
    assert locked.call("HELLO", "3", "AUTH", "default", "wrong", "SETNAME", "x") == Error(WRONGPASS)
    locked.call("AUTH", PASSWORD)
    assert isinstance(locked.call("HELLO"), list)
    assert locked.call("CLIENT", "GETNAME") is None


def test_reset_deauthenticates(locked):
    locked.call("AUTH", PASSWORD)
    assert locked.call("RESET") == Simple("RESET")
    assert locked.call("PING") == Error(NOAUTH)
    assert locked.call("AUTH", PASSWORD) == Simple("OK")
    assert locked.call("PING") == Simple("PONG")


def test_unauthenticated_request_limits(auth_server):
    # Before AUTH a multibulk of more than 10 arguments is a protocol error...
    client = RawClient(port=auth_server.port)
    assert client.call("PING", *["x"] * 20) == Error("ERR Protocol error: unauthenticated multibulk length")
    assert_closed(client)
    client.close()
    # ...after AUTH it is an ordinary command, until RESET logs the client out again.
    client = RawClient(port=auth_server.port)
    client.call("AUTH", PASSWORD)
    assert client.call("PING", *["x"] * 20) == Error("ERR wrong number of arguments for 'ping' command")
    assert client.call("PING", "y" * 20000) == b"y" * 20000
    client.call("RESET")
    assert client.call("PING", "y" * 20000) == Error("ERR Protocol error: unauthenticated bulk length")
    assert_closed(client)
    client.close()


def test_redis_py_with_password(auth_server, protocol):
    client = redis.Redis(port=auth_server.port, password=PASSWORD, protocol=protocol)
    try:
        assert client.ping() is True
        client.set("k", "v")
        assert client.get("k") == b"v"
    finally:
        client.close()

