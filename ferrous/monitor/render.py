"""Rendering: a Dashboard -> a rich Layout. Pure (no I/O; times count from the
snapshot's own clock), so tests render canned state to text with a recording Console."""
from __future__ import annotations

import io
import time

from rich import box
from rich.console import Console, Group
from rich.layout import Layout
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ferrous.monitor import info as infomod
from ferrous.monitor.model import CONNECTED, PANES, RECONNECTING, Dashboard

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
NOT_REPORTED = Text("not reported by this server", style="dim italic")


# -- formatting helpers ---------------------------------------------------------------
def sparkline(values, width: int) -> str:
    """The last `width` values as block characters scaled to their maximum."""
    values = list(values)[-width:] if width > 0 else []
    top = max(values, default=0)
    if top <= 0:
        return SPARK_LEVELS[0] * len(values)
    last = len(SPARK_LEVELS) - 1
    return "".join(SPARK_LEVELS[min(last, int(round(v / top * last)))] for v in values)


class Sparkline:
    """A sparkline as wide as the space rich gives it, always ending at the newest value."""

    def __init__(self, values, style: str = "green"):
        self.values = list(values)
        self.style = style

    def __rich_measure__(self, console, options) -> Measurement:
        return Measurement(1, max(1, len(self.values)))

    def __rich_console__(self, console, options):
        yield Text(sparkline(self.values, options.max_width), style=self.style, no_wrap=True)


def human_count(n: float) -> str:
    if n is None:
        return "-"
    if abs(n) < 10_000:
        return f"{n:,.0f}"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:,.0f}"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}B"


def human_usec(us: float) -> str:
    if us >= 1_000_000:
        return f"{us / 1e6:.2f}s"
    if us >= 1000:
        return f"{us / 1000:.2f}ms"
    return f"{us:.0f}µs" if us >= 10 else f"{us:.2f}µs"


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


def _kv_table() -> Table:
    table = Table.grid(padding=(0, 1))
    # Labels keep their full width; values are what gets cut when a panel is narrow.
    table.add_column(style="cyan", no_wrap=True, min_width=10)
    table.add_column(no_wrap=True, overflow="ellipsis")
    return table


def _panel(body, title: str, **kwargs) -> Panel:
    return Panel(body, title=f"[b]{title}[/b]", title_align="left", box=box.ROUNDED, **kwargs)


# -- header and footer --------------------------------------------------------------
def header(dash: Dashboard) -> Text:
    snap = dash.snapshot
    line = Text()
    line.append(" ferrous-monitor ", style="bold white on dark_red")
    line.append(f"  {dash.endpoint}", style="bold")
    if snap is not None:
        version = snap.text("server", "redis_version", "?")
        flavour = "Ferrous" if snap.text("server", "ferrous_version") else "Redis"
        line.append(f"  {flavour} (redis_version {version})")
        line.append(f"  role {snap.text('replication', 'role', '?')}")
        uptime = snap.num("server", "uptime_in_seconds")
        if uptime is not None:
            line.append(f"  up {human_duration(uptime)}")
    line.append("  ")
    line.append_text(_status_badge(dash))
    if dash.paused:
        line.append("  ")
        line.append(" PAUSED ", style="bold black on yellow")
    tabs = Text(" ")
    for index, name in enumerate(PANES):
        style = "bold reverse" if index == dash.pane else "dim"
        tabs.append(f" {index + 1} {name} ", style=style)
        tabs.append(" ")
    return Text("\n").join([line, tabs])


def _status_badge(dash: Dashboard) -> Text:
    if dash.status == CONNECTED:
        badge = Text("● connected", style="bold green")
        if dash.reconnects:
            badge.append(f" (connection lost {dash.reconnects}× since start)", style="green")
        return badge
    if dash.status == RECONNECTING:
        note = f" ({dash.status_note})" if dash.status_note else ""
        return Text(f"⟳ reconnecting{note}", style="bold black on red")
    return Text("… connecting", style="bold yellow")


def footer(dash: Dashboard) -> Text:
    if dash.editing_filter:
        text = Text(" filter: ", style="bold")
        text.append(dash.filter_draft + "▌", style="reverse")
        text.append("   Enter apply · Esc cancel · Backspace delete", style="dim")
        return text
    text = Text(" q quit · p/space pause · / filter stream · Esc clear filter · Tab/1-4 panes"
                f" · polling every {dash.interval:g}s", style="dim")
    if dash.filter_text:
        text.append(f"   filter: {dash.filter_text}", style="bold magenta")
    return text


# -- overview panels -----------------------------------------------------------------
def throughput_panel(dash: Dashboard) -> Panel:
    snap = dash.snapshot
    table = _kv_table()
    table.add_row("ops/s", Text(f"{dash.ops_per_sec:,.0f}", style="bold green"))
    table.add_row("history", Sparkline(dash.ops_history))
    table.add_row("peak", f"{max(dash.ops_history, default=0):,.0f} ops/s")
    if snap is not None:
        table.add_row("net in/out", f"{snap.text('stats', 'instantaneous_input_kbps', '-')} / "
                                    f"{snap.text('stats', 'instantaneous_output_kbps', '-')} KB/s")
        table.add_row("commands", human_count(snap.num("stats", "total_commands_processed", 0)) + " total")
        recent = f" (last {percent(dash.hit_ratio_recent)})" if dash.hit_ratio_recent is not None else ""
        table.add_row("hit ratio", percent(dash.hit_ratio) + recent)
    return _panel(table, "Throughput")


def clients_memory_panel(dash: Dashboard) -> Panel:
    snap = dash.snapshot
    table = _kv_table()
    if snap is None:
        return _panel(table, "Clients & memory")
    table.add_row("clients", f"{human_count(snap.num('clients', 'connected_clients', 0))} connected")
    table.add_row("blocked", human_count(snap.num("clients", "blocked_clients", 0)))
    table.add_row("memory", f"{snap.text('memory', 'used_memory_human', '-')} "
                            f"(peak {snap.text('memory', 'used_memory_peak_human', '-')})")
    maxmemory = snap.num("memory", "maxmemory", 0)
    policy = snap.text("memory", "maxmemory_policy", "-")
    table.add_row("maxmemory", human_bytes(maxmemory) if maxmemory else "unlimited")
    table.add_row("policy", policy)
    table.add_row("frag ratio", snap.text("memory", "mem_fragmentation_ratio", "-"))
    table.add_row("exp/evict", f"{human_count(snap.num('stats', 'expired_keys', 0))} / "
                               f"{human_count(snap.num('stats', 'evicted_keys', 0))}")
    return _panel(table, "Clients & memory")


def keyspace_panel(dash: Dashboard) -> Panel:
    dbs = infomod.keyspace(dash.snapshot.info) if dash.snapshot else []
    if not dbs:
        return _panel(Text("(empty)", style="dim"), "Keyspace")
    table = Table(box=None, padding=(0, 1), header_style="bold cyan", expand=True)
    table.add_column("db", no_wrap=True, min_width=4)
    for name in ("keys", "exp", "avg ttl"):
        table.add_column(name, justify="right", no_wrap=True, overflow="ellipsis")
    for db in dbs:
        table.add_row(f"db{db.db}", human_count(db.keys), human_count(db.expires),
                      human_duration(db.avg_ttl / 1000) if db.avg_ttl else "-")
    return _panel(table, "Keyspace")


def persistence_panel(dash: Dashboard) -> Panel:
    snap = dash.snapshot
    if snap is None or "persistence" not in snap.info:
        return _panel(NOT_REPORTED, "Persistence")
    now = snap.wall_time or time.time()
    table = _kv_table()
    last_save = snap.num("persistence", "rdb_last_save_time")
    if last_save:
        when = time.strftime("%H:%M:%S", time.localtime(last_save))
        table.add_row("last save", f"{human_duration(max(0, now - last_save))} ago ({when})")
    table.add_row("changes", human_count(snap.num("persistence", "rdb_changes_since_last_save", 0)))
    table.add_row("bgsave", _activity(snap, "rdb_bgsave_in_progress", "rdb_last_bgsave_status"))
    aof_on = snap.num("persistence", "aof_enabled", 0)
    table.add_row("aof", "on" if aof_on else "off")
    table.add_row("rewrite", _activity(snap, "aof_rewrite_in_progress", "aof_last_bgrewrite_status"))
    if snap.num("persistence", "loading", 0):
        table.add_row("loading", Text("IN PROGRESS", style="bold yellow"))
    return _panel(table, "Persistence")


def _activity(snap, in_progress: str, last_status: str) -> Text:
    if snap.num("persistence", in_progress, 0):
        return Text("IN PROGRESS", style="bold yellow")
    status = snap.text("persistence", last_status, "-")
    return Text(f"idle (last {status})", style="green" if status == "ok" else "red")


def replication_panel(dash: Dashboard) -> Panel:
    snap = dash.snapshot
    if snap is None or "replication" not in snap.info:
        return _panel(NOT_REPORTED, "Replication")
    role = snap.text("replication", "role", "?")
    table = _kv_table()
    table.add_row("role", Text(role, style="bold"))
    if role == "master":
        table.add_row("replicas", str(snap.num("replication", "connected_slaves", 0)))
        table.add_row("offset", human_count(snap.num("replication", "master_repl_offset", 0)))
        parts: list = [table]
        replicas = infomod.replicas(snap.info)
        if replicas:
            parts.append(_replica_table(replicas))
        return _panel(Group(*parts), "Replication")
    link = snap.text("replication", "master_link_status", "?")
    table.add_row("primary", f"{snap.text('replication', 'master_host')}:{snap.text('replication', 'master_port')}")
    table.add_row("link", Text(link, style="green" if link == "up" else "bold red"))
    last_io = snap.num("replication", "master_last_io_seconds_ago", -1)
    table.add_row("last io", f"{last_io}s ago" if last_io >= 0 else "never")
    if snap.num("replication", "master_sync_in_progress", 0):
        table.add_row("sync", Text("IN PROGRESS", style="bold yellow"))
    table.add_row("offset", human_count(snap.num("replication", "slave_repl_offset", 0)))
    return _panel(table, "Replication")


def _replica_table(replicas) -> Table:
    # Two lines per replica (the panel is a third of the screen wide, too narrow for
    # columns or for all of it on one line): its address, then its state, its lag in
    # seconds since its last ACK and the bytes it is behind the primary's offset.
    table = Table.grid()
    table.add_column(no_wrap=True, overflow="ellipsis")
    for rep in replicas:
        lag = f"{rep.lag_seconds}s" if rep.lag_seconds >= 0 else "-"
        table.add_row(Text(rep.address, style="bold"))
        line = Text(f"  {rep.state}", style="green" if rep.state == "online" else "yellow")
        line.append(f" lag {lag} · {human_bytes(rep.lag_bytes)} behind")
        table.add_row(line)
    return table


# -- commands, latency, slow log, stream -----------------------------------------------
def top_calls_panel(dash: Dashboard, rows: int) -> Panel:
    stats = infomod.command_stats(dash.snapshot.info) if dash.snapshot else []
    if not stats:
        return _panel(NOT_REPORTED, "Top commands by calls")
    table = _table(("command", "left"), ("calls", "right"), ("calls/s", "right"), ("µs/call", "right"))
    for stat in infomod.top_by_calls(stats, rows):
        table.add_row(stat.name, human_count(stat.calls), f"{dash.command_rates.get(stat.name, 0):,.0f}",
                      f"{stat.usec_per_call:.2f}")
    return _panel(table, "Top commands by calls")


def top_time_panel(dash: Dashboard, rows: int) -> Panel:
    stats = infomod.command_stats(dash.snapshot.info) if dash.snapshot else []
    if not stats:
        return _panel(NOT_REPORTED, "Top commands by time")
    total = sum(s.usec for s in stats) or 1
    table = _table(("command", "left"), ("time", "right"), ("share", "right"), ("failed", "right"))
    for stat in infomod.top_by_time(stats, rows):
        table.add_row(stat.name, human_usec(stat.usec), f"{stat.usec * 100 / total:.1f}%",
                      human_count(stat.failed_calls + stat.rejected_calls))
    return _panel(table, "Top commands by time")


def latency_panel(dash: Dashboard, rows: int) -> Panel:
    snap = dash.snapshot
    latencies = infomod.latency_stats(snap.info) if snap else {}
    if not latencies:
        return _panel(NOT_REPORTED, "Latency percentiles")
    # Show the busiest commands first: their percentiles are the ones that matter.
    calls = {s.name: s.calls for s in infomod.command_stats(snap.info)}
    names = sorted(latencies, key=lambda n: (-calls.get(n, 0), n))[:rows]
    table = _table(("command", "left"), ("p50", "right"), ("p99", "right"), ("p99.9", "right"))
    for name in names:
        pcts = latencies[name]
        table.add_row(name, *(human_usec(pcts[p]) if p in pcts else "-" for p in ("p50", "p99", "p99.9")))
    return _panel(table, "Latency percentiles")


def errors_panel(dash: Dashboard) -> Panel:
    errors = infomod.error_stats(dash.snapshot.info) if dash.snapshot else {}
    if not errors:
        return _panel(Text("no errors", style="dim"), "Error replies")
    table = _table(("error", "left"), ("count", "right"))
    for name, count in sorted(errors.items(), key=lambda kv: -kv[1]):
        table.add_row(name, human_count(count))
    return _panel(table, "Error replies")


def slowlog_panel(dash: Dashboard, rows: int) -> Panel:
    snap = dash.snapshot
    if snap is None:
        return _panel(Text(""), "Slow log")
    if snap.slowlog is None:
        return _panel(Text(f"unavailable: {snap.slowlog_note or 'no reply'}", style="dim italic"), "Slow log")
    if not snap.slowlog:
        return _panel(Text("(empty)", style="dim"), "Slow log")
    table = _table(("id", "right"), ("time", "left"), ("duration", "right"), ("command", "left"))
    for entry in snap.slowlog[:rows]:
        when = time.strftime("%H:%M:%S", time.localtime(entry.timestamp))
        table.add_row(str(entry.id), when, human_usec(entry.duration_us), " ".join(entry.args))
    return _panel(table, f"Slow log ({len(snap.slowlog)} shown)")


def stream_panel(dash: Dashboard, rows: int) -> Panel:
    lines = [infomod.parse_monitor_line(raw) for raw in dash.filtered_stream()[-rows:]] if rows > 0 else []
    title = "Command stream (MONITOR)"
    if dash.filter_text:
        title += f" · filter '{dash.filter_text}'"
    if dash.stream_held:
        title += f" · {dash.stream_held} held while paused"
    status = dash.stream_status
    if not lines:
        note = "waiting for commands" if status == "streaming" else status
        return _panel(Text(note, style="dim italic"), title)
    # Plain fixed-width lines, not a Table: this pane changes on every frame and a
    # table costs several times more to lay out.
    width = max([len(line.client) for line in lines] + [len("client")])
    text = Text(f"{'time':<12} {'db':>2}  {'client':<{width}}  command\n", style="bold cyan", no_wrap=True,
                overflow="ellipsis", end="")
    for line in lines:
        when = time.strftime("%H:%M:%S", time.localtime(line.timestamp)) + f".{int(line.timestamp * 1000) % 1000:03d}"
        text.append(f"{when} {line.db:>2}  ", style="dim")
        text.append(f"{line.client:<{width}}  ", style="cyan")
        text.append(line.command + "\n")
    text.rstrip()
    if status != "streaming":
        title += f" · {status}"
    return _panel(text, title)


def _table(*columns) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold cyan", expand=True)
    for name, justify in columns:
        # The command column takes the slack; numbers keep their width.
        wide = name == "command"
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis",
                         ratio=4 if wide else None, min_width=12 if wide else None)
    return table


# -- layouts -------------------------------------------------------------------------
def build(dash: Dashboard, height: int = 50) -> Layout:
    root = Layout(name="root")
    body = Layout(name="body")
    root.split_column(Layout(header(dash), name="header", size=2), body,
                      Layout(footer(dash), name="footer", size=1))
    inner = max(10, height - 3)
    pane = PANES[dash.pane]
    if pane == "Overview":
        _overview(body, dash, inner)
    elif pane == "Commands":
        _commands(body, dash, inner)
    elif pane == "Slow log":
        body.split_row(Layout(slowlog_panel(dash, inner - 3), ratio=3), Layout(latency_panel(dash, inner - 3), ratio=2))
    else:
        body.update(stream_panel(dash, inner - 3))
    return root


def _overview(body: Layout, dash: Dashboard, inner: int) -> None:
    # Fixed-size rows of figures on top; the slow log and the stream get the rest.
    top_size, middle_size = 10, max(6, min(12, (inner - 10) // 2))
    bottom_rows = inner - top_size - middle_size - 3
    top = Layout(name="top", size=top_size)
    top.split_row(Layout(throughput_panel(dash), ratio=5), Layout(clients_memory_panel(dash), ratio=4),
                  Layout(keyspace_panel(dash), ratio=4), Layout(persistence_panel(dash), ratio=4))
    rows = middle_size - 3
    middle = Layout(name="middle", size=middle_size)
    middle.split_row(Layout(top_calls_panel(dash, rows)), Layout(top_time_panel(dash, rows)),
                     Layout(latency_panel(dash, rows)), Layout(replication_panel(dash)))
    bottom = Layout(name="bottom")
    bottom.split_row(Layout(slowlog_panel(dash, bottom_rows), ratio=2), Layout(stream_panel(dash, bottom_rows), ratio=3))
    body.split_column(top, middle, bottom)


def _commands(body: Layout, dash: Dashboard, inner: int) -> None:
    rows = inner - 3
    left = Layout(top_calls_panel(dash, rows))
    right = Layout()
    right.split_column(Layout(top_time_panel(dash, rows // 2)), Layout(errors_panel(dash), size=max(5, rows // 2)))
    body.split_row(left, right, Layout(latency_panel(dash, rows)))


def render_text(dash: Dashboard, width: int = 160, height: int = 50) -> str:
    """The dashboard as plain text, as a terminal of that size would show it."""
    console = Console(width=width, height=height, record=True, file=io.StringIO(),
                      color_system=None, legacy_windows=False)
    console.print(build(dash, height))
    return console.export_text()
