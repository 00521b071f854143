"""Which way a request goes: straight to its origin, forwarded by an HTTP proxy, or tunnelled.

Pure. The proxy variables arrive as a mapping shaped like the answer of
``urllib.request.getproxies_environment()`` (``http``, ``https``, ``all``, ``no``), read once by
whoever builds the transport:

* an ``https://`` target behind a proxy is *tunnelled*: ``CONNECT host:port`` to the proxy, then
  TLS with the target, end to end (the proxy sees no request, no header, no token);
* an ``http://`` target behind a proxy is *forwarded*: the request goes to the proxy in absolute
  form (``GET http://host:port/path HTTP/1.1``);
* ``NO_PROXY`` lists hosts reached directly: ``*`` (every host), a name (itself and its
  subdomains; a leading ``.`` or ``*.`` means the same), an IP address or CIDR range, each
  optionally with ``:port``.

Only proxies reached over plain HTTP are supported; a proxy URL that names another scheme is a
configuration error.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from worker.errors import ConfigurationError

DEFAULT_PORTS = {"http": 80, "https": 443}

Header = tuple[bytes, bytes]


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy: where it listens and the header that authenticates us to it, if any."""

    host: str
    port: int
    authorization: bytes | None = None

    @property
    def origin(self) -> str:
        """``http://host:port``, without credentials (safe to show)."""
        return f"http://{_authority(self.host, self.port)}"

    def headers(self) -> tuple[Header, ...]:
        """The headers every request to (or through) this proxy carries."""
        if self.authorization is None:
            return ()
        return ((b"Proxy-Authorization", self.authorization),)


@dataclass(frozen=True)
class Route:
    """How to reach one origin: the TCP peer, TLS or not, and what to say to a proxy first."""

    key: tuple[str, str, int, str]  # what shares a keep-alive pool
    host: str  # the TCP peer: the origin, or the proxy
    port: int
    tls_host: str | None = None  # TLS with this server name (the origin), after any tunnel
    tunnel: bytes | None = None  # ``host:port`` to CONNECT to before TLS
    absolute_form: bool = False  # request line carries the whole URL (forwarding proxy)
    proxy_headers: tuple[Header, ...] = ()

    @property
    def via(self) -> str | None:
        """The proxy's ``host:port`` when the route goes through one."""
        if self.tunnel is None and not self.absolute_form:
            return None
        return _authority(self.host, self.port)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_proxy(url: str, variable: str) -> Proxy:
    """A proxy from its URL (``http://user:pass@host:port``; no scheme means ``http``)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() != "http":
        raise ConfigurationError(
            f"{variable}: only proxies reached over plain HTTP (http://host:port) are supported, "
            f"not {parts.scheme}://"
        )
    try:
        port = parts.port or DEFAULT_PORTS["http"]
    except ValueError:
        raise ConfigurationError(f"{variable}: the proxy's port is not a number") from None
    if not parts.hostname:
        raise ConfigurationError(f"{variable}: the proxy URL names no host")
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = b"Basic " + base64.b64encode(pair)
    return Proxy(parts.hostname, port, authorization)


@dataclass(frozen=True)
class Bypass:
    """One ``NO_PROXY`` entry."""

    host: str  # lower-case name, or "" for a network
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        """Whether ``host:port`` is reached directly because of this entry."""
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(host) in self.network
            except ValueError:
                return False
        return host == self.host or host.endswith("." + self.host)


def parse_no_proxy(value: str) -> tuple[tuple[Bypass, ...], bool]:
    """The entries of ``NO_PROXY`` and whether it says ``*`` (bypass every host)."""
    entries: list[Bypass] = []
    for raw in value.replace(" ", ",").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        if item == "*":
            return (), True
        entries.append(_bypass(item))
    return tuple(entries), False


def _bypass(item: str) -> Bypass:
    host, port = item, None
    if item.startswith("["):  # [v6]:port
        host, _, rest = item[1:].partition("]")
        port = _port(rest.removeprefix(":"))
    elif item.count(":") == 1:
        host, _, text = item.partition(":")
        port = _port(text)
    try:
        return Bypass("", ipaddress.ip_network(host, strict=False), port)
    except ValueError:
        return Bypass(host.removeprefix("*").lstrip("."), None, port)


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class Proxies:
    """The proxy settings of a process: one proxy per target scheme and the bypass list."""

    http: Proxy | None = None
    https: Proxy | None = None
    bypass: tuple[Bypass, ...] = ()
    bypass_all: bool = False

    @classmethod
    def from_environment(cls, variables: Mapping[str, str]) -> Proxies:
        """From ``getproxies_environment()``-shaped variables (``all`` fills in either scheme)."""
        fallback = variables.get("all")
        http = variables.get("http") or fallback
        https = variables.get("https") or fallback
        bypass, bypass_all = parse_no_proxy(variables.get("no", ""))
        return cls(
            http=parse_proxy(http, "HTTP_PROXY") if http else None,
            https=parse_proxy(https, "HTTPS_PROXY") if https else None,
            bypass=bypass,
            bypass_all=bypass_all,
        )

    def proxy_for(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy a request to ``scheme://host:port`` goes through, or None (direct)."""
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or self.bypass_all:
            return None
        name = host.lower().rstrip(".")
        if any(entry.matches(name, port) for entry in self.bypass):
            return None
        return proxy

    def route(self, scheme: str, host: str, port: int | None) -> Route:
        """How to reach ``scheme://host:port``."""
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"unsupported scheme {scheme!r}")
        port = port or DEFAULT_PORTS[scheme]
        proxy = self.proxy_for(scheme, host, port)
        tls = scheme == "https"
        if proxy is None:
            return Route((scheme, host, port, ""), host, port, tls_host=host if tls else None)
        via = proxy.origin
        if tls:
            return Route(
                (scheme, host, port, via),
                proxy.host,
                proxy.port,
                tls_host=host,
                tunnel=_authority(host, port).encode("ascii"),
                proxy_headers=proxy.headers(),
            )
        # Forwarded requests for any http origin share the proxy's connections.
        return Route(
            ("http", "", 0, via),
            proxy.host,
            proxy.port,
            absolute_form=True,
            proxy_headers=proxy.headers(),
        )
