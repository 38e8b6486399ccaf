"""Headers a reverse proxy adds, believed only from the proxies the operator names.

``trusted_proxies`` (IPs or networks) are the peers whose ``X-Forwarded-Proto`` and identity
header count. Anyone else can type those headers too, so from them they are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection


def peer_is_trusted(request: HTTPConnection, networks: Iterable[str]) -> bool:
    """Is the TCP peer of this request one of ``networks``?"""
    if request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:  # a test client's "testclient", a Unix socket
        return False
    return any(peer in ipaddress.ip_network(net, strict=False) for net in networks)


def is_https(request: HTTPConnection, trusted_proxies: Iterable[str]) -> bool:
    """Did the browser use HTTPS? Its own scheme, or a trusted TLS proxy's X-Forwarded-Proto."""
    if request.url.scheme == "https":
        return True
    proxies = tuple(trusted_proxies)
    if not proxies or not peer_is_trusted(request, proxies):
        return False
    # The first value is the one the outermost proxy (the browser's side) wrote.
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https"
