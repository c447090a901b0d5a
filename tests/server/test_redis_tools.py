"""The real Redis tools against the server: redis-cli modes and redis-benchmark."""
import subprocess

import pytest
import redis


def cli(server, *args, input=None, timeout=120):
    return subprocess.run(["redis-cli", "-p", str(server.port), *args], input=input,
                          capture_output=True, timeout=timeout)


def test_pipe_mass_insertion(server):
    client = redis.Redis(port=server.port)
    client.flushall()
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
                       for k, v in ((b"key:%d" % i, b"value:%d" % i) for i in range(100_000)))
    result = cli(server, "--pipe", input=payload)
    assert result.returncode == 0, result.stderr
    assert b"errors: 0, replies: 100000" in result.stdout
    assert client.dbsize() == 100_000
    assert client.get("key:99999") == b"value:99999"
    client.close()


def test_repeat_and_plain_commands(server):
    client = redis.Redis(port=server.port)
    client.flushall()
    result = cli(server, "-r", "5", "incr", "counter")
    assert result.stdout.split() == [b"(integer)", b"1", b"(integer)", b"2", b"(integer)", b"3",
                                      b"(integer)", b"4", b"(integer)", b"5"] or \
        result.stdout.split() == [b"1", b"2", b"3", b"4", b"5"]
    assert cli(server, "get", "counter").stdout == b"5\n"
    client.close()


def test_scan_mode(server):
    client = redis.Redis(port=server.port)
    client.flushall()
    client.mset({f"user:{i}": i for i in range(500)})
    client.mset({f"other:{i}": i for i in range(50)})
    result = cli(server, "--scan", "--pattern", "user:*")
    keys = result.stdout.split()
    assert sorted(keys) == sorted(f"user:{i}".encode() for i in range(500))
    client.close()


@pytest.mark.parametrize("pipeline", ["1", "16"])
def test_benchmark_core_tests_have_no_errors(server, pipeline):
    result = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-c", "20", "-n", "2000", "-P", pipeline,
         "-t", "ping_inline,ping_mbulk,set,get,incr,mset", "--csv"],
        capture_output=True, timeout=300)
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output
    assert "rror" not in output, output
    tests = [line.split(",")[0].strip('"') for line in result.stdout.decode().splitlines()[1:]]
    assert tests == ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"]


def test_benchmark_full_default_set_has_no_errors(server):
    client = redis.Redis(port=server.port)
    client.config_resetstat()
    result = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-c", "10", "-n", "500", "--csv"],
        capture_output=True, timeout=600)
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output
    assert "rror" not in output, output
    tests = [line.split(",")[0].strip('"') for line in result.stdout.decode().splitlines()[1:]]
    assert len(tests) == 20 and tests[-1] == "MSET (10 keys)", tests
    assert client.info("errorstats") == {}
    client.close()
