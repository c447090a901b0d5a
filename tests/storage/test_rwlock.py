"""The shard reader-writer lock under real contention (no reliance on the GIL)."""
import threading
import time

from ferrous.storage.rwlock import RWLock


def test_readers_share_writers_exclude():
    lock = RWLock()
    state = {"readers": 0, "writers": 0, "max_readers": 0, "violations": 0}
    guard = threading.Lock()
    stop = time.monotonic() + 1.0

    def reader():
        while time.monotonic() < stop:
            lock.acquire_read()
            with guard:
                state["readers"] += 1
                state["max_readers"] = max(state["max_readers"], state["readers"])
                if state["writers"]:
                    state["violations"] += 1
            time.sleep(0.0005)
            with guard:
                state["readers"] -= 1
            lock.release_read()

    def writer():
        while time.monotonic() < stop:
            lock.acquire_write()
            with guard:
                state["writers"] += 1
                if state["writers"] > 1 or state["readers"]:
                    state["violations"] += 1
            time.sleep(0.0005)
            with guard:
                state["writers"] -= 1
            lock.release_write()

    threads = [threading.Thread(target=reader) for _ in range(6)] + [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert state["violations"] == 0
    assert state["max_readers"] > 1


def test_waiting_writer_is_not_starved():
    lock = RWLock()
    lock.acquire_read()
    acquired = threading.Event()

    def writer():
        lock.acquire_write()
        acquired.set()
        lock.release_write()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    deadline = time.monotonic() + 5
    while not lock._gate.locked() and time.monotonic() < deadline:   # the writer is waiting
        time.sleep(0.001)
    # A new reader must now queue behind the waiting writer.
    got_read = threading.Event()

    def late_reader():
        lock.acquire_read()
        got_read.set()
        lock.release_read()

    r = threading.Thread(target=late_reader, daemon=True)
    r.start()
    time.sleep(0.05)
    assert not got_read.is_set()
    lock.release_read()
    assert acquired.wait(5)
    assert got_read.wait(5)
    t.join()
    r.join()


def test_counter_increments_are_exact_under_write_lock():
    lock = RWLock()
    counter = [0]

    def bump():
        for _ in range(20000):
            lock.acquire_write()
            counter[0] += 1
            lock.release_write()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter[0] == 80000
