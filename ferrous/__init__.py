"""Ferrous: a Redis 7.0-compatible in-memory data server in Python."""

__version__ = "0.1.0"
# The Redis version whose behaviour Ferrous matches; clients gate features on it.
REDIS_VERSION = "7.0.15"
