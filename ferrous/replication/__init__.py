"""Replication: the primary side (primary.py, backlog.py) and the replica side
(replica.py), interoperable with Redis 7.0 (PSYNC, REPLCONF, WAIT)."""
from __future__ import annotations

from ferrous import errors
from ferrous.replication.primary import Replication
from ferrous.replication.replica import CONNECTED


def install(server) -> Replication:
    """Per-server replication state, its client-gone hook and its cron duties."""
    replication = server.replication = Replication(server)
    previous = getattr(server, "on_client_gone", None)

    def on_client_gone(conn):
        replication.client_gone(conn)
        if previous is not None:
            previous(conn)

    server.on_client_gone = on_client_gone
    server.cron.tasks.append(replication.cron)
    server.config.on_change("repl-backlog-size", _resize_backlog(replication))
    server.replication_check = None
    for name in ("min-replicas-to-write", "min-replicas-max-lag"):
        server.config.on_change(name, lambda value: update_checks(server))
    update_checks(server)
    return replication


def update_checks(server) -> None:
    """Install the dispatcher's replication check only when it can refuse something,
    so a plain primary pays one attribute test per command."""
    config = server.config
    needed = server.replication.is_replica or (config.min_replicas_to_write and config.min_replicas_max_lag)
    server.replication_check = (lambda cmd: refusal(server, cmd)) if needed else None


def refusal(server, cmd) -> str | None:
    """processCommand's NOREPLICAS, READONLY and MASTERDOWN checks, in that order."""
    config = server.config
    repl = server.replication
    link = repl.link
    if link is None:
        if cmd.is_write and repl.good_replicas() < config.min_replicas_to_write:
            return errors.NOREPLICAS
        return None
    if cmd.is_write and config.replica_read_only:
        return errors.READONLY_REPLICA
    if link.state != CONNECTED and not config.replica_serve_stale_data and "stale" not in cmd.flags:
        return errors.MASTERDOWN
    return None


def _resize_backlog(replication):
    def on_change(size):
        with replication.lock:
            if replication.backlog is not None:
                replication.backlog.resize(size)
    return on_change


def start(server) -> None:
    """`replicaof` in the config file: follow that primary from start-up."""
    target = server.config.replicaof
    if target is not None:
        from ferrous.commands.replication import become_replica
        become_replica(server, target[0], target[1])


def stop(server) -> None:
    link = server.replication.link
    if link is not None:
        link.stop()
