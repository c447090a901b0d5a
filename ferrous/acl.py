"""Access control as Redis 7.0 does it (acl.c): users, selectors, the SETUSER rule
grammar, permission checks, the ACL LOG, and the aclfile format.

Threading: every change to users or to the log happens under `Acl.lock`. A check
on the hot path reads `user.selectors` once; SETUSER never changes a published
Selector, it builds new ones and swaps the list, so a worker checking a command
sees either the old rules or the new ones, never a mix.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

from ferrous import errors
from ferrous.commands import registry
from ferrous.storage.glob import glob_match

READ, WRITE = 1, 2
ALL_PERMS = READ | WRITE
# ACLCheckAllUserCommandPerm's results, in the order Redis ranks them.
OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4
REASONS = {DENIED_CMD: "command", DENIED_KEY: "key", DENIED_AUTH: "auth", DENIED_CHANNEL: "channel"}
LOG_GROUPING_MS = 60000
LOG_SCAN_DEPTH = 10


class RuleError(Exception):
    """A SETUSER rule that cannot be applied; text is ACLSetUserStringError()."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


# -- the command table as ACL sees it ----------------------------------------------
_INDEX: dict = {"size": -1, "all": [], "categories": {}, "top_level": {}, "names": {}}
# Commands moved or removed by rename-command, by original name: ACL rules, categories
# and descriptions use Redis's orig_commands table, which keeps them.
RENAMED: dict = {}


def _index() -> dict:
    """All commands and each category's members, rebuilt when the table changes."""
    size = (len(registry.TABLE), len(RENAMED))
    if _INDEX["size"] != size:
        original = {cmd.name: cmd for cmd in registry.TABLE.values()}
        original.update(RENAMED)
        everything = []
        for cmd in original.values():
            everything.append(cmd)
            everything.extend(cmd.subcommands.values())
        categories = {c: [cmd for cmd in everything if c in cmd.categories]
                      for c in registry.CATEGORY_ORDER}
        # ACLCountCategoryBitsForSelector counts top-level commands only.
        top_level = {c: [cmd for cmd in original.values() if c in cmd.categories]
                     for c in registry.CATEGORY_ORDER}
        _INDEX.update(size=size, all=everything, categories=categories, top_level=top_level,
                      names=original)
    return _INDEX


def all_commands() -> list:
    """Every command and sub-command, parents before their sub-commands."""
    return _index()["all"]


def commands_in_category(category: str) -> list:
    return _index()["categories"].get(category, [])


def lookup_command(name: str):
    """ACLLookupCommand: 'get' or 'config|get'; None when unknown."""
    parts = name.lower().split("|")
    cmd = _index()["names"].get(parts[0])
    if cmd is None or len(parts) == 1:
        return cmd
    if len(parts) > 2 or not cmd.subcommands:
        return None
    return cmd.subcommands.get(parts[1].encode("utf-8", "surrogateescape"))


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def _valid_hash(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _has_spaces(data: bytes) -> bool:
    """ACLStringHasSpaces: spaces and NUL are refused in names and channel patterns."""
    return any(c in b" \0" for c in data) if isinstance(data, bytes) else any(c in " \0" for c in data)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# -- selectors ----------------------------------------------------------------------
class Selector:
    """aclSelector: key patterns, channel patterns and the allowed commands."""

    __slots__ = ("allkeys", "patterns", "allchannels", "channels", "allowed", "future", "firstargs")

    def __init__(self, allchannels: bool = False):
        self.allkeys = False
        self.patterns: list = []         # [pattern bytes, READ|WRITE]
        self.allchannels = allchannels
        self.channels: list = []         # channel patterns (bytes)
        self.allowed: set = set()        # Command objects
        self.future = False              # +@all's reserved bit: commands added later are allowed
        self.firstargs: dict = {}        # Command -> [first argument, ...] (+select|0)

    def copy(self) -> "Selector":
        new = Selector.__new__(Selector)
        new.allkeys, new.allchannels, new.future = self.allkeys, self.allchannels, self.future
        new.patterns = [list(p) for p in self.patterns]
        new.channels = list(self.channels)
        new.allowed = set(self.allowed)
        new.firstargs = {cmd: list(args) for cmd, args in self.firstargs.items()}
        return new

    @property
    def allcommands(self) -> bool:
        return self.future and len(self.allowed) >= len(all_commands())

    # -- rules ------------------------------------------------------------------
    def apply(self, op: bytes) -> None:
        """ACLSetSelector: one key, channel or command rule."""
        lower = op.lower()
        if lower in (b"allkeys", b"~*"):
            self.allkeys, self.patterns = True, []
        elif lower == b"resetkeys":
            self.allkeys, self.patterns = False, []
        elif lower in (b"allchannels", b"&*"):
            self.allchannels, self.channels = True, []
        elif lower == b"resetchannels":
            self.allchannels, self.channels = False, []
        elif lower in (b"allcommands", b"+@all"):
            self.allowed, self.future, self.firstargs = set(all_commands()), True, {}
        elif lower in (b"nocommands", b"-@all"):
            self.allowed, self.future, self.firstargs = set(), False, {}
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
        elif op[:1] == b"&":
            self._add_channel(op[1:])
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            self._apply_category(_text(op[2:]), op[:1] == b"+")
        elif op[:1] == b"+":
            self._allow_command(_text(op[1:]))
        elif op[:1] == b"-":
            cmd = lookup_command(_text(op[1:]))
            if cmd is None:
                raise RuleError(errors.ACL_RULE_UNKNOWN)
            self.change(cmd, False)
        else:
            raise RuleError(errors.ACL_RULE_SYNTAX)

    def _add_key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(errors.ACL_RULE_KEYS_AFTER_ALL)
        flags, offset = ALL_PERMS, 1
        if op[:1] == b"%":
            flags = 0
            while offset < len(op):
                c = op[offset:offset + 1].upper()
                if c == b"R" and not flags & READ:
                    flags |= READ
                elif c == b"W" and not flags & WRITE:
                    flags |= WRITE
                elif c == b"~":
                    offset += 1
                    break
                else:
                    raise RuleError(errors.ACL_RULE_SYNTAX)
                offset += 1
        pattern = op[offset:]
        if _has_spaces(pattern):
            raise RuleError(errors.ACL_RULE_SYNTAX)
        for existing in self.patterns:
            if existing[0] == pattern:
                existing[1] |= flags      # %R~x then %W~x is ~x
                return
        self.patterns.append([pattern, flags])

    def _add_channel(self, pattern: bytes) -> None:
        if self.allchannels:
            raise RuleError(errors.ACL_RULE_CHANNELS_AFTER_ALL)
        if _has_spaces(pattern):
            raise RuleError(errors.ACL_RULE_SYNTAX)
        if pattern not in self.channels:
            self.channels.append(pattern)

    def _apply_category(self, category: str, allow: bool) -> None:
        category = category.lower()
        if category not in registry.CATEGORY_ORDER:
            raise RuleError(errors.ACL_RULE_UNKNOWN)
        # A container in the category (CLIENT is @slow) carries all its sub-commands.
        for cmd in commands_in_category(category):
            self.change(cmd, allow)

    def _allow_command(self, name: str) -> None:
        if "|" not in name:
            cmd = lookup_command(name)
            if cmd is None:
                raise RuleError(errors.ACL_RULE_UNKNOWN)
            self.change(cmd, True)
            return
        base, _, first = name.rpartition("|")
        cmd = lookup_command(base)
        if cmd is None:
            raise RuleError(errors.ACL_RULE_UNKNOWN)
        if cmd.parent is not None:
            raise RuleError(errors.ACL_RULE_FIRSTARG_OF_SUB)
        if not first:
            raise RuleError(errors.ACL_RULE_SYNTAX)
        if cmd.subcommands:
            sub = lookup_command(name)
            if sub is None:
                raise RuleError(errors.ACL_RULE_UNKNOWN)
            self.change(sub, True)
            return
        # +select|0: a first argument allowed for an otherwise blocked command.
        args = self.firstargs.setdefault(cmd, [])
        if first.lower() not in (a.lower() for a in args):
            args.append(first)

    def change(self, cmd, allow: bool) -> None:
        """ACLChangeSelectorPerm: the command and all of its sub-commands."""
        targets = [cmd, *cmd.subcommands.values()]
        if allow:
            self.allowed.update(targets)
        else:
            self.allowed.difference_update(targets)
        self.firstargs.pop(cmd, None)

    # -- checks -----------------------------------------------------------------
    def check(self, cmd, argv: list, cache: dict):
        """ACLSelectorCheckCmd: (result, argument position of the refused key/channel)."""
        if cmd not in self.allowed and not cmd.no_auth:
            args = self.firstargs.get(cmd)
            if not args or len(argv) < 2:
                return DENIED_CMD, 0
            first = argv[2 if cmd.parent is not None else 1].lower()
            if not any(first == a.lower().encode("utf-8", "surrogateescape") for a in args):
                return DENIED_CMD, 0
        if not self.allkeys:
            keys = cache.get("keys")
            if keys is None:
                keys = cache["keys"] = command_keys(cmd, argv)
            for pos, need in keys:
                if not self.key_allowed(argv[pos], need):
                    return DENIED_KEY, pos
        if not self.allchannels:
            channels = cache.get("channels")
            if channels is None:
                channels = cache["channels"] = command_channels(cmd, argv)
            for pos, is_pattern in channels:
                if not channel_allowed(self.channels, argv[pos], is_pattern):
                    return DENIED_CHANNEL, pos
        return OK, 0

    def unrestricted_keys(self, need: int) -> bool:
        """ACLSelectorHasUnrestrictedKeyAccess: allkeys, or the literal pattern "*"
        with the `need` permissions (so ~v* is not enough, %R~* is for reading)."""
        return self.allkeys or any(pattern == b"*" and flags & need == need
                                   for pattern, flags in self.patterns)

    def key_allowed(self, key: bytes, need: int) -> bool:
        if self.allkeys:
            return True
        for pattern, flags in self.patterns:
            if flags & need == need and glob_match(pattern, key):
                return True
        return False

    # -- descriptions -----------------------------------------------------------
    def describe_keys(self) -> str:
        if self.allkeys:
            return "~*"
        return " ".join(_pattern_text(p, f) for p, f in self.patterns)

    def describe_channels(self, with_reset: bool) -> str:
        if self.allchannels:
            return "&*"
        parts = ["resetchannels"] if with_reset else []
        parts += ["&" + _text(c) for c in self.channels]
        return " ".join(parts)

    def describe(self) -> str:
        """ACLDescribeSelector: keys, channels, then command rules."""
        parts = [self.describe_keys(), self.describe_channels(True), describe_commands(self)]
        return " ".join(p for p in parts if p)


def _pattern_text(pattern: bytes, flags: int) -> str:
    prefix = {ALL_PERMS: "~", READ: "%R~", WRITE: "%W~"}[flags]
    return prefix + _text(pattern)


def channel_allowed(patterns: list, channel: bytes, is_pattern: bool) -> bool:
    """ACLCheckChannelAgainstList: a pattern subscription must appear literally."""
    for pattern in patterns:
        if (pattern == channel) if is_pattern else glob_match(pattern, channel):
            return True
    return False


def describe_commands(selector: Selector) -> str:
    """ACLDescribeSelectorCommandRules: +@all or -@all, the categories that best fit
    the allowed set, then single commands to make it exact."""
    additive = not selector.future
    fake = Selector()
    rules = ["-@all" if additive else "+@all"]
    fake.apply(b"-@all" if additive else b"+@all")
    temp = selector.copy()
    applied: set = set()
    while True:
        best, mindiff, maxsame = None, None, 0
        for category in registry.CATEGORY_ORDER:
            if category in applied:
                continue
            members = _index()["top_level"][category]
            on = sum(1 for cmd in members if cmd in temp.allowed)
            off = len(members) - on
            diff, same = (off, on) if additive else (on, off)
            if same > diff and (mindiff is None or diff < mindiff or (diff == mindiff and same > maxsame)):
                best, mindiff, maxsame = category, diff, same
        if best is None:
            break
        sign, inverse = ("+", "-") if additive else ("-", "+")
        fake.apply(f"{sign}@{best}".encode())
        temp.apply(f"{inverse}@{best}".encode())
        rules.append(f"{sign}@{best}")
        applied.add(best)
    for cmd in all_commands():
        mine, predicted = cmd in selector.allowed, cmd in fake.allowed
        if mine != predicted:
            rules.append(("+" if mine else "-") + cmd.name)
            fake.change(cmd, mine)
        if not mine:
            rules.extend(f"+{cmd.name}|{arg}" for arg in selector.firstargs.get(cmd, ()))
    return " ".join(rules)


# -- users --------------------------------------------------------------------------
class User:
    __slots__ = ("name", "enabled", "nopass", "sanitize", "passwords", "selectors", "unrestricted",
                 "__weakref__")

    def __init__(self, name: str, allchannels: bool = False):
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = None            # "sanitize-payload" / "skip-sanitize-payload" / None
        self.passwords: list = []       # sha256 hex digests
        self.selectors: list = [Selector(allchannels)]   # the root selector first
        self.unrestricted = False       # every command, key and channel: no check needed

    def copy(self, name: str | None = None) -> "User":
        new = User(self.name if name is None else name)
        new.enabled, new.nopass, new.sanitize = self.enabled, self.nopass, self.sanitize
        new.passwords = list(self.passwords)
        new.selectors = [s.copy() for s in self.selectors]
        return new

    def assign(self, other: "User") -> None:
        """ACLCopyUser into a published user: restrictions before the new rules, so a
        concurrent check never runs unchecked against narrower rules."""
        self.unrestricted = False
        self.enabled, self.nopass, self.sanitize = other.enabled, other.nopass, other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = other.selectors
        self.unrestricted = _unrestricted(other.selectors)

    def full_key_access(self, cmd, argv: list, need: int = READ) -> bool:
        """ACLUserCheckCmdWithUnrestrictedKeyAccess: one selector allows the command
        and every key (SORT's BY and GET read keys named by patterns)."""
        cache: dict = {}
        return any(s.check(cmd, argv, cache)[0] == OK and s.unrestricted_keys(need)
                   for s in self.selectors)

    def refresh(self) -> None:
        """Recompute the no-check flag of a user not yet visible to any connection."""
        self.unrestricted = _unrestricted(self.selectors)

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    def flags(self) -> list:
        flags = ["on" if self.enabled else "off"]
        if self.nopass:
            flags.append("nopass")
        if self.sanitize:
            flags.append(self.sanitize)
        return flags

    def describe(self) -> str:
        """ACLDescribeUser: the rules that recreate this user (ACL LIST, aclfile, config)."""
        parts = self.flags() + ["#" + h for h in self.passwords] + [self.root.describe()]
        parts += [f"({s.describe()})" for s in self.selectors[1:]]
        return " ".join(p for p in parts if p)

    # -- rules ------------------------------------------------------------------
    def apply(self, op: bytes, pubsub_default: bool) -> None:
        """ACLSetUser: one rule (user flags and passwords here, the rest on the root selector)."""
        if not op:
            return
        lower = op.lower()
        if lower in (b"on", b"off"):
            self.enabled = lower == b"on"
        elif lower in (b"sanitize-payload", b"skip-sanitize-payload"):
            self.sanitize = _text(lower)
        elif lower == b"nopass":
            self.nopass, self.passwords = True, []
        elif lower == b"resetpass":
            self.nopass, self.passwords = False, []
        elif op[:1] in (b">", b"#"):
            digest = self._digest(op)
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            digest = self._digest(op)
            if digest not in self.passwords:
                raise RuleError(errors.ACL_RULE_NO_SUCH_PASSWORD)
            self.passwords.remove(digest)
        elif op[:1] == b"(" and op[-1:] == b")":
            selector = Selector(pubsub_default)
            for part in op[1:-1].split(b" "):
                if part:
                    selector.apply(part)
            self.selectors.append(selector)
        elif lower == b"clearselectors":
            del self.selectors[1:]
        elif lower == b"reset":
            for rule in (b"resetpass", b"resetkeys", b"resetchannels"):
                self.apply(rule, pubsub_default)
            if pubsub_default:
                self.apply(b"allchannels", pubsub_default)
            for rule in (b"off", b"sanitize-payload", b"clearselectors", b"-@all"):
                self.apply(rule, pubsub_default)
        else:
            self.root.apply(op)

    @staticmethod
    def _digest(op: bytes) -> str:
        if op[:1] in (b">", b"<"):
            return hash_password(op[1:])
        text = _text(op[1:])
        if not _valid_hash(text):
            raise RuleError(errors.ACL_RULE_BAD_HASH)
        return text

    def check_password(self, password: bytes) -> bool:
        """ACLCheckUserCredentials: compares every hash in constant time."""
        if not self.enabled:
            return False
        if self.nopass:
            return True
        digest = hash_password(password)
        match = False
        for stored in self.passwords:
            match |= hmac.compare_digest(stored, digest)
        return match


def _unrestricted(selectors: list) -> bool:
    return any(s.allkeys and s.allchannels and s.allcommands for s in selectors)


def merge_selector_args(args: list) -> list:
    """ACLMergeSelectorArguments: '(~x' '+get)' become one '(~x +get)' rule.
    Raises RuleError with the text of an unmatched '('."""
    merged, current, start = [], None, None
    for arg in args:
        if current is None and arg[:1] == b"(" and arg[-1:] != b")":
            current, start = arg, arg
            continue
        if current is not None:
            current += b" " + arg
            if arg[-1:] == b")":
                merged.append(current)
                current = None
            continue
        merged.append(arg)
    if current is not None:
        raise RuleError(errors.ACL_UNMATCHED_PAREN % _text(start))
    return merged


def default_user() -> User:
    """ACLCreateDefaultUser: +@all ~* &* on nopass."""
    user = User("default")
    for rule in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
        user.apply(rule, False)
    user.refresh()
    return user


# The user of internal clients (AOF loading, a primary's link): no checks at all,
# as Redis runs them with c->user == NULL.
SUPERUSER = User("default")
SUPERUSER.enabled = SUPERUSER.nopass = SUPERUSER.unrestricted = True


# -- keys and channels of a command -------------------------------------------------
_SPECS: dict = {}
_SPEC_READ = {"access"}
_SPEC_WRITE = {"insert", "delete", "update"}


def _plain(node):
    if isinstance(node, dict):
        if "%" in node:
            return {k: _plain(v) for k, v in node["%"]}
        if "~" in node:
            return [_plain(v) for v in node["~"]]
        if "+" in node:
            return node["+"]
    return node


def _specs(cmd) -> list:
    specs = _SPECS.get(cmd.name)
    if specs is None:
        meta = registry.redis_meta().get(cmd.name, {})
        specs = _SPECS[cmd.name] = _plain(meta.get("key_specs") or {"~": []})
    return specs


def _need(flags) -> int:
    need = READ if _SPEC_READ.intersection(flags) else 0
    if _SPEC_WRITE.intersection(flags):
        need |= WRITE
    return need


def command_keys(cmd, argv: list) -> list:
    """getKeysFromCommandWithSpecs: [(position, READ|WRITE needed)] for the ACL check."""
    special = _NATIVE_KEYS.get(cmd.name)
    if special is not None:
        return special(cmd, argv)
    specs = [s for s in _specs(cmd) if "not_key" not in s["flags"]]
    if not specs:
        return []
    found = _keys_from_specs(specs, argv)
    if found is not None:
        return found
    need = 0
    for spec in specs:
        need |= _need(spec["flags"])
    try:
        return [(pos, need) for pos in cmd.key_indexes(argv) if pos < len(argv)]
    except Exception:       # a malformed numkeys: the command itself will report it
        return []


def _keys_from_specs(specs: list, argv: list) -> list | None:
    """getKeysUsingKeySpecs; None when a spec cannot be resolved (fall back)."""
    argc, found = len(argv), []
    for spec in specs:
        first = _begin_search(spec["begin_search"], argv)
        if first is None:
            return None
        if first == 0:
            continue            # keyword not present
        fk = spec["find_keys"]
        kind, arg = fk["type"], fk["spec"]
        if kind == "range":
            step, lastkey, limit = arg["keystep"], arg["lastkey"], arg["limit"]
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif kind == "keynum":
            index = first + arg["keynumidx"]
            if index >= argc:
                return None
            try:
                numkeys = int(argv[index])
            except ValueError:
                return None
            if numkeys < 0:
                return None
            step = arg["keystep"]
            first += arg["firstkey"]
            last = first + numkeys - 1
        else:
            return None
        if _numkeys_empty(kind, first, last):
            continue
        if last >= argc or last < first or first >= argc:
            return None
        need = _need(spec["flags"])
        found.extend((pos, need) for pos in range(first, last + 1, step))
        if "incomplete" in spec["flags"]:
            return None
    return found


def _numkeys_empty(kind: str, first: int, last: int) -> bool:
    # EVAL with numkeys 0 has no keys and is not an error.
    return kind == "keynum" and last == first - 1


def _begin_search(bs: dict, argv: list) -> int | None:
    kind, arg = bs["type"], bs["spec"]
    if kind == "index":
        return arg["index"]
    if kind != "keyword":
        return None
    argc, start = len(argv), arg["startfrom"]
    keyword = arg["keyword"].encode().lower()
    indexes = range(start, argc) if start > 0 else range(argc + start, 0, -1)
    for i in indexes:
        if i >= argc or i < 1:
            break
        if argv[i].lower() == keyword:
            return i + 1
    return 0


def _set_keys(cmd, argv):
    # setGetKeys: SET ... GET also reads the old value.
    has_get = any(arg.lower() == b"get" for arg in argv[3:])
    return [(1, READ | WRITE if has_get else WRITE)]


def _bitfield_keys(cmd, argv):
    """bitfieldGetKeys: only GET (and OVERFLOW) sub-operations make it a read."""
    readonly, i = True, 2
    while i < len(argv):
        op, rest = argv[i].lower(), len(argv) - i - 1
        if op == b"get" and rest >= 2:
            i += 3
        elif op == b"overflow" and rest >= 1:
            i += 2
        else:
            readonly = False
            break
    return [(1, READ if readonly else READ | WRITE)]


def _sort_keys(cmd, argv):
    """sortGetKeys: the sorted key is read; a STORE destination is written."""
    keys = [(1, READ)]
    try:
        positions = cmd.key_indexes(argv)
    except Exception:
        positions = [1]
    keys.extend((pos, WRITE) for pos in positions if pos != 1 and pos < len(argv))
    return keys


def _migrate_keys(cmd, argv):
    try:
        positions = cmd.key_indexes(argv)
    except Exception:
        return []
    return [(pos, READ | WRITE) for pos in positions if pos < len(argv)]


_NATIVE_KEYS = {"set": _set_keys, "bitfield": _bitfield_keys, "sort": _sort_keys,
                "sort_ro": _sort_keys, "migrate": _migrate_keys}
_PUBLISH = ("publish", "spublish")
_SUBSCRIBE = ("subscribe", "ssubscribe")


def command_channels(cmd, argv: list) -> list:
    """getChannelsFromCommand, publish and subscribe only: [(position, is_pattern)]."""
    name = cmd.name
    if name in _PUBLISH:
        return [(1, False)]
    if name in _SUBSCRIBE:
        return [(i, False) for i in range(1, len(argv))]
    if name == "psubscribe":
        return [(i, True) for i in range(1, len(argv))]
    return []


def check_user(user: User, cmd, argv: list) -> tuple:
    """ACLCheckAllUserCommandPerm: OK if any selector allows; else the most relevant
    refusal (channel > key > command; the later argument among equals)."""
    relevant, last = DENIED_CMD, 0
    cache: dict = {}
    for selector in user.selectors:
        result, pos = selector.check(cmd, argv, cache)
        if result == OK:
            return OK, 0
        if result > relevant or (result == relevant and pos > last):
            relevant, last = result, pos
    return relevant, last


# -- the per-server state ------------------------------------------------------------
class LogEntry:
    __slots__ = ("count", "reason", "context", "object", "username", "ctime", "cinfo")


class Acl:
    def __init__(self, config):
        self.config = config
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.default = default_user()
        self.users["default"] = self.default
        self.log: list = []             # newest first
        self.apply_requirepass(config.requirepass)

    @property
    def pubsub_default(self) -> bool:
        return self.config.acl_pubsub_default == "allchannels"

    def new_user(self, name: str) -> User:
        return User(name, self.pubsub_default)

    def get(self, name: str) -> User | None:
        return self.users.get(name)

    def names(self) -> list:
        """Users in Redis's rax order (bytewise)."""
        return sorted(self.users, key=lambda n: n.encode("utf-8", "surrogateescape"))

    def apply_requirepass(self, password) -> None:
        """ACLUpdateDefaultUserPassword: requirepass is the default user's one password."""
        with self.lock:
            staged = self.default.copy()
            staged.apply(b"resetpass", False)
            if password:
                raw = password.encode("utf-8", "surrogateescape") if isinstance(password, str) else password
                staged.apply(b">" + raw, False)
            else:
                staged.apply(b"nopass", False)
            self.default.assign(staged)

    def set_user(self, name: str, args: list) -> tuple:
        """ACLStringSetUser: all rules apply or none (raises RuleError with the full text).
        Returns (user, whether its channel rules narrowed)."""
        ops = merge_selector_args(args)
        with self.lock:
            existing = self.users.get(name)
            staged = existing.copy() if existing is not None else self.new_user(name)
            for op in ops:
                try:
                    staged.apply(op, self.pubsub_default)
                except RuleError as exc:
                    raise RuleError(errors.ACL_SETUSER_MODIFIER % (_text(op), exc.text)) from None
            if existing is None:
                staged.refresh()
                self.users[name] = staged
                return staged, False
            narrowed = _channels_narrowed(staged, existing)
            existing.assign(staged)
            return existing, narrowed

    def auth_required(self) -> bool:
        """authRequired: the default user needs a password or is disabled."""
        user = self.default
        return not user.nopass or not user.enabled

    # -- ACL LOG ----------------------------------------------------------------
    def add_log(self, reason: int, context: str, obj: str, username: str, cinfo: str) -> None:
        now = int(time.time() * 1000)
        with self.lock:
            for index, entry in enumerate(self.log[:LOG_SCAN_DEPTH]):
                if (entry.reason == reason and entry.context == context and entry.object == obj
                        and entry.username == username and now - entry.ctime <= LOG_GROUPING_MS):
                    entry.count += 1
                    entry.ctime, entry.cinfo = now, cinfo
                    self.log.insert(0, self.log.pop(index))    # the updated entry moves to the head
                    return
            entry = LogEntry()
            entry.count, entry.reason, entry.context = 1, reason, context
            entry.object, entry.username, entry.ctime, entry.cinfo = obj, username, now, cinfo
            self.log.insert(0, entry)
            self.trim_log()

    def trim_log(self) -> None:
        del self.log[max(0, self.config.acllog_max_len):]


def _channels_narrowed(new: User, old: User) -> bool:
    """ACLKillPubsubClientsIfNeeded's shortcuts: False when no subscriber can lose access."""
    if any(s.allchannels for s in new.selectors):
        return False
    upcoming = {c for s in new.selectors for c in s.channels}
    return any(s.allchannels or any(c not in upcoming for c in s.channels) for s in old.selectors)


def channels_all_allowed(user: User, conn) -> bool:
    """Whether conn's current subscriptions all survive the user's channel rules."""
    if any(s.allchannels for s in user.selectors):
        return True
    upcoming = [c for s in user.selectors for c in s.channels]
    for pattern in getattr(conn, "pubsub_patterns", None) or ():
        if not channel_allowed(upcoming, pattern, True):
            return False
    for kind in ("pubsub_channels", "pubsub_shard_channels"):
        for channel in getattr(conn, kind, None) or ():
            if not channel_allowed(upcoming, channel, False):
                return False
    return True


# -- the aclfile --------------------------------------------------------------------
def parse_acl_file(acl: Acl, path: str, directory: str = "") -> dict:
    """ACLLoadFromFile: the new users, or raises RuleError with every error found. A
    relative path is in `directory` (the `dir` Redis has chdir()ed into)."""
    try:
        with open(os.path.join(directory, path), "rb") as fh:
            content = fh.read()
    except OSError as exc:
        raise RuleError(f"Error loading ACLs, opening file '{path}': {exc.strerror}") from None
    users: dict = {}
    problems = []
    for lineno, line in enumerate(content.split(b"\n"), 1):
        line = line.strip(b" \t\r\n")
        if not line:
            continue
        argv = line.split(b" ")
        if argv[0] != b"user" or len(argv) < 2:
            problems.append(f"{path}:{lineno} should start with user keyword followed by the username. ")
            continue
        if _has_spaces(argv[1]):
            problems.append(f"'{path}:{lineno}: username '{_text(argv[1])}' contains invalid characters. ")
            continue
        name = _text(argv[1])
        if name in users:
            problems.append(f"WARNING: Duplicate user '{name}' found on line {lineno}. ")
            continue
        user = users[name] = acl.new_user(name)
        problems.extend(_apply_file_rules(acl, user, argv[2:], path, lineno))
    if problems:
        raise RuleError("".join(problems) + "WARNING: ACL errors detected, no change to the "
                        "previously active ACL rules was performed")
    return users


def _apply_file_rules(acl: Acl, user: User, args: list, path: str, lineno: int) -> list:
    try:
        ops = merge_selector_args(args)
    except RuleError:
        return [f"{path}:{lineno}: Unmatched parenthesis in selector definition."]
    problems, syntax_reported = [], False
    for op in ops:
        op = op.strip(b"\t\r\n")
        try:
            user.apply(op, acl.pubsub_default)
        except RuleError as exc:
            if exc.text == errors.ACL_RULE_UNKNOWN:
                problems.append(f"{path}:{lineno}: Error in applying operation '{_text(op)}': {exc.text}. ")
            elif not syntax_reported:
                problems.append(f"{path}:{lineno}: {exc.text}. ")
                syntax_reported = True
    return problems


def acl_file_text(acl: Acl) -> bytes:
    lines = [f"user {name} {acl.users[name].describe()}\n" for name in acl.names()]
    return "".join(lines).encode("utf-8", "surrogateescape")


def save_acl_file(acl: Acl, path: str) -> None:
    """ACLSaveToFile: write a temp file, then rename it over the old one."""
    with acl.lock:
        data = acl_file_text(acl)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
