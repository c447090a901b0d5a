"""Key presses from the terminal in cbreak mode, read without blocking the render loop.

cbreak (not raw) keeps Ctrl-C working as an interrupt. The render loop calls
read(timeout), which waits on select() at most until the next frame is due.
"""
from __future__ import annotations

import os
import select
import sys


class KeyReader:
    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdin
        self.fd = None
        self._saved = None

    def __enter__(self) -> "KeyReader":
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self                     # no terminal (piped): the dashboard still renders
        if os.isatty(fd):
            import termios
            import tty
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
            self.fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        if self._saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def read(self, timeout: float) -> list[str]:
        """Keys typed within timeout seconds (empty list if none)."""
        if self.fd is None:
            if timeout > 0:
                select.select([], [], [], timeout)
            return []
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return []
        data = os.read(self.fd, 1024)
        if not data:
            return []
        return split_keys(data.decode("utf-8", "replace"))


def split_keys(data: str) -> list[str]:
    """Single characters, with escape sequences (arrows, F-keys) dropped except
    shift-tab; a lone ESC stays a key (it cancels or clears the filter)."""
    keys = []
    i = 0
    while i < len(data):
        char = data[i]
        if char == "\x1b" and i + 1 < len(data) and data[i + 1] in "[O":
            end = i + 2
            while end < len(data) and not data[end].isalpha() and data[end] != "~":
                end += 1
            if data[i:end + 1] == "\x1b[Z":
                keys.append("\t")
            i = end + 1
            continue
        keys.append(char)
        i += 1
    return keys
