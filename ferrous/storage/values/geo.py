"""Geospatial indexes (geo.c, geohash.c, geohash_helper.c): points are members of a
sorted set whose score is the 52-bit interleaved geohash of their position.

Every computation is a port of Redis's, step for step and in IEEE doubles (the same
libm serves math.sin/cos/asin here), so scores, decoded coordinates, distances, the
search boxes and the order of results all come out exactly as Redis's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ferrous.storage.pqsort import partial_quicksort

GEO_STEP_MAX = 26                       # 26 * 2 = 52 bits
GEO_LAT_MIN, GEO_LAT_MAX = -85.05112878, 85.05112878
GEO_LONG_MIN, GEO_LONG_MAX = -180.0, 180.0
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0

UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}

_MASK64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_GEOALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def coordinates_valid(longitude: float, latitude: float) -> bool:
    return GEO_LONG_MIN <= longitude <= GEO_LONG_MAX and GEO_LAT_MIN <= latitude <= GEO_LAT_MAX


# -- bit interleaving (geohash.c) -----------------------------------------------------
def _interleave64(xlo: int, ylo: int) -> int:
    """Bits of x in the even positions, bits of y in the odd ones."""
    masks = (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
             0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF)
    x, y = xlo & 0xFFFFFFFF, ylo & 0xFFFFFFFF
    for shift, mask in zip((16, 8, 4, 2, 1), reversed(masks)):
        x = (x | (x << shift)) & mask
        y = (y | (y << shift)) & mask
    return x | (y << 1)


def _deinterleave64(interleaved: int) -> int:
    """Inverse of _interleave64: x in the low 32 bits, y in the high 32."""
    masks = (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
             0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF)
    x, y = interleaved, interleaved >> 1
    for shift, mask in zip((0, 1, 2, 4, 8, 16), masks):
        x = (x | (x >> shift)) & mask
        y = (y | (y >> shift)) & mask
    return x | (y << 32)


# -- encode / decode ------------------------------------------------------------------
_WGS84 = ((GEO_LONG_MIN, GEO_LONG_MAX), (GEO_LAT_MIN, GEO_LAT_MAX))
_STANDARD = ((-180.0, 180.0), (-90.0, 90.0))


def encode(longitude: float, latitude: float, step: int, ranges=_WGS84) -> int:
    """geohashEncode: the step*2-bit hash of a point (coordinates already validated)."""
    (long_min, long_max), (lat_min, lat_max) = ranges
    lat_offset = (latitude - lat_min) / (lat_max - lat_min)
    long_offset = (longitude - long_min) / (long_max - long_min)
    lat_offset *= 1 << step
    long_offset *= 1 << step
    return _interleave64(int(lat_offset), int(long_offset))


@dataclass
class Area:
    long_min: float
    long_max: float
    lat_min: float
    lat_max: float


def decode(bits: int, step: int) -> Area:
    """geohashDecode with the WGS84 ranges."""
    separated = _deinterleave64(bits & _MASK64)
    ilato = separated & 0xFFFFFFFF
    ilono = separated >> 32
    lat_scale = GEO_LAT_MAX - GEO_LAT_MIN
    long_scale = GEO_LONG_MAX - GEO_LONG_MIN
    cells = float(1 << step)
    # The "+ 1" is uint32_t arithmetic in C: it wraps for an all-ones cell number.
    return Area(
        GEO_LONG_MIN + (ilono * 1.0 / cells) * long_scale,
        GEO_LONG_MIN + (((ilono + 1) & 0xFFFFFFFF) * 1.0 / cells) * long_scale,
        GEO_LAT_MIN + (ilato * 1.0 / cells) * lat_scale,
        GEO_LAT_MIN + (((ilato + 1) & 0xFFFFFFFF) * 1.0 / cells) * lat_scale,
    )


def _score_bits(score: float) -> int:
    """(uint64_t)score as x86-64 converts a double."""
    if score != score or math.isinf(score):
        return 1 << 63
    return int(score) & _MASK64


def score_to_lonlat(score: float) -> tuple[float, float]:
    """decodeGeohash + geohashDecodeAreaToLongLat: the centre of the cell, clamped."""
    area = decode(_score_bits(score), GEO_STEP_MAX)
    longitude = (area.long_min + area.long_max) / 2
    latitude = (area.lat_min + area.lat_max) / 2
    longitude = min(max(longitude, GEO_LONG_MIN), GEO_LONG_MAX)
    latitude = min(max(latitude, GEO_LAT_MIN), GEO_LAT_MAX)
    return longitude, latitude


def lonlat_to_score(longitude: float, latitude: float) -> int:
    """GEOADD's score: the 52-bit hash of the point."""
    return encode(longitude, latitude, GEO_STEP_MAX)


def geohash_string(score: float) -> bytes:
    """GEOHASH: decode, re-encode with the standard [-90, 90] latitude range, 11 chars."""
    longitude, latitude = score_to_lonlat(score)
    bits = encode(longitude, latitude, GEO_STEP_MAX, _STANDARD)
    chars = bytearray()
    for i in range(11):
        index = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        chars.append(_GEOALPHABET[index])
    return bytes(chars)


# -- distances (geohash_helper.c) -------------------------------------------------------
def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine great-circle distance in meters."""
    lat1r, lon1r = lat1 * D_R, lon1 * D_R
    lat2r, lon2r = lat2 * D_R, lon2 * D_R
    u = math.sin((lat2r - lat1r) / 2)
    v = math.sin((lon2r - lon1r) / 2)
    return 2.0 * EARTH_RADIUS_IN_METERS * math.asin(math.sqrt(u * u + math.cos(lat1r) * math.cos(lat2r) * v * v))


# -- reply formatting -------------------------------------------------------------------
def format_distance(value: float) -> bytes:
    """addReplyDoubleDistance: four decimals."""
    return b"%.4f" % value


def format_coordinate(value: float) -> bytes:
    """addReplyHumanLongDouble: "%.17Lf" without trailing zeros (a double is exact in a
    long double, so Python's correctly rounded %.17f prints the same digits)."""
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


# -- search shapes and areas --------------------------------------------------------------
@dataclass
class Shape:
    """GeoShape: a circle (radius) or an axis-aligned box (width, height) around xy."""
    longitude: float = 0.0
    latitude: float = 0.0
    conversion: float = 1.0            # meters per unit
    radius: float | None = None        # in units; None for a box
    width: float = 0.0
    height: float = 0.0
    bounds: tuple = field(default_factory=tuple)

    @property
    def is_circle(self) -> bool:
        return self.radius is not None

    def contains(self, longitude: float, latitude: float) -> float | None:
        """The distance in meters from the centre when the point is inside, else None."""
        if self.is_circle:
            dist = distance(self.longitude, self.latitude, longitude, latitude)
            return None if dist > self.radius * self.conversion else dist
        # geohashGetDistanceIfInRectangle
        lon_distance = distance(longitude, latitude, self.longitude, latitude)
        lat_distance = distance(longitude, latitude, longitude, self.latitude)
        if lon_distance > self.width * self.conversion / 2 or lat_distance > self.height * self.conversion / 2:
            return None
        return distance(self.longitude, self.latitude, longitude, latitude)


def _estimate_steps(range_meters: float, latitude: float) -> int:
    """geohashEstimateStepsByRadius."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if latitude > 66 or latitude < -66:
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    return min(max(step, 1), 26)


def _bounding_box(shape: Shape) -> tuple[float, float, float, float]:
    """geohashBoundingBox: (min lon, min lat, max lon, max lat)."""
    if shape.is_circle:
        height = width = shape.conversion * shape.radius
    else:
        height = shape.conversion * (shape.height / 2)
        width = shape.conversion * (shape.width / 2)
    latitude, longitude = shape.latitude, shape.longitude
    lat_delta = (height / EARTH_RADIUS_IN_METERS) / D_R
    long_delta_top = (width / EARTH_RADIUS_IN_METERS / math.cos((latitude + lat_delta) * D_R)) / D_R
    long_delta_bottom = (width / EARTH_RADIUS_IN_METERS / math.cos((latitude - lat_delta) * D_R)) / D_R
    long_delta = long_delta_bottom if latitude < 0 else long_delta_top
    return longitude - long_delta, latitude - lat_delta, longitude + long_delta, latitude + lat_delta


def _move_x(bits: int, step: int, direction: int) -> int:
    x, y = bits & _ODD, bits & _EVEN
    zz = _EVEN >> (64 - step * 2)
    if direction > 0:
        x = x + (zz + 1)
    else:
        x = (x | zz) - (zz + 1)
    x &= _ODD >> (64 - step * 2)
    return (x | y) & _MASK64


def _move_y(bits: int, step: int, direction: int) -> int:
    x, y = bits & _ODD, bits & _EVEN
    zz = _ODD >> (64 - step * 2)
    if direction > 0:
        y = y + (zz + 1)
    else:
        y = (y | zz) - (zz + 1)
    y &= _EVEN >> (64 - step * 2)
    return (x | y) & _MASK64


# Redis's search order: centre, north, south, east, west, NE, NW, SE, SW (dx, dy).
_NEIGHBOUR_MOVES = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def _neighbours(bits: int, step: int) -> list:
    cells = []
    for dx, dy in _NEIGHBOUR_MOVES:
        moved = bits
        if dx:
            moved = _move_x(moved, step, dx)
        if dy:
            moved = _move_y(moved, step, dy)
        cells.append(moved)
    return cells


def search_boxes(shape: Shape) -> list:
    """geohashCalculateAreasByShapeWGS84 + membersOfAllNeighbors: the score ranges
    [min, max) to read, in Redis's order, with the cells it skips left out."""
    min_lon, min_lat, max_lon, max_lat = _bounding_box(shape)
    shape.bounds = (min_lon, min_lat, max_lon, max_lat)
    if shape.is_circle:
        radius_meters = shape.radius
    else:
        radius_meters = math.sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2))
    radius_meters *= shape.conversion
    steps = _estimate_steps(radius_meters, shape.latitude)
    bits = encode(shape.longitude, shape.latitude, steps)
    cells = _neighbours(bits, steps)
    north, south, east, west = (decode(cells[i], steps) for i in (1, 2, 3, 4))
    if (north.lat_max < max_lat or south.lat_min > min_lat
            or east.long_max < max_lon or west.long_min > min_lon) and steps > 1:
        steps -= 1
        bits = encode(shape.longitude, shape.latitude, steps)
        cells = _neighbours(bits, steps)
    cells = [(cell, steps) for cell in cells]
    if steps >= 2:
        _drop_useless_cells(cells, decode(bits, steps), shape.bounds)
    return _cell_ranges(cells)


def _drop_useless_cells(cells: list, area: Area, bounds: tuple) -> None:
    """Zero the neighbours that lie outside the bounding box (GZERO)."""
    min_lon, min_lat, max_lon, max_lat = bounds
    zero = (0, 0)
    # indexes into cells: 1 N, 2 S, 3 E, 4 W, 5 NE, 6 NW, 7 SE, 8 SW
    if area.lat_min < min_lat:
        cells[2] = cells[8] = cells[7] = zero
    if area.lat_max > max_lat:
        cells[1] = cells[5] = cells[6] = zero
    if area.long_min < min_lon:
        cells[4] = cells[8] = cells[6] = zero
    if area.long_max > max_lon:
        cells[3] = cells[7] = cells[5] = zero


def _cell_ranges(cells: list) -> list:
    """Score ranges of the non-zero cells; a cell equal to the one processed just before
    it is skipped (Redis compares with the last processed index, which starts at 0 and
    so never matches while only the centre was processed)."""
    ranges = []
    last = 0
    for i, (bits, step) in enumerate(cells):
        if bits == 0 and step == 0:
            continue
        if last and cells[last] == (bits, step):
            continue
        shift = 52 - step * 2
        ranges.append((bits << shift, (bits + 1) << shift))
        last = i
    return ranges


# -- collecting and sorting results -------------------------------------------------------
@dataclass
class GeoPoint:
    member: bytes
    score: float
    longitude: float
    latitude: float
    dist: float


def collect_points(zset, shape: Shape, limit: int = 0) -> list:
    """membersOfAllNeighbors: the points inside shape, in the order Redis finds them.
    With limit (COUNT n ANY) the search stops as soon as that many were found."""
    points: list = []
    for low, high in search_boxes(shape):
        if points and limit and len(points) >= limit:
            break
        start = zset.ordered.bisect_left((low,))
        stop = zset.ordered.bisect_left((high,))
        for score, member in zset.ordered.islice(start, stop):
            longitude, latitude = score_to_lonlat(score)
            dist = shape.contains(longitude, latitude)
            if dist is not None:
                points.append(GeoPoint(member, score, longitude, latitude, dist))
                if limit and len(points) >= limit:
                    break
    return points


def sort_points(points: list, descending: bool, keep: int) -> None:
    """Order by distance in place as Redis does: glibc's qsort (a stable merge sort) when
    every result is returned, otherwise pqsort over the first `keep` places."""
    if keep >= len(points):
        # reverse=True keeps equal distances in their original order, like a stable
        # sort with Redis's negated comparator.
        points.sort(key=lambda p: p.dist, reverse=descending)
        return
    sign = -1 if descending else 1

    def compare(a, b):
        return sign * ((a.dist > b.dist) - (a.dist < b.dist))

    partial_quicksort(points, compare, 0, keep - 1)
