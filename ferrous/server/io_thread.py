"""I/O threads: each owns a selector (epoll/kqueue) and its connections' sockets.

Read → parse → one WorkItem per connection holding every command of that read;
all WorkItems of one select pass go to the command queue together. Workers hand
replies back through this thread's response queue and wake it through a pipe.
"""
from __future__ import annotations

import collections
import errno
import logging
import os
import selectors
import socket
import threading
import time

from ferrous.scripting import busy
from ferrous.scripting.gil import gil_enabled
from ferrous.server import limits
from ferrous.server.connection import Connection

log = logging.getLogger("ferrous.io")

READ_SIZE = 1 << 16
# Stop reading from a client whose unsent replies pile up past this; resume once drained.
OUTPUT_BACKPRESSURE = 8 << 20
MAX_COMMANDS_PER_ITEM = 1024
# On a GIL build, how long an I/O thread waits for the replies of what it just
# submitted before it goes back to select() (see _await_replies).
REPLY_WAIT_SECONDS = 0.005


class WorkItem:
    __slots__ = ("conn", "commands", "error")

    def __init__(self, conn, commands, error=None):
        self.conn = conn
        self.commands = commands
        self.error = error  # a ProtocolError message to send after the commands, then close


class IOThread(threading.Thread):
    def __init__(self, server, index: int):
        super().__init__(name=f"ferrous-io-{index}", daemon=True)
        self.server = server
        self.index = index
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self.responses = collections.deque()   # (conn, bytes | None, action)
        self.new_connections = collections.deque()
        # A delivery writes the wake-up pipe only while this thread sleeps in select():
        # otherwise the thread is certain to look at its queues before sleeping again,
        # and the write (plus the read that drains it) is saved. Both flags change
        # under _wake_lock, so this holds without the GIL.
        self._wake_lock = threading.Lock()
        self._polling = False
        self._wake_pending = False
        # _await_replies: held by this thread except while a delivery has just
        # released it; _awaiting says a delivery should release it (under _wake_lock).
        self._replies_arrived = threading.Lock()
        self._replies_arrived.acquire()
        self._awaiting = False
        self.await_replies = gil_enabled()
        self.running = True
        self.connections: set = set()

    # -- called from other threads --------------------------------------------
    def wake(self) -> None:
        with self._wake_lock:
            if self._awaiting:
                self._awaiting = False
                self._replies_arrived.release()
                return
            if not self._polling or self._wake_pending:
                return
            self._wake_pending = True
        self._write_wake_pipe()

    def _write_wake_pipe(self) -> None:
        # Under the lock so that a late wake (a worker delivering the SHUTDOWN
        # reply) never writes to a closed, and maybe reused, descriptor.
        with self._wake_lock:
            if self._wake_w < 0:
                return
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:
                pass  # the pipe is full: the thread is certain to wake anyway

    def add_connection(self, sock, addr) -> None:
        self.new_connections.append((sock, addr))
        self.wake()

    def deliver(self, conn, data, action=None) -> None:
        """Replies for conn (from a worker); action 'close' closes after sending."""
        self.responses.append((conn, data, action))
        self.wake()

    def deliver_many(self, replies: list) -> None:
        """A worker's replies for several of this thread's connections, one wake-up."""
        self.responses.extend(replies)
        self.wake()

    def stop(self) -> None:
        self.running = False
        self._write_wake_pipe()

    # -- the loop -----------------------------------------------------------
    def run(self) -> None:
        # Supervision: an unexpected exception is logged with its traceback and the
        # loop carries on; one that a single client caused closes only that client.
        while self.running:
            try:
                self._serve()
            except Exception:
                log.exception("I/O thread %s failed; carrying on", self.name)
                self.server.thread_health.crashed()
        self._shutdown()

    def _serve(self) -> None:
        select = self.selector.select
        submit = self.server.submit
        while self.running:
            try:
                events = select(self._start_polling())
            except InterruptedError:
                continue
            finally:
                with self._wake_lock:
                    self._polling = self._wake_pending = False
            ready = []
            for key, mask in events:
                conn = key.data
                if conn is None:
                    self._drain_wake_pipe()
                    continue
                try:
                    if mask & selectors.EVENT_WRITE:
                        self._flush(conn)
                        item = self._resume_after_backpressure(conn)
                        if item is not None:
                            ready.append(item)
                    if mask & selectors.EVENT_READ and not conn.closed:
                        item = self._on_readable(conn)
                        if item is not None:
                            ready.append(item)
                except Exception:
                    log.exception("I/O thread %s failed on client id=%s; closing it", self.name, conn.id)
                    self.server.thread_health.crashed()
                    self._close(conn)
            self._accept_new()
            self._process_responses(ready)
            if ready:
                if self.server.busy_script is not None:  # answer BUSY here: workers may wait on locks
                    ready = busy.serve_while_busy(self.server, ready)
                submit(ready)
                if ready and self.await_replies:
                    self._await_replies()   # the next select() then returns at once

    def _await_replies(self) -> None:
        """On a GIL build, sleep until a worker delivers the replies just submitted
        (at most REPLY_WAIT_SECONDS) instead of returning to select() at once.

        The worker then runs its batch without this thread taking the GIL back after
        each recv/send of other clients (the convoy a GIL build suffers), and the
        delivery costs a lock release instead of a pipe write and an epoll wake-up.
        The threads only ever ran one at a time; this makes them take turns cheaply.
        """
        with self._wake_lock:
            if self.responses:
                return
            self._awaiting = True
        arrived = self._replies_arrived.acquire(timeout=REPLY_WAIT_SECONDS)
        with self._wake_lock:
            if self._awaiting:          # timed out: no delivery will release it now
                self._awaiting = False
            elif not arrived:           # a delivery released it just after the timeout
                self._replies_arrived.acquire()

    def _start_polling(self) -> float:
        """select()'s timeout: 0 if work was queued while this thread was busy."""
        with self._wake_lock:
            self._polling = True
            queued = bool(self.responses) or bool(self.new_connections)
        return 0 if queued else 1.0

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _accept_new(self) -> None:
        new = self.new_connections
        while new:
            sock, addr = new.popleft()
            try:
                laddr = sock.getsockname()
            except OSError:
                sock.close()
                continue
            if sock.family == socket.AF_UNIX:
                addr = laddr        # Redis shows the socket's path as both ends
            conn = Connection(sock, addr, laddr, self, self.server.config.proto_max_bulk_len)
            conn.authenticated = not self.server.auth_required()
            conn.parser.auth_required = not conn.authenticated
            self.connections.add(conn)
            self.server.register_client(conn)
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _on_readable(self, conn):
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            self._close(conn)
            return None
        if not data:
            return self._peer_closed(conn)
        conn.net_input += len(data)
        self.server.stats.add_net_input(len(data))
        if conn.read_stopped:
            return None     # after a protocol error input is dropped, but a disconnect still seen
        conn.last_interaction = time.time()
        conn.parser.feed(data)
        if limits.query_buffer_exceeded(conn, self.server.config):
            self._close(conn)   # client-query-buffer-limit: closed without a reply
            return None
        if conn.busy:
            return None  # queued in the parser; submitted when the in-flight item returns
        return self._make_item(conn)

    def _peer_closed(self, conn):
        """EOF. Redis runs the commands of a read right after it, before it can see
        the end of the stream, so a client that writes and closes at once (a SET sent
        with nc, a pipeline thrown over the wall) still has what it sent run: the
        commands in flight or already parsed run first, and the connection closes
        after them. A parked client (BLPOP ...) is closed at once, as Redis does."""
        if conn.read_stopped or conn.close_after_reply or conn.blocked is not None:
            self._close(conn)
            return None
        if not conn.busy:
            item = self._make_item(conn)
            if item is None:
                self._close(conn)
                return None
        else:
            item = None
        conn.peer_gone = True
        self._update_events(conn)       # nothing more to read
        return item

    def _drain_after_eof(self, conn, ready: list) -> None:
        """The next commands of a client that has gone (_peer_closed), or its close."""
        item = self._make_item(conn)
        if item is not None:
            ready.append(item)
            return
        conn.close_after_reply = True   # nothing left to run: close once the replies are out
        if not conn.out:
            self._close(conn)

    def _make_item(self, conn):
        # One call for every complete command of the read (the parser batches them).
        commands, error = conn.parser.next_commands(MAX_COMMANDS_PER_ITEM)
        if not commands and error is None:
            return None
        conn.busy = True
        if error is not None:
            self._stop_reading(conn)
        return WorkItem(conn, commands, error)

    def _process_responses(self, ready: list) -> None:
        responses = self.responses
        while responses:
            conn, data, action = responses.popleft()
            if conn.closed:
                continue
            if data:
                conn.out += data
                if len(conn.out) > limits.REPLY_CHUNK_BYTES and limits.output_buffer_exceeded(
                        conn, self.server.config):
                    self._close(conn)   # client-output-buffer-limit: its output is dropped
                    continue
            if action == "close":
                conn.close_after_reply = True
            elif action == "kill":
                self._close(conn)
                continue
            elif action == "more":
                # A parked command's reply or a pub/sub message: the busy flag is left as is.
                self._flush(conn)
                if conn.peer_gone and conn.blocked is not None and not conn.closed:
                    self._close(conn)   # parked after its client went away (_peer_closed)
                continue
            conn.busy = False
            self._flush(conn)
            if conn.closed:
                continue
            if conn.close_after_reply:
                if not conn.out:
                    self._close(conn)
                continue
            if conn.kill_requested:
                self._close(conn)
                continue
            if conn.peer_gone:
                self._drain_after_eof(conn, ready)
                continue
            if conn.parser.has_data() and len(conn.out) < OUTPUT_BACKPRESSURE:
                item = self._make_item(conn)
                if item is not None:
                    ready.append(item)

    def _resume_after_backpressure(self, conn):
        """Commands read while a big reply was pending wait until it drains below
        OUTPUT_BACKPRESSURE; they must then be submitted even if the client sends
        nothing more (it is waiting for their replies)."""
        if (conn.busy or conn.closed or conn.read_stopped or conn.close_after_reply
                or len(conn.out) >= OUTPUT_BACKPRESSURE
                or not conn.parser.has_data()):
            return None
        return self._make_item(conn)

    def _flush(self, conn) -> None:
        if conn.closed:
            return
        out = conn.out
        if out:
            try:
                sent = conn.sock.send(out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(conn)
                return
            if sent:
                conn.net_output += sent
                self.server.stats.add_net_output(sent)
                del out[:sent]
        if out:
            if not conn.write_registered:
                conn.write_registered = True
                self._update_events(conn)
            return
        if conn.write_registered:
            conn.write_registered = False
            self._update_events(conn)
        if conn.close_after_reply and not conn.busy:
            self._close(conn)

    def _update_events(self, conn) -> None:
        if conn.peer_gone:
            self._watch_writes_only(conn)
            return
        events = 0 if conn.close_after_reply else selectors.EVENT_READ
        if conn.write_registered:
            events |= selectors.EVENT_WRITE
        if events == 0:
            events = selectors.EVENT_WRITE
        try:
            self.selector.modify(conn.sock, events, conn)
        except (KeyError, ValueError, OSError):
            pass

    def _watch_writes_only(self, conn) -> None:
        """A client gone (_peer_closed) is watched only while output waits for room:
        its end of stream would otherwise wake select() at every pass."""
        selector = self.selector
        try:
            if not conn.write_registered:
                selector.unregister(conn.sock)
            elif conn.sock in selector.get_map():
                selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
            else:
                selector.register(conn.sock, selectors.EVENT_WRITE, conn)
        except (KeyError, ValueError, OSError):
            pass

    def _stop_reading(self, conn) -> None:
        # After a protocol error nothing more is parsed; the worker's reply closes it.
        # The socket stays watched for reading, as in Redis, so that a client that
        # goes away while its last commands are blocked (BLPOP ... 0) is noticed.
        conn.read_stopped = True

    def _close(self, conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            conn.sock.close()
        except OSError:
            pass
        self.connections.discard(conn)
        self.server.unregister_client(conn)

    def _shutdown(self) -> None:
        for conn in list(self.connections):
            self._close(conn)
        self.selector.close()
        with self._wake_lock:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1


class Acceptor(threading.Thread):
    """Accepts connections on the listening sockets and deals them out round robin."""

    def __init__(self, server, listeners: list):
        super().__init__(name="ferrous-acceptor", daemon=True)
        self.server = server
        self.listeners = listeners
        self.running = True

    def run(self) -> None:
        selector = None
        watched = None
        turn = 0
        while self.running:
            if self.listeners is not watched:   # CONFIG SET port/bind (server/listeners.py)
                if selector is not None:
                    selector.close()
                watched = self.listeners
                selector = selectors.DefaultSelector()
                for sock in watched:
                    selector.register(sock, selectors.EVENT_READ)
            for key, _ in selector.select(0.5):
                try:
                    sock, addr = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE):
                        log.warning("accept: %s", exc)
                    continue
                try:
                    if not self._hand_out(sock, addr, turn):
                        continue
                except Exception:
                    # Supervision: a failure with one connection never stops accepting.
                    log.exception("acceptor failed on a new connection; closing it")
                    self.server.thread_health.crashed()
                    sock.close()
                    continue
                turn += 1
        selector.close()

    def _hand_out(self, sock, addr, turn: int) -> bool:
        if not self.server.admit(sock, addr):
            return False
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            limits.set_keepalive(sock, self.server.config.tcp_keepalive)
        io_threads = self.server.io_threads
        io_threads[turn % len(io_threads)].add_connection(sock, addr)
        return True
