"""Geo group (geo.c): GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH[STORE], GEORADIUS*.
A geo index is a sorted set; the geometry lives in storage/values/geo.py."""
from __future__ import annotations

from dataclasses import dataclass

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous.commands.sets import c_option
from ferrous.commands.zsets import apply_zadd, parse_double, read_zset, store_result
from ferrous.errors import CommandError
from ferrous.protocol import NULL_ARRAY, Raw
from ferrous.storage.values import geo
from ferrous.storage.values.zsets import ZSetValue
from ferrous.server.blocking import signal_key_ready
from ferrous.server.notify import NOTIFY_ZSET, notify, store_event

# georadiusGeneric flags
COORDS, MEMBER, NOSTORE, SEARCH, SEARCHSTORE = 1, 2, 4, 8, 16


# -- argument helpers ------------------------------------------------------------------
def _parse_lonlat(longitude: bytes, latitude: bytes) -> tuple[float, float]:
    """extractLongLatOrReply."""
    lon, lat = parse_double(longitude), parse_double(latitude)
    if not geo.coordinates_valid(lon, lat):
        raise CommandError(errors.GEO_INVALID_LONLAT % (lon, lat))
    return lon, lat


def _parse_unit(unit: bytes) -> float:
    """extractUnitOrReply: meters per unit."""
    factor = geo.UNITS.get(c_option(unit))
    if factor is None:
        raise CommandError(errors.GEO_UNSUPPORTED_UNIT)
    return factor


def _parse_radius(shape: geo.Shape, radius: bytes, unit: bytes) -> None:
    """extractDistanceOrReply."""
    value = parse_double(radius, errors.GEO_NEED_RADIUS)
    if value < 0:
        raise CommandError(errors.GEO_RADIUS_NEGATIVE)
    shape.radius = value
    shape.conversion = _parse_unit(unit)


def _parse_box(shape: geo.Shape, width: bytes, height: bytes, unit: bytes) -> None:
    """extractBoxOrReply."""
    w = parse_double(width, errors.GEO_NEED_WIDTH)
    h = parse_double(height, errors.GEO_NEED_HEIGHT)
    if h < 0 or w < 0:
        raise CommandError(errors.GEO_BOX_NEGATIVE)
    shape.radius, shape.width, shape.height = None, w, h
    shape.conversion = _parse_unit(unit)


def _member_position(zset: ZSetValue, member: bytes) -> tuple[float, float]:
    score = zset.score(member)
    if score is None:
        raise CommandError(errors.GEO_MEMBER_UNDECODABLE)
    return geo.score_to_lonlat(score)


def _human_double(ctx, value: float):
    """addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3, same text."""
    text = geo.format_coordinate(value)
    return text if ctx.conn.resp == 2 else Raw(b"," + text + b"\r\n")


# -- GEOADD / GEOPOS / GEODIST / GEOHASH ---------------------------------------------------
@command("geoadd", arity=-5, flags="write denyoom", keys=(1, 1, 1), group="geo")
def geoadd(ctx, argv):
    flags = set()
    index = 2
    while index < len(argv) and c_option(argv[index]) in (b"nx", b"xx", b"ch"):
        flags.add(c_option(argv[index]))
        index += 1
    rest = argv[index:]
    if len(rest) % 3 or not rest or (b"nx" in flags and b"xx" in flags):
        raise CommandError(errors.SYNTAX_ERR)
    pairs = []
    for i in range(0, len(rest), 3):
        lon, lat = _parse_lonlat(rest[i], rest[i + 1])
        pairs.append((float(geo.lonlat_to_score(lon, lat)), rest[i + 2]))
    if ctx.propagating:     # geoaddCommand runs (and so propagates) "zadd key [opts] bits member"
        scores = [arg for score, member in pairs for arg in (b"%d" % int(score), member)]
        ctx.rewrite_propagation([b"zadd", *argv[1:index], *scores])
    return apply_zadd(ctx, argv[1], pairs, nx=b"nx" in flags, xx=b"xx" in flags, ch=b"ch" in flags)


@command("geopos", arity=-2, flags="readonly", keys=(1, 1, 1), group="geo")
def geopos(ctx, argv):
    zset = read_zset(ctx, argv[1])
    reply = []
    for member in argv[2:]:
        score = zset.score(member) if zset is not None else None
        if score is None:
            reply.append(NULL_ARRAY)
        else:
            lon, lat = geo.score_to_lonlat(score)
            reply.append([_human_double(ctx, lon), _human_double(ctx, lat)])
    return reply


@command("geodist", arity=-4, flags="readonly", keys=(1, 1, 1), group="geo")
def geodist(ctx, argv):
    to_meters = 1.0
    if len(argv) == 5:
        to_meters = _parse_unit(argv[4])
    elif len(argv) > 5:
        raise CommandError(errors.SYNTAX_ERR)
    zset = read_zset(ctx, argv[1])
    if zset is None:
        return None
    first, second = zset.score(argv[2]), zset.score(argv[3])
    if first is None or second is None:
        return None
    meters = geo.distance(*geo.score_to_lonlat(first), *geo.score_to_lonlat(second))
    return geo.format_distance(meters / to_meters)


@command("geohash", arity=-2, flags="readonly", keys=(1, 1, 1), group="geo")
def geohash(ctx, argv):
    zset = read_zset(ctx, argv[1])
    reply = []
    for member in argv[2:]:
        score = zset.score(member) if zset is not None else None
        reply.append(None if score is None else geo.geohash_string(score))
    return reply


# -- searches (georadiusGeneric) --------------------------------------------------------------
@dataclass
class _Search:
    shape: geo.Shape
    store_key: bytes | None = None
    store_dist: bool = False
    withdist: bool = False
    withhash: bool = False
    withcoord: bool = False
    frommember: bool = False
    fromloc: bool = False
    byradius: bool = False
    bybox: bool = False
    descending: bool | None = None      # None: no ordering asked
    any: bool = False
    count: int = 0


def _parse_search_options(argv, base: int, flags: int, zset, search: _Search) -> None:
    """The optional arguments, in georadiusGeneric's order and with its guards."""
    shape, argc = search.shape, len(argv)
    i = base
    while i < argc:
        arg, more = c_option(argv[i]), argc - i - 1
        is_search = bool(flags & SEARCH)
        can_store = not flags & NOSTORE and not is_search
        if arg == b"withdist":
            search.withdist = True
        elif arg == b"withhash":
            search.withhash = True
        elif arg == b"withcoord":
            search.withcoord = True
        elif arg == b"any":
            search.any = True
        elif arg in (b"asc", b"desc"):
            search.descending = arg == b"desc"
        elif arg == b"count" and more >= 1:
            search.count = parse_int(argv[i + 1])
            if search.count <= 0:
                raise CommandError(errors.GEO_COUNT_NOT_POSITIVE)
            i += 1
        elif arg in (b"store", b"storedist") and more >= 1 and can_store:
            search.store_key, search.store_dist = argv[i + 1], arg == b"storedist"
            i += 1
        elif arg == b"storedist" and flags & SEARCHSTORE:
            search.store_dist = True
        elif arg == b"frommember" and more >= 1 and is_search and not search.fromloc:
            if zset is not None:
                shape.longitude, shape.latitude = _member_position(zset, argv[i + 1])
            search.frommember = True
            i += 1
        elif arg == b"fromlonlat" and more >= 2 and is_search and not search.frommember:
            shape.longitude, shape.latitude = _parse_lonlat(argv[i + 1], argv[i + 2])
            search.fromloc = True
            i += 2
        elif arg == b"byradius" and more >= 2 and is_search and not search.bybox:
            _parse_radius(shape, argv[i + 1], argv[i + 2])
            search.byradius = True
            i += 2
        elif arg == b"bybox" and more >= 3 and is_search and not search.byradius:
            _parse_box(shape, argv[i + 1], argv[i + 2], argv[i + 3])
            search.bybox = True
            i += 3
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 1


def _check_search(argv, flags: int, search: _Search) -> None:
    if search.store_key is not None and (search.withdist or search.withhash or search.withcoord):
        name = "GEOSEARCHSTORE" if flags & SEARCHSTORE else "STORE option in GEORADIUS"
        raise CommandError(errors.GEO_STORE_INCOMPATIBLE % name)
    command_name = argv[0].decode("utf-8", "surrogateescape")
    if flags & SEARCH and not (search.frommember or search.fromloc):
        raise CommandError(errors.GEO_NEED_FROM % command_name)
    if flags & SEARCH and not (search.byradius or search.bybox):
        raise CommandError(errors.GEO_NEED_BY % command_name)
    if search.any and not search.count:
        raise CommandError(errors.GEO_ANY_NEEDS_COUNT)


def _generic_georadius(ctx, argv, src_index: int, flags: int):
    zset = read_zset(ctx, argv[src_index])
    search = _Search(geo.Shape())
    shape = search.shape
    if flags & COORDS:
        base = 6
        shape.longitude, shape.latitude = _parse_lonlat(argv[2], argv[3])
        _parse_radius(shape, argv[4], argv[5])
    elif flags & MEMBER:
        base = 5
        if zset is not None:   # without a key Redis only parses the options
            shape.longitude, shape.latitude = _member_position(zset, argv[2])
            _parse_radius(shape, argv[3], argv[4])
    else:
        base = 3 if flags & SEARCHSTORE else 2
        if flags & SEARCHSTORE:
            search.store_key = argv[1]
    _parse_search_options(argv, base, flags, zset, search)
    _check_search(argv, flags, search)
    if zset is None:
        return store_result(ctx, search.store_key, None) if search.store_key is not None else []
    if search.count and search.descending is None and not search.any:
        search.descending = False   # COUNT without an order means the closest ones
    points = geo.collect_points(zset, shape, search.count if search.any else 0)
    if not points and search.store_key is None:
        return []
    returned = len(points) if not search.count else min(search.count, len(points))
    if search.descending is not None:
        geo.sort_points(points, search.descending, returned)
    points = points[:returned]
    if search.store_key is None:
        return [_point_reply(ctx, search, point) for point in points]
    return _store_points(ctx, search, points)


def _point_reply(ctx, search: _Search, point: geo.GeoPoint):
    options = []
    if search.withdist:
        options.append(geo.format_distance(point.dist / search.shape.conversion))
    if search.withhash:
        options.append(int(point.score))
    if search.withcoord:
        options.append([_human_double(ctx, point.longitude), _human_double(ctx, point.latitude)])
    return [point.member, *options] if options else point.member


def _store_points(ctx, search: _Search, points: list) -> int:
    """STORE / STOREDIST: the results as a sorted set of hashes or of distances."""
    if not points:
        return store_result(ctx, search.store_key, None)
    conversion = search.shape.conversion
    pairs = [(p.member, p.dist / conversion if search.store_dist else p.score) for p in points]
    ctx.db.set(search.store_key, ZSetValue.from_pairs(pairs, ctx.server.config))
    signal_key_ready(ctx, search.store_key)  # the stored zset may serve BZPOP* clients
    ctx.dirty += len(points)
    notify(ctx, NOTIFY_ZSET, store_event(ctx), search.store_key)
    return len(points)


def _store_getkeys(startfrom: int):
    """GEORADIUS[BYMEMBER]: the source plus the key after each STORE / STOREDIST."""
    def getkeys(argv):
        keys = [1]
        i = startfrom
        while i < len(argv) - 1:
            if c_option(argv[i]) in (b"store", b"storedist"):
                keys.append(i + 1)
                i += 1
            i += 1
        return keys
    return getkeys


@command("georadius", arity=-6, flags="write denyoom movablekeys", keys=(1, 1, 1), group="geo",
         getkeys=_store_getkeys(6))
def georadius(ctx, argv):
    return _generic_georadius(ctx, argv, 1, COORDS)


@command("georadiusbymember", arity=-5, flags="write denyoom movablekeys", keys=(1, 1, 1),
         group="geo", getkeys=_store_getkeys(5))
def georadiusbymember(ctx, argv):
    return _generic_georadius(ctx, argv, 1, MEMBER)


@command("georadius_ro", arity=-6, flags="readonly", keys=(1, 1, 1), group="geo")
def georadius_ro(ctx, argv):
    return _generic_georadius(ctx, argv, 1, COORDS | NOSTORE)


@command("georadiusbymember_ro", arity=-5, flags="readonly", keys=(1, 1, 1), group="geo")
def georadiusbymember_ro(ctx, argv):
    return _generic_georadius(ctx, argv, 1, MEMBER | NOSTORE)


@command("geosearch", arity=-7, flags="readonly", keys=(1, 1, 1), group="geo")
def geosearch(ctx, argv):
    return _generic_georadius(ctx, argv, 1, SEARCH)


@command("geosearchstore", arity=-8, flags="write denyoom", keys=(1, 2, 1), group="geo")
def geosearchstore(ctx, argv):
    return _generic_georadius(ctx, argv, 2, SEARCH | SEARCHSTORE)
