"""Lua 5.1 bytecode: turn tail calls into plain calls in a compiled script.

Redis's redis.call is a C function, and Lua keeps the caller's frame when it
tail-calls a C function, so `return redis.call('nosuch')` reports the script line.
Ferrous's redis.call is a small Lua function (it must accept the ~8000 arguments
`unpack` can give, past the C stack limit of lupa's own wrappers), and a tail call
to a Lua function drops the caller's frame. Scripts are therefore compiled, dumped,
and every OP_TAILCALL A B 0 becomes OP_CALL A B 0: the compiler always follows it
with RETURN A 0, so the code length, the jumps and the results stay the same.

Layout read here (lundump.c): a 12-byte header, then the main function:
source, linedefined, lastlinedefined, nups, numparams, is_vararg, maxstacksize,
code, constants (with nested functions), debug info.
"""
from __future__ import annotations

import struct

OP_CALL = 28
OP_TAILCALL = 29
_OPCODE_MASK = 0x3F
_HEADER_SIZE = 12


class _Reader:
    def __init__(self, data: bytearray):
        self.data = data
        header = data[:_HEADER_SIZE]
        if header[:4] != b"\x1bLua" or header[4] != 0x51:
            raise ValueError("not a Lua 5.1 chunk")
        little = header[6] == 1
        self.int_size, self.size_t_size = header[7], header[8]
        self.instruction_size, self.number_size = header[9], header[10]
        order = "<" if little else ">"
        self.int_format = order + {4: "i", 8: "q"}[self.int_size]
        self.size_t_format = order + {4: "I", 8: "Q"}[self.size_t_size]
        self.instruction_format = order + {4: "I", 8: "Q"}[self.instruction_size]
        self.pos = _HEADER_SIZE

    def integer(self) -> int:
        value = struct.unpack_from(self.int_format, self.data, self.pos)[0]
        self.pos += self.int_size
        return value

    def skip_string(self) -> None:
        size = struct.unpack_from(self.size_t_format, self.data, self.pos)[0]
        self.pos += self.size_t_size + size

    def function(self) -> None:
        self.skip_string()                  # source
        self.pos += 2 * self.int_size + 4   # line range, nups, numparams, is_vararg, maxstack
        self.code()
        self.constants()
        self.debug()

    def code(self) -> None:
        count = self.integer()
        for _ in range(count):
            instruction = struct.unpack_from(self.instruction_format, self.data, self.pos)[0]
            if instruction & _OPCODE_MASK == OP_TAILCALL:
                instruction = (instruction & ~_OPCODE_MASK) | OP_CALL
                struct.pack_into(self.instruction_format, self.data, self.pos, instruction)
            self.pos += self.instruction_size

    def constants(self) -> None:
        for _ in range(self.integer()):
            kind = self.data[self.pos]
            self.pos += 1
            if kind == 1:           # LUA_TBOOLEAN
                self.pos += 1
            elif kind == 3:         # LUA_TNUMBER
                self.pos += self.number_size
            elif kind == 4:         # LUA_TSTRING
                self.skip_string()
        for _ in range(self.integer()):
            self.function()

    def debug(self) -> None:
        lines = self.integer()                           # line info
        self.pos += lines * self.int_size
        for _ in range(self.integer()):                  # local variables
            self.skip_string()
            self.pos += 2 * self.int_size
        for _ in range(self.integer()):                  # upvalue names
            self.skip_string()


def without_tail_calls(dump: bytes) -> bytes:
    """The same chunk with every tail call made a plain call."""
    data = bytearray(dump)
    _Reader(data).function()
    return bytes(data)
