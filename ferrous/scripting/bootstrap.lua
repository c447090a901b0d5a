-- The sandbox and the `redis` API of one Lua runtime (Redis 7.0's script_lua.c).
-- Runs once per runtime with the full Lua library; receives the Python bridge.
-- Everything defined here lives in the chunk "=redis_internal", which the error
-- handler skips when it looks for the script line to report.
local bridge = ...
local G = _G
local dbg = debug
local raw_error, raw_type, raw_tostring, raw_select = error, type, tostring, select
local raw_pcall, raw_xpcall, raw_unpack, raw_setmetatable = pcall, xpcall, unpack, setmetatable
local raw_loadstring, raw_setfenv, raw_tonumber = loadstring, setfenv, tonumber
local raw_dump = string.dump
local INTERNAL = '=redis_internal'
-- Python callables become real C functions (type 'function', and a tail call to
-- one keeps the script's frame for error positions, as Redis's C functions do).
local as_function = python.as_function

-- Globals Redis 7.0 leaves out of reach of scripts.
for _, name in ipairs({'os', 'io', 'debug', 'package', 'require', 'module', 'loadfile',
                       'dofile', 'print', 'python'}) do
    G[name] = nil
end

local function pack(...)
    return {n = raw_select('#', ...), ...}
end

-- luaPushErrorBuff: "-CODE msg" or "msg" -> {err = "CODE msg"}.
local function error_table(text)
    local code, msg
    if text:sub(1, 1) == '-' then
        local space = text:find(' ', 1, true)
        if space then
            code, msg = text:sub(2, space - 1), text:sub(space + 1)
        else
            code, msg = 'ERR', text:sub(2)
        end
    else
        code, msg = 'ERR', text
    end
    msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
    return {err = code .. ' ' .. msg}
end

local function raise(text)
    raw_error(error_table(text))
end

-- ---------------------------------------------------------------------------
-- The redis table. Its functions are Python callables (ferrous/scripting/engine.py
-- Bridge): to Lua they are C functions, so `return redis.call(...)` keeps the
-- script's frame and errors report the script line, as in Redis.
-- ---------------------------------------------------------------------------
local redis = {}
for _, name in ipairs({'call', 'pcall', 'sha1hex', 'error_reply', 'status_reply', 'log',
                       'setresp', 'set_repl', 'acl_check_cmd'}) do
    redis[name] = as_function(bridge[name])
end

-- redis.call/pcall take as many arguments as `unpack` can give (up to ~8000), but
-- lupa's C wrapper refuses a call whose arguments nearly fill Lua's C stack limit
-- (LUAI_MAXCSTACK): past that, the arguments travel packed in one table. These are
-- Lua functions, so scripts are compiled without tail calls (scripting/bytecode.py)
-- to keep the script's frame for error positions.
local MANY_ARGUMENTS = 7900
for _, name in ipairs({'call', 'pcall'}) do
    local direct, packed = redis[name], as_function(bridge[name .. '_packed'])
    redis[name] = function(...)
        local n = raw_select('#', ...)
        if n < MANY_ARGUMENTS then
            return direct(...)
        end
        return packed({n = n, ...})
    end
end

-- Effects replication is the only mode in 7.0; the debugger is not attached.
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end

redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION = bridge.version
redis.REDIS_VERSION_NUM = bridge.version_num

-- ---------------------------------------------------------------------------
-- Libraries Redis bundles (Python callables too, see ferrous/scripting/libs.py)
-- ---------------------------------------------------------------------------
local libs = bridge.libs
local cjson, bit, struct, cmsgpack = {}, {}, {}, {}
cjson.null = newproxy(false)
cjson.encode, cjson.decode = as_function(libs.cjson_encode), as_function(libs.cjson_decode)
for _, name in ipairs({'encode_keep_buffer', 'encode_max_depth', 'decode_max_depth',
                       'encode_number_precision', 'encode_sparse_array',
                       'encode_invalid_numbers', 'decode_invalid_numbers'}) do
    cjson[name] = as_function(libs['cjson_' .. name])
end
cjson._NAME, cjson._VERSION = 'cjson', '2.1.0'
libs.cjson_set_null(cjson.null)
for _, name in ipairs({'tobit', 'bnot', 'band', 'bor', 'bxor', 'lshift', 'rshift', 'arshift',
                       'rol', 'ror', 'bswap', 'tohex'}) do
    bit[name] = as_function(libs['bit_' .. name])
end
for _, name in ipairs({'pack', 'unpack', 'size'}) do
    struct[name] = as_function(libs['struct_' .. name])
end
for _, name in ipairs({'pack', 'unpack', 'unpack_one', 'unpack_limit'}) do
    cmsgpack[name] = as_function(libs['cmsgpack_' .. name])
end
cmsgpack._NAME, cmsgpack._VERSION = 'cmsgpack', 'lua-cmsgpack 0.4.0'

-- math.random with Redis's own PRNG, reseeded for every script (same sequence
-- on every server for the same script).
local py_random = bridge.random
G.math.random = function(...)
    local r = py_random()
    local argc = raw_select('#', ...)
    if argc == 0 then
        return r
    end
    local m, n = ...
    if argc == 1 then
        m = raw_tonumber(m)
        if m == nil then raw_error("bad argument #1 to 'random' (number expected)", 2) end
        m = m - m % 1
        if m < 1 then raw_error("bad argument #1 to 'random' (interval is empty)", 2) end
        return math.floor(r * m) + 1
    elseif argc == 2 then
        m, n = raw_tonumber(m), raw_tonumber(n)
        if m == nil then raw_error("bad argument #1 to 'random' (number expected)", 2) end
        if n == nil then raw_error("bad argument #2 to 'random' (number expected)", 2) end
        m, n = m - m % 1, n - n % 1
        if m > n then raw_error("bad argument #2 to 'random' (interval is empty)", 2) end
        return math.floor(r * (n - m + 1)) + m
    end
    raw_error('wrong number of arguments', 2)
end
G.math.randomseed = function(seed)
    seed = raw_tonumber(seed)
    if seed == nil then raw_error("bad argument #1 to 'randomseed' (number expected)", 2) end
    bridge.randomseed(seed - seed % 1)
end

-- ---------------------------------------------------------------------------
-- Read-only globals (Redis 7.0 locks the global table and every table in it)
-- ---------------------------------------------------------------------------
local function readonly_error()
    raw_error('Attempt to modify a readonly table', 2)
end

-- Tables no script may change, even with rawset: what it changed would be
-- seen by every later script.
local protected = {}

local function readonly(t)
    local proxy = {}
    raw_setmetatable(proxy, {__index = t, __newindex = readonly_error, __metatable = false})
    protected[proxy] = true
    return proxy
end

-- Lua's pcall, but an error table {err=...} comes back as its message, so
-- scripts written for Redis 6 keep working (luaRedisPcall).
local unwrap = bridge.unwrap
local function pcall_result(ok, ...)
    if ok then
        return true, ...
    end
    local e = ...
    if raw_type(e) == 'userdata' then
        local kind, value = unwrap(e)
        if kind == 'string' then
            return false, value
        elseif kind == 'table' then
            e = value
        end
    end
    if raw_type(e) == 'table' then
        local msg = e.err
        if raw_type(msg) == 'string' or raw_type(msg) == 'number' then
            return false, msg
        end
    end
    return false, e
end

local function sandboxed_pcall(f, ...)
    return pcall_result(raw_pcall(f, ...))
end

-- The builtins Redis 7.0.15 scripts see (no getfenv, setfenv or newproxy).
local ALLOWED = {'xpcall', 'tostring', 'setmetatable', 'next', 'assert', 'tonumber',
                 'rawequal', 'collectgarbage', 'getmetatable', 'type', 'select',
                 'unpack', 'gcinfo', 'pairs', 'rawget', 'ipairs', '_VERSION', 'error'}

-- The API seen by scripts; `env` is every script's global table.
local api = {}
for _, name in ipairs(ALLOWED) do
    api[name] = G[name]
end
api.pcall = sandboxed_pcall
api.string = readonly(G.string)
-- Strings index the protected table, and getmetatable('') shows a read-only view:
-- ('x'):upper() works, getmetatable('').__index == string, and no script can
-- change what the next script sees.
local string_meta = getmetatable('')
string_meta.__index = api.string
string_meta.__metatable = readonly({__index = api.string})
protected[G.string] = true
api.math = readonly(G.math)
api.table = readonly(G.table)
api.coroutine = readonly(G.coroutine)
api.cjson = readonly(cjson)
api.bit = readonly(bit)
api.struct = readonly(struct)
api.cmsgpack = readonly(cmsgpack)
api.redis = readonly(redis)

local env = {}
local env_meta = {__index = api, __newindex = readonly_error}
raw_setmetatable(env, env_meta)
api._G = env
local function missing_global(t, name)
    raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
end
raw_setmetatable(api, {__index = missing_global})
-- getmetatable(_G) shows what Redis's does (a read-only table whose __index is the
-- error function), never the real one.
env_meta.__metatable = readonly({__index = missing_global})

protected[env] = true

-- Redis's read-only tables refuse a new metatable with its own message.
api.setmetatable = function(t, mt)
    if protected[t] then
        raw_error('Attempt to modify a readonly table', 0)
    end
    return raw_setmetatable(t, mt)
end

-- rawset would reach past the read-only views (rawset(_G, ...)).
local raw_rawset = rawset
api.rawset = function(t, k, v)
    if protected[t] then
        raw_error('Attempt to modify a readonly table', 0)
    end
    return raw_rawset(t, k, v)
end

-- luaO_chunkid (Redis builds Lua with LUA_IDSIZE 80) of a chunk name, as the C string ends at a NUL.
local function chunkid(source)
    source = source:match('^[^%z]*')
    local first = source:sub(1, 1)
    if first == '=' then
        return source:sub(2, 80)
    elseif first == '@' then
        source = source:sub(2)
        if #source > 72 then
            return '...' .. source:sub(#source - 71)
        end
        return source
    end
    local len = #(source:match('^[^\r\n]*'))
    if len > 63 then len = 63 end
    if len < #source then
        return '[string "' .. source:sub(1, len) .. '..."]'
    end
    return '[string "' .. source .. '"]'
end

-- Redis's Lua always uses the text parser (no precompiled chunks): binary code
-- fails as a syntax error on its first byte (ESC, char(27)).
local BINARY_SIGNATURE = '\27'
local function refuse_binary(s, name)
    if raw_type(s) == 'string' and s:sub(1, 1) == BINARY_SIGNATURE then
        if raw_type(name) == 'number' then name = raw_tostring(name) end
        return chunkid(raw_type(name) == 'string' and name or s) .. ":1: unexpected symbol near 'char(27)'"
    end
end

-- Code compiled inside a script shares the script's globals.
api.loadstring = function(s, name)
    local refused = refuse_binary(s, name)
    if refused then return nil, refused end
    local f, e = raw_loadstring(s, name)
    if f then raw_setfenv(f, env) end
    return f, e
end
api.load = function(f, name)
    local fn, e = load(f, name)
    if fn then raw_setfenv(fn, env) end
    return fn, e
end

-- ---------------------------------------------------------------------------
-- Running scripts
-- ---------------------------------------------------------------------------
-- __redis__err__handler: the error becomes a table with the script line.
local function error_handler(err)
    local level = 2
    local info = dbg.getinfo(level, 'nSl')
    while info and (info.what == 'C' or info.source == INTERNAL) do
        level = level + 1
        info = dbg.getinfo(level, 'nSl')
    end
    if raw_type(err) == 'userdata' then
        -- An error raised by a Python callable: its error table, or a library
        -- message that gets the script position, as luaL_error would add.
        local kind, value = unwrap(err)
        if kind == 'table' or kind == 'string' then
            err = value
        end
    end
    if raw_type(err) ~= 'table' then
        err = {err = 'ERR ' .. raw_tostring(err)}
    end
    if info then
        err.source = info.source
        err.line = info.currentline
    end
    return err
end
api.__redis__err__handler = error_handler

local py_interrupt = bridge.interrupt
local kill_hook
kill_hook = function()
    -- Busy bookkeeping on every count, wherever it lands (a loop calling redis.call
    -- spends much of its time in the internal wrapper).
    local message = py_interrupt()
    if message then
        -- From now on every line fails, so a pcall in the script cannot swallow it.
        dbg.sethook(kill_hook, 'l')
        local frame = dbg.getinfo(2, 'S')
        if frame and frame.source == INTERNAL then
            return      -- never fail inside the runner itself, only in the script
        end
        raw_error({err = message})
    end
end

local engine = {}

local untail = as_function(bridge.untail)

-- Compile a script or a library: without tail calls (see redis.call above).
function engine.compile(body, chunkname)
    local f, e = raw_loadstring(body, chunkname)
    if not f then
        return nil, e
    end
    f = raw_loadstring(untail(raw_dump(f)), chunkname)
    raw_setfenv(f, env)
    return f
end

-- Run f(...) in protected mode; returns ok, result (result is the error table on failure).
function engine.run(f, hooked, ...)
    local args = pack(...)
    if hooked then
        dbg.sethook(kill_hook, '', 100000)
    end
    local ok, result = raw_xpcall(function() return f(raw_unpack(args, 1, args.n)) end, error_handler)
    if hooked then
        dbg.sethook()
    end
    return ok, result
end

-- For a Python library function raising an error: the name its caller used
-- (luaL_argerror) and the caller's position (luaL_where(L, 1)). Level 2 is the
-- library function's frame, level 3 its caller.
function engine.caller_info()
    local callee = dbg.getinfo(2, 'n')
    local caller = dbg.getinfo(3, 'Sl')
    local where = ''
    if caller and caller.currentline > 0 then
        where = caller.short_src .. ':' .. caller.currentline .. ': '
    end
    return (callee and callee.name) or '?', where
end

function engine.collect_garbage()
    collectgarbage('collect')
end

-- KEYS and ARGV are globals of the script (rawget(_G, 'KEYS') sees them).
function engine.set_globals(keys, argv)
    raw_rawset(env, 'KEYS', keys)
    raw_rawset(env, 'ARGV', argv)
end

-- Functions: while a library loads, its globals hold only a reduced `redis`
-- (register_function, log, versions); every other name is an error (function_lua.c).
local loading = false   -- a FUNCTION LOAD is running (Redis's REGISTRY_LOAD_CTX_NAME is set)

function engine.begin_load(register_function)
    loading = true
    local load_redis = {register_function = register_function, log = redis.log,
                        LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
                        REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM}
    raw_setmetatable(load_redis, {__index = missing_global})
    local load_api = {redis = readonly(load_redis)}
    raw_setmetatable(load_api, {__index = missing_global})
    env_meta.__index = load_api
end

function engine.end_load()
    loading = false
    env_meta.__index = api
end

-- Run a library's main chunk: ok, or false and the error text. A chunk that runs
-- past the load timeout (500 ms, checked every 100000 instructions) fails.
function engine.load(f, timed_out)
    local function load_hook()
        if timed_out() then
            raise('FUNCTION LOAD timeout')
        end
    end
    dbg.sethook(load_hook, '', 100000)
    local ok, err = raw_pcall(f)
    dbg.sethook()
    if ok then
        return true
    end
    if raw_type(err) == 'userdata' then
        local kind, value = unwrap(err)
        if kind == 'table' or kind == 'string' then
            err = value
        end
    end
    if raw_type(err) == 'table' then
        local msg = err.err
        if raw_type(msg) == 'string' then
            return false, msg
        end
        return false, 'ERR unknown error'
    end
    return false, 'ERR ' .. raw_tostring(err)
end

-- redis.register_function's argument checks (luaRegisterFunction).
local FUNCTION_FLAGS = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
                        ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}

function engine.register_function_args(...)
    local argc = raw_select('#', ...)
    local a, b = ...
    local name, callback, flags, description
    if argc == 1 then
        if raw_type(a) ~= 'table' then
            raise('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
        end
        for k, v in pairs(a) do
            if raw_type(k) ~= 'string' then
                raise('named argument key given to redis.register_function is not a string')
            end
            if k == 'function_name' then
                if raw_type(v) ~= 'string' then raise('function_name argument given to redis.register_function must be a string') end
                name = v
            elseif k == 'description' then
                if raw_type(v) ~= 'string' then raise('description argument given to redis.register_function must be a string') end
                description = v
            elseif k == 'callback' then
                if raw_type(v) ~= 'function' then raise('callback argument given to redis.register_function must be a function') end
                callback = v
            elseif k == 'flags' then
                if raw_type(v) ~= 'table' then raise('flags argument to redis.register_function must be a table representing function flags') end
                flags = {}
                for _, flag in ipairs(v) do
                    if raw_type(flag) ~= 'string' or not FUNCTION_FLAGS[flag] then
                        raise('unknown flag given')
                    end
                    flags[#flags + 1] = flag
                end
            else
                raise('unknown argument given to redis.register_function')
            end
        end
        if name == nil then raise('redis.register_function must get a function name argument') end
        if callback == nil then raise('redis.register_function must get a callback argument') end
    elseif argc == 2 then
        if raw_type(a) ~= 'string' then raise('first argument to redis.register_function must be a string') end
        if raw_type(b) ~= 'function' then raise('second argument to redis.register_function must be a function') end
        name, callback = a, b
    else
        raise('wrong number of arguments to redis.register_function')
    end
    return name, callback, flags or {}, description
end

engine.raise = raise

function engine.make_register(py_register)
    return function(...)
        if not loading then
            -- A register_function kept from a library's load and called by a function.
            raise('redis.register_function can only be called on FUNCTION LOAD command')
        end
        local name, callback, flags, description = engine.register_function_args(...)
        local err = py_register(name, callback, flags, description)
        if err then
            raise(err)
        end
    end
end

engine.error_table = error_table

-- luaReplyToRedisReply reads a returned table with lua_rawget only: a script's
-- metatables (__index raising or calling redis) never run while its reply is built.
local raw_rawget = rawget
function engine.reply_shape(t)
    local v = raw_rawget(t, 'err')
    if raw_type(v) == 'string' then return 'err', v end
    v = raw_rawget(t, 'ok')
    if raw_type(v) == 'string' then return 'ok', v end
    v = raw_rawget(t, 'double')
    if raw_type(v) == 'number' then return 'double', v end
    v = raw_rawget(t, 'big_number')
    if raw_type(v) == 'string' then return 'big_number', v end
    v = raw_rawget(t, 'verbatim_string')
    if raw_type(v) == 'table' then
        local format, text = raw_rawget(v, 'format'), raw_rawget(v, 'string')
        if raw_type(format) == 'string' and raw_type(text) == 'string' then
            return 'verbatim', format, text
        end
    end
    v = raw_rawget(t, 'map')
    if raw_type(v) == 'table' then return 'map', v end
    v = raw_rawget(t, 'set')
    if raw_type(v) == 'table' then return 'set', v end
    local n = 0
    while raw_rawget(t, n + 1) ~= nil do n = n + 1 end
    return 'array', n
end
engine.rawget = raw_rawget
return engine
