"""Client limits (networking.c / server.c): maxclients, timeout, tcp-keepalive,
proto-max-bulk-len, client-query-buffer-limit and client-output-buffer-limit,
plus the health of the server's own threads.

Everything here runs where Redis runs it:
- the acceptor asks `too_many_clients()` before taking a connection (acceptCommonHandler);
- the I/O thread asks `query_buffer_exceeded()` after each read (readQueryFromClient)
  and `output_buffer_exceeded()` after appending a reply (closeClientOnOutputBufferReachedLimit);
- the server cron calls `close_idle_clients()` (clientsCronHandleTimeout).
The checks cost one comparison on the hot path unless a limit is close.
"""
from __future__ import annotations

import logging
import socket
import threading
import time

log = logging.getLogger("ferrous.limits")

# Redis's static reply buffer (PROTO_REPLY_CHUNK_BYTES): replies that fit in it are not
# counted against client-output-buffer-limit, only what spills into the reply list.
REPLY_CHUNK_BYTES = 16 * 1024
QBUF_LOG_BYTES = 64     # "qbuf initial bytes" shown in the log line (sdscatrepr(..., 64))


def install(server) -> None:
    """Wire the limits into a server: config listeners, the cron task, INFO fields."""
    server.thread_health = ThreadHealth(server)
    server.config.on_change("proto-max-bulk-len", lambda value: _set_max_bulk_len(server, value))
    server.cron.tasks.append(lambda: close_idle_clients(server))
    chain_info(server, "info_ferrous", server.thread_health.info)   # INFO ferrous


# -- maxclients ----------------------------------------------------------------------
def too_many_clients(server) -> bool:
    """Connected clients, counting those accepted but not yet registered by their I/O
    thread, have reached maxclients."""
    pending = sum(len(io.new_connections) for io in server.io_threads)
    return len(server.clients) + pending >= server.config.maxclients


# -- tcp-keepalive -------------------------------------------------------------------
def set_keepalive(sock, interval: int) -> None:
    """anetKeepAlive: probes after `interval` idle seconds, then every interval/3,
    declaring the peer dead after 3 unanswered ones."""
    if interval <= 0 or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, interval // 3))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    except OSError:
        pass    # keepalive is best effort, as in Redis (it only logs at verbose level)


# -- proto-max-bulk-len --------------------------------------------------------------
def _set_max_bulk_len(server, value: int) -> None:
    # Redis reads server.proto_max_bulk_len while parsing, so a change applies to
    # clients already connected too.
    for conn in server.client_list():
        conn.parser.max_bulk_len = value


# -- client-query-buffer-limit -------------------------------------------------------
def query_buffer_exceeded(conn, config) -> bool:
    """True (and logged as Redis does) when conn's unparsed input passed the limit;
    the caller closes it without a reply."""
    if conn.parser.pending_bytes() <= config.client_query_buffer_limit:
        return False
    log.warning("Closing client that reached max query buffer length: %s (qbuf initial bytes: %s)",
                client_description(conn), _repr_initial_bytes(conn))
    return True


def _repr_initial_bytes(conn) -> str:
    parser = getattr(conn.parser, "_python", conn.parser)
    buf = getattr(parser, "_buf", b"")
    pos = getattr(parser, "_pos", 0)
    pending = getattr(conn.parser, "_pending", None)
    head = bytes(pending[0][:QBUF_LOG_BYTES]) if pending else bytes(buf[pos:pos + QBUF_LOG_BYTES])
    return sds_repr(head)


def sds_repr(data: bytes) -> str:
    """sdscatrepr: a double-quoted, escaped rendering of bytes."""
    special = {0x5C: "\\\\", 0x22: '\\"', 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x07: "\\a", 0x08: "\\b"}
    out = []
    for byte in data:
        if byte in special:
            out.append(special[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append("\\x%02x" % byte)
    return '"' + "".join(out) + '"'


# -- client-output-buffer-limit ------------------------------------------------------
def client_class(conn) -> str:
    """getClientType for the limits: replicas (not MONITOR), subscribers, the rest."""
    flags = conn.flags
    if "S" in flags and "O" not in flags:
        return "slave"
    if conn.subscribed:
        return "pubsub"
    return "normal"


def output_buffer_exceeded(conn, config) -> bool:
    """checkClientOutputBufferLimits: the unsent output beyond Redis's static reply
    buffer is over the hard limit, or over the soft one for more than its seconds.
    When True the caller closes conn at once, dropping its output (CLOSE_ASAP)."""
    hard, soft, seconds = config.client_output_buffer_limit[client_class(conn)]
    used = len(conn.out) - REPLY_CHUNK_BYTES
    over_hard = hard and used >= hard
    over_soft = False
    if soft and used >= soft:
        now = int(time.time())  # whole seconds, as Redis's server.unixtime
        since = getattr(conn, "obuf_soft_since", None)
        if since is None:
            conn.obuf_soft_since = now
        else:
            over_soft = now - since > seconds
    else:
        conn.obuf_soft_since = None
    if not (over_hard or over_soft):
        return False
    log.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                client_description(conn))
    return True


# -- timeout -------------------------------------------------------------------------
def close_idle_clients(server) -> None:
    """clientsCronHandleTimeout: close clients idle for more than `timeout` seconds,
    except replicas, subscribers and blocked clients (their own timeout applies)."""
    maxidle = server.config.timeout
    if not maxidle:
        return
    now = time.time()
    for conn in server.client_list():
        if (conn.closed or conn.busy or conn.blocked is not None or conn.subscribed
                or "S" in conn.flags or "O" in conn.flags or getattr(conn, "is_master", False)):
            continue    # replicas, MONITORs and our primary's link are never idle-closed
        if now - conn.last_interaction > maxidle:
            log.info("Closing idle client")
            conn.io.deliver(conn, b"", "kill")


# -- logging helpers -----------------------------------------------------------------
class _NoCommand:
    """Stands in for a worker Context when describing a client from an I/O thread."""
    conn = None
    argv = ()


def client_description(conn) -> str:
    """The CLIENT LIST line Redis puts in its log messages (catClientInfoString)."""
    try:
        from ferrous.commands.client import client_info
        return client_info(_NoCommand, conn, time.time())
    except Exception:   # never let a log line take a connection down
        return f"id={conn.id} addr={conn.addr_text()}"


# -- thread supervision --------------------------------------------------------------
class ThreadHealth:
    """Counts crashes of the server's threads, for INFO ferrous (Ferrous-only fields):
    ferrous_threads_alive, ferrous_threads_expected, ferrous_thread_crashes."""

    def __init__(self, server):
        self.server = server
        self.crashes = 0
        self._lock = threading.Lock()

    def crashed(self) -> None:
        with self._lock:
            self.crashes += 1

    def threads(self) -> list:
        server = self.server
        threads = list(server.io_threads)
        if server.workers is not None:
            threads += server.workers.threads
        if server.acceptor is not None:
            threads.append(server.acceptor)
        threads.append(server.cron.thread)
        return threads

    def info(self) -> dict:
        threads = self.threads()
        return {"ferrous_threads_alive": sum(t.is_alive() for t in threads),
                "ferrous_threads_expected": len(threads),
                "ferrous_thread_crashes": self.crashes}


def chain_info(server, name: str, provider) -> None:
    """Add fields to an INFO section without displacing another module's provider."""
    previous = getattr(server, name, None)

    def combined():
        fields = previous() if callable(previous) else {}
        fields.update(provider())
        return fields

    setattr(server, name, combined)
