"""Redis 7.0's getkeys_proc functions (db.c), for COMMAND GETKEYS / GETKEYSANDFLAGS.

getKeysFromCommandWithSpecs prefers the key specs and falls back on these only when
a spec is incomplete, unknown or does not fit the arguments, or when a spec has
VARIABLE_FLAGS (SET, BITFIELD). Each returns [(position, [key flags])], with the
flags the C function sets: SET, BITFIELD, SORT, SORT_RO and MIGRATE tell them, the
others (genericGetKeys, georadiusGetKeys, xreadGetKeys) report none.
"""
from __future__ import annotations

RO_ACCESS = ["RO", "access"]
RW_ACCESS_UPDATE = ["RW", "access", "update"]
OW_UPDATE = ["OW", "update"]
RW_ACCESS_DELETE = ["RW", "access", "delete"]


def _atoi(arg: bytes) -> int:
    """C atoi: leading blanks, a sign, then digits up to the first other byte."""
    text = arg.lstrip(b" \t\n\v\f\r")
    sign = 1
    if text[:1] in (b"+", b"-"):
        sign = -1 if text[:1] == b"-" else 1
        text = text[1:]
    digits = 0
    while digits < len(text) and 48 <= text[digits] <= 57:
        digits += 1
    return sign * int(text[:digits]) if digits else 0


def _generic(store: int, count: int, first: int, step: int):
    """genericGetKeys: numkeys at `count`, keys from `first`, a destination at `store`."""
    def getkeys(argv: list) -> list:
        num = _atoi(argv[count])
        if num < 1 or num > int((len(argv) - first) / step):
            return []   # the command will reply a syntax error
        keys = [(first + i * step, []) for i in range(num)]
        if store:
            keys.append((store, []))
        return keys
    return getkeys


def _set(argv: list) -> list:
    """setGetKeys: GET makes SET read the old value too."""
    if any(arg.lower() == b"get" for arg in argv[3:]):
        return [(1, RW_ACCESS_UPDATE)]
    return [(1, OW_UPDATE)]


def _bitfield(argv: list) -> list:
    """bitfieldGetKeys: read-only unless a SET/INCRBY (or a syntax error) comes first."""
    argc, i = len(argv), 2
    readonly = True
    while i < argc:
        remaining = argc - i - 1
        op = argv[i].lower()
        if op == b"get" and remaining >= 2:
            i += 2
        elif op in (b"set", b"incrby") and remaining >= 3:
            readonly = False
            break
        elif op == b"overflow" and remaining >= 1:
            i += 1
        else:
            readonly = False    # a syntax error: safer to assume a write
            break
        i += 1
    return [(1, RO_ACCESS if readonly else RW_ACCESS_UPDATE)]


def _sort_ro(argv: list) -> list:
    return [(1, RO_ACCESS)]


_SORT_SKIP = {b"limit": 2, b"get": 1, b"by": 1}


def _sort(argv: list) -> list:
    """sortGetKeys: the sorted key, and the last STORE destination."""
    argc, store, i = len(argv), None, 2
    while i < argc:
        arg = argv[i].lower()
        if arg in _SORT_SKIP:
            i += _SORT_SKIP[arg]
        elif arg == b"store" and i + 1 < argc:
            store = i + 1
        i += 1
    keys = [(1, RO_ACCESS)]
    if store is not None:
        keys.append((store, OW_UPDATE))
    return keys


_MIGRATE_SKIP = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}


def _migrate(argv: list) -> list:
    """migrateGetKeys: argv[3], or the KEYS list when argv[3] is empty."""
    argc, first, num = len(argv), 3, 1
    if argc > 6:
        i = 6
        while i < argc:
            arg = argv[i].lower()
            if arg == b"keys":
                if argv[3]:
                    num = 0     # a syntax error, left to MIGRATE to report
                else:
                    first, num = i + 1, argc - i - 1
                break
            i += _MIGRATE_SKIP.get(arg, 0) + 1
    return [(first + i, RW_ACCESS_DELETE) for i in range(num)]


def _georadius(argv: list) -> list:
    """georadiusGetKeys: the key, and the last STORE/STOREDIST destination."""
    argc, stored, i = len(argv), None, 5
    while i < argc:
        if argv[i].lower() in (b"store", b"storedist") and i + 1 < argc:
            stored = i + 1
            i += 1
        i += 1
    return [(1, [])] + ([(stored, [])] if stored is not None else [])


_XREAD_SKIP = {b"block": 1, b"count": 1, b"group": 2, b"noack": 0}


def _xread(argv: list) -> list:
    """xreadGetKeys: the first half of what follows STREAMS."""
    argc, streams, i = len(argv), None, 1
    while i < argc:
        arg = argv[i].lower()
        if arg == b"streams":
            streams = i
            break
        if arg not in _XREAD_SKIP:
            break
        i += _XREAD_SKIP[arg] + 1
    if streams is None:
        return []
    num = argc - streams - 1
    if num == 0 or num % 2:
        return []
    return [(pos, []) for pos in range(streams + 1, argc - num // 2)]


# The commands with a getkeys_proc (get_keys_function in src/commands/*.json).
REDIS_GETKEYS = {
    "set": _set, "bitfield": _bitfield, "sort": _sort, "sort_ro": _sort_ro, "migrate": _migrate,
    "georadius": _georadius, "georadiusbymember": _georadius,
    "xread": _xread, "xreadgroup": _xread,
    "eval": _generic(0, 2, 3, 1), "eval_ro": _generic(0, 2, 3, 1),
    "evalsha": _generic(0, 2, 3, 1), "evalsha_ro": _generic(0, 2, 3, 1),
    "fcall": _generic(0, 2, 3, 1), "fcall_ro": _generic(0, 2, 3, 1),
    "zunion": _generic(0, 1, 2, 1), "zinter": _generic(0, 1, 2, 1), "zdiff": _generic(0, 1, 2, 1),
    "zintercard": _generic(0, 1, 2, 1),
    "zunionstore": _generic(1, 2, 3, 1), "zinterstore": _generic(1, 2, 3, 1),
    "zdiffstore": _generic(1, 2, 3, 1),
    "sintercard": _generic(0, 1, 2, 1), "lmpop": _generic(0, 1, 2, 1), "zmpop": _generic(0, 1, 2, 1),
    "blmpop": _generic(0, 2, 3, 1), "bzmpop": _generic(0, 2, 3, 1),
}
