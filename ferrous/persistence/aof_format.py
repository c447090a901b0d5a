"""AOF contents: commands in RESP, the command-form base (rewriteAppendOnlyFileRio)
and reading a file back as a list of commands with Redis's error handling."""
from __future__ import annotations

import time

from ferrous.protocol.encoder import format_double

ITEMS_PER_COMMAND = 64   # AOF_REWRITE_ITEMS_PER_CMD


def encode_command(argv) -> bytes:
    parts = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        parts.append(b"$%d\r\n" % len(arg))
        parts.append(arg)
        parts.append(b"\r\n")
    return b"".join(parts)


# -- a point-in-time view of the keyspace ------------------------------------------------
class View(list):
    """snapshot()'s list, with the function libraries' code at the same instant."""
    functions: list = []


def snapshot(server) -> list:
    """[(db index, [(key, value, expire ms or -1), ...])] for every non-empty db, and
    the libraries in .functions. The caller holds the whole keyspace; mutable values
    are copied so the view stays as it was while writers go on."""
    from ferrous.scripting.state import library_codes
    view = View()
    view.functions = library_codes(server)
    for db in server.keyspace.dbs:
        entries = []
        for shard, expires in zip(db.data, db.expires):
            when = expires.when
            for key, value in shard.items():
                if type(value) is not bytes:
                    value = value.copy()
                entries.append((key, value, when.get(key, -1)))
        if entries:
            view.append((db.id, entries))
    return view


# -- the command-form base -------------------------------------------------------------------
def write_base(fh, view, rdb: bool, config=None, key_delay_us: int = 0, cancelled=None) -> None:
    """The base file from a view: a persistence.snapshot.Snapshot (written as RDB) or
    snapshot()'s list (as RDB with the preamble, else as commands). key_delay_us is
    rdb-key-save-delay (not for a list written as RDB); setting `cancelled` stops the write
    (SaveCancelled), as killing Redis's rewrite child does."""
    if not isinstance(view, list):
        from ferrous.persistence.snapshot import write_snapshot
        write_snapshot(fh, view, aof_base=True, key_delay_us=key_delay_us, cancelled=cancelled)
        return
    if rdb:
        from ferrous.persistence import rdb as rdb_module
        rdb_module.write_aof_base(fh, view, config)
        return
    if getattr(config, "aof_timestamp_enabled", False):    # rewriteAppendOnlyFileRio
        fh.write(b"#TS:%d\r\n" % int(time.time()))
    # rewriteFunctions: the libraries come first, as FUNCTION LOAD commands.
    for code in getattr(view, "functions", ()):
        fh.write(encode_command([b"FUNCTION", b"LOAD", code]))
    for db_id, entries in view:
        fh.write(encode_command([b"SELECT", b"%d" % db_id]))
        for key, value, expire in entries:
            for argv in value_commands(key, value):
                fh.write(encode_command(argv))
            if expire >= 0:
                fh.write(encode_command([b"PEXPIREAT", key, b"%d" % expire]))
            if key_delay_us:
                _key_delay(key_delay_us, cancelled)


def _key_delay(key_delay_us: int, cancelled) -> None:
    """rdb-key-save-delay after each key, interrupted when the rewrite is killed."""
    if cancelled is None:
        time.sleep(key_delay_us / 1e6)
    elif cancelled.wait(key_delay_us / 1e6):
        from ferrous.persistence.snapshot import SaveCancelled
        raise SaveCancelled()


def rdb_available() -> bool:
    try:
        from ferrous.persistence import rdb as rdb_module
    except ImportError:
        return False
    return hasattr(rdb_module, "write_aof_base")


def value_commands(key: bytes, value):
    """The commands that rebuild one value, at most 64 items each, as Redis writes them."""
    if type(value) is bytes:
        yield [b"SET", key, value]
        return
    kind = value.type_name
    if kind == "list":
        yield from _batched([b"RPUSH", key], list(value.items))
    elif kind == "set":
        yield from _batched([b"SADD", key], list(value.members))
    elif kind == "zset":
        pairs = []
        for member, score in value.items():
            pairs += (format_double(score), member)
        yield from _batched([b"ZADD", key], pairs, per_item=2)
    elif kind == "hash":
        pairs = []
        for field, data in value.fields.items():
            pairs += (field, data)
        yield from _batched([b"HMSET", key], pairs, per_item=2)
    elif hasattr(value, "rewrite_commands"):
        yield from value.rewrite_commands(key)     # streams describe themselves
    else:
        raise ValueError("can't rewrite a value of type %s" % kind)


def _batched(head: list, items: list, per_item: int = 1):
    step = ITEMS_PER_COMMAND * per_item
    for start in range(0, len(items), step):
        yield head + items[start:start + step]


# -- reading ---------------------------------------------------------------------------------
class AofFormatError(Exception):
    """A bad command in the file (not a truncated tail)."""


class Truncated(Exception):
    """The file ends in the middle of a command: `valid_up_to` bytes are whole."""

    def __init__(self, valid_up_to: int):
        super().__init__(valid_up_to)
        self.valid_up_to = valid_up_to


def read_commands(data: bytes):
    """Yield (argv, end offset) for each command of an AOF (loadSingleAppendOnlyFile).
    Raises Truncated at a torn tail and AofFormatError on garbage."""
    pos = 0
    size = len(data)
    while pos < size:
        start = pos
        if data[pos:pos + 1] == b"#":          # annotations (aof-timestamp-enabled)
            end = data.find(b"\n", pos)
            if end < 0:
                raise Truncated(start)
            pos = end + 1
            continue
        if data[pos:pos + 1] != b"*":
            raise AofFormatError("Bad file format reading the append only file")
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            raise Truncated(start)
        try:
            argc = int(data[pos + 1:line_end])
        except ValueError:
            raise AofFormatError("Bad file format reading the append only file") from None
        if argc < 1:
            raise AofFormatError("Bad file format reading the append only file")
        pos = line_end + 2
        argv = []
        for _ in range(argc):
            if pos >= size:
                raise Truncated(start)
            if data[pos:pos + 1] != b"$":
                raise AofFormatError("Bad file format reading the append only file")
            line_end = data.find(b"\r\n", pos)
            if line_end < 0:
                raise Truncated(start)
            try:
                length = int(data[pos + 1:line_end])
            except ValueError:
                raise AofFormatError("Bad file format reading the append only file") from None
            pos = line_end + 2
            if pos + length + 2 > size:
                raise Truncated(start)
            argv.append(data[pos:pos + length])
            pos += length + 2
        yield argv, pos
