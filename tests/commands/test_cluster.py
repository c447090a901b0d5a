"""The cluster group without cluster mode: Ferrous answers as Redis 7.0 does with
`cluster-enabled no` (the default), and refuses to start as a cluster node."""
from __future__ import annotations

import subprocess
import sys

import pytest

from resp_client import Error

DISABLED = Error("ERR This instance has cluster support disabled")
SUBCOMMANDS_WITH_ARGS = [
    ("INFO",), ("NODES",), ("SLOTS",), ("SHARDS",), ("MYID",), ("LINKS",), ("HELP",),
    ("KEYSLOT", "foo"), ("COUNTKEYSINSLOT", "1"), ("GETKEYSINSLOT", "1", "10"),
    ("ADDSLOTS", "1"), ("ADDSLOTSRANGE", "1", "2"), ("DELSLOTS", "1"),
    ("DELSLOTSRANGE", "1", "2"), ("FLUSHSLOTS",), ("MEET", "127.0.0.1", "7000"),
    ("FORGET", "x"), ("REPLICATE", "x"), ("REPLICAS", "x"), ("SLAVES", "x"),
    ("COUNT-FAILURE-REPORTS", "x"), ("FAILOVER",), ("FAILOVER", "FORCE"), ("RESET",),
    ("RESET", "HARD"), ("SAVECONFIG",), ("SET-CONFIG-EPOCH", "1"), ("BUMPEPOCH",),
    ("SETSLOT", "1", "STABLE"),
]


@pytest.mark.parametrize("argv", SUBCOMMANDS_WITH_ARGS, ids=lambda a: " ".join(a))
def test_every_cluster_subcommand_says_cluster_is_disabled(raw, argv):
    assert raw.call("CLUSTER", *argv) == DISABLED


@pytest.mark.parametrize("name", ["ASKING", "READONLY", "READWRITE"])
def test_connection_cluster_commands_say_cluster_is_disabled(raw, name):
    assert raw.call(name) == DISABLED
    assert raw.call(name, "extra") == Error(
        f"ERR wrong number of arguments for '{name.lower()}' command")


def test_cluster_lookup_and_arity_errors_come_first(raw):
    assert raw.call("CLUSTER") == Error("ERR wrong number of arguments for 'cluster' command")
    assert raw.call("CLUSTER", "FOO") == Error("ERR unknown subcommand 'FOO'. Try CLUSTER HELP.")
    assert raw.call("CLUSTER", "INFO", "x") == Error(
        "ERR wrong number of arguments for 'cluster|info' command")
    assert raw.call("CLUSTER", "KEYSLOT") == Error(
        "ERR wrong number of arguments for 'cluster|keyslot' command")


def test_cluster_disabled_inside_multi_fails_at_exec_only(raw):
    assert raw.call("MULTI") is not None
    raw.call("CLUSTER", "INFO")
    raw.call("ASKING")
    assert raw.call("EXEC") == [DISABLED, DISABLED]


def test_info_reports_cluster_disabled(r):
    assert r.info("cluster") == {"cluster_enabled": 0}


@pytest.mark.ferrous_only
def test_ferrous_refuses_to_start_as_a_cluster_node(tmp_path):
    started = subprocess.run(
        [sys.executable, "-m", "ferrous", "--port", "0", "--cluster-enabled", "yes"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert started.returncode != 0
    assert "cluster-enabled must be no" in started.stdout + started.stderr
