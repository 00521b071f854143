"""Request bytes: the request line, headers and body; no header may smuggle another. Pure."""

from __future__ import annotations

import httpx
import pytest

from worker.platform.wire.head import connect_request, encode_request, request_target


def test_a_request_is_its_line_headers_blank_line_and_body() -> None:
    data = encode_request(b"POST", b"/a?b=1", [(b"Host", b"x"), (b"Content-Length", b"2")], b"{}")
    assert data == b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


def test_a_chunked_body_is_sent_as_one_chunk_and_the_last_chunk() -> None:
    data = encode_request(b"POST", b"/", [], b"hello", chunked=True)
    assert data == b"POST / HTTP/1.1\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert encode_request(b"POST", b"/", [], b"", chunked=True).endswith(b"\r\n\r\n0\r\n\r\n")


@pytest.mark.parametrize("value", [b"prod\r\nX-Evil: 1", b"prod\nX-Evil: 1", b"pr\rod", b"p\0"])
def test_a_header_holding_a_line_break_or_nul_is_refused(value: bytes) -> None:
    with pytest.raises(httpx.LocalProtocolError, match="line break"):
        encode_request(b"GET", b"/", [(b"x-sandbox-name", value)], b"")


def test_the_target_is_the_path_or_for_a_forwarding_proxy_the_whole_url() -> None:
    url = httpx.URL("http://ims.test:8080/ims/token/v3?x=%20y")
    assert request_target(url, absolute_form=False) == b"/ims/token/v3?x=%20y"
    assert request_target(url, absolute_form=True) == b"http://ims.test:8080/ims/token/v3?x=%20y"


def test_a_connect_request_names_the_origin_and_carries_the_proxy_headers() -> None:
    data = connect_request(b"platform.adobe.io:443", [(b"Proxy-Authorization", b"Basic eA==")])
    assert data == (
        b"CONNECT platform.adobe.io:443 HTTP/1.1\r\nHost: platform.adobe.io:443\r\n"
        b"Proxy-Authorization: Basic eA==\r\n\r\n"
    )
