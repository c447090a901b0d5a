"""Every error text Ferrous sends, with Redis 7.0's exact wording.

Texts include the error code prefix (ERR, WRONGTYPE, ...) as Redis puts it on the
wire after the '-'.
"""
from __future__ import annotations


class CommandError(Exception):
    """A command failed; the client gets `-<message>` and the connection stays open."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Generic
SYNTAX_ERR = "ERR syntax error"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
INCR_NAN_OR_INF = "ERR increment would produce NaN or Infinity"
NO_SUCH_KEY = "ERR no such key"
INVALID_DB_INDEX = "ERR DB index is out of range"
INVALID_EXPIRE = "ERR invalid expire time in '%s' command"
OUT_OF_RANGE_OFFSET = "ERR offset is out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
SAME_OBJECT = "ERR source and destination objects are the same"
INDEX_OUT_OF_RANGE = "ERR index out of range"
UNKNOWN_COMMAND = "ERR unknown command '%s', with args beginning with: %s"
UNKNOWN_SUBCOMMAND = "ERR unknown subcommand '%s'. Try %s HELP."
WRONG_ARITY = "ERR wrong number of arguments for '%s' command"
INVALID_CURSOR = "ERR invalid cursor"
NOT_POSITIVE = "ERR %s must be positive"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
SELECT_NOT_ALLOWED = "ERR SELECT is not allowed in cluster mode"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NOT_CONFIGURED = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOPROTO = "NOPROTO unsupported protocol version"
PROTOCOL_VERSION_NOT_INT = "ERR Protocol version is not an integer or out of range"
CLIENT_NAME_SPACES = "ERR Client names cannot contain spaces, newlines or special characters."
NO_SUCH_CLIENT = "ERR No such client"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOT_IMPLEMENTED_YET = UNKNOWN_COMMAND

# GETEX / SET option conflicts
GETDEL_LIKE_OPTS = SYNTAX_ERR

# CONFIG
CONFIG_UNKNOWN_OPTION = "ERR Unknown option or number of arguments for CONFIG SET - '%s'"
CONFIG_SET_FAILED = "ERR CONFIG SET failed (possibly related to argument '%s') - %s"
CONFIG_DUPLICATE = "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter"

# Shutdown / server
SHUTDOWN_ERR = "ERR Errors trying to SHUTDOWN. Check logs."


def wrong_arity(name: str) -> CommandError:
    return CommandError(WRONG_ARITY % name.lower())


def unknown_command(argv: list) -> CommandError:
    name = argv[0].decode("utf-8", "surrogateescape")
    # processCommand: append "'%.*s' " while the text built so far is under 128 bytes.
    shown = b""
    for arg in argv[1:]:
        if len(shown) >= 128:
            break
        shown += b"'" + arg[: 128 - len(shown)] + b"' "
    shown = shown.decode("utf-8", "surrogateescape")
    return CommandError(UNKNOWN_COMMAND % (_sanitize(name[:128]), _sanitize(shown)))


def unknown_subcommand(sub: bytes, container: str) -> CommandError:
    return CommandError(UNKNOWN_SUBCOMMAND % (_sanitize(sub.decode("utf-8", "surrogateescape")[:128]), container.upper()))


def _sanitize(text: str) -> str:
    """Redis replaces newlines in error text with spaces so the reply stays one line."""
    return text.replace("\r", " ").replace("\n", " ")


# --- connection group (PING, SELECT, AUTH, HELLO, RESET, CLIENT) -------------------
HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    "the RESP protocol version at the same time"
)
HELLO_SYNTAX = "ERR Syntax error in HELLO option '%s'"
INT_OUT_OF_RANGE = "ERR value is out of range, value must between %d and %d"
RESET_NOT_NORMAL = "ERR can only reset normal client connections"
CLIENT_ID_NOT_POSITIVE = "ERR client-id should be greater than 0"
INVALID_CLIENT_ID = "ERR Invalid client ID"
UNKNOWN_CLIENT_TYPE = "ERR Unknown client type '%s'"
NO_SUCH_USER = "ERR No such user '%s'"
CLIENT_CACHING_NO_TRACKING = (
    "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
    "OPTIN or OPTOUT mode enabled"
)
# CLIENT SETINFO is Redis 7.2 (redis-py sends it on connect); texts as 7.2 words them.
SETINFO_UNRECOGNIZED = "ERR Unrecognized option '%s'"
SETINFO_BAD_CHARS = "ERR %s cannot contain spaces, newlines or special characters."


# --- hash and set groups (t_hash.c, t_set.c) ---------------------------------------
HASH_VALUE_NOT_INT = "ERR hash value is not an integer"
HASH_VALUE_NOT_FLOAT = "ERR hash value is not a float"
INCR_ARG_NAN_OR_INF = "ERR value is NaN or Infinity"
VALUE_OUT_OF_RANGE = "ERR value is out of range"
COUNT_RANGE = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS_NOT_POSITIVE = "ERR numkeys should be greater than 0"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"


# --- string group (t_string.c) ------------------------------------------------------
DECREMENT_OVERFLOW = "ERR decrement would overflow"
LCS_NOT_STRINGS = "ERR The specified keys must contain string values"
LCS_LEN_AND_IDX = "ERR If you want both the length and indexes, please just use IDX."
LCS_TOO_BIG = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"


# --- generic group (keyspace: EXPIRE, OBJECT, SCAN, RENAME, COPY, MOVE ...) --------
EXPIRE_NX_INCOMPATIBLE = "ERR NX and XX, GT or LT options at the same time are not compatible"
EXPIRE_GT_LT_INCOMPATIBLE = "ERR GT and LT options at the same time are not compatible"
UNSUPPORTED_OPTION = "ERR Unsupported option %s"
OBJECT_FREQ_NOT_LFU = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time "
    "to adjust."
)
OBJECT_IDLETIME_LFU = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)


# --- sorted set and geo groups (t_zset.c, geo.c) ------------------------------------
ZADD_XX_AND_NX = "ERR XX and NX options at the same time are not compatible"
ZADD_GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
ZADD_INCR_ONE_PAIR = "ERR INCR option supports a single increment-element pair"
ZSET_SCORE_NAN = "ERR resulting score is not a number (NaN)"
ZSET_MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
ZSET_LEX_RANGE_INVALID = "ERR min or max not valid string range item"
ZRANGE_LIMIT_NEEDS_BY = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
ZRANGE_WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
ZSETOP_NEEDS_KEYS = "ERR at least 1 input key is needed for '%s' command"
ZSET_WEIGHT_NOT_FLOAT = "ERR weight value is not a float"
ZMPOP_COUNT_NOT_POSITIVE = "ERR count should be greater than 0"
GEO_INVALID_LONLAT = "ERR invalid longitude,latitude pair %f,%f"
GEO_UNSUPPORTED_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
GEO_NEED_RADIUS = "ERR need numeric radius"
GEO_RADIUS_NEGATIVE = "ERR radius cannot be negative"
GEO_NEED_WIDTH = "ERR need numeric width"
GEO_NEED_HEIGHT = "ERR need numeric height"
GEO_BOX_NEGATIVE = "ERR height or width cannot be negative"
GEO_MEMBER_UNDECODABLE = "ERR could not decode requested zset member"
GEO_COUNT_NOT_POSITIVE = "ERR COUNT must be > 0"
GEO_ANY_NEEDS_COUNT = "ERR the ANY argument requires COUNT argument"
GEO_STORE_INCOMPATIBLE = "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
GEO_NEED_FROM = "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s"
GEO_NEED_BY = "ERR exactly one of BYRADIUS and BYBOX can be specified for %s"


# ---------------------------------------------------------------------------
# Server group (ferrous/commands/server.py): SWAPDB, SHUTDOWN, CONFIG, COMMAND
# ---------------------------------------------------------------------------
SWAPDB_INVALID_FIRST = "ERR invalid first DB index"
SWAPDB_INVALID_SECOND = "ERR invalid second DB index"
SHUTDOWN_NOT_IN_PROGRESS = "ERR No shutdown in progress."
CONFIG_NO_FILE = "ERR The server is running without a config file"
CONFIG_REWRITE_FAILED = "ERR Rewriting config file: %s"
COMMAND_INVALID = "ERR Invalid command specified"
COMMAND_INVALID_ARG_COUNT = "ERR Invalid number of arguments specified for command"
COMMAND_NO_KEY_ARGS = "ERR The command has no key arguments"
COMMAND_INVALID_ARGS = "ERR Invalid arguments specified for command"


# --- list group and blocking commands (t_list.c, blocked.c, timeout.c) --------------
TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"
LPOS_RANK_ZERO = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
LPOS_COUNT_NEGATIVE = "ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"
LMPOP_COUNT_NOT_POSITIVE = "ERR count should be greater than 0"
UNBLOCKED_BY_CLIENT = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
UNBLOCKED_TURNED_REPLICA = (
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
)


# --- transactions and pub/sub (multi.c, pubsub.c) ------------------------------------
MULTI_NESTED = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_INSIDE_MULTI = "ERR WATCH inside MULTI is not allowed"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOT_ALLOWED_IN_MULTI = "ERR Command not allowed inside a transaction"
PUBSUB_CONTEXT = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                  "QUIT / RESET are allowed in this context")
SUBCOMMAND_SYNTAX = "ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."


# --- bitmap and hyperloglog groups (bitops.c, hyperloglog.c) -------------------------
BIT_OFFSET_INVALID = "ERR bit offset is not an integer or out of range"
BIT_VALUE_INVALID = "ERR bit is not an integer or out of range"
BITOP_NOT_SINGLE_SOURCE = "ERR BITOP NOT must be called with a single source key."
BITFIELD_INVALID_TYPE = (
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)
BITFIELD_RO_ONLY_GET = "ERR BITFIELD_RO only supports the GET subcommand"
BITFIELD_INVALID_OVERFLOW = "ERR Invalid OVERFLOW type specified"
HLL_WRONGTYPE = "WRONGTYPE Key is not a valid HyperLogLog string value."
HLL_CORRUPTED = "INVALIDOBJ Corrupted HLL object detected"
PFDEBUG_NO_KEY = "ERR The specified key does not exist"
PFDEBUG_NOT_SPARSE = "ERR HLL encoding is not sparse"
PFDEBUG_UNKNOWN = "ERR Unknown PFDEBUG subcommand '%s'"
BITPOS_BIT_INVALID = "ERR The bit argument must be 1 or 0."


# --- sort group (sort.c) --------------------------------------------------------------
SORT_SCORE_NOT_DOUBLE = "ERR One or more scores can't be converted into double"


# --- blocking sorted-set commands / CLIENT UNBLOCK (blocked.c, networking.c) ------------
CLIENT_UNBLOCK_REASON = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"


# --- limits and eviction (networking.c, server.c, evict.c) ----------------------------
MAX_CLIENTS = "ERR max number of clients reached"
OOM = "OOM command not allowed when used memory > 'maxmemory'."
EXECABORT_BECAUSE = "EXECABORT Transaction discarded because of: %s"

# -- AOF (persistence/aof.py, commands/aof.py) --------------------------------------------
AOF_REWRITE_IN_PROGRESS = "ERR Background append only file rewriting already in progress"


# --- access control: ACL, AUTH, protected mode (acl.c, networking.c) ------------------
NOPERM_COMMAND = "NOPERM this user has no permissions to run the '%s' command"
NOPERM_KEY = "NOPERM this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNEL = "NOPERM this user has no permissions to access one of the channels used as arguments"
ACL_SETUSER_MODIFIER = "ERR Error in ACL SETUSER modifier '%s': %s"
ACL_UNMATCHED_PAREN = "ERR Unmatched parenthesis in acl selector starting at '%s'."
ACL_USERNAME_SPACES = "ERR Usernames can't contain spaces or null characters"
ACL_UNKNOWN_CATEGORY = "ERR Unknown category '%s'"
ACL_DELETE_DEFAULT = "ERR The 'default' user cannot be removed"
ACL_GENPASS_BITS = ("ERR ACL GENPASS argument must be the number of bits for the output password, "
                    "a positive number up to 4096")
ACL_DRYRUN_NO_USER = "ERR User '%s' not found"
ACL_DRYRUN_NO_COMMAND = "ERR Command '%s' not found"
ACL_NO_FILE = ("ERR This Redis instance is not configured to use an ACL file. You may want to "
               "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE "
               "(assuming you have a Redis configuration file set) in order to store users in "
               "the Redis configuration.")
ACL_SAVE_FAILED = ("ERR There was an error trying to save the ACLs. Please check the server "
                   "logs for more information")
# ACLSetUserStringError(): the reason after "Error in ACL SETUSER modifier '...': "
ACL_RULE_UNKNOWN = "Unknown command or category name in ACL"
ACL_RULE_SYNTAX = "Syntax error"
ACL_RULE_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
ACL_RULE_BAD_HASH = ("The password hash must be exactly 64 characters and contain only "
                     "lowercase hexadecimal characters")
ACL_RULE_KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not "
                           "valid and does not have any effect. Try 'resetkeys' to start with an "
                           "empty list of patterns")
ACL_RULE_CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is "
                               "not valid and does not have any effect. Try 'resetchannels' to "
                               "start with an empty list of channels")
ACL_RULE_FIRSTARG_OF_SUB = "Allowing first-arg of a subcommand is not supported"
# ACL DRYRUN's verbose texts (getAclErrorMessage), sent as bulk strings.
ACL_DRYRUN_COMMAND = "This user has no permissions to run the '%s' command"
ACL_DRYRUN_KEY = "This user has no permissions to access the '%s' key"
ACL_DRYRUN_CHANNEL = "This user has no permissions to access the '%s' channel"
PROTECTED_MODE_DENIED = (
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    "same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "
    "started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need "
    "to do one of the above things in order for the server to start accepting connections from "
    "the outside.\r\n")


# --- observability: SLOWLOG, LATENCY, MEMORY, MONITOR, DEBUG, CLIENT PAUSE --------------
REPLICA_KEYSPACE = "ERR Replica can't interact with the keyspace"
SLOWLOG_COUNT = "ERR count should be greater than or equal to -1"
LATENCY_NO_SAMPLES = "ERR No samples available for event '%s'"
MONITOR_DENY_BLOCKING = "ERR MONITOR isn't allowed for DENY BLOCKING client"
CLIENT_PAUSE_MODE = "ERR CLIENT PAUSE mode must be WRITE or ALL"
TIMEOUT_NOT_INTEGER_MS = "ERR timeout is not an integer or out of range"
TIMEOUT_IS_NEGATIVE = "ERR timeout is negative"
DEBUG_NOT_ALLOWED = (
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can "
    "run it from a local connection, otherwise you need to set this option in the configuration "
    "file, and then restart the server.")
DEBUG_NO_SUCH_KEY = "ERR no such key"
DEBUG_POPULATE_COUNT = "ERR value is out of range, must be positive"
DEBUG_PROTOCOL_TYPE = ("ERR Wrong protocol type name. Please use one of the following: "
                       "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")


# --- stream group (t_stream.c, blocked.c) ---------------------------------------------
STREAM_INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
XADD_ID_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
XADD_ID_TOO_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
XADD_EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
XADD_TOO_LARGE = "ERR Elements are too large to be stored"
STREAM_MAXLEN_AND_MINID = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
STREAM_MAXLEN_NEGATIVE = "ERR The MAXLEN argument must be >= 0."
STREAM_LIMIT_NEGATIVE = "ERR The LIMIT argument must be >= 0."
STREAM_LIMIT_WITHOUT_STRATEGY = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
XTRIM_WITHOUT_STRATEGY = "ERR syntax error, XTRIM must be called with a trimming strategy"
STREAM_LIMIT_WITHOUT_APPROX = "ERR syntax error, LIMIT cannot be used without the special ~ option"
STREAM_INVALID_START = "ERR invalid start ID for the interval"
STREAM_INVALID_END = "ERR invalid end ID for the interval"
XGROUP_KEY_MISSING = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                      "you may want to use the MKSTREAM option to create an empty stream automatically.")
NOGROUP_FOR_KEY = "NOGROUP No such consumer group '%s' for key name '%s'"
BUSYGROUP = "BUSYGROUP Consumer Group name already exists"
ENTRIESREAD_INVALID = "ERR value for ENTRIESREAD must be positive or -1"
NOGROUP_KEY_OR_GROUP = "NOGROUP No such key '%s' or consumer group '%s'"
NOGROUP_XREADGROUP = "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option"
XREAD_UNBALANCED = "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
XREAD_GROUP_OPTION = "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
XREAD_NOACK_OPTION = "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
XREADGROUP_NO_GROUP = "ERR Missing GROUP option for XREADGROUP"
XREADGROUP_DOLLAR = ("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                     "history of this consumer by specifying a proper ID, or use the > ID to get new "
                     "messages. The $ ID would just return an empty result set.")
XREAD_GREATER_ID = ("ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                    "<group> <consumer> option.")
XCLAIM_MIN_IDLE = "ERR Invalid min-idle-time argument for XCLAIM"
XCLAIM_IDLE = "ERR Invalid IDLE option argument for XCLAIM"
XCLAIM_TIME = "ERR Invalid TIME option argument for XCLAIM"
XCLAIM_RETRYCOUNT = "ERR Invalid RETRYCOUNT option argument for XCLAIM"
XCLAIM_UNKNOWN_OPTION = "ERR Unrecognized XCLAIM option '%s'"
XAUTOCLAIM_MIN_IDLE = "ERR Invalid min-idle-time argument for XAUTOCLAIM"
XAUTOCLAIM_COUNT = "ERR COUNT must be > 0"
XSETID_ENTRIES_ADDED_NEGATIVE = "ERR entries_added must be positive"
XSETID_BELOW_GIVEN_MAX_DELETED = ("ERR The ID specified in XSETID is smaller than the provided "
                                  "max_deleted_entry_id")
XSETID_BELOW_TOP = "ERR The ID specified in XSETID is smaller than the target stream top item"
XSETID_ENTRIES_ADDED_SMALL = ("ERR The entries_added specified in XSETID is smaller than the target "
                              "stream length")
STREAM_UNBLOCKED_KEY_GONE = "UNBLOCKED the stream key no longer exists"
STREAM_UNBLOCKED_GROUP_GONE = "NOGROUP the consumer group this client was blocked on no longer exists"

# -- persistence: RDB, DUMP/RESTORE, SAVE/BGSAVE (commands/persistence.py) -------------
BUSYKEY = "BUSYKEY Target key name already exists."
DUMP_PAYLOAD_INVALID = "ERR DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "ERR Bad data format"
RESTORE_INVALID_TTL = "ERR Invalid TTL value, must be >= 0"
RESTORE_INVALID_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
RESTORE_INVALID_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"
BGSAVE_IN_PROGRESS = "ERR Background save already in progress"
BGSAVE_CHILD_ACTIVE = ("ERR Another child process is active (AOF?): can't BGSAVE right now. "
                       "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
SAVE_FAILED = "ERR"
MISCONF_RDB = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
               "to disk. Commands that may modify the data set are disabled, because this instance is "
               "configured to report errors during writes if RDB snapshotting fails "
               "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "
               "the RDB error.")

# -------------------------------------------------------------------------------------
# Scripting: EVAL, SCRIPT, FUNCTION, FCALL (eval.c, script.c, functions.c)
# -------------------------------------------------------------------------------------
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
NUMKEYS_NEGATIVE = "ERR Number of keys can't be negative"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
BUSY_SCRIPT = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
NOTBUSY = "NOTBUSY No scripts in execution right now."
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the dataset. "
              "You can either wait the script termination or kill the server in a hard way using "
              "the SHUTDOWN NOSAVE command.")
SCRIPT_COMPILE = "ERR Error compiling script (new function): %s"
SCRIPT_SHEBANG_INVALID = "ERR Invalid script shebang"
SCRIPT_SHEBANG_ENGINE = "ERR Unexpected engine in script shebang: %s"
SCRIPT_SHEBANG_FLAG = "ERR Unexpected flag in script shebang: %s"
SCRIPT_SHEBANG_OPTION = "ERR Unknown lua shebang option: %s"
SCRIPT_WRITE_FLAG_RO = "ERR Can not execute a script with write flag using *_ro command."
SCRIPT_FLUSH_OPTION = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
FUNCTION_FLUSH_OPTION = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
SCRIPT_OOM = "ERR Error running script %s, not enough memory"
SCRIPT_MISCONF_RDB = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
                      "persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.")
NOPERM_EXEC = ("NOPERM ACLs rules changed between the moment the transaction was accumulated and "
               "the EXEC call. This command is no longer allowed for the following reason: %s")
NOPERM_EXEC_REASONS = {1: "no permission to execute the command or subcommand",
                       2: "no permission to touch the specified keys",
                       4: "no permission to access one of the channels used as arguments"}
# scriptVerifyACL: redis.call refused inside a script ("ERR " is added by the script error path).
NOPERM_SCRIPT = "The user executing the script %s"
NOPERM_SCRIPT_REASONS = {1: "can't run this command or subcommand",
                         2: "can't access at least one of the keys mentioned in the command arguments",
                         4: "can't publish to the channel mentioned in the command"}
DEBUG_RELOAD_OPTIONS = "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
DEBUG_RELOAD_LOAD = "ERR Error trying to load the RDB dump"

# -- replication (replication/, commands/replication.py) -----------------------------------
INVALID_MASTER_PORT = "ERR Invalid master port"
REPLICAOF_FROM_MASTER = "ERR Command is not valid when client is a replica."
REPLCONF_UNRECOGNIZED = "ERR Unrecognized REPLCONF option: %s"
NOMASTERLINK = "NOMASTERLINK Can't SYNC while not connected with my master"
WAIT_ON_REPLICA = ("ERR WAIT cannot be used with replica instances. Please also note that since "
                   "Redis 4.0 if a replica is configured to be writable (which is not the default) "
                   "writes to replicas are just local and are not propagated.")
READONLY_REPLICA = "READONLY You can't write against a read only replica."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
MASTERDOWN = ("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")

# -- MODULE / MIGRATE (commands/module.py, commands/migrate.py) ----------------------------
MODULE_NOT_ALLOWED = (
    "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you "
    "can run it from a local connection, otherwise you need to set this option in the configuration "
    "file, and then restart the server.")
MODULE_LOAD_FAILED = "ERR Error loading the extension. Please check the server logs."
MODULE_UNLOAD_NO_SUCH = "ERR Error unloading module: no such module with that name"
MIGRATE_KEYS_NEEDS_EMPTY_KEY = ("ERR When using MIGRATE KEYS option, the key argument must be set "
                                "to the empty string")
MIGRATE_TARGET_ERROR = "ERR Target instance replied with error: %s"
MIGRATE_IOERR_CONNECT = "IOERR error or timeout connecting to the client"
MIGRATE_IOERR = "IOERR error or timeout %s to target instance"

# -- cluster group and LOLWUT (commands/cluster.py, commands/lolwut.py) -------------------
CLUSTER_DISABLED = "ERR This instance has cluster support disabled"

# -- FAILOVER (replication/failover.py, commands/replication.py) ---------------------------
NO_FAILOVER_IN_PROGRESS = "ERR No failover in progress."
FAILOVER_TIMEOUT_NOT_POSITIVE = "ERR FAILOVER timeout must be greater than 0"
FAILOVER_IN_PROGRESS = "ERR FAILOVER already in progress."
FAILOVER_ON_REPLICA = "ERR FAILOVER is not valid when server is a replica."
FAILOVER_NO_REPLICAS = "ERR FAILOVER requires connected replicas."
FAILOVER_FORCE_NEEDS_TARGET = ("ERR FAILOVER with force option requires both a timeout "
                               "and target HOST and IP.")
FAILOVER_TARGET_NOT_REPLICA = "ERR FAILOVER target HOST and PORT is not a replica."
FAILOVER_TARGET_NOT_ONLINE = "ERR FAILOVER target replica is not online."
PSYNC_FAILOVER_TO_MASTER = "ERR PSYNC FAILOVER can't be sent to a master."
PSYNC_FAILOVER_REPLID = "ERR PSYNC FAILOVER replid must match my replid."
SYNC_WHILE_FAILING_OVER = "NOMASTERLINK Can't SYNC while failing over"
REPLICAOF_WHILE_FAILING_OVER = "ERR REPLICAOF not allowed while failing over."

# -- CLIENT TRACKING / CACHING (server/tracking.py, commands/client.py) ---------------------
TRACKING_SINGLE_REDIRECT = "ERR A client can only redirect to a single other client"
TRACKING_NO_SUCH_REDIRECT = "ERR The client ID you want redirect to does not exist"
TRACKING_PREFIX_NEEDS_BCAST = "ERR PREFIX option requires BCAST mode to be enabled"
TRACKING_SWITCH_BCAST = ("ERR You can't switch BCAST mode on/off before disabling tracking for this "
                         "client, and then re-enabling it with a different mode.")
TRACKING_OPTIN_OPTOUT_BCAST = "ERR OPTIN and OPTOUT are not compatible with BCAST"
TRACKING_OPTIN_AND_OPTOUT = "ERR You can't specify both OPTIN mode and OPTOUT mode"
TRACKING_SWITCH_OPTIN_OPTOUT = ("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                                "this client, and then re-enabling it with a different mode.")
TRACKING_PREFIX_OVERLAPS_EXISTING = ("ERR Prefix '%s' overlaps with an existing prefix '%s'. "
                                     "Prefixes for a single client must not overlap.")
TRACKING_PREFIX_OVERLAPS_GIVEN = ("ERR Prefix '%s' overlaps with another provided prefix '%s'. "
                                  "Prefixes for a single client must not overlap.")
CACHING_YES_NEEDS_OPTIN = "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
CACHING_NO_NEEDS_OPTOUT = "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."

# -- DEBUG (commands/debug.py) ---------------------------------------------------------------
DEBUG_PUSH_RESP2 = "ERR RESP2 is not supported by this command"
DEBUG_PACKED_THRESHOLD = "ERR argument must be a memory value bigger than 1 and smaller than 4gb"
DEBUG_OUT_OF_RANGE_DB = "ERR Out of range database"
DEBUG_NOT_HASHTABLE = "ERR The value stored at the specified key is not represented using an hash table"
DEBUG_NOT_LISTPACK = "ERR Not a listpack encoded object."
DEBUG_NOT_QUICKLIST = "ERR Not a quicklist encoded object."
DEBUG_CONFIG_REWRITE_FAILED = "ERR CONFIG-REWRITE-FORCE-ALL failed: %s"
DEBUG_MALLCTL_ENOENT = "ERR No such file or directory"
DEBUG_CLUSTER_ONLY = "ERR Debug option only available for cluster mode enabled setup!"

# -- CONFIG SET port / bind at run time (server/listeners.py): CONFIG_SET_FAILED reasons ------
LISTEN_PORT_REFUSED = "Unable to listen on this port. Check server logs."
LISTEN_BIND_REFUSED = "Failed to bind to specified addresses."

# -- SORT with ACL (commands/sort.py) -------------------------------------------------------
SORT_BY_ACL_DENIED = "ERR BY option of SORT denied due to insufficient ACL permissions."
SORT_GET_ACL_DENIED = "ERR GET option of SORT denied due to insufficient ACL permissions."

# -- Scripting and functions (unit/scripting, unit/functions: scripting/, commands/scripting.py) --
SCRIPT_SHEBANG_NO_ENGINE = "ERR Invalid engine in script shebang"
LIBRARY_METADATA_INVALID = "ERR Invalid library metadata"
