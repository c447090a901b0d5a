"""Configuration: redis.conf syntax, and one typed table that drives CONFIG GET/SET.

Each parameter is declared once with its type and default; the file loader,
command-line arguments and CONFIG SET all go through `Config.set`, so the
validation and error texts are the same everywhere, as in Redis's config.c.
"""
from __future__ import annotations

import fnmatch
import os
import threading
from dataclasses import dataclass, field
from typing import Callable

from ferrous.errors import CommandError
from ferrous.protocol.parser import split_inline_args


class ConfigError(Exception):
    """A bad value; `reason` is Redis's text (e.g. 'argument must be a memory value')."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_MEMORY_UNITS = {
    b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000**2, b"mb": 1024**2,
    b"g": 1000**3, b"gb": 1024**3,
}


def parse_memory(text: bytes) -> int:
    """memtoull: digits then an optional case-insensitive unit."""
    lowered = text.strip().lower()
    digits = lowered.rstrip(b"abcdefghijklmnopqrstuvwxyz")
    unit = lowered[len(digits):]
    if unit not in _MEMORY_UNITS or not digits or not digits.lstrip(b"-").isdigit():
        raise ConfigError("argument must be a memory value")
    return int(digits) * _MEMORY_UNITS[unit]


def _parse_bool(text: bytes) -> bool:
    lowered = text.lower()
    if lowered == b"yes":
        return True
    if lowered == b"no":
        return False
    raise ConfigError("argument must be 'yes' or 'no'")


@dataclass
class Param:
    name: str
    kind: str                 # bool | int | memory | string | enum | special
    default: object
    mutable: bool = True
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple = ()
    aliases: tuple = ()
    parse: Callable | None = None     # for 'special': bytes -> value
    render: Callable | None = None    # for 'special': value -> str
    attr: str = ""

    def __post_init__(self):
        self.attr = self.name.replace("-", "_")


def _int(name, default, lo=None, hi=None, **kw):
    return Param(name, "int", default, minimum=lo, maximum=hi, **kw)


def _mem(name, default, **kw):
    return Param(name, "memory", default, **kw)


def _bool(name, default, **kw):
    return Param(name, "bool", default, **kw)


def _str(name, default, **kw):
    return Param(name, "string", default, **kw)


def _enum(name, default, choices, **kw):
    return Param(name, "enum", default, choices=tuple(choices), **kw)


PARAMS: list[Param] = [
    _int("port", 6379, 0, 65535),
    Param("bind", "special", "* -::*", parse=lambda v: v.decode(), render=str),
    _bool("protected-mode", True),
    _int("databases", 16, 1, 2**31 - 1, mutable=False),
    _int("hz", 10, 1, 500),
    _int("io-threads", 2, 1, 128, mutable=False),
    _int("worker-threads", 2, 1, 1024, mutable=False),
    _str("requirepass", ""),
    _mem("proto-max-bulk-len", 512 * 1024 * 1024),
    _mem("client-query-buffer-limit", 1024 * 1024 * 1024),
    _int("maxclients", 10000, 1, 2**31 - 1),
    _int("timeout", 0, 0, 2**31 - 1),
    _int("tcp-keepalive", 300, 0, 2**31 - 1),
    _int("tcp-backlog", 511, 0, 2**31 - 1, mutable=False),
    _str("dir", "", parse=None),
    _str("dbfilename", "dump.rdb"),
    _str("logfile", ""),
    _enum("loglevel", "notice", ["debug", "verbose", "notice", "warning"]),
    _bool("daemonize", False, mutable=False),
    _str("pidfile", ""),
    _mem("maxmemory", 0),
]


class Config:
    """Typed values as attributes (config.port), plus the table for CONFIG GET/SET."""

    def __init__(self):
        self._by_name: dict[str, Param] = {}
        for param in PARAMS:
            self._by_name[param.name] = param
            for alias in param.aliases:
                self._by_name[alias] = param
            setattr(self, param.attr, param.default)
        if not self.dir:
            self.dir = os.getcwd()
        self._lock = threading.Lock()
        self.listeners: dict[str, list] = {}
        self.config_file: str | None = None

    def param(self, name: str) -> Param | None:
        return self._by_name.get(name.lower())

    def _convert(self, param: Param, raw: bytes):
        kind = param.kind
        if kind == "bool":
            return _parse_bool(raw)
        if kind == "int":
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError("argument couldn't be parsed into an integer") from None
            if (param.minimum is not None and value < param.minimum) or (
                    param.maximum is not None and value > param.maximum):
                raise ConfigError(
                    f"argument must be between {param.minimum} and {param.maximum} inclusive")
            return value
        if kind == "memory":
            return parse_memory(raw)
        if kind == "enum":
            text = raw.decode().lower()
            if text not in param.choices:
                raise ConfigError("argument(s) must be one of the following: " + ", ".join(param.choices))
            return text
        if kind == "special" and param.parse is not None:
            return param.parse(raw)
        return raw.decode("utf-8", "surrogateescape")

    def set(self, name: str, raw: bytes, startup: bool = False) -> None:
        param = self.param(name)
        if param is None:
            raise ConfigError("unknown")
        if not param.mutable and not startup:
            raise ConfigError("can't set immutable config")
        value = self._convert(param, raw)
        with self._lock:
            setattr(self, param.attr, value)
        for listener in self.listeners.get(param.name, ()):
            listener(value)

    def render(self, param: Param) -> str:
        value = getattr(self, param.attr)
        if param.kind == "bool":
            return "yes" if value else "no"
        if param.kind == "special" and param.render is not None:
            return param.render(value)
        return str(value)

    def get_matching(self, pattern: str) -> dict[str, str]:
        pattern = pattern.lower()
        result = {}
        for name, param in self._by_name.items():
            if fnmatch.fnmatchcase(name, pattern):
                result[name] = self.render(param)
        return result

    def on_change(self, name: str, listener: Callable) -> None:
        self.listeners.setdefault(name, []).append(listener)

    # -- redis.conf syntax -----------------------------------------------------
    def load_file(self, path: str) -> None:
        self.config_file = os.path.abspath(path)
        with open(path, "rb") as fh:
            self.load_text(fh.read(), base=os.path.dirname(os.path.abspath(path)))

    def load_text(self, text: bytes, base: str = ".") -> None:
        for lineno, line in enumerate(text.split(b"\n"), 1):
            line = line.strip()
            if not line or line.startswith(b"#"):
                continue
            args = split_inline_args(line)
            if args is None:
                raise SystemExit(f"*** FATAL CONFIG FILE ERROR *** line {lineno}: unbalanced quotes")
            name = args[0].decode().lower()
            if name == "include":
                self.load_file(os.path.join(base, args[1].decode()))
                continue
            self.apply_directive(name, args[1:], lineno, line)

    def apply_directive(self, name: str, values: list, lineno: int = 0, line: bytes = b"") -> None:
        param = self.param(name)
        if param is None:
            raise SystemExit(
                f"\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {lineno}\n"
                f">>> '{line.decode(errors='replace')}'\nBad directive or wrong number of arguments")
        try:
            self.set(name, b" ".join(values), startup=True)
        except ConfigError as exc:
            raise SystemExit(
                f"\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {lineno}\n"
                f">>> '{line.decode(errors='replace')}'\n{exc.reason}") from None

    def apply_args(self, argv: list[str]) -> None:
        """redis-server style: `--name value [value ...]`, joined into config lines."""
        lines = []
        current: list[str] = []
        for arg in argv:
            if arg.startswith("--"):
                if current:
                    lines.append(current)
                current = [arg[2:]]
            elif current:
                current.append(arg)
            else:
                raise SystemExit(f"Invalid argument: {arg}")
        if current:
            lines.append(current)
        for parts in lines:
            text = " ".join(_quote(p) for p in parts)
            self.load_text(text.encode())


def _quote(text: str) -> str:
    if text and all(c not in text for c in " \"'\t\n\\"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_set_error(name: str, reason: str) -> CommandError:
    from ferrous.errors import CONFIG_SET_FAILED
    return CommandError(CONFIG_SET_FAILED % (name, reason))
