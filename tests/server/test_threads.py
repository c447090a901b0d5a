"""The running server's threads and, on free-threaded builds, that the GIL stays off."""
import os
import sysconfig
import time

import pytest
import redis

from servers import ServerProcess

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.ferrous_only
def test_info_reports_gil_state_after_every_module_is_loaded(server):
    client = redis.Redis(port=server.port)
    # Touch every command group so lazily imported modules are loaded: an extension
    # without free-threading support would switch the GIL back on when imported.
    client.set("s", "1")
    client.info("everything")
    client.command_count()
    # The server runs on the same interpreter as the tests.
    assert client.info("server")["gil_enabled"] == (0 if FREE_THREADED else 1)


def test_server_uses_the_threads_it_is_given():
    proc = ServerProcess("ferrous", ["--io-threads", "3", "--worker-threads", "5"])
    try:
        names = []
        for tid in os.listdir(f"/proc/{proc.proc.pid}/task"):
            with open(f"/proc/{proc.proc.pid}/task/{tid}/comm") as fh:
                names.append(fh.read().strip())
        # Python names OS threads after the threading.Thread name (3.11+ on Linux: truncated to 15 chars).
        assert len(names) >= 1 + 3 + 5 + 2  # main, I/O threads, workers, acceptor, cron
        client = redis.Redis(port=proc.port)
        assert client.config_get("io-threads") == {"io-threads": "3"}
        assert client.config_get("worker-threads") == {"worker-threads": "5"}
    finally:
        proc.stop()


def _thread_counts(client) -> tuple[int, int]:
    info = client.info("ferrous")
    return info["ferrous_threads_alive"], info["ferrous_threads_expected"]


def _wait_for_threads(client, expected: int) -> None:
    deadline = time.monotonic() + 10
    while _thread_counts(client) != (expected, expected):
        assert time.monotonic() < deadline, f"threads {_thread_counts(client)}, expected {expected}"
        time.sleep(0.01)


@pytest.mark.ferrous_only
def test_config_set_worker_threads_resizes_the_pool():
    """worker-threads is settable at run time: the pool grows at once and shrinks as
    workers finish what they hold; commands keep running throughout."""
    proc = ServerProcess("ferrous", ["--io-threads", "1", "--worker-threads", "2"])
    try:
        client = redis.Redis(port=proc.port)
        others = 3      # the I/O thread, the acceptor, the cron
        assert _thread_counts(client) == (2 + others, 2 + others)
        total = 0
        for workers in (6, 1, 3, 3):
            assert client.config_set("worker-threads", workers) is True
            assert client.config_get("worker-threads") == {"worker-threads": str(workers)}
            _wait_for_threads(client, workers + others)
            pipe = client.pipeline(transaction=False)
            for _ in range(50):
                pipe.incr("n")
            total += 50
            assert pipe.execute()[-1] == total
        with pytest.raises(redis.ResponseError, match="argument must be between 1 and 1024"):
            client.config_set("worker-threads", 0)
        assert client.info("commandstats")["cmdstat_incrby"]["calls"] == total     # no worker's count lost
    finally:
        proc.stop()
