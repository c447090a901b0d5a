"""pqsort.c as shipped with Redis 7.0: the NetBSD quicksort that skips partitions
holding none of the places lrange..rrange. Redis sorts with it when only a window of
the result is wanted (GEOSEARCH ... COUNT, SORT BY ... LIMIT); it is not stable, so it
is ported index for index to leave equal items in Redis's order.
"""
from __future__ import annotations


def partial_quicksort(items: list, cmp, lrange: int, rrange: int) -> None:
    """Sort items in place with cmp (a C comparator: <0, 0, >0) so that places
    lrange..rrange hold what a full sort would put there."""
    _pqsort(items, 0, len(items), cmp, lrange, rrange)


def _med3(items, a, b, c, cmp):
    if cmp(items[a], items[b]) < 0:
        if cmp(items[b], items[c]) < 0:
            return b
        return c if cmp(items[a], items[c]) < 0 else a
    if cmp(items[b], items[c]) > 0:
        return b
    return a if cmp(items[a], items[c]) < 0 else c


def _insertion_sort(items, a, n, cmp):
    for pm in range(a + 1, a + n):
        pl = pm
        while pl > a and cmp(items[pl - 1], items[pl]) > 0:
            items[pl], items[pl - 1] = items[pl - 1], items[pl]
            pl -= 1


def _vecswap(items, a, b, n):
    for i in range(n):
        items[a + i], items[b + i] = items[b + i], items[a + i]


def _pqsort(items, a, n, cmp, lrange, rrange):
    while True:
        if n < 7:
            _insertion_sort(items, a, n, cmp)
            return
        pm = a + n // 2
        if n > 7:
            pl, pn = a, a + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(items, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(items, pm - d, pm, pm + d, cmp)
                pn = _med3(items, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(items, pl, pm, pn, cmp)
        items[a], items[pm] = items[pm], items[a]
        pa = pb = a + 1
        pc = pd = a + n - 1
        while True:
            while pb <= pc:
                result = cmp(items[pb], items[a])
                if result > 0:
                    break
                if result == 0:
                    items[pa], items[pb] = items[pb], items[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                result = cmp(items[pc], items[a])
                if result < 0:
                    break
                if result == 0:
                    items[pc], items[pd] = items[pd], items[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            items[pb], items[pc] = items[pc], items[pb]
            pb += 1
            pc -= 1
        # Redis 7.0's copy has no "no swaps: switch to insertion sort" shortcut.
        pn = a + n
        r = min(pa - a, pb - pa)
        _vecswap(items, a, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        _vecswap(items, pb, pn - r, r)
        r = pb - pa
        if r > 1 and not _outside(a, a + r - 1, lrange, rrange):
            _pqsort(items, a, r, cmp, lrange, rrange)
        r = pd - pc
        if r > 1:
            a, n = pn - r, r
            if not _outside(a, a + r - 1, lrange, rrange):
                continue
        return


def _outside(low: int, high: int, lrange: int, rrange: int) -> bool:
    """The sub-array [low, high] holds none of the places being sorted."""
    return (lrange < low and rrange < low) or (lrange > high and rrange > high)
