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
    server.keyspace.repl_info = lambda: save_info(server)   # the RDB's repl-* aux fields
    return replication


def save_info(server) -> tuple | None:
    """rdbPopulateSaveInfo: (stream db, replid, offset) for the RDB's aux fields: a
    primary with a backlog, or a replica that knows the stream's database."""
    repl = server.replication
    with repl.lock:
        if repl.link is None:
            if repl.backlog is None:
                return None
            return (max(repl.selected_db, 0), repl.replid, repl.offset)
        master = getattr(repl.link, "master_conn", None)
        if master is None:
            return None
        return (master.db, repl.replid, repl.offset)


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
    """`replicaof` in the config file: follow that primary from start-up, continuing
    from the history the loaded RDB recorded when it has one."""
    target = server.config.replicaof
    restored = _restore_from_rdb(server, replica=target is not None)
    if target is not None:
        from ferrous.commands.replication import become_replica
        become_replica(server, target[0], target[1])
        if restored is not None:    # replicationCacheMasterUsingMyself: PSYNC continues
            server.replication.link.master_conn = _CachedMaster(restored)


class _CachedMaster:
    """What the replica link keeps of its previous master client: the stream's db."""

    def __init__(self, db: int):
        self.db = db


def _restore_from_rdb(server, replica: bool) -> int | None:
    """loadDataFromDisk's "Restore the replication ID / offset from the RDB file":
    a replica takes them as its own history; a primary keeps them as its previous
    history (replid2) so its old replicas may continue. Returns the stream db."""
    from ferrous.replication.backlog import Backlog
    aux = getattr(server, "rdb_loaded_aux", None) or {}
    server.rdb_loaded_aux = None
    try:
        replid = aux[b"repl-id"].decode()
        offset = int(aux[b"repl-offset"])
        stream_db = int(aux[b"repl-stream-db"])
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
    if len(replid) != 40 or offset == -1 or stream_db == -1:
        return None
    repl = server.replication
    with repl.lock:
        if replica:
            repl.replid = replid
        else:
            repl.replid2 = replid
            repl.second_offset = offset + 1
        repl.offset = offset
        repl.backlog = Backlog(server.config.repl_backlog_size, offset)
    if not replica:
        repl.ensure_backlog()       # feed the stream from now on
    return stream_db


def stop(server) -> None:
    link = server.replication.link
    if link is not None:
        link.stop()
