"""Pub/sub against Ferrous and real Redis 7.0: confirmations, messages, PUBSUB, limits."""
from __future__ import annotations

import socket
import time

import pytest
from resp_client import Error, Push, RawClient, Simple, encode_command

DEADLINE = 5.0


@pytest.fixture
def connect(server, protocol):
    made = []

    def make():
        client = RawClient(port=server.port)
        if protocol == 3:
            client.call("HELLO", "3")
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def push(protocol):
    """The wire shape of a push message: `>` in RESP3, a plain array in RESP2."""
    return (lambda *items: Push(tuple(items))) if protocol == 3 else (lambda *items: list(items))


def wait_for(condition):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_subscribe_confirms_each_channel_with_the_count(connect, push):
    sub = connect()
    sub.send_raw(encode_command("SUBSCRIBE", "a", "b", "a"))
    assert [sub.read_reply() for _ in range(3)] == [
        push(b"subscribe", b"a", 1), push(b"subscribe", b"b", 2), push(b"subscribe", b"a", 2)]


def test_psubscribe_counts_channels_and_patterns_together(connect, push):
    sub = connect()
    sub.call("SUBSCRIBE", "a")
    assert sub.call("PSUBSCRIBE", "n*") == push(b"psubscribe", b"n*", 2)
    assert sub.call("PUNSUBSCRIBE", "n*") == push(b"punsubscribe", b"n*", 1)
    assert sub.call("PUNSUBSCRIBE") == push(b"punsubscribe", None, 1)


def test_unsubscribe_when_not_subscribed(raw, push):
    assert raw.call("UNSUBSCRIBE") == push(b"unsubscribe", None, 0)
    assert raw.call("PUNSUBSCRIBE") == push(b"punsubscribe", None, 0)
    assert raw.call("SUNSUBSCRIBE") == push(b"sunsubscribe", None, 0)
    assert raw.call("UNSUBSCRIBE", "x") == push(b"unsubscribe", b"x", 0)


def test_publish_delivers_and_counts_receivers(r, connect, push):
    sub, psub = connect(), connect()
    sub.call("SUBSCRIBE", "news")
    psub.call("PSUBSCRIBE", "n*", "*s")
    psub.read_reply()                           # the second confirmation
    assert r.publish("news", "hello") == 3
    assert sub.read_reply() == push(b"message", b"news", b"hello")
    # One message per matching pattern (their order is the pattern dict's).
    replies = [psub.read_reply() for _ in range(2)]
    assert sorted(map(repr, replies)) == sorted(map(repr, [
        push(b"pmessage", b"n*", b"news", b"hello"), push(b"pmessage", b"*s", b"news", b"hello")]))
    assert r.publish("nobody", "x") == 1       # n*
    assert psub.read_reply() == push(b"pmessage", b"n*", b"nobody", b"x")
    assert r.publish("zzz", "x") == 0


def test_pattern_uses_redis_glob(r, connect, push):
    sub = connect()
    sub.call("PSUBSCRIBE", "h[ae]llo?")
    assert r.publish("hello!", "m") == 1
    assert r.publish("hillo!", "m") == 0
    assert sub.read_reply() == push(b"pmessage", b"h[ae]llo?", b"hello!", b"m")


def test_unsubscribe_stops_delivery(r, connect, push):
    sub = connect()
    sub.call("SUBSCRIBE", "c")
    assert sub.call("UNSUBSCRIBE", "c") == push(b"unsubscribe", b"c", 0)
    assert r.publish("c", "x") == 0
    assert sub.call("PING") == Simple("PONG")


def test_resp2_subscribed_mode_allows_only_some_commands(server):
    sub = RawClient(port=server.port)
    sub.call("SUBSCRIBE", "c")
    assert sub.call("GET", "a") == Error(
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context")
    assert sub.call("CONFIG", "GET", "x") == Error(
        "ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context")
    assert sub.call("PING") == [b"pong", b""]
    assert sub.call("PING", "hi") == [b"pong", b"hi"]
    sub.call("UNSUBSCRIBE")
    assert sub.call("GET", "a") is None
    sub.close()


def test_resp2_shard_subscription_keeps_subscribed_mode(server):
    sub = RawClient(port=server.port)
    sub.call("SUBSCRIBE", "x")
    assert sub.call("SSUBSCRIBE", "y") == [b"ssubscribe", b"y", 1]
    assert sub.call("UNSUBSCRIBE", "x") == [b"unsubscribe", b"x", 0]
    assert sub.call("PING") == [b"pong", b""]
    assert sub.call("SUNSUBSCRIBE") == [b"sunsubscribe", b"y", 0]
    assert sub.call("PING") == Simple("PONG")
    sub.close()


def test_resp3_subscriber_runs_any_command(server):
    sub = RawClient(port=server.port)
    sub.call("HELLO", "3")
    sub.call("SUBSCRIBE", "c")
    assert sub.call("SET", "k", "v") == Simple("OK")
    assert sub.call("PING") == Simple("PONG")
    sub.close()


def test_shard_channels(r, connect, push):
    sub = connect()
    assert sub.call("SSUBSCRIBE", "s1") == push(b"ssubscribe", b"s1", 1)
    sub.call("SUBSCRIBE", "s1")
    assert r.execute_command("SPUBLISH", "s1", "m") == 1
    assert sub.read_reply() == push(b"smessage", b"s1", b"m")
    assert r.execute_command("PUBSUB", "SHARDCHANNELS") == [b"s1"]
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "s1", "s2") == [b"s1", 1, b"s2", 0]
    assert sub.call("SUNSUBSCRIBE", "s1") == push(b"sunsubscribe", b"s1", 0)


def test_pubsub_introspection(raw, connect):
    sub = connect()
    sub.call("SUBSCRIBE", "alpha", "beta")
    sub.call("PSUBSCRIBE", "a*")
    other = connect()
    other.call("PSUBSCRIBE", "a*")
    assert sorted(raw.call("PUBSUB", "CHANNELS")) == [b"alpha", b"beta"]
    assert raw.call("PUBSUB", "CHANNELS", "a*") == [b"alpha"]
    assert raw.call("PUBSUB", "NUMSUB", "alpha", "none") == [b"alpha", 1, b"none", 0]
    assert raw.call("PUBSUB", "NUMSUB") == []
    assert raw.call("PUBSUB", "NUMPAT") == 1
    assert raw.call("PUBSUB", "SHARDCHANNELS") == []


def test_pubsub_errors_and_help(raw):
    assert raw.call("PUBSUB", "CHANNELS", "a", "b") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.")
    assert raw.call("PUBSUB", "NUMPAT", "x") == Error(
        "ERR wrong number of arguments for 'pubsub|numpat' command")
    assert raw.call("PUBSUB", "FOO") == Error("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
    assert raw.call("SUBSCRIBE") == Error("ERR wrong number of arguments for 'subscribe' command")
    help_lines = raw.call("PUBSUB", "HELP")
    assert help_lines[0] == Simple("PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert help_lines[-1] == Simple("    Prints this help.")
    assert len(help_lines) == 14


def test_pipelined_commands_before_subscribe_answer_first(server, protocol, r, push):
    sub = RawClient(port=server.port)
    if protocol == 3:
        sub.call("HELLO", "3")
    sub.send_raw(encode_command("PING") + encode_command("SUBSCRIBE", "p") + encode_command("PING"))
    assert sub.read_reply() == Simple("PONG")
    assert sub.read_reply() == push(b"subscribe", b"p", 1)
    sub.read_reply()
    assert r.publish("p", "m") == 1
    assert sub.read_reply() == push(b"message", b"p", b"m")
    sub.close()


def test_subscribe_inside_multi_replies_in_exec(raw, push):
    raw.call("MULTI")
    raw.call("SUBSCRIBE", "m")
    assert raw.call("EXEC") == [push(b"subscribe", b"m", 1)]


def test_reset_drops_subscriptions_silently(r, connect):
    sub = connect()
    sub.call("SUBSCRIBE", "c")
    sub.call("PSUBSCRIBE", "c*")
    assert sub.call("RESET") == Simple("RESET")
    assert r.publish("c", "x") == 0
    assert sub.call("PING") == Simple("PONG")


def test_disconnected_subscriber_is_forgotten(r, connect):
    sub = connect()
    sub.call("SUBSCRIBE", "gone")
    sub.close()
    wait_for(lambda: r.pubsub_numsub("gone") == [(b"gone", 0)])


def test_fan_out_to_100_subscribers_in_order(r, connect, push):
    subscribers = [connect() for _ in range(100)]
    for sub in subscribers:
        sub.call("SUBSCRIBE", "fan")
    pipe = r.pipeline(transaction=False)
    for i in range(50):
        pipe.publish("fan", b"m%d" % i)
    assert pipe.execute() == [100] * 50
    expected = [push(b"message", b"fan", b"m%d" % i) for i in range(50)]
    for sub in subscribers:
        assert [sub.read_reply() for _ in range(50)] == expected


@pytest.mark.parametrize("limit", ["pubsub 1mb 0 0", "pubsub 0 512kb 0"], ids=["hard", "soft"])
def test_slow_subscriber_over_the_limit_is_disconnected(r, server, limit):
    old = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    r.config_set("client-output-buffer-limit", limit)
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(encode_command("SUBSCRIBE", "flood"))
        wait_for(lambda: r.pubsub_numsub("flood") == [(b"flood", 1)])
        payload = b"x" * 100_000
        deadline = time.monotonic() + DEADLINE
        while r.pubsub_numsub("flood") != [(b"flood", 0)]:
            assert time.monotonic() < deadline, "the slow subscriber was never disconnected"
            r.publish("flood", payload)
        slow.close()
        # PUBLISH never waited for the subscriber: the server still answers at once.
        assert r.ping()
    finally:
        r.config_set("client-output-buffer-limit", old)


def test_info_stats_counts_channels_and_patterns(r, connect):
    sub = connect()
    sub.call("SUBSCRIBE", "i1")
    sub.call("PSUBSCRIBE", "i*")
    sub.call("SSUBSCRIBE", "i2")
    stats = r.info("stats")
    assert (stats["pubsub_channels"], stats["pubsub_patterns"], stats["pubsubshard_channels"]) == (1, 1, 1)


def test_confirmations_and_messages_ignore_client_reply_off(connect, push, r):
    # Pub/sub replies are pushes (CLIENT_PUSHING): CLIENT REPLY OFF never silences them.
    sub = connect()
    sub.send_raw(encode_command("CLIENT", "REPLY", "OFF"))
    sub.send_raw(encode_command("SUBSCRIBE", "roff"))
    assert sub.read_reply() == push(b"subscribe", b"roff", 1)
    sub.send_raw(encode_command("PSUBSCRIBE", "ro*"))
    assert sub.read_reply() == push(b"psubscribe", b"ro*", 2)
    assert r.publish("roff", "hello") == 2
    assert sub.read_reply() == push(b"message", b"roff", b"hello")
    assert sub.read_reply() == push(b"pmessage", b"ro*", b"roff", b"hello")
    sub.send_raw(encode_command("UNSUBSCRIBE", "roff"))
    assert sub.read_reply() == push(b"unsubscribe", b"roff", 1)
    sub.send_raw(encode_command("PUNSUBSCRIBE"))
    assert sub.read_reply() == push(b"punsubscribe", b"ro*", 0)
    # Ordinary replies stay silenced: the next reply read is PING's after REPLY ON.
    sub.send_raw(encode_command("PING"))
    assert sub.call("CLIENT", "REPLY", "ON") == Simple("OK")


def test_client_reply_skip_keeps_the_subscribe_confirmation(connect, push):
    sub = connect()
    sub.send_raw(encode_command("CLIENT", "REPLY", "SKIP"))
    sub.send_raw(encode_command("SUBSCRIBE", "skipped"))
    assert sub.read_reply() == push(b"subscribe", b"skipped", 1)
