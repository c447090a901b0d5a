"""The replica side (replication.c's slave half): a background thread that follows a
primary — handshake, full or partial resync, then the command stream applied in
order — and acknowledges its offset every second.

The stream's commands run through the normal dispatcher as a "master client"
(Connection.is_master): read-only replicas accept its writes, and what it writes
reaches our AOF through the propagate step, while our own replicas get the
primary's bytes unchanged (proxied here), so offsets agree along a chain.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

from ferrous.persistence.aof_format import encode_command

log = logging.getLogger("ferrous.replication")

CONNECT, CONNECTING, SYNC, CONNECTED = "connect", "connecting", "sync", "connected"
HANDSHAKE = "handshake"     # Redis's REPL_STATE_RECEIVE_* states, up to the PSYNC answer

# replicationCron's words when the link stays silent for repl-timeout seconds.
_TIMEOUT_MESSAGES = {
    CONNECTING: "Timeout connecting to the MASTER...",
    HANDSHAKE: "Timeout connecting to the MASTER...",
    SYNC: "Timeout receiving bulk data from MASTER... If the problem persists try to set "
          "the 'repl-timeout' parameter in redis.conf to a larger value.",
    CONNECTED: "MASTER timeout: no data nor PING received...",
}


class LinkError(Exception):
    pass


class StreamReader:
    """Incremental reader of the primary's stream: multibulk commands and their sizes."""

    def __init__(self):
        self.buffer = bytearray()
        self.pos = 0

    def feed(self, data: bytes) -> None:
        if self.pos > 65536:
            del self.buffer[:self.pos]
            self.pos = 0
        self.buffer += data

    def next_command(self):
        """(argv, size in bytes) or None when incomplete."""
        buffer, start = self.buffer, self.pos
        if start >= len(buffer):
            return None
        if buffer[start] == 0x0A:           # a keepalive newline
            self.pos = start + 1
            return [], 1
        if buffer[start] != 0x2A:           # '*'
            raise LinkError("Protocol error: expected '*', got '%c'" % buffer[start])
        end = buffer.find(b"\r\n", start)
        if end < 0:
            return None
        count = int(buffer[start + 1:end])
        pos = end + 2
        argv = []
        for _ in range(count):
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                return None
            if buffer[pos] != 0x24:         # '$'
                raise LinkError("Protocol error: expected '$'")
            length = int(buffer[pos + 1:end])
            pos = end + 2
            if pos + length + 2 > len(buffer):
                return None
            argv.append(bytes(buffer[pos:pos + length]))
            pos += length + 2
        self.pos = pos
        return argv, pos - start


class ReplicaLink:
    def __init__(self, server, host: str, port: int):
        self.server = server
        self.host = host
        self.port = port
        self.state = CONNECT
        self.sock: socket.socket | None = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ferrous-replica-link", daemon=True)
        self.last_io = time.time()
        self.down_since = time.time()
        self.sync_total = -1
        self.sync_read = 0
        self.sync_started = 0.0
        self.read_offset = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=5)

    # -- the connection loop ----------------------------------------------------------------
    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._connect_and_follow()
            except socket.timeout:
                if not self.stop_event.is_set():
                    log.warning(_TIMEOUT_MESSAGES.get(self.state, _TIMEOUT_MESSAGES[CONNECTING]))
            except (OSError, LinkError, ValueError) as exc:
                if not self.stop_event.is_set():
                    log.warning("Replication link with %s:%d: %s", self.host, self.port, exc)
            except Exception:
                log.exception("Replication link failed")
            finally:
                self._close()
            if self.state == CONNECTED:
                self.down_since = time.time()
            self.state = CONNECT
            self.stop_event.wait(1.0)

    def _close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _connect_and_follow(self) -> None:
        self.state = CONNECTING
        log.info("Connecting to MASTER %s:%d", self.host, self.port)
        source = self.server.config.bind_source_addr   # bind-source-addr: our end's address
        self.sock = socket.create_connection((self.host, self.port), timeout=self._timeout(),
                                             source_address=(source, 0) if source else None)
        self.sock.settimeout(1.0)   # replicationCron's once-a-second look at the link
        self.last_io = time.time()
        self.state = HANDSHAKE
        self.reader = StreamReader()
        self._handshake()
        self._follow()

    def _timeout(self) -> float:
        return float(self.server.config.repl_timeout)

    # -- handshake (syncWithMaster) -----------------------------------------------------------
    def _handshake(self) -> None:
        config = self.server.config
        reply = self._request([b"PING"])
        if reply.startswith(b"-") and not reply.startswith((b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")):
            raise LinkError("Error reply to PING from master: '%s'" % reply.decode(errors="replace"))
        if config.masterauth:
            auth = [b"AUTH"]
            if config.masteruser:
                auth.append(config.masteruser.encode())
            auth.append(config.masterauth.encode())
            reply = self._request(auth)
            if reply.startswith(b"-"):
                raise LinkError("Unable to AUTH to MASTER: %s" % reply.decode(errors="replace"))
        port = config.replica_announce_port or self.server.port
        self._request([b"REPLCONF", b"listening-port", b"%d" % port])
        if config.replica_announce_ip:
            self._request([b"REPLCONF", b"ip-address", config.replica_announce_ip.encode()])
        self._request([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        self._psync()

    def _psync(self) -> None:
        repl = self.server.replication
        if repl.backlog is not None:
            request = [b"PSYNC", repl.replid.encode(), b"%d" % (repl.offset + 1)]
        else:
            request = [b"PSYNC", b"?", b"-1"]
        failover = repl.failover
        generation, extra = failover.psync_argument()   # FAILOVER: the target takes over
        if extra:
            reply = self._failover_psync(failover, generation, request + extra)
        else:
            reply = self._request(request)
        while reply == b"":     # newlines: the primary is waiting to start its BGSAVE
            reply = self._read_line()
        if reply.startswith(b"+FULLRESYNC"):
            _, replid, offset = reply.split()
            self._full_resync(replid.decode(), int(offset))
        elif reply.startswith(b"+CONTINUE"):
            parts = reply.split()
            if len(parts) > 1 and parts[1].decode() != repl.replid:
                # The primary's history has a new ID: ours becomes the previous one.
                with repl.lock:
                    repl.replid2 = repl.replid
                    repl.second_offset = repl.offset + 1
                    repl.replid = parts[1].decode()
                repl.disconnect_replicas()
            log.info("Successful partial resynchronization with master.")
        else:
            raise LinkError("Unexpected reply to PSYNC from master: %s" % reply.decode(errors="replace"))

    def _failover_psync(self, failover, generation: int, request: list) -> bytes:
        """PSYNC ... FAILOVER (syncWithMaster during a failover): the answer, which
        failover.py hears of; anything but +CONTINUE / +FULLRESYNC aborts the failover."""
        try:
            self.sock.sendall(encode_command(request))
        except OSError:
            failover.psync_answered(generation, False, "Write error to failover target")
            raise
        try:
            reply = self._read_line()
            while reply == b"":
                reply = self._read_line()
        except (OSError, LinkError):
            reply = b""
        accepted = reply.startswith((b"+FULLRESYNC", b"+CONTINUE"))
        failover.psync_answered(generation, accepted, "Failover target rejected psync request")
        if not accepted:
            raise LinkError("Unexpected reply to PSYNC from master: %s" % reply.decode(errors="replace"))
        return reply

    def _full_resync(self, replid: str, offset: int) -> None:
        log.info("Full resync from master: %s:%d", replid, offset)
        self.state = SYNC           # REPL_STATE_TRANSFER
        self.master_conn = None     # the stream starts afresh (with a SELECT)
        server = self.server
        repl = server.replication
        server.replica_loading = None
        try:
            # Diskless load reads the RDB from the socket: the replica is loading from
            # the first byte (asynchronously, serving the old data, when the primary's
            # history is ours: repl-diskless-load swapdb with the same replication ID).
            if self._diskless_load():
                swapdb = self.server.config.repl_diskless_load == "swapdb"
                server.replica_loading = "async" if swapdb and repl.replid == replid else "sync"
            payload = self._read_payload()
            log.info("MASTER <-> REPLICA sync: Flushing old data")
            log.info("MASTER <-> REPLICA sync: Loading DB in memory")
            server.replica_loading = server.replica_loading or "sync"
            self._load_payload(payload, replid, offset)
        finally:
            server.replica_loading = None
        repl.disconnect_replicas()      # they must resync with our new history
        aof = getattr(server, "aof", None)
        if aof is not None and aof.enabled:
            aof.rewrite_background()    # restartAOFAfterSYNC
        log.info("MASTER <-> REPLICA sync: Finished with success")

    def _diskless_load(self) -> bool:
        """useDisklessLoad: swapdb always, on-empty-db when we hold no keys."""
        mode = self.server.config.repl_diskless_load
        return mode == "swapdb" or (mode == "on-empty-db" and not any(
            db.size() for db in self.server.keyspace.dbs))

    def _load_payload(self, payload: bytes, replid: str, offset: int) -> None:
        from ferrous.persistence.saving import load_into_keyspace
        server = self.server
        keyspace = server.keyspace
        repl = server.replication
        keyspace.lock_all()
        try:
            for db in keyspace.dbs:
                db.flush()
            load_into_keyspace(server, payload, aof_preamble=False)
            with repl.lock:
                repl.replid = replid
                repl.replid2 = "0" * 40
                repl.second_offset = -1
                repl.offset = offset
                from ferrous.replication.backlog import Backlog
                repl.backlog = Backlog(server.config.repl_backlog_size, offset)
                repl.selected_db = -1
        finally:
            keyspace.unlock_all()

    def _read_payload(self) -> bytes:
        line = self._read_line()
        while line == b"":              # newlines the primary sends while it prepares the RDB
            line = self._read_line()
        if not line.startswith(b"$"):
            raise LinkError("Bad protocol from MASTER, the first byte is not '$'")
        self.sync_started = time.time()
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            data = bytearray()
            while not data.endswith(mark):
                data += self._recv()
            self.sync_total = 0
            return bytes(data[:-len(mark)])
        size = int(line[1:])
        self.sync_total = size
        data = bytearray(self._take_buffered(size))
        while len(data) < size:
            chunk = self._recv(min(size - len(data), 1 << 20))
            data += chunk
            self.sync_read = len(data)
        return bytes(data)

    # -- the stream ----------------------------------------------------------------------------
    def _follow(self) -> None:
        from ferrous.server.connection import Connection
        server = self.server
        ctx = _stream_context(server)
        master = Connection(None, (self.host, self.port), ("0.0.0.0", server.port), None, 1 << 62)
        master.is_master = True
        master.flags.add("M")
        previous = getattr(self, "master_conn", None)
        if previous is not None:    # a partial resync: the stream goes on in its database
            master.db = previous.db     # (Redis resurrects its cached master client)
        from ferrous.storage.keyspace import primary_stream
        primary_stream.applying = True      # this thread runs the primary's commands only
        self.master_conn = master
        master.io = _LinkIO(self)       # CLIENT KILL TYPE MASTER (or its ADDR) drops the link
        _register_client(server, master)
        try:
            self._apply_stream(ctx, master)
        finally:
            server.unregister_client(master)

    def _apply_stream(self, ctx, master) -> None:
        """Run the primary's commands as they arrive; acknowledge once a second."""
        from ferrous.server.dispatch import execute
        repl = self.server.replication
        self.state = CONNECTED
        self.sock.settimeout(1.0)
        out = bytearray()
        last_ack = 0.0
        while not self.stop_event.is_set():
            while True:
                item = self.reader.next_command()
                if item is None:
                    break
                argv, size = item
                if not argv:
                    continue            # a keepalive newline, not part of the stream
                if _is_getack(argv):
                    self._send_ack()
                else:
                    self._wait_while_busy_script()
                    execute(ctx, master, argv, out)
                    if out[:1] == b"-":
                        self._error_from_stream(master, bytes(out))
                    out.clear()
                raw = bytes(self.reader.buffer[self.reader.pos - size:self.reader.pos])
                repl.feed_raw(raw)      # our backlog and our replicas: the same bytes
            now = time.monotonic()
            if now - last_ack >= 1.0:
                last_ack = now
                self._send_ack()
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                if time.time() - self.last_io > self._timeout():
                    raise socket.timeout()
                continue
            if not data:
                raise LinkError("Connection with master lost.")
            self.last_io = time.time()
            self.read_offset += len(data)
            self.reader.feed(data)

    def _wait_while_busy_script(self) -> None:
        """processInputBuffer leaves the master's input alone while a script is busy
        (past busy-reply-threshold): its commands run once the script is done, instead
        of being refused with -BUSY."""
        server = self.server
        while getattr(server, "busy_script", None) is not None and not self.stop_event.is_set():
            time.sleep(0.01)

    def _error_from_stream(self, master, reply: bytes) -> None:
        """afterErrorReply for the master client: a command of the primary's stream
        failed here, so the datasets may diverge. Logged with the latest backlog (the
        failed command is not in it yet), and fatal under propagation-error-behavior
        panic / panic-on-replicas unless the replica is writable."""
        config = self.server.config
        text = reply.split(b"\r\n", 1)[0][:4096].decode("utf-8", "replace")
        # addReplyError*'s own messages are logged without their "-ERR " (most errors);
        # shared error objects keep their "-CODE".
        text = text[5:] if text.startswith("-ERR ") else text
        name = master.last_command if master.last_command not in (None, "NULL") else "<unknown>"
        log.warning("== CRITICAL == This replica is sending an error to its master: '%s' after "
                    "processing the command '%s'", text, name)
        backlog = self.server.replication.backlog
        if backlog is not None and backlog.histlen:
            tail = backlog.since(backlog.first_offset)[-256:]
            log.warning("Latest backlog is: '%s'", _sds_repr(tail))
        if config.replica_read_only and config.propagation_error_behavior in ("panic", "panic-on-replicas"):
            log.warning("Guru Meditation: This replica panicked sending an error to its master "
                        "after processing the command '%s'", name)
            logging.shutdown()
            os._exit(1)     # serverPanic

    def _send_ack(self) -> None:
        offset = self.server.replication.offset
        self.sock.sendall(encode_command([b"REPLCONF", b"ACK", b"%d" % offset]))

    # -- socket helpers ---------------------------------------------------------------------------
    def _request(self, argv: list) -> bytes:
        self.sock.sendall(encode_command(argv))
        return self._read_line()

    def _read_line(self) -> bytes:
        reader = self.reader
        while True:
            buffer = reader.buffer
            end = buffer.find(b"\n", reader.pos)
            if end >= 0:
                line = bytes(buffer[reader.pos:end]).rstrip(b"\r")
                reader.pos = end + 1
                return line
            reader.feed(self._sock_recv(1 << 16))

    def _take_buffered(self, limit: int) -> bytes:
        reader = self.reader
        data = bytes(reader.buffer[reader.pos:reader.pos + limit])
        reader.pos += len(data)
        return data

    def _recv(self, size: int = 1 << 16) -> bytes:
        reader = self.reader
        if reader.pos < len(reader.buffer):
            data = bytes(reader.buffer[reader.pos:reader.pos + size])
            reader.pos += len(data)
            return data
        return self._sock_recv(size)

    def _sock_recv(self, size: int) -> bytes:
        """Wait for the primary's bytes; silent for more than repl-timeout whole seconds
        (Redis compares unixtime seconds) is a timeout (socket.timeout)."""
        while True:
            try:
                data = self.sock.recv(size)
                break
            except socket.timeout:
                if int(time.time()) - int(self.last_io) > self._timeout() or self.stop_event.is_set():
                    raise
        if not data:
            raise LinkError("Connection with master lost.")
        self.last_io = time.time()
        return data


class _LinkIO:
    """The master client's stand-in for an I/O thread: nothing is ever sent to the
    primary as a reply, and killing the client (CLIENT KILL) drops the link, after
    which it reconnects and continues partially, as Redis's cached master does."""

    def __init__(self, link):
        self.link = link

    def deliver(self, conn, data, action) -> None:
        if action in ("kill", "close"):
            sock = self.link.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _register_client(server, conn) -> None:
    """Listed in CLIENT LIST (flags=M) and reachable by CLIENT KILL, like Redis's
    master client; it keeps its own (unrestricted) user."""
    with server._clients_lock:
        server.clients[conn.id] = conn


def _sds_repr(data: bytes) -> str:
    """sdscatrepr without the quotes: printable bytes as they are, the rest escaped."""
    named = {0x5C: "\\\\", 0x22: '\\"', 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x07: "\\a", 0x08: "\\b"}
    return "".join(named.get(b) or (chr(b) if 32 <= b < 127 else "\\x%02x" % b) for b in data)


def _stream_context(server):
    """The context the primary's stream runs in: one for the server's life, counted
    with the workers' contexts so INFO commandstats, CONFIG RESETSTAT and the dirty
    count see the replicated commands, as Redis counts its master client's calls."""
    from ferrous.server.context import Context
    ctx = getattr(server, "replica_stream_context", None)
    if ctx is None:
        ctx = server.replica_stream_context = Context(server)
        workers = getattr(server, "workers", None)
        if workers is not None:
            workers.contexts.append(ctx)
    return ctx


def _is_getack(argv: list) -> bool:
    return len(argv) >= 2 and argv[0].lower() == b"replconf" and argv[1].lower() == b"getack"
