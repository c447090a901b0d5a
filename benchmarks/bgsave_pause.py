"""The longest pause a client sees while BGSAVE writes a large dataset (README "Persistence").

    python benchmarks/bgsave_pause.py                  # Ferrous, 1,000,000 keys
    python benchmarks/bgsave_pause.py --keys 200000 --redis   # and real Redis alongside

A server is started on its own port and filled with --keys keys: strings, plus one hash,
list, set and sorted set per 1,000 keys, so that the copy-on-write path (values
serialized aside when a command reaches them during the save) is exercised. Then two
probe clients run for the whole measurement, one issuing GET and one issuing writes
(SET on a string, HINCRBY/RPUSH on the mutable values) on random keys, one request at
a time, and record every request's round trip. BGSAVE is sent after a quiet baseline
period; the script reports, for the baseline and for the save, the longest and the 99.9th
percentile round trip of the probes, the BGSAVE call itself (which contains the freeze:
the shallow copy of every shard under the whole-keyspace lock) and the save duration.
It finally checks the file with redis-check-rdb.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))

import redis  # noqa: E402

from servers import free_port, wait_for_port  # noqa: E402


def start(kind: str, directory: str, port: int, python: str) -> subprocess.Popen:
    if kind == "ferrous":
        cmd = [python, "-m", "ferrous", "--port", str(port), "--bind", "127.0.0.1",
               "--dir", directory, "--save", ""]
        env = dict(os.environ, PYTHONPATH=ROOT)
    else:
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
               "--save", "", "--appendonly", "no"]
        env = dict(os.environ)
    log = open(os.path.join(directory, "server.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=directory)
    wait_for_port(port, proc, timeout=60)
    return proc


def fill(port: int, keys: int) -> None:
    c = redis.Redis(port=port)
    batch = 10_000
    for start_at in range(0, keys, batch):
        pipe = c.pipeline(transaction=False)
        chunk = range(start_at, min(start_at + batch, keys))
        pipe.mset({b"key:%d" % i: b"value:%d" % i for i in chunk})
        for i in chunk:
            if i % 1000 == 0:
                pipe.hset(b"hash:%d" % i, mapping={b"f%d" % j: j for j in range(20)})
                pipe.rpush(b"list:%d" % i, *range(20))
                pipe.sadd(b"set:%d" % i, *range(20))
                pipe.zadd(b"zset:%d" % i, {b"m%d" % j: j for j in range(20)})
        pipe.execute()
    c.close()


class Probe(threading.Thread):
    """One client, one request at a time; keeps (send time, round trip) pairs."""

    def __init__(self, port: int, keys: int, writes: bool):
        super().__init__(daemon=True)
        self.client = redis.Redis(port=port)
        self.keys = keys
        self.writes = writes
        self.samples: list = []
        self.stop = threading.Event()

    def run(self) -> None:
        rnd = random.Random(1 if self.writes else 2)
        c, clock = self.client, time.perf_counter
        buckets = max(self.keys // 1000, 1)
        while not self.stop.is_set():
            i = rnd.randrange(self.keys)
            t0 = clock()
            if not self.writes:
                c.get(b"key:%d" % i)
            else:
                owner = rnd.randrange(buckets) * 1000
                choice = i % 3
                if choice == 0:
                    c.set(b"key:%d" % i, b"changed")
                elif choice == 1:
                    c.hincrby(b"hash:%d" % owner, b"f1", 1)
                else:
                    c.rpush(b"list:%d" % owner, b"x")
            self.samples.append((t0, clock() - t0))


def window_stats(samples: list, start: float, end: float) -> tuple:
    rtts = sorted(rtt for t, rtt in samples if start <= t < end)
    if not rtts:
        return 0, 0.0, 0.0
    p999 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.999))]
    return len(rtts), rtts[-1] * 1000, p999 * 1000


def measure(kind: str, keys: int, baseline: float, python: str) -> dict:
    directory = tempfile.mkdtemp(prefix=f"bgsave-pause-{kind}-")
    port = free_port()
    proc = start(kind, directory, port, python)
    try:
        t = time.perf_counter()
        fill(port, keys)
        print(f"[{kind}] filled {keys} keys in {time.perf_counter() - t:.1f}s", flush=True)
        probes = [Probe(port, keys, writes=False), Probe(port, keys, writes=True)]
        for probe in probes:
            probe.start()
        time.sleep(baseline)
        admin = redis.Redis(port=port)
        t_base_end = time.perf_counter()
        t0 = time.perf_counter()
        admin.bgsave()
        bgsave_call = (time.perf_counter() - t0) * 1000
        while admin.info("persistence")["rdb_bgsave_in_progress"]:
            time.sleep(0.05)
        t_end = time.perf_counter()
        for probe in probes:
            probe.stop.set()
            probe.join()
        samples = [s for probe in probes for s in probe.samples]
        n0, max0, p0 = window_stats(samples, t_base_end - baseline, t_base_end)
        n1, max1, p1 = window_stats(samples, t_base_end, t_end)
        info = admin.info("persistence")
        check = subprocess.run(["redis-check-rdb", os.path.join(directory, "dump.rdb")],
                               capture_output=True, text=True)
        result = {
            "kind": kind, "keys": keys, "bgsave_call_ms": bgsave_call,
            "save_s": t_end - t_base_end, "status": info["rdb_last_bgsave_status"],
            "baseline_requests": n0, "baseline_max_ms": max0, "baseline_p999_ms": p0,
            "during_requests": n1, "during_max_ms": max1, "during_p999_ms": p1,
            "file_mb": os.path.getsize(os.path.join(directory, "dump.rdb")) / 1e6,
            "check_rdb_ok": "RDB looks OK" in check.stdout,
        }
        if kind == "redis":
            result["latest_fork_usec"] = admin.info("stats")["latest_fork_usec"]
        admin.close()
        return result
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=float, default=5.0, help="seconds of probing before BGSAVE")
    parser.add_argument("--redis", action="store_true", help="measure real redis-server too")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs Ferrous")
    args = parser.parse_args()
    kinds = ["ferrous"] + (["redis"] if args.redis else [])
    for kind in kinds:
        result = measure(kind, args.keys, args.baseline, args.python)
        for name, value in result.items():
            print(f"  {name:>20}: {value:.2f}" if isinstance(value, float) else f"  {name:>20}: {value}")


if __name__ == "__main__":
    main()
