"""Proxy routes: which origin goes direct, which is tunnelled, which is forwarded. Pure."""

from __future__ import annotations

import pytest

from worker.errors import ConfigurationError
from worker.platform.wire.proxies import Proxies, parse_proxy

PROXY = "http://proxy.corp:3128"


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypassed"),
    [
        ("", "platform.adobe.io", 443, False),
        ("*", "platform.adobe.io", 443, True),
        ("adobe.io", "platform.adobe.io", 443, True),
        (".adobe.io", "platform.adobe.io", 443, True),
        ("*.adobe.io", "platform.adobe.io", 443, True),
        ("adobe.io", "notadobe.io", 443, False),
        ("platform.adobe.io:8443", "platform.adobe.io", 443, False),
        ("platform.adobe.io:443", "platform.adobe.io", 443, True),
        ("PLATFORM.Adobe.IO", "platform.adobe.io", 443, True),
        ("10.0.0.0/8", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("127.0.0.1", "127.0.0.1", 8080, True),
        ("[::1]:8080", "::1", 8080, True),
        ("localhost, example.com other.org", "other.org", 80, True),
    ],
)
def test_no_proxy_names_hosts_domains_addresses_ranges_and_ports(
    no_proxy: str, host: str, port: int, bypassed: bool
) -> None:
    proxies = Proxies.from_environment({"https": PROXY, "http": PROXY, "no": no_proxy})
    assert (proxies.proxy_for("https", host, port) is None) is bypassed


def test_an_https_origin_behind_a_proxy_is_tunnelled_with_tls_to_the_origin() -> None:
    route = Proxies.from_environment({"https": PROXY}).route("https", "platform.adobe.io", None)
    assert (route.host, route.port) == ("proxy.corp", 3128)
    assert route.tunnel == b"platform.adobe.io:443"
    assert route.tls_host == "platform.adobe.io"
    assert not route.absolute_form
    assert route.via == "proxy.corp:3128"


def test_an_http_origin_behind_a_proxy_is_forwarded_in_absolute_form() -> None:
    proxies = Proxies.from_environment({"http": PROXY})
    route = proxies.route("http", "ims.test", 8080)
    assert (route.host, route.port, route.absolute_form) == ("proxy.corp", 3128, True)
    assert route.tunnel is None
    assert route.tls_host is None
    assert route.key == proxies.route("http", "other.test", 80).key  # one pool for the proxy


def test_without_a_proxy_every_origin_goes_direct() -> None:
    route = Proxies().route("https", "platform.adobe.io", None)
    assert (route.host, route.port, route.tls_host) == (
        "platform.adobe.io",
        443,
        "platform.adobe.io",
    )
    assert route.via is None


def test_all_proxy_serves_either_scheme_when_the_specific_one_is_unset() -> None:
    proxies = Proxies.from_environment({"all": PROXY, "http": "http://other:1"})
    https, http = proxies.proxy_for("https", "a.b", 443), proxies.proxy_for("http", "a.b", 80)
    assert https is not None
    assert http is not None
    assert (https.host, http.host) == ("proxy.corp", "other")


def test_proxy_credentials_become_a_basic_proxy_authorization() -> None:
    proxy = parse_proxy("user%40corp:p%3Ass@proxy:8080", "HTTPS_PROXY")
    assert (proxy.host, proxy.port) == ("proxy", 8080)
    assert proxy.headers() == ((b"Proxy-Authorization", b"Basic dXNlckBjb3JwOnA6c3M="),)
    assert proxy.origin == "http://proxy:8080"  # never the credentials


@pytest.mark.parametrize("url", ["https://proxy:3128", "socks5://proxy:1080", "http://:3128"])
def test_a_proxy_url_that_cannot_be_used_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="HTTPS_PROXY"):
        Proxies.from_environment({"https": url})
