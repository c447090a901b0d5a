"""RESP, sans-IO: bytes in, commands out; reply values in, bytes out.

Nothing here touches sockets or threads (DESIGN.md §4), so it is tested by feeding
bytes directly.
"""
from ferrous.protocol.parser import RequestParser, ProtocolError
from ferrous.protocol.types import (
    Simple, Verbatim, Push, RespSet, BigNumber, ErrorReply, NULL_ARRAY, Raw,
)
from ferrous.protocol.encoder import encode, encode_into

__all__ = [
    "RequestParser", "ProtocolError", "Simple", "Verbatim", "Push", "RespSet",
    "BigNumber", "ErrorReply", "NULL_ARRAY", "Raw", "encode", "encode_into",
]
