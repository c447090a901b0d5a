"""Keep the GIL off on free-threaded builds once lupa is imported.

lupa 2.8's extension modules do not declare free-threading support, so importing
lupa.lua51 would switch the GIL back on for the whole process. Ferrous serialises
every use of a Lua runtime (one script at a time under the keyspace lock, and
lupa's own runtime lock), so it is safe to tell CPython to leave the GIL off:
the server entry point re-executes itself with PYTHON_GIL=0 when it was not set.
"""
from __future__ import annotations

import os
import sys
import sysconfig


def gil_enabled() -> bool:
    """Whether the running interpreter holds a GIL (always, before 3.13)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else check()


def free_threaded_build() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def reexec_with_gil_off() -> None:
    """On a free-threaded build started without an explicit GIL choice, exec
    ourselves again with PYTHON_GIL=0 (same pid, same arguments)."""
    if not free_threaded_build():
        return
    if "PYTHON_GIL" in os.environ or "gil" in getattr(sys, "_xoptions", {}):
        return
    env = dict(os.environ, PYTHON_GIL="0")
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
