"""ACL against Ferrous and real Redis 7.0: the SETUSER grammar, user descriptions,
GETUSER, DRYRUN, NOPERM errors, the ACL LOG, AUTH as other users, disconnections."""
from __future__ import annotations

import hashlib
import time

import pytest
import redis
from resp_client import Error, RawClient, RespMap, RespSet, Simple

DEADLINE = 5.0
SHA_P1 = hashlib.sha256(b"p1").hexdigest()
SHA_PASSWORD = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"  # "password"


@pytest.fixture
def acl(server, protocol):
    """A raw admin client; every user made through it is deleted afterwards."""
    admin = RawClient(port=server.port)
    if protocol == 3:
        admin.call("HELLO", "3")
    admin.call("ACL", "LOG", "RESET")
    admin.call("FLUSHALL")
    clients = []

    def connect(user=None, password=None):
        client = RawClient(port=server.port)
        if protocol == 3:
            client.call("HELLO", "3")
        if user is not None:
            assert client.call("AUTH", user, password) == Simple("OK")
        clients.append(client)
        return client

    admin.connect = connect
    yield admin
    for client in clients:
        client.close()
    for name in admin.call("ACL", "USERS"):
        if name != b"default":
            admin.call("ACL", "DELUSER", name)
    admin.call("ACL", "LOG", "RESET")
    admin.close()


def acl_line(acl, name: str) -> str:
    for line in acl.call("ACL", "LIST"):
        if line.startswith(f"user {name} ".encode()):
            return line.decode()
    raise AssertionError(f"user {name} not listed")


def rules_after(acl, *rules) -> str:
    assert acl.call("ACL", "SETUSER", "u", "reset", *rules) == Simple("OK")
    return acl_line(acl, "u")[len("user u "):]


def wait_for(condition):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def closed(client) -> bool:
    try:
        client.call("PING")
    except (ConnectionError, OSError):
        return True
    return False


# -- users and their descriptions ---------------------------------------------------
def test_default_user_and_new_user(acl):
    assert acl_line(acl, "default") == "user default on nopass ~* &* +@all"
    assert acl.call("ACL", "SETUSER", "u") == Simple("OK")
    assert acl_line(acl, "u") == "user u off resetchannels -@all"
    assert acl.call("ACL", "WHOAMI") == b"default"


def test_full_rule_set_is_described_like_redis(acl):
    acl.call("ACL", "SETUSER", "u", "on", ">p1", f"#{SHA_PASSWORD}", "~a*", "%R~r*", "%W~w*",
             "&ch*", "+@hash", "-hset", "(~x* +set)")
    assert acl_line(acl, "u") == (
        f"user u on #{SHA_P1} #{SHA_PASSWORD} ~a* %R~r* %W~w* resetchannels &ch* "
        "-@all +@hash -hset (~x* resetchannels -@all +set)")


@pytest.mark.parametrize("rules, described", [
    (["+get", "+@hash"], "sanitize-payload resetchannels -@all +@hash +get"),
    (["+@all", "-get", "+get"], "sanitize-payload resetchannels +@all"),
    (["+@all", "-@hash", "+hset"], "sanitize-payload resetchannels +@all -@hash +hset"),
    (["+@all", "-@admin"], "sanitize-payload resetchannels +@all -@admin"),
    (["+@all", "-client|kill"], "sanitize-payload resetchannels +@all -client|kill"),
    (["-@all", "+client|kill", "+client"], "sanitize-payload resetchannels -@all +client"),
    (["+client", "+@hash", "-client|kill"], "sanitize-payload resetchannels -@all +@hash +client -client|kill"),
    (["+get|X", "+get|y", "+get"], "sanitize-payload resetchannels -@all +get"),
    (["+select|0", "-select"], "sanitize-payload resetchannels -@all"),
    (["+select|0"], "sanitize-payload resetchannels -@all +select|0"),
    (["+@all", "-config", "+config|get"], "sanitize-payload resetchannels +@all -config +config|get"),
    (["%R~x", "%W~x"], "sanitize-payload ~x resetchannels -@all"),
    (["%r~x"], "sanitize-payload %R~x resetchannels -@all"),
    (["%R"], "sanitize-payload %R~ resetchannels -@all"),
    (["%R~a", "%RW~*"], "sanitize-payload %R~a ~* resetchannels -@all"),
    (["~a", "~*"], "sanitize-payload ~* resetchannels -@all"),
    (["~*", "resetkeys", "~b"], "sanitize-payload ~b resetchannels -@all"),
    (["&a", "&*"], "sanitize-payload &* -@all"),
    (["allchannels", "resetchannels", "&x", "&x"], "sanitize-payload resetchannels &x -@all"),
    (["nopass", ">x"], "sanitize-payload #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 "
                       "resetchannels -@all"),
    (["on", f"#{SHA_PASSWORD}", "nopass"], "on nopass sanitize-payload resetchannels -@all"),
    (["skip-sanitize-payload", "ON"], "on skip-sanitize-payload resetchannels -@all"),
    (["(+get ~x)", "clearselectors", "(+set)", "(+set)"],
     "sanitize-payload resetchannels -@all (resetchannels -@all +set) (resetchannels -@all +set)"),
    (["(~a", "allkeys)"], "sanitize-payload resetchannels -@all (~* resetchannels -@all)"),
    (["allkeys", "allchannels", "allcommands", "nocommands"], "sanitize-payload ~* &* -@all"),
    (["", "+@slow", "-@slow", "+@fast"], "sanitize-payload resetchannels -@all +@fast"),
])
def test_rules_described(acl, rules, described):
    expected = described if described.startswith("on ") else "off " + described
    assert rules_after(acl, *rules) == expected


def test_passwords_add_remove(acl):
    assert rules_after(acl, ">a", ">b", ">a").split()[2:4] == [
        "#" + hashlib.sha256(b"a").hexdigest(), "#" + hashlib.sha256(b"b").hexdigest()]
    acl.call("ACL", "SETUSER", "u", "<a", "!" + hashlib.sha256(b"b").hexdigest())
    assert acl_line(acl, "u") == "user u off sanitize-payload resetchannels -@all"


@pytest.mark.parametrize("rule, reason", [
    ("foo", "Syntax error"),
    ("<nope", "The password you are trying to remove from the user does not exist"),
    ("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    ("!abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    ("%X~a", "Syntax error"),
    ("%RR~x", "Syntax error"),
    ("~a b", "Syntax error"),
    ("&a b", "Syntax error"),
    ("+nosuch", "Unknown command or category name in ACL"),
    ("-nosuch", "Unknown command or category name in ACL"),
    ("+@nosuch", "Unknown command or category name in ACL"),
    ("-get|x", "Unknown command or category name in ACL"),
    ("+config|", "Syntax error"),
    ("+config|nosuch", "Unknown command or category name in ACL"),
    ("+client|kill|x", "Allowing first-arg of a subcommand is not supported"),
    ("(foo)", "Syntax error"),
])
def test_setuser_rule_errors(acl, rule, reason):
    assert acl.call("ACL", "SETUSER", "u", rule) == Error(
        f"ERR Error in ACL SETUSER modifier '{rule}': {reason}")


def test_setuser_errors_after_all_patterns(acl):
    assert acl.call("ACL", "SETUSER", "u", "allkeys", "%R~b") == Error(
        "ERR Error in ACL SETUSER modifier '%R~b': Adding a pattern after the * pattern (or the "
        "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start "
        "with an empty list of patterns")
    assert acl.call("ACL", "SETUSER", "u", "&*", "&x") == Error(
        "ERR Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the "
        "'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to "
        "start with an empty list of channels")
    assert acl.call("ACL", "SETUSER", "u", "(~a") == Error(
        "ERR Unmatched parenthesis in acl selector starting at '(~a'.")
    assert acl.call("ACL", "SETUSER", "a b") == Error("ERR Usernames can't contain spaces or null characters")


def test_setuser_is_all_or_nothing(acl):
    acl.call("ACL", "SETUSER", "u", "~x")
    assert acl.call("ACL", "SETUSER", "u", "on", "~y", "+nosuch") == Error(
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL")
    assert acl_line(acl, "u") == "user u off ~x resetchannels -@all"
    assert acl.call("ACL", "SETUSER", "v", "+nosuch") != Simple("OK")
    assert b"v" not in acl.call("ACL", "USERS")


def test_getuser_reply_shape(acl, protocol):
    acl.call("ACL", "SETUSER", "u", "on", ">p1", "~a*", "%R~r*", "&ch*", "+@hash", "-hset", "(~x* +set)")
    reply = acl.call("ACL", "GETUSER", "u")
    fields = [(b"flags", [b"on"]), (b"passwords", [SHA_P1.encode()]),
              (b"commands", b"-@all +@hash -hset"), (b"keys", b"~a* %R~r*"), (b"channels", b"&ch*")]
    selector = [(b"commands", b"-@all +set"), (b"keys", b"~x*"), (b"channels", b"")]
    if protocol == 3:
        fields[0] = (b"flags", RespSet((b"on",)))
        expected = RespMap(tuple(fields) + ((b"selectors", [RespMap(tuple(selector))]),))
    else:
        expected = [x for pair in fields for x in pair] + [b"selectors", [[x for p in selector for x in p]]]
    assert reply == expected
    assert acl.call("ACL", "GETUSER", "nosuch") is None


def test_getuser_default(acl, protocol):
    reply = acl.call("ACL", "GETUSER", "default")
    items = dict(reply.items) if protocol == 3 else dict(zip(reply[::2], reply[1::2]))
    flags = items[b"flags"].items if protocol == 3 else tuple(items[b"flags"])
    assert flags == (b"on", b"nopass")
    assert (items[b"commands"], items[b"keys"], items[b"channels"], items[b"selectors"]) == (
        b"+@all", b"~*", b"&*", [])


def test_users_deluser(acl):
    for name in ("b", "a", "c"):
        acl.call("ACL", "SETUSER", name)
    assert acl.call("ACL", "USERS") == [b"a", b"b", b"c", b"default"]
    assert acl.call("ACL", "DELUSER", "nouser", "a", "default") == Error(
        "ERR The 'default' user cannot be removed")
    assert acl.call("ACL", "DELUSER", "nouser", "a", "b") == 2
    assert acl.call("ACL", "USERS") == [b"c", b"default"]


def test_cat(acl):
    assert acl.call("ACL", "CAT") == [c.encode() for c in (
        "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream "
        "pubsub admin fast slow blocking dangerous connection transaction scripting").split()]
    string = set(acl.call("ACL", "CAT", "string"))
    assert {b"get", b"set", b"append"} <= string and b"hget" not in string
    assert {b"client|kill", b"ping"} <= set(acl.call("ACL", "CAT", "CONNECTION"))
    assert acl.call("ACL", "CAT", "nosuch") == Error("ERR Unknown category 'nosuch'")
    assert acl.call("ACL", "CAT", "a", "b") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.")


def test_genpass(acl):
    first, second = acl.call("ACL", "GENPASS"), acl.call("ACL", "GENPASS")
    assert len(first) == 64 and first != second and all(c in b"0123456789abcdef" for c in first)
    assert len(acl.call("ACL", "GENPASS", "5")) == 2
    assert len(acl.call("ACL", "GENPASS", "4096")) == 1024
    for bad in ("0", "4097", "-1"):
        assert acl.call("ACL", "GENPASS", bad) == Error(
            "ERR ACL GENPASS argument must be the number of bits for the output password, "
            "a positive number up to 4096")
    assert acl.call("ACL", "GENPASS", "abc") == Error("ERR value is not an integer or out of range")


def test_load_save_without_aclfile(acl):
    text = ("ERR This Redis instance is not configured to use an ACL file. You may want to specify "
            "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
            "Redis configuration file set) in order to store users in the Redis configuration.")
    assert acl.call("ACL", "LOAD") == Error(text)
    assert acl.call("ACL", "SAVE") == Error(text)


def test_help(acl):
    lines = acl.call("ACL", "HELP")
    assert lines[0] == Simple("ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert Simple("DRYRUN <username> <command> [<arg> ...]") in lines and lines[-1] == Simple("    Prints this help.")


# -- DRYRUN and the permission checks ----------------------------------------------
@pytest.fixture
def limited(acl):
    acl.call("ACL", "SETUSER", "u", "on", ">pw", "~a*", "%R~r*", "%W~w*", "&ch*", "+get", "+@hash",
             "-hset", "+config|get", "+select|0", "+publish", "(~x* +set)")
    acl.call("ACL", "SETUSER", "rw", "on", ">pw", "%R~r", "%W~w", "~rw", "+@all")
    acl.call("ACL", "SETUSER", "ch", "on", ">pw", "+@all", "~*", "&c*", "&p?")
    return acl


@pytest.mark.parametrize("user, command, reply", [
    ("u", "get a1", "OK"),
    ("u", "get r1", "OK"),
    ("u", "set a1 b", "This user has no permissions to access the 'a1' key"),
    ("u", "set x1 b", "OK"),
    ("u", "get w1", "This user has no permissions to access the 'w1' key"),
    ("u", "hget a f", "OK"),
    ("u", "hset a f v", "This user has no permissions to run the 'hset' command"),
    ("u", "incr a", "This user has no permissions to run the 'incr' command"),
    ("u", "publish ch1 x", "OK"),
    ("u", "publish d x", "This user has no permissions to access the 'd' channel"),
    ("u", "config get x", "OK"),
    ("u", "config set x y", "This user has no permissions to run the 'config|set' command"),
    ("u", "select 0", "OK"),
    ("u", "select 1", "This user has no permissions to run the 'select' command"),
    ("rw", "set w x", "OK"),
    ("rw", "set w x GET", "This user has no permissions to access the 'w' key"),
    ("rw", "get r", "OK"),
    ("rw", "get w", "This user has no permissions to access the 'w' key"),
    ("rw", "strlen w", "OK"),       # STRLEN's key spec has no ACCESS flag: a write pattern will do
    ("rw", "getrange w 0 1", "This user has no permissions to access the 'w' key"),
    ("rw", "exists w", "OK"),
    ("rw", "lmove r w left right", "This user has no permissions to access the 'r' key"),
    ("rw", "lmove rw w left right", "OK"),
    ("rw", "copy r w", "OK"),
    ("rw", "mset w 1 r 2", "This user has no permissions to access the 'r' key"),
    ("rw", "append rw x", "OK"),
    ("rw", "zunionstore w 2 r rw", "OK"),
    ("rw", "zunionstore w 2 r x", "This user has no permissions to access the 'x' key"),
    ("rw", "sort r store w", "OK"),
    ("rw", "xread streams r x 0 0", "This user has no permissions to access the 'x' key"),
    ("rw", "bitfield r get u8 0", "OK"),
    ("rw", "bitfield r set u8 0 1", "This user has no permissions to access the 'r' key"),
    ("ch", "subscribe c1 d1", "This user has no permissions to access the 'd1' channel"),
    ("ch", "subscribe c1 c2", "OK"),
    ("ch", "psubscribe c*", "OK"),  # a pattern subscription must equal an allowed pattern
    ("ch", "psubscribe c?", "This user has no permissions to access the 'c?' channel"),
    ("ch", "psubscribe p?", "OK"),
    ("ch", "publish pz m", "OK"),
    ("ch", "unsubscribe zz", "OK"),
])
def test_dryrun(limited, user, command, reply):
    got = limited.call("ACL", "DRYRUN", user, *command.split())
    assert got == (Simple("OK") if reply == "OK" else reply.encode())


def test_dryrun_errors(limited):
    assert limited.call("ACL", "DRYRUN", "nouser", "get", "a") == Error("ERR User 'nouser' not found")
    assert limited.call("ACL", "DRYRUN", "u", "nosuch") == Error("ERR Command 'nosuch' not found")
    assert limited.call("ACL", "DRYRUN", "u", "config", "nosuch") == Error("ERR Command 'config' not found")
    assert limited.call("ACL", "DRYRUN", "u", "get") == Error("ERR wrong number of arguments for 'get' command")


def test_noperm_errors(limited):
    client = limited.connect("u", "pw")
    assert client.call("ACL", "WHOAMI") == Error(
        "NOPERM this user has no permissions to run the 'acl|whoami' command")
    assert client.call("GET", "zz") == Error(
        "NOPERM this user has no permissions to access one of the keys used as arguments")
    assert client.call("INCR", "a") == Error("NOPERM this user has no permissions to run the 'incr' command")
    assert client.call("PUBLISH", "d", "x") == Error(
        "NOPERM this user has no permissions to access one of the channels used as arguments")
    assert client.call("SET", "x1", "v") == Simple("OK")
    assert client.call("GET", "a1") is None
    assert client.call("PING") == Error("NOPERM this user has no permissions to run the 'ping' command")
    assert client.call("AUTH", "u", "pw") == Simple("OK")   # no_auth commands are always allowed


def test_noperm_inside_multi_aborts_exec(limited):
    limited.call("ACL", "SETUSER", "u", "+multi", "+exec")
    client = limited.connect("u", "pw")
    assert client.call("MULTI") == Simple("OK")
    assert client.call("INCR", "a") == Error("NOPERM this user has no permissions to run the 'incr' command")
    assert client.call("EXEC") == Error("EXECABORT Transaction discarded because of previous errors.")


def test_exec_rechecks_queued_commands(limited, protocol):
    limited.call("ACL", "SETUSER", "u", "+multi", "+exec", "+incr")
    client = limited.connect("u", "pw")
    client.call("MULTI")
    assert client.call("INCR", "a1") == Simple("QUEUED")
    assert client.call("GET", "a1") == Simple("QUEUED")
    limited.call("ACL", "SETUSER", "u", "-incr")
    assert client.call("EXEC") == [Error(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
        "call. This command is no longer allowed for the following reason: no permission to "
        "execute the command or subcommand"), None]
    entries = _entries(limited, protocol)
    assert [(e[b"reason"], e[b"context"], e[b"object"]) for e in entries] == [(b"command", b"multi", b"incr")]


def test_permissions_change_for_connected_clients(limited):
    client = limited.connect("u", "pw")
    assert client.call("INCR", "a") != 1
    limited.call("ACL", "SETUSER", "u", "+incr")
    assert client.call("INCR", "a1") == 1
    limited.call("ACL", "SETUSER", "u", "resetkeys")
    assert client.call("INCR", "a1") == Error(
        "NOPERM this user has no permissions to access one of the keys used as arguments")


# -- AUTH as other users ---------------------------------------------------------------
def test_auth_users(acl):
    acl.call("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*")
    acl.call("ACL", "SETUSER", "off", "off", ">pw", "+@all", "~*")
    acl.call("ACL", "SETUSER", "free", "on", "nopass", "+acl|whoami")
    client = acl.connect()
    wrong = Error("WRONGPASS invalid username-password pair or user is disabled.")
    assert client.call("AUTH", "u", "bad") == wrong
    assert client.call("AUTH", "nouser", "pw") == wrong
    assert client.call("AUTH", "off", "pw") == wrong
    assert client.call("ACL", "WHOAMI") == b"default"
    assert client.call("AUTH", "free", "anything") == Simple("OK")
    assert client.call("ACL", "WHOAMI") == b"free"
    assert client.call("AUTH", "u", "pw") == Simple("OK")
    assert client.call("ACL", "WHOAMI") == b"u"
    assert client.call("AUTH", "a", "b", "c") == Error("ERR syntax error")
    assert client.call("AUTH", "pw") == Error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    assert client.call("RESET") == Simple("RESET")
    assert client.call("ACL", "WHOAMI") == b"default"


def test_hello_auth(acl):
    acl.call("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*")
    client = acl.connect()
    assert client.call("HELLO", "2", "AUTH", "u", "bad") == Error(
        "WRONGPASS invalid username-password pair or user is disabled.")
    reply = client.call("HELLO", "2", "AUTH", "u", "pw")
    assert reply[:2] == [b"server", b"redis"]
    assert client.call("ACL", "WHOAMI") == b"u"


def test_redis_py_client_as_user(acl, server, protocol):
    acl.call("ACL", "SETUSER", "u", "on", ">pw", "+@all", "-flushall", "~k*")
    client = redis.Redis(port=server.port, protocol=protocol, username="u", password="pw")
    try:
        assert client.acl_whoami() in (b"u", "u")
        assert client.set("k1", "v") is True
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.get("other")
    finally:
        client.close()


# -- ACL LOG ----------------------------------------------------------------------------
def _entries(acl, protocol, *args):
    reply = acl.call("ACL", "LOG", *args)
    if protocol == 3:
        return [dict(entry.items) for entry in reply]
    return [dict(zip(entry[::2], entry[1::2])) for entry in reply]


def test_log_entries(limited, protocol):
    client = limited.connect("u", "pw")
    client.call("GET", "zz")
    client.call("INCR", "a")
    client.call("PUBLISH", "d", "x")
    client.call("AUTH", "u", "bad")
    entries = _entries(limited, protocol)
    assert [(e[b"reason"], e[b"context"], e[b"object"], e[b"username"], e[b"count"]) for e in entries] == [
        (b"auth", b"toplevel", b"AUTH", b"u", 1),
        (b"channel", b"toplevel", b"d", b"u", 1),
        (b"command", b"toplevel", b"incr", b"u", 1),
        (b"key", b"toplevel", b"zz", b"u", 1),
    ]
    assert list(entries[0]) == [b"count", b"reason", b"context", b"object", b"username",
                                b"age-seconds", b"client-info"]
    age = entries[0][b"age-seconds"]
    assert 0 <= (age if protocol == 3 else float(age)) < 5
    info = entries[1][b"client-info"].decode()
    assert info.startswith("id=") and " cmd=publish user=u " in info
    assert len(_entries(limited, protocol, "2")) == 2
    assert _entries(limited, protocol, "-1") == []
    assert limited.call("ACL", "LOG", "x") == Error("ERR value is not an integer or out of range")
    assert limited.call("ACL", "LOG", "RESET") == Simple("OK")
    assert limited.call("ACL", "LOG") == []


def test_log_groups_repeated_denials(limited, protocol):
    client = limited.connect("u", "pw")
    for _ in range(3):
        client.call("INCR", "a")
    client.call("GET", "zz")
    entries = _entries(limited, protocol)
    assert [(e[b"object"], e[b"count"]) for e in entries] == [(b"zz", 1), (b"incr", 3)]
    client.call("INCR", "a")    # an updated entry moves back to the head
    entries = _entries(limited, protocol)
    assert [(e[b"object"], e[b"count"]) for e in entries] == [(b"incr", 4), (b"zz", 1)]


def test_log_context_multi_and_hello(limited, protocol):
    limited.call("ACL", "SETUSER", "u", "+multi", "+discard")
    client = limited.connect("u", "pw")
    client.call("MULTI")
    client.call("GET", "zz")
    client.call("DISCARD")
    client.call("hello", "2", "AUTH", "nouser", "x")
    entries = _entries(limited, protocol)
    assert [(e[b"reason"], e[b"context"], e[b"object"], e[b"username"]) for e in entries] == [
        (b"auth", b"toplevel", b"hello", b"nouser"),
        (b"key", b"multi", b"zz", b"u"),
    ]


def test_scripts_run_with_the_callers_permissions(acl, protocol):
    acl.call("ACL", "SETUSER", "lu", "on", ">pw", "~k*", "&c*", "+eval", "+get", "+publish")
    client = acl.connect("lu", "pw")
    reason = "ERR The user executing the script %s script: %s, on @user_script:1."
    assert client.call("EVAL", "return redis.call('set','k1','1')", "0") == Error(
        reason % ("can't run this command or subcommand", "a26f54bc7138f72ca56fdbbb74284de8742fc346"))
    assert client.call("EVAL", "return redis.call('get','x')", "0") == Error(
        reason % ("can't access at least one of the keys mentioned in the command arguments",
                  "db94c2918043c41a85e5c7f5b637c7a9c9c7119c"))
    assert client.call("EVAL", "return redis.call('publish','d','m')", "0") == Error(
        reason % ("can't publish to the channel mentioned in the command",
                  "9adc094c361612367d2f8d8385d5290808726faa"))
    assert client.call("EVAL", "return redis.call('get',KEYS[1])", "1", "x") == Error(
        "NOPERM this user has no permissions to access one of the keys used as arguments")
    assert client.call("EVAL", "return redis.call('get','k1')", "0") is None
    entries = _entries(acl, protocol)
    assert [(e[b"reason"], e[b"context"], e[b"object"], e[b"username"]) for e in entries] == [
        (b"key", b"toplevel", b"x", b"lu"), (b"channel", b"lua", b"d", b"lu"),
        (b"key", b"lua", b"x", b"lu"), (b"command", b"lua", b"set", b"lu")]
    assert b" cmd=eval user=lu " in entries[1][b"client-info"]


# -- disconnections -------------------------------------------------------------------
def test_deluser_disconnects_its_clients(acl):
    acl.call("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*")
    client, other = acl.connect("u", "pw"), acl.connect()
    assert acl.call("ACL", "DELUSER", "u") == 1
    wait_for(lambda: closed(client))
    assert other.call("PING") in (Simple("PONG"), b"PONG")


def test_subscribers_lose_revoked_channels(acl, protocol):
    acl.call("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*", "&news*", "&sport")
    keeps, loses = acl.connect("u", "pw"), acl.connect("u", "pw")
    keeps.call("SUBSCRIBE", "sport")
    loses.call("PSUBSCRIBE", "news*")
    acl.call("ACL", "SETUSER", "u", "resetchannels", "&sport", "&news1")
    wait_for(lambda: closed(loses))
    assert acl.call("PUBLISH", "sport", "goal") == 1
    message = keeps.read_reply()
    assert list(getattr(message, "items", message)) == [b"message", b"sport", b"goal"]


def test_setuser_arguments_are_redacted_in_slowlog(acl):
    reply = acl.call("CONFIG", "GET", "slowlog-log-slower-than")
    old = dict(reply.items)[b"slowlog-log-slower-than"] if isinstance(reply, RespMap) else reply[1]
    acl.call("SLOWLOG", "RESET")
    acl.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
    try:
        acl.call("ACL", "SETUSER", "u", ">secret", "on")
        entries = acl.call("SLOWLOG", "GET", "10")
    finally:
        acl.call("CONFIG", "SET", "slowlog-log-slower-than", old)
    logged = [entry[3] for entry in entries if entry[3][:2] == [b"ACL", b"SETUSER"]]
    assert logged == [[b"ACL", b"SETUSER", b"(redacted)", b"(redacted)", b"(redacted)"]]
