"""Server-wide counters that are not owned by one worker (network bytes, connections).

Updated by I/O threads and background threads; guarded by a lock so the counts
are exact on free-threaded builds too. Per-command counters live in each
worker's Context instead (no lock on the command path).
"""
from __future__ import annotations

import threading
import time


class ServerStats:
    def __init__(self):
        self._lock = threading.Lock()
        self.start_time = time.time()
        self.total_connections_received = 0
        self.rejected_connections = 0
        self.total_net_input_bytes = 0
        self.total_net_output_bytes = 0
        self.expired_keys = 0
        self.evicted_keys = 0
        self.expired_stale_perc = 0.0
        self.expired_time_cap_reached_count = 0
        self.sync_full = 0              # replication: full resyncs served
        self.sync_partial_ok = 0        # PSYNC +CONTINUE
        self.sync_partial_err = 0       # PSYNC that had to fall back to a full resync
        # instantaneous_ops_per_sec: samples of (time, total commands) taken by the cron
        self.ops_samples: list = []
        self.net_samples: list = []     # (time, input bytes, output bytes), by the cron

    # -- instantaneous_input_kbps / instantaneous_output_kbps (trackInstantaneousMetric)
    def sample_net(self) -> None:
        """Called by the cron every tick: the last 16 byte counts with their time."""
        samples = self.net_samples
        samples.append((time.monotonic(), self.total_net_input_bytes, self.total_net_output_bytes))
        if len(samples) > 17:
            del samples[0]

    def kbps(self) -> tuple:
        """(input, output) in KB/s over the recent samples."""
        samples = list(self.net_samples)
        if len(samples) < 2:
            return 0.0, 0.0
        (t0, in0, out0), (t1, in1, out1) = samples[0], samples[-1]
        span = t1 - t0
        if span <= 0:
            return 0.0, 0.0
        return max(in1 - in0, 0) / span / 1024, max(out1 - out0, 0) / span / 1024

    def add_net_input(self, n: int) -> None:
        with self._lock:
            self.total_net_input_bytes += n

    def add_net_output(self, n: int) -> None:
        with self._lock:
            self.total_net_output_bytes += n

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)
