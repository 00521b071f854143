"""The bytes of an HTTP/1.1 request: request line, headers, body. Pure.

Header names and values are checked for line breaks here, since no other layer between httpx's
`Request` and the socket parses them: a value holding CR or LF could otherwise smuggle a header.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

Header = tuple[bytes, bytes]


def request_target(url: httpx.URL, *, absolute_form: bool) -> bytes:
    """The request line's target: the path and query, or the whole URL for a forwarding proxy."""
    if absolute_form:
        return url.raw_scheme + b"://" + url.netloc + url.raw_path
    return url.raw_path


def encode_request(
    method: bytes, target: bytes, headers: Sequence[Header], body: bytes, *, chunked: bool = False
) -> bytes:
    """Request line, headers and body, ready to write (``chunked``: the body as one chunk)."""
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    head = b"".join(parts)
    lines = len(headers) + 2  # the request line, each header, the blank line
    if head.count(b"\n") != lines or head.count(b"\r") != lines or b"\0" in head:
        raise httpx.LocalProtocolError("a request header holds a line break or a NUL byte")
    if not chunked:
        return head + body
    if not body:
        return head + b"0\r\n\r\n"
    return head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


def connect_request(authority: bytes, headers: Sequence[Header]) -> bytes:
    """A proxy ``CONNECT host:port`` request."""
    return encode_request(b"CONNECT", authority, [(b"Host", authority), *headers], b"")
