"""Thread supervision (Ferrous only): a fault injected into a command handler, a
worker, an I/O thread, the acceptor or the cron is logged with its traceback, the
client gets an error reply (or only the faulty client is closed), the thread
carries on, and INFO server reports the crash and that every thread is alive."""
from __future__ import annotations

import logging
import socket
import time

import pytest
import redis

import ferrous
from ferrous.commands.registry import TABLE
from ferrous.server import io_thread, workers

pytestmark = pytest.mark.ferrous_only
DEADLINE = 10.0


class Boom(RuntimeError):
    """The injected fault."""


@pytest.fixture
def embedded():
    srv = ferrous.Server().start()
    client = redis.Redis(port=srv.port, socket_timeout=10)
    yield srv, client
    client.close()
    srv.stop()


def threads_info(client) -> tuple:
    info = client.info("ferrous")
    return info["ferrous_threads_alive"], info["ferrous_threads_expected"], info["ferrous_thread_crashes"]


def poll(condition):
    end = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)


def test_info_reports_every_thread_alive_and_no_crash(embedded):
    _, client = embedded
    alive, expected, crashes = threads_info(client)
    assert alive == expected >= 4 and crashes == 0


def test_a_failing_handler_gets_an_error_reply_and_a_logged_traceback(embedded, monkeypatch, caplog):
    _, client = embedded
    def broken(ctx, argv):
        raise Boom("injected")
    monkeypatch.setattr(TABLE[b"echo"], "handler", broken)
    with caplog.at_level(logging.ERROR):
        with pytest.raises(redis.ResponseError, match="internal error while running 'echo'"):
            client.echo("x")
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)
    assert client.ping() is True


def test_a_failing_work_item_gets_an_error_and_the_worker_carries_on(embedded, monkeypatch, caplog):
    _, client = embedded
    real_execute = workers.execute

    def faulty(ctx, conn, argv, out):
        if argv[0].lower() == b"boom":
            raise Boom("injected into a worker")
        return real_execute(ctx, conn, argv, out)

    monkeypatch.setattr(workers, "execute", faulty)
    with caplog.at_level(logging.ERROR):
        for _ in range(5):      # more faults than workers: every worker survives its fault
            with pytest.raises(redis.ResponseError, match="internal error"):
                client.execute_command("BOOM")
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)
    assert client.set("k", "v") is True and client.get("k") == b"v"
    alive, expected, crashes = threads_info(client)
    assert alive == expected and crashes == 5


def test_an_io_thread_fault_closes_only_that_client(embedded, monkeypatch, caplog):
    srv, client = embedded
    client.ping()       # connected before the fault is armed
    real = io_thread.IOThread._make_item
    armed = {"left": 1}

    def faulty(self, conn):
        if armed["left"] and conn.parser.has_data():
            armed["left"] -= 1
            raise Boom("injected into an I/O thread")
        return real(self, conn)

    monkeypatch.setattr(io_thread.IOThread, "_make_item", faulty)
    with caplog.at_level(logging.ERROR):
        victim = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        victim.sendall(b"PING\r\n")
        assert victim.recv(100) == b""      # closed, not left hanging
        victim.close()
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)
    assert client.ping() is True
    alive, expected, crashes = threads_info(client)
    assert alive == expected and crashes == 1


def test_an_acceptor_fault_drops_one_connection_and_keeps_accepting(embedded, monkeypatch, caplog):
    srv, client = embedded
    real = srv.app.admit
    armed = {"left": 1}

    def faulty(sock, addr):
        if armed["left"]:
            armed["left"] -= 1
            raise Boom("injected into the acceptor")
        return real(sock, addr)

    monkeypatch.setattr(srv.app, "admit", faulty)
    with caplog.at_level(logging.ERROR):
        dropped = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        assert dropped.recv(100) == b""
        dropped.close()
    fresh = redis.Redis(port=srv.port)
    assert fresh.ping() is True
    fresh.close()
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


def test_a_cron_fault_is_logged_and_the_cron_keeps_running(embedded, caplog):
    srv, client = embedded
    armed = {"left": 1}

    def faulty_task():
        if armed["left"]:
            armed["left"] -= 1
            raise Boom("injected into the cron")

    with caplog.at_level(logging.ERROR):
        srv.app.cron.tasks.append(faulty_task)
        poll(lambda: armed["left"] == 0)
        # Active expiry (the cron's own work) still happens afterwards.
        client.set("short", "1", px=50)
        poll(lambda: client.info("stats")["expired_keys"] >= 1)
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)
    alive, expected, _ = threads_info(client)
    assert alive == expected
