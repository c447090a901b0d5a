def test_set_get(r):
    assert r.set("a", "b") is True
    assert r.get("a") == b"b"
    assert r.get("missing") is None


def test_unknown_command_text(raw):
    reply = raw.call("FOO", "bar", "baz")
    assert reply.text == "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' "
