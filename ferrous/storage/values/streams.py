"""The stream type (t_stream.c): entries in nodes that mirror Redis's listpacks, plus
consumer groups with their pending entries lists (PELs).

IDs are one int, `ms << 64 | seq`, so comparing IDs is comparing ints and a node's
IDs are a plain sorted list that `bisect` searches.

Why nodes and not one flat index: Redis stores entries in radix-tree nodes holding a
listpack of at most stream-node-max-entries entries / stream-node-max-bytes bytes,
and that layout is visible. XTRIM/XADD with `~` only remove whole nodes; XINFO
reports radix-tree-keys/nodes; XDEL leaves tombstones inside a node until the node
has no live entry left. Each StreamNode here tracks the same count, tombstones and
listpack byte size (computed with listpack's exact element sizes), so node
boundaries, and therefore every reply, are Redis's. Reads bisect the node list,
then the node: O(log n) to find a range start, then O(entries returned) plus the
tombstones skipped, as in Redis.

An entry whose field names are the node's master fields (listpack's SAMEFIELDS flag:
the names are shared, not repeated) stores only its values, packed in one bytes
object (a length byte per value, then the values: one object instead of a tuple and
a bytes per value, 110 B per entry instead of 197 for two small fields), or as a
tuple when a value is 255 bytes or longer. Other entries are a list
[f1, v1, f2, v2, ...]; a deleted entry is None. `StreamNode.values_of(item)` reads
the values of a same-fields entry, `fields_of(item)` the flat field list of any.

Serialization API (RDB/AOF/DUMP): `StreamValue.nodes` (each node: master_id,
master_fields, `entries()`), `iter_entries()`, `length`, `last_id`, `first_id`,
`max_deleted_id`, `entries_added`, `groups` (name -> ConsumerGroup: last_id,
entries_read, pel, consumers), PendingEntry (delivery_time, delivery_count,
consumer), Consumer (name, seen_time, active_time, pel). Loaders build a stream
with `append()` (or `load_node()`), then set the counters and `create_group()`.
"""
from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right

from sortedcontainers import SortedDict

from ferrous.commands.args import is_int

SEQ_BITS = 64
SEQ_MASK = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
INVALID_ENTRIES_READ = -1          # SCG_INVALID_ENTRIES_READ
LISTPACK_MAX_SIZE = 1 << 30        # STREAM_LISTPACK_MAX_SIZE
_LP_HEADER = 6 + 1                 # listpack header + end byte
_PEL_SLOT = 100                    # a SortedDict entry (dict slot + key int + list slot), roughly


def make_id(ms: int, seq: int) -> int:
    return (ms << SEQ_BITS) | seq


def format_id(stream_id: int) -> bytes:
    return b"%d-%d" % (stream_id >> SEQ_BITS, stream_id & SEQ_MASK)


def id_ms(stream_id: int) -> int:
    return stream_id >> SEQ_BITS


# -- listpack element sizes (listpack.c), to place node boundaries as Redis does --------
def _backlen_size(encoded: int) -> int:
    if encoded <= 127:
        return 1
    if encoded < 16383:
        return 2
    if encoded < 2097151:
        return 3
    if encoded < 268435455:
        return 4
    return 5


def lp_int_size(value: int) -> int:
    """Bytes of an integer element (encoding + backlen)."""
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
        return 3
    if -32768 <= value <= 32767:
        return 4
    if -8388608 <= value <= 8388607:
        return 5
    if -2147483648 <= value <= 2147483647:
        return 6
    return 10


def lp_str_size(data: bytes) -> int:
    """Bytes of a string element; strings that are integers are stored as integers."""
    n = len(data)
    if n <= 20 and is_int(data):
        return lp_int_size(int(data))
    encoded = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return encoded + _backlen_size(encoded)


def _signed64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


# -- nodes ------------------------------------------------------------------------------
class StreamNode:
    """One radix-tree node: a listpack of entries sharing a master entry."""
    __slots__ = ("master_id", "master_fields", "ids", "items", "live", "deleted", "body_bytes",
                 "_header_bytes")

    def __init__(self, master_id: int, master_fields: tuple):
        self.master_id = master_id
        self.master_fields = master_fields
        self.ids: list = []
        self.items: list = []
        self.live = 0
        self.deleted = 0
        self.body_bytes = 0
        # num-fields, the fields, and the master entry's terminating 0.
        self._header_bytes = (lp_int_size(len(master_fields)) + sum(map(lp_str_size, master_fields))
                              + lp_int_size(0))

    def lp_bytes(self) -> int:
        return (_LP_HEADER + lp_int_size(self.live) + lp_int_size(self.deleted)
                + self._header_bytes + self.body_bytes)

    def fields_of(self, item) -> list:
        """The flat [f1, v1, ...] list of a stored (non-deleted) item."""
        if type(item) is list:
            return list(item)
        master = self.master_fields
        flat = [None] * (2 * len(master))
        flat[0::2] = master
        flat[1::2] = self.values_of(item)
        return flat

    def values_of(self, item):
        """The values of a same-fields item (packed bytes or a tuple)."""
        if type(item) is tuple:
            return item
        count = len(self.master_fields)
        values = []
        pos = count
        for size in item[:count]:
            end = pos + size
            values.append(item[pos:end])
            pos = end
        return values

    def entries(self):
        """(id, flat fields) of the live entries, in order (for serialization)."""
        for stream_id, item in zip(self.ids, self.items):
            if item is not None:
                yield stream_id, self.fields_of(item)

    def _append(self, stream_id: int, fields: list) -> None:
        names = fields[0::2]
        values = fields[1::2]
        master = self.master_fields
        same = len(names) == len(master) and all(a == b for a, b in zip(names, master))
        size = (lp_int_size(2 if same else 0)
                + lp_int_size(_signed64(id_ms(stream_id) - id_ms(self.master_id)))
                + lp_int_size(_signed64((stream_id & SEQ_MASK) - (self.master_id & SEQ_MASK))))
        size += sum(map(lp_str_size, values))
        if same:
            item = _pack_values(values)
            size += lp_int_size(len(values) + 3)
        else:
            item = list(fields)
            size += lp_int_size(len(names)) + sum(map(lp_str_size, names))
            size += lp_int_size(len(names) * 2 + 4)
        self.ids.append(stream_id)
        self.items.append(item)
        self.live += 1
        self.body_bytes += size


def _pack_values(values: list):
    """A same-fields entry's values as one bytes object: their lengths, then them."""
    if len(values) < 256 and all(len(value) < 255 for value in values):
        return bytes(map(len, values)) + b"".join(values)
    return tuple(values)


def _node_size(node: StreamNode) -> int:
    size = sys.getsizeof(node) + sys.getsizeof(node.ids) + sys.getsizeof(node.items)
    size += sum(map(sys.getsizeof, node.ids))
    for item in node.items:
        if item is not None:
            size += sys.getsizeof(item)
            if type(item) is not bytes:
                size += sum(map(sys.getsizeof, item if type(item) is tuple else item[1::2]))
    return size


# -- consumer groups ---------------------------------------------------------------------
class PendingEntry:
    """streamNACK: an entry delivered to a consumer and not acknowledged yet."""
    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, consumer, delivery_time: int, delivery_count: int = 1):
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class Consumer:
    __slots__ = ("name", "seen_time", "active_time", "pel")

    def __init__(self, name: bytes, now: int):
        self.name = name
        self.seen_time = now
        self.active_time = -1       # Redis 7.2's field; kept for the persistence API
        self.pel = SortedDict()     # id -> PendingEntry (the same objects as the group's)


class ConsumerGroup:
    __slots__ = ("last_id", "entries_read", "pel", "consumers")

    def __init__(self, last_id: int, entries_read: int = INVALID_ENTRIES_READ):
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = SortedDict()     # id -> PendingEntry
        self.consumers: dict = {}   # name -> Consumer

    def consumer(self, name: bytes):
        return self.consumers.get(name)

    def create_consumer(self, name: bytes, now: int):
        """streamCreateConsumer: the new Consumer, or None if it exists."""
        if name in self.consumers:
            return None
        consumer = self.consumers[name] = Consumer(name, now)
        return consumer

    def delete_consumer(self, name: bytes) -> int:
        """streamDelConsumer: drop it and its pending entries; returns how many."""
        consumer = self.consumers.pop(name)
        for stream_id in consumer.pel:
            del self.pel[stream_id]
        return len(consumer.pel)

    def add_pending(self, stream_id: int, consumer, now: int) -> PendingEntry:
        """Deliver stream_id to consumer (a new NACK, or the existing one reassigned)."""
        nack = self.pel.get(stream_id)
        if nack is None:
            nack = self.pel[stream_id] = PendingEntry(consumer, now)
            consumer.pel[stream_id] = nack
            return nack
        if nack.consumer is not consumer:
            del nack.consumer.pel[stream_id]
            consumer.pel[stream_id] = nack
            nack.consumer = consumer
        nack.delivery_time = now
        nack.delivery_count = 1
        return nack

    def move_pending(self, stream_id: int, nack: PendingEntry, consumer) -> None:
        """Give a pending entry (possibly new, without consumer) to consumer."""
        if nack.consumer is not consumer:
            if nack.consumer is not None:
                del nack.consumer.pel[stream_id]
            consumer.pel[stream_id] = nack
            nack.consumer = consumer

    def ack(self, stream_id: int) -> bool:
        nack = self.pel.pop(stream_id, None)
        if nack is None:
            return False
        del nack.consumer.pel[stream_id]
        return True

    def sorted_consumers(self) -> list:
        """Consumers in the rax's (bytewise) order."""
        return [self.consumers[name] for name in sorted(self.consumers)]

    def copy(self) -> "ConsumerGroup":
        group = ConsumerGroup(self.last_id, self.entries_read)
        for name, old in self.consumers.items():
            consumer = group.consumers[name] = Consumer(name, old.seen_time)
            consumer.active_time = old.active_time
        for stream_id, nack in self.pel.items():
            consumer = group.consumers[nack.consumer.name]
            copy = group.pel[stream_id] = PendingEntry(consumer, nack.delivery_time, nack.delivery_count)
            consumer.pel[stream_id] = copy
        return group


# -- the stream ------------------------------------------------------------------------
class StreamValue:
    type_name = "stream"
    __slots__ = ("nodes", "node_keys", "length", "last_id", "first_id", "max_deleted_id",
                 "entries_added", "groups")

    def __init__(self):
        self.nodes: list = []       # StreamNode, by master_id
        self.node_keys: list = []   # their master ids, for bisect
        self.length = 0
        self.last_id = 0
        self.first_id = 0
        self.max_deleted_id = 0
        self.entries_added = 0
        self.groups: dict = {}      # name -> ConsumerGroup

    def encoding(self, config) -> str:
        return "stream"

    # -- adding ------------------------------------------------------------------
    def append(self, stream_id: int, fields: list, node_max_bytes: int = 4096,
               node_max_entries: int = 100) -> None:
        """streamAppendItem for an ID already validated (> last_id)."""
        node = self.nodes[-1] if self.nodes else None
        if node is not None:
            if node_max_bytes == 0 or node_max_bytes > LISTPACK_MAX_SIZE:
                node_max_bytes = LISTPACK_MAX_SIZE
            total = sum(map(len, fields))
            if node.lp_bytes() + total >= node_max_bytes:
                node = None
            elif node_max_entries and node.live + node.deleted >= node_max_entries:
                node = None
        if node is None:
            node = StreamNode(stream_id, tuple(fields[0::2]))
            self.nodes.append(node)
            self.node_keys.append(stream_id)
        node._append(stream_id, fields)
        self.length += 1
        self.entries_added += 1
        self.last_id = stream_id
        if self.length == 1:
            self.first_id = stream_id

    def load_node(self, master_id: int, master_fields: tuple, entries) -> StreamNode:
        """Append a node exactly as stored (RDB loading): entries are
        (id, flat fields, deleted flag), tombstones included, in ID order."""
        node = StreamNode(master_id, tuple(master_fields))
        for stream_id, fields, deleted in entries:
            node._append(stream_id, fields)
            if deleted:
                node.items[-1] = None
                node.live -= 1
                node.deleted += 1
        self.nodes.append(node)
        self.node_keys.append(master_id)
        self.length += node.live
        return node

    # -- reading -------------------------------------------------------------------
    def _locate(self, stream_id: int):
        """(node index, position) of stream_id, or None if not stored (or deleted)."""
        idx = bisect_right(self.node_keys, stream_id) - 1
        if idx < 0:
            return None
        node = self.nodes[idx]
        pos = bisect_left(node.ids, stream_id)
        if pos == len(node.ids) or node.ids[pos] != stream_id or node.items[pos] is None:
            return None
        return idx, pos

    def get(self, stream_id: int):
        """The flat fields of an entry, or None."""
        found = self._locate(stream_id)
        if found is None:
            return None
        node = self.nodes[found[0]]
        return node.fields_of(node.items[found[1]])

    def exists(self, stream_id: int) -> bool:
        return self._locate(stream_id) is not None

    def range(self, start: int, end: int, count: int = 0, rev: bool = False):
        """Entries (id, flat fields) with start <= id <= end, at most count (0 = all)."""
        if start > end or not self.nodes:
            return []
        return self._range_rev(start, end, count) if rev else self._range_fwd(start, end, count)

    def _range_fwd(self, start, end, count):
        out = []
        nodes = self.nodes
        idx = max(0, bisect_right(self.node_keys, start) - 1)
        pos = bisect_left(nodes[idx].ids, start)
        while idx < len(nodes):
            node = nodes[idx]
            ids, items = node.ids, node.items
            stop = bisect_right(ids, end, pos)
            for i in range(pos, stop):
                item = items[i]
                if item is not None:
                    out.append((ids[i], node.fields_of(item)))
                    if len(out) == count:
                        return out
            if stop < len(ids):
                break
            idx += 1
            pos = 0
        return out

    def _range_rev(self, start, end, count):
        out = []
        nodes = self.nodes
        idx = bisect_right(self.node_keys, end) - 1
        if idx < 0:
            return out
        pos = bisect_right(nodes[idx].ids, end)
        while idx >= 0:
            node = nodes[idx]
            ids, items = node.ids, node.items
            low = bisect_left(ids, start, 0, pos)
            for i in range(pos - 1, low - 1, -1):
                item = items[i]
                if item is not None:
                    out.append((ids[i], node.fields_of(item)))
                    if len(out) == count:
                        return out
            if low > 0:
                break
            idx -= 1
            if idx >= 0:
                pos = len(nodes[idx].ids)
        return out

    def first_entry_id(self) -> int:
        """The first live ID (streamGetEdgeID first), 0 for an empty stream."""
        for node in self.nodes:
            for stream_id, item in zip(node.ids, node.items):
                if item is not None:
                    return stream_id
        return 0

    def last_entry_id(self) -> int:
        """streamLastValidID: the last live ID, 0 for an empty stream."""
        for node in reversed(self.nodes):
            for i in range(len(node.ids) - 1, -1, -1):
                if node.items[i] is not None:
                    return node.ids[i]
        return 0

    def iter_entries(self):
        for node in self.nodes:
            yield from node.entries()

    # -- deleting ------------------------------------------------------------------
    def delete(self, stream_id: int) -> bool:
        """streamDeleteItem: tombstone the entry; a node left without live entries goes."""
        found = self._locate(stream_id)
        if found is None:
            return False
        idx, pos = found
        node = self.nodes[idx]
        node.items[pos] = None
        node.live -= 1
        node.deleted += 1
        self.length -= 1
        if node.live == 0:
            del self.nodes[idx]
            del self.node_keys[idx]
        return True

    def trim(self, maxlen: int | None = None, minid: int | None = None,
             approx: bool = False, limit: int = 0) -> int:
        """streamTrim: remove entries below maxlen / minid; returns how many."""
        deleted = 0
        while self.nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node = self.nodes[0]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if maxlen is not None:
                remove_node = self.length - entries >= maxlen
            else:
                remove_node = node.ids[-1] < minid
            if remove_node:
                del self.nodes[0]
                del self.node_keys[0]
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            deleted += self._trim_inside(node, maxlen, minid)
            break
        if self.length:
            self.first_id = self.first_entry_id()
        else:
            self.first_id = 0
        return deleted

    def _trim_inside(self, node: StreamNode, maxlen, minid) -> int:
        removed = 0
        items = node.items
        for i, stream_id in enumerate(node.ids):
            if maxlen is not None:
                if self.length <= maxlen:
                    break
            elif stream_id >= minid:
                break
            if items[i] is not None:
                items[i] = None
                removed += 1
                self.length -= 1
        node.live -= removed
        node.deleted += removed
        return removed

    # -- radix tree shape (XINFO STREAM) -----------------------------------------
    def radix_tree_nodes(self) -> int:
        """rax->numnodes for the node keys (128-bit big-endian IDs): the root, every
        key, every branching prefix and every child of a branching prefix."""
        keys = [k.to_bytes(16, "big") for k in self.node_keys]
        seen = {b""}
        seen.update(keys)
        for a, b in zip(keys, keys[1:]):
            common = 0
            while a[common] == b[common]:
                common += 1
            seen.add(a[:common])
            seen.add(a[:common + 1])
            seen.add(b[:common + 1])
        return len(seen)

    # -- consumer groups -----------------------------------------------------------
    def create_group(self, name: bytes, last_id: int, entries_read: int = INVALID_ENTRIES_READ):
        """streamCreateCG: the new group, or None if the name is taken."""
        if name in self.groups:
            return None
        group = self.groups[name] = ConsumerGroup(last_id, entries_read)
        return group

    def range_has_tombstones(self, start: int) -> bool:
        """streamRangeHasTombstones(start, +inf)."""
        if not self.length or not self.max_deleted_id:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        return start <= self.max_deleted_id

    def estimate_entries_read(self, stream_id: int) -> int:
        """streamEstimateDistanceFromFirstEverEntry."""
        if not self.entries_added:
            return 0
        if not self.length and stream_id <= self.last_id:
            return self.entries_added
        if stream_id == self.last_id:
            return self.entries_added
        if stream_id > self.last_id:
            return INVALID_ENTRIES_READ
        if not self.max_deleted_id or self.max_deleted_id < self.first_id:
            if stream_id < self.first_id:
                return self.entries_added - self.length
            if stream_id == self.first_id:
                return self.entries_added - self.length + 1
        return INVALID_ENTRIES_READ

    def group_lag(self, group: ConsumerGroup):
        """streamReplyWithCGLag: the number of entries not delivered yet, or None."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        entries_read = self.estimate_entries_read(group.last_id)
        if entries_read != INVALID_ENTRIES_READ:
            return self.entries_added - entries_read
        return None

    def advance_group(self, group: ConsumerGroup, stream_id: int) -> None:
        """A group read past its last ID (streamReplyWithRange's entries_read update)."""
        if group.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(stream_id):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_entries_read(stream_id)
        group.last_id = stream_id

    def sorted_groups(self) -> list:
        return [(name, self.groups[name]) for name in sorted(self.groups)]

    # -- MEMORY USAGE ------------------------------------------------------------------
    def memory_usage(self, samples: int = 5) -> int:
        """Bytes held by the stream; like objectComputeSize, `samples` nodes (0 = all)
        are measured and the average stands for the others. Groups are measured fully."""
        size = sys.getsizeof(self) + sys.getsizeof(self.nodes) + sys.getsizeof(self.node_keys)
        nodes = self.nodes if samples == 0 else self.nodes[:samples]
        if nodes:
            measured = sum(_node_size(node) for node in nodes)
            size += measured * len(self.nodes) // len(nodes)
        for name, group in self.groups.items():
            size += sys.getsizeof(name) + sys.getsizeof(group) + sys.getsizeof(group.consumers)
            size += len(group.pel) * (sys.getsizeof(PendingEntry.__new__(PendingEntry)) + 2 * _PEL_SLOT)
            size += sum(sys.getsizeof(c) + sys.getsizeof(c.name) for c in group.consumers.values())
        return size

    # -- COPY --------------------------------------------------------------------------
    def copy(self) -> "StreamValue":
        clone = StreamValue()
        for node in self.nodes:
            twin = StreamNode(node.master_id, node.master_fields)
            twin.ids = list(node.ids)
            twin.items = list(node.items)    # bytes and tuples are immutable; lists are never mutated
            twin.live, twin.deleted, twin.body_bytes = node.live, node.deleted, node.body_bytes
            clone.nodes.append(twin)
        clone.node_keys = list(self.node_keys)
        clone.length, clone.last_id, clone.first_id = self.length, self.last_id, self.first_id
        clone.max_deleted_id, clone.entries_added = self.max_deleted_id, self.entries_added
        clone.groups = {name: group.copy() for name, group in self.groups.items()}
        return clone

    # -- AOF rewrite -------------------------------------------------------------------
    def rewrite_commands(self, key: bytes):
        """rewriteStreamObject (aof.c, Redis 7.0): the commands that rebuild the stream."""
        if self.length:
            for stream_id, fields in self.iter_entries():
                yield [b"XADD", key, format_id(stream_id)] + fields
        else:
            # The MAXLEN 0 trick creates an empty stream; XSETID then sets the real last ID.
            yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
        yield [b"XSETID", key, format_id(self.last_id), b"ENTRIESADDED", b"%d" % self.entries_added,
               b"MAXDELETEDID", format_id(self.max_deleted_id)]
        for name, group in self.sorted_groups():
            yield [b"XGROUP", b"CREATE", key, name, format_id(group.last_id),
                   b"ENTRIESREAD", b"%d" % group.entries_read]
            for consumer in group.sorted_consumers():
                if not consumer.pel:
                    yield [b"XGROUP", b"CREATECONSUMER", key, name, consumer.name]
                for stream_id, nack in consumer.pel.items():
                    yield [b"XCLAIM", key, name, consumer.name, b"0", format_id(stream_id),
                           b"TIME", b"%d" % nack.delivery_time, b"RETRYCOUNT",
                           b"%d" % nack.delivery_count, b"JUSTID", b"FORCE"]
