"""A small CONNECT proxy on loopback for tests: it tunnels TLS to any host and port.

It records what it was asked (``CONNECT host:port``) and the ``Proxy-Authorization`` it got;
when a test sets ``refuse``, it answers every CONNECT with that status instead of tunnelling.
Anything but CONNECT is answered 405.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.integration.tcp_proxy import CuttableProxy, _pump


class LoopbackProxy(CuttableProxy):
    """A threaded CONNECT proxy on a free loopback port; use it as a context manager."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0))  # no fixed target: each CONNECT names its own
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[str] = []  # "CONNECT host:port", one per tunnel
        self.authorizations: list[str | None] = []
        self.refuse: int | None = None

    def __enter__(self) -> LoopbackProxy:
        super().__enter__()
        return self

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            head = _read_head(client)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            self.seen.append(f"{method} {target}")
            self.authorizations.append(headers.get("Proxy-Authorization"))
            if method == "CONNECT":
                self._tunnel(client, target)
            else:
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                client.close()

    def _tunnel(self, client: socket.socket, target: str) -> None:
        if self.refuse is not None:
            client.sendall(f"HTTP/1.1 {self.refuse} Refused\r\nContent-Length: 0\r\n\r\n".encode())
            client.close()
            return
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)))
        with self._lock:
            self._sockets.append(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        _pump_both(client, upstream)


def _read_head(sock: socket.socket) -> bytes:
    """The request head (a CONNECT has no body, and the client waits for our answer)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed before the request head ended")
        data += chunk
    return data.partition(b"\r\n\r\n")[0]


def _pump_both(one: socket.socket, other: socket.socket) -> None:
    threading.Thread(target=_pump, args=(other, one), daemon=True).start()
    _pump(one, other)
