"""CPU time the server process spends per request, under redis-benchmark -c 50.

On a shared, loaded machine requests/s swing by 2-3x from one minute to the next;
the server's own CPU time per request (utime + stime from /proc) moves much less,
so it is the figure to compare two versions of the hot path by (README, Benchmark).

    python benchmarks/cpu_per_request.py                       # Ferrous, this interpreter
    python benchmarks/cpu_per_request.py --kind redis          # the real server
    python benchmarks/cpu_per_request.py --python .venv-3.13t/bin/python --ferrous-args "--io-threads 2"
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from servers import ServerProcess  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS   # utime + stime


def measure(server, test: str, pipeline: int, requests: int) -> tuple[float, float]:
    """(CPU microseconds per request, requests/s) of one redis-benchmark run."""
    before = cpu_seconds(server.proc.pid)
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), "-c", "50", "-P", str(pipeline),
                          "-n", str(requests), "-r", "100000", "-t", test, "--csv"],
                         capture_output=True, text=True, timeout=900).stdout
    used = cpu_seconds(server.proc.pid) - before
    rps = float(out.splitlines()[1].split(",")[1].strip('"'))
    return used / requests * 1e6, rps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default="ferrous", choices=("ferrous", "redis"))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--ferrous-args", default="")
    parser.add_argument("--tests", default="set,get")
    parser.add_argument("--requests", type=int, default=40_000, help="at -P 1; five times as many at -P 16")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = ServerProcess(args.kind, shlex.split(args.ferrous_args) if args.kind == "ferrous" else None,
                           python=args.python)
    try:
        for pipeline, requests in ((1, args.requests), (16, args.requests * 5)):
            for test in args.tests.split(","):
                runs = [measure(server, test, pipeline, requests) for _ in range(args.repeat)]
                cpu = statistics.median(r[0] for r in runs)
                rps = statistics.median(r[1] for r in runs)
                print(f"{args.kind} {test.upper():<5} -P {pipeline:<3} CPU {cpu:6.2f} us/request   {rps:>10,.0f} req/s",
                      flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
