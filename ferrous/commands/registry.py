"""The one command table: dispatch, arity, COMMAND INFO/DOCS/COUNT/GETKEYS, ACL
categories and shard locking all read it (DESIGN.md §3).

Command modules declare entries with @command; `load_all()` imports every module
so the table is complete before the server starts.
"""
from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from typing import Callable

# Redis's flag and ACL-category orders (server.h bit order), used by COMMAND INFO.
FLAG_ORDER = [
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "may_replicate", "sentinel", "only_sentinel", "no_mandatory_keys", "no_propagate",
    "no_async_loading", "no_multi", "allow_busy", "movablekeys",
]
CATEGORY_ORDER = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
]
GROUP_CATEGORY = {
    "string": "string", "list": "list", "hash": "hash", "set": "set",
    "sorted-set": "sortedset", "stream": "stream", "bitmap": "bitmap",
    "hyperloglog": "hyperloglog", "geo": "geo", "pubsub": "pubsub",
    "generic": "keyspace", "transactions": "transaction", "scripting": "scripting",
    "connection": "connection",
}

LOCK_NONE, LOCK_KEYS, LOCK_ALL = 0, 1, 2


@dataclass(eq=False)
class Command:
    name: str                      # "get", or "config|get" for a sub-command
    handler: Callable | None
    arity: int
    flags: frozenset
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    group: str = ""
    categories: tuple = ()
    getkeys: Callable | None = None  # argv -> list of key indexes, for movable keys
    lock: int = LOCK_NONE
    parent: "Command | None" = None
    subcommands: dict = field(default_factory=dict)
    # Precomputed flags read on the hot path.
    is_write: bool = False
    is_readonly: bool = False
    no_auth: bool = False
    denyoom: bool = False

    @property
    def fullname(self) -> str:
        return self.name

    def key_indexes(self, argv: list) -> list[int]:
        """The positions in argv that hold keys (COMMAND GETKEYS, locking, ACL)."""
        if self.getkeys is not None:
            return self.getkeys(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, self.step))


TABLE: dict[bytes, Command] = {}


def _categories(flags: frozenset, group: str, extra: str) -> tuple:
    """ACL categories as Redis derives them (setImplicitACLCategories) plus explicit ones."""
    cats = set(c.lstrip("@") for c in extra.split())
    if "write" in flags:
        cats.add("write")
    if "readonly" in flags and group != "scripting":
        cats.add("read")
    if "admin" in flags:
        cats.update(("admin", "dangerous"))
    if "pubsub" in flags:
        cats.add("pubsub")
    if "fast" in flags:
        cats.add("fast")
    if "blocking" in flags:
        cats.add("blocking")
    if "fast" not in cats:
        cats.add("slow")
    if group in GROUP_CATEGORY:
        cats.add(GROUP_CATEGORY[group])
    for c in extra.split():
        if c.startswith("-@"):
            cats.discard(c[2:])
    return tuple(c for c in CATEGORY_ORDER if c in cats)


def command(name: str, arity: int, flags: str = "", keys: tuple = (0, 0, 0), group: str = "",
            acl: str = "", getkeys: Callable | None = None, lock: int | None = None):
    """Declare a command (or 'container|sub' sub-command) and register its handler."""
    flagset = frozenset(flags.split())

    def register(handler: Callable) -> Callable:
        parent_name, _, sub = name.partition("|")
        parent = TABLE.get(parent_name.encode()) if sub else None
        if sub and parent is None:
            raise RuntimeError(f"container {parent_name!r} must be declared before {name!r}")
        grp = group or (parent.group if parent else "")
        lock_mode = lock
        if lock_mode is None:
            lock_mode = LOCK_KEYS if (keys[0] > 0 or getkeys is not None) else LOCK_NONE
        cmd = Command(
            name=name, handler=handler, arity=arity, flags=flagset,
            first_key=keys[0], last_key=keys[1], step=keys[2], group=grp,
            categories=_categories(flagset, grp, acl), getkeys=getkeys, lock=lock_mode,
            parent=parent, is_write="write" in flagset, is_readonly="readonly" in flagset,
            no_auth="no_auth" in flagset, denyoom="denyoom" in flagset,
        )
        if sub:
            parent.subcommands[sub.encode()] = cmd
        else:
            TABLE[name.encode()] = cmd
        handler.command = cmd
        return handler

    return register


def container(name: str, arity: int, group: str, flags: str = "", acl: str = "") -> None:
    """Declare a command that only dispatches to sub-commands (CONFIG, CLIENT, ...)."""
    flagset = frozenset(flags.split())
    # Redis gives containers only the categories their flags imply (CLIENT is just
    # @slow); the group's category belongs to the sub-commands.
    TABLE[name.encode()] = Command(
        name=name, handler=None, arity=arity, flags=flagset, group=group,
        categories=_categories(flagset, "", acl),
    )


def lookup(argv: list) -> Command | None:
    """Command for argv (sub-command resolved when there is one), or None if unknown."""
    return TABLE.get(argv[0].lower())


# One module per command group (like Redis's t_string.c, t_list.c); modules that
# have not landed yet are skipped, so their commands reply as unknown commands.
COMMAND_MODULES = [
    "connection", "client", "strings", "keys", "server", "introspection", "acl",
    "lists", "hashes", "sets", "zsets", "bitmaps", "hyperloglog", "geo", "sort",
    "streams", "pubsub", "transactions", "scripting", "replication", "persistence", "aof",
    "module", "migrate", "cluster", "lolwut", "debug",
]


def load_all() -> dict[bytes, Command]:
    for module in COMMAND_MODULES:
        try:
            importlib.import_module(f"ferrous.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ferrous.commands.{module}":
                raise
    return TABLE


_META: dict | None = None


def redis_meta() -> dict:
    """Tips, key specs and docs recorded from Redis 7.0 (tools/capture_redis_meta.py)."""
    global _META
    if _META is None:
        path = os.path.join(os.path.dirname(__file__), "redis_meta.json")
        with open(path) as fh:
            _META = json.load(fh)
    return _META
