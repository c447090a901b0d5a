"""INFO text and its structured fields, as Redis 7.0 writes them.

Everything here is pure: the dashboard's numbers come from these functions, so they
are tested on canned INFO text without any server.
"""
from __future__ import annotations

from dataclasses import dataclass


def parse_info(text: str) -> dict[str, dict[str, str]]:
    """`# Section` headers and `name:value` lines -> {section: {name: value}}.

    Section names are lower-cased (`commandstats`, `keyspace`); values stay text.
    """
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("default", {})
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line[1:].strip().lower(), {})
            continue
        name, sep, value = line.partition(":")
        if sep:
            current[name] = value
    if not sections["default"]:
        del sections["default"]
    return sections


def parse_fields(value: str) -> dict[str, str]:
    """`keys=1,expires=0,avg_ttl=0` -> {'keys': '1', ...}."""
    fields = {}
    for part in value.split(","):
        name, sep, field = part.partition("=")
        if sep:
            fields[name] = field
    return fields


def field(info: dict, section: str, name: str, default=None):
    return info.get(section, {}).get(name, default)


def number(info: dict, section: str, name: str, default: float | None = None) -> float | None:
    """A numeric INFO field, or default when absent or not a number."""
    raw = field(info, section, name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw.rstrip("%"))
        except ValueError:
            return default


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _float(text: str | None, default: float = 0.0) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


# -- keyspace ----------------------------------------------------------------------
@dataclass
class DbStats:
    db: int
    keys: int
    expires: int
    avg_ttl: int


def keyspace(info: dict) -> list[DbStats]:
    found = []
    for name, value in info.get("keyspace", {}).items():
        if name.startswith("db") and name[2:].isdigit():
            fields = parse_fields(value)
            found.append(DbStats(int(name[2:]), _int(fields.get("keys")), _int(fields.get("expires")),
                                 _int(fields.get("avg_ttl"))))
    return sorted(found, key=lambda d: d.db)


# -- commandstats / latencystats / errorstats --------------------------------------
@dataclass
class CommandStat:
    name: str
    calls: int
    usec: int
    usec_per_call: float
    rejected_calls: int
    failed_calls: int


def command_stats(info: dict) -> list[CommandStat]:
    stats = []
    for name, value in info.get("commandstats", {}).items():
        if not name.startswith("cmdstat_"):
            continue
        fields = parse_fields(value)
        stats.append(CommandStat(name[len("cmdstat_"):], _int(fields.get("calls")), _int(fields.get("usec")),
                                 _float(fields.get("usec_per_call")), _int(fields.get("rejected_calls")),
                                 _int(fields.get("failed_calls"))))
    return stats


def top_by_calls(stats: list[CommandStat], n: int) -> list[CommandStat]:
    return sorted(stats, key=lambda s: (-s.calls, s.name))[:n]


def top_by_time(stats: list[CommandStat], n: int) -> list[CommandStat]:
    return sorted(stats, key=lambda s: (-s.usec, s.name))[:n]


def latency_stats(info: dict) -> dict[str, dict[str, float]]:
    """{command: {'p50': usec, 'p99': usec, 'p99.9': usec}} from `latency_percentiles_usec_*`."""
    prefix = "latency_percentiles_usec_"
    found = {}
    for name, value in info.get("latencystats", {}).items():
        if name.startswith(prefix):
            found[name[len(prefix):]] = {k: _float(v) for k, v in parse_fields(value).items()}
    return found


def error_stats(info: dict) -> dict[str, int]:
    prefix = "errorstat_"
    return {name[len(prefix):]: _int(parse_fields(value).get("count"))
            for name, value in info.get("errorstats", {}).items() if name.startswith(prefix)}


# -- replication --------------------------------------------------------------------
@dataclass
class Replica:
    name: str
    address: str
    state: str
    offset: int
    lag_seconds: int
    lag_bytes: int


def replicas(info: dict) -> list[Replica]:
    """The primary's view of each replica (`slaveN:ip=...,port=...,state=...,offset=...,lag=...`)."""
    section = info.get("replication", {})
    master_offset = _int(section.get("master_repl_offset"))
    found = []
    for name, value in section.items():
        if name.startswith("slave") and name[5:].isdigit():
            fields = parse_fields(value)
            offset = _int(fields.get("offset"))
            found.append(Replica(name, f"{fields.get('ip', '?')}:{fields.get('port', '?')}",
                                 fields.get("state", "?"), offset, _int(fields.get("lag"), -1),
                                 max(0, master_offset - offset)))
    return sorted(found, key=lambda r: _int(r.name[5:]))


# -- slow log -----------------------------------------------------------------------
@dataclass
class SlowEntry:
    id: int
    timestamp: int
    duration_us: int
    args: list[str]
    client: str
    client_name: str


def slowlog_entries(reply: list) -> list[SlowEntry]:
    """SLOWLOG GET's reply (id, unix time, microseconds, argv, addr, name)."""
    entries = []
    for item in reply or []:
        args = [_text(a) for a in (item[3] if len(item) > 3 else [])]
        entries.append(SlowEntry(int(item[0]), int(item[1]), int(item[2]), args,
                                 _text(item[4]) if len(item) > 4 else "",
                                 _text(item[5]) if len(item) > 5 else ""))
    return entries


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# -- MONITOR ------------------------------------------------------------------------
@dataclass
class MonitorLine:
    timestamp: float
    db: str
    client: str
    command: str        # the quoted argv, as the server wrote it
    raw: str

    @property
    def name(self) -> str:
        """The command name, unquoted and upper-cased ("SET")."""
        first = self.command.split(" ", 1)[0]
        return first.strip('"').upper()


def parse_monitor_line(line: str) -> MonitorLine:
    """`1700000000.123456 [0 127.0.0.1:5555] "SET" "k" "v"` (lua: `[0 lua]`)."""
    stamp, _, rest = line.partition(" ")
    try:
        timestamp = float(stamp)
    except ValueError:
        return MonitorLine(0.0, "", "", line, line)
    if rest.startswith("["):
        inside, _, command = rest[1:].partition("] ")
        db, _, client = inside.partition(" ")
    else:
        db, client, command = "", "", rest
    return MonitorLine(timestamp, db, client, command, line)


def monitor_client(line: str) -> str:
    """The client address of a raw MONITOR line, without parsing the rest."""
    start = line.find("[")
    end = line.find("]", start)
    inside = line[start + 1:end] if start >= 0 and end > start else ""
    return inside.partition(" ")[2]


def matches(line: str, pattern: str) -> bool:
    """The stream filter on a raw MONITOR line: case-insensitive text anywhere in it
    (command, key, client)."""
    return not pattern or pattern.lower() in line.lower()
