"""Client state: everything Redis keeps in its `client` struct that Ferrous needs.

Ownership: the I/O thread owns the socket, the parser and the output buffer; the
one worker holding this connection's WorkItem owns the command state (db, multi,
name, ...). A connection never has two WorkItems in flight, so the two never race
on the same fields.
"""
from __future__ import annotations

import itertools
import time

from ferrous.acl import SUPERUSER
from ferrous.protocol.parser import make_parser

_ids = itertools.count(1)
_id_lock = __import__("threading").Lock()


def next_client_id() -> int:
    with _id_lock:
        return next(_ids)


class Connection:
    is_master = False       # the link to our primary (replication/replica.py) sets it

    def __init__(self, sock, addr, laddr, io_thread, max_bulk_len: int):
        self.id = next_client_id()
        self.sock = sock
        self.fd = sock.fileno() if sock is not None else -1
        self.addr = addr
        self.laddr = laddr
        self.io = io_thread
        self.parser = make_parser(max_bulk_len)
        self.out = bytearray()          # bytes waiting for the socket (I/O thread only)
        self.busy = False               # a WorkItem of this connection is queued or running
        self.closed = False
        self.close_after_reply = False  # QUIT, protocol error, CLIENT KILL of self
        self.kill_requested = False
        self.read_stopped = False
        self.peer_gone = False          # EOF seen; what it sent before still runs (io_thread)
        self.write_registered = False
        # command state
        self.db = 0
        self.resp = 2
        self.name = None
        self.lib_name = None
        self.lib_ver = None
        self.authenticated = True
        self.user = "default"
        self.acl_user = SUPERUSER       # set to the server's default user when registered
        self.flags = set()              # letters shown by CLIENT LIST beyond the defaults
        self.reply_mode = "on"          # CLIENT REPLY on|off|skip
        self.skip_next_reply = False
        self.multi = None               # list of queued argv while in MULTI
        self.multi_error = False
        self.watched = None             # {(db, key): expired when watched} (transactions)
        self.watch_dirty = False
        self.subscribed = False         # pub/sub: any channel, pattern or shard channel
        self.last_command = "NULL"
        self.created = time.time()
        self.last_interaction = self.created
        self.no_evict = False
        self.blocked = None             # set by the blocking machinery (lists, streams, WAIT)
        self.tracking = None            # CLIENT TRACKING state while on (server/tracking.py)
        self.net_input = 0
        self.net_output = 0

    def addr_text(self) -> str:
        return _endpoint_text(self.addr)

    def laddr_text(self) -> str:
        return _endpoint_text(self.laddr)

    @property
    def is_unix(self) -> bool:
        return not isinstance(self.addr, tuple)


def _endpoint_text(addr) -> str:
    """CLIENT LIST's addr/laddr: host:port, [v6]:port, or a unix socket's path:0."""
    if not isinstance(addr, tuple):
        return f"{addr}:0"
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
