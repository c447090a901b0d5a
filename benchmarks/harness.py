"""Ferrous vs real Redis, side by side, with redis-benchmark.

Starts a Ferrous server and a redis-server on free ports, runs redis-benchmark
against each (alternating, to share the machine's noise fairly), repeats every
measurement and reports medians: requests/s for both, the ratio, p50/p99 latency.

    python benchmarks/harness.py                      # the core issue's tests
    python benchmarks/harness.py --tests set,get --pipelines 1,16 --repeat 5
    python benchmarks/harness.py --ferrous-args "--io-threads 2 --worker-threads 4"
    python benchmarks/harness.py --markdown           # a table for the README
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from servers import ServerProcess  # noqa: E402

CORE_TESTS = "ping_inline,ping_mbulk,set,get,incr,mset"


def run_benchmark(port: int, tests: str, clients: int, pipeline: int, requests: int,
                  keyspace: int) -> dict[str, dict]:
    cmd = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-P", str(pipeline),
           "-n", str(requests), "-r", str(keyspace), "--csv"]
    if tests:
        cmd += ["-t", tests]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900).stdout
    rows = {}
    for row in csv.DictReader(io.StringIO(out)):
        rows[row["test"]] = {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]),
                             "p99": float(row["p99_latency_ms"])}
    return rows


def median_rows(runs: list[dict]) -> dict[str, dict]:
    result = {}
    for test in runs[0]:
        result[test] = {field: statistics.median(run[test][field] for run in runs if test in run)
                        for field in ("rps", "p50", "p99")}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", default=CORE_TESTS, help="redis-benchmark -t list ('' = all)")
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--keyspace", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ferrous-args", default="")
    parser.add_argument("--python", default=sys.executable, help="interpreter for Ferrous")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    ferrous = ServerProcess("ferrous", shlex.split(args.ferrous_args), python=args.python)
    real = ServerProcess("redis")
    try:
        results = []
        for pipeline in [int(p) for p in args.pipelines.split(",")]:
            requests = args.requests * (4 if pipeline > 1 else 1)
            f_runs, r_runs = [], []
            for _ in range(args.repeat):
                r_runs.append(run_benchmark(real.port, args.tests, args.clients, pipeline, requests, args.keyspace))
                f_runs.append(run_benchmark(ferrous.port, args.tests, args.clients, pipeline, requests, args.keyspace))
            f_med, r_med = median_rows(f_runs), median_rows(r_runs)
            for test in r_med:
                if test in f_med:
                    results.append((test, pipeline, r_med[test], f_med[test]))
    finally:
        ferrous.stop()
        real.stop()

    ferrous_python = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0], "
                                     "'free-threaded' if getattr(sys, '_is_gil_enabled', lambda: True)() is False "
                                     "else 'GIL')"], capture_output=True, text=True).stdout.strip()
    header = (f"redis-benchmark -c {args.clients}, medians of {args.repeat} runs; "
              f"Ferrous on Python {ferrous_python} ({args.python}); Ferrous args: '{args.ferrous_args}'; "
              f"{os.cpu_count()} CPUs, {platform.machine()}")
    print(header)
    if args.markdown:
        print("\n| test | -P | Redis req/s | Ferrous req/s | ratio | Redis p50/p99 ms | Ferrous p50/p99 ms |")
        print("|---|---|---|---|---|---|---|")
    else:
        print(f"{'test':<24}{'-P':>4}{'redis rps':>12}{'ferrous rps':>13}{'ratio':>7}"
              f"{'redis p50/p99':>16}{'ferrous p50/p99':>18}")
    for test, pipeline, r, f in results:
        ratio = f["rps"] / r["rps"] if r["rps"] else 0.0
        if args.markdown:
            print(f"| {test} | {pipeline} | {r['rps']:,.0f} | {f['rps']:,.0f} | {ratio:.2f} | "
                  f"{r['p50']:.2f} / {r['p99']:.2f} | {f['p50']:.2f} / {f['p99']:.2f} |")
        else:
            print(f"{test:<24}{pipeline:>4}{r['rps']:>12,.0f}{f['rps']:>13,.0f}{ratio:>7.2f}"
                  f"{r['p50']:>8.2f}/{r['p99']:<7.2f}{f['p50']:>9.2f}/{f['p99']:<8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
