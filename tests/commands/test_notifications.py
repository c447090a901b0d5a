"""Keyspace notifications against Ferrous and real Redis 7.0: the events each command
publishes, the channel names, the notify-keyspace-events classes."""
from __future__ import annotations

import time

import pytest
from resp_client import Error, RawClient

SENTINEL = b"--end-of-events--"


@pytest.fixture
def events(r, server, protocol):
    """events(flags, *commands) -> [(channel, payload), ...] published while they ran."""
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    sub = RawClient(port=server.port)
    if protocol == 3:
        sub.call("HELLO", "3")
    sub.call("PSUBSCRIBE", "__key*@*__:*")
    sub.call("SUBSCRIBE", SENTINEL)

    def run(flags, *commands):
        r.config_set("notify-keyspace-events", flags)
        try:
            for command in commands:
                r.execute_command(*command)
        finally:
            r.config_set("notify-keyspace-events", old)
        r.publish(SENTINEL, "x")
        seen = []
        while True:
            message = sub.read_reply()
            items = list(getattr(message, "items", message))
            if items[0] == b"message":
                return seen
            seen.append((items[2], items[3]))

    yield run
    sub.close()
    r.config_set("notify-keyspace-events", old)


def keyevents(pairs):
    """(event, key) for the __keyevent@ messages only."""
    return [(channel.split(b":", 1)[1].decode(), key) for channel, key in pairs
            if channel.startswith(b"__keyevent@")]


def test_config_get_returns_the_canonical_form(r):
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    try:
        for given, canonical in [("KEA", "AKE"), ("Elg", "glE"), ("gKlE$", "g$lKE"),
                                 ("Eexn", "xenE"), ("AmnKEt", "AKEm"), ("", "")]:
            r.config_set("notify-keyspace-events", given)
            assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": canonical}
    finally:
        r.config_set("notify-keyspace-events", old)


def test_invalid_class_character(raw):
    reply = raw.call("CONFIG", "SET", "notify-keyspace-events", "Q")
    assert reply == Error("ERR CONFIG SET failed (possibly related to argument "
                          "'notify-keyspace-events') - Invalid event class character. "
                          "Use 'Ag$lshzxeKEtmdn'.")


def test_keyspace_and_keyevent_channels(events):
    assert events("KA", ("SET", "k", "v")) == [(b"__keyspace@0__:k", b"set")]
    assert events("EA", ("SET", "k", "v")) == [(b"__keyevent@0__:set", b"k")]
    assert events("KEA", ("SELECT", "0"), ("DEL", "k")) == [
        (b"__keyspace@0__:k", b"del"), (b"__keyevent@0__:del", b"k")]


def test_nothing_without_a_type_class(events):
    assert events("KE", ("SET", "k", "v")) == []
    assert events("", ("SET", "k", "v")) == []


def test_classes_filter_events(events):
    got = events("E$", ("SET", "s", "1"), ("LPUSH", "l", "a"), ("DEL", "s"))
    assert keyevents(got) == [("set", b"s")]
    got = events("Egl", ("SET", "s", "1"), ("LPUSH", "l", "a"), ("DEL", "s"))
    assert keyevents(got) == [("lpush", b"l"), ("del", b"s")]


def test_string_events(events):
    got = events("EA", ("SET", "a", "1", "EX", "100"), ("INCR", "a"), ("INCRBYFLOAT", "a", "1.5"),
                 ("APPEND", "a", "x"), ("SETRANGE", "a", "0", "z"), ("MSET", "b", "1", "c", "2"),
                 ("GETDEL", "b"), ("GETSET", "c", "3"), ("GETEX", "c", "PERSIST"))
    assert keyevents(got) == [
        ("set", b"a"), ("expire", b"a"), ("incrby", b"a"), ("incrbyfloat", b"a"),
        ("append", b"a"), ("setrange", b"a"), ("set", b"b"), ("set", b"c"), ("del", b"b"),
        ("set", b"c")]


def test_generic_events(events):
    got = events("EA", ("SET", "a", "1"), ("EXPIRE", "a", "100"), ("PERSIST", "a"),
                 ("RENAME", "a", "b"), ("COPY", "b", "c"), ("MOVE", "c", "1"),
                 ("EXPIRE", "b", "-1"), ("DEL", "nokey"))
    assert keyevents(got) == [
        ("set", b"a"), ("expire", b"a"), ("persist", b"a"), ("rename_from", b"a"),
        ("rename_to", b"b"), ("copy_to", b"c"), ("move_from", b"c"), ("move_to", b"c"),
        ("del", b"b")]
    assert (b"__keyevent@1__:move_to", b"c") in got


def test_list_events(events):
    got = events("EA", ("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "z"), ("LINSERT", "l", "BEFORE", "a", "y"),
                 ("LSET", "l", "0", "q"), ("LREM", "l", "0", "y"), ("LPOP", "l"), ("RPOP", "l"),
                 ("LMOVE", "l", "m", "LEFT", "RIGHT"), ("LTRIM", "l", "0", "0"), ("LTRIM", "m", "1", "0"))
    assert keyevents(got) == [
        ("rpush", b"l"), ("lpush", b"l"), ("linsert", b"l"), ("lset", b"l"), ("lrem", b"l"),
        ("lpop", b"l"), ("rpop", b"l"), ("rpush", b"m"), ("lpop", b"l"), ("ltrim", b"l"),
        ("ltrim", b"m"), ("del", b"m")]


def test_hash_events(events):
    got = events("EA", ("HSET", "h", "f", "1", "g", "2"), ("HINCRBY", "h", "f", "1"),
                 ("HINCRBYFLOAT", "h", "f", "1.5"), ("HDEL", "h", "f"), ("HDEL", "h", "g"))
    assert keyevents(got) == [
        ("hset", b"h"), ("hincrby", b"h"), ("hincrbyfloat", b"h"), ("hdel", b"h"),
        ("hdel", b"h"), ("del", b"h")]


def test_set_events(events):
    got = events("EA", ("SADD", "s", "a", "b", "c"), ("SADD", "s", "a"), ("SREM", "s", "a"),
                 ("SMOVE", "s", "t", "b"), ("SINTERSTORE", "u", "s", "s"), ("SPOP", "s"),
                 ("SUNIONSTORE", "u", "nokey"))
    assert keyevents(got) == [
        ("sadd", b"s"), ("srem", b"s"), ("srem", b"s"), ("sadd", b"t"),
        ("sinterstore", b"u"), ("spop", b"s"), ("del", b"s"), ("del", b"u")]


def test_zset_events(events):
    got = events("EA", ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("ZINCRBY", "z", "1", "a"),
                 ("ZREM", "z", "a"), ("ZREMRANGEBYSCORE", "z", "2", "2"), ("ZPOPMIN", "z"),
                 ("ZUNIONSTORE", "u", "1", "z"), ("ZREMRANGEBYRANK", "z", "0", "-1"))
    assert keyevents(got) == [
        ("zadd", b"z"), ("zincr", b"z"), ("zrem", b"z"), ("zremrangebyscore", b"z"),
        ("zpopmin", b"z"), ("zunionstore", b"u"), ("zremrangebyrank", b"z"), ("del", b"z")]


def test_expired_event(r, server, protocol):
    # The flags stay on for the whole wait: the active cycle may expire the key at
    # any moment, and the event must be published whichever path expires it.
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    sub = RawClient(port=server.port)
    if protocol == 3:
        sub.call("HELLO", "3")
    sub.call("SUBSCRIBE", "__keyevent@0__:expired")
    r.config_set("notify-keyspace-events", "Ex")
    try:
        r.set("e", "v", px=1)
        deadline = time.monotonic() + 5
        while r.exists("e"):  # EXISTS expires it lazily if the active cycle hasn't yet
            assert time.monotonic() < deadline
        reply = sub.read_reply()
        message = list(getattr(reply, "items", reply))  # a Push in RESP3, a list in RESP2
        assert message == [b"message", b"__keyevent@0__:expired", b"e"]
    finally:
        r.config_set("notify-keyspace-events", old)
        sub.close()


def test_subscriber_in_resp3_gets_push_messages(r, server):
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    sub = RawClient(port=server.port)
    sub.call("HELLO", "3")
    sub.call("SUBSCRIBE", "__keyevent@0__:set")
    r.config_set("notify-keyspace-events", "E$")
    try:
        r.set("k", "v")
        message = sub.read_reply()
        assert type(message).__name__ == "Push"
        assert message.items == (b"message", b"__keyevent@0__:set", b"k")
    finally:
        r.config_set("notify-keyspace-events", old)
        sub.close()


def test_new_event_only_when_a_key_is_created(events):
    got = events("En", ("SET", "a", "1"), ("SET", "a", "2"), ("LPUSH", "l", "x"), ("RENAME", "a", "b"),
                 ("DEL", "b"))
    assert keyevents(got) == [("new", b"a"), ("new", b"l"), ("new", b"b")]
    got = events("EA", ("SET", "a", "1"))
    assert keyevents(got) == [("set", b"a")]        # A does not include n
    got = events("KEn$", ("SET", "c", "1"))
    assert keyevents(got) == [("new", b"c"), ("set", b"c")]


def test_flush_and_swapdb_publish_nothing(events):
    got = events("KEA", ("SET", "a", "1"), ("FLUSHDB",), ("SET", "b", "1"), ("FLUSHALL",),
                 ("SWAPDB", "0", "1"))
    assert keyevents(got) == [("set", b"a"), ("set", b"b")]
