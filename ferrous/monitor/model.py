"""The dashboard's state: the latest snapshot, rates derived from the previous one,
the ops/s history, the command stream, and the interaction state (pane, pause, filter).

Collectors produce Snapshots and raw MONITOR lines; the app feeds them in here; the
renderer only reads. No I/O here, so a test builds a Dashboard from canned INFO.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

from ferrous.monitor import info as infomod

PANES = ("Overview", "Commands", "Slow log", "Stream")
HISTORY_LEN = 240
STREAM_LEN = 2000

CONNECTING, CONNECTED, RECONNECTING = "connecting", "connected", "reconnecting"


@dataclass
class Snapshot:
    """One poll of the server: INFO everything plus the slow log."""
    taken_at: float                     # time.monotonic() of the poll
    info: dict                          # parse_info() of INFO everything
    slowlog: list | None = None         # SlowEntry list; None when the server lacks SLOWLOG
    slowlog_note: str = ""              # why slowlog is None ("unknown command ...")
    wall_time: float = 0.0              # time.time() of the poll: "ago" figures count from it,
                                        # so a paused screen stays entirely still

    @classmethod
    def from_text(cls, text: str, taken_at: float = 0.0, slowlog=None, slowlog_note: str = "",
                  wall_time: float = 0.0) -> "Snapshot":
        return cls(taken_at, infomod.parse_info(text), slowlog, slowlog_note, wall_time)

    def num(self, section: str, name: str, default=None):
        return infomod.number(self.info, section, name, default)

    def text(self, section: str, name: str, default: str = "") -> str:
        return infomod.field(self.info, section, name, default)


@dataclass
class Dashboard:
    endpoint: str = "127.0.0.1:6379"
    interval: float = 1.0
    status: str = CONNECTING
    status_note: str = ""               # last connection error, shown while reconnecting
    reconnects: int = 0
    snapshot: Snapshot | None = None
    ops_per_sec: float = 0.0
    ops_history: collections.deque = field(default_factory=lambda: collections.deque(maxlen=HISTORY_LEN))
    command_rates: dict = field(default_factory=dict)   # calls/s per command over the last interval
    hit_ratio_recent: float | None = None
    stream: collections.deque = field(default_factory=lambda: collections.deque(maxlen=STREAM_LEN))
    stream_status: str = "starting"
    stream_held: int = 0                # lines that arrived while paused, shown on resume
    paused: bool = False
    filter_text: str = ""
    editing_filter: bool = False
    filter_draft: str = ""
    pane: int = 0

    # -- feeding ----------------------------------------------------------------
    def apply_snapshot(self, snap: Snapshot) -> None:
        """A new poll: derive rates from the previous one unless the server restarted."""
        prev = self.snapshot
        self.snapshot = snap
        if prev is None or _restarted(prev, snap) or snap.taken_at <= prev.taken_at:
            self.ops_per_sec = snap.num("stats", "instantaneous_ops_per_sec", 0) or 0
            self.command_rates = {}
            self.hit_ratio_recent = None
        else:
            elapsed = snap.taken_at - prev.taken_at
            done = snap.num("stats", "total_commands_processed", 0) - prev.num("stats", "total_commands_processed", 0)
            self.ops_per_sec = max(0.0, done / elapsed)
            self.command_rates = _command_rates(prev, snap, elapsed)
            self.hit_ratio_recent = _recent_hit_ratio(prev, snap)
        self.ops_history.append(self.ops_per_sec)

    def add_stream_lines(self, lines) -> None:
        self.stream.extend(lines)

    def connection_lost(self, reason: str) -> None:
        if self.status != RECONNECTING:
            self.reconnects += 1
        self.status = RECONNECTING
        self.status_note = reason

    def connection_ok(self) -> None:
        self.status = CONNECTED
        self.status_note = ""

    # -- reading ----------------------------------------------------------------
    def filtered_stream(self) -> list:
        pattern = self.filter_text
        return [line for line in self.stream if infomod.matches(line, pattern)]

    @property
    def hit_ratio(self) -> float | None:
        if self.snapshot is None:
            return None
        hits = self.snapshot.num("stats", "keyspace_hits", 0)
        misses = self.snapshot.num("stats", "keyspace_misses", 0)
        return hits / (hits + misses) if hits + misses else None


def _restarted(prev: Snapshot, snap: Snapshot) -> bool:
    """A different process (run_id) or counters that went backwards (CONFIG RESETSTAT)."""
    if prev.text("server", "run_id") != snap.text("server", "run_id"):
        return True
    before = prev.num("stats", "total_commands_processed", 0)
    return snap.num("stats", "total_commands_processed", 0) < before


def _command_rates(prev: Snapshot, snap: Snapshot, elapsed: float) -> dict:
    before = {s.name: s.calls for s in infomod.command_stats(prev.info)}
    rates = {}
    for stat in infomod.command_stats(snap.info):
        delta = stat.calls - before.get(stat.name, 0)
        if delta > 0:
            rates[stat.name] = delta / elapsed
    return rates


def _recent_hit_ratio(prev: Snapshot, snap: Snapshot) -> float | None:
    hits = snap.num("stats", "keyspace_hits", 0) - prev.num("stats", "keyspace_hits", 0)
    misses = snap.num("stats", "keyspace_misses", 0) - prev.num("stats", "keyspace_misses", 0)
    return hits / (hits + misses) if hits + misses > 0 else None


# -- keys -----------------------------------------------------------------------------
QUIT = "quit"
KEY_TAB, KEY_ENTER, KEY_ESC, KEY_BACKSPACE = "\t", "\n", "\x1b", "\x7f"


def handle_key(dash: Dashboard, key: str) -> str | None:
    """Apply one key press; returns QUIT to leave. Filter editing captures all keys."""
    if dash.editing_filter:
        _edit_filter(dash, key)
        return None
    if key in ("q", "Q"):
        return QUIT
    if key in ("p", "P", " "):
        dash.paused = not dash.paused
    elif key == "/":
        dash.editing_filter = True
        dash.filter_draft = dash.filter_text
    elif key == KEY_ESC:
        dash.filter_text = ""
    elif key == KEY_TAB:
        dash.pane = (dash.pane + 1) % len(PANES)
    elif key in ("1", "2", "3", "4"):
        dash.pane = int(key) - 1
    return None


def _edit_filter(dash: Dashboard, key: str) -> None:
    if key in (KEY_ENTER, "\r"):
        dash.filter_text = dash.filter_draft.strip()
        dash.editing_filter = False
    elif key == KEY_ESC:
        dash.editing_filter = False
    elif key in (KEY_BACKSPACE, "\b"):
        dash.filter_draft = dash.filter_draft[:-1]
    elif key.isprintable():
        dash.filter_draft += key
