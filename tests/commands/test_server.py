"""Server group: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, SHUTDOWN, INFO, CONFIG, COMMAND.

Every test runs against Ferrous and real Redis 7.0 (RESP2 and RESP3).
"""
from __future__ import annotations

import re
import time

import pytest

from resp_client import Error, RawClient, RespMap, RespSet, Simple, Verbatim
from servers import ServerProcess

from ferrous.config import HIDDEN, IMMUTABLE, PARAMS, PROTECTED, Config


def _text(reply) -> str:
    """INFO's reply: a bulk string in RESP2, a verbatim string in RESP3."""
    return (reply.text if isinstance(reply, Verbatim) else reply).decode()


def _as_dict(reply) -> dict:
    """CONFIG GET's reply: a map in RESP3, a flat array in RESP2."""
    if isinstance(reply, RespMap):
        return dict(reply.items)
    return dict(zip(reply[::2], reply[1::2]))


def _sections(text: str) -> dict:
    """INFO text -> {section title: [(field, value), ...]}."""
    sections, current = {}, None
    for line in text.split("\r\n"):
        if line.startswith("# "):
            current = sections.setdefault(line[2:], [])
        elif line:
            field, _, value = line.partition(":")
            current.append((field, value))
    return sections


# -- DBSIZE / FLUSHDB / FLUSHALL / SWAPDB ------------------------------------------------
def test_dbsize_counts_the_selected_database(raw):
    assert raw.call("DBSIZE") == 0
    raw.call("MSET", "a", "1", "b", "2")
    raw.call("SELECT", "1")
    raw.call("SET", "c", "3")
    assert raw.call("DBSIZE") == 1
    raw.call("SELECT", "0")
    assert raw.call("DBSIZE") == 2
    assert raw.call("DBSIZE", "x") == Error("ERR wrong number of arguments for 'dbsize' command")


@pytest.mark.parametrize("option", [[], ["SYNC"], ["async"], ["Async"]])
def test_flushdb_empties_only_the_selected_database(raw, option):
    raw.call("SET", "a", "1")
    raw.call("SELECT", "1")
    raw.call("SET", "b", "2")
    assert raw.call("FLUSHDB", *option) == Simple("OK")
    assert raw.call("DBSIZE") == 0
    raw.call("SELECT", "0")
    assert raw.call("GET", "a") == b"1"


@pytest.mark.parametrize("option", [[], ["sync"], ["ASYNC"]])
def test_flushall_empties_every_database(raw, option):
    raw.call("SET", "a", "1")
    raw.call("SELECT", "2")
    raw.call("SET", "b", "2")
    assert raw.call("FLUSHALL", *option) == Simple("OK")
    assert raw.call("DBSIZE") == 0
    raw.call("SELECT", "0")
    assert raw.call("DBSIZE") == 0


@pytest.mark.parametrize("command", ["FLUSHDB", "FLUSHALL"])
@pytest.mark.parametrize("args", [["now"], ["sync", "async"], ["async", "x"]])
def test_flush_options_are_checked(raw, command, args):
    raw.call("SET", "a", "1")
    assert raw.call(command, *args) == Error("ERR syntax error")
    assert raw.call("DBSIZE") == 1


def test_swapdb_exchanges_two_databases(raw):
    raw.call("SET", "in0", "zero")
    raw.call("SELECT", "1")
    raw.call("MSET", "in1", "one", "other", "x")
    assert raw.call("SWAPDB", "0", "1") == Simple("OK")
    assert raw.call("DBSIZE") == 1
    assert raw.call("GET", "in0") == b"zero"
    raw.call("SELECT", "0")
    assert raw.call("MGET", "in1", "other", "in0") == [b"one", b"x", None]
    assert raw.call("SWAPDB", "3", "3") == Simple("OK")


@pytest.mark.parametrize("args, error", [
    (["a", "1"], "ERR invalid first DB index"),
    (["1", "a"], "ERR invalid second DB index"),
    (["1.5", "a"], "ERR invalid first DB index"),
    (["0", "2147483648"], "ERR invalid second DB index"),
    (["2147483647", "0"], "ERR DB index is out of range"),
    (["0", "16"], "ERR DB index is out of range"),
    (["-1", "0"], "ERR DB index is out of range"),
    (["0"], "ERR wrong number of arguments for 'swapdb' command"),
])
def test_swapdb_errors(raw, args, error):
    assert raw.call("SWAPDB", *args) == Error(error)


# -- TIME ---------------------------------------------------------------------------------
def test_time_is_seconds_and_microseconds(raw):
    seconds, micros = raw.call("TIME")
    assert re.fullmatch(rb"\d+", seconds) and re.fullmatch(rb"\d{1,6}", micros)
    assert abs(int(seconds) + int(micros) / 1e6 - time.time()) < 5
    assert raw.call("TIME", "now") == Error("ERR wrong number of arguments for 'time' command")


# -- SHUTDOWN -----------------------------------------------------------------------------
@pytest.mark.parametrize("args, error", [
    (["foo"], "ERR syntax error"),
    (["save", "nosave"], "ERR syntax error"),
    (["abort", "now"], "ERR syntax error"),
    (["abort"], "ERR No shutdown in progress."),
])
def test_shutdown_errors_keep_the_server_running(raw, args, error):
    assert raw.call("SHUTDOWN", *args) == Error(error)
    assert raw.call("PING") == Simple("PONG")


def test_shutdown_stops_the_server(server):
    proc = ServerProcess(server.kind)
    try:
        client = RawClient(port=proc.port)
        client.call("SET", "k", "v")
        with pytest.raises(ConnectionError):
            client.call("SHUTDOWN", "NOSAVE")     # no reply: the connection just closes
        assert proc.proc.wait(10) == 0
        client.close()
    finally:
        proc.stop()


# -- INFO ---------------------------------------------------------------------------------
SECTION_FIELDS = {
    "Server": ["redis_version", "redis_git_sha1", "redis_git_dirty", "redis_build_id", "redis_mode", "os",
               "arch_bits", "monotonic_clock", "multiplexing_api", "atomicvar_api", "gcc_version", "process_id",
               "process_supervised", "run_id", "tcp_port", "server_time_usec", "uptime_in_seconds",
               "uptime_in_days", "hz", "configured_hz", "lru_clock", "executable", "config_file",
               "io_threads_active"],
    "Clients": ["connected_clients", "cluster_connections", "maxclients", "client_recent_max_input_buffer",
                "client_recent_max_output_buffer", "blocked_clients", "tracking_clients",
                "clients_in_timeout_table"],
    "Memory": ["used_memory", "used_memory_human", "used_memory_rss", "used_memory_rss_human",
               "used_memory_peak", "used_memory_peak_human", "used_memory_peak_perc", "used_memory_overhead",
               "used_memory_startup", "used_memory_dataset", "used_memory_dataset_perc", "allocator_allocated",
               "allocator_active", "allocator_resident", "total_system_memory", "total_system_memory_human",
               "used_memory_lua", "used_memory_vm_eval", "used_memory_lua_human", "used_memory_scripts_eval",
               "number_of_cached_scripts", "number_of_functions", "number_of_libraries",
               "used_memory_vm_functions", "used_memory_vm_total", "used_memory_vm_total_human",
               "used_memory_functions", "used_memory_scripts", "used_memory_scripts_human", "maxmemory",
               "maxmemory_human", "maxmemory_policy", "allocator_frag_ratio", "allocator_frag_bytes",
               "allocator_rss_ratio", "allocator_rss_bytes", "rss_overhead_ratio", "rss_overhead_bytes",
               "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_not_counted_for_evict",
               "mem_replication_backlog", "mem_total_replication_buffers", "mem_clients_slaves",
               "mem_clients_normal", "mem_cluster_links", "mem_aof_buffer", "mem_allocator",
               "active_defrag_running", "lazyfree_pending_objects", "lazyfreed_objects"],
    "Persistence": ["loading", "async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age",
                    "current_fork_perc", "current_save_keys_processed", "current_save_keys_total",
                    "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
                    "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec",
                    "rdb_saves", "rdb_last_cow_size", "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded",
                    "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
                    "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status",
                    "aof_rewrites", "aof_rewrites_consecutive_failures", "aof_last_write_status",
                    "aof_last_cow_size", "module_fork_in_progress", "module_fork_last_cow_size"],
    "Stats": ["total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
              "total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
              "total_net_repl_output_bytes", "instantaneous_input_kbps", "instantaneous_output_kbps",
              "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps", "rejected_connections",
              "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys", "expired_stale_perc",
              "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds", "evicted_keys",
              "evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time",
              "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns", "pubsubshard_channels",
              "latest_fork_usec", "total_forks", "migrate_cached_sockets", "slave_expires_tracked_keys",
              "active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits",
              "active_defrag_key_misses", "total_active_defrag_time", "current_active_defrag_time",
              "tracking_total_keys", "tracking_total_items", "tracking_total_prefixes",
              "unexpected_error_replies", "total_error_replies", "dump_payload_sanitizations",
              "total_reads_processed", "total_writes_processed", "io_threaded_reads_processed",
              "io_threaded_writes_processed", "reply_buffer_shrinks", "reply_buffer_expands"],
    "Replication": ["role", "connected_slaves", "master_failover_state", "master_replid", "master_replid2",
                    "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
                    "repl_backlog_first_byte_offset", "repl_backlog_histlen"],
    "CPU": ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
            "used_cpu_sys_main_thread", "used_cpu_user_main_thread"],
    "Modules": [],
    "Cluster": ["cluster_enabled"],
}
DEFAULT_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
                    "Errorstats", "Cluster", "Keyspace"]
ALL_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
                "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace"]
FERROUS_SERVER_FIELDS = ["ferrous_version", "gil_enabled"]


@pytest.mark.parametrize("args, titles", [
    ([], DEFAULT_SECTIONS), (["default"], DEFAULT_SECTIONS), (["all"], ALL_SECTIONS),
    (["everything"], ALL_SECTIONS), (["EVERYTHING", "foo"], ALL_SECTIONS),
    (["cpu", "Server"], ["Server", "CPU"]), (["keyspace", "commandstats"], ["Commandstats", "Keyspace"]),
    (["default", "commandstats"], DEFAULT_SECTIONS[:8] + ["Commandstats"] + DEFAULT_SECTIONS[8:]),
    (["modules"], ["Modules"]), (["foo"], []),
])
def test_info_sections(raw, args, titles):
    text = _text(raw.call("INFO", *args))
    assert [line[2:] for line in text.split("\r\n") if line.startswith("# ")] == titles


def test_info_reply_type_and_layout(raw, protocol):
    reply = raw.call("INFO", "cluster", "modules")
    if protocol == 3:
        assert isinstance(reply, Verbatim) and reply.fmt == "txt"
    else:
        assert isinstance(reply, bytes)
    assert _text(reply) == "# Modules\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n"
    assert _text(raw.call("INFO", "foo")) == ""


def test_info_field_names_and_order(raw, server):
    sections = _sections(_text(raw.call("INFO", "everything")))
    for title, fields in SECTION_FIELDS.items():
        expected = fields + (FERROUS_SERVER_FIELDS if title == "Server" and server.kind == "ferrous" else [])
        assert [field for field, _ in sections[title]] == expected, title


def test_info_server_values(raw, server):
    fields = dict(_sections(_text(raw.call("INFO", "server")))["Server"])
    assert fields["redis_version"] == "7.0.15"
    assert fields["redis_mode"] == "standalone"
    assert fields["tcp_port"] == str(server.port)
    assert fields["arch_bits"] == "64"
    assert re.fullmatch(r"[0-9a-f]{40}", fields["run_id"])
    assert int(fields["process_id"]) > 0
    assert fields["config_file"] == ""
    assert fields["hz"] == fields["configured_hz"] == "10"
    assert abs(int(fields["server_time_usec"]) / 1e6 - time.time()) < 5
    if server.kind == "ferrous":
        assert fields["gil_enabled"] in ("0", "1")


def test_info_replication_of_a_primary(raw):
    fields = dict(_sections(_text(raw.call("INFO", "replication")))["Replication"])
    assert fields["role"] == "master"
    assert fields["connected_slaves"] == "0"
    assert re.fullmatch(r"[0-9a-f]{40}", fields["master_replid"])
    assert fields["master_replid2"] == "0" * 40
    assert fields["repl_backlog_size"] == "1048576"


def test_info_cpu_and_memory_formats(raw):
    sections = _sections(_text(raw.call("INFO", "cpu", "memory")))
    for _, value in sections["CPU"]:
        assert re.fullmatch(r"\d+\.\d{6}", value)
    memory = dict(sections["Memory"])
    assert int(memory["used_memory"]) > 0 and int(memory["used_memory_rss"]) > 0
    assert re.fullmatch(r"\d+(\.\d\d[KMGTP])?B?", memory["used_memory_human"])
    assert re.fullmatch(r"\d+\.\d\d%", memory["used_memory_peak_perc"])
    assert memory["maxmemory"] == "0" and memory["maxmemory_policy"] == "noeviction"


def test_info_keyspace(raw):
    assert _sections(_text(raw.call("INFO", "keyspace")))["Keyspace"] == []
    raw.call("MSET", "a", "1", "b", "2")
    raw.call("SET", "c", "3", "EX", "100")
    raw.call("SELECT", "3")
    raw.call("SET", "d", "4")
    fields = dict(_sections(_text(raw.call("INFO", "keyspace")))["Keyspace"])
    assert fields["db3"] == "keys=1,expires=0,avg_ttl=0"
    match = re.fullmatch(r"keys=3,expires=1,avg_ttl=(\d+)", fields["db0"])
    assert match and int(match.group(1)) <= 100_000


def test_info_stats_counters(raw):
    raw.call("CONFIG", "RESETSTAT")
    raw.call("SET", "k", "v")
    raw.call("GET", "k")
    raw.call("GET", "missing")
    raw.call("NOSUCHCOMMAND")
    fields = dict(_sections(_text(raw.call("INFO", "stats")))["Stats"])
    assert (fields["keyspace_hits"], fields["keyspace_misses"]) == ("1", "1")
    assert fields["total_commands_processed"] == "4"     # RESETSTAT, SET, GET, GET
    assert fields["total_error_replies"] == "1"
    assert int(fields["total_net_input_bytes"]) > 0 and fields["total_connections_received"] == "0"


def test_info_commandstats_and_errorstats(raw):
    raw.call("CONFIG", "RESETSTAT")
    raw.call("SET", "k", "v")
    raw.call("GET", "k")
    raw.call("GET", "k")
    raw.call("GET")                      # rejected: wrong number of arguments
    raw.call("CONFIG", "GET", "port")
    raw.call("NOSUCHCOMMAND")
    raw.call("SWAPDB", "x", "0")        # failed: the handler replied an error
    raw.call("DBSIZE", "x")             # rejected, never called
    sections = _sections(_text(raw.call("INFO", "commandstats", "errorstats")))
    stats = dict(sections["Commandstats"])
    assert set(stats) == {"cmdstat_config|resetstat", "cmdstat_set", "cmdstat_get", "cmdstat_config|get",
                          "cmdstat_swapdb", "cmdstat_dbsize"}
    assert re.fullmatch(r"calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0",
                        stats["cmdstat_get"])
    assert re.fullmatch(r"calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=1",
                        stats["cmdstat_swapdb"])
    assert stats["cmdstat_dbsize"] == "calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"
    assert sections["Errorstats"] == [("errorstat_ERR", "count=4")]


# -- CONFIG GET / SET -------------------------------------------------------------------
# What tests/servers.py overrides on the command line, plus Ferrous's own thread count.
HARNESS_SET = {"port", "bind", "dir", "save", "appendonly", "enable-debug-command", "io-threads"}


def _visible_names(server) -> set:
    names = set()
    for param in PARAMS:
        if HIDDEN in param.flags or (param.name == "worker-threads" and server.kind != "ferrous"):
            continue
        names.add(param.name)
        if param.alias:
            names.add(param.alias)
    return names


def test_config_get_star_lists_every_parameter(raw, server):
    assert set(_as_dict(raw.call("CONFIG", "GET", "*"))) == {name.encode() for name in _visible_names(server)}


def test_config_defaults_match_the_table(raw):
    defaults = Config()
    values = _as_dict(raw.call("CONFIG", "GET", "*"))
    for param in PARAMS:
        if param.name not in HARNESS_SET and HIDDEN not in param.flags and param.name != "worker-threads":
            assert values[param.name.encode()].decode() == defaults.render(param), param.name


def test_config_get_several_patterns(raw):
    reply = _as_dict(raw.call("CONFIG", "GET", "maxmemory", "*-max-*-entries", "MAXMEMORY", "nosuch"))
    assert reply == {
        b"maxmemory": b"0", b"hash-max-listpack-entries": b"512", b"hash-max-ziplist-entries": b"512",
        b"zset-max-listpack-entries": b"128", b"zset-max-ziplist-entries": b"128",
        b"set-max-intset-entries": b"512",
    }
    assert _as_dict(raw.call("CONFIG", "GET", "nosuch*")) == {}


def test_config_get_is_a_map_in_resp3(raw, protocol):
    reply = raw.call("CONFIG", "GET", "maxmemory-policy")
    if protocol == 3:
        assert reply == RespMap(((b"maxmemory-policy", b"noeviction"),))
    else:
        assert reply == [b"maxmemory-policy", b"noeviction"]


def test_config_get_keeps_the_name_as_typed(raw):
    assert _as_dict(raw.call("CONFIG", "GET", "MaxClients")) == {b"MaxClients": b"10000"}
    assert _as_dict(raw.call("CONFIG", "GET", "M?xclients")) == {b"maxclients": b"10000"}


def test_config_get_hidden_parameters_need_their_exact_name(raw):
    assert _as_dict(raw.call("CONFIG", "GET", "key-load-delay")) == {b"key-load-delay": b"0"}
    assert _as_dict(raw.call("CONFIG", "GET", "key-load-*")) == {}


def test_config_get_arity(raw):
    assert raw.call("CONFIG", "GET") == Error("ERR wrong number of arguments for 'config|get' command")
    assert raw.call("CONFIG") == Error("ERR wrong number of arguments for 'config' command")
    assert raw.call("CONFIG", "FOO") == Error("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")


@pytest.mark.parametrize("value, stored", [
    ("1k", "1000"), ("1KB", "1024"), ("3mb", "3145728"), ("2G", "2000000000"), ("1gB", "1073741824"),
    ("10b", "10"), ("01", "1"), ("", "0"),
])
def test_config_set_memory_units(raw, value, stored):
    try:
        assert raw.call("CONFIG", "SET", "maxmemory", value) == Simple("OK")
        assert _as_dict(raw.call("CONFIG", "GET", "maxmemory")) == {b"maxmemory": stored.encode()}
    finally:
        raw.call("CONFIG", "SET", "maxmemory", "0")


def test_config_set_several_parameters(raw):
    try:
        assert raw.call("CONFIG", "SET", "maxmemory-samples", "7", "Timeout", "30",
                        "slave-priority", "5") == Simple("OK")
        assert _as_dict(raw.call("CONFIG", "GET", "maxmemory-samples", "timeout", "replica-priority")) == {
            b"maxmemory-samples": b"7", b"timeout": b"30", b"replica-priority": b"5"}
    finally:
        raw.call("CONFIG", "SET", "maxmemory-samples", "5", "timeout", "0", "replica-priority", "100")


def test_config_set_is_all_or_nothing(raw):
    reply = raw.call("CONFIG", "SET", "maxmemory-samples", "9", "maxmemory-policy", "sometimes")
    assert reply == Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
                          "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                          "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
    assert _as_dict(raw.call("CONFIG", "GET", "maxmemory-samples")) == {b"maxmemory-samples": b"5"}


def test_config_set_alias_and_primary_are_not_duplicates(raw):
    try:
        assert raw.call("CONFIG", "SET", "hash-max-ziplist-entries", "100",
                        "hash-max-listpack-entries", "200") == Simple("OK")
        assert _as_dict(raw.call("CONFIG", "GET", "hash-max-ziplist-entries")) == {
            b"hash-max-ziplist-entries": b"200"}
    finally:
        raw.call("CONFIG", "SET", "hash-max-listpack-entries", "512")


@pytest.mark.parametrize("args, error", [
    (["foo", "1"],
     "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
    (["maxmemory", "1", "bar", "1", "DATABASES", "2"],
     "ERR Unknown option or number of arguments for CONFIG SET - 'bar'"),
    (["maxmemory", "1", "x"],
     "ERR syntax error"),
])
def test_config_set_unknown_names_and_syntax(raw, args, error):
    assert raw.call("CONFIG", "SET", *args) == Error(error)
    assert _as_dict(raw.call("CONFIG", "GET", "maxmemory")) == {b"maxmemory": b"0"}


@pytest.mark.parametrize("args, name, reason", [
    (["DATABASES", "1"], "DATABASES", "can't set immutable config"),
    (["databases", "2", "foo", "1"], "databases", "can't set immutable config"),
    (["slaveof", "no one"], "slaveof", "can't set immutable config"),
    (["dbfilename", "x.rdb"], "dbfilename", "can't set protected config"),
    (["dir", "/tmp"], "dir", "can't set protected config"),
    (["maxmemory", "1", "MAXMEMORY", "2"], "MAXMEMORY", "duplicate parameter"),
    (["timeout", "0", "timeout", "0"], "timeout", "duplicate parameter"),
    (["MAXMEMORY", "1.5mb"], "maxmemory", "argument must be a memory value"),
    (["maxmemory", "-1"], "maxmemory", "argument must be a memory value"),
    (["timeout", "01"], "timeout", "argument couldn't be parsed into an integer"),
    (["timeout", "-1"], "timeout", "argument must be between 0 and 2147483647 inclusive"),
    (["maxclients", "0"], "maxclients", "argument must be between 1 and 4294967295 inclusive"),
    (["hash-max-listpack-entries", "-1"], "hash-max-listpack-entries",
     "argument must be between 0 and 9223372036854775807 inclusive"),
    (["proto-max-bulk-len", "10"], "proto-max-bulk-len",
     "argument must be between 1048576 and 9223372036854775807 inclusive"),
    (["SLAVE-read-only", "maybe"], "slave-read-only", "argument must be 'yes' or 'no'"),
    (["save", "100  10"], "save", "Invalid save parameters"),
    (["save", "0 1"], "save", "Invalid save parameters"),
    (["maxmemory-clients", "101%"], "maxmemory-clients", "percentage argument must be less or equal to 100"),
    (["maxmemory-clients", "-5"], "maxmemory-clients", "argument must be a memory or percent value"),
    (["notify-keyspace-events", "q"], "notify-keyspace-events",
     "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
    (["client-output-buffer-limit", "master 1 2 3"], "client-output-buffer-limit",
     "Invalid client class specified in buffer limit configuration."),
    (["client-output-buffer-limit", "normal 1 2"], "client-output-buffer-limit",
     "Wrong number of arguments in buffer limit configuration."),
    (["client-output-buffer-limit", "normal x 2 3"], "client-output-buffer-limit",
     "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    (["oom-score-adj-values", "0 200 5000"], "oom-score-adj-values",
     "Invalid oom-score-adj-values, elements must be between -2000 and 2000."),
    (["oom-score-adj-values", "0 200"], "oom-score-adj-values", "wrong number of arguments"),
    (["latency-tracking-info-percentiles", "101"], "latency-tracking-info-percentiles",
     "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
    (["latency-tracking-info-percentiles", "x"], "latency-tracking-info-percentiles",
     "Invalid latency-tracking-info-percentiles parameters"),
    (["shutdown-on-sigint", "save nosave"], "shutdown-on-sigint",
     "shutdown options SAVE and NOSAVE can't be used simultaneously"),
    (["shutdown-on-sigint", ""], "shutdown-on-sigint",
     "argument(s) must be one of the following: default, save, nosave, now, force"),
    (["cluster-announce-hostname", "a_b"], "cluster-announce-hostname",
     "Hostnames may only contain alphanumeric characters, hyphens or dots"),
    (["proc-title-template", "{foo}"], "proc-title-template",
     "template format is invalid or contains unknown variables"),
    (["proc-title-template", ""], "proc-title-template", "template format is invalid or contains unknown variables"),
    (["bind", " ".join("abcdefghijklmnopq")], "bind", "Too many bind addresses specified."),
])
def test_config_set_errors(raw, args, name, reason):
    """`CONFIG SET failed` names the argument as typed for name checks, and the
    parameter's (lowercase) name for value checks."""
    assert raw.call("CONFIG", "SET", *args) == Error(
        f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
    assert _as_dict(raw.call("CONFIG", "GET", "maxmemory", "timeout")) == {b"maxmemory": b"0", b"timeout": b"0"}


@pytest.mark.parametrize("name, value, stored", [
    ("hz", "1000", "500"), ("hz", "0", "1"), ("hz", "25", "25"),
    ("notify-keyspace-events", "KEA", "AKE"), ("notify-keyspace-events", "Elgm$", "g$lEm"),
    ("notify-keyspace-events", "Kn", "nK"), ("notify-keyspace-events", "An", "A"),
    ("oom-score-adj", "relative", "yes"), ("maxmemory-policy", "ALLKEYS-LRU", "allkeys-lru"),
    ("maxmemory-clients", "5%", "5%"), ("maxmemory-clients", "1kb", "1024"),
    ("shutdown-on-sigint", "now nosave force", "nosave now force"), ("shutdown-on-sigint", "default now", "now"),
    ("latency-tracking-info-percentiles", "50 99.99 100", "50 99.99 100"),
    ("latency-tracking-info-percentiles", "", ""),
    ("client-output-buffer-limit", "replica 1mb 2kb 3",
     "normal 0 0 0 slave 1048576 2048 3 pubsub 33554432 8388608 60"),
    ("save", "100 10 20 30", "100 10 20 30"), ("replica-announce-ip", "", ""),
    ("cluster-announce-hostname", "a.b-c", "a.b-c"),
])
def test_config_set_stores_and_renders_like_redis(raw, name, value, stored):
    before = _as_dict(raw.call("CONFIG", "GET", name))[name.encode()]
    try:
        assert raw.call("CONFIG", "SET", name, value) == Simple("OK")
        assert _as_dict(raw.call("CONFIG", "GET", name)) == {name.encode(): stored.encode()}
    finally:
        assert raw.call("CONFIG", "SET", name, before) == Simple("OK")


def test_mutability_of_every_parameter(raw):
    """CONFIG SET <name> <its current value>: OK, unless immutable or protected."""
    for param in PARAMS:
        if param.name in ("bind", "worker-threads"):
            continue        # rebinding the test server's socket is not this test's business
        for name in filter(None, (param.name, param.alias)):
            current = _as_dict(raw.call("CONFIG", "GET", name))[name.encode()]
            reply = raw.call("CONFIG", "SET", name, current)
            if IMMUTABLE in param.flags:
                expected = Error(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                                 "can't set immutable config")
            elif PROTECTED in param.flags:
                expected = Error(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                                 "can't set protected config")
            else:
                expected = Simple("OK")
            assert reply == expected, name


def test_config_resetstat(raw):
    raw.call("GET", "x")
    raw.call("NOSUCH")
    assert raw.call("CONFIG", "RESETSTAT") == Simple("OK")
    sections = _sections(_text(raw.call("INFO", "commandstats", "errorstats", "stats")))
    assert [field for field, _ in sections["Commandstats"]] == ["cmdstat_config|resetstat"]
    assert sections["Errorstats"] == []
    stats = dict(sections["Stats"])
    assert (stats["keyspace_misses"], stats["total_error_replies"]) == ("0", "0")
    assert raw.call("CONFIG", "RESETSTAT", "x") == Error(
        "ERR wrong number of arguments for 'config|resetstat' command")


def test_config_rewrite_without_a_config_file(raw):
    assert raw.call("CONFIG", "REWRITE") == Error("ERR The server is running without a config file")


def test_config_help(raw):
    reply = raw.call("CONFIG", "HELP")
    assert reply[0] == Simple("CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert reply[-2:] == [Simple("HELP"), Simple("    Prints this help.")]
    assert len(reply) == 11 and all(isinstance(line, Simple) for line in reply)


# -- COMMAND ------------------------------------------------------------------------------
def test_command_count_matches_the_command_list(raw):
    count = raw.call("COMMAND", "COUNT")
    assert count == len(raw.call("COMMAND")) == len(raw.call("COMMAND", "INFO")) > 0
    docs = raw.call("COMMAND", "DOCS")
    assert (len(docs.items) if isinstance(docs, RespMap) else len(docs) // 2) == count


def test_command_info_entry_shape(raw, protocol):
    entry, missing = raw.call("COMMAND", "INFO", "get", "no-such-command")
    assert missing is None
    flags = RespSet((Simple("readonly"), Simple("fast"))) if protocol == 3 else [Simple("readonly"), Simple("fast")]
    assert entry[:6] == [b"get", 2, flags, 1, 1, 1]
    assert raw.call("COMMAND", "INFO", "CONFIG|GET")[0][0] == b"config|get"
    assert raw.call("COMMAND", "INFO", "get|x", "config|get|x") == [None, None]


def test_command_docs_skips_unknown_names(raw):
    reply = raw.call("COMMAND", "DOCS", "nosuch")
    assert reply in ([], RespMap(()))
    reply = raw.call("COMMAND", "DOCS", "get", "nosuch", "GET")
    names = [k for k, _ in reply.items] if isinstance(reply, RespMap) else reply[::2]
    assert names == [b"get", b"get"]


def test_command_list_filters(raw):
    every = raw.call("COMMAND", "LIST")
    assert b"config|get" in every and b"get" in every and len(set(every)) == len(every)
    assert set(raw.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "conf*")) == {
        b"config", b"config|get", b"config|set", b"config|help", b"config|resetstat", b"config|rewrite"}
    string = raw.call("COMMAND", "LIST", "filterby", "aclcat", "STRING")
    assert b"get" in string and b"hset" not in string
    assert raw.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch") == []
    assert raw.call("COMMAND", "LIST", "FILTERBY", "MODULE", "nosuch") == []
    for args in (["foo"], ["FILTERBY"], ["FILTERBY", "PATTERN"], ["FILTERBY", "PATTERN", "a", "b"],
                 ["FILTERBY", "foo", "x"]):
        assert raw.call("COMMAND", "LIST", *args) == Error("ERR syntax error")


@pytest.mark.parametrize("args, keys", [
    (["set", "a", "b"], [b"a"]),
    (["mset", "a", "1", "b", "2"], [b"a", b"b"]),
    (["zunionstore", "dst", "2", "a", "b", "WEIGHTS", "1", "2"], [b"dst", b"a", b"b"]),
])
def test_command_getkeys(raw, args, keys):
    assert raw.call("COMMAND", "GETKEYS", *args) == keys


def test_command_getkeysandflags(raw, protocol):
    def flags(*names):
        items = tuple(Simple(name) for name in names)
        return RespSet(items) if protocol == 3 else list(items)
    assert raw.call("COMMAND", "GETKEYSANDFLAGS", "smove", "src", "dst", "m") == [
        [b"src", flags("RW", "access", "delete")], [b"dst", flags("RW", "insert")]]
    assert raw.call("COMMAND", "GETKEYSANDFLAGS", "zunionstore", "d", "1", "s") == [
        [b"d", flags("OW", "update")], [b"s", flags("RO", "access")]]


RO, RW_UPDATE, OW = ("RO", "access"), ("RW", "access", "update"), ("OW", "update")


@pytest.mark.parametrize("args, expected", [
    # VARIABLE_FLAGS specs: the getkeys function tells the flags of this very call.
    (["set", "k", "v"], [("k", OW)]),
    (["set", "k", "v", "EX", "10", "get"], [("k", RW_UPDATE)]),
    (["bitfield", "k", "get", "u8", "0"], [("k", RO)]),
    (["bitfield", "k", "overflow", "sat", "incrby", "u8", "0", "1"], [("k", RW_UPDATE)]),
    (["bitfield", "k", "bogus"], [("k", RW_UPDATE)]),
    # Unknown or incomplete specs fall back on the getkeys function too.
    (["sort", "k", "by", "p", "get", "g", "store", "d"], [("k", RO), ("d", OW)]),
    (["sort_ro", "k"], [("k", RO)]),
    (["migrate", "h", "1", "", "0", "10", "auth", "p", "keys", "a", "b"],
     [("a", ("RW", "access", "delete")), ("b", ("RW", "access", "delete"))]),
    # A spec that does not fit (a keyword as the last argument is not searched):
    # the getkeys function, which reports no flags.
    (["georadius", "k", "0", "0", "1", "km", "store"], [("k", RO)]),
    (["georadius", "k", "0", "0", "1", "km", "store", "d"], [("k", RO), ("d", OW)]),
    (["zunionstore", "d", "x", "a"], None),
    (["eval", "s", "0"], []),
    (["xread", "streams", "a", "b", "0", "0"], [("a", RO), ("b", RO)]),
])
def test_command_getkeysandflags_follows_redis_key_lookup(raw, protocol, args, expected):
    reply = raw.call("COMMAND", "GETKEYSANDFLAGS", *args)
    if expected is None:
        assert reply == Error("ERR Invalid arguments specified for command")
        return
    as_set = RespSet if protocol == 3 else list
    assert reply == [[key.encode(), as_set(tuple(Simple(flag) for flag in flags))] for key, flags in expected]
    assert raw.call("COMMAND", "GETKEYS", *args) == [key.encode() for key, _ in expected]


def test_command_getkeys_of_a_command_with_only_not_key_specs(raw):
    assert raw.call("COMMAND", "GETKEYS", "spublish", "ch", "m") == Error("ERR The command has no key arguments")


@pytest.mark.parametrize("args, error", [
    (["nosuch", "a"], "ERR Invalid command specified"),
    (["config", "foo"], "ERR Invalid command specified"),
    (["config", "get"], "ERR The command has no key arguments"),
    (["ping", "x"], "ERR The command has no key arguments"),
    (["set", "a"], "ERR Invalid number of arguments specified for command"),
    (["get", "a", "b"], "ERR Invalid number of arguments specified for command"),
    (["get"], "ERR wrong number of arguments for 'command|getkeys' command"),
])
def test_command_getkeys_errors(raw, args, error):
    assert raw.call("COMMAND", "GETKEYS", *args) == Error(error)


def test_command_help_and_errors(raw):
    reply = raw.call("COMMAND", "HELP")
    assert reply[0] == Simple("COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert len(reply) == 21
    assert raw.call("COMMAND", "FOO") == Error("ERR unknown subcommand 'FOO'. Try COMMAND HELP.")
    assert raw.call("COMMAND", "COUNT", "x") == Error("ERR wrong number of arguments for 'command|count' command")
