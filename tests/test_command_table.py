"""The command table agrees with Redis 7.0's own (../shared/reference/redis-7.0-commands.json).

Every command Ferrous declares must carry Redis's arity, flags, key positions, ACL
categories, group and sub-commands, so a wrong declaration fails CI; every command and
sub-command of Redis 7.0 is declared. COMMAND INFO and COMMAND DOCS of every
implemented command must equal real Redis's reply byte for byte, in RESP2 and RESP3.
"""
from __future__ import annotations

import json
import os

import pytest

from servers import _get_server
from resp_client import RawClient, RespMap, encode_command

from ferrous.commands import registry
from ferrous.commands.server import visible_flags

REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "shared", "reference", "redis-7.0-commands.json")
# Commands newer than Redis 7.0 that Ferrous offers on purpose (tests mark them ferrous_only).
FERROUS_ONLY = {"client|setinfo"}

TABLE = registry.load_all()


def _reference() -> dict:
    with open(REFERENCE) as fh:
        commands = json.load(fh)["commands"]
    flat = {}
    for entry in commands:
        flat[entry["name"]] = dict(entry, group=entry["group"])
        for sub in entry["subcommands"]:
            flat[sub["name"]] = dict(sub, group=entry["group"])
    return flat


REF = _reference()


def _implemented():
    for cmd in TABLE.values():
        yield cmd
        yield from cmd.subcommands.values()


IMPLEMENTED = [cmd for cmd in _implemented() if cmd.name not in FERROUS_ONLY]
NAMES = [cmd.name for cmd in IMPLEMENTED]
SHARED_NAMES = set(NAMES)


def test_every_command_exists_in_redis_70():
    unknown = [cmd.name for cmd in IMPLEMENTED if cmd.name not in REF]
    assert unknown == [], "not Redis 7.0 commands (add to FERROUS_ONLY if intended)"


def test_every_redis_70_command_and_subcommand_is_implemented():
    missing = sorted(name for name in REF if name not in SHARED_NAMES)
    assert missing == []
    assert len([name for name in REF if "|" not in name]) == 240


@pytest.mark.parametrize("cmd", IMPLEMENTED, ids=NAMES)
def test_declaration_matches_redis(cmd):
    ref = REF[cmd.name]
    assert cmd.arity == ref["arity"], "arity"
    assert visible_flags(cmd) == ref["flags"], "flags (in Redis's order)"
    assert (cmd.first_key, cmd.last_key, cmd.step) == (ref["first_key"], ref["last_key"], ref["step"]), \
        "first/last/step"
    assert ["@" + c for c in cmd.categories] == ref["acl_categories"], "ACL categories"
    assert cmd.group == ref["group"], "group"


@pytest.mark.parametrize("cmd", [c for c in TABLE.values() if c.subcommands], ids=lambda c: c.name)
def test_subcommands_are_redis_subcommands(cmd):
    ours = set(cmd.subcommands) - {name.split("|")[1].encode() for name in FERROUS_ONLY}
    theirs = {sub["name"].split("|")[1].encode() for sub in REF[cmd.name]["subcommands"]}
    assert ours <= theirs


def test_containers_are_containers_in_redis():
    for cmd in TABLE.values():
        if cmd.name in REF and REF[cmd.name].get("subcommands") and not cmd.subcommands:
            pytest.fail(f"{cmd.name} is a container in Redis: declare it with container()")


# -- byte-exact COMMAND INFO / COMMAND DOCS against the real server ---------------------
class _BytesClient(RawClient):
    """RawClient that also returns the exact bytes of each reply."""

    _received = b""

    def call_bytes(self, *args):
        self.send_raw(encode_command(*args))
        before, self._received = self.buf, b""
        reply = self.read_reply()
        data = before + self._received
        return reply, data[:len(data) - len(self.buf)]

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self._received += chunk
        self.buf += chunk


def _clients(protocol: int):
    clients = []
    for kind in ("ferrous", "redis"):
        client = _BytesClient(port=_get_server(kind).port)
        if protocol == 3:
            client.call("HELLO", "3")
        clients.append(client)
    return clients


def _normalize(reply, sub: str):
    """Redis lists sub-commands in hash-table order (random per process): sort them,
    keeping those both servers implement (each is also compared on its own)."""
    if sub == "INFO":
        entry = reply[0]
        return entry[:9] + [sorted((info for info in entry[9] if info[0].decode() in SHARED_NAMES),
                                   key=lambda info: info[0])]
    if isinstance(reply, RespMap):       # RESP3: {name: {field: value, ...}}
        ((name, docs),) = reply.items
        fields = [(k, _sorted_docs(v.items) if k == b"subcommands" else v) for k, v in docs.items]
        return name, fields
    name, flat = reply                   # RESP2: [name, [field, value, ...]]
    fields = [(k, _sorted_docs(zip(v[::2], v[1::2])) if k == b"subcommands" else v)
              for k, v in zip(flat[::2], flat[1::2])]
    return name, fields


def _sorted_docs(pairs) -> list:
    return sorted((name, docs) for name, docs in pairs if name.decode() in SHARED_NAMES)


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_command_info_and_docs_are_byte_exact(protocol):
    ferrous, redis = _clients(protocol)
    try:
        mismatches = []
        for cmd in IMPLEMENTED:
            for sub in ("INFO", "DOCS"):
                ours, our_bytes = ferrous.call_bytes("COMMAND", sub, cmd.name)
                theirs, their_bytes = redis.call_bytes("COMMAND", sub, cmd.name)
                if cmd.subcommands:
                    if _normalize(ours, sub) != _normalize(theirs, sub):
                        mismatches.append(f"COMMAND {sub} {cmd.name}:\n  ours   {ours!r}\n  redis  {theirs!r}")
                elif our_bytes != their_bytes:
                    mismatches.append(f"COMMAND {sub} {cmd.name}:\n  ours   {our_bytes!r}\n  redis  {their_bytes!r}")
        assert mismatches == []
    finally:
        ferrous.close()
        redis.close()

