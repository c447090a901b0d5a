"""CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO: client-side caching as Redis
7.0.15 does it (tracking.c, networking.c), against Ferrous and real Redis.

Most tests open several raw connections to the same server: a tracking client, a
writer, and (RESP2) a redirection target subscribed to __redis__:invalidate. That
no message arrived is checked by ordering: a PING sent afterwards must be answered
first, or a later, expected invalidation must be the next message.
"""
from __future__ import annotations

import time

import pytest
import redis
from redis.cache import CacheConfig

from tools.resp_client import Error, Push, RawClient, RespMap, RespSet, Simple

CHANNEL = b"__redis__:invalidate"


@pytest.fixture
def clients(server):
    """A factory of raw connections to the server, all closed at the end."""
    opened = []

    def connect(resp: int = 2) -> RawClient:
        client = RawClient(port=server.port, timeout=10)
        if resp == 3:
            client.call("HELLO", "3")
        opened.append(client)
        return client

    first = connect()
    first.call("FLUSHALL")
    first.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
    yield connect
    first.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
    for client in opened:
        client.close()


def redirect_target(connect) -> tuple:
    """A RESP2 connection subscribed to the invalidation channel, and its id."""
    target = connect()
    target_id = target.call("CLIENT", "ID")
    assert target.call("SUBSCRIBE", CHANNEL) == [b"subscribe", CHANNEL, 1]
    return target, target_id


def invalidate(*keys) -> Push:
    return Push((b"invalidate", list(keys)))


def message(keys) -> list:
    return [b"message", CHANNEL, keys]


def info_field(client: RawClient, name: str) -> int:
    text = client.call("INFO", "everything")
    text = text.text if hasattr(text, "text") else text
    for line in text.decode().splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"{name} missing from INFO")


# -- argument checks ------------------------------------------------------------------

def test_tracking_argument_errors(clients):
    c = clients()
    cases = [
        (("ON", "REDIRECT", "0"), "ERR The client ID you want redirect to does not exist"),
        (("ON", "REDIRECT", "abc"), "ERR value is not an integer or out of range"),
        (("FOO", "REDIRECT", "999999"), "ERR The client ID you want redirect to does not exist"),
        (("FOO",), "ERR syntax error"),
        (("ON", "PREFIX"), "ERR syntax error"),
        (("ON", "NOSUCHOPTION"), "ERR syntax error"),
        (("ON", "PREFIX", "a"), "ERR PREFIX option requires BCAST mode to be enabled"),
        (("ON", "OPTIN", "OPTOUT", "BCAST"), "ERR OPTIN and OPTOUT are not compatible with BCAST"),
        (("ON", "OPTIN", "OPTOUT"), "ERR You can't specify both OPTIN mode and OPTOUT mode"),
        (("ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"),
         "ERR Prefix 'ab' overlaps with another provided prefix 'a'. "
         "Prefixes for a single client must not overlap."),
    ]
    for args, text in cases:
        assert c.call("CLIENT", "TRACKING", *args) == Error(text), args
    assert c.call("CLIENT", "TRACKING") == Error("ERR wrong number of arguments for 'client|tracking' command")
    assert c.call("CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]


def test_tracking_redirect_only_once(clients):
    c, other = clients(), clients()
    other_id = other.call("CLIENT", "ID")
    reply = c.call("CLIENT", "TRACKING", "ON", "REDIRECT", other_id, "REDIRECT", other_id)
    assert reply == Error("ERR A client can only redirect to a single other client")


def test_tracking_mode_switch_errors(clients):
    c = clients()
    assert c.call("CLIENT", "TRACKING", "ON", "OPTIN") == Simple("OK")
    assert c.call("CLIENT", "TRACKING", "ON", "OPTOUT") == Error(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
        "and then re-enabling it with a different mode.")
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST") == Error(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
        "and then re-enabling it with a different mode.")
    assert c.call("CLIENT", "CACHING", "NO") == Error(
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    assert c.call("CLIENT", "CACHING", "maybe") == Error("ERR syntax error")
    assert c.call("CLIENT", "TRACKING", "OFF") == Simple("OK")
    assert c.call("CLIENT", "TRACKING", "ON", "OPTOUT") == Simple("OK")
    assert c.call("CLIENT", "CACHING", "YES") == Error(
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    assert c.call("CLIENT", "TRACKING", "OFF") == Simple("OK")
    assert c.call("CLIENT", "CACHING", "YES") == Error(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
        "OPTIN or OPTOUT mode enabled")


def test_prefix_overlaps(clients):
    c = clients()
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOO", "PREFIX", "BAR") == Simple("OK")
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FO") == Error(
        "ERR Prefix 'FO' overlaps with an existing prefix 'FOO'. "
        "Prefixes for a single client must not overlap.")
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "BARB") == Error(
        "ERR Prefix 'BARB' overlaps with an existing prefix 'BAR'. "
        "Prefixes for a single client must not overlap.")
    # Re-adding a prefix is an overlap too.
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOO").text.startswith("ERR Prefix 'FOO'")


def test_overlap_past_first_prefix_replies_error_then_ok(clients):
    """Redis's checkPrefixCollisionsOrReply returns the index of the overlapping
    prefix, which counts as success past the first one: it sends the error, enables
    tracking anyway and sends +OK too."""
    c = clients()
    c.send_raw(b"CLIENT TRACKING ON BCAST PREFIX a PREFIX b PREFIX bc\r\nPING\r\n")
    assert c.read_reply() == Error("ERR Prefix 'b' overlaps with another provided prefix 'bc'. "
                                   "Prefixes for a single client must not overlap.")
    assert c.read_reply() == Simple("OK")
    assert c.read_reply() == Simple("PONG")
    assert c.call("CLIENT", "TRACKINGINFO") == [
        b"flags", [b"on", b"bcast"], b"redirect", 0, b"prefixes", [b"a", b"b", b"bc"]]


# -- TRACKINGINFO, GETREDIR, CLIENT LIST, INFO -------------------------------------------

def test_trackinginfo_and_getredir(clients):
    c = clients(3)
    other = clients()
    other_id = other.call("CLIENT", "ID")
    assert c.call("CLIENT", "GETREDIR") == -1
    c.call("CLIENT", "TRACKING", "ON")
    assert c.call("CLIENT", "GETREDIR") == 0
    assert c.call("CLIENT", "TRACKINGINFO") == RespMap((
        (b"flags", RespSet((b"on",))), (b"redirect", 0), (b"prefixes", [])))
    c.call("CLIENT", "TRACKING", "ON", "REDIRECT", other_id, "NOLOOP")
    assert c.call("CLIENT", "GETREDIR") == other_id
    assert c.call("CLIENT", "TRACKINGINFO") == RespMap((
        (b"flags", RespSet((b"on", b"noloop"))), (b"redirect", other_id), (b"prefixes", [])))
    c.call("CLIENT", "TRACKING", "OFF")
    c.call("CLIENT", "TRACKING", "ON", "OPTIN")
    c.call("CLIENT", "CACHING", "YES")
    assert c.call("CLIENT", "TRACKINGINFO").items[0] == (b"flags", RespSet((b"on", b"optin", b"caching-yes")))
    c.call("CLIENT", "TRACKING", "OFF")
    c.call("CLIENT", "TRACKING", "ON", "OPTOUT")
    c.call("CLIENT", "CACHING", "NO")
    assert c.call("CLIENT", "TRACKINGINFO").items[0] == (b"flags", RespSet((b"on", b"optout", b"caching-no")))
    c.call("CLIENT", "TRACKING", "OFF")
    c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "foo", "PREFIX", "bar")
    assert c.call("CLIENT", "TRACKINGINFO") == RespMap((
        (b"flags", RespSet((b"on", b"bcast"))), (b"redirect", 0), (b"prefixes", [b"bar", b"foo"])))


def test_client_list_flags_and_redir(clients):
    c, other = clients(), clients()
    other_id = other.call("CLIENT", "ID")
    assert b" flags=N " in c.call("CLIENT", "INFO")
    assert b" redir=-1 " in c.call("CLIENT", "INFO")
    c.call("CLIENT", "TRACKING", "ON", "REDIRECT", other_id)
    line = c.call("CLIENT", "INFO")
    assert b" flags=t " in line and b" redir=%d " % other_id in line
    c.call("CLIENT", "TRACKING", "OFF")
    c.call("CLIENT", "TRACKING", "ON", "BCAST")
    line = c.call("CLIENT", "INFO")
    assert b" flags=tB " in line and b" redir=0 " in line


def test_info_tracking_fields(clients):
    reader, bcast, writer = clients(), clients(), clients()
    base_clients = info_field(writer, "tracking_clients")
    reader.call("CLIENT", "TRACKING", "ON")
    reader.call("MGET", "ik1", "ik2")
    bcast.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ip:", "PREFIX", "iq:")
    assert info_field(writer, "tracking_clients") == base_clients + 2
    assert info_field(writer, "tracking_total_keys") == 2
    assert info_field(writer, "tracking_total_items") == 2
    assert info_field(writer, "tracking_total_prefixes") == 2
    writer.call("SET", "ik1", "v")
    assert info_field(writer, "tracking_total_keys") == 1
    bcast.call("CLIENT", "TRACKING", "OFF")
    assert info_field(writer, "tracking_total_prefixes") == 0
    writer.call("FLUSHALL")
    assert info_field(writer, "tracking_total_keys") == 0
    assert info_field(writer, "tracking_total_items") == 0
    reader.close()      # a client that goes away stops counting
    deadline = time.monotonic() + 10
    while info_field(writer, "tracking_clients") != base_clients and time.monotonic() < deadline:
        pass
    assert info_field(writer, "tracking_clients") == base_clients


# -- default mode: invalidation messages ---------------------------------------------------

def test_resp3_invalidation_push(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON")
    writer.call("SET", "k1", "1")
    assert tracker.call("GET", "k1") == b"1"
    writer.call("SET", "k1", "2")
    writer.call("SET", "k1", "3")      # the entry is gone after the first change
    assert tracker.read_reply() == invalidate(b"k1")
    assert tracker.call("PING") == Simple("PONG")


def test_resp2_redirect_gets_pubsub_message(clients):
    target, target_id = redirect_target(clients)
    tracker, writer = clients(), clients()
    assert tracker.call("CLIENT", "TRACKING", "ON", "REDIRECT", target_id) == Simple("OK")
    tracker.call("MSET", "a", "1", "b", "1")
    tracker.call("GET", "a")
    writer.call("INCR", "b")          # not read: no message
    writer.call("INCR", "a")
    assert target.read_reply() == message([b"a"])


def test_resp2_without_redirect_gets_nothing(clients):
    tracker, writer = clients(), clients()
    tracker.call("CLIENT", "TRACKING", "ON")
    tracker.call("GET", "k")
    writer.call("SET", "k", "1")
    assert tracker.call("PING") == Simple("PONG")


def test_own_write_invalidation_follows_reply(clients):
    c = clients(3)
    c.call("CLIENT", "TRACKING", "ON")
    c.call("HSET", "h", "f", "1")
    c.call("HGET", "h", "f")
    assert c.call("HDEL", "h", "f") == 1
    assert c.read_reply() == invalidate(b"h")


def test_transaction_reply_comes_before_invalidation(clients):
    c = clients(3)
    c.call("CLIENT", "TRACKING", "ON")
    c.call("MSET", "a", "1", "b", "2")
    c.call("GET", "a")
    c.call("MULTI")
    c.call("INCR", "a")
    c.call("GET", "b")
    assert c.call("EXEC") == [2, b"2"]
    assert c.read_reply() == invalidate(b"a")


def test_rename_and_delete_invalidate(clients):
    target, target_id = redirect_target(clients)
    tracker, writer = clients(), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "REDIRECT", target_id)
    writer.call("SET", "src", "1")
    tracker.call("MGET", "src", "dst")
    writer.call("RENAME", "src", "dst")
    assert target.read_reply() == message([b"src"])
    assert target.read_reply() == message([b"dst"])


def test_expired_key_is_invalidated(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON")
    writer.call("SET", "volatile", "1", "PX", "30")
    assert tracker.call("GET", "volatile") == b"1"
    # Active expiry deletes it shortly: the push arrives without another command.
    assert tracker.read_reply() == invalidate(b"volatile")


def test_noloop_skips_own_changes(clients):
    target, target_id = redirect_target(clients)
    tracker, writer = clients(), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "REDIRECT", target_id, "NOLOOP")
    tracker.call("MGET", "other", "mine")
    tracker.call("SET", "mine", "1")     # changed by the tracker itself: nothing
    writer.call("SET", "other", "1")
    assert target.read_reply() == message([b"other"])


def test_script_reads_track_declared_keys(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON")
    tracker.call("EVAL", "redis.call('set', KEYS[1], 'x')", "2", "s1", "s2")   # no read: nothing
    writer.call("MSET", "s1", "1", "s2", "1")
    tracker.call("EVAL", "return redis.call('get', 'unrelated')", "2", "s1", "s2")
    writer.call("MSET", "s2", "2", "s1", "2")
    assert tracker.read_reply() == invalidate(b"s2")
    assert tracker.read_reply() == invalidate(b"s1")
    assert tracker.call("PING") == Simple("PONG")


# -- OPTIN / OPTOUT --------------------------------------------------------------------------

def test_optin_tracks_only_after_caching_yes(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "OPTIN")
    tracker.call("GET", "plain")
    assert tracker.call("CLIENT", "CACHING", "YES") == Simple("OK")
    tracker.call("GET", "cached")
    tracker.call("GET", "after")        # CACHING lasts for one command only
    writer.call("MSET", "plain", "1", "after", "1", "cached", "1")
    assert tracker.read_reply() == invalidate(b"cached")
    assert tracker.call("PING") == Simple("PONG")


def test_caching_survives_other_client_subcommands_and_multi(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "OPTIN")
    tracker.call("CLIENT", "CACHING", "YES")
    tracker.call("CLIENT", "ID")        # another CLIENT sub-command keeps the flag
    tracker.call("GET", "x1")
    tracker.call("CLIENT", "CACHING", "YES")
    tracker.call("MULTI")
    tracker.call("GET", "x2")
    tracker.call("GET", "x3")
    tracker.call("EXEC")                # the whole transaction is cached
    tracker.call("GET", "x4")
    writer.call("MSET", "x4", "1", "x1", "1", "x2", "1", "x3", "1")
    assert [tracker.read_reply() for _ in range(3)] == [invalidate(b"x1"), invalidate(b"x2"), invalidate(b"x3")]
    assert tracker.call("PING") == Simple("PONG")


def test_optout_caching_no_skips_next_command(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "OPTOUT")
    tracker.call("CLIENT", "CACHING", "NO")
    tracker.call("GET", "skipped")
    tracker.call("GET", "tracked")
    writer.call("MSET", "skipped", "1", "tracked", "1")
    assert tracker.read_reply() == invalidate(b"tracked")
    assert tracker.call("PING") == Simple("PONG")


# -- flushes, broken redirections, table limit -------------------------------------------------

def test_flushall_sends_null_invalidation(clients):
    target, target_id = redirect_target(clients)
    resp3, redirected, writer = clients(3), clients(), clients()
    resp3.call("CLIENT", "TRACKING", "ON")
    redirected.call("CLIENT", "TRACKING", "ON", "REDIRECT", target_id)
    writer.call("FLUSHDB")
    assert resp3.read_reply() == Push((b"invalidate", None))
    assert target.read_reply() == message(None)


def test_flush_in_transaction_invalidation_follows_reply(clients):
    c = clients(3)
    c.call("CLIENT", "TRACKING", "ON")
    c.call("SET", "a", "1")
    c.call("GET", "a")
    c.call("MULTI")
    c.call("FLUSHDB")
    assert c.call("EXEC") == [Simple("OK")]
    assert c.read_reply() == Push((b"invalidate", None))


def test_swapdb_sends_no_invalidation(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON")
    writer.call("SET", "sw", "1")
    tracker.call("GET", "sw")
    writer.call("SWAPDB", "0", "1")
    assert tracker.call("PING") == Simple("PONG")
    writer.call("SWAPDB", "0", "1")
    writer.call("DEL", "sw")
    assert tracker.read_reply() == invalidate(b"sw")


def test_broken_redirection(clients):
    target = clients()
    target_id = target.call("CLIENT", "ID")
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "REDIRECT", target_id)
    writer.call("SET", "k", "1")
    tracker.call("GET", "k")
    assert target.call("QUIT") == Simple("OK")
    deadline = time.monotonic() + 10
    while writer.call("CLIENT", "LIST", "ID", target_id) != b"" and time.monotonic() < deadline:
        pass
    writer.call("SET", "k", "2")
    assert tracker.read_reply() == Push((b"tracking-redir-broken", target_id))
    assert tracker.call("CLIENT", "TRACKINGINFO").items[0] == (b"flags", RespSet((b"on", b"broken_redirect")))
    assert b" flags=tR " in tracker.call("CLIENT", "INFO").text


def test_table_limit_evicts_keys_with_invalidation(clients):
    target, target_id = redirect_target(clients)
    tracker, admin = clients(), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "REDIRECT", target_id)
    tracker.call("MGET", *[f"lim{i}" for i in range(150)])
    admin.call("CONFIG", "SET", "tracking-table-max-keys", "10")
    # The cron (or the next command) invalidates 140 keys, in two rounds.
    received = {target.read_reply()[2][0] for _ in range(140)}
    assert len(received) == 140
    assert info_field(admin, "tracking_total_keys") == 10


# -- BCAST -------------------------------------------------------------------------------------------

def test_bcast_batches_keys_per_prefix(clients):
    target, target_id = redirect_target(clients)
    tracker = clients()
    tracker.call("CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", target_id, "PREFIX", "a:", "PREFIX", "b:")
    tracker.call("MULTI")
    for key in ("a:1", "a:2", "b:1", "c:1"):
        tracker.call("INCR", key)
    tracker.call("EXEC")
    assert target.read_reply() == message([b"a:1", b"a:2"])
    assert target.read_reply() == message([b"b:1"])


def test_bcast_empty_prefix_and_noloop(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP")
    tracker.call("SET", "mine", "1")            # its own change: nothing
    writer.call("MSET", "x", "1", "y", "2")
    reply = tracker.read_reply()
    assert reply.items[0] == b"invalidate" and sorted(reply.items[1]) == [b"x", b"y"]
    assert tracker.call("PING") == Simple("PONG")


def test_switch_to_bcast_forgets_default_mode_keys(clients):
    tracker, writer = clients(3), clients()
    tracker.call("CLIENT", "TRACKING", "ON")
    tracker.call("GET", "old")
    tracker.call("CLIENT", "TRACKING", "OFF")
    tracker.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "new")
    writer.call("SET", "old", "1")
    writer.call("SET", "newkey", "1")
    assert tracker.read_reply() == invalidate(b"newkey")


def test_reset_turns_tracking_off(clients):
    c = clients(3)
    c.call("CLIENT", "TRACKING", "ON", "BCAST")
    assert c.call("RESET") == Simple("RESET")
    assert c.call("CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]


# -- redis-py's client-side cache -------------------------------------------------------------

def test_redis_py_client_side_cache(server, monkeypatch):
    """redis-py 8 enables its cache only for servers reporting 7.4 or later (a policy
    check on HELLO's version, not a protocol need): lowered here to 7.0, the version
    Ferrous and the reference server report, to check the cache works with them."""
    from redis.connection import CacheProxyConnection
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")
    cached = redis.Redis(port=server.port, protocol=3, cache_config=CacheConfig(), single_connection_client=True)
    writer = redis.Redis(port=server.port)
    try:
        writer.set("csc", "v1")
        assert cached.get("csc") == b"v1"
        assert cached.get("csc") == b"v1"
        cache = cached.get_cache()
        assert cache.size == 1
        writer.set("csc", "v2")
        deadline = time.monotonic() + 10
        value = cached.get("csc")
        while value != b"v2" and time.monotonic() < deadline:
            value = cached.get("csc")
        assert value == b"v2"
    finally:
        writer.delete("csc")
        cached.close()
        writer.close()


# -- many threads (Ferrous runs commands in parallel) --------------------------------------------

@pytest.mark.ferrous_only
def test_cache_never_keeps_a_stale_value_under_concurrency(server):
    """A client-side cache fed by a tracking client while writers on other
    connections keep changing the keys (Ferrous runs them on parallel workers): an
    invalidation must never overtake the reply carrying the value it voids, or the
    cache would keep that stale value for good."""
    import threading

    tracker = RawClient(port=server.port, timeout=10)
    tracker.call("HELLO", "3")
    tracker.call("CLIENT", "TRACKING", "ON")
    keys = [f"cc{i}" for i in range(6)]
    cache: dict = {}

    def apply(push):
        for key in push.items[1] or list(cache):
            cache.pop(key, None)

    def cached_get(key: bytes):
        if key in cache:
            return
        tracker.send_raw(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
        reply = tracker.read_reply()
        while isinstance(reply, Push):
            apply(reply)
            reply = tracker.read_reply()
        cache[key] = reply

    def write(index):
        client = RawClient(port=server.port, timeout=10)
        for n in range(800):
            client.call("INCR", keys[(index + n) % len(keys)])
        client.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for key in keys:
            cached_get(key.encode())
    for thread in threads:
        thread.join()
    checker = RawClient(port=server.port, timeout=10)
    truth = dict(zip([k.encode() for k in keys], checker.call("MGET", *keys)))
    checker.close()
    deadline = time.monotonic() + 10
    tracker.sock.settimeout(0.2)
    while any(cache.get(k, v) != v for k, v in truth.items()) and time.monotonic() < deadline:
        try:
            apply(tracker.read_reply())
        except OSError:
            pass
    assert {k: v for k, v in cache.items() if v != truth[k]} == {}
    tracker.close()


# -- which writes invalidate (signalModifiedKey) ------------------------------------------------

WRITES = [
    # (setup commands, the write, whether Redis signals a change)
    ([("SET", "w", "1")], ("EXPIRE", "w", "100"), True),
    ([("SET", "w", "1", "EX", "100")], ("PERSIST", "w"), True),
    ([("SET", "w", "1")], ("PERSIST", "w"), False),
    ([("SET", "w", "1")], ("APPEND", "w", "x"), True),
    ([("SET", "w", "1")], ("SETRANGE", "w", "0", "x"), True),
    ([("SET", "w", "1")], ("INCRBYFLOAT", "w", "1.5"), True),
    ([("SET", "w", "1")], ("GETDEL", "w"), True),
    ([("SET", "w", "1")], ("GETEX", "w", "EX", "100"), True),
    ([("SET", "w", "1")], ("GETEX", "w"), False),
    ([("SET", "w", "1", "EX", "100")], ("GETEX", "w", "PERSIST"), True),
    ([("SET", "w", "1")], ("GETEX", "w", "PERSIST"), False),
    ([("SET", "w", "1")], ("SETBIT", "w", "100", "1"), True),
    ([], ("LPUSH", "w", "a"), True),
    ([("RPUSH", "w", "a", "b")], ("LPOP", "w"), True),
    ([], ("SADD", "w", "a"), True),
    ([("SADD", "w", "a")], ("SADD", "w", "a"), False),
    ([], ("ZADD", "w", "1", "a"), True),
    ([], ("HSET", "w", "f", "v"), True),
    ([], ("XADD", "w", "*", "f", "v"), True),
    ([], ("PFADD", "w", "a"), True),
    ([("SET", "w", "1")], ("MOVE", "w", "1"), True),
    ([("SET", "src", "1")], ("COPY", "src", "w"), True),
    ([("RPUSH", "src", "3", "1")], ("SORT", "src", "STORE", "w"), True),
    ([("SET", "w", "1")], ("DEL", "w"), True),
    ([], ("DEL", "w"), False),
    ([("SET", "w", "1")], ("SET", "w", "1"), True),
    ([("SET", "w", "1")], ("SETNX", "w", "2"), False),
    ([("SET", "w", "1")], ("EXPIRE", "w", "100", "XX"), False),
    ([("SET", "w", "1")], ("PEXPIREAT", "w", "1"), True),
    ([("SET", "w", "1")], ("TOUCH", "w"), False),
    ([("SET", "w", "1")], ("INCRBY", "w", "2"), True),
    ([("SET", "w", "1")], ("UNLINK", "w"), True),
    ([("SET", "w", "1")], ("RENAMENX", "w", "other"), True),
    ([], ("MSETNX", "w", "1", "other", "2"), True),
    ([("HSET", "w", "f", "1")], ("HINCRBY", "w", "f", "1"), True),
    ([("HSET", "w", "f", "1", "g", "2")], ("HDEL", "w", "f"), True),
    ([("HSET", "w", "f", "1")], ("HSETNX", "w", "f", "2"), False),
    ([("SADD", "w", "a", "b")], ("SREM", "w", "a"), True),
    ([("SADD", "w", "a", "b")], ("SPOP", "w"), True),
    ([("SADD", "src", "a")], ("SMOVE", "src", "w", "a"), True),
    ([("SADD", "src", "a")], ("SUNIONSTORE", "w", "src"), True),
    ([("ZADD", "w", "1", "a", "2", "b")], ("ZINCRBY", "w", "1", "a"), True),
    ([("ZADD", "w", "1", "a", "2", "b")], ("ZPOPMIN", "w"), True),
    ([("ZADD", "src", "1", "a")], ("ZUNIONSTORE", "w", "1", "src"), True),
    ([("ZADD", "src", "1", "a")], ("ZRANGESTORE", "w", "src", "0", "-1"), True),
    ([("RPUSH", "w", "a", "b")], ("LSET", "w", "0", "x"), True),
    ([("RPUSH", "w", "a", "b", "c")], ("LTRIM", "w", "0", "1"), True),
    ([("RPUSH", "w", "a", "b")], ("LINSERT", "w", "BEFORE", "b", "x"), True),
    ([("RPUSH", "src", "a")], ("LMOVE", "src", "w", "LEFT", "RIGHT"), True),
    ([("XADD", "w", "1-1", "f", "v")], ("XDEL", "w", "1-1"), True),
    ([("XADD", "w", "1-1", "f", "v")], ("XGROUP", "CREATE", "w", "g", "0"), False),
    ([("SET", "w", "1")], ("BITFIELD", "w", "SET", "u8", "0", "1"), True),
    ([("SET", "src", "1")], ("BITOP", "NOT", "w", "src"), True),
    ([("PFADD", "src", "a")], ("PFMERGE", "w", "src"), True),
    ([], ("GEOADD", "w", "13.36", "38.11", "p"), True),
]


@pytest.mark.parametrize("setup,write,signals", WRITES, ids=[" ".join(w[1]) for w in WRITES])
def test_write_commands_invalidate(clients, setup, write, signals):
    tracker, writer = clients(3), clients()
    writer.call("SELECT", "1")
    writer.call("FLUSHDB")
    writer.call("SELECT", "0")
    for command in setup:
        writer.call(*command)
    tracker.call("CLIENT", "TRACKING", "ON")
    tracker.call("EXISTS", "w")
    writer.call(*write)
    writer.call("SET", "sentinel", "1")
    seen = []
    reply = tracker.call("EXISTS", "sentinel")
    while isinstance(reply, Push):      # w's invalidation may come first
        seen.append(reply)
        reply = tracker.read_reply()
    writer.call("DEL", "sentinel")
    while not seen or seen[-1] != invalidate(b"sentinel"):
        seen.append(tracker.read_reply())
    expected = [invalidate(b"w"), invalidate(b"sentinel")] if signals else [invalidate(b"sentinel")]
    assert seen == expected
