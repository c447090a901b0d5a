"""The RDB format as Redis 7.0 writes it (version 10), and every module-free file of
versions 6 to 10 on the way in (rdb.c).

Writing: `RdbWriter(fileobj, ...)` streams a file: header and aux fields, then per
database SELECTDB, RESIZEDB and the keys, then EOF and the CRC64. `write_rdb()` writes
a whole point-in-time snapshot (ferrous/persistence/snapshot.py); `encode_value()` is
the value serialization shared with DUMP.

Values are written with the encoding Redis 7.0 would use for them, so that Redis loads
them with the same OBJECT ENCODING: small hashes and sorted sets as listpacks, small
integer sets as intsets, lists as quicklist-2 nodes of listpacks, strings as integers
when they are, LZF-compressed when longer than 20 bytes and `rdbcompression` is on.

Reading: `RdbReader(data).load(on_key)` parses a whole file held in memory (a memoryview
is fine) and returns the offset after the trailer, so an AOF with an RDB preamble can
continue from there.
"""
from __future__ import annotations

import logging
import math
import struct
import time

from ferrous import REDIS_VERSION
from ferrous.persistence import lzf
from ferrous.persistence.crc64 import crc64
from ferrous.persistence.encodings import (
    EncodingError, intset, intset_items, listpack_items, lp_entry, lp_pack_entries,
    ziplist_items, zipmap_items,
)
from ferrous.protocol.encoder import format_double
from ferrous.storage.values import hashes as hash_values
from ferrous.storage.values import sets as set_values
from ferrous.storage.values import zsets as zset_values
from ferrous.storage.values.hashes import HashValue
from ferrous.storage.values.lists import ListValue
from ferrous.storage.values.sets import SetValue, is_int
from ferrous.storage.values.zsets import ZSetValue

log = logging.getLogger("ferrous.rdb")

RDB_VERSION = 10
MIN_READ_VERSION = 1

# Value types (rdb.h).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19
VALUE_TYPES = frozenset((0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19))

# Opcodes.
OP_FUNCTION2 = 245
OP_FUNCTION = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2
# list-max-listpack-size < 0: bytes per quicklist node (quicklist.c optimization_level).
_NODE_SIZE_LEVELS = (4096, 8192, 16384, 32768, 65536)
_SIZE_SAFETY_LIMIT = 8192
_SIZE_ESTIMATE_OVERHEAD = 8

_pack_u32_be = struct.Struct(">I").pack
_pack_u64_be = struct.Struct(">Q").pack
_pack_i64 = struct.Struct("<q").pack
_pack_double = struct.Struct("<d").pack
_unpack_double = struct.Struct("<d").unpack_from


class RDBError(Exception):
    """A file or payload that cannot be loaded; the text says why."""


class RDBChecksumError(RDBError):
    """The CRC64 trailer does not match the data (rdbLoadRio's "RDB CRC error")."""

    def __init__(self, expected: int, got: int):
        super().__init__("Wrong RDB checksum")
        self.expected, self.got = expected, got


class RDBLoadAborted(RDBError):
    """Loading the data file at start-up failed; the failure is logged already."""

    def __init__(self):
        super().__init__("Terminating server after rdb file reading failure.")


# ---------------------------------------------------------------------------
# Writing primitives: append to a bytearray
# ---------------------------------------------------------------------------
def put_length(out: bytearray, n: int) -> None:
    """rdbSaveLen: 6-bit, 14-bit, 32-bit or 64-bit length."""
    if n < 64:
        out.append(n)
    elif n < 16384:
        out += bytes((0x40 | (n >> 8), n & 0xFF))
    elif n <= 0xFFFFFFFF:
        out.append(0x80)
        out += _pack_u32_be(n)
    else:
        out.append(0x81)
        out += _pack_u64_be(n)


def _int_encoding(s: bytes) -> bytes | None:
    """rdbTryIntegerEncoding: a canonical integer that fits 32 bits, as INT8/16/32."""
    if not is_int(s):
        return None
    v = int(s)
    if -128 <= v <= 127:
        return b"\xc0" + v.to_bytes(1, "little", signed=True)
    if -32768 <= v <= 32767:
        return b"\xc1" + v.to_bytes(2, "little", signed=True)
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + v.to_bytes(4, "little", signed=True)
    return None


def put_string(out: bytearray, s: bytes, compress: bool) -> None:
    """rdbSaveRawString: integer encoding for short numbers, LZF past 20 bytes, else raw."""
    n = len(s)
    if n <= 11:
        encoded = _int_encoding(s)
        if encoded is not None:
            out += encoded
            return
    if compress and n > 20:
        packed = lzf.compress(s, n - 4)
        if packed is not None:
            out.append(0xC3)
            put_length(out, len(packed))
            put_length(out, n)
            out += packed
            return
    put_length(out, n)
    out += s


# ---------------------------------------------------------------------------
# Value serialization (rdbSaveObject), shared by the file writer and DUMP
# ---------------------------------------------------------------------------
def _node_fits(node_bytes: int, node_count: int, element_len: int, fill: int) -> bool:
    """_quicklistNodeAllowInsert (Redis 7.0): one more element of element_len bytes in a
    node whose listpack has node_bytes bytes and node_count entries. Redis estimates the
    growth with the old ziplist overheads, so the nodes split where Redis splits them."""
    new_size = node_bytes + element_len + _SIZE_ESTIMATE_OVERHEAD
    if fill < 0:
        level = -fill - 1
        if level < len(_NODE_SIZE_LEVELS) and new_size <= _NODE_SIZE_LEVELS[level]:
            return True
    if new_size > _SIZE_SAFETY_LIMIT:
        return False
    return node_count < fill


def _encode_list(out: bytearray, value: ListValue, config, compress: bool) -> int:
    """RDB_TYPE_LIST_QUICKLIST_2: nodes of listpacks, split as RPUSH would split them."""
    fill = getattr(config, "list_max_listpack_size", -2)
    # Elements this long live in plain nodes of their own (DEBUG QUICKLIST-PACKED-THRESHOLD).
    threshold = getattr(config, "quicklist_packed_threshold", 1 << 30)
    nodes, entries, size = [], [], 7
    for element in value.items:
        if len(element) >= threshold:
            if entries:
                nodes.append((QUICKLIST_NODE_PACKED, lp_pack_entries(entries, len(entries))))
                entries, size = [], 7
            nodes.append((QUICKLIST_NODE_PLAIN, element))
            continue
        entry = lp_entry(element)
        if entries and not _node_fits(size, len(entries), len(element), fill):
            nodes.append((QUICKLIST_NODE_PACKED, lp_pack_entries(entries, len(entries))))
            entries, size = [], 7
        entries.append(entry)
        size += len(entry)
    if entries:
        nodes.append((QUICKLIST_NODE_PACKED, lp_pack_entries(entries, len(entries))))
    put_length(out, len(nodes))
    for container, node in nodes:
        put_length(out, container)
        put_string(out, node, compress)
    return TYPE_LIST_QUICKLIST_2


def _encode_set(out: bytearray, value: SetValue, config, compress: bool) -> int:
    if value.intset:
        put_string(out, intset(int(m) for m in value.members), compress)
        return TYPE_SET_INTSET
    put_length(out, len(value.members))
    for member in value.members:
        put_string(out, member, compress)
    return TYPE_SET


def _encode_hash(out: bytearray, value: HashValue, config, compress: bool) -> int:
    fields = value.fields
    if value.listpack:
        entries = []
        for field, data in fields.items():
            entries.append(lp_entry(field))
            entries.append(lp_entry(data))
        put_string(out, lp_pack_entries(entries, len(entries)), compress)
        return TYPE_HASH_LISTPACK
    put_length(out, len(fields))
    for field, data in fields.items():
        put_string(out, field, compress)
        put_string(out, data, compress)
    return TYPE_HASH


def _listpack_score(score: float) -> bytes:
    return zset_values.listpack_score_text(score, format_double)


def _encode_zset(out: bytearray, value: ZSetValue, config, compress: bool) -> int:
    if value.listpack:
        entries = []
        for score, member in value.ordered:
            entries.append(lp_entry(member))
            entries.append(lp_entry(_listpack_score(score)))
        put_string(out, lp_pack_entries(entries, len(entries)), compress)
        return TYPE_ZSET_LISTPACK
    ordered = value.ordered
    put_length(out, len(ordered))
    # Redis walks the skiplist from the tail so that loading inserts at the head.
    for score, member in reversed(ordered):
        put_string(out, member, compress)
        out += _pack_double(score)
    return TYPE_ZSET_2


_STREAM_FLAG_DELETED = 1
_STREAM_FLAG_SAMEFIELDS = 2
_U64 = (1 << 64) - 1


def _stream_id_bytes(stream_id: int) -> bytes:
    """streamID as a rax key: ms and seq, big endian."""
    return stream_id.to_bytes(16, "big")


def _put_stream_id(out: bytearray, stream_id: int) -> None:
    put_length(out, stream_id >> 64)
    put_length(out, stream_id & _U64)


def _stream_node_listpack(node) -> bytes:
    """A node as streamAppendItem lays it out: the master entry (count, deleted, the
    master fields, 0), then per entry flags, ID deltas, fields or values, lp-count.
    Ferrous keeps no content for deleted entries: their tombstones carry empty values
    (Redis never reads a deleted entry's content)."""
    master = node.master_fields
    master_ms, master_seq = node.master_id >> 64, node.master_id & _U64
    entries = [lp_entry(node.live), lp_entry(node.deleted), lp_entry(len(master))]
    entries += [lp_entry(f) for f in master]
    entries.append(lp_entry(0))
    for stream_id, item in zip(node.ids, node.items):
        ms_diff = _wrap_signed((stream_id >> 64) - master_ms)
        seq_diff = _wrap_signed((stream_id & _U64) - master_seq)
        if item is None:
            flags, values, names = _STREAM_FLAG_DELETED | _STREAM_FLAG_SAMEFIELDS, [b""] * len(master), None
        elif type(item) is list:
            flags, values, names = 0, item[1::2], item[0::2]
        else:   # the node's master fields: only the values are stored
            flags, values, names = _STREAM_FLAG_SAMEFIELDS, node.values_of(item), None
        entries += [lp_entry(flags), lp_entry(ms_diff), lp_entry(seq_diff)]
        if names is None:
            entries += [lp_entry(v) for v in values]
            entries.append(lp_entry(len(values) + 3))
        else:
            entries.append(lp_entry(len(names)))
            for name, value in zip(names, values):
                entries.append(lp_entry(name))
                entries.append(lp_entry(value))
            entries.append(lp_entry(len(names) * 2 + 4))
    return lp_pack_entries(entries, len(entries))


def _wrap_signed(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >= 1 << 63 else v


def _encode_stream(out: bytearray, value, config, compress: bool) -> int:
    """RDB_TYPE_STREAM_LISTPACKS_2 (rdbSaveObject's stream branch, Redis 7.0)."""
    nodes = [node for node in value.nodes if node.ids]
    put_length(out, len(nodes))
    for node in nodes:
        put_string(out, _stream_id_bytes(node.master_id), compress)
        put_string(out, _stream_node_listpack(node), compress)
    put_length(out, value.length)
    _put_stream_id(out, value.last_id)
    _put_stream_id(out, value.first_id)
    _put_stream_id(out, value.max_deleted_id)
    put_length(out, value.entries_added)
    groups = sorted(value.groups.items())
    put_length(out, len(groups))
    for name, group in groups:
        put_string(out, name, compress)
        _put_stream_id(out, group.last_id)
        put_length(out, group.entries_read & _U64)
        put_length(out, len(group.pel))
        for stream_id, nack in group.pel.items():
            out += _stream_id_bytes(stream_id)
            out += _pack_i64(nack.delivery_time)
            put_length(out, nack.delivery_count)
        consumers = sorted(group.consumers.items())
        put_length(out, len(consumers))
        for cname, consumer in consumers:
            put_string(out, cname, compress)
            out += _pack_i64(consumer.seen_time)
            put_length(out, len(consumer.pel))
            for stream_id in consumer.pel:
                out += _stream_id_bytes(stream_id)
    return TYPE_STREAM_LISTPACKS_2


_ENCODERS = {ListValue: _encode_list, SetValue: _encode_set, HashValue: _encode_hash,
             ZSetValue: _encode_zset}
try:    # the stream type may land after persistence
    from ferrous.storage.values import streams as stream_values
    _ENCODERS[stream_values.StreamValue] = _encode_stream
except ImportError:     # pragma: no cover
    stream_values = None


def encode_value(out: bytearray, value, config, compress: bool) -> int:
    """Append value's RDB serialization to out; returns its RDB type."""
    if type(value) is bytes:
        put_string(out, value, compress)
        return TYPE_STRING
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        raise RDBError(f"cannot serialize a {getattr(value, 'type_name', type(value).__name__)} value")
    return encoder(out, value, config, compress)


def serialize_value(value, config, compress: bool) -> bytes:
    """The type byte followed by the value: what a DUMP payload or a copied-aside
    snapshot value holds."""
    out = bytearray(1)
    out[0] = encode_value(out, value, config, compress)
    return bytes(out)


# ---------------------------------------------------------------------------
# DUMP payloads
# ---------------------------------------------------------------------------
def dump_payload(value, config) -> bytes:
    """createDumpPayload: type + value + RDB version (2 bytes LE) + CRC64 (8 bytes LE)."""
    body = bytearray(serialize_value(value, config, getattr(config, "rdbcompression", True)))
    body += bytes((RDB_VERSION & 0xFF, RDB_VERSION >> 8))
    body += crc64(0, body).to_bytes(8, "little")
    return bytes(body)


def verify_dump_payload(payload: bytes, check_crc: bool = True) -> bool:
    """verifyDumpPayload: a version we know and (unless disabled) a matching CRC."""
    if len(payload) < 10:
        return False
    version = payload[-10] | (payload[-9] << 8)
    if version > RDB_VERSION:
        return False
    if not check_crc:
        return True
    return crc64(0, memoryview(payload)[:-8]) == int.from_bytes(payload[-8:], "little")


def load_dump_payload(payload: bytes, config, deep: bool | None = None):
    """The value inside a verified DUMP payload; RDBError when it does not parse."""
    reader = RdbReader(memoryview(payload)[:-10], config)
    if deep is not None:
        reader.deep = deep
    kind = reader.byte()
    if kind not in VALUE_TYPES:
        raise RDBError("Bad data format")
    return reader.value(kind)


# ---------------------------------------------------------------------------
# The file writer
# ---------------------------------------------------------------------------
class RdbWriter:
    """Streams an RDB file to a binary file object, computing the CRC64 as it goes."""

    FLUSH_AT = 1 << 20

    def __init__(self, fileobj, config, checksum: bool = True):
        self.fileobj = fileobj
        self.config = config
        self.compress = bool(getattr(config, "rdbcompression", True))
        self.checksum = checksum
        self.crc = 0
        self.buf = bytearray()
        self.written = 0

    # -- framing ---------------------------------------------------------------
    def flush(self) -> None:
        if self.buf:
            if self.checksum:
                self.crc = crc64(self.crc, self.buf)
            self.fileobj.write(self.buf)
            self.written += len(self.buf)
            self.buf = bytearray()

    def _maybe_flush(self) -> None:
        if len(self.buf) >= self.FLUSH_AT:
            self.flush()

    def header(self, aux: list) -> None:
        self.buf += b"REDIS%04d" % RDB_VERSION
        for name, value in aux:
            self.buf.append(OP_AUX)
            put_string(self.buf, name, False)
            put_string(self.buf, value, False)

    def functions(self, codes) -> None:
        """rdbSaveFunctions: one FUNCTION2 record per library, after the aux fields and
        before the databases."""
        for code in codes:
            self.buf.append(OP_FUNCTION2)
            put_string(self.buf, code, self.compress)

    def select_db(self, db_id: int, size: int, expires: int) -> None:
        buf = self.buf
        buf.append(OP_SELECTDB)
        put_length(buf, db_id)
        buf.append(OP_RESIZEDB)
        put_length(buf, size)
        put_length(buf, expires)

    def key(self, key: bytes, value, expire_ms: int = -1, idle: int | None = None) -> None:
        """rdbSaveKeyValuePair. value is a live value or, from a snapshot, bytes already
        serialized by serialize_value() wrapped in Serialized."""
        buf = self.buf
        if expire_ms != -1:
            buf.append(OP_EXPIRETIME_MS)
            buf += _pack_i64(expire_ms)
        if idle is not None:
            buf.append(OP_IDLE)
            put_length(buf, idle)
        if type(value) is Serialized:
            data = value.data
            buf.append(data[0])
            put_string(buf, key, self.compress)
            buf += memoryview(data)[1:]
        else:
            type_at = len(buf)
            buf.append(0)
            put_string(buf, key, self.compress)
            buf[type_at] = encode_value(buf, value, self.config, self.compress)
        self._maybe_flush()

    def finish(self) -> None:
        """EOF opcode and the CRC64 trailer (zero when rdbchecksum is off)."""
        self.buf.append(OP_EOF)
        if self.checksum:
            self.crc = crc64(self.crc, self.buf)
        self.buf += self.crc.to_bytes(8, "little") if self.checksum else bytes(8)
        self.fileobj.write(self.buf)
        self.written += len(self.buf)
        self.buf = bytearray()


class Serialized:
    """A value already turned into `type byte + payload` (copied aside by a snapshot)."""
    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


def aux_fields(used_memory: int = 0, aof_base: bool = False, repl: tuple | None = None) -> list:
    """The aux fields Redis 7.0.15 writes, in its order (rdbSaveInfoAuxFields); `repl`
    is (stream db, replication ID, offset) when the server is in a replication chain."""
    fields = [
        (b"redis-ver", REDIS_VERSION.encode()),
        (b"redis-bits", b"64"),
        (b"ctime", b"%d" % int(time.time())),
        (b"used-mem", b"%d" % used_memory),
    ]
    if repl is not None:
        stream_db, replid, offset = repl
        fields += [(b"repl-stream-db", b"%d" % stream_db), (b"repl-id", replid.encode()),
                   (b"repl-offset", b"%d" % offset)]
    fields.append((b"aof-base", b"1" if aof_base else b"0"))
    return fields


# ---------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------
class LoadedKey:
    """One key read from a file, with what came before it (expiry, LRU/LFU hints)."""
    __slots__ = ("db", "key", "value", "expire_ms", "idle", "freq")

    def __init__(self, db, key, value, expire_ms, idle, freq):
        self.db, self.key, self.value = db, key, value
        self.expire_ms, self.idle, self.freq = expire_ms, idle, freq


class RdbReader:
    def __init__(self, data, config):
        self.data = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
        self.pos = 0
        self.config = config
        self.version = RDB_VERSION
        self.aux: dict = {}
        self.functions: list = []
        self.on_function = None       # called with each library's code as it is read
        self.empty_keys_skipped = 0     # empty values in the file (Redis #8453): dropped
        # Deep integrity validation (sanitize-dump-payload): every listpack entry's
        # back-length and the streams' entry counts are checked too. RESTORE decides
        # per client in `clients` mode (load_dump_payload's deep).
        self.deep = getattr(config, "sanitize_dump_payload", "no") == "yes"

    # -- primitives ----------------------------------------------------------------
    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise RDBError("Unexpected EOF reading RDB file")
        chunk = self.data[self.pos:end].tobytes()
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise RDBError("Unexpected EOF reading RDB file")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def length_or_encoding(self) -> tuple[int, bool]:
        """rdbLoadLenByRef: (length, False) or (special encoding, True)."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RDBError("Unknown length encoding %d in rdbLoadLen()" % b)

    def length(self) -> int:
        n, encoded = self.length_or_encoding()
        if encoded:
            raise RDBError("Unexpected encoded length")
        return n

    def string(self) -> bytes:
        n, encoded = self.length_or_encoding()
        if not encoded:
            return self.take(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            compressed_len = self.length()
            plain_len = self.length()
            try:
                return lzf.decompress(self.take(compressed_len), plain_len)
            except lzf.LZFError:
                raise RDBError("Invalid LZF compressed string") from None
        raise RDBError("Unknown RDB string encoding type %d" % n)

    def binary_double(self) -> float:
        return _unpack_double(self.take(8))[0]

    def text_double(self) -> float:
        """rdbLoadDoubleValue (the old ZSET type): a length byte, or 253/254/255."""
        n = self.byte()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        return float(self.take(n).decode("ascii"))

    # -- values --------------------------------------------------------------------
    def value(self, kind: int):
        """rdbLoadObject: a Ferrous value, or None for an empty one (Redis skips those)."""
        try:
            return _LOADERS[kind](self)
        except KeyError:
            raise RDBError(_unsupported(kind)) from None
        except (EncodingError, RDBError) as exc:
            # rdbLoadObject names the object type when a compact encoding fails its check
            raise RDBError(_INTEGRITY_FAILED.get(kind, str(exc))) from None

    # -- whole files -----------------------------------------------------------------
    def header(self) -> None:
        magic = self.take(9)
        if magic[:5] != b"REDIS":
            raise RDBError("Wrong signature trying to load DB from file")
        try:
            version = int(magic[5:])
        except ValueError:
            raise RDBError("Wrong signature trying to load DB from file") from None
        if version < MIN_READ_VERSION or version > RDB_VERSION:
            raise RDBError("Can't handle RDB format version %d" % version)
        self.version = version

    def load(self, on_key, verify_checksum: bool = True) -> int:
        """Parse the whole file, calling on_key(LoadedKey) per key; returns the offset
        just past the checksum."""
        start = self.pos
        self.header()
        db = 0
        expire_ms, idle, freq = -1, None, None
        while True:
            op = self.byte()
            if op == OP_EXPIRETIME_MS:
                expire_ms = int.from_bytes(self.take(8), "little", signed=True)
                continue
            if op == OP_EXPIRETIME:
                expire_ms = int.from_bytes(self.take(4), "little", signed=True) * 1000
                continue
            if op == OP_IDLE:
                idle = self.length()
                continue
            if op == OP_FREQ:
                freq = self.byte()
                continue
            if op == OP_SELECTDB:
                db = self.length()
                continue
            if op == OP_RESIZEDB:
                self.length()
                self.length()
                continue
            if op == OP_AUX:
                name = self.string()
                self.aux[name] = self.string()
                continue
            if op == OP_FUNCTION2:
                code = self.string()
                self.functions.append(code)
                if self.on_function is not None:
                    self.on_function(code)
                continue
            if op == OP_EOF:
                break
            if op in (OP_MODULE_AUX, OP_FUNCTION):
                raise RDBError(_unsupported(op))
            if op not in VALUE_TYPES:
                raise RDBError("Unknown RDB encoding type %d" % op)
            key = self.string()
            value = self.value(op)
            if value is not None:
                on_key(LoadedKey(db, key, value, expire_ms, idle, freq))
            else:
                self.empty_keys_skipped += 1
                if self.empty_keys_skipped <= 10:
                    log.warning("rdbLoadObject skipping empty key: %s", key.decode(errors="replace"))
            expire_ms, idle, freq = -1, None, None
        if self.version >= 5:
            end_of_data = self.pos
            stored = int.from_bytes(self.take(8), "little")
            if verify_checksum and stored != 0:
                computed = crc64(0, self.data[start:end_of_data])
                if computed != stored:
                    raise RDBChecksumError(computed, stored)
        return self.pos


def _unsupported(kind: int) -> str:
    if kind in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2):
        return "Stream values need ferrous/storage/values/streams.py"
    if kind in (TYPE_MODULE, TYPE_MODULE_2, OP_MODULE_AUX):
        return "Module values are not supported"
    return "Unknown RDB encoding type %d" % kind


# -- building Ferrous values with Redis's load-time encoding rules ---------------------
def _load_string(r: RdbReader):
    return r.string()


def _load_list(r: RdbReader):
    n = r.length()
    items = [r.string() for _ in range(n)]
    return ListValue(items) if items else None


def _load_quicklist(r: RdbReader, version: int):
    nodes = r.length()
    items = []
    for _ in range(nodes):
        container = r.length() if version == 2 else QUICKLIST_NODE_PACKED
        if container not in (QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN):
            raise RDBError("Quicklist integrity check failed.")
        blob = r.string()
        if not blob:
            raise RDBError("Quicklist integrity check failed.")
        if container == QUICKLIST_NODE_PLAIN:
            items.append(blob)
        elif version == 2:
            items.extend(listpack_items(blob, r.deep))
        else:
            items.extend(ziplist_items(blob))
    return ListValue(items) if items else None


def _set_from(members: list, config, from_intset: bool):
    if not members:
        return None
    limit = set_values.intset_limit(config)
    unique = set(members)
    if len(unique) != len(members):
        raise RDBError("Duplicate set members detected")
    if from_intset:
        small = len(unique) <= limit
    else:
        small = len(unique) <= limit and all(is_int(m) for m in unique)
    return SetValue(unique, intset=small)


def _load_set(r: RdbReader):
    n = r.length()
    return _set_from([r.string() for _ in range(n)], r.config, False)


def _load_intset(r: RdbReader):
    return _set_from(intset_items(r.string()), r.config, True)


def _hash_from(pairs: list, config, plain: bool):
    """plain: RDB_TYPE_HASH, which converts on long fields too; the compact types only
    look at the number of fields."""
    if not pairs:
        return None
    fields = {}
    for i in range(0, len(pairs) - 1, 2):
        fields[pairs[i]] = pairs[i + 1]
    if len(fields) * 2 != len(pairs):
        raise RDBError("Duplicate hash fields detected")
    max_entries, max_value = hash_values.listpack_limits(config)
    small = len(fields) <= max_entries
    if small and plain:
        small = all(len(f) <= max_value and len(v) <= max_value for f, v in fields.items())
    return HashValue(fields, listpack=small)


def _load_hash(r: RdbReader):
    n = r.length()
    pairs = []
    for _ in range(n):
        pairs.append(r.string())
        pairs.append(r.string())
    return _hash_from(pairs, r.config, True)


def _load_hash_zipmap(r: RdbReader):
    pairs = zipmap_items(r.string())
    if not pairs:       # zipmapValidateIntegrity: a zipmap holds at least one pair
        raise RDBError("Zipmap integrity check failed.")
    value = _hash_from(pairs, r.config, False)
    if value is not None and value.listpack:
        # zipmaps also convert on a long field or value (rdb.c checks maxlen there)
        max_value = hash_values.listpack_limits(r.config)[1]
        value.listpack = all(len(p) <= max_value for p in pairs)
    return value


def _load_hash_ziplist(r: RdbReader):
    return _hash_from(ziplist_items(r.string()), r.config, False)


def _load_hash_listpack(r: RdbReader):
    return _hash_from(listpack_items(r.string(), r.deep), r.config, False)


def _zset_from(pairs: list, config, listpack: bool):
    if not pairs:
        return None
    zset = ZSetValue(listpack)
    scores = {}
    for member, score in pairs:
        if score != score:
            raise RDBError("Zset with NAN score detected")
        if listpack and score == 0:
            score = 0.0          # a listpack stores -0 as the integer 0
        if member in scores:
            raise RDBError("Duplicate zset fields detected")
        scores[member] = score
    zset.scores = scores
    zset.ordered = type(zset.ordered)((score, member) for member, score in scores.items())
    return zset


def _load_zset(r: RdbReader, binary: bool):
    n = r.length()
    read_score = r.binary_double if binary else r.text_double
    pairs = []
    for _ in range(n):
        member = r.string()
        pairs.append((member, read_score()))
    if not pairs:
        return None
    max_entries, max_value = zset_values.listpack_limits(r.config)
    small = len(pairs) <= max_entries and all(len(m) <= max_value for m, _ in pairs)
    return _zset_from(pairs, r.config, small)


def _compact_zset(items: list, config):
    if len(items) % 2:
        raise RDBError("Zset listpack integrity check failed.")
    pairs = []
    for i in range(0, len(items), 2):
        try:
            score = float(items[i + 1])
        except ValueError:
            raise RDBError("Zset listpack integrity check failed.") from None
        pairs.append((items[i], score))
    max_entries = zset_values.listpack_limits(config)[0]
    return _zset_from(pairs, config, len(pairs) <= max_entries)


def _stream_id_from(raw: bytes) -> int:
    if len(raw) != 16:
        raise RDBError("Stream node key entry is not the size of a stream ID")
    return int.from_bytes(raw, "big")


def _read_stream_id(r: RdbReader) -> int:
    return (r.length() << 64) | r.length()


def _stream_node_entries(master_id: int, items: list, deep: bool) -> tuple:
    """(master fields, [(id, flat fields, deleted)]) of a stream node's listpack;
    deep: with streamValidateListpackIntegrity's lp-count and entry-count checks."""
    try:
        numbers = iter(items)
        count = int(next(numbers))
        deleted = int(next(numbers))
        nfields = int(next(numbers))
        # A list, not a generator: that would turn StopIteration into RuntimeError.
        master = tuple([next(numbers) for _ in range(nfields)])
        if int(next(numbers)) != 0:
            raise RDBError("Stream listpack integrity check failed.")
        master_ms, master_seq = master_id >> 64, master_id & _U64
        entries = []
        for flags in numbers:
            flags = int(flags)
            ms = (master_ms + int(next(numbers))) & _U64
            seq = (master_seq + int(next(numbers))) & _U64
            if flags & _STREAM_FLAG_SAMEFIELDS:
                values = [next(numbers) for _ in range(nfields)]
                fields = [None] * (2 * nfields)
                fields[0::2] = master
                fields[1::2] = values
                lp_count = nfields + 3
            else:
                own = int(next(numbers))
                fields = [next(numbers) for _ in range(2 * own)]
                lp_count = 2 * own + 4
            if int(next(numbers)) != lp_count and deep:
                raise RDBError("Stream listpack integrity check failed.")
            entries.append(((ms << 64) | seq, fields, bool(flags & _STREAM_FLAG_DELETED)))
    except (StopIteration, ValueError):
        raise RDBError("Stream listpack integrity check failed.") from None
    if deep and len(entries) != count + deleted:
        raise RDBError("Stream listpack integrity check failed.")
    return master, entries


def _load_stream(r: RdbReader, version: int):
    """RDB_TYPE_STREAM_LISTPACKS (5.0-6.2) and _2 (7.0)."""
    if stream_values is None:
        raise RDBError(_unsupported(TYPE_STREAM_LISTPACKS))
    stream = stream_values.StreamValue()
    for _ in range(r.length()):
        master_id = _stream_id_from(r.string())
        blob = r.string()
        try:
            items = listpack_items(blob, r.deep)
        except EncodingError:
            raise RDBError("Stream listpack integrity check failed.") from None
        if not items:
            raise RDBError("Empty listpack inside stream")
        master, entries = _stream_node_entries(master_id, items, r.deep)
        stream.load_node(master_id, master, entries)
    stream.length = r.length()
    stream.last_id = _read_stream_id(r)
    if version >= 2:
        stream.first_id = _read_stream_id(r)
        stream.max_deleted_id = _read_stream_id(r)
        stream.entries_added = r.length()
    else:
        # Redis 7.0 derives them when loading an older stream
        stream.first_id = stream.first_entry_id() if stream.length else 0
        stream.max_deleted_id = 0
        stream.entries_added = stream.length
    for _ in range(r.length()):
        _load_stream_group(r, stream, version)
    return stream


def _load_stream_group(r: RdbReader, stream, version: int) -> None:
    name = r.string()
    last_id = _read_stream_id(r)
    entries_read = stream_values.INVALID_ENTRIES_READ
    if version >= 2:
        entries_read = r.length()
        if entries_read == _U64:
            entries_read = stream_values.INVALID_ENTRIES_READ
    else:
        entries_read = stream.estimate_entries_read(last_id)
    group = stream.create_group(name, last_id, entries_read)
    if group is None:
        raise RDBError("Duplicated consumer group name %s" % name.decode(errors="replace"))
    for _ in range(r.length()):
        stream_id = _stream_id_from(r.take(16))
        delivery_time = int.from_bytes(r.take(8), "little", signed=True)
        group.pel[stream_id] = stream_values.PendingEntry(None, delivery_time, r.length())
    for _ in range(r.length()):
        consumer = stream_values.Consumer(r.string(), int.from_bytes(r.take(8), "little", signed=True))
        if consumer.name in group.consumers:
            raise RDBError("Duplicate stream consumer detected.")
        group.consumers[consumer.name] = consumer
        for _ in range(r.length()):
            stream_id = _stream_id_from(r.take(16))
            nack = group.pel.get(stream_id)
            if nack is None:
                raise RDBError("Consumer entry not found in group global PEL")
            nack.consumer = consumer
            consumer.pel[stream_id] = nack
    if any(nack.consumer is None for nack in group.pel.values()):
        raise RDBError("Stream group PEL entry without a consumer")


_INTEGRITY_FAILED = {
    TYPE_HASH_ZIPMAP: "Zipmap integrity check failed.",
    TYPE_LIST_ZIPLIST: "List ziplist integrity check failed.",
    TYPE_SET_INTSET: "Intset integrity check failed.",
    TYPE_ZSET_ZIPLIST: "Zset ziplist integrity check failed.",
    TYPE_HASH_ZIPLIST: "Hash ziplist integrity check failed.",
    TYPE_HASH_LISTPACK: "Hash listpack integrity check failed.",
    TYPE_ZSET_LISTPACK: "Zset listpack integrity check failed.",
}


_LOADERS = {
    TYPE_STRING: _load_string,
    TYPE_LIST: _load_list,
    TYPE_SET: _load_set,
    TYPE_ZSET: lambda r: _load_zset(r, False),
    TYPE_HASH: _load_hash,
    TYPE_ZSET_2: lambda r: _load_zset(r, True),
    TYPE_HASH_ZIPMAP: _load_hash_zipmap,
    TYPE_LIST_ZIPLIST: lambda r: ListValue(ziplist_items(r.string())) or None,
    TYPE_SET_INTSET: _load_intset,
    TYPE_ZSET_ZIPLIST: lambda r: _compact_zset(ziplist_items(r.string()), r.config),
    TYPE_HASH_ZIPLIST: _load_hash_ziplist,
    TYPE_LIST_QUICKLIST: lambda r: _load_quicklist(r, 1),
    TYPE_HASH_LISTPACK: _load_hash_listpack,
    TYPE_ZSET_LISTPACK: lambda r: _compact_zset(listpack_items(r.string(), r.deep), r.config),
    TYPE_LIST_QUICKLIST_2: lambda r: _load_quicklist(r, 2),
    TYPE_STREAM_LISTPACKS: lambda r: _load_stream(r, 1),
    TYPE_STREAM_LISTPACKS_2: lambda r: _load_stream(r, 2),
}


# ---------------------------------------------------------------------------
# AOF preamble (aof-use-rdb-preamble): the AOF writes its base as RDB
# ---------------------------------------------------------------------------
class _DefaultConfig:
    """Redis's defaults, for callers that have no Config at hand."""
    rdbcompression = True
    rdbchecksum = True
    list_max_listpack_size = -2


def write_aof_base(fileobj, view, config=None) -> None:
    """An RDB file (aof-base = 1) from [(db id, [(key, value, expire ms or -1), ...])],
    values already copied by the caller. For a copy-free point-in-time view, take a
    persistence.snapshot.Snapshot under the keyspace lock and call
    snapshot.write_snapshot(fileobj, snapshot, aof_base=True) instead."""
    config = config or _DefaultConfig()
    writer = RdbWriter(fileobj, config, checksum=bool(getattr(config, "rdbchecksum", True)))
    writer.header(aux_fields(aof_base=True))
    writer.functions(getattr(view, "functions", ()))    # aof_format.snapshot() keeps them
    for db_id, entries in view:
        if not entries:
            continue
        writer.select_db(db_id, len(entries), sum(1 for entry in entries if entry[2] != -1))
        for key, value, expire in entries:
            writer.key(key, value, expire)
    writer.finish()


def load_aof_preamble(server, data) -> int:
    """Load the RDB part of an AOF base into server.keyspace (keys already expired are
    kept, as Redis keeps them in a preamble); returns the offset where the AOF commands
    begin."""
    from ferrous.persistence.saving import load_into_keyspace
    load_into_keyspace(server, data, aof_preamble=True)
    return server.rdb_loaded_end
