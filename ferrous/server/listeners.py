"""CONFIG SET port / bind at run time: Redis's changeListenPort and changeBindAddr.

The new sockets are bound before the old ones close, so a refused address (the
port is taken) leaves the server listening where it was, and CONFIG SET rolls the
value back. Only an address that the old sockets hold themselves (a bind list
that keeps one of its addresses) needs the old ones closed first, as Redis does.
The acceptor picks up the new list on its next turn (io_thread.Acceptor).
"""
from __future__ import annotations

import logging
import socket

from ferrous import errors
from ferrous.config import ConfigError

log = logging.getLogger("ferrous.listeners")


def install(server) -> None:
    server.config.on_change("port", lambda value: relisten(server, errors.LISTEN_PORT_REFUSED))
    server.config.on_change("bind", lambda value: relisten(server, errors.LISTEN_BIND_REFUSED))


def relisten(server, refusal: str) -> None:
    """Listen on the configured port and addresses instead of the current ones."""
    acceptor = server.acceptor
    if acceptor is None:
        return      # not started yet: start() listens with the new values
    old = list(server.listeners)    # TCP only: the unixsocket listener stays open
    if server.config.port == 0 or not server.config.bind.split():   # no TCP listener at all
        _swap(server, acceptor, old, [])
        return
    try:
        new = server._listen()
    except OSError:
        if all(sock.getsockname()[1] != server.config.port for sock in old):
            log.warning("Failed to bind")
            raise ConfigError(refusal) from None
        # Perhaps one of our own addresses (same port): retry with the old sockets
        # closed, and if that fails too, listen again where we were (Redis re-applies
        # the old value).
        where = [(sock.family, sock.getsockname()) for sock in old]
        _close(old)
        try:
            new = server._listen()
        except OSError:
            log.warning("Failed to bind")
            _swap(server, acceptor, [], _listen_again(server, where))
            raise ConfigError(refusal) from None
    _swap(server, acceptor, old, new)


def _swap(server, acceptor, old: list, new: list) -> None:
    acceptor.listeners = new + getattr(server, "unix_listeners", [])    # unixsocket stays
    server.listeners = new
    if new:
        server.port = new[0].getsockname()[1]
    _close(old)


def _listen_again(server, where: list) -> list:
    sockets = []
    for family, address in where:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(server.config.tcp_backlog)
            sock.setblocking(False)
        except OSError as exc:
            log.warning("Could not listen on %s again: %s", address, exc)
            sock.close()
            continue
        sockets.append(sock)
    return sockets


def _close(sockets: list) -> None:
    for sock in sockets:
        try:
            sock.close()
        except OSError:
            pass
