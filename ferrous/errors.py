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
