"""MODULE: Ferrous answers as a Redis 7.0 server with no modules loaded."""
from __future__ import annotations

import pytest

from resp_client import Error, RawClient, Simple
from servers import KINDS, ServerProcess

NOT_ALLOWED = (
    "MODULE command not allowed. If the enable-module-command option is set to \"local\", you "
    "can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server.")
LOAD_FAILED = "Error loading the extension. Please check the server logs."


def _error_text(reply) -> str:
    assert isinstance(reply, Error), reply
    return reply.text


def test_module_list_is_empty(r):
    assert r.execute_command("MODULE", "LIST") == []


def test_module_help(raw):
    reply = raw.call("MODULE", "HELP")
    assert reply[0] == Simple("MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert Simple("LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]") in reply
    assert reply[-2:] == [Simple("HELP"), Simple("    Prints this help.")]
    assert len(reply) == 11


def test_module_errors_by_default(raw):
    # enable-module-command is "no" by default: LOAD/LOADEX/UNLOAD are refused.
    for argv in (("LOAD", "/nope"), ("LOADEX", "/nope", "CONFIG", "a", "b"), ("UNLOAD", "foo")):
        assert NOT_ALLOWED in _error_text(raw.call("MODULE", *argv))
    assert "wrong number of arguments for 'module|unload'" in _error_text(raw.call("MODULE", "UNLOAD"))
    assert "wrong number of arguments for 'module|list'" in _error_text(raw.call("MODULE", "LIST", "x"))
    assert "wrong number of arguments for 'module|load'" in _error_text(raw.call("MODULE", "LOAD"))
    assert "unknown subcommand 'FOO'. Try MODULE HELP." in _error_text(raw.call("MODULE", "FOO"))
    assert "wrong number of arguments for 'module' command" in _error_text(raw.call("MODULE"))


def test_info_modules_is_empty(r):
    assert r.info("modules") == {}


def test_module_command_info(raw):
    [info] = raw.call("COMMAND", "INFO", "MODULE|LOAD")
    flags = info[2].items if hasattr(info[2], "items") else info[2]
    assert info[:2] == [b"module|load", -3]
    assert list(flags) == [Simple("admin"), Simple("noscript"), Simple("no_async_loading")]
    [info] = raw.call("COMMAND", "INFO", "MODULE")
    assert info[0] == b"module" and info[1] == -2


@pytest.fixture(scope="module", params=KINDS)
def module_server(request):
    proc = ServerProcess(request.param, args=["--enable-module-command", "yes"])
    yield proc
    proc.stop()


@pytest.mark.parametrize("argv", [
    ("LOAD", "/nope"), ("LOAD", "/nope", "a", "b"), ("LOADEX", "/nope"),
    ("LOADEX", "/nope", "CONFIG"), ("LOADEX", "/nope", "CONFIG", "a"),
    ("LOADEX", "/nope", "CONFIG", "a", "b", "ARGS", "x"), ("LOADEX", "/nope", "ARGS"),
    ("LOADEX", "/nope", "foo"),
])
def test_module_load_fails_when_enabled(module_server, argv):
    client = RawClient(port=module_server.port)
    assert client.call("MODULE", *argv) == Error("ERR " + LOAD_FAILED)
    client.close()


def test_module_unload_unknown_when_enabled(module_server):
    client = RawClient(port=module_server.port)
    assert client.call("MODULE", "UNLOAD", "foo") == Error(
        "ERR Error unloading module: no such module with that name")
    assert client.call("MODULE", "LIST") == []
    client.close()
