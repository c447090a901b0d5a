"""What WATCH costs writers: SET with and without one watcher elsewhere.

The keyspace calls `events.on_modified` on every write only while some client
watches a key (transactions.WatchRegistry installs and removes the hook), so with no
watcher a write pays one attribute test. Two measurements:

    python benchmarks/watch_cost.py            # in-process: Database.set, 3 cases
    python benchmarks/watch_cost.py --server   # redis-benchmark SET on a Ferrous server,
                                               # with and without a client WATCHing a key
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


class _Conn:
    """Just what WatchRegistry touches on a client."""
    watched = None
    watch_dirty = False


def in_process(n: int, repeat: int) -> None:
    from ferrous.commands.transactions import WatchRegistry
    from ferrous.storage.keyspace import Keyspace

    keyspace = Keyspace(16)
    db = keyspace.dbs[0]
    watches = WatchRegistry(keyspace)
    keys = [b"key:%d" % i for i in range(1000)]

    def run() -> float:
        best = []
        for _ in range(repeat):
            start = time.perf_counter()
            for i in range(n):
                db.set(keys[i % 1000], b"v")
            best.append((time.perf_counter() - start) / n * 1e9)
        return statistics.median(best)

    no_watch = run()
    watcher = _Conn()
    watches.watch(watcher, db, b"elsewhere")        # a watched key nobody writes
    other_key = run()
    watcher2 = _Conn()
    for key in keys:                                # every written key is watched
        watches.watch(watcher2, db, key)
    hit = run()
    watches.unwatch_all(watcher)
    watches.unwatch_all(watcher2)
    after = run()
    print(f"Database.set, {n} writes x {repeat} (median ns per write):")
    print(f"  no watcher                      {no_watch:8.1f}")
    print(f"  one watcher on another key      {other_key:8.1f}  ({other_key / no_watch:.2f}x)")
    print(f"  every written key watched       {hit:8.1f}  ({hit / no_watch:.2f}x)")
    print(f"  after UNWATCH (hook removed)    {after:8.1f}  ({after / no_watch:.2f}x)")
    assert keyspace.events.on_modified is None


def _bench_set(port: int, requests: int) -> float:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests),
                          "-c", "50", "-P", "16", "-r", "100000", "--csv"],
                         capture_output=True, text=True, timeout=600).stdout
    return float(out.strip().splitlines()[-1].split(",")[1].strip('"'))


def with_server(requests: int, repeat: int) -> None:
    from servers import ServerProcess
    server = ServerProcess("ferrous")
    try:
        plain, watched = [], []
        for _ in range(repeat):        # alternate, so machine noise falls on both
            plain.append(_bench_set(server.port, requests))
            watcher = socket.create_connection(("127.0.0.1", server.port))
            watcher.sendall(b"*2\r\n$5\r\nWATCH\r\n$9\r\nelsewhere\r\n")
            watcher.recv(100)
            watched.append(_bench_set(server.port, requests))
            watcher.close()
        a, b = statistics.median(plain), statistics.median(watched)
        print(f"redis-benchmark SET -c 50 -P 16, {requests} requests x {repeat} (median rps):")
        print(f"  no watcher                      {a:10.0f}")
        print(f"  a client WATCHes another key    {b:10.0f}  ({b / a:.2f}x)")
    finally:
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
        in_process(args.n or 200_000, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
