"""ferrous-monitor without a server: parsing, derived rates, keys and rendering from
canned INFO text (as Redis 7.0.15 writes it)."""
from __future__ import annotations

import re

import pytest

from ferrous.monitor import info as infomod
from ferrous.monitor.app import parse_args
from ferrous.monitor.keys import split_keys
from ferrous.monitor.model import CONNECTED, QUIT, Dashboard, Snapshot, handle_key
from ferrous.monitor.render import render_text, sparkline

pytestmark = pytest.mark.ferrous_only      # no server involved at all

INFO = """\
# Server
redis_version:7.0.15
run_id:{run_id}
tcp_port:6379
uptime_in_seconds:3725

# Clients
connected_clients:12
blocked_clients:3

# Memory
used_memory:1048576
used_memory_human:1.00M
used_memory_peak:2097152
used_memory_peak_human:2.00M
maxmemory:104857600
maxmemory_policy:allkeys-lru
mem_fragmentation_ratio:1.25

# Persistence
loading:0
rdb_changes_since_last_save:42
rdb_bgsave_in_progress:1
rdb_last_save_time:1700000000
rdb_last_bgsave_status:ok
aof_enabled:1
aof_rewrite_in_progress:0
aof_last_bgrewrite_status:err

# Stats
total_commands_processed:{total}
instantaneous_ops_per_sec:777
instantaneous_input_kbps:12.50
instantaneous_output_kbps:3.25
keyspace_hits:{hits}
keyspace_misses:25
expired_keys:7
evicted_keys:2

# Replication
role:master
connected_slaves:2
master_repl_offset:10000
slave0:ip=10.0.0.5,port=6380,state=online,offset=9000,lag=1
slave1:ip=10.0.0.6,port=6381,state=wait_bgsave,offset=0,lag=-1

# Commandstats
cmdstat_get:calls={get_calls},usec=5000,usec_per_call=2.50,rejected_calls=0,failed_calls=0
cmdstat_set:calls=1000,usec=9000,usec_per_call=9.00,rejected_calls=1,failed_calls=2
cmdstat_client|list:calls=3,usec=30000,usec_per_call=10000.00,rejected_calls=0,failed_calls=0

# Errorstats
errorstat_WRONGTYPE:count=4

# Latencystats
latency_percentiles_usec_get:p50=2.003,p99=11.007,p99.9=52.223
latency_percentiles_usec_set:p50=8.001,p99=31.103,p99.9=1003.519

# Keyspace
db0:keys=1500,expires=20,avg_ttl=90000
db3:keys=7,expires=0,avg_ttl=0
"""


def snapshot(taken_at=100.0, total=50_000, get_calls=2000, hits=75, run_id="a" * 40, slowlog=None, note=""):
    text = INFO.format(total=total, get_calls=get_calls, hits=hits, run_id=run_id)
    return Snapshot.from_text(text, taken_at, slowlog, note)


SLOWLOG_REPLY = [
    [14, 1700000100, 25000, [b"KEYS", b"*"], b"127.0.0.1:5000", b"worker"],
    [13, 1700000050, 12000, [b"DEBUG", b"SLEEP", b"0.012"], b"127.0.0.1:5001", b""],
]


# -- parsing ---------------------------------------------------------------------------
def test_parse_info_sections_and_fields():
    info = infomod.parse_info(INFO.format(total=1, get_calls=1, hits=1, run_id="x"))
    assert info["server"]["redis_version"] == "7.0.15"
    assert info["clients"]["blocked_clients"] == "3"
    assert infomod.number(info, "memory", "mem_fragmentation_ratio") == 1.25
    assert infomod.number(info, "memory", "absent", -1) == -1
    assert infomod.parse_fields("keys=1,expires=0,avg_ttl=0") == {"keys": "1", "expires": "0", "avg_ttl": "0"}


def test_keyspace_commands_latency_errors_replicas():
    info = snapshot().info
    assert [(d.db, d.keys, d.expires, d.avg_ttl) for d in infomod.keyspace(info)] == [(0, 1500, 20, 90000),
                                                                                       (3, 7, 0, 0)]
    stats = infomod.command_stats(info)
    assert [s.name for s in infomod.top_by_calls(stats, 2)] == ["get", "set"]
    assert [s.name for s in infomod.top_by_time(stats, 3)] == ["client|list", "set", "get"]
    assert infomod.latency_stats(info)["set"] == {"p50": 8.001, "p99": 31.103, "p99.9": 1003.519}
    assert infomod.error_stats(info) == {"WRONGTYPE": 4}
    first, second = infomod.replicas(info)
    assert (first.address, first.state, first.lag_seconds, first.lag_bytes) == ("10.0.0.5:6380", "online", 1, 1000)
    assert (second.state, second.lag_seconds) == ("wait_bgsave", -1)


def test_slowlog_and_monitor_lines():
    entries = infomod.slowlog_entries(SLOWLOG_REPLY)
    assert [(e.id, e.duration_us, e.args, e.client_name) for e in entries] == [
        (14, 25000, ["KEYS", "*"], "worker"), (13, 12000, ["DEBUG", "SLEEP", "0.012"], "")]
    line = infomod.parse_monitor_line('1700000000.123456 [2 127.0.0.1:5555] "SET" "he llo" "x\\"y"')
    assert (line.timestamp, line.db, line.client, line.name) == (1700000000.123456, "2", "127.0.0.1:5555", "SET")
    assert line.command == '"SET" "he llo" "x\\"y"'
    lua = infomod.parse_monitor_line('1700000000.5 [0 lua] "get" "k"')
    assert (lua.db, lua.client, lua.name) == ("0", "lua", "GET")
    assert infomod.monitor_client(line.raw) == "127.0.0.1:5555" and infomod.monitor_client(lua.raw) == "lua"
    assert infomod.matches(line.raw, "he LLO") and infomod.matches(line.raw, "")
    assert not infomod.matches(line.raw, "lpush")


# -- derived state -----------------------------------------------------------------------
def test_rates_come_from_the_difference_between_polls():
    dash = Dashboard()
    dash.apply_snapshot(snapshot(taken_at=100.0, total=50_000))
    assert dash.ops_per_sec == 777                 # first poll: the server's own figure
    dash.apply_snapshot(snapshot(taken_at=102.0, total=54_000, get_calls=3000, hits=175))
    assert dash.ops_per_sec == 2000
    assert dash.command_rates == {"get": 500.0}
    assert dash.hit_ratio_recent == 1.0            # 100 more hits, no more misses
    assert dash.hit_ratio == 175 / 200
    assert list(dash.ops_history) == [777, 2000]


def test_a_restarted_server_does_not_give_negative_rates():
    dash = Dashboard()
    dash.apply_snapshot(snapshot(taken_at=100.0, total=50_000))
    dash.apply_snapshot(snapshot(taken_at=101.0, total=10, run_id="b" * 40))
    assert dash.ops_per_sec == 777 and dash.command_rates == {}


def test_keys_pause_filter_panes_and_quit():
    dash = Dashboard()
    handle_key(dash, "p")
    assert dash.paused
    handle_key(dash, " ")
    assert not dash.paused
    for key in "/lpush":
        handle_key(dash, key)
    assert dash.editing_filter and dash.filter_text == ""
    handle_key(dash, "q")                          # typed into the filter, not quitting
    handle_key(dash, "\x7f")
    handle_key(dash, "\r")
    assert (dash.editing_filter, dash.filter_text) == (False, "lpush")
    handle_key(dash, "\x1b")
    assert dash.filter_text == ""
    handle_key(dash, "\t")
    assert dash.pane == 1
    handle_key(dash, "4")
    assert dash.pane == 3
    handle_key(dash, "\t")
    assert dash.pane == 0
    assert handle_key(dash, "q") == QUIT


def test_terminal_escape_sequences_are_not_keys():
    assert split_keys("p\x1b[A/x\x1b[Z\x1b") == ["p", "/", "x", "\t", "\x1b"]


def test_sparkline_scales_to_the_maximum():
    assert sparkline([0, 50, 100], 10) == "▁▅█"
    assert sparkline([0, 0], 10) == "▁▁"
    assert sparkline([7, 0, 50, 100], 3) == "▁▅█"     # the last `width` values only


def test_command_line():
    args = parse_args(["-h", "db.example", "-p", "7000", "-a", "secret", "--user", "ops", "--tls", "-i", "0.5"])
    assert (args.host, args.port, args.password, args.user, args.tls, args.interval) == (
        "db.example", 7000, "secret", "ops", True, 0.5)


# -- rendering ---------------------------------------------------------------------------
def live_dashboard() -> Dashboard:
    dash = Dashboard(endpoint="10.0.0.1:6379", status=CONNECTED)
    dash.apply_snapshot(snapshot(taken_at=100.0, total=50_000))
    dash.apply_snapshot(snapshot(taken_at=101.0, total=51_234, slowlog=infomod.slowlog_entries(SLOWLOG_REPLY)))
    dash.stream_status = "streaming"
    dash.add_stream_lines([f'1700000000.{i:06d} [0 127.0.0.1:6000] "{cmd}" "key:{i}"'
                           for i, cmd in enumerate(["SET", "GET", "LPUSH", "GET", "SET"])])
    return dash


def row_with(screen: str, label: str) -> str:
    return next(line for line in screen.splitlines() if label in line)


def test_overview_shows_every_panel():
    screen = render_text(live_dashboard(), 160, 50)
    lines = screen.splitlines()
    assert len(lines) == 50 and max(len(line) for line in lines) <= 160
    assert "10.0.0.1:6379" in lines[0] and "connected" in lines[0] and "role master" in lines[0]
    assert re.search(r"ops/s\s+1,234\b", screen)
    assert "▅█" in row_with(screen, "history")          # 777 then 1,234
    assert "12 connected" in screen and re.search(r"blocked\s+3\b", screen)
    assert "1.00M (peak 2.00M)" in screen and "100.00M" in screen and "allkeys-lru" in screen
    assert re.search(r"db0\s+1,500\s+20\s+1m30s", screen) and re.search(r"db3\s+7\s+0\s+-", screen)
    assert "IN PROGRESS" in row_with(screen, "bgsave") and "last err" in row_with(screen, "rewrite")
    assert "10.0.0.5:6380" in screen and "online" in screen and "1000B" in screen
    assert re.search(r"get\s+2,000\s+0\s+2\.50", screen)            # by calls, with calls/s
    assert re.search(r"client\|list\s+30\.00ms\s+68\.2%", screen)   # by time, share of all time
    assert re.search(r"set\s+8\.00µs\s+31µs\s+1\.00ms", screen)     # latency percentiles
    assert "KEYS *" in screen and "25.00ms" in screen                # slow log
    assert '"LPUSH" "key:2"' in screen                               # command stream
    assert "hit ratio" in screen and "75.0%" in screen


def test_filter_pause_and_reconnecting_are_visible():
    dash = live_dashboard()
    dash.filter_text = "lpush"
    dash.paused = True
    dash.stream_held = 9
    dash.connection_lost("connection refused")
    screen = render_text(dash, 160, 50)
    assert "PAUSED" in screen.splitlines()[0]
    assert "reconnecting (connection refused)" in screen.splitlines()[0]
    assert "filter 'lpush'" in screen and "9 held while paused" in screen
    assert '"LPUSH"' in screen and '"SET" "key:0"' not in screen
    dash.connection_ok()
    assert "● connected (connection lost 1× since start)" in render_text(dash, 160, 50).splitlines()[0]
    dash.editing_filter, dash.filter_draft = True, "get"
    assert "filter: get" in render_text(dash, 160, 50).splitlines()[-1]


def test_the_other_panes():
    dash = live_dashboard()
    dash.pane = 1
    screen = render_text(dash, 160, 50)
    assert "Top commands by calls" in screen and "Error replies" in screen and "WRONGTYPE" in screen
    dash.pane = 2
    screen = render_text(dash, 160, 50)
    assert "DEBUG SLEEP 0.012" in screen and "Latency percentiles" in screen
    dash.pane = 3
    screen = render_text(dash, 160, 50)
    assert screen.count('"GET"') == 2 and "Throughput" not in screen


def test_a_server_without_the_newer_commands_degrades():
    # What a partial implementation shows: no commandstats/latencystats sections,
    # SLOWLOG and MONITOR answered with "unknown command".
    text = "# Server\nredis_version:7.0.15\nrun_id:x\n# Stats\ntotal_commands_processed:5\n# Keyspace\n"
    dash = Dashboard(status=CONNECTED)
    dash.apply_snapshot(Snapshot.from_text(text, 1.0, None, "ERR unknown command 'SLOWLOG'"))
    dash.stream_status = "unsupported: ERR unknown command 'MONITOR'"
    screen = render_text(dash, 160, 50)
    assert "unavailable: ERR unknown command 'SLOWLOG'" in screen
    assert "unsupported: ERR unknown command 'MONITOR'" in screen
    assert screen.count("not reported by this server") >= 4
    assert "(empty)" in screen                                  # keyspace with no database


def test_small_terminals_still_render():
    screen = render_text(live_dashboard(), 80, 24)
    assert len(screen.splitlines()) == 24 and "ops/s" in screen
