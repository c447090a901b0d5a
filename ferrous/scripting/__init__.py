"""Lua scripting (EVAL*, FCALL*, SCRIPT, FUNCTION) on lupa's Lua 5.1.

- engine.py     one Lua runtime: the Python side of the `redis` table (Bridge)
- bootstrap.lua the sandbox (read-only globals, error handler, kill hook) in Lua
- libs.py       cjson, cmsgpack, bit and struct, as Redis 7.0 bundles them
- runner.py     one script run: redis.call -> dispatch.call, RESP <-> Lua conversions
- state.py      the per-server script cache and function libraries
- busy.py       answering BUSY while a script runs past busy-reply-threshold
- gil.py        keeping the GIL off on free-threaded builds despite lupa
The commands themselves are in ferrous/commands/scripting.py.
"""
