"""Sans-IO request parser: multibulk (`*N $len ...`) and inline (`PING\r\n`) requests.

Mirrors networking.c's processMultibulkBuffer/processInlineBuffer: same limits and
the same error texts. The parser keeps its state between feeds, so a large bulk
string arriving in many small reads is never rescanned from the start.
"""
from __future__ import annotations

from itertools import chain as _chain_iterables

_chain = _chain_iterables.from_iterable

PROTO_INLINE_MAX_SIZE = 64 * 1024
PROTO_MBULK_BIG_ARG = 32 * 1024
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
MAX_MULTIBULK_LEN = 2**31 - 1  # INT_MAX
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384


class ProtocolError(Exception):
    """The client sent bytes that are not RESP; Redis replies -ERR and closes."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def split_inline_args(line: bytes) -> list[bytes] | None:
    """sdssplitargs: whitespace-separated args with "double" (escapes) and 'single' quotes.

    Returns None for unbalanced quotes (Redis: "unbalanced quotes in request").
    """
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\v\f\x00":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 3 < n and line[i + 1] == 0x78 and _is_hex(line[i + 2]) and _is_hex(line[i + 3]):
                    current.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    current.append({0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}.get(line[i], line[i]))
                elif c == 0x22:
                    # closing quote must be followed by a space or nothing
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f\x00":
                        return None
                    in_dq = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_sq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    current.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f\x00":
                        return None
                    in_sq = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\v\f\x00":
                    break
                if c == 0x22:
                    in_dq = True
                elif c == 0x27:
                    in_sq = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))


def _is_hex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


class RequestParser:
    """feed(bytes) then next_command() until it returns None.

    `max_bulk_len` is proto-max-bulk-len; `authenticated` is read through a callable
    so that the unauthenticated limits follow the connection's state.
    """

    __slots__ = ("_buf", "_pos", "_argc", "_args", "_bulk_len", "max_bulk_len", "auth_required")

    def __init__(self, max_bulk_len: int = DEFAULT_MAX_BULK_LEN):
        self._buf = bytearray()
        self._pos = 0
        self._argc = 0          # remaining args of the multibulk being read; 0 = between commands
        self._args: list = []
        self._bulk_len = -1     # length of the bulk being read, -1 = expecting its `$` line
        self.max_bulk_len = max_bulk_len
        self.auth_required = False

    def feed(self, data) -> None:
        self._buf += data

    def pending_bytes(self) -> int:
        return len(self._buf) - self._pos

    def has_data(self) -> bool:
        return len(self._buf) > self._pos

    def next_commands(self, limit: int) -> tuple[list, str | None]:
        """Up to limit complete commands, and the ProtocolError text that stopped them."""
        return _collect(self.next_command, limit)

    def next_command(self) -> list[bytes] | None:
        """The next complete command's argv, or None if more bytes are needed."""
        while True:
            if self._argc == 0:
                buf = self._buf
                pos = self._pos
                if pos >= len(buf):
                    self._compact()
                    return None
                if buf[pos] == 0x2A:  # '*'
                    command = self._start_multibulk()
                else:
                    command = self._inline()
                if command is None:
                    return None
                if command is _SKIP:
                    continue
                return command
            command = self._read_bulks()
            if command is None:
                return None
            return command

    def _compact(self):
        if self._pos:
            del self._buf[:self._pos]
            self._pos = 0

    def _inline(self):
        buf, pos = self._buf, self._pos
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big inline request")
            self._compact()
            return None
        end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
        line = bytes(buf[pos:end])
        self._pos = nl + 1
        args = split_inline_args(line)
        if args is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        if not args:
            return _SKIP
        return args

    def _start_multibulk(self):
        buf, pos = self._buf, self._pos
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big mbulk count string")
            self._compact()
            return None
        try:
            count = int(buf[pos + 1:nl])
        except ValueError:
            raise ProtocolError("Protocol error: invalid multibulk length") from None
        if count > MAX_MULTIBULK_LEN or not _is_plain_int(buf, pos + 1, nl):
            raise ProtocolError("Protocol error: invalid multibulk length")
        if count > UNAUTH_MAX_MULTIBULK and self.auth_required:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        self._pos = nl + 2
        if count <= 0:
            return _SKIP
        self._argc = count
        self._args = []
        self._bulk_len = -1
        return self._read_bulks()

    def _read_bulks(self):
        buf = self._buf
        args = self._args
        pos = self._pos
        blen = self._bulk_len
        argc = self._argc
        size = len(buf)
        while argc:
            if blen < 0:
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    if size - pos > PROTO_INLINE_MAX_SIZE:
                        raise ProtocolError("Protocol error: too big bulk count string")
                    break
                if buf[pos] != 0x24:  # '$'
                    raise ProtocolError("Protocol error: expected '$', got '%c'" % buf[pos])
                try:
                    blen = int(buf[pos + 1:nl])
                except ValueError:
                    raise ProtocolError("Protocol error: invalid bulk length") from None
                if blen < 0 or blen > self.max_bulk_len or not _is_plain_int(buf, pos + 1, nl):
                    raise ProtocolError("Protocol error: invalid bulk length")
                if blen > UNAUTH_MAX_BULK and self.auth_required:
                    raise ProtocolError("Protocol error: unauthenticated bulk length")
                pos = nl + 2
            end = pos + blen
            if end + 2 > size:
                break
            args.append(bytes(buf[pos:end]))
            pos = end + 2
            blen = -1
            argc -= 1
        self._pos = pos
        self._bulk_len = blen
        self._argc = argc
        if argc:
            # Drop consumed bytes so a huge value arriving slowly is not copied repeatedly.
            if pos > 65536:
                self._compact()
            return None
        self._args = []
        if pos == size:
            buf.clear()
            self._pos = 0
        return args


def _is_plain_int(buf, start: int, end: int) -> bool:
    """string2ll rejects '+', spaces and leading zeros that int() accepts."""
    first = buf[start] if start < end else 0
    if first in b"+ \t" or buf[end - 1] in b" \t":
        return False
    if first == 0x30 and end - start > 1:  # leading zero
        return False
    if first == 0x2D and end - start > 1 and buf[start + 1] == 0x30:
        return False
    return b"_" not in buf[start:end]


_SKIP = object()


class HiredisRequestParser:
    """The same interface, with hiredis's C reader as the fast path.

    hiredis parses RESP replies, a superset of what a request may be, and its
    errors are not Redis's. So it is trusted only for well-formed multibulk
    requests: the bytes fed since the last point where hiredis had consumed
    everything are kept, and on anything unusual (a hiredis error, a non-bulk
    element, an inline command, a request split across reads, an unauthenticated
    client) the pure-Python parser takes over from that point and gives Redis's
    exact behaviour, including the exact error text.
    """

    __slots__ = ("_reader", "_pending", "_pending_len", "_consumed", "_returned", "_python",
                 "_use_python", "_hiredis", "_ready")

    def __init__(self, max_bulk_len: int = DEFAULT_MAX_BULK_LEN, hiredis_module=None):
        self._hiredis = hiredis_module
        self._reader = hiredis_module.Reader()
        self._pending: list = []
        self._pending_len = 0
        self._consumed = 0      # bytes of the requests hiredis returned since the last clean point
        self._returned = 0
        self._python = RequestParser(max_bulk_len)
        self._use_python = False
        self._ready: list = []  # checked commands beyond next_commands()'s limit

    # Limits live on the Python parser, which enforces them whenever it is in charge.
    @property
    def max_bulk_len(self) -> int:
        return self._python.max_bulk_len

    @max_bulk_len.setter
    def max_bulk_len(self, value: int) -> None:
        self._python.max_bulk_len = value

    @property
    def auth_required(self) -> bool:
        return self._python.auth_required

    @auth_required.setter
    def auth_required(self, value: bool) -> None:
        self._python.auth_required = value

    def feed(self, data) -> None:
        if self._use_python or self._python.auth_required:
            self._use_python = True
            self._python.feed(data)
        elif self._pending_len == 0 and data[:1] != b"*":
            self._use_python = True  # inline command: only the Python parser knows them
            self._python.feed(data)
        elif _hiredis_unsafe(self._pending, data):
            # hiredis allocates a list of an aggregate's declared length before any
            # element arrives (`*536870913` costs seconds and gigabytes); the Python
            # parser never allocates ahead of the data. And hiredis takes RESP3
            # `+`/`(`/`=` elements for bulks, of another size than a bulk's encoding,
            # which next_commands()'s byte count alone could not tell from a partial
            # request.
            self._pending.append(data)
            self._pending_len += len(data)
            self._hand_over_to_python()
        else:
            self._reader.feed(data)
            self._pending.append(data)
            self._pending_len += len(data)

    def has_data(self) -> bool:
        if self._ready:
            return True
        if self._use_python:
            return self._python.has_data()
        return self._reader.has_data()

    def pending_bytes(self) -> int:
        return self._python.pending_bytes() if self._use_python else self._pending_len

    def next_command(self):
        if self._ready:
            return self._ready.pop(0)
        if self._use_python:
            return self._next_python()
        reader = self._reader
        try:
            command = reader.gets()
        except self._hiredis.ProtocolError:
            return self._switch_to_python()
        if command is False:
            # hiredis may have swallowed a partial request's header without saying so;
            # the sizes of the requests it returned tell whether every byte is accounted.
            if self._consumed != self._pending_len:
                return self._switch_to_python()
            self._pending.clear()
            self._pending_len = self._consumed = self._returned = 0
            return None
        if type(command) is not list or not command:
            return self._switch_to_python()
        size = _encoded_size(command)
        if size < 0:
            return self._switch_to_python()
        self._consumed += size
        self._returned += 1
        return command

    def next_commands(self, limit: int) -> tuple[list, str | None]:
        """next_command() in a batch: hiredis hands out every complete request of
        the reads so far, then one size check covers them all (DESIGN.md §7: no
        per-command Python work that can be done per read). Any doubt (a hiredis
        error, a non-bulk element, a partial request left in hiredis) discards the
        batch and lets the Python parser take over from the last clean point."""
        ready = self._ready
        if ready:
            commands = ready[:limit]
            del ready[:limit]
            return commands, None
        if self._use_python:
            return _collect(self._next_python, limit)
        # Everything hiredis has (at most a few reads' worth), so that the check
        # covers every byte; commands past the limit wait, already checked, in _ready.
        gets = self._reader.gets
        commands = []
        try:
            command = gets()
            while command is not False:
                if type(command) is not list or not command:
                    return self._batch_to_python(limit)
                commands.append(command)
                command = gets()
        except self._hiredis.ProtocolError:
            return self._batch_to_python(limit)
        size = _batch_size(commands)
        if size < 0 or self._consumed + size != self._pending_len:
            return self._batch_to_python(limit)
        self._pending.clear()
        self._pending_len = self._consumed = self._returned = 0
        if len(commands) > limit:
            self._ready = commands[limit:]
            del commands[limit:]
        return commands, None

    def _batch_to_python(self, limit: int) -> tuple[list, str | None]:
        self._hand_over_to_python()
        return _collect(self._next_python, limit)

    def _next_python(self):
        python = self._python
        command = python.next_command()
        if command is None and python._argc == 0 and not python.has_data() and not python.auth_required:
            self._use_python = False
        return command

    def _switch_to_python(self):
        self._hand_over_to_python()
        return self._next_python()

    def _hand_over_to_python(self) -> None:
        python = self._python
        python.feed(b"".join(self._pending))
        for _ in range(self._returned):
            python.next_command()  # already handed out by hiredis
        self._pending = []
        self._pending_len = self._consumed = self._returned = 0
        self._reader = self._hiredis.Reader()
        self._use_python = True


# An aggregate type byte followed by 7+ digits (a million elements or more), or a
# line starting with `+`, `(` or `=`, found with one C-level translate and two finds:
# digits map to "0", aggregate types to "*", those three types to "+", "\n" stays.
# A bulk's payload may match too; that only costs the Python parser's speed.
_AGGREGATE_SCAN = bytes(ord("0") if chr(c).isdigit() and c < 128 else ord("*") if c in b"*%~>|"
                        else ord("+") if c in b"+(=" else c if c == 10 else ord("x")
                        for c in range(256))
_HUGE_AGGREGATE = b"*0000000"
_NON_BULK_ELEMENT = b"\n+"


def _hiredis_unsafe(pending: list, data) -> bool:
    scanned = data.translate(_AGGREGATE_SCAN)
    if scanned.find(_HUGE_AGGREGATE) >= 0 or scanned.find(_NON_BULK_ELEMENT) >= 0:
        return True
    if not pending:
        return False
    # A header split between two reads.
    scanned = (pending[-1][-7:] + data[:7]).translate(_AGGREGATE_SCAN)
    return scanned.find(_HUGE_AGGREGATE) >= 0 or scanned.find(_NON_BULK_ELEMENT) >= 0


# Length of "$<n>\r\n" plus the trailing "\r\n" of a bulk of n bytes (and "*<n>\r\n").
_BULK_OVERHEAD = [len(b"$%d\r\n" % n) + 2 for n in range(100_000)]
_MULTIBULK_HEADER = [len(b"*%d\r\n" % n) for n in range(1024)]


def _encoded_size(command: list) -> int:
    """Bytes of the canonical encoding of command; -1 if an element is not a bulk."""
    try:
        overhead = sum(map(_BULK_OVERHEAD.__getitem__, map(len, command)))
        payload = len(b"".join(command))  # also rejects nested arrays and integers
        header = _MULTIBULK_HEADER[len(command)]
    except (TypeError, IndexError):
        return _encoded_size_slow(command)
    return header + overhead + payload


def _batch_size(commands: list) -> int:
    """_encoded_size of several commands together, in a few C-level passes."""
    try:
        args = list(_chain(commands))
        payload = len(b"".join(args))  # also rejects nested arrays and integers
        overhead = sum(map(_BULK_OVERHEAD.__getitem__, map(len, args)))
        header = sum(map(_MULTIBULK_HEADER.__getitem__, map(len, commands)))
    except (TypeError, IndexError):
        total = 0
        for command in commands:
            size = _encoded_size_slow(command)
            if size < 0:
                return -1
            total += size
        return total
    return header + overhead + payload


def _collect(next_command, limit: int) -> tuple[list, str | None]:
    commands = []
    try:
        while len(commands) < limit:
            command = next_command()
            if command is None:
                break
            commands.append(command)
    except ProtocolError as exc:
        return commands, exc.message
    return commands, None


def _encoded_size_slow(command: list) -> int:
    size = len(b"*%d\r\n" % len(command))
    for arg in command:
        if type(arg) is not bytes:
            return -1
        size += len(b"$%d\r\n" % len(arg)) + len(arg) + 2
    return size


def make_parser(max_bulk_len: int = DEFAULT_MAX_BULK_LEN, fast: bool = True):
    """The fastest parser that keeps Redis's behaviour on this interpreter.

    hiredis is used only when the GIL is on anyway: importing it on a free-threaded
    build would switch the GIL back on for the whole process.
    """
    module = _hiredis_module() if fast else None
    if module is None:
        return RequestParser(max_bulk_len)
    return HiredisRequestParser(max_bulk_len, module)


_HIREDIS = None


def _hiredis_module():
    global _HIREDIS
    if _HIREDIS is None:
        import sys
        gil_check = getattr(sys, "_is_gil_enabled", None)
        if gil_check is not None and not gil_check():
            _HIREDIS = False
        else:
            try:
                import hiredis
                _HIREDIS = hiredis
            except ImportError:
                _HIREDIS = False
    return _HIREDIS or None
