"""MIGRATE (cluster.c migrateCommand): move keys to another instance with RESTORE.

Like Redis, the transfer is synchronous: the worker does the blocking socket I/O with
the command's key locks held, each step bounded by the given timeout. As in Redis,
connections are cached per host:port for 10 s (migrateGetSocket), remembering the
last SELECTed db; the cron closes idle ones (migrateCloseTimedoutSockets).
"""
from __future__ import annotations

import random
import socket
import threading
import time

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.persistence import rdb
from ferrous.server.blocking import signal_key_ready
from ferrous.server.notify import NOTIFY_GENERIC, notify
from ferrous.storage.keyspace import now_ms

_CHUNK = 64 * 1024          # Redis writes the request in 64K chunks
_LINE_MAX = 1024            # connSyncReadLine's buffer in migrateCommand
_CACHE_TTL = 10.0          # MIGRATE_SOCKET_CACHE_TTL, seconds
_CACHE_ITEMS = 64          # MIGRATE_SOCKET_CACHE_ITEMS
_MAX_TIMEOUT = 10 ** 8     # seconds: larger values overflow socket timeouts; same effect
_SKIP_AFTER = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}


class _LinkError(Exception):
    """A socket failure; `writing` tells which half failed, `timed_out` blocks the retry."""

    def __init__(self, writing: bool, timed_out: bool):
        super().__init__()
        self.writing = writing
        self.timed_out = timed_out


def _migrate_getkeys(argv) -> list:
    """migrateGetKeys: argv[3], or everything after KEYS (which needs argv[3] == "")."""
    i = 6
    while i < len(argv):
        word = argv[i].lower()
        if word == b"keys":
            if argv[3]:
                return []
            return list(range(i + 1, len(argv)))
        i += _SKIP_AFTER.get(word, 0) + 1
    return [3]


def _parse_options(argv) -> dict:
    opts = {"copy": False, "replace": False, "username": None, "password": None, "keys": [argv[3]]}
    j = 6
    while j < len(argv):
        word = argv[j].lower()
        more = len(argv) - 1 - j
        if word == b"copy":
            opts["copy"] = True
        elif word == b"replace":
            opts["replace"] = True
        elif word == b"auth":
            if more < 1:
                raise CommandError(errors.SYNTAX_ERR)
            j += 1
            opts["password"] = argv[j]
        elif word == b"auth2":
            if more < 2:
                raise CommandError(errors.SYNTAX_ERR)
            opts["username"], opts["password"] = argv[j + 1], argv[j + 2]
            j += 2
        elif word == b"keys":
            if argv[3]:
                raise CommandError(errors.MIGRATE_KEYS_NEEDS_EMPTY_KEY)
            opts["keys"] = argv[j + 1:]
            break
        else:
            raise CommandError(errors.SYNTAX_ERR)
        j += 1
    return opts


def _atoi(data: bytes) -> int:
    """C atoi: leading digits with an optional sign, 0 when there are none."""
    text = data.strip()
    end = 1 if text[:1] in (b"-", b"+") else 0
    while end < len(text) and text[end:end + 1].isdigit():
        end += 1
    try:
        return int(text[:end])
    except ValueError:
        return 0


def _resp(argv: list) -> bytes:
    out = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def _connect(host: bytes, port: bytes, timeout: float) -> socket.socket:
    """connBlockingConnect: only a bad address or a connect timeout fail here; a refused
    connection shows up at the first write, as with Redis's non-blocking connect."""
    port_number = _atoi(port)
    if port_number < 0:             # getaddrinfo rejects "-1"; glibc truncates big ones
        raise CommandError(errors.MIGRATE_IOERR_CONNECT)
    port_number &= 0xFFFF
    try:
        infos = socket.getaddrinfo(host.decode(errors="replace"), port_number,
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise CommandError(errors.MIGRATE_IOERR_CONNECT) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except socket.timeout:
        sock.close()
        raise CommandError(errors.MIGRATE_IOERR_CONNECT) from None
    except OSError:
        return _BrokenSocket(sock)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _BrokenSocket:
    """A connection that failed after connect() started: writes fail, like Redis's."""

    def __init__(self, sock):
        sock.close()

    def settimeout(self, timeout):
        pass

    def sendall(self, data):
        raise _LinkError(writing=True, timed_out=False)

    def close(self):
        pass


class _Link:
    """The socket plus connSyncReadLine-style line reads."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.last_dbid = -1        # no SELECT needed while the target is on this db
        self.last_use = time.monotonic()

    def write(self, data: bytes) -> None:
        try:
            for pos in range(0, len(data), _CHUNK):
                self.sock.sendall(data[pos:pos + _CHUNK])
        except socket.timeout:
            raise _LinkError(writing=True, timed_out=True) from None
        except OSError:
            raise _LinkError(writing=True, timed_out=False) from None

    def read_line(self) -> bytes:
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                raise _LinkError(writing=False, timed_out=True) from None
            except OSError:
                raise _LinkError(writing=False, timed_out=False) from None
            if not chunk:
                raise _LinkError(writing=False, timed_out=False)
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r")[:_LINE_MAX - 1]

    def close(self) -> None:
        self.sock.close()


def _build_request(ctx, opts: dict, dbid: int, select: bool, keys: list) -> tuple[bytes, list]:
    """AUTH, SELECT and one RESTORE per key still alive: (request bytes, sent keys)."""
    parts = []
    if opts["password"] is not None:
        auth = [b"AUTH", opts["username"], opts["password"]] if opts["username"] is not None \
            else [b"AUTH", opts["password"]]
        parts.append(_resp(auth))
    if select:
        parts.append(_resp([b"SELECT", dbid]))
    sent = []
    for key, value in keys:
        ttl = 0
        expire_at = ctx.db.get_expire(key)
        if expire_at != -1:
            ttl = expire_at - now_ms()
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        restore = [b"RESTORE", key, ttl, rdb.dump_payload(value, ctx.server.config)]
        if opts["replace"]:
            restore.append(b"REPLACE")
        parts.append(_resp(restore))
        sent.append(key)
    return b"".join(parts), sent


def _delete_moved(ctx, key: bytes) -> None:
    ctx.db.delete(key)
    notify(ctx, NOTIFY_GENERIC, "del", key)
    signal_key_ready(ctx, key)
    ctx.dirty += 1


# -- connection cache (migrateGetSocket / migrateCloseSocket) ---------------------------
_cache: dict = {}
_cache_lock = threading.Lock()


def _take_link(host: bytes, port: bytes, timeout: float) -> _Link:
    """A cached connection (taken out while in use, so workers never share one) or a new one."""
    name = host + b":" + port
    now = time.monotonic()
    with _cache_lock:
        for stale in [n for n, link in _cache.items() if now - link.last_use > _CACHE_TTL]:
            _cache.pop(stale).close()
        link = _cache.pop(name, None)
    if link is None:
        link = _Link(_connect(host, port, timeout))
    link.sock.settimeout(timeout)          # each step of this call gets the full timeout
    return link


def cached_sockets() -> int:
    """INFO's migrate_cached_sockets."""
    with _cache_lock:
        return len(_cache)


def close_timed_out_sockets() -> None:
    """migrateCloseTimedoutSockets, from the cron: a connection idle for more than
    10 s is closed even when no MIGRATE comes again."""
    now = time.monotonic()
    with _cache_lock:
        stale = [name for name, link in _cache.items() if now - link.last_use > _CACHE_TTL]
        links = [_cache.pop(name) for name in stale]
    for link in links:
        link.close()


def _return_link(host: bytes, port: bytes, link: _Link) -> None:
    name = host + b":" + port
    link.last_use = time.monotonic()
    with _cache_lock:
        if len(_cache) >= _CACHE_ITEMS:
            _cache.pop(random.choice(list(_cache))).close()
        previous = _cache.pop(name, None)
        _cache[name] = link
    if previous is not None:
        previous.close()


def _transfer(ctx, argv, opts: dict, dbid: int, timeout: float, keys: list):
    """One attempt: returns the reply, or raises _LinkError (the connection is dropped)."""
    link = _take_link(argv[1], argv[2], timeout)
    try:
        select = link.last_dbid != dbid
        request, sent = _build_request(ctx, opts, dbid, select, keys)
        link.write(request)
        auth_reply = link.read_line() if opts["password"] is not None else b""
        select_reply = link.read_line() if select else b""
        reply = _read_restore_replies(ctx, link, opts, sent, auth_reply, select_reply)
    except _LinkError:
        link.close()
        raise
    except CommandError:
        link.last_dbid = -1        # a target error: SELECT again next time
        _return_link(argv[1], argv[2], link)
        raise
    link.last_dbid = dbid
    _return_link(argv[1], argv[2], link)
    return reply


def _read_restore_replies(ctx, link, opts, sent, auth_reply, select_reply):
    target_error = None
    moved = []
    for index, key in enumerate(sent):
        try:
            line = link.read_line()
        except _LinkError as exc:
            exc.first = index == 0
            exc.moved = moved
            raise
        failed = next((r for r in (auth_reply, select_reply, line) if r[:1] == b"-"), None)
        if failed is not None:
            target_error = target_error or failed[1:].decode(errors="replace")
        elif not opts["copy"]:
            _delete_moved(ctx, key)
            moved.append(key)
    _propagate_as_del(ctx, moved)
    if target_error is not None:
        raise CommandError(errors.MIGRATE_TARGET_ERROR % target_error)
    return "OK"


def _propagate_as_del(ctx, moved: list) -> None:
    # Redis 7.0 replicates MIGRATE as DEL of the keys the target acknowledged.
    if moved:
        ctx.rewrite_propagation([b"DEL", *moved])


@command("migrate", arity=-6, flags="write movablekeys", keys=(3, 3, 1), group="generic",
         acl="@dangerous", getkeys=_migrate_getkeys)
def migrate(ctx, argv):
    opts = _parse_options(argv)
    timeout_ms = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout_ms <= 0:
        timeout_ms = 1000
    keys = [(key, value) for key in opts["keys"] if (value := ctx.read(key)) is not None]
    if not keys:
        return "NOKEY"
    for attempt in (1, 2):
        try:
            return _transfer(ctx, argv, opts, dbid, min(timeout_ms / 1000, _MAX_TIMEOUT), keys)
        except _LinkError as exc:
            moved = getattr(exc, "moved", [])
            _propagate_as_del(ctx, moved)
            # Retry once, only when nothing was processed and it was not a timeout.
            retry = attempt == 1 and not exc.timed_out and getattr(exc, "first", True) and not moved
            if not retry:
                raise CommandError(errors.MIGRATE_IOERR % ("writing" if exc.writing else "reading")) \
                    from None
