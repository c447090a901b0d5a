"""Capture the parts of Redis 7.0's command metadata that our table does not declare.

Ferrous's command table (ferrous/commands/*.py decorators) declares name, arity,
flags, first/last/step and group. COMMAND INFO also carries request tips and key
specs, and COMMAND DOCS carries summaries and argument trees; rather than retyping
those by hand we record them once from a real redis-server 7.0 over RESP3 (which
keeps map/set/simple-string types distinct) into ferrous/commands/redis_meta.json.

Usage: python tools/capture_redis_meta.py [port]   (a redis-server 7.0 on 127.0.0.1)
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from resp_client import RawClient, RespMap, RespSet, Simple  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "ferrous", "commands", "redis_meta.json")


def to_json(value):
    """Tagged JSON: bulk -> str, simple -> {"+": s}, map -> {"%": [[k, v]]}, set -> {"~": [...]}."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, Simple):
        return {"+": value.text}
    if isinstance(value, RespSet):
        return {"~": [to_json(v) for v in value.items]}
    if isinstance(value, RespMap):
        return {"%": [[to_json(k), to_json(v)] for k, v in value.items]}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    client = RawClient(port=port)
    client.call("HELLO", "3")
    meta = {}
    infos = client.call("COMMAND", "INFO")

    def record(info, docs):
        name = info[0].decode()
        meta[name] = {"tips": to_json(info[7]), "key_specs": to_json(info[8]), "docs": docs.get(name)}
        for sub in info[9].items if isinstance(info[9], RespSet) else info[9]:
            record(sub, docs.get(name, {}).get("__subdocs__", {}))

    docs_reply = client.call("COMMAND", "DOCS")
    docs = {}

    def collect_docs(reply_map, into):
        for k, v in reply_map.items:
            entry = {}
            for dk, dv in v.items:
                if dk == b"subcommands":
                    sub = {}
                    collect_docs(dv, sub)
                    entry["__subdocs__"] = sub
                else:
                    entry[dk.decode()] = to_json(dv)
            into[k.decode()] = entry

    collect_docs(docs_reply, docs)
    for info in infos:
        record(info, docs)
    # Sub-command docs were attached under __subdocs__ only for lookup; drop them.
    for entry in meta.values():
        if entry["docs"] is not None:
            entry["docs"].pop("__subdocs__", None)
            entry["docs"] = {"%": [[k, v] for k, v in entry["docs"].items()]}
    with open(OUT, "w") as fh:
        json.dump(meta, fh, indent=0, sort_keys=True)
    print(f"wrote {len(meta)} commands to {OUT}")


if __name__ == "__main__":
    main()
