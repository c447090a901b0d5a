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
        # instantaneous_ops_per_sec: samples of (time, total commands) taken by the cron
        self.ops_samples: list = []

    def add_net_input(self, n: int) -> None:
        with self._lock:
            self.total_net_input_bytes += n

    def add_net_output(self, n: int) -> None:
        with self._lock:
            self.total_net_output_bytes += n

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)
