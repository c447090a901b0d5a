"""ferrous/config.py: the parameter table, redis.conf syntax, the command line,
conf/ferrous.conf and CONFIG REWRITE (checked against a real redis-server's rewrite)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from servers import ROOT, free_port, wait_for_port

from ferrous.config import (
    HIDDEN, PARAMS, Config, ConfigError, ConfigFileError, command_line_to_config, render_default_conf,
)

CONF = os.path.join(ROOT, "conf", "ferrous.conf")


def _rendered(config: Config) -> dict:
    return {p.name: config.render(p) for p in PARAMS}


def _load(text: str) -> Config:
    config = Config()
    config.load_text(text.encode())
    return config


# -- conf/ferrous.conf -----------------------------------------------------------------
def test_conf_file_is_generated_from_the_table():
    with open(CONF) as fh:
        assert fh.read() == render_default_conf(), "regenerate: python -m ferrous.config > conf/ferrous.conf"


def test_conf_file_yields_exactly_the_defaults():
    config = Config()
    config.load_file(CONF)
    assert _rendered(config) == _rendered(Config())


def test_conf_file_sets_every_parameter_with_a_value_explicitly():
    directives = set()
    with open(CONF) as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                directives.add(line.split()[0])
    defaults = Config()
    expected = {p.name for p in PARAMS if HIDDEN not in p.flags and defaults.render(p) != ""}
    assert expected - directives == set()
    assert directives <= {p.name for p in PARAMS}


# -- redis.conf syntax -------------------------------------------------------------------
def test_comments_blank_lines_indentation_and_crlf():
    config = _load("# a comment\n\n   port 7001   \r\n\t# indented comment\nmaxclients 42\r\n")
    assert (config.port, config.maxclients) == (7001, 42)


def test_directive_names_are_case_insensitive():
    assert _load("PORT 7002\nMaxMemory 1mb\n").maxmemory == 1024 * 1024


def test_double_quotes_with_escapes_and_single_quotes():
    config = _load('requirepass "a b\\x41\\n"\nmasterauth \'it\\\'s\'\nlogfile ""\n')
    assert config.requirepass == "a bA\n"
    assert config.masterauth == "it's"
    assert config.logfile == ""


def test_unbalanced_quotes_are_fatal():
    with pytest.raises(ConfigFileError) as exc:
        _load('port 1\nrequirepass "abc\n')
    assert exc.value.reason == "Unbalanced quotes in configuration line"
    assert exc.value.lineno == 2


@pytest.mark.parametrize("text, expected", [
    ("1", 1), ("1b", 1), ("1B", 1), ("1k", 1000), ("1K", 1000), ("1kb", 1024), ("1KB", 1024), ("1Kb", 1024),
    ("1m", 1000**2), ("1M", 1000**2), ("1mb", 1024**2), ("2MB", 2 * 1024**2), ("1g", 1000**3),
    ("1G", 1000**3), ("1gb", 1024**3), ("3Gb", 3 * 1024**3), ("0", 0), ("", 0),
])
def test_memory_units(text, expected):
    assert _load(f'maxmemory "{text}"\n').maxmemory == expected


@pytest.mark.parametrize("text", ["-1", "1.5mb", "1kib", "1 kb", "+1", "mb1", "1t"])
def test_bad_memory_values_are_fatal(text):
    with pytest.raises(ConfigFileError) as exc:
        _load(f'maxmemory "{text}"\n')
    assert exc.value.reason == "argument must be a memory value"


def test_units_are_only_for_memory_parameters():
    with pytest.raises(ConfigFileError) as exc:
        _load("timeout 1k\n")
    assert exc.value.reason == "argument couldn't be parsed into an integer"


@pytest.mark.parametrize("text, reason", [
    ("foo bar", "Bad directive or wrong number of arguments"),
    ("port 1 2", "wrong number of arguments"),
    ("port 70000", "argument must be between 0 and 65535 inclusive"),
    ("appendonly maybe", "argument must be 'yes' or 'no'"),
    ("loglevel loud", "argument(s) must be one of the following: debug, verbose, notice, warning"),
    ("save 1", "Invalid save parameters"),
    ("dbfilename a/b.rdb", "dbfilename can't be a path, just a filename"),
    ("maxmemory-clients 101%", "percentage argument must be less or equal to 100"),
    ("notify-keyspace-events Q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
    ("client-output-buffer-limit master 1 1 1",
     "Invalid client class specified in buffer limit configuration."),
])
def test_fatal_errors_name_the_line(text, reason):
    with pytest.raises(ConfigFileError) as exc:
        _load(f"# first\n{text}\n")
    assert (exc.value.reason, exc.value.lineno, exc.value.line) == (reason, 2, text)
    assert "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in str(exc.value.code)


def test_immutable_parameters_load_from_the_file():
    config = _load("databases 4\ndaemonize no\n")
    assert config.databases == 4
    with pytest.raises(ConfigError) as exc:
        config.set("databases", b"5")
    assert exc.value.reason == "can't set immutable config"


def test_aliases_set_the_primary_parameter():
    config = _load("slave-read-only no\nhash-max-ziplist-entries 7\nslaveof 10.0.0.1 6380\n")
    assert config.replica_read_only is False
    assert config.hash_max_listpack_entries == 7
    assert config.replicaof == ("10.0.0.1", 6380)
    assert config.get("slaveof") == config.get("replicaof") == "10.0.0.1 6380"


def test_deprecated_directives_are_ignored():
    assert _load("list-max-ziplist-entries 10\nlua-replicate-commands yes\n").port == 6379


def test_save_lines_add_up_and_empty_save_resets():
    assert _load("save 900 1\nsave 300 10\n").save == [(900, 1), (300, 10)]
    assert _load("save 900 1\nsave \"\"\n").save == []
    assert _load('save ""\nsave 60 5\n').save == [(60, 5)]
    assert _load("port 1\n").save == [(3600, 1), (300, 100), (60, 10000)]


def test_client_output_buffer_limit_classes_merge():
    config = _load("client-output-buffer-limit pubsub 1mb 512kb 30\nclient-output-buffer-limit replica 2gb 1gb 0\n")
    assert config.get("client-output-buffer-limit") == (
        "normal 0 0 0 slave 2147483648 1073741824 0 pubsub 1048576 524288 30")


def test_hz_is_clamped():
    assert _load("hz 1000\n").hz == 500
    assert _load("hz 0\n").hz == 1


def test_include_relative_glob_and_missing(tmp_path, monkeypatch):
    (tmp_path / "frag").mkdir()
    (tmp_path / "frag" / "a.conf").write_text("maxclients 11\n")
    (tmp_path / "frag" / "b.conf").write_text("maxclients 22\ntimeout 5\n")
    (tmp_path / "one.conf").write_text("port 7003\n")
    main = tmp_path / "main.conf"
    main.write_text("include one.conf\ninclude frag/*.conf\ninclude nothing/*.conf\n")
    monkeypatch.chdir(tmp_path)
    config = Config()
    config.load_file(str(main))
    assert (config.port, config.maxclients, config.timeout) == (7003, 22, 5)
    assert config.config_file == str(main)
    with pytest.raises(ConfigFileError) as exc:
        _load("include missing.conf\n")
    assert "can't open config file 'missing.conf'" in exc.value.reason


def test_dir_is_absolute_and_must_exist(tmp_path):
    config = _load(f"dir {tmp_path}\n")
    assert config.dir == str(tmp_path)
    config = _load(f"dir {tmp_path}\ndir .\n")
    assert config.dir == str(tmp_path)
    with pytest.raises(ConfigFileError) as exc:
        _load(f"dir {tmp_path}/missing\n")
    assert exc.value.reason == "No such file or directory"


def test_non_parameter_directives_are_kept_for_their_modules():
    config = _load("rename-command FLUSHALL \"\"\nuser bob on >pw ~* +@all\nmymod.limit 5\n")
    assert config.renamed_commands == [("flushall", "")]
    assert config.acl_users == [["bob", "on", ">pw", "~*", "+@all"]]
    assert config.module_configs == {"mymod.limit": "5"}


# -- the command line --------------------------------------------------------------------
def test_command_line_port_and_empty_save():
    config = Config()
    config.apply_args(["--port", "7000", "--save", ""])
    assert (config.port, config.save) == (7000, [])


@pytest.mark.parametrize("argv, save", [
    (["--save"], []),                                  # last: save ""
    (["--save", "--port", "7004"], []),                # followed by an option: save ""
    (["--save", "60", "1", "--save", "30", "2"], [(60, 1), (30, 2)]),
    (["--save", "60 1 30 2"], [(60, 1), (30, 2)]),
])
def test_command_line_save(argv, save):
    config = Config()
    config.apply_args(argv)
    assert config.save == save


def test_command_line_values_may_start_with_dashes_and_contain_quotes():
    config = Config()
    config.apply_args(["--requirepass", "--secret", "--masterauth", 'a "b" c', "--maxmemory 2mb"])
    assert (config.requirepass, config.masterauth, config.maxmemory) == ("--secret", 'a "b" c', 2 * 1024**2)


def test_command_line_builds_config_lines():
    assert command_line_to_config(["--port", "7000", "--save", "", "--bind", "127.0.0.1", "::1"]) == (
        'port "7000" \nsave "" \nbind "127.0.0.1" "::1" ')


def test_command_line_is_appended_to_the_file(tmp_path):
    path = tmp_path / "r.conf"
    path.write_text("save 900 1\nport 7005\n")
    config = Config()
    config.load(str(path), ["--save", "60", "1", "--port", "7006"])
    assert (config.save, config.port) == ([(900, 1), (60, 1)], 7006)


def test_bad_command_line_option_is_fatal():
    with pytest.raises(ConfigFileError) as exc:
        Config().apply_args(["--no-such-option", "1"])
    assert exc.value.reason == "Bad directive or wrong number of arguments"


# -- CONFIG REWRITE ----------------------------------------------------------------------
OLD_CONF = """\
# top comment
port 7931
   # indented comment
slave-read-only yes
hash-max-ziplist-entries 128
save 900 1
save 300 10
maxmemory 1mb
timeout 0
timeout 0
"""


def test_rewrite_keeps_layout_replaces_options_and_appends_new_ones(tmp_path):
    path = tmp_path / "r.conf"
    path.write_text(OLD_CONF)
    config = Config()
    config.load_file(str(path))
    config.set_many([(b"maxmemory", b"2mb"), (b"timeout", b"5"), (b"save", b"60 1"),
                     (b"notify-keyspace-events", b"Ex"), (b"hz", b"20"), (b"requirepass", b"abc")])
    config.rewrite()
    assert path.read_text() == (
        "# top comment\n"
        "port 7931\n"
        "# indented comment\n"
        "replica-read-only yes\n"
        "hash-max-listpack-entries 128\n"
        "save 60 1\n"
        "\n"
        "maxmemory 2mb\n"
        "timeout 5\n"
        "\n"
        "# Generated by CONFIG REWRITE\n"
        f'dir "{os.getcwd()}"\n'
        'requirepass "abc"\n'
        "latency-tracking-info-percentiles 50 99 99.9\n"
        'notify-keyspace-events "xE"\n'
        "hz 20\n"
        "user default on #ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ~* &* +@all\n"
    )
    again = Config()
    again.load_file(str(path))
    assert _rendered(again) == _rendered(config)


def test_rewrite_without_a_config_file():
    with pytest.raises(ConfigError) as exc:
        Config().rewrite()
    assert exc.value.reason == "The server is running without a config file"


# -- against redis-server: the same file, the same CONFIG SETs, the same rewrite ---------
REWRITE_SETS = [
    ["maxmemory", "2mb"], ["timeout", "5", "hz", "20"], ["notify-keyspace-events", "Ex"],
    ["client-output-buffer-limit", "pubsub 1mb 1mb 0"], ["maxmemory-clients", "5%"],
    ["slowlog-max-len", "100"], ["replica-priority", "7"], ["save", "100 1"],
    ["shutdown-on-sigterm", "nosave now"], ["proc-title-template", "{title} {port}"],
]


def _start(kind: str, conf: str, cwd: str):
    port = free_port()
    with open(conf, "a") as fh:
        fh.write(f"port {port}\n")
    if kind == "redis":
        cmd = [shutil.which("redis-server"), conf]
    else:
        cmd = [sys.executable, "-m", "ferrous", conf]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, port


def test_rewrite_matches_redis_server(tmp_path):
    import redis
    files = {}
    for kind in ("redis", "ferrous"):
        workdir = tmp_path / kind
        workdir.mkdir()
        conf = workdir / "server.conf"
        conf.write_text(OLD_CONF.replace("port 7931\n", "") + "bind 127.0.0.1\nappendonly no\n")
        proc, port = _start(kind, str(conf), str(workdir))
        try:
            client = redis.Redis(port=port)
            for args in REWRITE_SETS:
                client.config_set(*args[:2]) if len(args) == 2 else client.execute_command("CONFIG", "SET", *args)
            client.execute_command("CONFIG", "REWRITE")
            client.close()
        finally:
            proc.terminate()
            proc.wait(10)
        files[kind] = conf.read_text().replace(str(workdir), "<dir>").replace(f"port {port}\n", "port <port>\n")
    # Appended lines follow Redis's hash-table order: compare them as a set.
    head = {kind: text.split("# Generated by CONFIG REWRITE\n") for kind, text in files.items()}
    assert head["ferrous"][0] == head["redis"][0]
    assert sorted(head["ferrous"][1].splitlines()) == sorted(head["redis"][1].splitlines())
