"""HyperLogLog group (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

HLLs are ordinary string values in Redis's exact layout (storage/values/hyperloglog.py),
so GET/SET and RDB move them to and from real Redis unchanged.
"""
from __future__ import annotations

import random

from ferrous import errors
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.server.notify import NOTIFY_STRING, notify
from ferrous.storage.values import hyperloglog as hll


def _check_hll(value):
    """isHLLObjectOrReply: WRONGTYPE for another type, then the HLL-specific error."""
    if type(value) is not bytes:
        raise CommandError(errors.WRONGTYPE)
    if not hll.is_valid_hll(value):
        raise CommandError(errors.HLL_WRONGTYPE)
    return value


def _max_sparse(ctx) -> int:
    return ctx.server.config.hll_sparse_max_bytes


def _store(ctx, key: bytes, value: bytes, existed: bool) -> None:
    """Replace the HLL in place: an existing key keeps its TTL, as Redis edits the sds."""
    ctx.db.set(key, value, keep_ttl=existed)


@command("pfadd", arity=-2, flags="write denyoom fast", keys=(1, 1, 1), group="hyperloglog")
def pfadd(ctx, argv):
    key = argv[1]
    current = ctx.db.lookup(key)
    existed = current is not None
    updated = 0
    if existed:
        _check_hll(current)
        ctx.db.mark_raw(key, current)   # dbUnshareStringValue, even when nothing changes
    else:
        current = hll.new_sparse()
        updated = 1
    try:
        value, changed = hll.add_elements(current, argv[2:], _max_sparse(ctx))
    except hll.CorruptedHLL as exc:
        # Redis edits the string in place: the registers set before the corruption
        # was met stay set, with no propagation (dirty is not incremented).
        if exc.partial is not None and exc.partial != current:
            _replace_silently(ctx, key, exc.partial)
        raise CommandError(errors.HLL_CORRUPTED) from None
    updated += changed
    if updated:
        buf = bytearray(value)
        hll.invalidate_cache(buf)
        _store(ctx, key, bytes(buf), existed)
        ctx.db.mark_raw(key, buf)       # createHLLObject / the unshared string: raw
        notify(ctx, NOTIFY_STRING, "pfadd", key)
        ctx.dirty += updated
    return 1 if updated else 0


def _generic_union_registers(ctx, keys) -> tuple[bytearray, bool]:
    """hllMerge over keys (missing keys count as empty): (max registers, any dense?)."""
    registers = bytearray(hll.HLL_REGISTERS)
    any_dense = False
    for key in keys:
        value = ctx.read(key)
        if value is None:
            continue
        _check_hll(value)
        any_dense = any_dense or not hll.is_sparse(value)
        try:
            hll.merge_max(registers, value)
        except hll.CorruptedHLL:
            raise CommandError(errors.HLL_CORRUPTED) from None
    return registers, any_dense


# may_replicate: PFCOUNT may rewrite the cached cardinality, so a WRITE pause holds it.
@command("pfcount", arity=-2, flags="readonly may_replicate", keys=(1, -1, 1), group="hyperloglog")
def pfcount(ctx, argv):
    if len(argv) > 2:
        registers, _ = _generic_union_registers(ctx, argv[1:])
        return hll.count_histogram(hll.registers_histogram(registers))
    key = argv[1]
    value = ctx.read(key)
    if value is None:
        return 0
    _check_hll(value)
    # Redis unshares the string even when the cached count is valid. Only readers
    # hold the shard; marks are one dict store each, like _write_cache's.
    ctx.db.mark_raw(key, value)
    card = hll.cached_cardinality(value)
    if card is not None:
        return card
    try:
        card = hll.cardinality(value)
    except hll.CorruptedHLL:
        raise CommandError(errors.HLL_CORRUPTED) from None
    _write_cache(ctx, key, hll.with_cached_cardinality(value, card))
    return card


def _write_cache(ctx, key: bytes, value: bytes) -> None:
    """Store the value with its refreshed cache, as Redis does from a read-only command.

    PFCOUNT holds only a read lock: writers are excluded, and concurrent PFCOUNTs of
    the key compute the very same bytes, so one atomic replacement of the dict entry
    (no TTL, access-time or scan bookkeeping: the key already exists) is safe.
    """
    _replace_silently(ctx, key, value)
    ctx.db.touch(key)
    ctx.dirty += 1


def _replace_silently(ctx, key: bytes, value: bytes) -> None:
    """Swap an existing key's string for an edited copy, like Redis's in-place edit of
    the sds: TTL, access time and scan state stay; no event is raised."""
    db = ctx.db
    db.data[hash(key) & db.mask][key] = value


@command("pfmerge", arity=-2, flags="write denyoom", keys=(1, -1, 1), group="hyperloglog")
def pfmerge(ctx, argv):
    registers, use_dense = _generic_union_registers(ctx, argv[1:])
    key = argv[1]
    dest = ctx.db.lookup(key)
    existed = dest is not None
    try:
        merged = hll.write_registers(dest if existed else hll.new_sparse(), registers,
                                     use_dense, _max_sparse(ctx))
    except hll.CorruptedHLL:
        if existed:
            ctx.db.mark_raw(key, dest)  # unshared before the conversion failed
        raise CommandError(errors.HLL_CORRUPTED) from None
    _store(ctx, key, merged, existed)
    ctx.db.mark_raw(key, merged)
    notify(ctx, NOTIFY_STRING, "pfadd", key)
    ctx.dirty += 1
    return "OK"


@command("pfdebug", arity=3, flags="write denyoom admin", keys=(2, 2, 1), group="hyperloglog")
def pfdebug(ctx, argv):
    sub, key = argv[1], argv[2]
    value = ctx.db.lookup(key)
    if value is None:
        raise CommandError(errors.PFDEBUG_NO_KEY)
    _check_hll(value)
    ctx.db.mark_raw(key, value)     # unshared for every subcommand (dense ones are long)
    name = sub.lower()
    try:
        if name == b"getreg":
            value = _generic_to_dense(ctx, key, value)
            return list(hll.dense_registers(value))
        if name == b"decode":
            if not hll.is_sparse(value):
                raise CommandError(errors.PFDEBUG_NOT_SPARSE)
            return hll.decode_sparse(value)
        if name == b"encoding":
            return "sparse" if hll.is_sparse(value) else "dense"
        if name == b"todense":
            converted = hll.is_sparse(value)
            _generic_to_dense(ctx, key, value)
            return 1 if converted else 0
    except hll.CorruptedHLL:
        raise CommandError(errors.HLL_CORRUPTED) from None
    raise CommandError(errors.PFDEBUG_UNKNOWN % sub.decode("utf-8", "replace"))


def _generic_to_dense(ctx, key: bytes, value: bytes) -> bytes:
    if hll.is_sparse(value):
        value = hll.sparse_to_dense(value)
        ctx.db.set(key, value, keep_ttl=True)
        ctx.dirty += 1          # Redis forces propagation of the encoding change
    return value


@command("pfselftest", arity=1, flags="admin", group="hyperloglog")
def pfselftest(ctx, argv):
    """A shortened hllSelfTest: sparse and dense encodings of the same elements must
    hold the same registers and count, and the estimate must be within bounds."""
    rng = random.Random(1234)
    elements = [b"%d" % rng.getrandbits(64) for _ in range(2000)]
    sparse, _ = hll.add_elements(hll.new_sparse(), elements, 1 << 30)
    dense, _ = hll.add_elements(hll.sparse_to_dense(hll.new_sparse()), elements, 0)
    if hll.registers_of(sparse) != hll.registers_of(dense):
        raise CommandError("ERR TESTFAILED sparse and dense representations differ")
    estimate = hll.cardinality(dense)
    if estimate != hll.cardinality(sparse) or abs(estimate - 2000) > 2000 * 0.05:
        raise CommandError("ERR TESTFAILED cardinality estimate out of bounds")
    return "OK"
