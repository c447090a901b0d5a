"""REPLICAOF/SLAVEOF, REPLCONF, PSYNC, SYNC, WAIT, ROLE (replication.c); the
machinery lives in ferrous/replication/."""
from __future__ import annotations

import logging
import time

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.protocol.types import Raw, Simple
from ferrous.replication import update_checks
from ferrous.replication.failover import NO_FAILOVER, accept_failover_request, is_failover_request
from ferrous.replication.primary import ONLINE
from ferrous.replication.replica import CONNECTED, ReplicaLink
from ferrous.server.blocking import block, parse_timeout

log = logging.getLogger("ferrous.replication")

_NO_REPLY = Raw(b"")


# -- REPLICAOF ------------------------------------------------------------------------------
def _generic_replicaof(ctx, argv):
    server = ctx.server
    repl = server.replication
    if repl.failover.state != NO_FAILOVER:
        raise CommandError(errors.REPLICAOF_WHILE_FAILING_OVER)
    host, port_arg = argv[1], argv[2]
    if host.lower() == b"no" and port_arg.lower() == b"one":
        if repl.is_replica:
            become_primary(server)
            log.info("MASTER MODE enabled (user request from '%s')", ctx.conn.addr_text())
        return "OK"
    if ctx.conn.is_master:
        raise CommandError(errors.REPLICAOF_FROM_MASTER)
    port = parse_int(port_arg, errors.INVALID_MASTER_PORT)
    if not 0 <= port <= 65535:
        raise CommandError(errors.INVALID_MASTER_PORT)
    host_text = host.decode("latin-1")
    link = repl.link
    if link is not None and link.host == host_text and link.port == port:
        log.info("REPLICAOF would result into synchronization with the master we are "
                 "already connected with. No operation performed.")
        return Simple("OK Already connected to specified master")
    become_replica(server, host_text, port)
    log.info("REPLICAOF %s:%d enabled (user request from '%s')", host_text, port, ctx.conn.addr_text())
    return "OK"


def become_replica(server, host: str, port: int) -> None:
    """replicationSetMaster: follow host:port; our own history stays cached (replid,
    offset, backlog) so the new primary may continue us partially."""
    from ferrous.server.blocking import unblock_all
    repl = server.replication
    if repl.link is not None:
        repl.link.stop()
    else:
        server.keyspace.set_replica(True)
        unblock_all(server)
    repl.disconnect_replicas()
    server.config.replicaof = (host, port)      # masterhost: CONFIG GET / REWRITE read it
    repl.link = ReplicaLink(server, host, port)
    update_checks(server)
    repl.link.start()


def become_primary(server) -> None:
    """replicationUnsetMaster: stop following, keep the data, shift the replication ID."""
    repl = server.replication
    link, repl.link = repl.link, None
    if link is not None:
        link.stop()
    server.config.replicaof = None
    server.keyspace.set_replica(False)
    update_checks(server)
    repl.shift_replid()
    repl.no_replicas_since = time.time()    # repl-backlog-ttl counts from the promotion
    with repl.lock:
        repl.selected_db = -1       # the proxied stream selected who knows what: SELECT again
    repl.disconnect_replicas()


@command("replicaof", arity=3, flags="admin noscript stale no_async_loading", group="server")
def replicaof(ctx, argv):
    return _generic_replicaof(ctx, argv)


@command("slaveof", arity=3, flags="admin noscript stale no_async_loading", group="server")
def slaveof(ctx, argv):
    return _generic_replicaof(ctx, argv)


# -- the replica's side of the handshake, as the primary serves it ----------------------------
@command("replconf", arity=-1, flags="admin noscript loading stale allow_busy", group="server")
def replconf(ctx, argv):
    if len(argv) % 2 == 0:
        raise CommandError(errors.SYNTAX_ERR)
    conn = ctx.conn
    repl = ctx.server.replication
    for i in range(1, len(argv), 2):
        option, value = argv[i].lower(), argv[i + 1]
        if option == b"listening-port":
            conn.repl_listening_port = parse_int(value)
        elif option == b"ip-address":
            conn.repl_announced_ip = value.decode("latin-1")
        elif option == b"capa":
            capabilities = getattr(conn, "repl_capabilities", None)
            if capabilities is None:
                capabilities = conn.repl_capabilities = set()
            capabilities.add(value.lower().decode("latin-1"))
        elif option == b"ack":
            # A replica's offset: never answered (replicas don't read replies).
            repl.ack(conn, parse_int(value))
            return _NO_REPLY
        elif option == b"getack":
            link = repl.link
            if link is not None and conn.is_master:
                link._send_ack()
            return _NO_REPLY
        elif option == b"rdb-only":
            conn.repl_rdb_only = parse_int(value) == 1
        elif option in (b"rdb-filter-only",):
            pass
        else:
            raise CommandError(errors.REPLCONF_UNRECOGNIZED % argv[i].decode("latin-1"))
    return "OK"


@command("psync", arity=-3, flags="admin noscript no_async_loading no_multi", group="server")
def psync(ctx, argv):
    if is_failover_request(argv) and getattr(ctx.conn, "replica", None) is None:
        accept_failover_request(ctx, argv[1])   # our primary hands over: promote, or an error
    return _generic_sync(ctx, argv[1].decode("latin-1"), argv[2], with_header=True)


@command("sync", arity=1, flags="admin noscript no_async_loading no_multi", group="server")
def sync(ctx, argv):
    return _generic_sync(ctx, None, None, with_header=False)


def _generic_sync(ctx, replid, offset_arg, with_header: bool):
    """syncCommand: a partial resync from the backlog when possible, else a full one."""
    conn = ctx.conn
    repl = ctx.server.replication
    if getattr(conn, "replica", None) is not None:
        return _NO_REPLY            # already a replica: ignore, as Redis does
    if repl.failover.state != NO_FAILOVER:
        raise CommandError(errors.SYNC_WHILE_FAILING_OVER)
    if repl.is_replica and repl.link.state != CONNECTED:
        raise CommandError(errors.NOMASTERLINK)
    stats = ctx.server.stats
    log.info("Replica %s asks for synchronization", conn.addr_text())
    if replid is not None and replid != "?":
        try:
            offset = int(offset_arg)
        except ValueError:
            offset = -1
        if repl.psync(conn, replid, offset) is not None:
            stats.add("sync_partial_ok")
            return _NO_REPLY
        stats.add("sync_partial_err")
    stats.add("sync_full")
    repl.full_sync(conn, with_header)
    return _NO_REPLY


# -- FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (the machinery: replication/failover.py)
@command("failover", arity=-1, flags="admin noscript stale", group="server")
def failover(ctx, argv):
    state = ctx.server.replication.failover
    if len(argv) == 2 and argv[1].lower() == b"abort":
        state.abort_command(ctx)
        return "OK"
    host, port, timeout_ms, force = _parse_failover(argv)
    state.begin(host, port, timeout_ms, force)
    return "OK"


def _parse_failover(argv) -> tuple:
    """failoverCommand's loop: each option once, TIMEOUT > 0, TO host port."""
    host, port, timeout_ms, force = None, 0, 0, False
    i, n = 1, len(argv)
    while i < n:
        option = argv[i].lower()
        if option == b"timeout" and i + 1 < n and timeout_ms == 0:
            timeout_ms = parse_int(argv[i + 1])
            if timeout_ms <= 0:
                raise CommandError(errors.FAILOVER_TIMEOUT_NOT_POSITIVE)
            i += 2
        elif option == b"to" and i + 2 < n and host is None:
            port = parse_int(argv[i + 2])
            host = argv[i + 1].decode("latin-1")
            i += 3
        elif option == b"force" and not force:
            force = True
            i += 1
        else:
            raise CommandError(errors.SYNTAX_ERR)
    return host, port, timeout_ms, force


# -- WAIT ----------------------------------------------------------------------------------------
@command("wait", arity=3, flags="noscript", group="generic", acl="@connection -@keyspace")
def wait(ctx, argv):
    repl = ctx.server.replication
    if repl.is_replica:
        raise CommandError(errors.WAIT_ON_REPLICA)
    needed = parse_int(argv[1])
    deadline = parse_timeout(argv[2], seconds=False)
    target = repl.offset
    acked = repl.acked(target)
    if acked >= needed or ctx.conn.multi is not None:
        return acked
    client_id = ctx.conn.id
    with repl.lock:
        repl.waiters[client_id] = (target, needed)
    repl.feed_command_unselected([b"REPLCONF", b"GETACK", b"*"])

    def on_timeout():
        with repl.lock:
            repl.waiters.pop(client_id, None)
        return repl.acked(target)

    block(ctx, [], deadline, _never_served, timeout_reply=on_timeout)


def _never_served(ctx, key):
    raise AssertionError("WAIT is woken by REPLCONF ACK, never by a key")


# -- ROLE ----------------------------------------------------------------------------------------
@command("role", arity=1, flags="noscript loading stale fast", group="server", acl="@admin @dangerous")
def role(ctx, argv):
    repl = ctx.server.replication
    link = repl.link
    if link is not None:
        offset = repl.offset if link.state == CONNECTED else -1
        return [b"slave", link.host.encode(), link.port, link.state.encode(), offset]
    replicas = [[ip.encode(), b"%d" % port, b"%d" % ack]
                for ip, port, state, ack, _lag in repl.replicas_info() if state == ONLINE]
    return [b"master", repl.offset, replicas]


# -- INFO replication --------------------------------------------------------------------------------
def info_fields(server) -> dict:
    repl = server.replication
    config = server.config
    link = repl.link
    fields: dict = {}
    if link is None:
        fields["role"] = "master"
    else:
        import time
        fields["role"] = "slave"
        fields["master_host"] = link.host
        fields["master_port"] = link.port
        fields["master_link_status"] = "up" if link.state == CONNECTED else "down"
        fields["master_last_io_seconds_ago"] = int(time.time() - link.last_io) if link.state == CONNECTED else -1
        fields["master_sync_in_progress"] = int(link.state == "sync")
        fields["slave_read_repl_offset"] = repl.offset
        fields["slave_repl_offset"] = repl.offset
        if link.state == "sync" and link.sync_total >= 0:
            fields["master_sync_total_bytes"] = link.sync_total
            fields["master_sync_read_bytes"] = link.sync_read
            fields["master_sync_left_bytes"] = link.sync_total - link.sync_read
            fields["master_sync_perc"] = "%.2f" % (100.0 * link.sync_read / link.sync_total if link.sync_total else 0)
            fields["master_sync_last_io_seconds_ago"] = int(time.time() - link.last_io)
        if link.state != CONNECTED:
            fields["master_link_down_since_seconds"] = int(time.time() - link.down_since)
        fields["slave_priority"] = config.replica_priority
        fields["slave_read_only"] = int(config.replica_read_only)
        fields["replica_announced"] = int(config.replica_announced)
    replicas = repl.replicas_info()
    fields["connected_slaves"] = len(replicas)
    if link is None and config.min_replicas_to_write and config.min_replicas_max_lag:
        fields["min_slaves_good_slaves"] = repl.good_replicas()
    for index, (ip, port, state, ack, lag) in enumerate(replicas):
        fields["slave%d" % index] = "ip=%s,port=%d,state=%s,offset=%d,lag=%d" % (ip, port, state, ack, lag)
    backlog = repl.backlog
    fields.update({
        "master_failover_state": repl.failover.state,
        "master_replid": repl.replid,
        "master_replid2": repl.replid2,
        "master_repl_offset": repl.offset,
        "second_repl_offset": repl.second_offset,
        "repl_backlog_active": int(backlog is not None),
        "repl_backlog_size": config.repl_backlog_size,
        "repl_backlog_first_byte_offset": backlog.first_offset if backlog else 0,
        "repl_backlog_histlen": backlog.histlen if backlog else 0,
    })
    return fields
