"""ferrous-monitor: the command line, and the render loop tying collectors, keys and
the dashboard together."""
from __future__ import annotations

import argparse
import os
import sys
import time

from ferrous.monitor.client import Endpoint
from ferrous.monitor.collect import MonitorStream, Poller
from ferrous.monitor.keys import KeyReader
from ferrous.monitor.model import QUIT, RECONNECTING, Dashboard, handle_key
from ferrous.monitor.render import build, render_text

# A frame costs tens of milliseconds of CPU (rich layout), which may be the server's: new
# data is drawn at most twice a second, key presses at once, and an idle screen once a second.
MIN_FRAME = 0.5
MAX_FRAME = 1.0
KEY_POLL = 0.05


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ferrous-monitor", add_help=False,
                                     description="Live console for a Ferrous or Redis server.")
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("-h", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=6379)
    parser.add_argument("-a", "--password", default=None)
    parser.add_argument("--user", default=None, help="ACL user name (with --password)")
    parser.add_argument("--tls", action="store_true", help="connect over TLS")
    parser.add_argument("--cacert", default=None, help="CA bundle to verify the server (with --tls)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    parser.add_argument("-i", "--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    parser.add_argument("--no-stream", action="store_true", help="do not open the MONITOR connection")
    parser.add_argument("--once", action="store_true",
                        help="print one frame as text (two polls, for rates) and exit")
    parser.add_argument("--width", type=int, default=160, help="width of the --once frame")
    parser.add_argument("--height", type=int, default=50, help="height of the --once frame")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be positive")
    return args


def endpoint_from(args) -> Endpoint:
    return Endpoint(args.host, args.port, args.password, args.user, args.tls, args.cacert, args.insecure)


class Console:
    """The running console: collectors in, frames out."""

    def __init__(self, endpoint: Endpoint, interval: float, stream: bool = True):
        self.dash = Dashboard(endpoint=endpoint.label, interval=interval)
        self.poller = Poller(endpoint, interval)
        self.stream = MonitorStream(endpoint, self.poller.own_addresses) if stream else None
        if self.stream is None:
            self.dash.stream_status = "disabled (--no-stream)"

    def start(self) -> None:
        self.poller.start()
        if self.stream is not None:
            self.stream.start()

    def stop(self) -> None:
        threads = [self.poller] + ([self.stream] if self.stream is not None else [])
        for thread in threads:
            thread.stop()
        # Let them close their sockets: a clean exit, not daemon threads killed mid-read.
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=1.0)

    def absorb(self) -> bool:
        """Move what the collectors gathered into the dashboard; True if anything changed."""
        changed = False
        while not self.poller.events.empty():
            kind, payload = self.poller.events.get()
            changed = True
            if kind == "snapshot":
                if not self.dash.paused:
                    self.dash.apply_snapshot(payload)
            elif kind == "up":
                self.dash.connection_ok()
            else:
                self.dash.connection_lost(payload)
        return self._absorb_stream() or changed

    def _absorb_stream(self) -> bool:
        if self.stream is None:
            return False
        dash, lines = self.dash, self.stream.lines
        changed = dash.stream_status != self.stream.status
        dash.stream_status = self.stream.status
        if dash.paused:
            changed |= dash.stream_held != len(lines)
            dash.stream_held = len(lines)
            return changed
        dash.stream_held = 0
        taken = [lines.popleft() for _ in range(len(lines))]
        dash.add_stream_lines(taken)
        return changed or bool(taken)

    def run(self) -> int:
        from rich.console import Console as RichConsole
        from rich.live import Live

        # Follow the real terminal size (and its resizes): a COLUMNS/LINES left in the
        # environment would pin rich to a stale size.
        environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        console = RichConsole(_environ=environ)
        self.start()
        try:
            with KeyReader() as keys, Live(console=console, screen=True, auto_refresh=False) as live:
                return self._loop(keys, live, console)
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def _loop(self, keys, live, console) -> int:
        last_frame = 0.0
        dirty = True
        while True:
            dirty |= self.absorb()
            now = time.monotonic()
            if (dirty and now - last_frame >= MIN_FRAME) or now - last_frame >= MAX_FRAME:
                live.update(build(self.dash, console.size.height), refresh=True)
                last_frame, dirty = now, False
            for key in keys.read(KEY_POLL):
                if handle_key(self.dash, key) == QUIT:
                    return 0
                dirty = True
                last_frame = 0.0        # answer a key press at once


def run_once(endpoint: Endpoint, interval: float, width: int, height: int, stream: bool) -> int:
    """Two polls an interval apart (rates need two), then one frame on stdout."""
    console = Console(endpoint, interval, stream)
    console.start()
    try:
        deadline = time.monotonic() + max(5.0, interval * 4)
        while time.monotonic() < deadline and len(console.dash.ops_history) < 2:
            console.absorb()
            if console.dash.status == RECONNECTING and console.dash.snapshot is None:
                break                   # never reached it: say so now rather than retry
            time.sleep(0.05)
        console.absorb()
    finally:
        console.stop()
    if console.dash.snapshot is None:
        print(f"ferrous-monitor: cannot reach {endpoint.label}: {console.dash.status_note}", file=sys.stderr)
        return 1
    sys.stdout.write(render_text(console.dash, width, height))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    endpoint = endpoint_from(args)
    if args.once:
        return run_once(endpoint, args.interval, args.width, args.height, not args.no_stream)
    return Console(endpoint, args.interval, not args.no_stream).run()


if __name__ == "__main__":
    sys.exit(main())
