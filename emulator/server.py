"""Run the emulator on uvicorn: blocking ``serve()`` for the CLI, ``ServerThread`` for tests."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from emulator import persist
from emulator.app import EmulatorConfig, create_app

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


class RemoteBindError(ValueError):
    """Binding a non-loopback address was asked for without ``allow_remote``."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback address unless remote access was asked for explicitly."""
    if not allow_remote and not is_loopback(host):
        raise RemoteBindError(
            f"refusing to listen on {host}: the emulator binds loopback only "
            "(pass --allow-remote to listen on another address)"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets (else ~40 ms per keep-alive call).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """The base URL of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """A uvicorn server that calls ``after_shutdown`` once shut down, before signals re-raise."""

    def __init__(self, config: uvicorn.Config, after_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.after_shutdown = after_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Shut down as uvicorn does, then run ``after_shutdown``."""
        await super().shutdown(sockets=sockets)
        self.after_shutdown()


def _server(
    app: Starlette, log_level: str, after_shutdown: Callable[[], None] = lambda: None
) -> uvicorn.Server:
    uvicorn_config = uvicorn.Config(
        app,
        loop="asyncio",
        http="auto",  # httptools when installed (a dependency), else h11
        access_log=False,
        log_config=None,  # keep the host process's logging (the worker's pipeline in `demo`)
        log_level=log_level,
        lifespan="off",
        backlog=2048,
        timeout_keep_alive=30,
    )
    return _Server(uvicorn_config, after_shutdown)


def serve(
    config: EmulatorConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    allow_remote: bool = False,
    on_ready: Callable[[str], None] | None = None,
    state_file: Path | None = None,
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM); ``on_ready`` gets the base URL once bound.

    With ``state_file``, resources are loaded from it at start (when it exists) and written back
    to it once uvicorn has shut down gracefully (before uvicorn re-raises the stopping signal);
    raises ``persist.StateFileError`` on a file it cannot read.
    """
    check_host(host, allow_remote)
    app = create_app(config)
    store = app.state.emulator

    def save() -> None:
        """Write the resources to the state file (errors go to stderr: the process is ending)."""
        if state_file is not None:
            try:
                persist.save(store, state_file)
            except persist.StateFileError as error:
                print(f"emulator: {error}", file=sys.stderr)

    if state_file is not None:
        persist.load(store, state_file)
    server = _server(app, "warning", save)
    sock = bind(host, port)
    if on_ready is not None:
        on_ready(url_of(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class ServerThread:
    """An emulator on a free loopback port, served by uvicorn in a background thread."""

    def __init__(self, config: EmulatorConfig, host: str = "127.0.0.1") -> None:
        self._server = _server(create_app(config), "error")
        self._sock = bind(host, 0)
        self.url = url_of(self._sock)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and wait until the server accepts requests."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving without waiting for requests still in their injected latency."""
        self._server.should_exit = True
        self._server.force_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()
