"""The replication backlog: the last `repl-backlog-size` bytes of the replication
stream, so that a replica whose link dropped can continue where it stopped
(PSYNC +CONTINUE) instead of loading a whole new RDB."""
from __future__ import annotations

MIN_SIZE = 16 * 1024


class Backlog:
    def __init__(self, size: int, end_offset: int):
        self.size = max(size, MIN_SIZE)
        # The buffer may run up to 1/8 over size so that dropping old bytes (a
        # memmove) happens once per size/8 bytes written, not on every write.
        self._buffer = bytearray()
        self._buffer_first = end_offset + 1    # offset of _buffer[0]

    @property
    def histlen(self) -> int:
        return min(len(self._buffer), self.size)

    @property
    def first_offset(self) -> int:
        """repl_backlog_first_byte_offset: the oldest offset a replica can resume at."""
        return self._buffer_first + len(self._buffer) - self.histlen

    def append(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        excess = len(buffer) - self.size
        if excess > self.size // 8:
            del buffer[:excess]
            self._buffer_first += excess

    def covers(self, offset: int, end_offset: int) -> bool:
        """Can a replica that wants `offset` next continue, the stream being at end_offset?"""
        return self.first_offset <= offset <= end_offset + 1

    def since(self, offset: int) -> bytes:
        return bytes(self._buffer[offset - self._buffer_first:])

    def resize(self, size: int) -> None:
        self.size = max(size, MIN_SIZE)
        excess = len(self._buffer) - self.size
        if excess > 0:
            del self._buffer[:excess]
            self._buffer_first += excess
