"""CLIENT and its sub-commands (networking.c clientCommand).

TRACKING, CACHING, GETREDIR and TRACKINGINFO parse and report here; the tracking
table and the invalidation messages live in server/tracking.py.
"""
from __future__ import annotations

import time

from ferrous import errors
from ferrous.commands.args import is_int, parse_int
from ferrous.commands.connection import check_client_name, is_subscribed, on_reset, pubsub_counts
from ferrous.commands.registry import command, container
from ferrous.errors import CommandError
from ferrous.protocol import RespSet, Simple, Verbatim
from ferrous.protocol.parser import _batch_size as batch_size
from ferrous.protocol.types import Raw
from ferrous.server import blocking, tracking

# Redis gives a container only @slow, not its group's category.
container("client", arity=-2, group="connection", acl="-@connection")

# CLIENT LIST's flag letters in the order catClientInfoString writes them.
FLAG_ORDER = "OSMPxbtRBdcuAUre"
# getClientTypeByName
CLIENT_TYPES = {b"normal": "normal", b"slave": "replica", b"replica": "replica",
                b"pubsub": "pubsub", b"master": "master"}
REPLY_BUFFER = 16 * 1024   # Redis's static per-client reply buffer (PROTO_REPLY_CHUNK_BYTES)
CLIENT_STRUCT = 1024       # rough size of the client itself, for tot-mem

HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]


# -- describing a client (CLIENT LIST / CLIENT INFO) -------------------------------

def client_type(conn) -> str:
    """getClientType: MONITOR clients count as normal, not as replicas."""
    flags = conn.flags
    if "M" in flags:
        return "master"
    if "S" in flags and "O" not in flags:
        return "replica"
    if is_subscribed(conn):
        return "pubsub"
    return "normal"


def _flag_letters(conn) -> str:
    letters = set(conn.flags)
    if "O" in letters:
        letters.discard("S")  # a MONITOR is a replica inside Redis but shows as O only
    if is_subscribed(conn):
        letters.add("P")
    if conn.multi is not None:
        letters.add("x")
    if conn.blocked is not None:
        letters.add("b")
    if conn.close_after_reply:
        letters.add("c")
    if conn.no_evict:
        letters.add("e")
    if getattr(conn, "is_unix", False):
        letters.add("U")
    state = conn.tracking
    if state is not None:
        letters.add("t")
        if state.broken_redir:
            letters.add("R")
        if state.bcast:
            letters.add("B")
    return "".join(ch for ch in FLAG_ORDER if ch in letters) or "N"


def _queued_argv(item) -> list:
    """A MULTI queue entry is an argv, or a tuple whose last element is the argv."""
    return item[-1] if isinstance(item, tuple) else item


def _multi_mem(queue) -> int:
    # mstate.argv_len_sums: the arguments plus one pointer per argument.
    if not queue:
        return 0
    return sum(sum(map(len, argv)) + 8 * len(argv) for argv in map(_queued_argv, list(queue)))


# The usable size of a client's query buffer once a read made room for PROTO_IOBUF_LEN
# (jemalloc's 20480-byte class less the sds header), as CLIENT LIST shows it.
QUERY_BUFFER_ALLOC = 20474


def _query_buffer(ctx, conn) -> tuple[int, int]:
    """qbuf and qbuf-free: the running client's query buffer still holds the requests
    of its current read (trimmed only after they all ran), plus any unparsed bytes."""
    qbuf = max(0, conn.parser.pending_bytes())
    if conn is not ctx.conn or not ctx.requests:
        return qbuf, 0
    qbuf += max(0, batch_size(ctx.requests))
    return qbuf, max(0, QUERY_BUFFER_ALLOC - qbuf)


def client_info(ctx, conn, now: float) -> str:
    """One CLIENT LIST line, with Redis 7.0's fields in its order. Memory figures are
    estimates from what the Connection knows."""
    channels, patterns, shard_channels = pubsub_counts(conn)
    multi = conn.multi
    qbuf, qbuf_free = _query_buffer(ctx, conn)
    argv_mem = sum(map(len, ctx.argv)) if conn is ctx.conn else 0
    multi_mem = _multi_mem(multi)
    pending = len(conn.out)
    obl = min(pending, REPLY_BUFFER)
    omem = pending - obl
    oll = -(-omem // REPLY_BUFFER)
    tot_mem = CLIENT_STRUCT + qbuf + argv_mem + multi_mem + REPLY_BUFFER + omem
    name = conn.name.decode("latin-1") if conn.name else ""
    return (
        f"id={conn.id} addr={conn.addr_text()} laddr={conn.laddr_text()} fd={conn.fd} "
        f"name={name} age={int(now - conn.created)} idle={int(now - conn.last_interaction)} "
        f"flags={_flag_letters(conn)} db={conn.db} sub={channels} psub={patterns} "
        f"ssub={shard_channels} multi={-1 if multi is None else len(multi)} qbuf={qbuf} "
        f"qbuf-free={qbuf_free} argv-mem={argv_mem} multi-mem={multi_mem} rbs={REPLY_BUFFER} "
        f"rbp={REPLY_BUFFER} obl={obl} oll={oll} omem={omem} tot-mem={tot_mem} "
        f"events={'rw' if conn.write_registered else 'r'} cmd={conn.last_command} "
        f"user={conn.user} redir={_redirection(conn)} resp={conn.resp}"
    )


def _redirection(conn) -> int:
    state = conn.tracking
    return state.redirect if state is not None else -1


def _client_lines(ctx, clients) -> Verbatim:
    now = time.time()
    text = "".join(client_info(ctx, conn, now) + "\n" for conn in clients)
    return Verbatim(text.encode("utf-8", "surrogateescape"), "txt")


def _parse_client_type(name: bytes) -> str:
    kind = CLIENT_TYPES.get(name.lower())
    if kind is None:
        raise CommandError(errors.UNKNOWN_CLIENT_TYPE % name.decode("utf-8", "surrogateescape"))
    return kind


# -- sub-commands --------------------------------------------------------------------

@command("client|id", arity=2, flags="noscript loading stale")
def client_id(ctx, argv):
    return ctx.conn.id


@command("client|setname", arity=3, flags="noscript loading stale")
def client_setname(ctx, argv):
    check_client_name(argv[2])
    ctx.conn.name = argv[2] or None  # an empty name removes the name
    return "OK"


@command("client|getname", arity=2, flags="noscript loading stale")
def client_getname(ctx, argv):
    return ctx.conn.name


@command("client|setinfo", arity=4, flags="noscript loading stale")
def client_setinfo(ctx, argv):
    """Redis 7.2's CLIENT SETINFO LIB-NAME|LIB-VER value (redis-py sends it on connect).
    Stored only: 7.0's CLIENT LIST has no lib-name/lib-ver fields."""
    attr, value = argv[2], argv[3]
    field = {b"lib-name": "lib_name", b"lib-ver": "lib_ver"}.get(attr.lower())
    attr_text = attr.decode("utf-8", "surrogateescape")
    if field is None:
        raise CommandError(errors.SETINFO_UNRECOGNIZED % attr_text)
    check_client_name(value, errors.SETINFO_BAD_CHARS % attr_text)
    setattr(ctx.conn, field, value or None)
    return "OK"


@command("client|info", arity=2, flags="noscript loading stale")
def client_info_cmd(ctx, argv):
    return _client_lines(ctx, [ctx.conn])


@command("client|list", arity=-2, flags="admin noscript loading stale")
def client_list(ctx, argv):
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = _parse_client_type(argv[3])
        clients = [c for c in ctx.server.client_list() if client_type(c) == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        clients = _clients_by_id(ctx, argv[3:])
    elif len(argv) == 2:
        clients = ctx.server.client_list()
    else:
        raise CommandError(errors.SYNTAX_ERR)
    return _client_lines(ctx, clients)


def _clients_by_id(ctx, ids: list) -> list:
    """Clients in the order their ids were given; unknown ids are left out."""
    wanted = [parse_int(raw, errors.INVALID_CLIENT_ID) for raw in ids]
    by_id = {conn.id: conn for conn in ctx.server.client_list()}
    return [by_id[i] for i in wanted if i in by_id]


@command("client|kill", arity=-3, flags="admin noscript loading stale")
def client_kill(ctx, argv):
    if len(argv) == 3:
        # The old form takes one address, and with it a client may kill itself.
        killed = _kill_matching(ctx, KillFilter(addr=argv[2], skipme=False))
        if not killed:
            raise CommandError(errors.NO_SUCH_CLIENT)
        return "OK"
    return _kill_matching(ctx, _parse_kill_filter(ctx, argv))


class KillFilter:
    """The clients CLIENT KILL picks: every given condition must hold."""

    def __init__(self, addr=None, laddr=None, user=None, kind=None, client_id=0, skipme=True):
        self.addr = addr
        self.laddr = laddr
        self.user = user
        self.kind = kind
        self.client_id = client_id
        self.skipme = skipme

    def matches(self, conn, me) -> bool:
        if self.addr is not None and conn.addr_text().encode() != self.addr:
            return False
        if self.laddr is not None and conn.laddr_text().encode() != self.laddr:
            return False
        if self.kind is not None and client_type(conn) != self.kind:
            return False
        if self.client_id and conn.id != self.client_id:
            return False
        if self.user is not None and conn.user != self.user:
            return False
        return not (conn is me and self.skipme)


def _parse_kill_filter(ctx, argv: list) -> KillFilter:
    filt = KillFilter()
    i = 2
    while i < len(argv):
        if i + 1 >= len(argv):
            raise CommandError(errors.SYNTAX_ERR)
        option, value = argv[i].lower(), argv[i + 1]
        if option == b"id":
            filt.client_id = _parse_client_id(value)
        elif option == b"type":
            filt.kind = _parse_client_type(value)
        elif option == b"addr":
            filt.addr = value
        elif option == b"laddr":
            filt.laddr = value
        elif option == b"user":
            filt.user = _existing_user(ctx, value)
        elif option == b"skipme":
            filt.skipme = _parse_yes_no(value)
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 2
    return filt


def _parse_client_id(value: bytes) -> int:
    # getRangeLongFromObjectOrReply(1, LONG_MAX): one message for every failure.
    if not is_int(value) or int(value) < 1:
        raise CommandError(errors.CLIENT_ID_NOT_POSITIVE)
    return int(value)


def _parse_yes_no(value: bytes) -> bool:
    lowered = value.lower()
    if lowered not in (b"yes", b"no"):
        raise CommandError(errors.SYNTAX_ERR)
    return lowered == b"yes"


def _existing_user(ctx, name: bytes) -> str:
    """The user's name; an unknown user is an error. Without ACL users only 'default' exists."""
    text = name.decode("utf-8", "surrogateescape")
    users = getattr(ctx.server, "acl_users", None)
    exists = text in users if users is not None else text == "default"
    if not exists:
        raise CommandError(errors.NO_SUCH_USER % text)
    return text


def _kill_matching(ctx, filt: KillFilter) -> int:
    me = ctx.conn
    killed = 0
    for conn in ctx.server.client_list():
        if filt.matches(conn, me):
            _kill(conn, me)
            killed += 1
    return killed


def _kill(conn, me) -> None:
    if conn is me:
        conn.close_after_reply = True  # after this command's reply is sent
        return
    # Its own I/O thread owns the socket: ask it to close the connection.
    conn.kill_requested = True
    if conn.io is not None:
        conn.io.deliver(conn, b"", "kill")


@command("client|unblock", arity=-3, flags="admin noscript loading stale")
def client_unblock(ctx, argv):
    """CLIENT UNBLOCK <id> [TIMEOUT|ERROR]: 1 if that client was blocked."""
    if len(argv) > 4:
        name = argv[1].decode("utf-8", "surrogateescape")
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (name, "CLIENT"))
    error = False
    if len(argv) == 4:
        # Redis checks the reason before the id.
        reason = argv[3].lower()
        if reason not in (b"timeout", b"error"):
            raise CommandError(errors.CLIENT_UNBLOCK_REASON)
        error = reason == b"error"
    client_id = parse_int(argv[2])
    return 1 if blocking.unblock(ctx, client_id, error) else 0


@command("client|no-evict", arity=3, flags="admin noscript loading stale")
def client_no_evict(ctx, argv):
    ctx.conn.no_evict = _parse_on_off(argv[2])
    return "OK"


def _parse_on_off(value: bytes) -> bool:
    lowered = value.lower()
    if lowered not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX_ERR)
    return lowered == b"on"


@command("client|reply", arity=3, flags="noscript loading stale")
def client_reply(ctx, argv):
    """Dispatch drops replies while reply_mode is not 'on'; 'skip_next' becomes 'skip'
    once this command is done, so that SKIP silences the command after it."""
    conn = ctx.conn
    mode = argv[2].lower()
    if mode == b"on":
        conn.reply_mode = "on"
        return "OK"
    if mode == b"off":
        conn.reply_mode = "off"
    elif mode == b"skip":
        if conn.reply_mode != "off":
            conn.reply_mode = "skip_next"
    else:
        raise CommandError(errors.SYNTAX_ERR)
    return None


@command("client|tracking", arity=-3, flags="noscript loading stale")
def client_tracking(ctx, argv):
    """CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]."""
    options = _parse_tracking_options(ctx, argv)
    conn = ctx.conn
    mode = argv[2].lower()
    if mode == b"off":
        tracking.disable(ctx.server, conn)
        return "OK"
    if mode != b"on":
        raise CommandError(errors.SYNTAX_ERR)
    _check_tracking_modes(conn.tracking, options)
    overlap = None
    if options.bcast:
        overlap = _prefix_overlap(conn.tracking, options.prefixes)
        if overlap is not None and overlap[1] == 0:
            raise CommandError(overlap[0])
    ctx.server.tracking.enable(conn, options.redirect, options.bcast, options.optin,
                               options.optout, options.noloop, options.prefixes)
    if overlap is not None:
        # checkPrefixCollisionsOrReply reports an overlap found past the first prefix
        # and still lets tracking go on: Redis sends the error and then +OK.
        return Raw(b"-%s\r\n+OK\r\n" % overlap[0].encode("utf-8", "surrogateescape"))
    return "OK"


class TrackingOptions:
    def __init__(self):
        self.redirect = 0
        self.bcast = self.optin = self.optout = self.noloop = False
        self.prefixes: list = []


def _parse_tracking_options(ctx, argv: list) -> TrackingOptions:
    options = TrackingOptions()
    j = 3
    while j < len(argv):
        option = argv[j].lower()
        more = j + 1 < len(argv)
        if option == b"redirect" and more:
            j += 1
            if options.redirect != 0:
                raise CommandError(errors.TRACKING_SINGLE_REDIRECT)
            options.redirect = parse_int(argv[j])
            # The target must exist now, even if it may go away later.
            if options.redirect not in ctx.server.clients:
                raise CommandError(errors.TRACKING_NO_SUCH_REDIRECT)
        elif option == b"bcast":
            options.bcast = True
        elif option == b"optin":
            options.optin = True
        elif option == b"optout":
            options.optout = True
        elif option == b"noloop":
            options.noloop = True
        elif option == b"prefix" and more:
            j += 1
            options.prefixes.append(argv[j])
        else:
            raise CommandError(errors.SYNTAX_ERR)
        j += 1
    return options


def _check_tracking_modes(state, options: TrackingOptions) -> None:
    """The option combinations CLIENT TRACKING ON refuses, in Redis's order."""
    if options.prefixes and not options.bcast:
        raise CommandError(errors.TRACKING_PREFIX_NEEDS_BCAST)
    if state is not None and state.bcast != options.bcast:
        raise CommandError(errors.TRACKING_SWITCH_BCAST)
    if options.bcast and (options.optin or options.optout):
        raise CommandError(errors.TRACKING_OPTIN_OPTOUT_BCAST)
    if options.optin and options.optout:
        raise CommandError(errors.TRACKING_OPTIN_AND_OPTOUT)
    if state is not None and ((options.optin and state.optout) or (options.optout and state.optin)):
        raise CommandError(errors.TRACKING_SWITCH_OPTIN_OPTOUT)


def _prefix_overlap(state, prefixes: list):
    """checkPrefixCollisionsOrReply: None, or (error text, index of the prefix) for
    the first prefix that overlaps an existing one or a later given one."""
    existing = sorted(state.prefixes) if state is not None else []
    for i, prefix in enumerate(prefixes):
        for old in existing:
            if _overlaps(old, prefix):
                return errors.TRACKING_PREFIX_OVERLAPS_EXISTING % (_c_text(prefix), _c_text(old)), 0
        for other in prefixes[i + 1:]:
            if _overlaps(prefix, other):
                return errors.TRACKING_PREFIX_OVERLAPS_GIVEN % (_c_text(prefix), _c_text(other)), i
    return None


def _overlaps(a: bytes, b: bytes) -> bool:
    """stringCheckPrefix: one is a prefix of the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _c_text(data: bytes) -> str:
    """What %s prints of a binary string: up to its first NUL."""
    return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


@command("client|caching", arity=3, flags="noscript loading stale")
def client_caching(ctx, argv):
    state = ctx.conn.tracking
    # Redis checks tracking mode before looking at the argument.
    if state is None:
        raise CommandError(errors.CLIENT_CACHING_NO_TRACKING)
    answer = argv[2].lower()
    if answer == b"yes":
        if not state.optin:
            raise CommandError(errors.CACHING_YES_NEEDS_OPTIN)
    elif answer == b"no":
        if not state.optout:
            raise CommandError(errors.CACHING_NO_NEEDS_OPTOUT)
    else:
        raise CommandError(errors.SYNTAX_ERR)
    state.caching = True    # for the next command only (tracking.after_command)
    return "OK"


@command("client|getredir", arity=2, flags="noscript loading stale")
def client_getredir(ctx, argv):
    state = ctx.conn.tracking
    return state.redirect if state is not None else -1


@command("client|trackinginfo", arity=2, flags="noscript loading stale")
def client_trackinginfo(ctx, argv):
    state = ctx.conn.tracking
    if state is None:
        return {b"flags": RespSet([b"off"]), b"redirect": -1, b"prefixes": []}
    return {b"flags": RespSet(state.flag_names()), b"redirect": state.redirect,
            b"prefixes": sorted(state.prefixes)}


@on_reset
def _reset_tracking(ctx, conn):
    tracking.disable(ctx.server, conn)


@command("client|help", arity=2, flags="loading stale")
def client_help(ctx, argv):
    return [Simple(line) for line in HELP]


# -- CLIENT PAUSE / UNPAUSE (server/introspection.py ClientPause) -----------------------

@command("client|pause", arity=-3, flags="admin noscript loading stale")
def client_pause(ctx, argv):
    if len(argv) > 4:
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (argv[1].decode("utf-8", "surrogateescape"), "CLIENT"))
    timeout = parse_int(argv[2], errors.TIMEOUT_NOT_INTEGER_MS)
    if timeout < 0:
        raise CommandError(errors.TIMEOUT_IS_NEGATIVE)
    mode = "all"
    if len(argv) == 4:
        mode = {b"write": "write", b"all": "all"}.get(argv[3].lower())
        if mode is None:
            raise CommandError(errors.CLIENT_PAUSE_MODE)
    ctx.server.watch.pause.start(mode, timeout)
    return "OK"


@command("client|unpause", arity=2, flags="admin noscript loading stale")
def client_unpause(ctx, argv):
    ctx.server.watch.pause.stop(ctx)
    return "OK"
