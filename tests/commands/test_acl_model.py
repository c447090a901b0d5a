"""Random ACL SETUSER rule lists applied to Ferrous and to real Redis 7.0 side by side:
the SETUSER replies, the user's flags, passwords, key and channel patterns and
selectors must be identical, and so must ACL DRYRUN for a fixed set of commands
(which checks the command rules by their effect: Redis prints single commands in
its hash-table order, random per process, so the rule text is not compared)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from resp_client import RawClient

RULES = st.sampled_from([
    "on", "off", "nopass", "resetpass", ">p1", ">p2", "<p1", "sanitize-payload",
    "skip-sanitize-payload", "~a*", "%R~r*", "%W~w*", "%RW~x", "allkeys", "resetkeys", "~*",
    "&c*", "&d", "allchannels", "resetchannels", "+@all", "-@all", "+@read", "-@write",
    "+@string", "-@dangerous", "+@hash", "+get", "-get", "+set", "+config|get", "-config",
    "+client", "-client|kill", "+select|0", "+@admin", "-@slow", "+@fast", "+@pubsub",
    "+@keyspace", "-@list", "+lmove", "(+get ~x*)", "(+@write %W~w* &c*)", "clearselectors",
    "reset", "+nosuch", "(~y", "z)",
])
DRYRUN = [
    "get a1", "get r1", "get w1", "get x1", "set w1 v", "set a1 v", "set a1 v get", "set x1 v",
    "hset a1 f v", "hget r1 f", "config get maxmemory", "config set maxmemory 0", "client id",
    "client kill id 1", "select 0", "select 1", "publish c1 m", "publish d m", "subscribe c1 d",
    "psubscribe c*", "incr a1", "lmove r1 w1 left right", "lmove a1 a2 left right", "flushall",
    "ping", "acl whoami", "del w1", "exists w1", "mget a1 r1", "keys *", "strlen w1",
    # key specs of every shape: ranges, keynum, keywords, variable flags, STORE options
    "zunionstore w1 2 r1 a1", "zinter 2 r1 w1", "xread streams r1 w1 0 0", "xread count 1 streams r1 0",
    "georadius r1 0 0 1 km store w1", "georadius r1 0 0 1 km storedist r1", "sort r1 store w1",
    "sort_ro r1", "bitfield r1 get u8 0", "bitfield r1 set u8 0 1", "bitfield_ro w1 get u8 0",
    "blmpop 0 2 r1 w1 left", "lmpop 1 r1 left", "getex r1", "getdel r1", "rename r1 w1",
    "copy r1 w1", "smove r1 w1 x", "pfcount r1", "pfmerge w1 r1", "sinterstore w1 r1", "sintercard 1 r1",
    "object encoding r1", "touch r1", "type r1", "dump r1", "restore w1 0 x", "expire w1 1",
    "ttl r1", "memory usage r1", "geoadd w1 0 0 a", "xadd w1 * f v", "zrangestore w1 r1 0 1",
    "evalsha abc 1 r1", "xreadgroup group g c streams r1 w1 0 0",
]


@pytest.fixture(scope="module")
def pair(real_redis):
    from servers import _get_server
    clients = [RawClient(port=_get_server("ferrous").port), RawClient(port=real_redis.port)]
    yield clients
    for client in clients:
        client.call("ACL", "DELUSER", "model")
        client.close()


def _user_state(client) -> list:
    reply = client.call("ACL", "GETUSER", "model")
    if reply is None:
        return [None]
    fields = dict(zip(reply[::2], reply[1::2]))
    selectors = [dict(zip(s[::2], s[1::2])) for s in fields[b"selectors"]]
    return [fields[b"flags"], fields[b"passwords"], fields[b"keys"], fields[b"channels"],
            [(s[b"keys"], s[b"channels"]) for s in selectors]]


def _dryrun(client) -> list:
    if client.call("ACL", "GETUSER", "model") is None:
        return []
    return [client.call("ACL", "DRYRUN", "model", *line.split()) for line in DRYRUN]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(st.lists(RULES, min_size=1, max_size=5), min_size=1, max_size=3))
def test_random_rules_match_redis(pair, batches):
    for client in pair:
        client.call("ACL", "DELUSER", "model")
    for rules in batches:
        replies = [client.call("ACL", "SETUSER", "model", *rules) for client in pair]
        assert replies[0] == replies[1], rules
    ferrous, redis = pair
    assert _user_state(ferrous) == _user_state(redis), batches
    assert _dryrun(ferrous) == _dryrun(redis), batches
    # Each side's own description recreates the same permissions (ACL LIST round trip).
    for client in pair:
        line = [x for x in client.call("ACL", "LIST") if x.startswith(b"user model ")]
        if line:
            before = _dryrun(client)
            client.call("ACL", "DELUSER", "model")
            assert client.call("ACL", "SETUSER", "model", *line[0].split()[2:]).text == "OK"
            assert _dryrun(client) == before
