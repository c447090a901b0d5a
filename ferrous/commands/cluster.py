"""The cluster group (cluster.c) as Redis answers it with `cluster-enabled no`.

Ferrous has no cluster mode (config.py refuses `cluster-enabled yes`), so it is
always the server Redis is without it: every CLUSTER sub-command, ASKING, READONLY
and READWRITE reply "This instance has cluster support disabled", after the usual
unknown-sub-command and arity checks, exactly as clusterCommand and friends do.
"""
from __future__ import annotations

from ferrous import errors
from ferrous.commands.registry import command, container
from ferrous.errors import CommandError

container("cluster", arity=-2, group="cluster")

# (sub-command, arity, flags) in the order Redis 7.0.15's COMMAND INFO lists them
# (its command dict's order).
_ADMIN = "admin stale no_async_loading"
_SUBCOMMANDS = (
    ("slaves", 3, "admin stale"),
    ("slots", 2, "stale"),
    ("delslotsrange", -4, _ADMIN),
    ("nodes", 2, "stale"),
    ("info", 2, "stale"),
    ("meet", -4, _ADMIN),
    ("addslots", -3, _ADMIN),
    ("addslotsrange", -4, _ADMIN),
    ("replicate", 3, _ADMIN),
    ("reset", -2, "admin noscript stale"),
    ("replicas", 3, "admin stale"),
    ("links", 2, "stale"),
    ("myid", 2, "stale"),
    ("flushslots", 2, _ADMIN),
    ("saveconfig", 2, _ADMIN),
    ("delslots", -3, _ADMIN),
    ("help", 2, "loading stale"),
    ("count-failure-reports", 3, "admin stale"),
    ("set-config-epoch", 3, _ADMIN),
    ("forget", 3, _ADMIN),
    ("shards", 2, "stale"),
    ("countkeysinslot", 3, "stale"),
    ("getkeysinslot", 4, "stale"),
    ("keyslot", 3, "stale"),
    ("bumpepoch", 2, _ADMIN),
    ("setslot", -4, _ADMIN),
    ("failover", -2, _ADMIN),
)


def _cluster_disabled(ctx, argv):
    raise CommandError(errors.CLUSTER_DISABLED)


for _name, _arity, _flags in _SUBCOMMANDS:
    command(f"cluster|{_name}", arity=_arity, flags=_flags)(_cluster_disabled)


@command("asking", arity=1, flags="fast", group="cluster", acl="@connection")
def asking(ctx, argv):
    raise CommandError(errors.CLUSTER_DISABLED)


@command("readonly", arity=1, flags="loading stale fast", group="cluster", acl="@connection")
def readonly(ctx, argv):
    raise CommandError(errors.CLUSTER_DISABLED)


@command("readwrite", arity=1, flags="loading stale fast", group="cluster", acl="@connection")
def readwrite(ctx, argv):
    raise CommandError(errors.CLUSTER_DISABLED)
