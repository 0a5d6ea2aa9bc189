"""The client address: the socket's peer, or X-Forwarded-For only behind trusted proxies."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from openline.net.remote import client_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


class _Transport:
    def __init__(self, peer: Any) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.peer if name == "peername" else default


def address(peer: Any, xff: list[str] | None = None, trusted: tuple = PROXIES) -> tuple[str, int]:
    headers = [("X-Forwarded-For", v) for v in xff or []]
    request = make_mocked_request("GET", "/socket.io/", headers=headers, transport=_Transport(peer))
    return client_address(request, trusted)


@pytest.mark.parametrize("peer,xff,trusted,expected", [
    (("192.0.2.5", 5000), ["198.51.100.1"], (), ("192.0.2.5", 5000)),
    (("192.0.2.5", 5000), ["198.51.100.1"], PROXIES, ("192.0.2.5", 5000)),
    (("10.1.2.3", 80), ["198.51.100.1"], PROXIES, ("198.51.100.1", 0)),
    (("10.1.2.3", 80), ["203.0.113.9, 198.51.100.1, 10.9.9.9"], PROXIES, ("198.51.100.1", 0)),
    (("10.1.2.3", 80), ["203.0.113.9", "198.51.100.1"], PROXIES, ("198.51.100.1", 0)),
    (("10.1.2.3", 80), ["10.2.2.2, 10.3.3.3"], PROXIES, ("10.2.2.2", 0)),
    (("10.1.2.3", 80), [], PROXIES, ("10.1.2.3", 80)),
    (("::1", 8080, 0, 0), ["2001:db8::7"], PROXIES, ("2001:db8::7", 0)),
    (None, ["198.51.100.1"], PROXIES, ("", 0)),
])
def test_client_address(peer, xff, trusted, expected):
    """The peer is the client unless it is a trusted proxy; then the nearest untrusted hop."""
    assert address(peer, xff, trusted) == expected


@pytest.mark.parametrize("xff", [["not-an-ip"], ["198.51.100.1, unknown"], ["<script>"]])
def test_forwarded_garbage_is_not_an_address(xff):
    """A forwarded hop that is not an IP address is not taken as the client's address."""
    host, _ = address(("10.1.2.3", 80), xff)
    ipaddress.ip_address(host)
