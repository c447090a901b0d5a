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
