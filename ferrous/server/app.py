"""The Server: wires config, keyspace, I/O threads, workers and background threads."""
from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
import threading

from ferrous import REDIS_VERSION, __version__, replication
from ferrous.commands import registry
from ferrous.config import Config
from ferrous import errors
from ferrous.server import acl, eviction, introspection, limits, tracking
from ferrous.server.background import Cron
from ferrous.server.io_thread import Acceptor, IOThread
from ferrous.server.lazyfree import LazyFree
from ferrous.server.propagate import Propagator
from ferrous.server.stats import ServerStats
from ferrous.server.workers import WorkerPool
from ferrous.scripting.gil import gil_enabled
from ferrous.storage.keyspace import Keyspace

log = logging.getLogger("ferrous")

_UNSUPPORTED_FAMILY = (errno.ENOPROTOOPT, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT,
                       errno.EPFNOSUPPORT, errno.EAFNOSUPPORT)


class Server:
    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        registry.load_all()
        self.stats = ServerStats()
        self.keyspace = Keyspace(self.config.databases)
        self.propagator = Propagator()  # the AOF and replicas consume it
        self.aof = None                 # persistence/aof.AppendOnlyFile when appendonly is on
        self.keyspace.events.on_expired = self._on_expired
        self.clients: dict[int, object] = {}
        self._clients_lock = threading.Lock()
        self.multi_hook = None         # set by the transactions module (issue 4)
        self.busy_script = None        # the script running past busy-reply-threshold (scripting)
        _install_groups(self)
        self.run_id = os.urandom(20).hex()
        self.listeners: list[socket.socket] = []
        self.io_threads: list[IOThread] = []
        self.workers: WorkerPool | None = None
        self.acceptor: Acceptor | None = None
        self.cron = Cron(self)
        self.lazyfree = LazyFree()      # UNLINK / FLUSHALL ASYNC free big values here
        from ferrous.commands import migrate
        self.cron.tasks.append(migrate.close_timed_out_sockets)    # MIGRATE's idle connections
        replication.install(self)
        limits.install(self)
        eviction.install(self)
        from ferrous.persistence import saving
        saving.install(self)            # SAVE/BGSAVE state, save points, INFO persistence
        introspection.install(self)     # slow log, latency, MONITOR, CLIENT PAUSE, used_memory
        tracking.install(self)          # CLIENT TRACKING (client-side caching)
        from ferrous.server import listeners
        listeners.install(self)         # CONFIG SET port / bind re-listen at run time
        from ferrous.server import shutdown
        shutdown.install(self)          # SHUTDOWN / SIGTERM wait for lagging replicas
        self.shutdown_event = threading.Event()
        self.unix_listeners: list[socket.socket] = []
        self.started = False
        self.port = self.config.port

    @property
    def is_replica(self) -> bool:
        return self.replication.is_replica

    # -- lifecycle ----------------------------------------------------------
    def start(self, on_listening=None) -> None:
        from ferrous.persistence import aof
        # Listening first, as initServer does; clients are served after the load.
        self.listeners = self._listen()
        self.unix_listeners = self._listen_unix()
        if not self.listeners and not self.unix_listeners:
            raise ListenError("Configured to not listen anywhere, exiting.")
        self.port = self.listeners[0].getsockname()[1] if self.listeners else self.config.port
        if on_listening is not None:
            on_listening(self)          # the start-up log before the load, as Redis's main()
        self._create_pidfile()
        if not aof.boot(self):      # loads the AOF (when appendonly is on) before any client
            self.rdb.load_at_boot()     # else dump.rdb, as loadDataFromDisk does
        replication.start(self)     # `replicaof` in the config file
        self.io_threads = [IOThread(self, i) for i in range(self.config.io_threads)]
        self.workers = WorkerPool(self, self.config.worker_threads)
        for thread in self.io_threads:
            thread.start()
        self.workers.start()
        self.cron.start()
        self.acceptor = Acceptor(self, self.listeners + self.unix_listeners)
        self.acceptor.start()
        self.started = True

    def _create_pidfile(self) -> None:
        """createPidFile: `pidfile` holds our pid while we run (the shutdown removes it)."""
        path = self.config.pidfile
        if not path:
            return
        try:
            with open(path, "w") as fh:
                fh.write("%d\n" % os.getpid())
        except OSError as exc:
            log.warning("Failed to write PID file: %s", exc.strerror)

    def _listen_unix(self) -> list[socket.socket]:
        """`unixsocket`: a relative path is in `dir`; a stale file there is replaced and
        `unixsocketperm` applied, as anetUnixServer does."""
        if not self.config.unixsocket:
            return []
        path = os.path.join(self.config.dir, self.config.unixsocket)
        try:
            os.unlink(path)
        except OSError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            if self.config.unixsocketperm:
                os.chmod(path, self.config.unixsocketperm)
            sock.listen(self.config.tcp_backlog)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            log.warning("Failed opening Unix socket: %s", os.strerror(exc.errno or 0))
            raise ListenError(f"Failed opening Unix socket: {path}") from exc
        self.unix_socket_path = path
        return [sock]

    def _remove_unix_socket(self) -> None:
        path = getattr(self, "unix_socket_path", None)
        if path:
            log.info("Removing the unix socket file.")
            try:
                os.unlink(path)
            except OSError:
                pass

    def _listen(self) -> list[socket.socket]:
        addresses = self.config.bind.split()
        if not addresses:
            return []       # bind "": no TCP listener at all (listenToPort)
        sockets = []
        for addr in addresses:
            optional = addr.startswith("-")
            host = addr.lstrip("-")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            if host == "*":
                host, family = "0.0.0.0", socket.AF_INET
            elif host == "::*":
                host, family = "::", socket.AF_INET6
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                port = self.config.port if not sockets else sockets[0].getsockname()[1]
                sock.bind((host, port))
                sock.listen(self.config.tcp_backlog)
                sock.setblocking(False)
                sockets.append(sock)
            except OSError as exc:
                # listenToPort: an optional address may be unavailable; an address
                # family or protocol the host lacks is skipped.
                if (optional and exc.errno == errno.EADDRNOTAVAIL) or exc.errno in _UNSUPPORTED_FAMILY:
                    continue
                # Redis's two lines: tools (Redis's test suite among them) read them to
                # retry on another port.
                log.warning("Warning: Could not create server TCP listening socket %s:%d: bind: %s",
                            addr.lstrip("-"), self.config.port, os.strerror(exc.errno or 0))
                for bound in sockets:   # rolled back, as listenToPort does
                    bound.close()
                raise ListenError(f"Failed listening on port {self.config.port} (TCP), aborting.") from exc
        if not sockets:
            raise OSError("could not bind any address")
        return sockets

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        if self.acceptor:
            self.acceptor.running = False
            self.acceptor.join(timeout=2)
        for sock in self.listeners + self.unix_listeners:
            sock.close()
        self._remove_unix_socket()
        self.cron.stop()
        self.lazyfree.stop()
        for thread in self.io_threads:
            thread.stop()
        for thread in self.io_threads:
            thread.join(timeout=5)
        if self.workers:
            self.workers.stop()
        replication.stop(self)
        if self.aof is not None:
            self.aof.close()
        self.shutdown_event.set()

    def request_shutdown(self) -> None:
        """Called from a worker (SHUTDOWN): stop the server from another thread."""
        threading.Thread(target=self.stop, name="ferrous-shutdown", daemon=True).start()

    def serve_forever(self) -> None:
        self.start()
        try:
            while not self.shutdown_event.wait(0.5):
                pass
        except KeyboardInterrupt:
            self.stop()

    # -- called by the I/O side ---------------------------------------------
    def submit(self, items: list) -> None:
        self.workers.submit(items)

    def admit(self, sock, addr) -> bool:
        with self._clients_lock:
            too_many = limits.too_many_clients(self)
        if too_many:
            # acceptCommonHandler: refused connections are not counted as received.
            self.stats.add("rejected_connections")
            try:
                sock.sendall(b"-%s\r\n" % errors.MAX_CLIENTS.encode())
            except OSError:
                pass
            sock.close()
            return False
        self.stats.add("total_connections_received")
        if acl.protected_mode_denies(self, addr):    # clientAcceptHandler: DENIED, then close
            self.stats.add("rejected_connections")
            try:
                sock.sendall(errors.PROTECTED_MODE_DENIED.encode())
            except OSError:
                pass
            sock.close()
            return False
        return True

    def auth_required(self) -> bool:
        return self.acl.auth_required()

    def register_client(self, conn) -> None:
        conn.acl_user = self.acl.default
        with self._clients_lock:
            self.clients[conn.id] = conn

    def unregister_client(self, conn) -> None:
        with self._clients_lock:
            self.clients.pop(conn.id, None)
        hook = getattr(self, "on_client_gone", None)
        if hook is not None:
            hook(conn)

    def client_list(self) -> list:
        with self._clients_lock:
            return sorted(self.clients.values(), key=lambda c: c.id)

    # -- statistics -------------------------------------------------------------
    def total_commands(self) -> int:
        return sum(ctx.commands_processed for ctx in self.workers.contexts) if self.workers else 0

    def _on_expired(self, db, key) -> None:
        self.stats.add("expired_keys")
        self.propagator.key_expired(db, key)


def _install_groups(server) -> None:
    """Per-server state of the transactions, pub/sub and notification groups."""
    from ferrous.commands import transactions
    from ferrous.server import acl, notify, pubsub
    acl.install(server)
    pubsub.install(server)
    transactions.install(server)
    notify.install(server)


class ListenError(OSError):
    """No listening socket could be created (the port is busy, the address is wrong)."""


# serverLog's level marks: debug '.', verbose '-', notice '*', warning '#'.
_LEVEL_MARKS = {logging.DEBUG: ".", logging.INFO: "*", logging.WARNING: "#", logging.ERROR: "#",
                logging.CRITICAL: "#"}


class _RedisLogFormatter(logging.Formatter):
    """Redis's log line, `pid:role date time.ms mark message`, so that tools which read
    a Redis log (Redis's test suite waits for " PID: " and "Ready to accept") read ours."""

    def format(self, record):
        record.mark = _LEVEL_MARKS.get(record.levelno, "*")
        return super().format(record)


def setup_logging(config: Config) -> None:
    level = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO,
             "warning": logging.WARNING}[config.loglevel]
    # A relative logfile is in `dir`, which Redis has chdir()ed into by then.
    handler = (logging.FileHandler(os.path.join(config.dir, config.logfile)) if config.logfile
               else logging.StreamHandler(sys.stdout))
    handler.setFormatter(_RedisLogFormatter(
        f"{os.getpid()}:M %(asctime)s.%(msecs)03d %(mark)s %(message)s", "%d %b %Y %H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler])


_LOGO = """
      ____                             Ferrous {version} (Redis {redis} compatible) 64 bit
     / __/__ ____________  __ _____
    / _// -_) __/ __/ _ \\/ // (_-<       Running in standalone mode
   /_/  \\__/_/ /_/  \\___/\\_,_/___/       Port: {port}
                                       PID: {pid}
"""


def log_startup(config: Config) -> None:
    log.warning("oO0OoO0OoO0Oo Ferrous is starting oO0OoO0OoO0Oo")
    log.warning("Ferrous version=%s (Redis %s compatible), bits=64, pid=%d, just started",
                __version__, REDIS_VERSION, os.getpid())
    log.warning("Configuration loaded")


def log_initialized(server) -> None:
    """The logo (always-show-logo, or Redis's one-line form) and "Server initialized",
    before the data loads as in Redis: tools wait for " PID: " even when loading fails."""
    config = server.config
    if config.always_show_logo:
        logo = _LOGO.format(version=__version__, redis=REDIS_VERSION, port=server.port, pid=os.getpid())
        for handler in logging.getLogger().handlers:
            handler.stream.write(logo + "\n")
            handler.flush()
    else:
        log.info("Running mode=standalone, port=%d.", server.port)
    log.warning("Server initialized")


def log_ready(server) -> None:
    log.info("Ready to accept connections")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        from ferrous.scripting.gil import reexec_with_gil_off
        reexec_with_gil_off()   # lupa would turn the GIL back on (ferrous/scripting/gil.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    config = Config()
    if argv and argv[0] in ("-v", "--version"):
        print(f"Ferrous server v={__version__} (Redis {registry_redis_version()} compatible)")
        return 0
    if argv and not argv[0].startswith("--"):
        config.load_file(argv.pop(0))
    config.apply_args(argv)
    setup_logging(config)
    log_startup(config)
    server = Server(config)

    def on_signal(signum, frame):
        if server.started:
            server.shutdown.on_signal(signum)   # the cron shuts down (server/shutdown.py)
            return
        # Still loading: no save (it would overwrite the file being read), no waiting.
        log.warning("Received shutdown signal during loading, scheduling shutdown.")
        server.request_shutdown()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    from ferrous.persistence.aof import AofError
    from ferrous.persistence.rdb import RDBError, RDBLoadAborted
    try:
        server.start(on_listening=log_initialized)
    except AofError as exc:
        log.error("%s", exc)
        return 1
    except RDBLoadAborted as exc:     # the reason is logged already (rdbReportError)
        log.error("%s", exc)
        return 1
    except RDBError as exc:
        log.error("Fatal error loading the DB: %s. Exiting.", exc)
        return 1
    except ListenError as exc:
        log.error("%s", exc)
        return 1
    log.info("Ferrous %s: io-threads=%d worker-threads=%d, GIL %s",
             __version__, config.io_threads, config.worker_threads,
             "enabled" if gil_enabled() else "disabled")
    log_ready(server)
    while not server.shutdown_event.wait(0.5):
        pass
    log.info("Ferrous is now ready to exit, bye bye...")
    return 0


def registry_redis_version() -> str:
    from ferrous import REDIS_VERSION
    return REDIS_VERSION
