"""A writer-preferring reader-writer lock built from three plain locks.

Readers pass through the `_turnstile` lock, so a waiting writer (which holds it)
stops new readers from starving it. `_no_readers` is held while any reader is
inside; the first reader in takes it and the last one out releases it, which is
why it must be a plain Lock (released by a thread other than the one that took it).
Nothing here relies on the GIL: every shared counter is guarded by `_count_lock`.
"""
from __future__ import annotations

import threading


class RWLock:
    __slots__ = ("_turnstile", "_count_lock", "_no_readers", "_readers")

    def __init__(self):
        self._turnstile = threading.Lock()
        self._count_lock = threading.Lock()
        self._no_readers = threading.Lock()
        self._readers = 0

    def acquire_read(self) -> None:
        with self._turnstile:
            with self._count_lock:
                self._readers += 1
                if self._readers == 1:
                    self._no_readers.acquire()

    def release_read(self) -> None:
        with self._count_lock:
            self._readers -= 1
            if self._readers == 0:
                self._no_readers.release()

    def acquire_write(self) -> None:
        self._turnstile.acquire()
        self._no_readers.acquire()

    def release_write(self) -> None:
        self._no_readers.release()
        self._turnstile.release()
