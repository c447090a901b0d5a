"""Client-side caching: keys tracking and invalidation (Redis 7.0's tracking.c).

Default mode: the keys a tracking client reads are remembered in one table shared by
every database (key -> client ids); the first change of such a key sends each of
those clients an `invalidate` message and forgets the entry. BCAST mode: clients
subscribe to key prefixes instead, and the keys changed under a prefix are sent in
one message per prefix once the current batch of commands is done (Redis does it in
beforeSleep, once per event loop cycle).

A message to the client whose command is running is held in its worker's
`ctx.tracking_pending` and appended after that command's reply (Redis's
tracking_pending_keys), so it never lands inside a reply. Messages to other clients go
out with the worker's batch of replies, after the replies already computed for them.

Threading: one lock guards the table, the prefix table and every client's tracking
state. The keyspace calls `key_modified` (KeyspaceEvents.on_tracked) only while the
table or a prefix exists, so writes cost one attribute check while nobody tracks.
A key is remembered while its command still holds the key's shard lock, so a writer
of that key (which needs the lock exclusively) always sees the entry.
"""
from __future__ import annotations

import random
import threading

from ferrous.commands.registry import TABLE
from ferrous.server import blocking

CHANNEL = b"__redis__:invalidate"
_PUSH_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
_MESSAGE_INVALIDATE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_NULL_BY_RESP = {2: b"$-1\r\n", 3: b"_\r\n"}
# Read-only scripts count through the commands they call, not as reads themselves.
_NOT_REMEMBERED = frozenset(("eval_ro", "evalsha_ro", "fcall_ro"))
_SEND, _RAW = 0, 1      # kinds of ctx.tracking_pending entries


class ClientTracking:
    """A tracking client's state: Redis's CLIENT_TRACKING_* flags, the redirection
    and the BCAST prefixes (conn.tracking while tracking is on, else None)."""

    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "broken_redir", "prefixes")

    def __init__(self):
        self.redirect = 0
        self.bcast = self.optin = self.optout = self.noloop = False
        self.caching = False          # CLIENT CACHING given for the next command
        self.broken_redir = False
        self.prefixes: dict = {}      # prefix -> None (BCAST)

    def flag_names(self) -> list:
        """CLIENT TRACKINGINFO's flags, in Redis's order."""
        names = [b"on"]
        if self.bcast:
            names.append(b"bcast")
        if self.optin:
            names.append(b"optin")
            if self.caching:
                names.append(b"caching-yes")
        if self.optout:
            names.append(b"optout")
            if self.caching:
                names.append(b"caching-no")
        if self.noloop:
            names.append(b"noloop")
        if self.broken_redir:
            names.append(b"broken_redirect")
        return names


class BroadcastState:
    """One prefix of the prefix table (bcastState)."""

    __slots__ = ("keys", "clients")

    def __init__(self):
        self.keys: dict = {}        # key changed this cycle -> the client that changed it last
        self.clients: dict = {}     # subscribed conn -> None


def install(server) -> "Tracking":
    server.tracking = Tracking(server)
    previous = getattr(server, "on_client_gone", None)

    def on_client_gone(conn):
        if conn.tracking is not None:
            server.tracking.disable(conn)
        if previous is not None:
            previous(conn)

    server.on_client_gone = on_client_gone
    server.cron.tasks.append(server.tracking.cron)
    return server.tracking


def _context():
    """The running worker's Context, None on a background thread (active expiry)."""
    return getattr(blocking._thread, "ctx", None)


def _frame_key(key: bytes) -> bytes:
    return b"*1\r\n$%d\r\n%s\r\n" % (len(key), key)


def _frame_keys(keys) -> bytes:
    parts = [b"*%d\r\n" % len(keys)]
    for key in keys:
        parts.append(b"$%d\r\n%s\r\n" % (len(key), key))
    return b"".join(parts)


class Tracking:
    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.clients = 0                # server.tracking_clients
        self.table: dict = {}           # key -> {client id: None}
        self.total_items = 0            # ids across the whole table
        self.prefixes: dict = {}        # prefix -> BroadcastState
        self.broadcast_pending = False  # some prefix has keys to send
        self.limit_rounds = 0           # trackingLimitUsedSlots' timeout_counter
        # Clients whose read was remembered by workers that have not yet handed the
        # read's reply to the I/O thread -> [such workers, messages held until then]
        # (batch_done), so that an invalidation never overtakes the value it voids.
        self.inflight: dict = {}

    # -- CLIENT TRACKING on/off (enableTracking / disableTracking) --------------------
    def enable(self, conn, redirect: int, bcast: bool, optin: bool, optout: bool, noloop: bool,
               prefixes: list) -> None:
        with self.lock:
            state = conn.tracking
            if state is None:
                state = ClientTracking()
                self.clients += 1
            state.redirect = redirect
            state.broken_redir = False
            state.bcast, state.optin, state.optout, state.noloop = bcast, optin, optout, noloop
            if bcast:
                for prefix in prefixes or [b""]:
                    self._subscribe_prefix(conn, state, prefix)
            conn.tracking = state
            self._update_hook()

    def _subscribe_prefix(self, conn, state, prefix: bytes) -> None:
        bs = self.prefixes.get(prefix)
        if bs is None:
            bs = self.prefixes[prefix] = BroadcastState()
        if conn not in bs.clients:
            bs.clients[conn] = None
            state.prefixes[prefix] = None

    def disable(self, conn) -> None:
        """The client's ids stay in the table and are dropped lazily, as in Redis."""
        with self.lock:
            state = conn.tracking
            if state is None:
                return
            for prefix in state.prefixes:
                bs = self.prefixes.get(prefix)
                if bs is not None:
                    bs.clients.pop(conn, None)
                    if not bs.clients:
                        del self.prefixes[prefix]
            conn.tracking = None
            self.clients -= 1
            self._update_hook()

    def _update_hook(self) -> None:
        """Keyspace changes are reported while anything could need an invalidation."""
        events = self.server.keyspace.events
        wanted = self.key_modified if (self.clients or self.table or self.prefixes) else None
        if events.on_tracked is not wanted:
            events.on_tracked = wanted

    # -- remembering what a client read (trackingRememberKeys) -------------------------
    def remember(self, ctx, conn, cmd, argv: list) -> None:
        """After a read-only command (the caller still holds its keys' locks)."""
        reader = _reader(self.server, conn, cmd, argv)
        if reader is None:
            return
        caller, cmd, argv = reader
        state = caller.tracking
        if state is None or state.bcast:
            return
        if (state.optin and not state.caching) or (state.optout and state.caching):
            return
        if "pubsub" in cmd.flags:
            return
        keys = [argv[i] for i in cmd.key_indexes(argv) if i < len(argv)]
        if not keys:
            return
        client_id = caller.id
        with self.lock:
            self._hold_messages(ctx, caller)
            table = self.table
            for key in keys:
                ids = table.get(key)
                if ids is None:
                    ids = table[key] = {}
                if client_id not in ids:
                    ids[client_id] = None
                    self.total_items += 1
            self._update_hook()

    def _hold_messages(self, ctx, conn) -> None:
        """Until this worker hands conn's reply over (batch_done), messages for conn
        wait: the reply carries the value they would void. The lock is held."""
        if conn.io is None or conn in ctx.tracking_inflight or _context() is not ctx:
            return
        holders = self.inflight.get(conn)
        if holders is None:
            self.inflight[conn] = [1, []]
        else:
            holders[0] += 1
        ctx.tracking_inflight.append(conn)

    # -- invalidation (trackingInvalidateKey) ------------------------------------------
    def key_modified(self, db, key: bytes, by_client: bool = True) -> None:
        """KeyspaceEvents.on_tracked: key changed (by_client False: expired)."""
        if key not in self.table and not self.prefixes:
            return
        ctx = _context()
        current = _current_client(self.server, ctx)
        with self.lock:
            if self.prefixes:
                # signalModifiedKey's client: a script's own client, not its caller.
                modifier = ctx.conn if by_client and ctx is not None else None
                self._remember_for_broadcast(key, modifier)
            self._invalidate(ctx, current, key)

    def _remember_for_broadcast(self, key: bytes, modifier) -> None:
        for prefix, bs in self.prefixes.items():
            if key.startswith(prefix):
                # The last client to change the key, for NOLOOP subscribers.
                bs.keys[key] = modifier
                self.broadcast_pending = True

    def _invalidate(self, ctx, current, key: bytes) -> None:
        """Send key's invalidation to the clients that read it; the lock is held."""
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.total_items -= len(ids)
        clients = self.server.clients
        for client_id in ids:
            target = clients.get(client_id)
            state = target.tracking if target is not None else None
            if state is None or state.bcast:
                continue    # no longer tracking, or switched to BCAST since reading it
            if target is current:
                if state.noloop:
                    continue
                if ctx is not None:
                    ctx.tracking_pending.append((_SEND, target, _frame_key(key)))
                    continue
            self._send(ctx, target, _frame_key(key))
        if not self.table:
            self._update_hook()

    def _send(self, ctx, conn, body: bytes, out_conn=None, out=None) -> None:
        """sendTrackingMessage: body is the RESP of the key array (or a null) for
        conn, delivered to conn or to its redirection target. The lock is held."""
        state = conn.tracking
        redirect = state.redirect if state is not None else 0
        if redirect:
            target = self.server.clients.get(redirect)
            if target is None:
                if state is not None:
                    state.broken_redir = True
                if conn.resp > 2:
                    notice = b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % redirect
                    self._emit(ctx, conn, notice, out_conn, out)
                return
            if target.resp > 2:
                data = _PUSH_INVALIDATE + body
            elif target.subscribed:
                data = _MESSAGE_INVALIDATE + body
            else:
                return
            self._emit(ctx, target, data, out_conn, out)
        elif conn.resp > 2:
            self._emit(ctx, conn, _PUSH_INVALIDATE + body, out_conn, out)
        # A RESP2 client without a redirection cannot receive pushes: nothing is sent.

    def _emit(self, ctx, conn, data: bytes, out_conn, out) -> None:
        if conn is out_conn:
            out += data
            return
        if ctx is not None and out_conn is None and conn is _current_client(self.server, ctx):
            ctx.tracking_pending.append((_RAW, conn, data))     # after its reply
            return
        io = conn.io
        if io is None or conn.closed:
            return
        holders = self.inflight.get(conn)
        if holders is not None:
            holders[1].append(data)     # its read's reply is still on a worker
            return
        replies = getattr(ctx, "batch_replies", None) if ctx is not None else None
        if replies is not None:
            # With this batch's replies: after the ones already computed for conn.
            replies.setdefault(io, []).append((conn, data, "more"))
        else:
            io.deliver(conn, data, "more")

    def flush_pending(self, ctx, conn, out: bytearray) -> None:
        """trackingHandlePendingKeyInvalidations: conn's messages go into out (after
        its reply), anyone else's to their own connection."""
        pending = ctx.tracking_pending
        ctx.tracking_pending = []
        with self.lock:
            for kind, target, payload in pending:
                if kind == _SEND:
                    self._send(ctx, target, payload, conn, out)
                else:
                    self._emit(ctx, target, payload, conn, out)

    # -- FLUSHDB / FLUSHALL (trackingInvalidateKeysOnFlush) -----------------------------
    def flushed(self, ctx) -> None:
        """Every tracking client gets a null invalidation; the table is emptied."""
        current = _current_client(self.server, ctx)
        with self.lock:
            if self.clients:
                for conn in self.server.client_list():
                    if conn.tracking is None:
                        continue
                    body = _NULL_BY_RESP.get(conn.resp, b"_\r\n")
                    if conn is current and ctx is not None:
                        ctx.tracking_pending.append((_SEND, conn, body))
                    else:
                        self._send(ctx, conn, body)
            self.table = {}
            self.total_items = 0
            self._update_hook()

    # -- tracking-table-max-keys (trackingLimitUsedSlots) --------------------------------
    def limit_used_slots(self, ctx) -> None:
        max_keys = self.server.config.tracking_table_max_keys
        if not max_keys or len(self.table) <= max_keys:
            self.limit_rounds = 0
            return
        current = _current_client(self.server, ctx)
        with self.lock:
            excess = len(self.table) - max_keys
            if excess <= 0:
                self.limit_rounds = 0
                return
            # Redis walks the table at random, with more effort each time it is
            # still over the limit.
            effort = 100 * (self.limit_rounds + 1)
            for key in random.sample(list(self.table), min(effort, excess)):
                self._invalidate(ctx, current, key)
            if len(self.table) <= max_keys:
                self.limit_rounds = 0
            else:
                self.limit_rounds += 1

    # -- hooks around commands ---------------------------------------------------------
    def before_command(self, ctx, conn, cmd, out: bytearray) -> None:
        """processCommand: evictions and the table limit may invalidate keys of conn,
        whose messages come before the command's reply."""
        server = self.server
        if server.config.maxmemory and (self.table or self.prefixes) and not cmd.denyoom \
                and server.busy_script is None:
            # Redis evicts before every command (dispatch only does it for the ones
            # it may refuse): a tracking client learns of the evicted keys first.
            # Measured afresh, as Redis does, rather than from the evictor's cached figure.
            server.evictor.last_measure = (0.0, 0)
            server.evictor.perform()
        self.limit_used_slots(ctx)
        if ctx.tracking_pending:
            self.flush_pending(ctx, conn, out)

    def after_command(self, ctx, conn, out: bytearray) -> None:
        """After a top-level command: its invalidations for conn follow its reply;
        CLIENT CACHING lasts for one command (or one transaction) only."""
        if ctx.tracking_pending:
            self.flush_pending(ctx, conn, out)
        state = conn.tracking
        if state is not None and state.caching and conn.multi is None \
                and not conn.last_command.startswith("client|"):
            state.caching = False

    # -- BCAST (trackingBroadcastInvalidationMessages) -------------------------------------
    def broadcast(self) -> None:
        """Send each prefix's changed keys to its subscribers, then start over."""
        with self.lock:
            self.broadcast_pending = False
            for _, bs in sorted(self.prefixes.items()):
                keys, bs.keys = bs.keys, {}
                if not keys:
                    continue
                common = _frame_keys(list(keys))
                for conn in list(bs.clients):
                    state = conn.tracking
                    if state is not None and state.noloop:
                        own = [key for key, modifier in keys.items() if modifier is not conn]
                        if own:
                            self._send(None, conn, _frame_keys(own))
                    else:
                        self._send(None, conn, common)

    def batch_done(self, ctx) -> None:
        """A worker delivered its batch's replies: release the messages held for its
        clients' reads, then send the BCAST messages of the batch."""
        if ctx.tracking_inflight:
            clients, ctx.tracking_inflight = ctx.tracking_inflight, []
            with self.lock:
                for conn in clients:
                    holders = self.inflight.get(conn)
                    if holders is None:
                        continue
                    holders[0] -= 1
                    if holders[0] > 0:
                        continue    # another worker still holds one of its replies
                    del self.inflight[conn]
                    for data in holders[1]:
                        if not conn.closed and conn.io is not None:
                            conn.io.deliver(conn, data, "more")
        if self.broadcast_pending:
            self.broadcast()

    def cron(self) -> None:
        """serverCron and beforeSleep's share: the table limit, then broadcasts."""
        if getattr(self.server, "cron_paused", False):
            return
        if self.clients:
            self.limit_used_slots(None)
        if self.broadcast_pending:
            self.broadcast()

    # -- INFO ------------------------------------------------------------------------------
    def info_stats(self) -> dict:
        with self.lock:
            return {"tracking_total_keys": len(self.table), "tracking_total_items": self.total_items,
                    "tracking_total_prefixes": len(self.prefixes)}


def _reader(server, conn, cmd, argv: list):
    """(client, command, argv) whose keys a read-only command makes the client
    cache: a script's reads stand for the keys the script declared, for its caller;
    read-only scripts count through their reads only. None: nothing to remember."""
    if cmd.name in _NOT_REMEMBERED:
        return None
    if "lua" not in conn.flags:
        return conn, cmd, argv
    run = _script_run(server, conn)
    script_cmd = TABLE.get(run.command_name.encode()) if run is not None else None
    if script_cmd is None:
        return None
    return run.caller, script_cmd, run.argv


def _current_client(server, ctx):
    """server.current_client: the client whose command runs on this worker (a
    script's caller rather than the script's own client), None off the workers."""
    if ctx is None:
        return None
    conn = ctx.conn
    if conn is not None and "lua" in conn.flags:
        run = _script_run(server, conn)
        return run.caller if run is not None else None
    return conn


def _script_run(server, conn):
    """The script run whose client conn is, if any."""
    from ferrous.scripting.state import state as scripting_state
    scripting = scripting_state(server)
    for engine in (scripting.eval_engine, scripting.function_engine):
        if engine is not None and engine.client is conn:
            return engine.current
    return None


def disable(server, conn) -> None:
    """CLIENT TRACKING OFF, RESET: nothing to do for a client that does not track."""
    if conn.tracking is not None:
        server.tracking.disable(conn)
