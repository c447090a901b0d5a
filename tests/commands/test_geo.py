"""Geo group: behaviour tests run on Ferrous and real Redis 7.0 over RESP2 and RESP3;
a randomized test then runs hundreds of searches on both servers side by side and
compares the replies byte for byte (ordering of equal distances included)."""
import random
import socket

import pytest
from resp_client import Error, encode_command

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def wire(port: int, protocol: int, *commands) -> list:
    """The exact bytes of each reply (the raw client turns RESP3 doubles into floats)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = _WireReader(sock)
        if protocol == 3:
            sock.sendall(encode_command("HELLO", "3"))
            reader.reply()
        replies = []
        for args in commands:
            sock.sendall(encode_command(*args))
            replies.append(reader.reply())
        return replies


class _WireReader:
    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, b"", 0

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _line_end(self, start: int) -> int:
        while (end := self.buf.find(b"\r\n", start)) < 0:
            self._fill()
        return end

    def _skip(self, start: int) -> int:
        end = self._line_end(start)
        kind, head = self.buf[start:start + 1], self.buf[start + 1:end]
        after = end + 2
        if kind in b"$=" and head != b"-1":
            while len(self.buf) < after + int(head) + 2:
                self._fill()
            return after + int(head) + 2
        if kind in b"*~>%" and head != b"-1":
            for _ in range(int(head) * (2 if kind == b"%" else 1)):
                after = self._skip(after)
        return after

    def reply(self) -> bytes:
        end = self._skip(0)
        data, self.buf = self.buf[:end], self.buf[end:]
        return data


@pytest.fixture
def sicily(raw):
    raw.call("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
    return raw


# -- GEOADD ----------------------------------------------------------------------------------

def test_geoadd_scores_and_options(raw):
    assert raw.call("GEOADD", "g", "13.361389", "38.115556", "Palermo") == 1
    assert raw.call("ZSCORE", "g", "Palermo") in (b"3479099956230698", 3479099956230698.0)
    assert raw.call("GEOADD", "g", "CH", "13.361389", "38.115556", "Palermo") == 0
    assert raw.call("GEOADD", "g", "CH", "13.5", "38.1", "Palermo", "1", "1", "x") == 2
    assert raw.call("GEOADD", "g", "NX", "0", "0", "Palermo", "2", "2", "y") == 1
    assert raw.call("GEOADD", "g", "XX", "0", "0", "z", "3", "3", "y") == 0
    assert raw.call("GEOADD", "nokey", "XX", "0", "0", "z") == 0
    assert raw.call("EXISTS", "nokey") == 0
    assert raw.call("TYPE", "g").text == "zset"


def test_geoadd_errors(raw):
    assert raw.call("GEOADD", "g", "200", "100", "x") == Error(
        "ERR invalid longitude,latitude pair 200.000000,100.000000")
    assert raw.call("GEOADD", "g", "180", "85.05112879", "x") == Error(
        "ERR invalid longitude,latitude pair 180.000000,85.051129")
    assert raw.call("GEOADD", "g", "NX", "XX", "1", "2", "a") == Error("ERR syntax error")
    assert raw.call("GEOADD", "g", "FOO", "1", "2", "a") == Error("ERR syntax error")
    assert raw.call("GEOADD", "g", "1", "2", "a", "3") == Error("ERR syntax error")
    assert raw.call("GEOADD", "g", "a", "2", "x") == Error("ERR value is not a valid float")
    assert raw.call("GEOADD", "g", "1", "2") == Error("ERR wrong number of arguments for 'geoadd' command")
    assert raw.call("EXISTS", "g") == 0
    raw.call("SET", "s", "x")
    assert raw.call("GEOADD", "s", "1", "2", "a") == Error(WRONGTYPE)


# -- GEOPOS / GEODIST / GEOHASH --------------------------------------------------------------

def test_geopos_prints_like_redis(server, protocol, sicily):
    [reply] = wire(server.port, protocol, ("GEOPOS", "Sicily", "Palermo", "nope"))
    if protocol == 2:
        assert reply == (b"*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n"
                         b"*-1\r\n")
    else:
        assert reply == b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"


def test_geopos_edges_trim_zeros(sicily, protocol):
    sicily.call("GEOADD", "e", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw", "0", "0", "o")
    expected = [[b"180", b"85.0511287799999991"], [b"-179.99999731779098511", b"-85.05112751263942528"],
                [b"0.00000268220901489", b"0.00000126736058093"]]
    if protocol == 3:
        expected = [[float(x) for x in pair] for pair in expected]
    assert sicily.call("GEOPOS", "e", "ne", "sw", "o") == expected
    assert sicily.call("GEOPOS", "nokey", "a") == [None]


def test_geodist(sicily):
    assert sicily.call("GEODIST", "Sicily", "Palermo", "Catania") == b"166274.1516"
    assert sicily.call("GEODIST", "Sicily", "Palermo", "Catania", "km") == b"166.2742"
    assert sicily.call("GEODIST", "Sicily", "Palermo", "Catania", "MI") == b"103.3182"
    assert sicily.call("GEODIST", "Sicily", "Palermo", "Catania", "ft") == b"545518.8700"
    assert sicily.call("GEODIST", "Sicily", "Palermo", "Palermo") == b"0.0000"
    assert sicily.call("GEODIST", "Sicily", "Palermo", "nope") is None
    assert sicily.call("GEODIST", "nokey", "a", "b") is None
    assert sicily.call("GEODIST", "nokey", "a", "b", "parsec") == Error(
        "ERR unsupported unit provided. please use M, KM, FT, MI")
    assert sicily.call("GEODIST", "Sicily", "Palermo", "Catania", "km", "x") == Error("ERR syntax error")


def test_geohash(sicily):
    sicily.call("GEOADD", "e", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw", "0", "0.0001", "n")
    assert sicily.call("GEOHASH", "Sicily", "Palermo", "Catania", "nope") == [b"sqc8b49rny0", b"sqdtr74hyu0", None]
    assert sicily.call("GEOHASH", "e", "ne", "sw", "n") == [b"bp05b5048p0", b"00bh0hbj200", b"s0000000840"]
    assert sicily.call("GEOHASH", "nokey", "a") == [None]


# -- searches --------------------------------------------------------------------------------

def test_georadius_with_options(sicily, protocol):
    assert sicily.call("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC") == [
        [b"Catania", b"56.4413"], [b"Palermo", b"190.4424"]]
    lon, lat = (b"15.08726745843887329", b"37.50266842333162032")
    coords = [lon, lat] if protocol == 2 else [float(lon), float(lat)]
    assert sicily.call("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD", "WITHDIST", "WITHHASH",
                       "COUNT", "1") == [[b"Catania", b"56.4413", 3479447370796909, coords]]
    assert sicily.call("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "DESC") == [b"Catania", b"Palermo"]
    assert sicily.call("GEORADIUS_RO", "Sicily", "15", "37", "100", "km") == [b"Catania"]
    assert sicily.call("GEORADIUSBYMEMBER_RO", "Sicily", "Catania", "1", "m") == [b"Catania"]


def test_geosearch_shapes_and_order(sicily):
    sicily.call("GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2")
    assert sicily.call("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC") == [
        b"Catania", b"Palermo", b"edge2", b"edge1"]
    assert sicily.call("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "DESC") == [
        b"Catania", b"edge1", b"Palermo"]
    assert sicily.call("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "WITHDIST") == [
        [b"Palermo", b"0.0000"], [b"edge1", b"91.4007"], [b"Catania", b"166.2742"]]
    # ANY stops at the first COUNT matches in index order, unsorted.
    assert sicily.call("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
                       "COUNT", "1", "ANY") == [b"Palermo"]
    assert sicily.call("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
                       "COUNT", "1") == [b"Catania"]
    assert sicily.call("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "0", "km") == []
    assert sicily.call("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km") == []


def test_search_edges_boxes_and_antimeridian(raw):
    raw.call("GEOADD", "p", "0", "0", "o", "0", "0.0001", "n", "0.0001", "0", "e", "-0.0001", "0", "w", "0", "-0.0001", "s")
    assert raw.call("GEOSEARCH", "p", "FROMLONLAT", "0", "0", "BYBOX", "22.3", "22.3", "m", "ASC") == [
        b"o", b"e", b"w", b"n", b"s"]
    assert raw.call("GEOSEARCH", "p", "FROMLONLAT", "0", "0", "BYBOX", "22.2", "22.2", "m", "ASC") == [
        b"o", b"e", b"w"]
    raw.call("GEOADD", "anti", "179.999", "0", "e", "-179.999", "0", "w")
    assert raw.call("GEOSEARCH", "anti", "FROMLONLAT", "180", "0", "BYRADIUS", "1", "km") == [b"e"]
    assert raw.call("GEOSEARCH", "anti", "FROMLONLAT", "-180", "0", "BYBOX", "1", "1", "km", "ASC") == [b"w", b"e"]
    raw.call("GEOADD", "polar", "0", "85", "a", "90", "85", "b", "180", "85", "c", "-90", "85", "d")
    assert raw.call("GEOSEARCH", "polar", "FROMLONLAT", "45", "84", "BYBOX", "3000", "500", "km", "ASC") == [
        b"a", b"b", b"d"]


def test_equal_distances_keep_redis_order(raw):
    raw.call("GEOADD", "h", "0", "0", "c0", "0", "0.001", "a1", "0", "0.002", "a2", "0", "0.003", "a3",
             "0", "0.004", "a4", "0", "0.005", "a5", "0", "0.006", "a6", "0", "0.007", "a7",
             "0", "0.0025", "d1", "0", "0.0025", "d2", "0", "0.0025", "d3")
    everything = ["GEOSEARCH", "h", "FROMLONLAT", "0", "0", "BYRADIUS", "10", "km"]
    assert raw.call(*everything, "ASC") == [b"c0", b"a1", b"a2", b"d1", b"d2", b"d3", b"a3", b"a4", b"a5",
                                            b"a6", b"a7"]
    assert raw.call(*everything, "ASC", "COUNT", "8") == [b"c0", b"a1", b"a2", b"d3", b"d1", b"d2", b"a3", b"a4"]


def test_store_options(sicily, protocol):
    assert sicily.call("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
                       "STOREDIST") == 2
    assert sicily.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == (
        [b"Catania", b"56.441257870158204", b"Palermo", b"190.44242984775784"] if protocol == 2
        else [[b"Catania", 56.441257870158204], [b"Palermo", 190.44242984775784]])
    assert sicily.call("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km") == 2
    assert sicily.call("ZRANGE", "dst", "0", "-1") == [b"Palermo", b"Catania"]
    assert sicily.call("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d2") == 2
    assert sicily.call("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "STOREDIST", "d3") == 2
    assert sicily.call("ZSCORE", "d3", "Catania") in (b"166.27415156960032", 166.27415156960032)
    assert sicily.call("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m") == 0
    assert sicily.call("EXISTS", "dst") == 0
    sicily.call("SET", "d3", "x")
    assert sicily.call("GEORADIUSBYMEMBER", "nokey", "nope", "200", "km", "STORE", "d3") == 0
    assert sicily.call("EXISTS", "d3") == 0


def test_search_errors(sicily):
    base = ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37"]
    assert sicily.call(*base, "BYRADIUS", "200", "km", "COUNT", "0") == Error("ERR COUNT must be > 0")
    assert sicily.call(*base, "BYRADIUS", "200", "km", "COUNT", "x") == Error("ERR value is not an integer or out of range")
    assert sicily.call(*base, "BYRADIUS", "200", "km", "ANY") == Error("ERR the ANY argument requires COUNT argument")
    assert sicily.call(*base, "BYRADIUS", "-1", "km") == Error("ERR radius cannot be negative")
    assert sicily.call(*base, "BYRADIUS", "x", "km") == Error("ERR need numeric radius")
    assert sicily.call(*base, "BYRADIUS", "1", "yd") == Error("ERR unsupported unit provided. please use M, KM, FT, MI")
    assert sicily.call(*base, "BYBOX", "1", "-1", "km") == Error("ERR height or width cannot be negative")
    assert sicily.call(*base, "BYBOX", "x", "1", "km") == Error("ERR need numeric width")
    assert sicily.call(*base, "BYBOX", "1", "x", "km") == Error("ERR need numeric height")
    assert sicily.call(*base, "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km") == Error("ERR syntax error")
    assert sicily.call(*base, "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km") == Error("ERR syntax error")
    assert sicily.call(*base, "BYRADIUS", "1", "km", "STORE", "x") == Error("ERR syntax error")
    assert sicily.call(*base, "BYRADIUS", "1", "km", "STOREDIST") == Error("ERR syntax error")
    assert sicily.call("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC", "WITHDIST") == Error(
        "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH")
    assert sicily.call("geosearch", "Sicily", "FROMLONLAT", "1", "2", "ASC", "WITHDIST") == Error(
        "ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch")
    assert sicily.call("GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km") == Error(
        "ERR could not decode requested zset member")
    assert sicily.call("GEOSEARCH", "Sicily", "FROMLONLAT", "200", "1", "BYRADIUS", "1", "km") == Error(
        "ERR invalid longitude,latitude pair 200.000000,1.000000")
    assert sicily.call("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km",
                       "WITHDIST") == Error(
        "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    assert sicily.call("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHHASH", "STORE", "d") == Error(
        "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    assert sicily.call("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d") == Error("ERR syntax error")
    assert sicily.call("GEORADIUSBYMEMBER", "Sicily", "nope", "200", "km") == Error(
        "ERR could not decode requested zset member")
    assert sicily.call("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT") == Error("ERR syntax error")
    sicily.call("SET", "s", "x")
    assert sicily.call("GEOSEARCH", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km") == Error(WRONGTYPE)
    assert sicily.call("GEOPOS", "s", "a") == Error(WRONGTYPE)


# -- many points, compared with real Redis -------------------------------------------------------



_CENTERS = [(13.36, 38.11), (-122.4, 37.77), (179.9, 0.1), (-179.95, -10), (0, 0), (10, 84.9),
            (-45, -84.5), (150, 66.5), (2.35, 48.85)]
_UNITS = {"m": 1, "km": 1000, "mi": 1609.34, "ft": 0.3048}


def _clamp(lon, lat):
    return max(-180, min(180, lon)), max(-85.05112878, min(85.05112878, lat))


def _random_commands(rng: random.Random, key: str) -> list:
    members = [f"m{i}" for i in range(250)]
    commands = []
    for member in members:
        cx, cy = rng.choice(_CENTERS)
        spread = rng.choice([0.001, 0.05, 1, 5])
        lon, lat = _clamp(cx + rng.uniform(-spread, spread), cy + rng.uniform(-spread, spread))
        commands.append(("GEOADD", key, f"{lon:.6f}", f"{lat:.6f}", member))
    commands.append(("GEOADD", key, "13.36", "38.11", "dup1", "13.36", "38.11", "dup2", "13.36", "38.11", "dup3"))
    for _ in range(120):
        cx, cy = rng.choice(_CENTERS)
        lon, lat = _clamp(cx + rng.uniform(-1, 1), cy + rng.uniform(-1, 1))
        unit = rng.choice(list(_UNITS))
        radius = rng.choice([0, 10, 1000, 50000, 200000, 2000000]) / _UNITS[unit]
        options = [o for o, p in (("WITHDIST", .5), ("WITHCOORD", .3), ("WITHHASH", .3)) if rng.random() < p]
        options += [rng.choice(["", "ASC", "DESC"])]
        if rng.random() < 0.4:
            options += ["COUNT", str(rng.randint(1, 20))] + (["ANY"] if rng.random() < 0.3 else [])
        options = [o for o in options if o]
        origin = rng.choice([("FROMLONLAT", f"{lon:.5f}", f"{lat:.5f}"), ("FROMMEMBER", rng.choice(members))])
        if rng.random() < 0.5:
            shape = ("BYRADIUS", f"{radius:.4f}", unit)
        else:
            shape = ("BYBOX", f"{radius * rng.uniform(.5, 2):.4f}", f"{radius * rng.uniform(.5, 2):.4f}", unit)
        commands.append(("GEOSEARCH", key, *origin, *shape, *options))
        commands.append(("GEORADIUS", key, f"{lon:.5f}", f"{lat:.5f}", f"{radius:.4f}", unit, *options))
        store_options = [o for o in options if not o.startswith("WITH")]
        commands.append(("GEOSEARCHSTORE", key + ":dst", key, *origin, *shape, *store_options, "STOREDIST"))
        commands.append(("ZRANGE", key + ":dst", "0", "-1", "WITHSCORES"))
        a, b = rng.sample(members, 2)
        commands.append(("GEODIST", key, a, b, unit))
        commands.append(("GEOPOS", key, a, b, "nope"))
        commands.append(("GEOHASH", key, a, b))
    return commands


@pytest.mark.parametrize("protocol", [2, 3])
def test_random_searches_match_redis(ferrous, real_redis, protocol):
    key = "geo-random-%d" % protocol
    commands = _random_commands(random.Random(7 + protocol), key)
    try:
        got = wire(ferrous.port, protocol, *commands)
        expected = wire(real_redis.port, protocol, *commands)
        for command, mine, theirs in zip(commands, got, expected):
            assert mine == theirs, command
    finally:
        for port in (ferrous.port, real_redis.port):
            wire(port, 2, ("DEL", key, key + ":dst"))
