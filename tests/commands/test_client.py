"""CLIENT and its sub-commands against Ferrous and Redis 7.0."""
from __future__ import annotations

import time

import pytest
from resp_client import Error, RawClient, RespMap, RespSet, Simple, Verbatim, encode_command

# Redis 7.0's CLIENT LIST fields, in order (no lib-name/lib-ver: those are 7.2).
FIELDS = [
    "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub",
    "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem",
    "tot-mem", "events", "cmd", "user", "redir", "resp",
]
NUMERIC = ["id", "fd", "age", "idle", "db", "sub", "psub", "ssub", "multi", "qbuf", "qbuf-free",
           "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "redir", "resp"]
NAME_ERR = "ERR Client names cannot contain spaces, newlines or special characters."
SYNTAX = "ERR syntax error"


def text_of(reply) -> str:
    """CLIENT LIST/INFO text: a verbatim string in RESP3, a bulk string in RESP2."""
    if isinstance(reply, Verbatim):
        assert reply.fmt == "txt"
        return reply.text.decode()
    assert isinstance(reply, bytes), reply
    return reply.decode()


def parse_line(line: str) -> list[tuple[str, str]]:
    return [tuple(field.split("=", 1)) for field in line.split(" ")]


def client_lines(reply) -> list[dict]:
    text = text_of(reply)
    assert text == "" or text.endswith("\n")
    return [dict(parse_line(line)) for line in text.splitlines()]


def info_of(raw, client_id: int) -> dict | None:
    lines = client_lines(raw.call("CLIENT", "LIST", "ID", str(client_id)))
    return lines[0] if lines else None


def wait_gone(raw, client_id: int) -> None:
    deadline = time.monotonic() + 5
    while info_of(raw, client_id) is not None:
        assert time.monotonic() < deadline, f"client {client_id} still listed"
        time.sleep(0.01)


def assert_closed(client: RawClient) -> None:
    client.sock.settimeout(5)
    try:
        assert client.sock.recv(64) == b""
    except ConnectionResetError:
        pass


@pytest.fixture
def other(server):
    """A second plain connection to the same server."""
    client = RawClient(port=server.port)
    yield client
    client.close()


# -- ID / SETNAME / GETNAME ----------------------------------------------------------

def test_client_id(raw, other):
    my_id = raw.call("CLIENT", "ID")
    assert isinstance(my_id, int) and my_id > 0
    assert raw.call("CLIENT", "ID") == my_id
    assert other.call("CLIENT", "ID") > my_id
    assert raw.call("CLIENT", "ID", "x") == Error("ERR wrong number of arguments for 'client|id' command")


def test_client_id_redis_py(r):
    assert r.client_id() == r.client_id()


def test_setname_getname(raw):
    assert raw.call("CLIENT", "GETNAME") is None
    assert raw.call("CLIENT", "SETNAME", "worker-1") == Simple("OK")
    assert raw.call("CLIENT", "GETNAME") == b"worker-1"
    assert raw.call("CLIENT", "SETNAME", "") == Simple("OK")   # removes the name
    assert raw.call("CLIENT", "GETNAME") is None


def test_setname_redis_py(r):
    assert r.client_setname("py-name") is True
    # redis-py decodes this reply to str in RESP2 only.
    assert r.client_getname() in (b"py-name", "py-name")


@pytest.mark.parametrize("name", ["a b", "a\nb", "tab\there", "\x7f", "caf\xe9", "\x00"])
def test_setname_rejects_special_characters(raw, name):
    raw.call("CLIENT", "SETNAME", "before")
    assert raw.call("CLIENT", "SETNAME", name) == Error(NAME_ERR)
    assert raw.call("CLIENT", "GETNAME") == b"before"


def test_setname_arity(raw):
    assert raw.call("CLIENT", "SETNAME") == Error("ERR wrong number of arguments for 'client|setname' command")
    assert raw.call("CLIENT", "SETNAME", "a", "b") == Error("ERR wrong number of arguments for 'client|setname' command")


# -- LIST / INFO --------------------------------------------------------------------------

def test_client_info_fields(raw, protocol):
    raw.call("SELECT", "2")
    raw.call("CLIENT", "SETNAME", "infotest")
    reply = raw.call("CLIENT", "INFO")
    assert isinstance(reply, Verbatim if protocol == 3 else bytes)
    text = text_of(reply)
    assert text.endswith("\n") and text.count("\n") == 1
    pairs = parse_line(text.rstrip("\n"))
    assert [k for k, _ in pairs] == FIELDS
    info = dict(pairs)
    for key in NUMERIC:
        int(info[key])
    assert int(info["id"]) == raw.call("CLIENT", "ID")
    assert info["name"] == "infotest"
    assert info["db"] == "2"
    assert info["flags"] == "N"
    assert info["cmd"] == "client|info"
    assert info["user"] == "default"
    assert info["resp"] == str(protocol)
    assert info["redir"] == "-1"
    assert info["multi"] == "-1"
    assert (info["sub"], info["psub"], info["ssub"]) == ("0", "0", "0")
    assert info["events"] == "r"
    assert info["addr"] == "%s:%d" % raw.sock.getsockname()
    assert info["laddr"] == "%s:%d" % raw.sock.getpeername()
    assert int(info["age"]) >= 0 and int(info["idle"]) >= 0


def test_query_buffer_holds_the_running_request(raw, other):
    """qbuf: the caller's own request is still in its query buffer while it runs
    (26 bytes for CLIENT INFO), a pipelined one behind it too; an idle client's is empty."""
    assert client_lines(raw.call("CLIENT", "INFO"))[0]["qbuf"] == "26"
    raw.send_raw(encode_command("CLIENT", "INFO") + encode_command("PING"))
    info = client_lines(raw.read_reply())[0]
    assert raw.read_reply() == Simple("PONG")
    assert info["qbuf"] == str(26 + len(encode_command("PING")))
    assert int(info["qbuf-free"]) > 0
    them = other.call("CLIENT", "ID")
    line = info_of(raw, them)
    assert (line["qbuf"], line["cmd"]) == ("0", "client|id")
    me = str(raw.call("CLIENT", "ID"))
    assert info_of(raw, me)["qbuf"] == str(len(encode_command("CLIENT", "LIST", "ID", me)))


def test_client_list_contains_every_connection(raw, other):
    other.call("CLIENT", "SETNAME", "the-other")
    lines = client_lines(raw.call("CLIENT", "LIST"))
    for line in lines:
        assert list(line) == FIELDS
    by_id = {int(line["id"]): line for line in lines}
    me, them = raw.call("CLIENT", "ID"), other.call("CLIENT", "ID")
    assert by_id[me]["cmd"] == "client|list"
    assert by_id[them]["name"] == "the-other"
    assert by_id[them]["cmd"] == "client|setname"
    ids = [int(line["id"]) for line in lines]
    assert ids == sorted(ids)


def test_client_list_reports_last_command(raw, other):
    them = other.call("CLIENT", "ID")
    other.call("GET", "x")
    assert info_of(raw, them)["cmd"] == "get"
    other.call("GET")                       # arity error: the command was found
    assert info_of(raw, them)["cmd"] == "get"
    other.call("NOSUCHCOMMAND")
    assert info_of(raw, them)["cmd"] == "NULL"
    other.call("CLIENT", "NOSUCHSUB")
    assert info_of(raw, them)["cmd"] == "NULL"
    other.call("CLIENT")
    assert info_of(raw, them)["cmd"] == "client"
    other.call("SELECT", "4")
    info = info_of(raw, them)
    assert (info["cmd"], info["db"]) == ("select", "4")


def test_client_list_type(raw, other):
    me, them = raw.call("CLIENT", "ID"), other.call("CLIENT", "ID")
    ids = {int(line["id"]) for line in client_lines(raw.call("CLIENT", "LIST", "TYPE", "normal"))}
    assert {me, them} <= ids
    assert client_lines(raw.call("CLIENT", "LIST", "TYPE", "pubsub")) == []
    assert client_lines(raw.call("CLIENT", "LIST", "type", "REPLICA")) == []
    assert client_lines(raw.call("CLIENT", "LIST", "TYPE", "slave")) == []
    assert client_lines(raw.call("CLIENT", "LIST", "TYPE", "master")) == []
    assert raw.call("CLIENT", "LIST", "TYPE", "foo") == Error("ERR Unknown client type 'foo'")


def test_client_list_ids(raw, other):
    me, them = raw.call("CLIENT", "ID"), other.call("CLIENT", "ID")
    lines = client_lines(raw.call("CLIENT", "LIST", "ID", str(them), "999999", str(me), "-5"))
    assert [int(line["id"]) for line in lines] == [them, me]
    assert client_lines(raw.call("CLIENT", "LIST", "id", "999999")) == []
    assert raw.call("CLIENT", "LIST", "ID", "1", "x") == Error("ERR Invalid client ID")


def test_client_list_syntax_errors(raw):
    for args in (("TYPE",), ("ID",), ("foo",), ("TYPE", "normal", "ID", "1"), ("type", "normal", "x")):
        assert raw.call("CLIENT", "LIST", *args) == Error(SYNTAX), args


def test_client_list_redis_py(r):
    r.client_setname("listed")
    clients = r.client_list()
    mine = [c for c in clients if c["name"] == "listed"]
    assert len(mine) == 1
    assert mine[0]["cmd"] == "client|list"
    assert r.client_info()["name"] == "listed"


def test_flags_of_another_client(raw, other):
    them = other.call("CLIENT", "ID")
    other.call("CLIENT", "NO-EVICT", "on")
    assert info_of(raw, them)["flags"] == "e"
    other.call("CLIENT", "NO-EVICT", "off")
    assert info_of(raw, them)["flags"] == "N"


def test_idle_counts_seconds_since_last_command(raw, other):
    them = other.call("CLIENT", "ID")
    assert int(info_of(raw, them)["idle"]) <= 1
    assert int(info_of(raw, them)["age"]) <= 1


# -- KILL -------------------------------------------------------------------------------

def test_kill_old_form_by_address(raw, other):
    them = other.call("CLIENT", "ID")
    addr = info_of(raw, them)["addr"]
    assert raw.call("CLIENT", "KILL", addr) == Simple("OK")
    assert_closed(other)
    wait_gone(raw, them)
    assert raw.call("CLIENT", "KILL", addr) == Error("ERR No such client")
    assert raw.call("CLIENT", "KILL", "1.2.3.4:5") == Error("ERR No such client")
    assert raw.call("CLIENT", "KILL", "id") == Error("ERR No such client")


def test_kill_old_form_can_kill_itself(raw):
    addr = "%s:%d" % raw.sock.getsockname()
    assert raw.call("CLIENT", "KILL", addr) == Simple("OK")
    assert_closed(raw)


def test_kill_by_id(raw, other):
    them = other.call("CLIENT", "ID")
    assert raw.call("CLIENT", "KILL", "ID", str(them)) == 1
    assert_closed(other)
    wait_gone(raw, them)
    assert raw.call("CLIENT", "KILL", "ID", str(them)) == 0


def test_kill_skips_itself_by_default(raw):
    me = raw.call("CLIENT", "ID")
    assert raw.call("CLIENT", "KILL", "ID", str(me)) == 0
    assert raw.call("CLIENT", "KILL", "ID", str(me), "SKIPME", "yes") == 0
    assert raw.call("PING") == Simple("PONG")


def test_kill_itself_with_skipme_no(raw):
    me = raw.call("CLIENT", "ID")
    raw.send_raw(b"CLIENT KILL ID %d SKIPME no\r\nPING\r\n" % me)
    assert raw.read_reply() == 1   # the reply is sent, then the connection closes
    assert_closed(raw)


def test_kill_filters_must_all_match(raw, other):
    them = other.call("CLIENT", "ID")
    info = info_of(raw, them)
    assert raw.call("CLIENT", "KILL", "ID", str(them), "TYPE", "pubsub") == 0
    assert raw.call("CLIENT", "KILL", "ID", str(them), "ADDR", "1.2.3.4:5") == 0
    assert raw.call("CLIENT", "KILL", "ID", str(them), "LADDR", "1.2.3.4:5") == 0
    assert raw.call("CLIENT", "KILL", "ID", str(them), "TYPE", "replica") == 0
    assert raw.call("CLIENT", "KILL", "ID", str(them), "TYPE", "normal", "USER", "default",
                    "ADDR", info["addr"], "LADDR", info["laddr"], "SKIPME", "yes") == 1
    assert_closed(other)


def test_kill_by_address_new_form(raw, other):
    them = other.call("CLIENT", "ID")
    addr = info_of(raw, them)["addr"]
    assert raw.call("CLIENT", "KILL", "ADDR", addr) == 1
    assert_closed(other)
    wait_gone(raw, them)


def test_kill_errors(raw):
    for bad in ("abc", "0", "-1", "1.5"):
        assert raw.call("CLIENT", "KILL", "ID", bad) == Error("ERR client-id should be greater than 0")
    assert raw.call("CLIENT", "KILL", "TYPE", "foo") == Error("ERR Unknown client type 'foo'")
    assert raw.call("CLIENT", "KILL", "USER", "nobody") == Error("ERR No such user 'nobody'")
    assert raw.call("CLIENT", "KILL", "SKIPME", "maybe") == Error(SYNTAX)
    assert raw.call("CLIENT", "KILL", "MAXAGE", "10") == Error(SYNTAX)
    assert raw.call("CLIENT", "KILL", "ID", "5", "SKIPME") == Error(SYNTAX)
    assert raw.call("CLIENT", "KILL") == Error("ERR wrong number of arguments for 'client|kill' command")
    assert raw.call("PING") == Simple("PONG")


def test_kill_redis_py(r, server):
    victim = RawClient(port=server.port)
    try:
        victim_id = victim.call("CLIENT", "ID")
        assert r.client_kill_filter(_id=victim_id) == 1
        assert_closed(victim)
    finally:
        victim.close()


# -- REPLY ------------------------------------------------------------------------------

def test_reply_on(raw):
    assert raw.call("CLIENT", "REPLY", "ON") == Simple("OK")
    assert raw.call("CLIENT", "REPLY", "maybe") == Error(SYNTAX)


def test_reply_off_then_on(raw):
    raw.send_raw(b"CLIENT REPLY OFF\r\nPING a\r\nSET k v\r\nNOSUCH\r\nCLIENT REPLY ON\r\nPING b\r\n")
    assert raw.read_reply() == Simple("OK")    # only CLIENT REPLY ON answers
    assert raw.read_reply() == b"b"
    assert raw.call("GET", "k") == b"v"        # the silenced commands did run


def test_reply_skip(raw):
    raw.send_raw(b"CLIENT REPLY SKIP\r\nPING 1\r\nPING 2\r\n")
    assert raw.read_reply() == b"2"


def test_reply_skip_errors_too(raw):
    raw.send_raw(b"CLIENT REPLY SKIP\r\nCLIENT REPLY BAD\r\nPING 3\r\n")
    assert raw.read_reply() == b"3"


def test_reply_skip_twice(raw):
    raw.send_raw(b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING 1\r\nPING 2\r\n")
    assert raw.read_reply() == b"2"


def test_reply_on_right_after_skip(raw):
    raw.send_raw(b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING 3\r\n")
    assert raw.read_reply() == Simple("OK")
    assert raw.read_reply() == b"3"


def test_reply_skip_while_off_stays_off(raw):
    raw.send_raw(b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING 1\r\nPING 2\r\nCLIENT REPLY ON\r\n")
    assert raw.read_reply() == Simple("OK")


# -- NO-EVICT / tracking / HELP -----------------------------------------------------------

def test_no_evict(raw):
    assert raw.call("CLIENT", "NO-EVICT", "on") == Simple("OK")
    assert " flags=e " in text_of(raw.call("CLIENT", "INFO"))
    assert raw.call("CLIENT", "NO-EVICT", "OFF") == Simple("OK")
    assert " flags=N " in text_of(raw.call("CLIENT", "INFO"))
    assert raw.call("CLIENT", "NO-EVICT", "maybe") == Error(SYNTAX)


def test_getredir_without_tracking(raw):
    assert raw.call("CLIENT", "GETREDIR") == -1


def test_trackinginfo_without_tracking(raw, protocol):
    reply = raw.call("CLIENT", "TRACKINGINFO")
    if protocol == 3:
        assert reply == RespMap(((b"flags", RespSet((b"off",))), (b"redirect", -1), (b"prefixes", [])))
    else:
        assert reply == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]


def test_caching_needs_tracking(raw):
    error = Error("ERR CLIENT CACHING can be called only when the client is in tracking mode "
                  "with OPTIN or OPTOUT mode enabled")
    assert raw.call("CLIENT", "CACHING", "yes") == error
    assert raw.call("CLIENT", "CACHING", "foo") == error


def test_help(raw):
    lines = raw.call("CLIENT", "HELP")
    assert all(isinstance(line, Simple) for line in lines)
    texts = [line.text for line in lines]
    assert texts[0] == "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert texts[-2:] == ["HELP", "    Prints this help."]
    assert "KILL <option> <value> [<option> <value> [...]]" in texts
    assert "      Skip killing current connection (default: yes)." in texts
    assert len(texts) == 48


def test_unknown_subcommand_and_arity(raw):
    assert raw.call("CLIENT", "FOO") == Error("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
    assert raw.call("CLIENT") == Error("ERR wrong number of arguments for 'client' command")
    assert raw.call("CLIENT", "HELP", "x") == Error("ERR wrong number of arguments for 'client|help' command")


# -- SETINFO (Redis 7.2; Ferrous accepts it because redis-py sends it) ----------------------

@pytest.mark.ferrous_only
def test_setinfo(raw):
    assert raw.call("CLIENT", "SETINFO", "lib-name", "redis-py") == Simple("OK")
    assert raw.call("CLIENT", "SETINFO", "LIB-VER", "8.0.0") == Simple("OK")
    assert raw.call("CLIENT", "SETINFO", "lib-name", "") == Simple("OK")
    # 7.0's CLIENT LIST keeps its field set.
    assert list(dict(parse_line(text_of(raw.call("CLIENT", "INFO")).rstrip("\n")))) == FIELDS


@pytest.mark.ferrous_only
def test_setinfo_errors(raw):
    assert raw.call("CLIENT", "SETINFO", "foo", "x") == Error("ERR Unrecognized option 'foo'")
    assert raw.call("CLIENT", "SETINFO", "lib-name", "a b") == Error(
        "ERR lib-name cannot contain spaces, newlines or special characters.")
    assert raw.call("CLIENT", "SETINFO", "lib-ver", "1\n2") == Error(
        "ERR lib-ver cannot contain spaces, newlines or special characters.")
    assert raw.call("CLIENT", "SETINFO", "lib-name") == Error(
        "ERR wrong number of arguments for 'client|setinfo' command")
