"""Memory accounting: INFO memory, MEMORY USAGE/STATS/DOCTOR/PURGE, maxmemory.

used_memory is *measured* from the allocators, as Redis reads it from jemalloc
(README, "Observability"):
- pymalloc, which holds every object of 512 bytes or less (most keys and values):
  CPython's own `_PyObject_DebugMallocStats` report, written into an in-memory
  stream (open_memstream), gives "# bytes in allocated blocks", exact; it walks
  the arenas' pool headers, about 0.4 ms per million keys. So that INFO stays
  cheap under load, the walk runs at most every 100 ms (serverCron's pace); in
  between, the walked figure moves by the blocks allocated or freed since
  (sys.getallocatedblocks, a count pymalloc keeps exactly, a few microseconds)
  times the walk's mean block size (_PymallocGauge).
- glibc malloc, which holds everything larger (big strings, dict and list tables):
  mallinfo2(): uordblks (bytes in use in every arena) + hblkhd (mmapped chunks).
Both go down as soon as memory is freed, so maxmemory eviction sees its effect.
libc is called through ctypes.PyDLL, which keeps the GIL: under load, every GIL
release would cost INFO up to a switch interval (5 ms) to get it back.
used_memory_rss is sampled by the cron every tick, as Redis's serverCron does.
Free-threaded builds use mimalloc, which keeps no byte totals: there used_memory
is the start-up RSS plus the live blocks counted since (sys.getallocatedblocks) at
a mean block size, an approximation (see _mimalloc_estimate).

MEMORY USAGE of one key is computed like objectComputeSize: the key and value
objects' sys.getsizeof(), the members of containers sampled (SAMPLES, default 5,
0 = all) and scaled to the container's length, plus the keyspace's dict entry.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import resource
import sys
import threading
import time

# Per key, besides the key and value objects: its slot in the shard's dict and in the
# access-time dict (hash, key, value + an index entry each) and the access time float.
DICT_ENTRY = 2 * (24 + 8) + 24


# -- the allocators -----------------------------------------------------------------
class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def _load_libc():
    try:
        libc = ctypes.PyDLL(ctypes.util.find_library("c") or "libc.so.6")   # keeps the GIL
        libc.mallinfo2.restype = _MallInfo2
        libc.open_memstream.restype = ctypes.c_void_p
        libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.free.argtypes = [ctypes.c_void_p]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()
_lock = threading.Lock()     # one allocator walk at a time


def _pymalloc_stats_function():
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    func = getattr(ctypes.pythonapi, "_PyObject_DebugMallocStats", None)
    if func is None or _LIBC is None or not gil:
        return None      # mimalloc (free-threaded builds) keeps no allocated-bytes total
    func.argtypes = [ctypes.c_void_p]
    func.restype = ctypes.c_int
    return func


_PYMALLOC_STATS = _pymalloc_stats_function()


def pymalloc_allocated() -> int | None:
    """Bytes in allocated pymalloc blocks, from CPython's own report."""
    if _PYMALLOC_STATS is None:
        return None
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = _LIBC.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not stream:
        return None
    try:
        active = _PYMALLOC_STATS(stream)
    finally:
        _LIBC.fclose(stream)
    text = ctypes.string_at(buf, size.value)
    _LIBC.free(buf)
    if not active:
        return None
    for line in text.splitlines():
        if line.startswith(b"# bytes in allocated blocks"):
            return int(line.split(b"=")[1].strip().replace(b",", b""))
    return None


def malloc_allocated() -> int | None:
    if _LIBC is None:
        return None
    info = _LIBC.mallinfo2()
    return info.uordblks + info.hblkhd


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# Free-threaded builds allocate every object from mimalloc, which keeps no byte
# totals but does count live blocks (sys.getallocatedblocks, ~0.1 ms): there,
# used_memory is the RSS at import plus the blocks allocated since, at a mean
# block size measured for small keys and values (about 64 bytes). An
# approximation, but one that shrinks when memory is freed, as eviction needs.
_MIMALLOC_MEAN_BLOCK = 64
_BASE_RSS = None
_BASE_BLOCKS = 0


def _mimalloc_estimate() -> int:
    global _BASE_RSS, _BASE_BLOCKS
    if _BASE_RSS is None:
        _BASE_RSS, _BASE_BLOCKS = rss_bytes(), sys.getallocatedblocks()
    return max(_BASE_RSS + (sys.getallocatedblocks() - _BASE_BLOCKS) * _MIMALLOC_MEAN_BLOCK, 0)


class _PymallocGauge:
    """pymalloc's allocated bytes: the exact walk at most every WALK_EVERY seconds;
    in between, the last walk moved by the blocks allocated or freed since, at the
    walk's mean block size. Allocations and frees show at once; the mix of block
    sizes is re-measured every 100 ms. Callers hold _lock."""
    WALK_EVERY = 0.1

    def __init__(self):
        self.walked_at = float("-inf")
        self.walked_bytes = 0
        self.walked_blocks = 0
        self.mean_block = 0.0

    def allocated(self) -> int | None:
        now = time.monotonic()
        if now - self.walked_at < self.WALK_EVERY:
            moved = (sys.getallocatedblocks() - self.walked_blocks) * self.mean_block
            return max(int(self.walked_bytes + moved), 0)
        blocks = sys.getallocatedblocks()
        exact = pymalloc_allocated()
        if exact is not None:
            self.walked_at, self.walked_bytes, self.walked_blocks = now, exact, blocks
            self.mean_block = exact / blocks if blocks else 0.0
        return exact


_PYMALLOC_GAUGE = _PymallocGauge()


def allocated_bytes() -> int:
    """used_memory: what the allocators hand out right now."""
    with _lock:
        small = _PYMALLOC_GAUGE.allocated() if _PYMALLOC_STATS is not None else None
        large = malloc_allocated()
    if small is None or large is None:
        return _mimalloc_estimate() if _PYMALLOC_STATS is None else rss_bytes()
    return small + large


def allocator_name() -> str:
    return "pymalloc+libc" if _PYMALLOC_STATS is not None else "mimalloc"


def purge() -> None:
    """MEMORY PURGE: give free heap pages back to the system (jemalloc's purge)."""
    if _LIBC is not None:
        try:
            _LIBC.malloc_trim(0)
        except AttributeError:
            pass


class MemoryTracker:
    """server.memory: the startup baseline and the peak (zmalloc_used_memory's
    companions). The cron samples the peak every tick, as serverCron does."""

    def __init__(self):
        self.startup = allocated_bytes()
        self.peak = self.startup
        self.rss_startup = rss_bytes()
        self.rss = self.rss_startup     # sampled by the cron (used_memory_rss)
        self.started = False

    def used(self) -> int:
        used = allocated_bytes()
        if used > self.peak:
            self.peak = used
        return used

    def sample(self) -> None:
        used = self.used()
        self.rss = rss_bytes()
        if not self.started:
            # The first cron tick runs once the threads are up: that is the start-up
            # figure (Redis takes it at the end of initServer).
            self.started = True
            self.startup = used

    def reset_peak(self) -> None:
        self.peak = allocated_bytes()


def install(server) -> MemoryTracker:
    tracker = MemoryTracker()
    server.memory = tracker
    return tracker


# -- per key ------------------------------------------------------------------------
def key_usage(key: bytes, value, samples: int) -> int:
    """MEMORY USAGE: key + value + the keyspace's entry for them."""
    return sys.getsizeof(key) + value_size(value, samples) + DICT_ENTRY


def value_size(value, samples: int = 5) -> int:
    if type(value) is bytes:
        return sys.getsizeof(value)
    usage = getattr(value, "memory_usage", None)
    if callable(usage):
        return usage(samples)
    size = sys.getsizeof(value)
    for member in _members(value):
        size += _container_size(member, samples)
    return size


def _members(value) -> list:
    members = []
    for cls in type(value).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(value, name):
                members.append(getattr(value, name))
    members.extend(getattr(value, "__dict__", {}).values())
    return members


def _container_size(obj, samples: int) -> int:
    """An attribute of a value object: containers are sized with their elements,
    sampled like Redis samples a big hash (0 = look at every element)."""
    size = sys.getsizeof(obj)
    if isinstance(obj, (bytes, str, int, float, bool)) or obj is None:
        return size
    try:
        length = len(obj)
    except TypeError:
        return size
    if not length:
        return size
    try:
        items = obj.items() if isinstance(obj, dict) else obj
        sample = list(itertools.islice(items, samples if samples > 0 else None))
    except (TypeError, RuntimeError):
        return size
    if not sample:
        return size
    sampled = sum(_element_size(item) for item in sample)
    return size + sampled * length // len(sample)


def _element_size(item) -> int:
    if isinstance(item, tuple):
        return sum(_element_size(part) for part in item)
    if isinstance(item, (list, dict, set)):
        return _container_size(item, 5)
    return sys.getsizeof(item)


def keyspace_overhead(keyspace) -> tuple:
    """(main hash tables, expire tables) in bytes: sys.getsizeof of every shard's dicts."""
    main = expires = 0
    for db in keyspace.dbs:
        for shard, expire in zip(db.data, db.expires):
            if shard:
                main += sys.getsizeof(shard)
            when = getattr(expire, "when", None)
            if when:
                expires += sys.getsizeof(when)
    return main, expires


def bytes_to_human(n: int) -> str:
    """bytesToHuman: B, then K/M/G/T/P with two decimals."""
    if n < 1024:
        return f"{n}B"
    for power, unit in enumerate("KMGTP", 1):
        if n < 1024 ** (power + 1) or unit == "P":
            return "%.2f%s" % (n / 1024 ** power, unit)
    return f"{n}B"
