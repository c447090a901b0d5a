"""A writer-preferring reader-writer lock built from plain locks.

A writer takes `_gate` (one writer at a time, and the place where readers queue
while a writer waits or runs), then `_no_readers`, which waits until the readers
inside have left: two lock operations each way, the cost of every write command.
`_no_readers` is held by the readers as a group (the first one in takes it, the
last one out releases it), which is why it must be a plain Lock: it is released by
a thread other than the one that took it. The reader count changes only under
`_mutex`. A reader that finds `_gate` free but loses the race to a writer blocks
on `_no_readers` until that writer is done, which is still correct: writers never
take `_mutex`, so nothing relies on the GIL and nothing deadlocks.
"""
from __future__ import annotations

import threading


class RWLock:
    __slots__ = ("_mutex", "_gate", "_no_readers", "_readers")

    def __init__(self):
        self._mutex = threading.Lock()
        self._gate = threading.Lock()
        self._no_readers = threading.Lock()
        self._readers = 0

    def acquire_read(self) -> None:
        gate = self._gate
        while gate.locked():
            # A writer is waiting or inside: queue behind it (writers go first).
            gate.acquire()
            gate.release()
        mutex = self._mutex
        mutex.acquire()
        self._readers += 1
        if self._readers == 1:
            self._no_readers.acquire()
        mutex.release()

    def release_read(self) -> None:
        mutex = self._mutex
        mutex.acquire()
        self._readers -= 1
        if self._readers == 0:
            self._no_readers.release()
        mutex.release()

    def acquire_write(self) -> None:
        self._gate.acquire()
        self._no_readers.acquire()

    def release_write(self) -> None:
        self._no_readers.release()
        self._gate.release()
