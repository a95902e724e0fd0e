"""Who the client is when a reverse proxy stands in front (``http.trusted_proxies``).

The peer address of the connection is believed. X-Forwarded-For is believed
only when the peer is a trusted proxy, read from the right and skipping every
trusted hop. A request that carries forwarding headers from a peer that is
not trusted came through a proxy nobody declared: its client is unknown, so
a proxy on loopback does not make every client a loopback client.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence

from aiohttp import web

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# the client as the API's guard found it, for the operators' log
CLIENT_ADDRESS = web.RequestKey("client_address", str)
_FORWARDING = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _address(text: str) -> Address | None:
    try:
        found = ipaddress.ip_address(text.strip().removeprefix("[").split("]")[0])
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


class ClientAddresses:
    def __init__(self, trusted: Callable[[], Sequence[Network]]) -> None:
        self._trusted = trusted  # read each time: a reload may change it

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self._trusted())

    def _via_trusted_proxy(self, request: web.Request) -> bool:
        peer = _address(request.remote or "")
        return peer is not None and self._is_trusted(peer)

    def client(self, request: web.Request) -> Address | None:
        """The client's address, or None when it cannot be known."""
        peer = _address(request.remote or "")
        if peer is None:
            return None
        proxied = any(name in request.headers for name in _FORWARDING)
        if not self._is_trusted(peer):
            return None if proxied else peer
        hops = [
            hop
            for header in request.headers.getall("X-Forwarded-For", [])
            for hop in header.split(",")
        ]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return None
            if not self._is_trusted(address):
                return address
        return _address(hops[0]) if hops else peer

    def is_loopback(self, request: web.Request) -> bool:
        found = self.client(request)
        return found is not None and found.is_loopback

    def https(self, request: web.Request) -> bool:
        """TLS to the client: our own, or a trusted proxy's X-Forwarded-Proto."""
        if request.secure:  # aiohttp: the connection itself is TLS
            return True
        if not self._via_trusted_proxy(request):
            return False
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",")[0].strip().lower() == "https"

    def describe(self, request: web.Request) -> str:
        found = self.client(request)
        return str(found) if found is not None else f"unknown-via-{request.remote or '?'}"


@functools.lru_cache(maxsize=8)
def networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    """Parsed once per distinct setting (the config is read on every request)."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)
