"""Pub/sub fan-out: 100 subscribers each receive every message, in order, on
Ferrous and real Redis, over RESP2 and RESP3."""
from __future__ import annotations

import time

import redis

SUBSCRIBERS = 100
MESSAGES = 50
DEADLINE = 30.0


def test_fanout_to_100_subscribers_in_order(r, server, protocol):
    subscribers = []
    try:
        for _ in range(SUBSCRIBERS):
            client = redis.Redis(port=server.port, protocol=protocol, socket_timeout=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe("fanout")
            subscribers.append((client, pubsub))
        # Every subscription is in place before the first PUBLISH.
        deadline = time.monotonic() + DEADLINE
        while r.pubsub_numsub("fanout")[0][1] < SUBSCRIBERS:
            assert time.monotonic() < deadline, "subscriptions never completed"
            time.sleep(0.01)
        for i in range(MESSAGES):
            assert r.publish("fanout", "m%d" % i) == SUBSCRIBERS
        expected = [b"m%d" % i for i in range(MESSAGES)]
        for _, pubsub in subscribers:
            received = []
            deadline = time.monotonic() + DEADLINE
            while len(received) < MESSAGES and time.monotonic() < deadline:
                message = pubsub.get_message(timeout=1.0)
                if message is not None:
                    received.append(message["data"])
            assert received == expected
    finally:
        for client, pubsub in subscribers:
            pubsub.close()
            client.close()
