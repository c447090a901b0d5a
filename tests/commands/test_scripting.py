"""Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, busy scripts, against
Ferrous and real Redis 7.0 over RESP2 and RESP3.

CASES holds scripts with the exact replies real Redis 7.0.15 gives (recorded with
tools/resp_client.RawClient), covering Lua <-> RESP conversions in both protocols,
redis.* API errors, the sandbox and the bundled libraries (cjson, cmsgpack, bit,
struct).
"""
from __future__ import annotations

import ast
import hashlib
import math
import os
import subprocess
import sys
import threading
import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings, strategies as st
from redis.lock import Lock
from resp_client import BigNumber, Error, RawClient, RespMap, RespSet, Simple, Verbatim, encode_command  # noqa: F401
from servers import ServerProcess, redis_available

from servers import KINDS

DEADLINE = 10.0
FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()

CASES = [
    ("return redis.call('nosuch')", Error(text='ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1.'), Error(text='ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1.')),
    ("return redis.pcall('nosuch')", Error(text='ERR Unknown Redis command called from script'), Error(text='ERR Unknown Redis command called from script')),
    ('return redis.setresp(4)', Error(text='ERR RESP version must be 2 or 3. script: 921c0a48021d97dfd5884aeea41875972c7804d9, on @user_script:1.'), Error(text='ERR RESP version must be 2 or 3. script: 921c0a48021d97dfd5884aeea41875972c7804d9, on @user_script:1.')),
    ("return bit.band('x')", Error(text="ERR user_script:1: bad argument #1 to 'band' (number expected, got string) script: d35c9a1d4f4825ae2c0656c3cb8c9f397ca6d9b1, on @user_script:1."), Error(text="ERR user_script:1: bad argument #1 to 'band' (number expected, got string) script: d35c9a1d4f4825ae2c0656c3cb8c9f397ca6d9b1, on @user_script:1.")),
    ('return bit.tohex(255, -4)', b'00FF', b'00FF'),
    ("return redis.sha1hex('')", b'da39a3ee5e6b4b0d3255bfef95601890afd80709', b'da39a3ee5e6b4b0d3255bfef95601890afd80709'),
    ("return redis.error_reply('My Error')", Error(text='My Error'), Error(text='My Error')),
    ('return cmsgpack.pack({1,2,3})', b'\x93\x01\x02\x03', b'\x93\x01\x02\x03'),
    ("return struct.pack('>I2', 258)", b'\x01\x02', b'\x01\x02'),
    ("return cjson.decode('[1 2]')", Error(text='ERR user_script:1: Expected comma or array end but found T_NUMBER at character 4 script: cae89247ef27d42d411c61ae44ff3af6ab258d99, on @user_script:1.'), Error(text='ERR user_script:1: Expected comma or array end but found T_NUMBER at character 4 script: cae89247ef27d42d411c61ae44ff3af6ab258d99, on @user_script:1.')),
    ("local ok, e = pcall(redis.call, 'nosuch') return e", b'ERR Unknown Redis command called from script', b'ERR Unknown Redis command called from script'),
    ("return redis.call('lpush','s',1)", Error(text='WRONGTYPE Operation against a key holding the wrong kind of value script: 89234c72f0f53d49ac59de2bbfc2a600d047f4a6, on @user_script:1.'), Error(text='WRONGTYPE Operation against a key holding the wrong kind of value script: 89234c72f0f53d49ac59de2bbfc2a600d047f4a6, on @user_script:1.')),
    ("return redis.pcall('lpush','s',1)", Error(text='WRONGTYPE Operation against a key holding the wrong kind of value'), Error(text='WRONGTYPE Operation against a key holding the wrong kind of value')),
    ('return {1,2,nil,4}', [1, 2], [1, 2]),
    ("return {1.9,-2.9,true,false,'x'}", [1, -2, 1, None, b'x'], [1, -2, 1, None, b'x']),
    ("return redis.call('ping')", Simple(text='PONG'), Simple(text='PONG')),
    ("return redis.call('subscribe','x')", Error(text='ERR This Redis command is not allowed from script script: 2f334966be3d5602175118691c9d198b0a695e53, on @user_script:1.'), Error(text='ERR This Redis command is not allowed from script script: 2f334966be3d5602175118691c9d198b0a695e53, on @user_script:1.')),
    ("return redis.call('eval','return 1', 0)", Error(text='ERR This Redis command is not allowed from script script: 498b5081e21f7e3039493da0ab415ae08f116868, on @user_script:1.'), Error(text='ERR This Redis command is not allowed from script script: 498b5081e21f7e3039493da0ab415ae08f116868, on @user_script:1.')),
    ('local t = {} return t.x.y', Error(text="ERR user_script:1: attempt to index field 'x' (a nil value) script: b1687cd1d4e82de9f4ad5ffbfa977992210c8594, on @user_script:1."), Error(text="ERR user_script:1: attempt to index field 'x' (a nil value) script: b1687cd1d4e82de9f4ad5ffbfa977992210c8594, on @user_script:1.")),
    ("return {err='x\\r\\ny'}", Error(text='x  y'), Error(text='x  y')),
    ("return {ok='x\\r\\ny'}", Simple(text='x  y'), Simple(text='x  y')),
    ('return cjson.encode({1,2,3,nil,5})', b'[1,2,3,null,5]', b'[1,2,3,null,5]'),
    ('return cjson.encode({a=1.5,b=\'x/y"\\\\\'})', b'{"a":1.5,"b":"x\\/y\\"\\\\"}', b'{"a":1.5,"b":"x\\/y\\"\\\\"}'),
    ('return cjson.encode(1/0)', Error(text='ERR user_script:1: Cannot serialise number: must not be NaN or Inf script: 08ffdaa5e7f117332da21c3b5222c2ede9492c60, on @user_script:1.'), Error(text='ERR user_script:1: Cannot serialise number: must not be NaN or Inf script: 08ffdaa5e7f117332da21c3b5222c2ede9492c60, on @user_script:1.')),
    ('return cjson.encode({[1]=1,[20]=2})', Error(text='ERR user_script:1: Cannot serialise table: excessively sparse array script: 17303987ac6a57263cac31c74212431dce49e99c, on @user_script:1.'), Error(text='ERR user_script:1: Cannot serialise table: excessively sparse array script: 17303987ac6a57263cac31c74212431dce49e99c, on @user_script:1.')),
    ("return cjson.decode('{')", Error(text='ERR user_script:1: Expected object key string but found T_END at character 2 script: 6c60bbb22c4b71b0415e4e539d6dc66cc27df21d, on @user_script:1.'), Error(text='ERR user_script:1: Expected object key string but found T_END at character 2 script: 6c60bbb22c4b71b0415e4e539d6dc66cc27df21d, on @user_script:1.')),
    ("return cjson.decode('x')", Error(text='ERR user_script:1: Expected value but found invalid token at character 1 script: 5f58dd5cefb3eb0313af3534f36be4b83e79ae80, on @user_script:1.'), Error(text='ERR user_script:1: Expected value but found invalid token at character 1 script: 5f58dd5cefb3eb0313af3534f36be4b83e79ae80, on @user_script:1.')),
    ("return cjson.decode('[1,2,null]')[3] == cjson.null", 1, 1),
    ("return struct.unpack('z')", Error(text="ERR user_script:1: bad argument #2 to 'unpack' (string expected, got no value) script: 1b6a35b548d3d9eaa7fab853d6a12c2ad48821b2, on @user_script:1."), Error(text="ERR user_script:1: bad argument #2 to 'unpack' (string expected, got no value) script: 1b6a35b548d3d9eaa7fab853d6a12c2ad48821b2, on @user_script:1.")),
    ('return cmsgpack.pack()', Error(text="ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.) script: 6bc235afa55de88253e203cc5fe5844792e25209, on @user_script:1."), Error(text="ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.) script: 6bc235afa55de88253e203cc5fe5844792e25209, on @user_script:1.")),
    ("return cmsgpack.unpack('\\147\\1')", Error(text='ERR user_script:1: Missing bytes in input. script: ee8eb1e54a0c380beeff7d6d892383fdfd307c7a, on @user_script:1.'), Error(text='ERR user_script:1: Missing bytes in input. script: ee8eb1e54a0c380beeff7d6d892383fdfd307c7a, on @user_script:1.')),
    ("return struct.unpack('i', 'ab')", Error(text="ERR user_script:1: bad argument #2 to 'unpack' (data string too short) script: e930e4fb36d046f0e264ac634fbe097e3f8b897d, on @user_script:1."), Error(text="ERR user_script:1: bad argument #2 to 'unpack' (data string too short) script: e930e4fb36d046f0e264ac634fbe097e3f8b897d, on @user_script:1.")),
    ("return {struct.unpack('>I2i', struct.pack('>I2i', 258, -7))}", [258, -7, 7], [258, -7, 7]),
    ("redis.setresp(3) return redis.call('hgetall', 'h')", [b'a', b'1'], RespMap(items=((b'a', b'1'),))),
    ("redis.setresp(3) return redis.call('smembers', 'st')", [b'm'], RespSet(items=(b'm',))),
    ('redis.setresp(3) return {double=1.5}', b'1.5', 1.5),
    ('return {double=1.5}', b'1.5', 1.5),
    ('redis.setresp(3) return true', 1, True),
    ('return true', 1, 1),
    ('return false', None, None),
    ('redis.setresp(3) return false', 0, False),
    ('return {map={a=1}}', [b'a', 1], RespMap(items=((b'a', 1),))),
    ('return {set={a=true}}', [b'a'], RespSet(items=(b'a',))),
    ("return {big_number='123'}", b'123', BigNumber(text='123')),
    ("return {verbatim_string={format='txt', string='hi'}}", b'hi', Verbatim(fmt='txt', text=b'hi')),
    ("redis.setresp(3) return redis.call('zscore','z','a')", b'1.5', 1.5),
    ("return redis.call('zscore','z','a')", b'1.5', b'1.5'),
    ("return redis.call('get','nokey')", None, None),
    ("redis.setresp(3) return redis.call('get','nokey')", None, None),
    ("return redis.call('select', 5)", Simple(text='OK'), Simple(text='OK')),
    ("redis.call('select', 5) redis.call('set','dbkey','v') return redis.call('get','dbkey')", b'v', b'v'),
    ('return redis.log(1)', Error(text='ERR redis.log() requires two arguments or more. script: f5438245431406aa19fc387d93c6d03a0d5bcb0f, on @user_script:1.'), Error(text='ERR redis.log() requires two arguments or more. script: f5438245431406aa19fc387d93c6d03a0d5bcb0f, on @user_script:1.')),
    ("return redis.log(redis.LOG_WARNING, 'hi', 1, {})", None, None),
    ('return redis.status_reply()', Error(text='ERR wrong number or type of arguments'), Error(text='ERR wrong number or type of arguments')),
    ('return tostring(1e15)', b'1e+15', b'1e+15'),
    ("return redis.call('incrbyfloat','f', 0.1)", b'0.10000000000000001', b'0.10000000000000001'),
    ("return redis.call('set','n', 3.5)", Simple(text='OK'), Simple(text='OK')),
    ("return redis.call('get','n')", None, None),
    ("return redis.call('blpop','nolist', 0)", Error(text='ERR This Redis command is not allowed from script script: 1a3439041d20f7b3b7f1f8dec7f31f581bb93ead, on @user_script:1.'), Error(text='ERR This Redis command is not allowed from script script: 1a3439041d20f7b3b7f1f8dec7f31f581bb93ead, on @user_script:1.')),
    ("return redis.call('brpoplpush','nolist','x', 0)", Error(text='ERR This Redis command is not allowed from script script: ac7337d8e757f754956a9dbad2e5961af6a87d81, on @user_script:1.'), Error(text='ERR This Redis command is not allowed from script script: ac7337d8e757f754956a9dbad2e5961af6a87d81, on @user_script:1.')),
    ("return redis.call('xread','streams','nos','0')", None, None),
    ("return {1, {2, {3, {err='deep'}}}}", [1, [2, [3, Error(text='deep')]]], [1, [2, [3, Error(text='deep')]]]),
    ("return redis.pcall('incr','s')", 2, 2),
    ('return 9007199254740993', 9007199254740992, 9007199254740992),
    ('return -0.5', 0, 0),
    ('return 1e300', -9223372036854775808, -9223372036854775808),
    ('return 0/0', -9223372036854775808, -9223372036854775808),
    ('return bit.tobit(2^31)', -2147483648, -2147483648),
    ('return {bit.lshift(1,33), bit.arshift(-256, 4), bit.rshift(-1, 28), bit.bnot(0), bit.bxor(5,3,1)}', [2, -16, 15, -1, 7], [2, -16, 15, -1, 7]),
    ("return cjson.encode({['1']=1, x={}, y=cjson.null})", b'{"1":1,"x":{},"y":null}', b'{"1":1,"x":{},"y":null}'),
    ("return cjson.encode('\\1\\127\\200')", b'"\\u0001\\u007f\xc8"', b'"\\u0001\\u007f\xc8"'),
    ('return cjson.encode(cjson.decode(\'{"a":[1,2.5,"\\\\u00e9",true,false,null]}\'))', b'{"a":[1,2.5,"\xc3\xa9",true,false,null]}', b'{"a":[1,2.5,"\xc3\xa9",true,false,null]}'),
    ("return cmsgpack.pack(1.5, -1, 300, 'abc', {a=1}, true, nil, 2^40, -2^40, 0.1)", b'\xca?\xc0\x00\x00\xff\xcd\x01,\xa3abc\x81\xa1a\x01\xc3\xc0\xcf\x00\x00\x01\x00\x00\x00\x00\x00\xd3\xff\xff\xff\x00\x00\x00\x00\x00\xcb?\xb9\x99\x99\x99\x99\x99\x9a', b'\xca?\xc0\x00\x00\xff\xcd\x01,\xa3abc\x81\xa1a\x01\xc3\xc0\xcf\x00\x00\x01\x00\x00\x00\x00\x00\xd3\xff\xff\xff\x00\x00\x00\x00\x00\xcb?\xb9\x99\x99\x99\x99\x99\x9a'),
    ("return {cmsgpack.unpack(cmsgpack.pack({1,2,{3}}, 'x', -5))}", [[1, 2, [3]], b'x', -5], [[1, 2, [3]], b'x', -5]),
    ("return struct.pack('<hHlLbBs', -2, 65535, -3, 4, -1, 255, 'ab')", b'\xfe\xff\xff\xff\xfd\xff\xff\xff\xff\xff\xff\xff\x04\x00\x00\x00\x00\x00\x00\x00\xff\xffab\x00', b'\xfe\xff\xff\xff\xfd\xff\xff\xff\xff\xff\xff\xff\x04\x00\x00\x00\x00\x00\x00\x00\xff\xffab\x00'),
    ("return struct.size('!4bhi')", 8, 8),
    ('return redis.REPL_ALL + redis.REPL_SLAVE + redis.LOG_NOTICE', 7, 7),
    ('redis.set_repl(redis.REPL_NONE) return 1', 1, 1),
    ('return redis.set_repl(9)', Error(text='ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE. script: f43d522179aeb2c4dadb59b026d11ed249ca02e0, on @user_script:1.'), Error(text='ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE. script: f43d522179aeb2c4dadb59b026d11ed249ca02e0, on @user_script:1.')),
    ('return redis.replicate_commands()', 1, 1),
    ('return redis.breakpoint()', None, None),
    ("return loadstring('return 1')()", 1, 1),
    ('return pcall(error)', None, None),
    ("return {pcall(error, 'x')}", [None, b'x'], [None, b'x']),
    ("return {pcall(error, {err='E1 y'})}", [None, b'E1 y'], [None, b'E1 y']),
    ("return redis.acl_check_cmd('get', 'x')", 1, 1),
    ("return redis.acl_check_cmd('nosuch')", Error(text='ERR Invalid command passed to redis.acl_check_cmd() script: d2491587bab5149c93be0dce4426f7a06ba9e1a1, on @user_script:1.'), Error(text='ERR Invalid command passed to redis.acl_check_cmd() script: d2491587bab5149c93be0dce4426f7a06ba9e1a1, on @user_script:1.')),
    ('return coroutine.wrap(function() return 7 end)()', 7, 7),
    ("return string.format('%5.2f', 3.14159)", b' 3.14', b' 3.14'),
    ("return select('#', redis.call('ping'))", 1, 1),
    ("return redis.call('ping')['ok']", b'PONG', b'PONG'),
    ("return redis.pcall('set')['err']", b'ERR Wrong number of args calling Redis command from script', b'ERR Wrong number of args calling Redis command from script'),
    ("return redis.call('hset','h2','a')", Error(text='ERR Wrong number of args calling Redis command from script script: 00f39861ab95e09b7cab8127de5d18527f51d331, on @user_script:1.'), Error(text='ERR Wrong number of args calling Redis command from script script: 00f39861ab95e09b7cab8127de5d18527f51d331, on @user_script:1.')),
    ('return #KEYS + #ARGV', 0, 0),
]


def _prepare(raw):
    raw.call("FLUSHALL")
    raw.call("SET", "s", "1")
    raw.call("HSET", "h", "a", "1")
    raw.call("SADD", "st", "m")
    raw.call("ZADD", "z", "1.5", "a")


def test_script_replies_match_redis(raw, protocol):
    """Every CASES script gives the reply real Redis gave (one test: the list is long)."""
    mismatches = []
    for script, resp2, resp3 in CASES:
        _prepare(raw)
        expected = resp2 if protocol == 2 else resp3
        reply = raw.call("EVAL", script, "0")
        if reply != expected:
            mismatches.append((script, reply, expected))
    assert mismatches == []


# ---------------------------------------------------------------------------------
# EVAL / EVALSHA / SCRIPT
# ---------------------------------------------------------------------------------
def test_keys_and_argv_and_numkeys_errors(raw):
    assert raw.call("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "2", "k1", "k2", "a") == \
        [b"k1", b"k2", b"a", 1]
    assert raw.call("EVAL", "return 1", "-1") == Error("ERR Number of keys can't be negative")
    assert raw.call("EVAL", "return 1", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("EVAL", "return 1", "2", "a") == \
        Error("ERR Number of keys can't be greater than number of args")
    assert raw.call("EVAL", "return 1") == Error("ERR wrong number of arguments for 'eval' command")


def test_script_cache_is_global_and_evalsha_accepts_any_case(raw, server, protocol):
    raw.call("SCRIPT", "FLUSH")
    sha = raw.call("SCRIPT", "LOAD", "return 'cached'")
    assert sha == hashlib.sha1(b"return 'cached'").hexdigest().encode()
    other = RawClient(port=server.port)
    try:
        assert other.call("EVALSHA", sha, "0") == b"cached"
        assert other.call("EVALSHA", sha.upper(), "0") == b"cached"
        assert other.call("SCRIPT", "EXISTS", sha, sha.upper(), "f" * 40) == [1, 1, 0]
    finally:
        other.close()
    assert raw.call("SCRIPT", "FLUSH") == Simple("OK")
    assert raw.call("EVALSHA", sha, "0") == Error("NOSCRIPT No matching script. Please use EVAL.")
    assert raw.call("EVALSHA", "abc", "0") == Error("NOSCRIPT No matching script. Please use EVAL.")
    assert raw.call("SCRIPT", "FLUSH", "ASYNC") == Simple("OK")
    assert raw.call("SCRIPT", "FLUSH", "foo") == Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    assert raw.call("SCRIPT", "EXISTS") == Error("ERR wrong number of arguments for 'script|exists' command")
    assert raw.call("SCRIPT", "FOO") == Error("ERR unknown subcommand 'FOO'. Try SCRIPT HELP.")
    assert raw.call("SCRIPT", "KILL") == Error("NOTBUSY No scripts in execution right now.")


def test_eval_caches_the_script_it_runs(raw):
    raw.call("SCRIPT", "FLUSH")
    sha = hashlib.sha1(b"return 'x'").hexdigest()
    assert raw.call("SCRIPT", "EXISTS", sha) == [0]
    assert raw.call("EVAL", "return 'x'", "0") == b"x"
    assert raw.call("SCRIPT", "EXISTS", sha) == [1]
    assert raw.call("EVALSHA", sha, "0") == b"x"


def test_compile_errors(raw):
    assert raw.call("EVAL", "return +", "0") == \
        Error("ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'")
    assert raw.call("SCRIPT", "LOAD", "return +") == \
        Error("ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'")


def test_register_script_reloads_after_flush(r):
    script = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert script(keys=["counter"], args=[5]) == 5
    r.script_flush()
    assert script(keys=["counter"], args=[2]) == 7     # NOSCRIPT -> SCRIPT LOAD -> EVALSHA


def test_eval_inside_multi(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "1")
    pipe.eval("return redis.call('incr', KEYS[1])", 1, "a")
    pipe.eval("return redis.call('get', KEYS[1])", 1, "a")
    assert pipe.execute() == [True, 2, b"2"]


def test_scripts_may_touch_undeclared_keys(r):
    assert r.eval("redis.call('set', 'undeclared', 'v') return redis.call('get', 'undeclared')", 0) == b"v"
    assert r.get("undeclared") == b"v"


def test_select_inside_a_script_does_not_change_the_callers_db(r):
    r.set("k", "db0")
    assert r.eval("redis.call('select', 1) redis.call('set', 'k', 'db1') return redis.call('get', 'k')", 0) == b"db1"
    assert r.get("k") == b"db0"
    r.execute_command("SELECT", 1)
    assert r.get("k") == b"db1"
    r.execute_command("SELECT", 0)


def test_shebang_flags(raw):
    assert raw.call("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'x')", "0") is None
    reply = raw.call("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)", "0")
    assert reply.text.startswith("ERR Write commands are not allowed from read-only scripts. script: ")
    assert reply.text.endswith(", on @user_script:2.")
    assert raw.call("EVAL", "#!lua\nreturn redis.call('set', 'x', 1)", "0") == Simple("OK")
    assert raw.call("EVAL", "#!lua flags=allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
                    "0") == 1
    assert raw.call("EVAL", "#!lua\nerror('line two')", "0").text.startswith("ERR user_script:2: line two")
    assert raw.call("EVAL", "#!js\nreturn 1", "0") == Error("ERR Unexpected engine in script shebang: #!js")
    assert raw.call("EVAL", "#!lua foo=bar\nreturn 1", "0") == Error("ERR Unknown lua shebang option: foo=bar")
    assert raw.call("EVAL", "#!lua flags=bad\nreturn 1", "0") == Error("ERR Unexpected flag in script shebang: bad")
    assert raw.call("EVAL", "#!lua", "0") == Error("ERR Invalid script shebang")


def test_read_only_variants(raw):
    raw.call("SET", "k", "v")
    assert raw.call("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k") == b"v"
    reply = raw.call("EVAL_RO", "return redis.call('set', KEYS[1], 'x')", "1", "k")
    assert reply.text.startswith("ERR Write commands are not allowed from read-only scripts. script: ")
    assert raw.call("EVAL_RO", "#!lua\nreturn 1", "0") == \
        Error("ERR Can not execute a script with write flag using *_ro command.")
    assert raw.call("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0") == 1
    sha = raw.call("SCRIPT", "LOAD", "return redis.call('get', KEYS[1])")
    assert raw.call("EVALSHA_RO", sha, "1", "k") == b"v"
    assert raw.call("GET", "k") == b"v"


def test_globals_are_protected(raw):
    reply = raw.call("EVAL", "x = 5", "0")
    assert reply == Error("ERR user_script:1: Attempt to modify a readonly table script: "
                          "818a330663e3c3e78469660421595218e5ab5c48, on @user_script:1.")
    for name in ("os", "io", "debug", "require", "loadfile", "dofile", "package", "print"):
        reply = raw.call("EVAL", "return %s" % name, "0")
        assert reply.text.startswith(
            "ERR user_script:1: Script attempted to access nonexistent global variable '%s' script: " % name)
    assert raw.call("EVAL", "redis.call = nil", "0").text.startswith(
        "ERR user_script:1: Attempt to modify a readonly table")
    assert raw.call("EVAL", "string.foo = 1", "0").text.startswith(
        "ERR user_script:1: Attempt to modify a readonly table")
    assert raw.call("EVAL", "local t = {} t.x = 1 return t.x", "0") == 1


_GLOBAL_TYPES = {
    "xpcall": b"function", "tostring": b"function", "setmetatable": b"function", "next": b"function",
    "assert": b"function", "tonumber": b"function", "rawequal": b"function", "collectgarbage": b"function",
    "getmetatable": b"function", "rawset": b"function", "pcall": b"function", "coroutine": b"table",
    "type": b"function", "_G": b"table", "select": b"function", "unpack": b"function", "gcinfo": b"function",
    "pairs": b"function", "rawget": b"function", "loadstring": b"function", "ipairs": b"function",
    "_VERSION": b"string", "load": b"function", "error": b"function", "string": b"table", "math": b"table",
    "table": b"table", "cjson": b"table", "bit": b"table", "struct": b"table", "cmsgpack": b"table",
    "redis": b"table", "__redis__err__handler": b"function", "KEYS": b"table", "ARGV": b"table",
}
_MISSING_GLOBALS = ["getfenv", "setfenv", "newproxy", "module", "require", "print", "dofile", "loadfile",
                    "os", "io", "debug", "package"]


def test_globals_available_to_scripts(raw):
    for name, kind in _GLOBAL_TYPES.items():
        assert raw.call("EVAL", "return type(%s)" % name, "0") == kind, name
    for name in _MISSING_GLOBALS:
        reply = raw.call("EVAL", "return type(%s)" % name, "0")
        assert reply.text.startswith("ERR user_script:1: Script attempted to access nonexistent global "
                                     "variable '%s'" % name), name


def test_sandbox_cannot_leak_into_later_scripts(raw):
    reply = raw.call("EVAL", "rawset(_G, 'redis', 1)", "0")
    assert reply.text.startswith("ERR Attempt to modify a readonly table script: ")
    assert raw.call("EVAL", "getmetatable('').__index = nil", "0").text.startswith(
        "ERR user_script:1: Attempt to modify a readonly table")
    assert raw.call("EVAL", "return {tostring(getmetatable('').__index == string), ('x'):rep(3)}", "0") == \
        [b"true", b"xxx"]
    assert raw.call("EVAL", "local t = {} rawset(t, 'a', 1) return t.a", "0") == 1


def test_api_functions_are_functions(raw):
    assert raw.call("EVAL", "return {type(redis.call), type(redis.pcall), type(redis.sha1hex), "
                            "type(cjson.encode), type(bit.band), type(struct.pack), type(cmsgpack.pack)}",
                    "0") == [b"function"] * 7


def test_script_debug(raw):
    assert raw.call("SCRIPT", "DEBUG", "NO") == Simple("OK")
    assert raw.call("SCRIPT", "DEBUG", "x") == Error("ERR Use SCRIPT DEBUG YES/SYNC/NO")


def test_blocking_commands_and_pubsub_inside_scripts(raw):
    reply = raw.call("EVAL", "return redis.call('xread', 'block', '0', 'streams', 'nos', '$')", "0")
    assert reply.text.startswith("ERR xread command is not allowed with BLOCK option from scripts script: ")
    assert raw.call("EVAL", "return redis.call('lpop', 'nolist')", "0") is None
    assert raw.call("EVAL", "return redis.call('publish', 'ch', 'm')", "0") == 0
    assert raw.call("EVAL", "return redis.call('blpop', 'nolist', 0)", "0").text.startswith(
        "ERR This Redis command is not allowed from script script: ")


def test_redis_py_lock_across_clients(r, server, protocol):
    other = redis.Redis(port=server.port, protocol=protocol)
    try:
        lock_a = Lock(r, "resource", timeout=10)
        lock_b = Lock(other, "resource", timeout=10, blocking=False)
        assert lock_a.acquire(blocking=False)
        assert not lock_b.acquire()
        assert lock_a.extend(5)
        assert 10000 < r.pttl("resource") <= 15000
        assert lock_a.reacquire()
        assert r.pttl("resource") > 9000
        stale_token = lock_a.local.token
        lock_a.release()
        assert lock_b.acquire()
        lock_a.local.token = stale_token        # a holder whose lock was taken over
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            lock_a.extend(1)
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            lock_a.release()
        lock_b.release()
        assert r.exists("resource") == 0
    finally:
        other.close()


def test_many_scripts_from_many_clients_are_atomic(r, server):
    r.set("n", 0)
    script = "local v = tonumber(redis.call('get', KEYS[1])) redis.call('set', KEYS[1], v + 1) return v + 1"
    errors = []

    def worker():
        client = redis.Redis(port=server.port)
        try:
            for _ in range(50):
                client.eval(script, 1, "n")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert int(r.get("n")) == 400


def test_error_stats_count_each_script_error_once(r):
    r.config_resetstat()
    r.set("s", "abc")
    for script in ("return redis.call('incr', 's')", "return redis.pcall('incr', 's')", "error('x')",
                   "return {err='MYERR boom'}", "return redis.call('nosuch')", "return redis.pcall('subscribe', 'x')"):
        with pytest.raises(redis.exceptions.ResponseError):
            r.eval(script, 0)
    with pytest.raises(redis.exceptions.ResponseError):
        r.eval_ro("return redis.pcall('set', 'x', 1)", 0)
    errorstats = r.info("errorstats")
    assert errorstats == {"errorstat_ERR": {"count": 6}, "errorstat_MYERR": {"count": 1}}
    stats = r.info("commandstats")
    assert (stats["cmdstat_eval"]["calls"], stats["cmdstat_eval"]["failed_calls"]) == (6, 6)
    assert (stats["cmdstat_incr"]["calls"], stats["cmdstat_incr"]["failed_calls"]) == (2, 2)
    assert stats["cmdstat_subscribe"]["rejected_calls"] == 1
    assert (stats["cmdstat_set"]["calls"], stats["cmdstat_set"]["rejected_calls"]) == (1, 1)


def test_scripts_over_maxmemory(r):
    """scriptVerifyOOM: the first denyoom write of a script fails; shebang scripts
    need allow-oom (or no-writes) to start at all."""
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", 1)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError) as exc:     # -OOM ...
            r.eval("return redis.call('set', 'x', '1')", 0)
        assert str(exc.value).startswith("command not allowed when used memory > 'maxmemory'. script: ")
        assert r.eval("return redis.call('get', 'x')", 0) is None
        assert r.eval("redis.call('del', 'y') return redis.call('set', 'x', '1')", 0) == b"OK"
        with pytest.raises(redis.exceptions.OutOfMemoryError) as exc:
            r.eval("#!lua\nreturn redis.call('get', 'x')", 0)
        assert str(exc.value) == "command not allowed when used memory > 'maxmemory'."
        assert r.eval("#!lua flags=allow-oom\nreturn redis.call('set', 'x', '2')", 0) == b"OK"
        assert r.eval("#!lua flags=no-writes\nreturn redis.call('get', 'x')", 0) == b"2"
    finally:
        r.config_set("maxmemory", 0)


# ---------------------------------------------------------------------------------
# Busy scripts: busy-reply-threshold, SCRIPT KILL, SHUTDOWN NOSAVE
# ---------------------------------------------------------------------------------
LOOP = "local i = 0 while true do i = i + 1 end"
BUSY = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."


def _start_loop(port, script, *args):
    """Run a never-ending script on a client of its own; returns (thread, result box)."""
    box = {}

    def run():
        client = RawClient(port=port, timeout=60)
        try:
            box["reply"] = client.call("EVAL", script, *args)
        except Exception as exc:
            box["reply"] = exc
        finally:
            client.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _wait_busy(client, expected):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        reply = client.call("PING")
        if reply == expected:
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError("never busy")


@pytest.fixture(params=KINDS)
def busy_server(request):
    """A server of its own with busy-reply-threshold 100 ms (the tests end it)."""
    proc = ServerProcess(request.param, ["--busy-reply-threshold", "100"])
    yield proc
    proc.stop()


def _kill_busy_eval(port):
    thread, box = _start_loop(port, LOOP, "0")
    client = RawClient(port=port, timeout=10)
    start = time.monotonic()
    _wait_busy(client, Error(BUSY))
    assert time.monotonic() - start < 5
    assert client.call("GET", "x") == Error(BUSY)
    assert client.call("FUNCTION", "KILL") == Error(BUSY)
    assert client.call("SCRIPT", "KILL") == Simple("OK")
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert box["reply"].text.startswith("ERR Script killed by user with SCRIPT KILL... script: ")
    assert client.call("PING") == Simple("PONG")
    assert client.call("SCRIPT", "KILL") == Error("NOTBUSY No scripts in execution right now.")
    client.close()


def _kill_busy_function(port):
    client = RawClient(port=port, timeout=10)
    client.call("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() "
                                    "local i = 0 while true do i = i + 1 end end)")
    box = {}

    def run():
        caller = RawClient(port=port, timeout=60)
        box["reply"] = caller.call("FCALL", "spin", "0")
        caller.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    busy = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    _wait_busy(client, Error(busy))
    stats = client.call("FUNCTION", "STATS")
    running = dict(zip(stats[1][::2], stats[1][1::2]))
    assert running[b"name"] == b"spin" and running[b"command"] == [b"FCALL", b"spin", b"0"]
    assert running[b"duration_ms"] >= 100
    assert client.call("SCRIPT", "KILL") == Error(busy)
    assert client.call("FUNCTION", "KILL") == Simple("OK")
    thread.join(DEADLINE)
    assert box["reply"].text.startswith("ERR Script killed by user with SCRIPT KILL... script: spin, on ")
    assert client.call("PING") == Simple("PONG")
    client.close()


def _unkillable_then_shutdown_nosave(proc):
    _start_loop(proc.port, "redis.call('set', 'w', 1) " + LOOP, "0")
    client = RawClient(port=proc.port, timeout=10)
    _wait_busy(client, Error(BUSY))
    reply = client.call("SCRIPT", "KILL")
    assert reply.text.startswith("UNKILLABLE Sorry the script already executed write commands")
    assert client.call("SHUTDOWN") == Error(BUSY)
    client.send_raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
    assert proc.proc.wait(DEADLINE) is not None
    client.close()


def test_busy_scripts_kill_and_shutdown_nosave(busy_server):
    """Past busy-reply-threshold other clients get BUSY at once (the I/O thread
    answers while the worker runs the script); SCRIPT KILL / FUNCTION KILL stop a
    script that has not written; one that wrote is UNKILLABLE and only SHUTDOWN
    NOSAVE ends it."""
    _kill_busy_eval(busy_server.port)
    _kill_busy_function(busy_server.port)
    _unkillable_then_shutdown_nosave(busy_server)


@pytest.mark.ferrous_only
def test_gil_stays_off_after_eval(ferrous):
    client = redis.Redis(port=ferrous.port)
    assert client.eval("return cjson.encode({1})", 0) == b"[1]"
    assert client.info("server")["gil_enabled"] == (0 if FREE_THREADED else 1)


# ---------------------------------------------------------------------------------
# Effects replication and the Lua memory cap, checked in-process through the
# propagate step's consumer API. They run in a child interpreter with PYTHON_GIL=0:
# importing lupa here would turn the GIL back on in the test process on 3.13t.
# ---------------------------------------------------------------------------------
_HARNESS = """
import sys
from ferrous.config import Config
from ferrous.server.app import Server
from ferrous.server.connection import Connection
from ferrous.server.context import Context
from ferrous.server.dispatch import execute

class Recorder:
    def __init__(self):
        self.units = []

    def feed(self, entries):
        self.units.append([(db, [bytes(a) for a in argv], targets) for db, argv, targets in entries])

server = Server(Config())
ctx = Context(server)
conn = Connection(None, ("127.0.0.1", 1), ("127.0.0.1", 2), None, 512 * 1024 * 1024)
conn.acl_user = getattr(getattr(server, "acl", None), "default", None)
rec = Recorder()
server.propagator.add_consumer(rec)

def run(*argv):
    out = bytearray()
    execute(ctx, conn, [a if isinstance(a, bytes) else str(a).encode() for a in argv], out)
    return bytes(out)
"""


def _in_process(body: str):
    """Run the harness plus body in a child interpreter; body sets `result`."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = _HARNESS + body + "\nprint(repr(result))\n"
    env = dict(os.environ, PYTHON_GIL="0", PYTHONPATH=root)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return ast.literal_eval(done.stdout.decode().strip().splitlines()[-1])


_MEMORY_SCRIPT = "local t = {} for i = 1, 1e8 do t[i] = 'x' .. i end return #t"
_IN_PROCESS_BODY = """
from ferrous.scripting.engine import LuaEngine
from ferrous.scripting.state import state
result = {}
result["first"] = run("EVAL", "redis.call('set', 'a', 1) redis.call('get', 'a') return redis.call('incr', 'a')", "0")
result["multi"] = list(rec.units)
rec.units.clear()
run("EVAL", "return redis.call('get', 'a')", "0")
result["read"] = list(rec.units)
run("EVAL", "redis.call('select', 2) return redis.call('set', 'b', 1)", "0")
result["select"] = list(rec.units)
rec.units.clear()
run("EVAL", "redis.set_repl(redis.REPL_NONE) redis.call('set', 'x', 1) "
            "redis.set_repl(redis.REPL_AOF) redis.call('set', 'y', 1) "
            "redis.set_repl(redis.REPL_REPLICA) redis.call('set', 'z', 1) return 1", "0")
result["set_repl"] = list(rec.units)
state(server).flush_scripts()
state(server).eval_engine = LuaEngine(max_memory=8 << 20)
result["memory"] = (run("EVAL", %r, "0"), run("EVAL", "return 'still fine'", "0"))
""" % _MEMORY_SCRIPT


@pytest.fixture(scope="module")
def in_process():
    return _in_process(_IN_PROCESS_BODY)


def test_script_effects_are_propagated_as_one_transaction(in_process):
    from ferrous.server.propagate import TO_ALL
    assert in_process["first"] == b":2\r\n"
    assert in_process["multi"] == [[(0, [b"MULTI"], TO_ALL), (0, [b"set", b"a", b"1"], TO_ALL),
                                    (0, [b"incr", b"a"], TO_ALL), (0, [b"EXEC"], TO_ALL)]]
    assert in_process["read"] == []
    assert in_process["select"] == [[(2, [b"set", b"b", b"1"], TO_ALL)]]


def test_set_repl_chooses_where_effects_go(in_process):
    from ferrous.server.propagate import TO_AOF, TO_REPLICAS
    unit = in_process["set_repl"][0]
    assert [(argv, targets) for _, argv, targets in unit][1:-1] == [
        ([b"set", b"y", b"1"], TO_AOF), ([b"set", b"z", b"1"], TO_REPLICAS)]


def test_lua_memory_cap_fails_the_script_not_the_server(in_process):
    """Each runtime has a memory cap (lupa's max_memory): a script past it fails
    with Lua's "not enough memory", and the next script runs normally."""
    sha = hashlib.sha1(_MEMORY_SCRIPT.encode()).hexdigest().encode()
    assert in_process["memory"] == (b"-ERR Error running script %s, not enough memory\r\n" % sha,
                                    b"$10\r\nstill fine\r\n")


# ---------------------------------------------------------------------------------
# The bundled libraries on random values, Ferrous beside real Redis
# ---------------------------------------------------------------------------------
def _lua_string(data: bytes) -> str:
    return '"' + "".join("\\%d" % b for b in data) + '"'


def _lua_number(n) -> str:
    return "%d" % n if isinstance(n, int) else "%.17g" % n


_SCALARS = st.one_of(
    st.integers(-(2 ** 53), 2 ** 53).map(_lua_number),
    # -0.0 reaches Python as the integer 0 (lupa), so its sign is not kept: excluded.
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(
        lambda f: f != 0 or math.copysign(1, f) > 0).map(_lua_number),
    st.binary(max_size=12).map(_lua_string),
    st.sampled_from(["true", "false", "cjson.null"]),
)
_NAMES = st.sampled_from(["a", "b", "name", "value", "x1", "zz", "k"])
_LUA_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(lambda items: "{" + ",".join(items) + "}"),
        st.dictionaries(_NAMES, children, max_size=5).map(
            lambda d: "{" + ",".join("%s=%s" % kv for kv in d.items()) + "}"),
        st.tuples(st.integers(1, 30), children).map(lambda t: "{[%d]=%s}" % t),
    ),
    max_leaves=12,
)
_LIB_SCRIPTS = [
    "return cjson.encode(%s)",
    "return cjson.encode(cjson.decode(cjson.encode(%s)))",
    "return cmsgpack.pack(%s)",
    "return {cmsgpack.unpack(cmsgpack.pack(%s))}",
    "return cjson.decode(cjson.encode({%s}))",
]


def _same_reply(clients, *args):
    replies = [client.call(*args) for client in clients]
    assert replies[0] == replies[1], "%r: ferrous %r, redis %r" % (args, replies[0], replies[1])


def _pair(ferrous, real_redis):
    return [RawClient(port=ferrous.port), RawClient(port=real_redis.port)]


@pytest.mark.skipif(not redis_available(), reason="needs redis-server to compare with")
def test_cjson_and_cmsgpack_match_redis_on_random_values(ferrous, real_redis):
    clients = _pair(ferrous, real_redis)

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=_LUA_VALUES, template=st.sampled_from(_LIB_SCRIPTS))
    def check(value, template):
        _same_reply(clients, "EVAL", template % value, "0")

    try:
        check()
    finally:
        for client in clients:
            client.close()


_BIT_NUMBERS = st.one_of(st.integers(-(2 ** 40), 2 ** 40).map(_lua_number),
                         st.floats(-1e12, 1e12).filter(lambda f: f != 0 or math.copysign(1, f) > 0)
                         .map(_lua_number))


@pytest.mark.skipif(not redis_available(), reason="needs redis-server to compare with")
def test_bit_and_struct_match_redis_on_random_numbers(ferrous, real_redis):
    clients = _pair(ferrous, real_redis)

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(a=_BIT_NUMBERS, b=_BIT_NUMBERS, n=st.integers(-40, 40),
           fmt=st.sampled_from(["<i", ">I", "<h", ">H", "b", "B", "<l", ">L", "i2", "I3", ">i8", "<d", ">f"]))
    def check(a, b, n, fmt):
        _same_reply(clients, "EVAL", "return {bit.band(%s, %s), bit.bor(%s, %s), bit.bxor(%s, %s), bit.bnot(%s), "
                                     "bit.lshift(%s, %d), bit.rshift(%s, %d), bit.arshift(%s, %d), bit.rol(%s, %d), "
                                     "bit.ror(%s, %d), bit.tobit(%s), bit.tohex(%s), bit.tohex(%s, %d), "
                                     "bit.bswap(%s)}" % (a, b, a, b, a, b, a, a, n, a, n, a, n, a, n, a, n, a, a,
                                                         a, n % 9 - 4, a), "0")
        _same_reply(clients, "EVAL", "local s = struct.pack('%s', %s) return {s, struct.unpack('%s', s)}"
                                     % (fmt, a, fmt), "0")

    try:
        check()
    finally:
        for client in clients:
            client.close()


_PCALL_WRAP = ("local r = {pcall(%s)} if not r[1] then return 'E:' .. tostring(r[2]) end "
               "for i = 2, #r do if type(r[i]) == 'table' then r[i] = cjson.encode(r[i]) end end "
               "return {#r, unpack(r, 2)}")
_JSON_PIECES = st.sampled_from(list('{}[],:"\\ 0123456789.-+eEtruefalsnlx') +
                               ["\\u00e9", "\\ud83d\\ude00", "\\ude00", "\\n", '\\"', "0x1F", "inf", "null"])
_STRUCT_OPTIONS = st.sampled_from(["<", ">", "!", "!4", "!3", "b", "B", "h", "H", "i", "I", "i3", "i9", "l", "L",
                                   "f", "d", "c2", "c0", "s", "x", "T", "q", " ", "i33"])


@pytest.mark.skipif(not redis_available(), reason="needs redis-server to compare with")
def test_decoders_match_redis_on_random_input(ferrous, real_redis):
    """cjson.decode on JSON-ish text, cmsgpack.unpack on random bytes, struct on random
    formats: same values, same error texts (positions, argument numbers)."""
    clients = _pair(ferrous, real_redis)
    msgpack_bytes = st.lists(st.one_of(st.integers(0, 255), st.sampled_from(
        [0x90, 0x81, 0xA1, 0xC0, 0xCC, 0xD9, 0xCA, 0xCB, 0xDE, 0xDC, 0xC5, 0x61])), max_size=8).map(bytes)

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(json=st.lists(_JSON_PIECES, max_size=12).map("".join), packed=msgpack_bytes,
           fmt=st.lists(_STRUCT_OPTIONS, min_size=1, max_size=4).map("".join),
           data=st.binary(max_size=12))
    def check(json, packed, fmt, data):
        _same_reply(clients, "EVAL", _PCALL_WRAP % "cjson.decode, ARGV[1]", "0", json)
        _same_reply(clients, "EVAL", _PCALL_WRAP % "cmsgpack.unpack, ARGV[1]", "0", packed)
        _same_reply(clients, "EVAL", _PCALL_WRAP % "struct.pack, ARGV[1], 1, 2, 3, 'ab', 5", "0", fmt)
        _same_reply(clients, "EVAL", _PCALL_WRAP % "struct.unpack, ARGV[1], ARGV[2]", "0", fmt, data)

    try:
        check()
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize("meta", ["function() foo() end", "function() redis.call('set', 'x', '1') end",
                                  "{err='no', ok='no', map={1}}"])
def test_returned_table_metamethods_are_not_called(raw, meta):
    # luaReplyToRedisReply reads the table with lua_rawget only.
    raw.call("DEL", "x")
    script = "local a = {}; setmetatable(a, {__index=%s}); return a" % meta
    assert raw.call("EVAL", script, "0") == []
    assert raw.call("EVAL", "local a = {1, 2}; setmetatable(a, {__index=%s}); return a" % meta, "0") == [1, 2]
    assert raw.call("GET", "x") is None


# cjson's configuration functions (json_cfg_* in lua_cjson.c); the settings live in
# the Lua state, so the script puts every default back at the end.
CJSON_CONFIG_SCRIPT = 'local r = {}\nlocal function add(...) local t = {...} for i=1,select(\'#\',...) do r[#r+1] = tostring(t[i]) end end\nadd(cjson.encode_max_depth())\nadd(cjson.encode_max_depth(1))\nadd(pcall(cjson.encode, {a={1}}))\nadd(cjson.encode_max_depth(1000))\nadd(cjson.decode_max_depth(1))\nadd(pcall(cjson.decode, \'{"obj": {"array": [1,2,3,4]}}\'))\nadd(cjson.decode_max_depth(1000))\nadd(pcall(cjson.encode, {num1=0/0}))\nadd(cjson.encode_invalid_numbers(true))\nadd(pcall(cjson.encode, {0/0, 1/0, -1/0}))\nadd(cjson.encode_invalid_numbers(\'null\'))\nadd(pcall(cjson.encode, {0/0, 1/0, -1/0}))\nadd(cjson.encode_invalid_numbers(false))\nadd(cjson.encode_number_precision(3))\nadd(cjson.encode(3.14159))\nadd(cjson.encode_number_precision(14))\nadd(pcall(cjson.encode_number_precision, 15))\nadd(pcall(cjson.encode_max_depth, 1, 2))\nadd(pcall(cjson.encode_invalid_numbers, \'bad\'))\nadd(pcall(cjson.encode_invalid_numbers, {}))\nadd(cjson.encode_sparse_array())\nadd(pcall(cjson.encode, {[1]=1,[20]=2}))\nadd(cjson.encode_sparse_array(true))\nadd(cjson.encode({[1]=1,[20]=2}))\nadd(cjson.encode_sparse_array(false, 2, 10))\nadd(cjson.decode_invalid_numbers(false))\nadd(pcall(cjson.decode, \'[0x10]\'))\nadd(pcall(cjson.decode, \'[nan]\'))\nadd(cjson.decode_invalid_numbers(true))\nadd(cjson.decode(\'[0x10]\')[1])\nadd(cjson.encode_keep_buffer(false))\nadd(cjson.encode_keep_buffer(true))\nreturn r\n'
CJSON_CONFIG_REPLY = ['1000', '1', 'false', 'Cannot serialise, excessive nesting (2)', '1000', '1', 'false', 'Found too many nested data structures (2) at character 9', '1000', 'false', 'Cannot serialise number: must not be NaN or Inf', 'true', 'true', '[nan,inf,-inf]', 'null', 'true', '[null,null,null]', 'false', '3', '3.14', '14', 'false', "bad argument #1 to '?' (expected integer between 1 and 14)", 'false', "bad argument #2 to '?' (found too many arguments)", 'false', "bad argument #1 to '?' (invalid option 'bad')", 'false', "bad argument #1 to '?' (string expected, got table)", 'false', '2', '10', 'false', 'Cannot serialise table: excessively sparse array', 'true', '2', '10', '{"1":1,"20":2}', 'false', '2', '10', 'false', 'false', 'Expected value but found invalid number at character 2', 'false', 'Expected value but found invalid token at character 2', 'true', '16', 'false', 'true']


def test_cjson_configuration_functions(raw):
    reply = raw.call("EVAL", CJSON_CONFIG_SCRIPT, "0")
    assert [item.decode() for item in reply] == CJSON_CONFIG_REPLY


def test_recursive_table_reply_stops_at_the_lua_stack_limit(raw):
    # luaReplyToRedisReply: lua_checkstack(lua, 4) fails ~8000 levels down.
    raw.send_raw(encode_command("EVAL", "local a = {}; local b = {a}; a[1] = b; return a", "0")
                 + encode_command("PING"))
    data = b""
    deadline = time.monotonic() + DEADLINE
    while not data.endswith(b"\r\n+PONG\r\n"):
        assert time.monotonic() < deadline
        chunk = raw.sock.recv(65536)
        assert chunk
        data += chunk
    lines = data.split(b"\r\n")
    assert lines[-4:] == [b"*1", b"-ERR reached lua stack limit", b"+PONG", b""]
    assert lines[:-2] == [b"*1"] * 7995 + [b"-ERR reached lua stack limit"]


def test_redis_call_takes_as_many_arguments_as_unpack_gives(raw):
    script = ("local a = {} for i=1,7999 do a[i] = 1 end "
              "redis.call('del', KEYS[1]) return redis.call('lpush', KEYS[1], unpack(a))")
    assert raw.call("EVAL", script, "1", "massive") == 7999
    assert raw.call("EVAL", script.replace("redis.call('lpush'", "redis.pcall('lpush'"), "1", "massive") == 7999
    raw.call("DEL", "massive")


def test_error_position_of_a_tail_called_redis_call(raw):
    reply = raw.call("EVAL", "local x = 1\nreturn redis.call('nosuch')", "0")
    assert type(reply) is Error and reply.text.endswith("on @user_script:2.")
    raw.call("FUNCTION", "LOAD", "REPLACE",
             "#!lua name=tailpos\nredis.register_function('tailpos', function()\n"
             "  return redis.call('nosuch')\nend)")
    assert raw.call("FCALL", "tailpos", "0") == Error(
        "ERR Unknown Redis command called from script script: tailpos, on @user_function:3.")
    raw.call("FUNCTION", "DELETE", "tailpos")


def test_binary_chunks_are_refused_by_loadstring(raw):
    assert raw.call("EVAL", "local f, e = loadstring(string.dump(function() return 1 end), 'xx') return e",
                    "0") == b"""[string "xx"]:1: unexpected symbol near 'char(27)'"""
    reply = raw.call("EVAL", "return loadstring(string.dump(function() return 1 end))()", "0")
    assert type(reply) is Error and "attempt to call a nil value" in reply.text


def test_shebang_with_an_empty_flags_list(raw):
    assert raw.call("EVAL", "#!lua flags=\nreturn 1", "0") == 1
    assert raw.call("EVAL", "#!lua flags=no-writes,,allow-oom\nreturn 1", "0") == Error(
        "ERR Unexpected flag in script shebang: ")
    assert raw.call("EVAL", "#!lua \"flags=no-writes\"\nreturn 1", "0") == 1
    assert raw.call("EVAL", "#!lua \"x\nreturn 1", "0") == Error("ERR Invalid engine in script shebang")


def test_time_stands_still_while_a_script_runs(raw):
    # keyIsExpired uses scriptTimeSnapshot(): a key set with PX 1 outlives a wait
    # inside the script (here a busy loop on TIME, which reads the real clock).
    script = """
        redis.call('SET', KEYS[1], 'v', 'PX', 1)
        local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
        local start = now()
        while now() - start < 5000 do end
        return redis.call('EXISTS', KEYS[1])"""
    assert raw.call("EVAL", script, "1", "frozen") == 1
    deadline = time.monotonic() + DEADLINE
    while raw.call("EXISTS", "frozen") != 0:
        assert time.monotonic() < deadline


def test_global_table_protection_messages(raw):
    # _G is a Redis read-only table: its own message for setmetatable, and a
    # read-only metatable whose __index is the error function.
    reply = raw.call("EVAL", "setmetatable(_G, {})", "0")
    assert type(reply) is Error and reply.text.startswith("ERR Attempt to modify a readonly table script: ")
    reply = raw.call("EVAL", "local g = getmetatable(_G)\ng.__index = {}", "0")
    assert type(reply) is Error and reply.text.startswith("ERR user_script:2: Attempt to modify a readonly table")
    assert raw.call("EVAL", "return {type(getmetatable(_G)), type(getmetatable(_G).__index), "
                    "tostring(getmetatable(_G).__newindex)}", "0") == [b"table", b"function", b"nil"]
    assert raw.call("EVAL", "local ok, e = pcall(setmetatable, redis, {}) return e", "0") == \
        b"Attempt to modify a readonly table"


def test_acl_check_cmd_answers_for_the_callers_user(raw, server):
    raw.call("ACL", "SETUSER", "scriptbob", "on", ">123", "+@scripting", "+set", "~x*")
    bob = RawClient(port=server.port)
    try:
        assert bob.call("AUTH", "scriptbob", "123") == Simple("OK")
        script = "return {redis.acl_check_cmd('set','xx',1), redis.acl_check_cmd('hset','xx','f',1), " \
                 "redis.acl_check_cmd('set','yy',1)}"
        assert bob.call("EVAL", script, "1", "xx") == [1, None, None]    # false is a null in RESP2
        assert bob.call("EVAL", "return redis.acl_check_cmd('hset','xx','f',1)", "1", "xx") is None
    finally:
        bob.close()
        raw.call("ACL", "DELUSER", "scriptbob")


def test_sort_by_constant_of_a_set_is_alpha_sorted_in_scripts(raw):
    # sortCommandGeneric: a set's order is not deterministic, so scripts get it sorted.
    raw.call("DEL", "sortset")
    raw.call("SADD", "sortset", "c", "a", "b", "aa")
    assert raw.call("EVAL", "return redis.call('sort', KEYS[1], 'by', '_')", "1", "sortset") == \
        [b"a", b"aa", b"b", b"c"]
    assert raw.call("EVAL", "return redis.call('sort', KEYS[1], 'by', '_', 'get', '#', 'get', '_:*')",
                    "1", "sortset") == [b"a", None, b"aa", None, b"b", None, b"c", None]
    raw.call("DEL", "sortset")


def test_scripts_that_may_write_need_enough_good_replicas(raw):
    raw.call("SET", "x", "some value")
    raw.call("CONFIG", "SET", "min-replicas-to-write", "1")
    try:
        assert raw.call("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','x')", "1", "x") == b"some value"
        assert raw.call("EVAL", "return redis.call('get','x')", "1", "x") == b"some value"
        assert raw.call("EVAL", "#!lua\nreturn redis.call('get','x')", "1", "x") == Error(
            "NOREPLICAS Not enough good replicas to write.")
        reply = raw.call("EVAL", "return redis.call('set','x', 1)", "1", "x")
        assert type(reply) is Error and reply.text.startswith("NOREPLICAS Not enough good replicas to write. script:")
    finally:
        raw.call("CONFIG", "SET", "min-replicas-to-write", "0")
