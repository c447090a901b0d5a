"""What per-command statistics cost: the latency histogram behind INFO latencystats
and LATENCY HISTOGRAM (`latency-tracking`, on by default as in Redis), and the
slow-log / MONITOR tests every call makes (server/introspection.py).

    python benchmarks/command_stats_cost.py            # in-process: dispatch.execute of GET
    python benchmarks/command_stats_cost.py --server   # redis-benchmark GET/SET on a Ferrous
                                                       # server, latency-tracking yes vs no

In-process, four cases: latency-tracking off, on (the default), on with the slow
log logging every command (slowlog-log-slower-than 0), and on with a MONITOR client
attached; the first two differ only by the histogram update in dispatch._count.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


class _NullIO:
    """An I/O thread that drops what it is given (the MONITOR case)."""

    def deliver(self, conn, data, action=None):
        pass


def in_process(n: int, repeat: int) -> None:
    from ferrous.config import Config
    from ferrous.server.app import Server
    from ferrous.server.connection import Connection
    from ferrous.server.context import Context
    from ferrous.server.dispatch import execute

    config = Config()
    server = Server(config)
    ctx = Context(server)
    conn = Connection(None, ("127.0.0.1", 50000), ("127.0.0.1", 6379), None, config.proto_max_bulk_len)
    server.keyspace.dbs[0].set(b"key", b"value")
    argv = [b"GET", b"key"]

    def once() -> float:
        # CPU time of this thread: the machine's other load does not count.
        out = bytearray()
        start = time.thread_time()
        for _ in range(n):
            execute(ctx, conn, argv, out)
            if len(out) > 1 << 16:
                out.clear()
        return (time.thread_time() - start) / n * 1e9

    monitor = Connection(None, ("127.0.0.1", 50001), ("127.0.0.1", 6379), _NullIO(), config.proto_max_bulk_len)
    cases = {"off": [], "on": [], "slowlog": [], "monitor": []}
    for _ in range(repeat):     # interleaved, so machine noise falls on every case
        config.set("latency-tracking", b"no")
        cases["off"].append(once())
        config.set("latency-tracking", b"yes")
        cases["on"].append(once())
        config.set("slowlog-log-slower-than", b"0")
        cases["slowlog"].append(once())
        config.set("slowlog-log-slower-than", b"10000")
        server.watch.add_monitor(monitor)
        cases["monitor"].append(once())
        server.watch.remove_monitor(monitor)
    off, on, slowlog, monitored = (min(cases[name]) for name in ("off", "on", "slowlog", "monitor"))
    print(f"dispatch.execute(GET key), {n} calls x {repeat} (best of the runs, CPU ns per command):")
    print(f"  latency-tracking no                {off:8.1f}")
    print(f"  latency-tracking yes (default)     {on:8.1f}  (+{on - off:.1f} ns, {on / off:.3f}x)")
    print(f"  + slow log logging every command   {slowlog:8.1f}  ({slowlog / off:.3f}x)")
    print(f"  + one MONITOR client               {monitored:8.1f}  ({monitored / off:.3f}x)")


def _bench(port: int, requests: int) -> dict:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "get,set", "-n", str(requests),
                          "-c", "50", "-P", "16", "-r", "100000", "--csv"],
                         capture_output=True, text=True, timeout=600).stdout
    rows = {}
    for line in out.strip().splitlines()[1:]:
        cells = [cell.strip('"') for cell in line.split(",")]
        rows[cells[0]] = float(cells[1])
    return rows


def with_server(requests: int, repeat: int) -> None:
    import redis
    from servers import ServerProcess
    server = ServerProcess("ferrous")
    client = redis.Redis(port=server.port)
    try:
        runs = {"yes": [], "no": []}
        for _ in range(repeat):        # alternate, so machine noise falls on both
            for setting in ("no", "yes"):
                client.config_set("latency-tracking", setting)
                runs[setting].append(_bench(server.port, requests))
        print(f"redis-benchmark -c 50 -P 16, {requests} requests x {repeat} (median rps):")
        for test in ("SET", "GET"):
            off = statistics.median(run[test] for run in runs["no"])
            on = statistics.median(run[test] for run in runs["yes"])
            print(f"  {test}  latency-tracking no {off:10.0f}   yes {on:10.0f}  ({on / off:.3f}x)")
    finally:
        client.close()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", action="store_true", help="measure through redis-benchmark")
    parser.add_argument("-n", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.server:
        with_server(args.n or 200_000, args.repeat)
    else:
        in_process(args.n or 100_000, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
