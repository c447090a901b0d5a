"""Redis 7 functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL and
FCALL/FCALL_RO, against Ferrous and real Redis 7.0 over RESP2 and RESP3."""
from __future__ import annotations

import pytest
from resp_client import Error, RespMap, RespSet, Simple

LIB = ("#!lua name=mylib\n"
       "redis.register_function('setter', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n"
       "redis.register_function{function_name='getter', callback=function(keys, args) "
       "return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}\n")


@pytest.fixture
def fraw(raw):
    raw.call("FUNCTION", "FLUSH")
    yield raw
    raw.call("FUNCTION", "FLUSH")


def test_load_and_call(fraw):
    assert fraw.call("FUNCTION", "LOAD", LIB) == b"mylib"
    assert fraw.call("FCALL", "setter", "1", "k", "v") == Simple("OK")
    assert fraw.call("FCALL", "getter", "1", "k") == b"v"
    assert fraw.call("FCALL_RO", "getter", "1", "k") == b"v"
    assert fraw.call("FCALL_RO", "setter", "1", "k", "v") == \
        Error("ERR Can not execute a script with write flag using *_ro command.")
    assert fraw.call("FCALL", "nosuch", "0") == Error("ERR Function not found")
    assert fraw.call("FCALL", "setter", "2", "k") == Error("ERR Number of keys can't be greater than number of args")
    assert fraw.call("FCALL", "setter", "x") == Error("ERR Bad number of keys provided")
    assert fraw.call("FCALL", "setter", "-1") == Error("ERR Number of keys can't be negative")


def test_load_errors(fraw):
    cases = [
        ("redis.register_function('f', function() return 1 end)", "ERR Missing library metadata"),
        ("#!lua\nreturn 1", "ERR Library name was not given"),
        ("#!js name=x\nreturn 1", "ERR Engine 'js' not found"),
        ("#!lua name=x foo=bar\nreturn 1", "ERR Invalid metadata value given: foo=bar"),
        ("#!lua name=x name=y\nreturn 1", "ERR Invalid metadata value, name argument was given multiple times"),
        ("#!lua name=x-y\nreturn 1", "ERR Library names can only contain letters, numbers, or underscores(_) "
                                     "and must be at least one character long"),
        ("#!lua name=x\nreturn 1", "ERR No functions registered"),
        ("#!lua name=x", "ERR Invalid library metadata"),
        ("#!lua name=x\nreturn +", "ERR Error compiling function: user_function:2: unexpected symbol near '+'"),
        ("#!lua name=x\nerror('boom')", "ERR Error registering functions: ERR user_function:2: Script attempted "
                                        "to access nonexistent global variable 'error'"),
        ("#!lua name=x\nredis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script "
                                             "attempted to access nonexistent global variable 'call'"),
        ("#!lua name=x\nredis.register_function('f')", "ERR Error registering functions: ERR calling "
         "redis.register_function with a single argument is only applicable to Lua table (representing named "
         "arguments)."),
        ("#!lua name=x\nredis.register_function('f', 1)",
         "ERR Error registering functions: ERR second argument to redis.register_function must be a function"),
        ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}",
         "ERR Error registering functions: ERR unknown flag given"),
        ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, foo=1}",
         "ERR Error registering functions: ERR unknown argument given to redis.register_function"),
        ("#!lua name=x\nredis.register_function('f', function() end) redis.register_function('f', function() end)",
         "ERR Error registering functions: ERR Function already exists in the library"),
        ("#!lua name=y\nfoo = 1", "ERR Error registering functions: ERR user_function:2: Attempt to modify a "
                                  "readonly table"),
    ]
    for code, error in cases:
        assert fraw.call("FUNCTION", "LOAD", code) == Error(error), code


def test_collisions_and_replace(fraw):
    fraw.call("FUNCTION", "LOAD", LIB)
    assert fraw.call("FUNCTION", "LOAD", LIB) == Error("ERR Library 'mylib' already exists")
    other = "#!lua name=other\nredis.register_function('setter', function() return 1 end)"
    assert fraw.call("FUNCTION", "LOAD", other) == Error("ERR Function setter already exists")
    replaced = "#!lua name=mylib\nredis.register_function('setter', function() return 'new' end)"
    assert fraw.call("FUNCTION", "LOAD", "REPLACE", replaced) == b"mylib"
    assert fraw.call("FCALL", "setter", "0") == b"new"
    assert fraw.call("FCALL", "getter", "0") == Error("ERR Function not found")


def test_runtime_errors_name_the_function(fraw):
    fraw.call("FUNCTION", "LOAD", "#!lua name=z\nredis.register_function('h', function() error('boom') end)\n"
                                  "redis.register_function('h2', function() return redis.call('nosuch') end)\n"
                                  "redis.register_function('h3', function() return zz end)\n"
                                  "redis.register_function('h4', function() "
                                  "return {redis.REDIS_VERSION, type(redis.register_function)} end)")
    assert fraw.call("FCALL", "h", "0") == Error("ERR user_function:2: boom script: h, on @user_function:2.")
    assert fraw.call("FCALL", "h2", "0") == \
        Error("ERR Unknown Redis command called from script script: h2, on @user_function:3.")
    assert fraw.call("FCALL", "h3", "0") == Error("ERR user_function:4: Script attempted to access nonexistent "
                                                  "global variable 'zz' script: h3, on @user_function:4.")
    assert fraw.call("FCALL", "h4", "0") == [b"7.0.15", b"nil"]


def test_list_delete_flush_stats(fraw, protocol):
    fraw.call("FUNCTION", "LOAD", LIB)
    listing = fraw.call("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*")
    assert len(listing) == 1
    entry = listing[0]
    fields = dict(entry.items) if protocol == 3 else dict(zip(entry[::2], entry[1::2]))
    assert fields[b"library_name"] == b"mylib"
    assert fields[b"engine"] == b"LUA"
    assert fields[b"library_code"] == LIB.encode()
    assert len(fields[b"functions"]) == 2
    assert fraw.call("FUNCTION", "LIST", "LIBRARYNAME", "nomatch*") == []
    assert fraw.call("FUNCTION", "LIST", "LIBRARYNAME") == Error("ERR library name argument was not given")
    assert fraw.call("FUNCTION", "LIST", "foo") == Error("ERR Unknown argument foo")
    stats = fraw.call("FUNCTION", "STATS")
    stats = dict(stats.items) if protocol == 3 else dict(zip(stats[::2], stats[1::2]))
    assert stats[b"running_script"] is None
    assert fraw.call("FUNCTION", "DELETE", "nosuch") == Error("ERR Library not found")
    assert fraw.call("FUNCTION", "DELETE", "mylib") == Simple("OK")
    assert fraw.call("FCALL", "setter", "1", "k", "v") == Error("ERR Function not found")
    fraw.call("FUNCTION", "LOAD", LIB)
    assert fraw.call("FUNCTION", "FLUSH", "foo") == Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    assert fraw.call("FUNCTION", "FLUSH", "SYNC") == Simple("OK")
    assert fraw.call("FUNCTION", "LIST") == []
    assert fraw.call("FUNCTION", "KILL") == Error("NOTBUSY No scripts in execution right now.")


def test_dump_and_restore(fraw):
    fraw.call("FUNCTION", "LOAD", LIB)
    payload = fraw.call("FUNCTION", "DUMP")
    assert fraw.call("FUNCTION", "RESTORE", payload) == Error("ERR Library mylib already exists")
    assert fraw.call("FUNCTION", "RESTORE", payload, "BAD") == \
        Error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    assert fraw.call("FUNCTION", "RESTORE", payload, "REPLACE") == Simple("OK")
    assert fraw.call("FUNCTION", "RESTORE", b"xxx") == Error("ERR DUMP payload version or checksum are wrong")
    assert fraw.call("FUNCTION", "RESTORE", payload, "APPEND", "extra") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.")
    assert fraw.call("FUNCTION", "LOAD", "foo", "#!lua name=q\nreturn 1") == Error("ERR Unknown option given: foo")
    assert fraw.call("FUNCTION", "DELETE", "mylib") == Simple("OK")
    assert fraw.call("FUNCTION", "RESTORE", payload) == Simple("OK")
    assert fraw.call("FCALL", "setter", "1", "k", "v") == Simple("OK")
    assert fraw.call("FUNCTION", "RESTORE", payload, "FLUSH") == Simple("OK")
    assert fraw.call("FCALL", "getter", "1", "k") == b"v"


def test_redis_payload_restores_everywhere(fraw):
    """A payload real Redis 7.0.15 produced (its code LZF-compressed) loads on both."""
    payload = (b"\xf5\xc3@a@\xab\x19#!lua name=rlib\n-- padding"
               b"\xe0/\x07\x1e\nredis.register_function('rf', "
               b"\xe0\x00\x0e\r) return 'from \x0c 5\x00 \xe0\x0c\n\x06' end)\n\n\x00y=\xd6\x87\x83!E\xd3")
    assert fraw.call("FUNCTION", "RESTORE", payload) == Simple("OK")
    assert fraw.call("FCALL", "rf", "0") == b"from redis from redis from redis"


def test_list_reply_shape(fraw, protocol):
    fraw.call("FUNCTION", "LOAD", "#!lua name=shape\nredis.register_function{function_name='g', "
                                  "callback=function() return 1 end, flags={'allow-oom', 'no-writes'}, "
                                  "description='reads'}\n")
    function = [b"name", b"g", b"description", b"reads", b"flags",
                [Simple("no-writes"), Simple("allow-oom")]]
    if protocol == 3:
        function = RespMap(((b"name", b"g"), (b"description", b"reads"),
                            (b"flags", RespSet((Simple("no-writes"), Simple("allow-oom"))))))
        expected = [RespMap(((b"library_name", b"shape"), (b"engine", b"LUA"), (b"functions", [function])))]
    else:
        expected = [[b"library_name", b"shape", b"engine", b"LUA", b"functions", [function]]]
    assert fraw.call("FUNCTION", "LIST") == expected
    stats = [b"running_script", None, b"engines", [b"LUA", [b"libraries_count", 1, b"functions_count", 1]]]
    if protocol == 3:
        stats = RespMap(((b"running_script", None), (b"engines", RespMap(
            ((b"LUA", RespMap(((b"libraries_count", 1), (b"functions_count", 1)))),)))))
    assert fraw.call("FUNCTION", "STATS") == stats


def test_load_timeout(fraw):
    assert fraw.call("FUNCTION", "LOAD", "#!lua name=t\nlocal a = 0 while true do a = a + 1 end") == \
        Error("ERR Error registering functions: ERR FUNCTION LOAD timeout")
    assert fraw.call("FUNCTION", "LIST") == []


def test_help_replies(raw):
    script_help = raw.call("SCRIPT", "HELP")
    assert len(script_help) == 17
    assert script_help[0] == Simple("SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    assert script_help[-2:] == [Simple("HELP"), Simple("    Prints this help.")]
    function_help = raw.call("FUNCTION", "HELP")
    assert len(function_help) == 40
    assert function_help[1] == Simple("LOAD [REPLACE] <FUNCTION CODE>")
    assert Simple("RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]") in function_help


def test_failed_restore_keeps_the_libraries(fraw):
    fraw.call("FUNCTION", "LOAD", LIB)
    payload = fraw.call("FUNCTION", "DUMP")
    fraw.call("FUNCTION", "LOAD", "REPLACE", "#!lua name=mylib\nredis.register_function('other', "
                                             "function() return 'kept' end)")
    fraw.call("FUNCTION", "LOAD", "#!lua name=clash\nredis.register_function('setter', function() end)")
    assert fraw.call("FUNCTION", "RESTORE", payload, "REPLACE") == Error("ERR Function setter already exists")
    assert fraw.call("FCALL", "other", "0") == b"kept"
    fraw.call("FUNCTION", "DELETE", "clash")
    assert fraw.call("FUNCTION", "RESTORE", _payload("lib1", "lib2"), "FLUSH") == \
        Error("ERR Function dup already exists")
    assert fraw.call("FCALL", "other", "0") == b"kept"


def _payload(*names) -> bytes:
    """A FUNCTION DUMP payload of libraries that all register 'dup' (RDB strings < 64 bytes)."""
    from ferrous.persistence.crc64 import crc64
    body = bytearray()
    for name in names:
        code = ("#!lua name=%s\nredis.register_function('dup', function() end)" % name).encode()
        body += b"\xf5" + bytes((len(code),)) + code
    body += b"\x0a\x00"
    return bytes(body + crc64(0, body).to_bytes(8, "little"))


def test_info_counts_scripts_and_functions_and_flushall_keeps_functions(r):
    r.script_flush()
    r.function_flush()
    r.eval("return 1", 0)
    r.function_load("#!lua name=inf\nredis.register_function('inf1', function() return 1 end)\n"
                    "redis.register_function('inf2', function() return 2 end)")
    memory = r.info("memory")
    assert memory["number_of_cached_scripts"] == 1
    assert memory["number_of_functions"] == 2
    assert memory["used_memory_lua"] > 0 and memory["used_memory_vm_functions"] > 0
    r.flushall()
    assert r.fcall("inf2", 0) == 2
    r.function_flush()


def test_function_names_are_case_insensitive_across_libraries(fraw):
    # functionDictType compares names with dictSdsKeyCaseCompare.
    fraw.call("FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('Hello', function() return 'hi' end)")
    assert fraw.call("FCALL", "hello", "0") == b"hi"
    assert fraw.call("FCALL", "HELLO", "0") == b"hi"
    assert fraw.call("FCALL_RO", "hELLo", "0") == Error(
        "ERR Can not execute a script with write flag using *_ro command.")
    assert fraw.call("FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('HELLO', function() return 1 end)") \
        == Error("ERR Function HELLO already exists")
    fraw.call("FUNCTION", "LOAD", "REPLACE",
              "#!lua name=lib1\nredis.register_function('other', function() return 2 end)")
    assert fraw.call("FCALL", "hello", "0") == Error("ERR Function not found")
    assert fraw.call("FCALL", "OTHER", "0") == 2


def test_returned_tables_are_read_without_metamethods(fraw):
    # luaReplyToRedisReply uses lua_rawget: _G's __index (which raises on a missing
    # global) and a table's own __index never run while the reply is built.
    fraw.call("FUNCTION", "LOAD", "#!lua name=meta\n"
              "redis.register_function('g', function() return _G end)\n"
              "redis.register_function('m', function() local a = {}; "
              "setmetatable(a, {__index=function() redis.call('set', 'x', '1') end}); return a end)")
    assert fraw.call("FCALL", "g", "0") == []
    assert fraw.call("FCALL", "m", "0") == []
    assert fraw.call("GET", "x") is None


def test_function_flush_argument_errors(fraw):
    assert fraw.call("FUNCTION", "FLUSH", "bad_arg") == Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    # functionFlushCommand checks the argument count first, naming the sub-command as sent.
    assert fraw.call("FUNCTION", "FLUSH", "sync", "extra") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.")


def test_library_metadata_is_split_like_sdssplitargs(fraw):
    body = "\nredis.register_function('q', function() return 1 end)"
    assert fraw.call("FUNCTION", "LOAD", '#!lua name="quoted"' + body) == b"quoted"
    assert fraw.call("FUNCTION", "LOAD", "#!lua NAME=upper" + body.replace("'q'", "'q2'")) == b"upper"
    assert fraw.call("FUNCTION", "LOAD", '#!lua name="open' + body) == Error("ERR Invalid library metadata")


def test_register_function_outside_load_is_refused(fraw):
    fraw.call("FUNCTION", "LOAD", "#!lua name=lib1\nlocal lib = redis\n"
              "lib.register_function('f2', function() lib.register_function('f1', function() return 1 end) end)\n"
              "lib.register_function('f3', function() lib.register_function() end)")
    for name in ("f2", "f3"):
        reply = fraw.call("FCALL", name, "0")
        assert type(reply) is Error
        assert reply.text.startswith("ERR redis.register_function can only be called on FUNCTION LOAD command")
