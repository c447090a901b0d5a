"""Stream commands, Ferrous vs real Redis side by side: XADD, XRANGE of 10 entries
and XREADGROUP+XACK (a consumer-group work loop).

XADD and XRANGE run through redis-benchmark's arbitrary-command mode (50 clients,
-P 1 and 16). XRANGE reads 10 entries from a random place of a 100,000-entry stream
(`__rand_int__` becomes a 12-digit number, which Redis's ID parser reads as the
millisecond part). XREADGROUP+XACK is a redis-py loop per client thread: read 10
entries for the consumer, acknowledge them, repeat; it reports entries/s.
Servers alternate within each repetition and the medians are reported.

    python benchmarks/streams.py [--repeat 3] [--markdown] [--python /opt/python3.13t/bin/python3.13t]
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from servers import ServerProcess  # noqa: E402

RANGE_STREAM_SIZE = 100_000


def redis_benchmark(port: int, command: list, requests: int, pipeline: int, keyspace: int = 0) -> float:
    cmd = ["redis-benchmark", "-p", str(port), "-c", "50", "-P", str(pipeline), "-n", str(requests), "--csv"]
    if keyspace:
        cmd += ["-r", str(keyspace)]
    done = subprocess.run(cmd + command, capture_output=True, text=True, timeout=900)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    if not rows:
        raise RuntimeError(f"redis-benchmark gave no result: {done.stdout!r} {done.stderr!r}")
    return float(rows[0]["rps"])


def fill_range_stream(port: int) -> None:
    client = redis.Redis(port=port)
    client.delete("range")
    pipe = client.pipeline(transaction=False)
    for i in range(1, RANGE_STREAM_SIZE + 1):
        pipe.execute_command("XADD", "range", f"{i}-0", "field", "value", "n", str(i))
        if i % 5000 == 0:
            pipe.execute()
    pipe.execute()
    client.close()


def group_loop(port: int, entries: int, threads: int = 4, batch: int = 10) -> float:
    """Entries/s consumed by `threads` consumers doing XREADGROUP COUNT batch + XACK."""
    setup = redis.Redis(port=port)
    setup.delete("jobs")
    pipe = setup.pipeline(transaction=False)
    for i in range(entries):
        pipe.xadd("jobs", {"job": i})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    setup.xgroup_create("jobs", "workers", id="0")

    def consume(name):
        client = redis.Redis(port=port)
        while True:
            reply = client.xreadgroup("workers", name, {"jobs": ">"}, count=batch)
            if not reply:
                break
            ids = [entry_id for entry_id, _fields in reply[0][1]]
            client.xack("jobs", "workers", *ids)
        client.close()

    workers = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(threads)]
    started = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - started
    assert setup.xpending("jobs", "workers")["pending"] == 0
    setup.close()
    return entries / elapsed


def measure(port: int, requests: int) -> dict:
    results = {}
    for pipeline in (1, 16):
        n = requests * (4 if pipeline > 1 else 1)
        results[f"XADD * (2 fields) -P {pipeline}"] = redis_benchmark(
            port, ["XADD", "bench", "*", "field", "value", "n", "12345"], n, pipeline)
        results[f"XRANGE 10 entries -P {pipeline}"] = redis_benchmark(
            port, ["XRANGE", "range", "__rand_int__", "+", "COUNT", "10"], n, pipeline, RANGE_STREAM_SIZE)
    results["XREADGROUP+XACK entries/s (4 clients)"] = group_loop(port, requests // 2)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="interpreter for Ferrous")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    ferrous = ServerProcess("ferrous", ["--save", ""], python=args.python)
    real = ServerProcess("redis")
    try:
        fill_range_stream(ferrous.port)
        fill_range_stream(real.port)
        f_runs, r_runs = [], []
        for _ in range(args.repeat):
            r_runs.append(measure(real.port, args.requests))
            f_runs.append(measure(ferrous.port, args.requests))
    finally:
        ferrous.stop()
        real.stop()

    print(f"medians of {args.repeat} runs; Python {platform.python_version()} ({args.python}); "
          f"{os.cpu_count()} CPUs, {platform.machine()}")
    if args.markdown:
        print("\n| benchmark | Redis ops/s | Ferrous ops/s | ratio |")
        print("|---|---|---|---|")
    for name in r_runs[0]:
        r = statistics.median(run[name] for run in r_runs)
        f = statistics.median(run[name] for run in f_runs)
        if args.markdown:
            print(f"| {name} | {r:,.0f} | {f:,.0f} | {f / r:.2f} |")
        else:
            print(f"{name:<40}{r:>14,.0f}{f:>14,.0f}{f / r:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
