"""A TLS-terminating proxy on loopback in front of the machine's services, with test certificates.

``TlsProxy`` accepts TLS on a free loopback port with the certificate it is given (optionally
requiring a client certificate from a CA) and forwards the plain bytes to RabbitMQ's AMQP port,
or to PostgreSQL for libpq's ``sslnegotiation=direct``, so TLS can be tested without
reconfiguring the servers. ``Certificates`` makes a
trusted CA, an unknown one and the certificates the tests need, as PEM files.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.integration.tcp_proxy import CuttableProxy


@dataclass(frozen=True)
class Certificates:
    """PEM files: the trusted CA, server certificates good and bad, a client certificate."""

    ca: Path
    server: trustme.LeafCert
    unknown_ca_server: trustme.LeafCert
    other_host_server: trustme.LeafCert
    client_cert: Path
    client_key: Path
    trusted: trustme.CA

    @classmethod
    def make(cls, directory: Path) -> Certificates:
        """A trusted CA with a ``localhost`` server certificate, and every wrong variant."""
        trusted, unknown = trustme.CA(), trustme.CA()
        client = trusted.issue_cert("dataflow-worker@example.test")
        ca = directory / "ca.pem"
        trusted.cert_pem.write_to_path(str(ca))
        client_cert, client_key = directory / "client.pem", directory / "client.key"
        client.cert_chain_pems[0].write_to_path(str(client_cert))
        client.private_key_pem.write_to_path(str(client_key))
        return cls(
            ca=ca,
            server=trusted.issue_cert("localhost"),
            unknown_ca_server=unknown.issue_cert("localhost"),
            other_host_server=trusted.issue_cert("broker.example.test"),
            client_cert=client_cert,
            client_key=client_key,
            trusted=trusted,
        )


class TlsProxy(CuttableProxy):
    """TLS on a free loopback port, forwarded in plain to ``target``; counts the handshakes."""

    def __init__(
        self,
        target: tuple[str, int],
        certificate: trustme.LeafCert,
        *,
        client_ca: trustme.CA | None = None,
        alpn: tuple[str, ...] = (),
    ) -> None:
        super().__init__(target)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(self._context)
        if alpn:  # libpq's direct TLS negotiation insists on ALPN "postgresql"
            self._context.set_alpn_protocols(list(alpn))
        if client_ca is not None:
            client_ca.configure_trust(self._context)
            self._context.verify_mode = ssl.CERT_REQUIRED
        self.handshakes = 0
        self.failed_handshakes = 0

    def __enter__(self) -> TlsProxy:
        super().__enter__()
        return self

    def url(self, host: str = "localhost") -> str:
        """An ``amqps://`` URL of the guest user on the default vhost, through this proxy."""
        return f"amqps://guest:guest@{host}:{self.port}//"

    def _serve(self, client: socket.socket) -> None:
        threading.Thread(target=self._handshake_and_relay, args=(client,), daemon=True).start()

    def _handshake_and_relay(self, client: socket.socket) -> None:
        try:
            secure = self._context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            self.failed_handshakes += 1
            client.close()
            return
        self.handshakes += 1
        _relay(secure, self._upstream(secure))


def _relay(secure: ssl.SSLSocket, plain: socket.socket) -> None:
    """Copy bytes both ways in one thread (an SSL object must not be used by two at once)."""
    peers = {secure: plain, plain: secure}
    try:
        with contextlib.suppress(OSError):
            while True:
                pending = [secure] if secure.pending() else []
                for source in pending or select.select(list(peers), [], [], 1.0)[0]:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
    finally:
        for sock in (secure, plain):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
