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

from ferrous.protocol import ProtocolError
from ferrous.server.connection import Connection

log = logging.getLogger("ferrous.io")

READ_SIZE = 1 << 16
# Stop reading from a client whose unsent replies pile up past this; resume once drained.
OUTPUT_BACKPRESSURE = 8 << 20
MAX_COMMANDS_PER_ITEM = 1024


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
        self._wake_pending = False
        self.running = True
        self.connections: set = set()

    # -- called from other threads --------------------------------------------
    def wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
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
        self._wake_pending = False
        self.wake()

    # -- the loop -----------------------------------------------------------
    def run(self) -> None:
        select = self.selector.select
        submit = self.server.submit
        while self.running:
            try:
                events = select(1.0)
            except InterruptedError:
                continue
            ready = []
            for key, mask in events:
                conn = key.data
                if conn is None:
                    self._drain_wake_pipe()
                    continue
                if mask & selectors.EVENT_WRITE:
                    self._flush(conn)
                if mask & selectors.EVENT_READ and not conn.closed:
                    item = self._on_readable(conn)
                    if item is not None:
                        ready.append(item)
            # Clear the flag before draining, so a reply queued after this point wakes us again.
            self._wake_pending = False
            self._accept_new()
            self._process_responses(ready)
            if ready:
                submit(ready)
        self._shutdown()

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
            self._close(conn)
            return None
        conn.net_input += len(data)
        self.server.stats.add_net_input(len(data))
        conn.parser.feed(data)
        if conn.busy:
            return None  # queued in the parser; submitted when the in-flight item returns
        return self._make_item(conn)

    def _make_item(self, conn):
        parser = conn.parser
        commands = []
        error = None
        try:
            while len(commands) < MAX_COMMANDS_PER_ITEM:
                argv = parser.next_command()
                if argv is None:
                    break
                commands.append(argv)
        except ProtocolError as exc:
            error = exc.message
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
            if action == "close":
                conn.close_after_reply = True
            elif action == "kill":
                self._close(conn)
                continue
            elif action == "more":
                # A parked command's reply or a pub/sub message: the busy flag is left as is.
                self._flush(conn)
                if conn.subscribed and conn.out and self._over_pubsub_limit(conn):
                    self._close(conn)   # client-output-buffer-limit pubsub
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
            if conn.parser.has_data() and len(conn.out) < OUTPUT_BACKPRESSURE:
                item = self._make_item(conn)
                if item is not None:
                    ready.append(item)

    def _over_pubsub_limit(self, conn) -> bool:
        """checkClientOutputBufferLimits for a subscriber's unsent output: over the
        hard limit, or over the soft one for longer than its seconds."""
        hard, soft, seconds = self.server.config.client_output_buffer_limit["pubsub"]
        size = len(conn.out)
        if hard and size > hard:
            return True
        if not soft or size <= soft:
            conn.obuf_soft_since = None
            return False
        since = getattr(conn, "obuf_soft_since", None)
        now = time.monotonic()
        if since is None:
            conn.obuf_soft_since = now
            return False
        return now - since > seconds

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
        events = 0 if (conn.close_after_reply or conn.read_stopped) else selectors.EVENT_READ
        if conn.write_registered:
            events |= selectors.EVENT_WRITE
        if events == 0:
            events = selectors.EVENT_WRITE
        try:
            self.selector.modify(conn.sock, events, conn)
        except (KeyError, ValueError, OSError):
            pass

    def _stop_reading(self, conn) -> None:
        # After a protocol error nothing more is read; the worker's reply closes it.
        conn.read_stopped = True
        self._update_events(conn)

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
        os.close(self._wake_r)
        os.close(self._wake_w)


class Acceptor(threading.Thread):
    """Accepts connections on the listening sockets and deals them out round robin."""

    def __init__(self, server, listeners: list):
        super().__init__(name="ferrous-acceptor", daemon=True)
        self.server = server
        self.listeners = listeners
        self.running = True

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        for sock in self.listeners:
            selector.register(sock, selectors.EVENT_READ)
        turn = 0
        while self.running:
            for key, _ in selector.select(0.5):
                try:
                    sock, addr = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE):
                        log.warning("accept: %s", exc)
                    continue
                if not self.server.admit(sock, addr):
                    continue
                sock.setblocking(False)
                if sock.family in (socket.AF_INET, socket.AF_INET6):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                io_threads = self.server.io_threads
                io_threads[turn % len(io_threads)].add_connection(sock, addr)
                turn += 1
        selector.close()
