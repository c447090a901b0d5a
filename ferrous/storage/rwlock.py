"""A writer-preferring reader-writer lock built from plain locks.

Readers take only `_mutex` on the fast path. A writer first takes `_gate` (one
writer at a time, and the place where readers queue while a writer waits), then
raises `_writer` so no new reader enters, then waits on `_no_readers` until the
readers inside have left. `_no_readers` is held by the readers as a group (the
first one in takes it, the last one out releases it), which is why it must be a
plain Lock: it is released by a thread other than the one that took it.
Every shared field is read and written under `_mutex`, so nothing relies on the GIL.
"""
from __future__ import annotations

import threading


class RWLock:
    __slots__ = ("_mutex", "_gate", "_no_readers", "_readers", "_writer")

    def __init__(self):
        self._mutex = threading.Lock()
        self._gate = threading.Lock()
        self._no_readers = threading.Lock()
        self._readers = 0
        self._writer = False

    def acquire_read(self) -> None:
        mutex = self._mutex
        while True:
            mutex.acquire()
            if not self._writer:
                self._readers += 1
                if self._readers == 1:
                    # Free: a writer raises _writer (under _mutex) before taking it.
                    self._no_readers.acquire()
                mutex.release()
                return
            mutex.release()
            # A writer is waiting or inside: queue behind it.
            self._gate.acquire()
            self._gate.release()

    def release_read(self) -> None:
        mutex = self._mutex
        mutex.acquire()
        self._readers -= 1
        if self._readers == 0:
            self._no_readers.release()
        mutex.release()

    def acquire_write(self) -> None:
        self._gate.acquire()
        mutex = self._mutex
        mutex.acquire()
        self._writer = True
        mutex.release()
        self._no_readers.acquire()

    def release_write(self) -> None:
        mutex = self._mutex
        mutex.acquire()
        self._writer = False
        self._no_readers.release()
        mutex.release()
        self._gate.release()
