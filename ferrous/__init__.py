"""Ferrous: a Redis 7.0-compatible in-memory data server in Python."""

__version__ = "0.1.0"
# The Redis version whose behaviour Ferrous matches; clients gate features on it.
REDIS_VERSION = "7.0.15"

__all__ = ["Server", "REDIS_VERSION", "__version__"]


class Server:
    """A full Ferrous server running inside this Python process (embedded use).

        with ferrous.Server() as srv:
            client = redis.Redis(port=srv.port)

    port=0 (the default) binds a free port; `.port` is the bound one once started.
    Other keyword arguments are configuration parameters, as on redis-server's
    command line (`maxmemory="10mb"`, `appendonly="yes"`; underscores stand for
    dashes). By default nothing is written to disk (`save ""`) and the working
    directory is a temporary one, removed on stop unless `dir` was given.
    stop() joins every thread the server started and closes its sockets.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", **options):
        self.host = host
        self._requested_port = port
        self._options = options
        self._app = None
        self._tmpdir = None
        self.port = port

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> "Server":
        # Imported here so `import ferrous` stays cheap (the CLI only needs the version).
        import tempfile

        from ferrous.config import Config
        from ferrous.server.app import Server as AppServer

        if self._app is not None:
            raise RuntimeError("server already started")
        config = Config()
        args = ["--port", str(self._requested_port), "--bind", self.host, "--save", ""]
        if "dir" not in self._options:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="ferrous-embedded-")
            args += ["--dir", self._tmpdir.name]
        for name, value in self._options.items():
            args += ["--" + name.replace("_", "-"), _option_text(value)]
        config.apply_args(args)
        app = AppServer(config)
        app.start()
        # Port 0 asked the OS for a port; report the real one (INFO, CONFIG GET port).
        config.port = app.port
        self._app = app
        self.port = app.port
        return self

    def stop(self) -> None:
        app, self._app = self._app, None
        if app is None:
            return
        app.stop()
        _join_late_threads(app)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    @property
    def running(self) -> bool:
        return self._app is not None and self._app.started

    @property
    def app(self):
        """The underlying ferrous.server.app.Server (keyspace, config, stats)."""
        return self._app

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ferrous.Server {self.host}:{self.port} {state}>"


def _option_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _join_late_threads(app) -> None:
    """Threads started on demand (the blocked-client timer) end on the shutdown event;
    wake them so stop() returns with no server thread left behind."""
    registry = getattr(app, "blocking_registry", None)
    timer = getattr(registry, "timer_thread", None)
    if timer is None:
        return
    with registry.lock:
        registry.wakeup.notify_all()
    timer.join(timeout=5)
