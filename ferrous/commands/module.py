"""MODULE (module.c) as a Redis server with no modules loaded answers it.

Ferrous cannot load Redis modules (they are C shared objects), so LOAD/LOADEX always
fail the way a failed dlopen does in Redis, and UNLOAD never finds the module.
"""
from __future__ import annotations

import logging

from ferrous import errors
from ferrous.commands.registry import command, container
from ferrous.commands.server import _is_local_client, help_reply
from ferrous.errors import CommandError

log = logging.getLogger("ferrous.module")

_MODULE_HELP = [
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
]

# LOAD, LOADEX and UNLOAD carry Redis's CMD_PROTECTED flag (hidden from COMMAND INFO).
_PROTECTED_FLAGS = "admin noscript no_async_loading"

container("module", arity=-2, group="server")


def _check_module_allowed(ctx) -> None:
    """enable-module-command: no (the default), yes, or local (loopback/unix clients)."""
    setting = ctx.server.config.enable_module_command
    if setting == "yes" or (setting == "local" and _is_local_client(ctx.conn)):
        return
    raise CommandError(errors.MODULE_NOT_ALLOWED)


@command("module|help", arity=2, flags="loading stale")
def module_help(ctx, argv):
    return help_reply("MODULE", _MODULE_HELP)


@command("module|list", arity=2, flags="admin noscript")
def module_list(ctx, argv):
    return []


@command("module|load", arity=-3, flags=_PROTECTED_FLAGS)
def module_load(ctx, argv):
    _check_module_allowed(ctx)
    _log_load_failure(argv[2])
    raise CommandError(errors.MODULE_LOAD_FAILED)


@command("module|loadex", arity=-3, flags=_PROTECTED_FLAGS)
def module_loadex(ctx, argv):
    # Argument syntax errors (parseLoadexArguments) only reach the log in Redis too.
    _check_module_allowed(ctx)
    _log_load_failure(argv[2])
    raise CommandError(errors.MODULE_LOAD_FAILED)


def _log_load_failure(path: bytes) -> None:
    # Redis logs dlopen's reason and replies with a generic error.
    log.warning("Module %s failed to load: Ferrous cannot load Redis modules",
                path.decode(errors="replace"))


@command("module|unload", arity=3, flags=_PROTECTED_FLAGS)
def module_unload(ctx, argv):
    _check_module_allowed(ctx)
    raise CommandError(errors.MODULE_UNLOAD_NO_SUCH)
