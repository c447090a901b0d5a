"""The Lua libraries Redis 7.0 bundles, which lupa's lua51 lacks: bit (LuaBitOp),
struct (Roberto Ierusalimschy's struct 0.2), cjson (lua-cjson 2.1.0) and cmsgpack
(lua-cmsgpack 0.4.0), written in Python with the behaviour and error texts of the C
versions for their common functions.

The functions are Python callables in Lua (C functions to the VM). A LibError
becomes a Lua error that the error handler prefixes with the script's position,
as luaL_error does in a C library.
"""
from __future__ import annotations

import math
import re
import struct as _struct


class LibError(Exception):
    """A library error raised as a Lua string: luaL_error prefixes the position of
    the caller and luaL_argerror names the function as the caller called it (the
    `\0` in the text); a Lua runtime error inside the library (positional=False)
    gets neither. `resolve` fills them in while the call is still on the stack."""

    def __init__(self, text: str, positional: bool = True):
        super().__init__(text)
        self.text = text
        self.positional = positional
        self.message = None

    def resolve(self, name: str, where: str) -> None:
        text = self.text.replace("\0", name)
        self.message = (where + text) if self.positional else text

    def __str__(self):
        return self.message if self.message is not None else self.text.replace("\0", "?")


def _typename(value, lua_type) -> str:
    if value is None:
        return "nil"
    t = type(value)
    if t is bool:
        return "boolean"
    if t in (int, float):
        return "number"
    if t is bytes:
        return "string"
    return lua_type(value) or "userdata"


def _arg_error(n: int, fname: str, message: str) -> LibError:
    """luaL_argerror; the function's name is the one its caller used."""
    return LibError("bad argument #%d to '\0' (%s)" % (n, message))


def _check_number(args, i: int, fname: str, lua_type):
    """luaL_checknumber: numbers and numeric strings."""
    value = args[i] if i < len(args) else None
    t = type(value)
    if t in (int, float) and t is not bool:
        return value
    if t is bytes:
        try:
            return float(value.strip()) if not value.strip().lower().startswith((b"0x", b"-0x")) \
                else float(int(value.strip(), 16))
        except ValueError:
            pass
    got = "no value" if i >= len(args) else _typename(value, lua_type)
    raise _arg_error(i + 1, fname, "number expected, got %s" % got)


def _check_string(args, i: int, fname: str, lua_type) -> bytes:
    value = args[i] if i < len(args) else None
    if type(value) is bytes:
        return value
    if type(value) in (int, float):
        return lua_number_text(value)
    got = "no value" if i >= len(args) else _typename(value, lua_type)
    raise _arg_error(i + 1, fname, "string expected, got %s" % got)


def lua_number_text(n) -> bytes:
    """tostring of a Lua number (LUA_NUMBER_FMT "%.14g")."""
    if isinstance(n, float) and n.is_integer() and abs(n) < 1e15:
        return b"%d" % int(n)
    if isinstance(n, int):
        return b"%.14g" % n
    return (b"%.14g" % n).replace(b"inf", b"inf")


def _lua_int(n) -> int:
    """(lua_Integer) cast of a number: truncation; LLONG_MIN when out of range."""
    if isinstance(n, int):
        return n if -(1 << 63) <= n < (1 << 63) else -(1 << 63)
    if math.isnan(n) or math.isinf(n) or not -(2.0 ** 63) <= n < 2.0 ** 63:
        return -(1 << 63)
    return int(n)


# -------------------------------------------------------------------------------------
# bit (LuaBitOp 1.0.2)
# -------------------------------------------------------------------------------------
def _tobit(n) -> int:
    """Numbers are reduced modulo 2^32 after rounding to nearest (the 2^52+2^51 trick)."""
    if isinstance(n, float):
        if math.isnan(n) or math.isinf(n):
            return 0
        n = round(n)   # round half to even, like the FPU
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n & 0x80000000 else n


def _bits(args, fname, lua_type, count=None):
    if count is None:
        count = max(1, len(args))
    return [_tobit(_check_number(args, i, fname, lua_type)) for i in range(count)]


def _signed(n: int) -> int:
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n & 0x80000000 else n


def _make_bit(lua_type):
    def fold(name, op):
        def f(*args):
            values = _bits(args, name, lua_type)
            result = values[0]
            for v in values[1:]:
                result = op(result, v)
            return _signed(result)
        return f

    def unary(name, op):
        return lambda *args: _signed(op(_bits(args, name, lua_type, 1)[0]))

    def shift(name, op):
        def f(*args):
            value, count = _bits(args, name, lua_type, 2)
            return _signed(op(value & 0xFFFFFFFF, count & 31))
        return f

    def tohex(*args):
        value = _bits(args, "tohex", lua_type, 1)[0]
        n = 8 if len(args) < 2 or args[1] is None else _tobit(_check_number(args, 1, "tohex", lua_type))
        upper = n < 0
        n = min(abs(n), 8) if n != -(1 << 31) else 8
        text = "%0*x" % (n, value & 0xFFFFFFFF) if n else ""
        text = text[-n:] if n else ""
        return (text.upper() if upper else text).encode()

    def bswap(*args):
        v = _bits(args, "bswap", lua_type, 1)[0] & 0xFFFFFFFF
        return _signed(int.from_bytes(v.to_bytes(4, "little"), "big"))

    return {
        "tobit": unary("tobit", lambda v: v),
        "bnot": unary("bnot", lambda v: ~v),
        "band": fold("band", lambda a, b: a & b),
        "bor": fold("bor", lambda a, b: a | b),
        "bxor": fold("bxor", lambda a, b: a ^ b),
        "lshift": shift("lshift", lambda v, n: v << n),
        "rshift": shift("rshift", lambda v, n: v >> n),
        "arshift": shift("arshift", lambda v, n: _signed(v) >> n),
        "rol": shift("rol", lambda v, n: (v << n) | (v >> (32 - n))),
        "ror": shift("ror", lambda v, n: (v >> n) | (v << (32 - n))),
        "bswap": bswap,
        "tohex": tohex,
    }


# -------------------------------------------------------------------------------------
# struct 0.2 (lua_struct.c as Redis 7.0 bundles it; x86-64 sizes and conversions)
# -------------------------------------------------------------------------------------
_STRUCT_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_MAXINTSIZE = 32
_MAXALIGN = 8
_U64 = (1 << 64) - 1
_INT_MAX = 2 ** 31 - 1


def _to_uint64(n) -> int:
    """The C conversions putinteger does: (Uinttype)(Inttype)n or (Uinttype)n."""
    if isinstance(n, float):
        if math.isnan(n):
            return 0
        if n < 0:
            return (int(n) if n >= -(2.0 ** 63) else -(1 << 63)) & _U64
        return int(n) if n < 2.0 ** 64 else 0
    if n < 0:
        return (n if n >= -(1 << 63) else -(1 << 63)) & _U64
    return n if n <= _U64 else 0


class _Format:
    """A struct format string: options with their sizes, endianness and alignment."""

    def __init__(self, fmt: bytes):
        self.fmt = fmt
        self.pos = 0
        self.little = True
        self.align = 1

    def getnum(self, default: int) -> int:
        fmt = self.fmt
        if self.pos >= len(fmt) or not 0x30 <= fmt[self.pos] <= 0x39:
            return default
        a = 0
        while self.pos < len(fmt) and 0x30 <= fmt[self.pos] <= 0x39:
            digit = fmt[self.pos] - 0x30
            if a > _INT_MAX // 10 or a * 10 > _INT_MAX - digit:
                raise LibError("integral size overflow")
            a = a * 10 + digit
            self.pos += 1
        return a

    def next(self):
        """(option, size) of the next option, or None at the end (optsize)."""
        if self.pos >= len(self.fmt):
            return None
        opt = chr(self.fmt[self.pos])
        self.pos += 1
        if opt in _STRUCT_SIZES:
            return opt, _STRUCT_SIZES[opt]
        if opt == "c":
            return opt, self.getnum(1)
        if opt in "iI":
            size = self.getnum(4)
            if size > _MAXINTSIZE:
                raise LibError("integral size %d is larger than limit of %d" % (size, _MAXINTSIZE))
            return opt, size
        return opt, 0

    def toalign(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        if size > self.align:
            size = self.align
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str) -> None:
        """controloptions: spaces, endianness, alignment; anything else is invalid."""
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            align = self.getnum(_MAXALIGN)
            if align <= 0 or align & (align - 1):
                raise LibError("alignment %d is not a power of 2" % align)
            self.align = align
        else:
            raise _arg_error(1, "", "invalid format option '%s'" % opt)


def _get_integer(data: bytes, little: bool, signed: bool, size: int) -> float | int:
    """getinteger: 64-bit accumulation (wider sizes keep the last 8 bytes read)."""
    value = 0
    order = reversed(data) if little else data
    for byte in order:
        value = ((value << 8) | byte) & _U64
    if not signed:
        return value if value < 2 ** 53 else float(value)
    mask = (_U64 << ((size * 8 - 1) & 63)) & _U64      # x86 masks the shift count
    if value & mask:
        value |= mask
    if value & (1 << 63):
        value -= 1 << 64
    return value if abs(value) < 2 ** 53 else float(value)


def _make_struct(lua_type):
    def pack(*args):
        fmt = _Format(_check_string(args, 0, "pack", lua_type))
        out = bytearray()
        arg = 1
        while True:
            option = fmt.next()
            if option is None:
                break
            opt, size = option
            out += b"\0" * fmt.toalign(len(out), opt, size)
            if opt in "bBhHlLTiI":
                value = _to_uint64(_check_number(args, arg, "pack", lua_type))
                arg += 1
                raw = bytes((value >> (8 * i)) & 0xFF if i < 8 else 0 for i in range(size))
                out += raw if fmt.little else raw[::-1]
            elif opt == "x":
                out += b"\0"
            elif opt in "fd":
                n = float(_check_number(args, arg, "pack", lua_type))
                arg += 1
                if opt == "f":
                    try:
                        packed = _struct.pack("<f", n)
                    except OverflowError:
                        packed = _struct.pack("<f", math.copysign(math.inf, n))
                else:
                    packed = _struct.pack("<d", n)
                out += packed if fmt.little else packed[::-1]
            elif opt in "cs":
                text = _check_string(args, arg, "pack", lua_type)
                arg += 1
                if size == 0:
                    size = len(text)
                if len(text) < size:
                    raise _arg_error(arg + 1, "pack", "string too short")
                out += text[:size]
                if opt == "s":
                    out += b"\0"
            else:
                fmt.control(opt)
        return bytes(out)

    def unpack(*args):
        fmt = _Format(_check_string(args, 0, "unpack", lua_type))
        data = _check_string(args, 1, "unpack", lua_type)
        pos = 0
        if len(args) > 2 and args[2] is not None:
            pos = _lua_int(_check_number(args, 2, "unpack", lua_type)) - 1
        if pos < 0:
            raise _arg_error(3, "unpack", "offset must be 1 or greater")
        size_of_data = len(data)
        results = []
        while True:
            option = fmt.next()
            if option is None:
                break
            opt, size = option
            pos += fmt.toalign(pos, opt, size)
            if size > size_of_data or pos > size_of_data - size:
                raise _arg_error(2, "unpack", "data string too short")
            if opt in "bBhHlLTiI":
                results.append(_get_integer(data[pos:pos + size], fmt.little, opt.islower(), size))
            elif opt in "fd":
                chunk = data[pos:pos + size]
                results.append(_struct.unpack(("<" if fmt.little else ">") + opt, chunk)[0])
            elif opt == "c":
                if size == 0:
                    if not results or type(results[-1]) not in (int, float, bytes) \
                            or (type(results[-1]) is bytes and _lua_tonumber(results[-1]) is None):
                        raise LibError("format 'c0' needs a previous size")
                    previous = results.pop()
                    count = previous if type(previous) is not bytes else _lua_tonumber(previous)
                    size = _to_uint64(count)
                    if size > size_of_data or pos > size_of_data - size:
                        raise _arg_error(2, "unpack", "data string too short")
                results.append(data[pos:pos + size])
            elif opt == "s":
                end = data.find(b"\0", pos)
                if end < 0:
                    raise LibError("unfinished string in data")
                results.append(data[pos:end])
                size = end - pos + 1
            elif opt != "x":
                fmt.control(opt)
            pos += size
        return (*results, pos + 1)

    def size(*args):
        fmt = _Format(_check_string(args, 0, "size", lua_type))
        pos = 0
        while True:
            option = fmt.next()
            if option is None:
                break
            opt, sz = option
            pos += fmt.toalign(pos, opt, sz)
            if opt == "s":
                raise _arg_error(1, "size", "option 's' has no fixed size")
            if opt == "c" and sz == 0:
                raise _arg_error(1, "size", "option 'c0' has no fixed size")
            if not opt.isalnum():
                fmt.control(opt)
            pos += sz
        return pos

    return {"pack": pack, "unpack": unpack, "size": size}


def _lua_tonumber(text: bytes):
    try:
        return float(text)
    except ValueError:
        return None


# -------------------------------------------------------------------------------------
# cjson
# -------------------------------------------------------------------------------------
_ESCAPES = {i: "\\u%04x" % i for i in range(32)}
_ESCAPES.update({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\",
                 47: "\\/", 127: "\\u007f"})
_ESCAPE_BYTES = {k: v.encode() for k, v in _ESCAPES.items()}


def _json_string(s: bytes) -> bytes:
    out = bytearray(b'"')
    escapes = _ESCAPE_BYTES
    for byte in s:
        e = escapes.get(byte)
        if e is None:
            out.append(byte)
        else:
            out += e
    out += b'"'
    return bytes(out)


def _json_number(n) -> bytes:
    if isinstance(n, float) and (math.isnan(n) or math.isinf(n)):
        raise LibError("Cannot serialise number: must not be NaN or Inf")
    return b"%.14g" % n


class JsonConfig:
    """lua_cjson's json_config_t: one per Lua state, kept across scripts (Redis
    never resets it), changed by cjson.encode_max_depth() and friends."""

    def __init__(self):
        self.encode_sparse_convert = False
        self.encode_sparse_ratio = 2
        self.encode_sparse_safe = 10
        self.encode_max_depth = 1000
        self.decode_max_depth = 1000
        self.encode_invalid_numbers = 0     # 0 off, 1 on, 2 null
        self.decode_invalid_numbers = True
        self.encode_keep_buffer = True
        self.encode_number_precision = 14


class _JsonEncoder:
    def __init__(self, engine, config: JsonConfig):
        self.lua_type = engine.lua_type
        self.config = config

    def number(self, n) -> bytes:
        """json_append_number: invalid numbers per encode_invalid_numbers."""
        mode = self.config.encode_invalid_numbers
        if isinstance(n, float) and (math.isnan(n) or math.isinf(n)):
            if mode == 0:
                raise LibError("Cannot serialise number: must not be NaN or Inf")
            if mode == 2:
                return b"null"
            if math.isnan(n):
                return b"nan"
        return b"%.*g" % (self.config.encode_number_precision, n)

    def encode(self, value, depth: int, out: bytearray) -> None:
        t = type(value)
        if t is bytes:
            out += _json_string(value)
        elif t is bool:
            out += b"true" if value else b"false"
        elif t in (int, float):
            out += self.number(value)
        elif value is None:
            out += b"null"
        else:
            kind = self.lua_type(value)
            if kind == "table":
                self.table(value, depth + 1, out)
            elif kind == "userdata":
                out += b"null"
            else:
                raise LibError("Cannot serialise %s: type not supported" % kind)

    def table(self, table, depth: int, out: bytearray) -> None:
        if depth > self.config.encode_max_depth:
            raise LibError("Cannot serialise, excessive nesting (%d)" % depth)
        items = list(table.items())
        length = self.array_length(items)
        if length > 0:
            values = dict(items)
            out += b"["
            for i in range(1, length + 1):
                if i > 1:
                    out += b","
                value = values.get(i)
                if value is None:
                    value = values.get(float(i))
                self.encode(value, depth, out)
            out += b"]"
            return
        out += b"{"
        first = True
        for key, value in items:
            if not first:
                out += b","
            first = False
            kt = type(key)
            if kt is bytes:
                out += _json_string(key)
            elif kt in (int, float) and kt is not bool:
                out += b'"' + self.number(key) + b'"'
            else:
                raise LibError("Cannot serialise %s: table key must be a number or string"
                               % _typename(key, self.lua_type))
            out += b":"
            self.encode(value, depth, out)
        out += b"}"

    def array_length(self, items) -> int:
        max_index = count = 0
        for key, _ in items:
            if type(key) in (int, float) and type(key) is not bool and key >= 1 and key == math.floor(key):
                max_index = max(max_index, int(key))
                count += 1
            else:
                return -1
        config = self.config
        if config.encode_sparse_ratio > 0 and max_index > count * config.encode_sparse_ratio \
                and max_index > config.encode_sparse_safe:
            if not config.encode_sparse_convert:
                raise LibError("Cannot serialise table: excessively sparse array")
            return -1
        return max_index


_STRTOD = re.compile(
    rb"[+-]?(?:(?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)"
    rb"|0[xX](?:[0-9A-Fa-f]+\.?[0-9A-Fa-f]*|\.[0-9A-Fa-f]+)(?:[pP][+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)", re.IGNORECASE)


def _strtod(data: bytes, pos: int):
    """C strtod on data[pos:]: (value, end) or None when nothing converts."""
    match = _STRTOD.match(data, pos)
    if match is None:
        return None
    text = match.group().lower()
    unsigned = text.lstrip(b"+-")
    if unsigned.startswith(b"0x"):
        body = unsigned[2:]
        if b"p" not in body:
            body += b"p0"
        value = float.fromhex(((b"-" if text.startswith(b"-") else b"") + b"0x" + body).decode())
    elif unsigned.startswith(b"nan"):
        value = math.nan
    else:
        value = float(text.split(b"(")[0])
    return value, match.end()


_TOKENS = {ord("{"): "T_OBJ_BEGIN", ord("}"): "T_OBJ_END", ord("["): "T_ARR_BEGIN",
           ord("]"): "T_ARR_END", ord(","): "T_COMMA", ord(":"): "T_COLON", 0: "T_END",
           ord(" "): "T_WHITESPACE", ord("\t"): "T_WHITESPACE", ord("\r"): "T_WHITESPACE",
           ord("\n"): "T_WHITESPACE"}
_UNKNOWN_STARTS = frozenset(b'fiInNt"+-0123456789')
_STRING_ESCAPES = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b", ord("f"): b"\f",
                   ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t"}


class _Token:
    __slots__ = ("type", "index", "value")

    def __init__(self, kind, index, value=None):
        self.type = kind
        self.index = index
        self.value = value


class _JsonDecoder:
    """lua-cjson 2.1.0's decoder: its tokenizer, its strtod numbers, its messages."""

    def __init__(self, engine, null, config: JsonConfig):
        self.engine = engine
        self.null = null
        self.config = config

    def decode(self, data: bytes):
        if len(data) >= 2 and (not data[0] or not data[1]):
            raise LibError("JSON parser does not support UTF-16 or UTF-32")
        self.data = data + b"\0"
        self.ptr = 0
        self.depth = 0
        value = self.value(self.next_token())
        token = self.next_token()
        if token.type != "T_END":
            self.fail("the end", token)
        return value

    def fail(self, expected: str, token: _Token):
        found = token.value if token.type == "T_ERROR" else token.type
        raise LibError("Expected %s but found %s at character %d" % (expected, found, token.index + 1))

    def error_token(self, message: str) -> _Token:
        return _Token("T_ERROR", self.ptr, message)

    def next_token(self) -> _Token:
        data = self.data
        while True:
            ch = data[self.ptr]
            kind = _TOKENS.get(ch)
            if kind != "T_WHITESPACE":
                break
            self.ptr += 1
        index = self.ptr
        if kind is None:
            if ch not in _UNKNOWN_STARTS:
                return self.error_token("invalid token")
        elif kind == "T_END":
            return _Token(kind, index)
        else:
            self.ptr += 1
            return _Token(kind, index)
        if ch == 0x22:
            return self.string_token()
        if ch == 0x2D or 0x30 <= ch <= 0x39:
            if not self.config.decode_invalid_numbers and self.invalid_number():
                return self.error_token("invalid number")
            return self.number_token()
        for word, kind, value in ((b"true", "T_BOOLEAN", True), (b"false", "T_BOOLEAN", False),
                                  (b"null", "T_NULL", None)):
            if data.startswith(word, index):
                self.ptr += len(word)
                return _Token(kind, index, value)
        if self.config.decode_invalid_numbers and self.invalid_number():
            return self.number_token()
        return self.error_token("invalid token")

    def invalid_number(self) -> bool:
        """json_is_invalid_number (decode_invalid_numbers is on by default)."""
        data, p = self.data, self.ptr
        if data[p] == 0x2B:
            return True
        if data[p] == 0x2D:
            p += 1
        if data[p] == 0x30:
            ch2 = data[p + 1]
            return (ch2 | 0x20) == ord("x") or 0x30 <= ch2 <= 0x39
        if data[p] <= 0x39:
            return False
        head = data[p:p + 3].lower()
        return head in (b"inf", b"nan")

    def number_token(self) -> _Token:
        index = self.ptr
        parsed = _strtod(self.data, self.ptr)
        if parsed is None:
            return self.error_token("invalid number")
        self.ptr = parsed[1]
        return _Token("T_NUMBER", index, parsed[0])

    def string_token(self) -> _Token:
        data = self.data
        index = self.ptr
        self.ptr += 1
        out = bytearray()
        while data[self.ptr] != 0x22:
            ch = data[self.ptr]
            if ch == 0:
                return self.error_token("unexpected end of string")
            if ch == 0x5C:
                esc = data[self.ptr + 1]
                if esc == ord("u"):
                    if not self.unicode_escape(out):
                        return self.error_token("invalid unicode escape code")
                    continue
                translated = _STRING_ESCAPES.get(esc)
                if translated is None:
                    return self.error_token("invalid escape code")
                out += translated
                self.ptr += 2
                continue
            out.append(ch)
            self.ptr += 1
        self.ptr += 1
        return _Token("T_STRING", index, bytes(out))

    def unicode_escape(self, out: bytearray) -> bool:
        data, p = self.data, self.ptr

        def hex4(at):
            digits = data[at:at + 4]
            if len(digits) != 4 or any(d not in b"0123456789abcdefABCDEF" for d in digits):
                return None
            return int(digits, 16)

        code = hex4(p + 2)
        if code is None:
            return False
        length = 6
        if (code & 0xF800) == 0xD800 and code & 0x400:
            return False        # a low surrogate first
        if (code & 0xFC00) == 0xD800:
            if data[p + 6:p + 8] != b"\\u":
                return False
            low = hex4(p + 8)
            if low is None or (low & 0xFC00) != 0xDC00:
                return False
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
            length = 12
        out += chr(code).encode("utf-8", "surrogatepass")
        self.ptr = p + length
        return True

    def descend(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > self.config.decode_max_depth:
            raise LibError("Found too many nested data structures (%d) at character %d"
                           % (self.depth, token.index + 1))

    def value(self, token: _Token):
        kind = token.type
        if kind in ("T_STRING", "T_NUMBER", "T_BOOLEAN"):
            return token.value
        if kind == "T_NULL":
            return self.null
        if kind == "T_OBJ_BEGIN":
            return self.object(token)
        if kind == "T_ARR_BEGIN":
            return self.array(token)
        self.fail("value", token)

    def array(self, start: _Token):
        self.descend(start)
        table = self.engine.table_from({})
        token = self.next_token()
        if token.type != "T_ARR_END":
            i = 1
            while True:
                table[i] = self.value(token)
                i += 1
                token = self.next_token()
                if token.type == "T_ARR_END":
                    break
                if token.type != "T_COMMA":
                    self.fail("comma or array end", token)
                token = self.next_token()
        self.depth -= 1
        return table

    def object(self, start: _Token):
        self.descend(start)
        table = self.engine.table_from({})
        token = self.next_token()
        if token.type != "T_OBJ_END":
            while True:
                if token.type != "T_STRING":
                    self.fail("object key string", token)
                key = token.value
                token = self.next_token()
                if token.type != "T_COLON":
                    self.fail("colon", token)
                table[key] = self.value(self.next_token())
                token = self.next_token()
                if token.type == "T_OBJ_END":
                    break
                if token.type != "T_COMMA":
                    self.fail("comma or object end", token)
                token = self.next_token()
        self.depth -= 1
        return table


# -------------------------------------------------------------------------------------
# cmsgpack
# -------------------------------------------------------------------------------------
class _MsgPack:
    MAX_NESTING = 16

    def __init__(self, engine):
        self.engine = engine
        self.lua_type = engine.lua_type

    def pack(self, value, out: bytearray, depth: int = 0) -> None:
        t = type(value)
        if t is bytes:
            n = len(value)
            if n < 32:
                out.append(0xA0 | n)
            elif n <= 0xFF:
                out += bytes((0xD9, n))
            elif n <= 0xFFFF:
                out += b"\xda" + n.to_bytes(2, "big")
            else:
                out += b"\xdb" + n.to_bytes(4, "big")
            out += value
        elif t is bool:
            out.append(0xC3 if value else 0xC2)
        elif t in (int, float):
            self.number(value, out)
        elif value is not None and self.lua_type(value) == "table" and depth < self.MAX_NESTING:
            self.table(value, out, depth + 1)
        else:
            out.append(0xC0)

    @staticmethod
    def number(n, out: bytearray) -> None:
        if isinstance(n, float) and not (math.isinf(n) or math.isnan(n)) and n.is_integer() \
                and -(2 ** 63) <= n < 2 ** 63:
            n = int(n)
        if isinstance(n, int):
            if n >= 0:
                if n <= 127:
                    out.append(n)
                elif n <= 0xFF:
                    out += bytes((0xCC, n))
                elif n <= 0xFFFF:
                    out += b"\xcd" + n.to_bytes(2, "big")
                elif n <= 0xFFFFFFFF:
                    out += b"\xce" + n.to_bytes(4, "big")
                else:
                    out += b"\xcf" + (n & ((1 << 64) - 1)).to_bytes(8, "big")
            else:
                if n >= -32:
                    out.append(n & 0xFF)
                elif n >= -128:
                    out += b"\xd0" + n.to_bytes(1, "big", signed=True)
                elif n >= -32768:
                    out += b"\xd1" + n.to_bytes(2, "big", signed=True)
                elif n >= -(2 ** 31):
                    out += b"\xd2" + n.to_bytes(4, "big", signed=True)
                else:
                    out += b"\xd3" + n.to_bytes(8, "big", signed=True)
            return
        try:
            single = _struct.pack(">f", n)         # (float)n, as mp_encode_double tries first
        except OverflowError:
            single = None
        if single is not None and (_struct.unpack(">f", single)[0] == n or math.isnan(n)):
            out += b"\xca" + single
        else:
            out += b"\xcb" + _struct.pack(">d", n)

    def table(self, table, out: bytearray, depth: int) -> None:
        items = list(table.items())
        count, max_index = 0, 0
        is_array = True
        for key, _ in items:
            if type(key) in (int, float) and type(key) is not bool and key > 0 and key == math.floor(key):
                count += 1
                max_index = max(max_index, int(key))
            else:
                is_array = False
                break
        if is_array and max_index == count:
            values = dict(items)
            self.header(count, out, 0x90, 0xDC, 0xDD)
            for i in range(1, count + 1):
                value = values.get(i, values.get(float(i)))
                self.pack(value, out, depth)
            return
        self.header(len(items), out, 0x80, 0xDE, 0xDF)
        for key, value in items:
            self.pack(key, out, depth)
            self.pack(value, out, depth)

    @staticmethod
    def header(n: int, out: bytearray, fix: int, b16: int, b32: int) -> None:
        if n < 16:
            out.append(fix | n)
        elif n <= 0xFFFF:
            out += bytes((b16,)) + n.to_bytes(2, "big")
        else:
            out += bytes((b32,)) + n.to_bytes(4, "big")

    # -- decoding -------------------------------------------------------------------
    def unpack_all(self, data: bytes, limit: int, offset: int):
        values = []
        pos = offset
        while pos < len(data) and (limit <= 0 or len(values) < limit):
            value, pos = self.decode(data, pos)
            values.append(value)
        return values, pos

    def need(self, data, pos, n):
        if pos + n > len(data):
            raise LibError("Missing bytes in input.")

    def decode(self, data: bytes, pos: int):
        self.need(data, pos, 1)
        c = data[pos]
        pos += 1
        if c <= 0x7F:
            return c, pos
        if c >= 0xE0:
            return c - 256, pos
        if 0xA0 <= c <= 0xBF:
            return self.raw(data, pos, c & 0x1F)
        if 0x90 <= c <= 0x9F:
            return self.array(data, pos, c & 0x0F)
        if 0x80 <= c <= 0x8F:
            return self.map(data, pos, c & 0x0F)
        if c == 0xC0:
            return None, pos
        if c in (0xC2, 0xC3):
            return c == 0xC3, pos
        fixed = {0xCC: (1, False), 0xCD: (2, False), 0xCE: (4, False), 0xCF: (8, False),
                 0xD0: (1, True), 0xD1: (2, True), 0xD2: (4, True), 0xD3: (8, True)}
        if c in fixed:
            size, signed = fixed[c]
            self.need(data, pos, size)
            n = int.from_bytes(data[pos:pos + size], "big", signed=signed)
            return (n if abs(n) < 2 ** 53 else float(n)), pos + size
        if c in (0xCA, 0xCB):
            size = 4 if c == 0xCA else 8
            self.need(data, pos, size)
            n = _struct.unpack(">f" if size == 4 else ">d", data[pos:pos + size])[0]
            return (int(n) if n.is_integer() and abs(n) < 2 ** 53 else n), pos + size
        lengths = {0xD9: 1, 0xDA: 2, 0xDB: 4}      # 0.4.0 knows no bin or ext types
        if c in lengths:
            size = lengths[c]
            self.need(data, pos, size)
            return self.raw(data, pos + size, int.from_bytes(data[pos:pos + size], "big"))
        if c in (0xDC, 0xDD, 0xDE, 0xDF):
            size = 2 if c in (0xDC, 0xDE) else 4
            self.need(data, pos, size)
            n = int.from_bytes(data[pos:pos + size], "big")
            if c in (0xDC, 0xDD):
                return self.array(data, pos + size, n)
            return self.map(data, pos + size, n)
        raise LibError("Bad data format in input.")

    def raw(self, data, pos, n):
        self.need(data, pos, n)
        return data[pos:pos + n], pos + n

    def array(self, data, pos, n):
        items = []
        for _ in range(n):
            value, pos = self.decode(data, pos)
            items.append(value)
        table = self.engine.table_from({})
        for i, value in enumerate(items, 1):
            if value is not None:
                table[i] = value
        return table, pos

    def map(self, data, pos, n):
        table = self.engine.table_from({})
        for _ in range(n):
            key, pos = self.decode(data, pos)
            value, pos = self.decode(data, pos)
            if key is None:
                raise LibError("table index is nil", positional=False)   # lua_settable
            table[key] = value
        return table, pos


# -------------------------------------------------------------------------------------
# cjson configuration functions (json_cfg_* in lua_cjson.c)
# -------------------------------------------------------------------------------------
_INT_MAX = (1 << 31) - 1


def _make_cjson_config(config: JsonConfig, lua_type) -> dict:
    def check_args(args, name: str, most: int) -> None:
        """json_arg_init: at most `most` arguments."""
        if len(args) > most:
            raise _arg_error(most + 1, name, "found too many arguments")

    def integer(args, i: int, name: str, attr: str, low: int, high: int):
        """json_integer_option"""
        if i < len(args) and args[i] is not None:
            value = int(_check_number(args, i, name, lua_type))
            if not low <= value <= high:
                # luaL_argcheck(..., 1, ...) in lua_cjson.c names argument #1 whatever i is.
                raise _arg_error(1, name, "expected integer between %d and %d" % (low, high))
            setattr(config, attr, value)
        return getattr(config, attr)

    def enum(args, i: int, name: str, attr: str, options=("off", "on")):
        """json_enum_option with bool_true 1: booleans, or one of the option names."""
        if i < len(args) and args[i] is not None:
            value = args[i]
            if type(value) is bool:
                setting = int(value)
            else:
                text = value if type(value) is bytes else \
                    lua_number_text(value) if type(value) in (int, float) else None
                if text is None:    # luaL_checkoption -> luaL_checkstring
                    raise _arg_error(i + 1, name, "string expected, got %s" % _typename(value, lua_type))
                if text.decode("latin-1") not in options:
                    raise _arg_error(i + 1, name, "invalid option '%s'" % text.decode("latin-1"))
                setting = options.index(text.decode("latin-1"))
            setattr(config, attr, setting if len(options) > 2 else bool(setting))
        setting = int(getattr(config, attr))
        return bool(setting) if setting in (0, 1) else options[setting].encode()

    def encode_sparse_array(*args):
        check_args(args, "encode_sparse_array", 3)
        return (enum(args, 0, "encode_sparse_array", "encode_sparse_convert"),
                integer(args, 1, "encode_sparse_array", "encode_sparse_ratio", 0, _INT_MAX),
                integer(args, 2, "encode_sparse_array", "encode_sparse_safe", 0, _INT_MAX))

    def one_integer(name, attr, low, high):
        def configure(*args):
            check_args(args, name, 1)
            return integer(args, 0, name, attr, low, high)
        return configure

    def one_enum(name, attr, options=("off", "on")):
        def configure(*args):
            check_args(args, name, 1)
            return enum(args, 0, name, attr, options)
        return configure

    return {
        "cjson_encode_sparse_array": encode_sparse_array,
        "cjson_encode_max_depth": one_integer("encode_max_depth", "encode_max_depth", 1, _INT_MAX),
        "cjson_decode_max_depth": one_integer("decode_max_depth", "decode_max_depth", 1, _INT_MAX),
        "cjson_encode_number_precision": one_integer("encode_number_precision",
                                                     "encode_number_precision", 1, 14),
        "cjson_encode_keep_buffer": one_enum("encode_keep_buffer", "encode_keep_buffer"),
        "cjson_encode_invalid_numbers": one_enum("encode_invalid_numbers", "encode_invalid_numbers",
                                                 ("off", "on", "null")),
        "cjson_decode_invalid_numbers": one_enum("decode_invalid_numbers", "decode_invalid_numbers"),
    }


# -------------------------------------------------------------------------------------
# Export table for bootstrap.lua
# -------------------------------------------------------------------------------------
def exports(engine) -> dict:
    lua_type = engine.lua_type
    funcs = {}
    for name, f in _make_bit(lua_type).items():
        funcs["bit_" + name] = f
    for name, f in _make_struct(lua_type).items():
        funcs["struct_" + name] = f

    state = {"null": None}
    json_config = JsonConfig()
    encoder = _JsonEncoder(engine, json_config)

    def cjson_encode(*args):
        if len(args) != 1:
            raise LibError("bad argument #1 to 'encode' (expected 1 argument)")
        out = bytearray()
        encoder.encode(args[0], 0, out)
        return bytes(out)

    def cjson_decode(*args):
        if len(args) != 1:
            raise LibError("bad argument #1 to 'decode' (expected 1 argument)")
        text = _check_string(args, 0, "decode", lua_type)
        return _JsonDecoder(engine, state["null"], json_config).decode(text)

    funcs["cjson_encode"] = cjson_encode
    funcs["cjson_decode"] = cjson_decode
    funcs.update(_make_cjson_config(json_config, lua_type))

    msgpack = _MsgPack(engine)

    def cmsgpack_pack(*args):
        if not args:
            raise _arg_error(0, "pack", "MessagePack pack needs input.")
        out = bytearray()
        for value in args:
            msgpack.pack(value, out)
        return bytes(out)

    def cmsgpack_unpack(*args):
        data = _check_string(args, 0, "unpack", lua_type)
        values, _ = msgpack.unpack_all(data, 0, 0)
        return tuple(values)

    def cmsgpack_unpack_limited(fname, limit, offset, data):
        values, pos = msgpack.unpack_all(data, limit, offset)
        return (pos if pos < len(data) else -1, *values)

    def cmsgpack_unpack_one(*args):
        data = _check_string(args, 0, "unpack_one", lua_type)
        offset = int(_check_number(args, 1, "unpack_one", lua_type)) if len(args) > 1 else 0
        return cmsgpack_unpack_limited("unpack_one", 1, offset, data)

    def cmsgpack_unpack_limit(*args):
        data = _check_string(args, 0, "unpack_limit", lua_type)
        limit = int(_check_number(args, 1, "unpack_limit", lua_type))
        offset = int(_check_number(args, 2, "unpack_limit", lua_type)) if len(args) > 2 else 0
        return cmsgpack_unpack_limited("unpack_limit", limit, offset, data)

    funcs["cmsgpack_pack"] = cmsgpack_pack
    funcs["cmsgpack_unpack"] = cmsgpack_unpack
    funcs["cmsgpack_unpack_one"] = cmsgpack_unpack_one
    funcs["cmsgpack_unpack_limit"] = cmsgpack_unpack_limit

    def named(func):
        def call(*args):
            try:
                return func(*args)
            except LibError as exc:
                info = engine.api.caller_info()
                exc.resolve(info[0].decode(), info[1].decode())
                raise
        return call

    exported = {name.encode(): named(f) for name, f in funcs.items()}

    def set_null(null):
        state["null"] = null
    exported[b"cjson_set_null"] = set_null
    return exported
