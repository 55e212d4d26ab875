"""The client's address: the socket peer, unless the peer is a trusted proxy; then the rightmost hop of
X-Forwarded-For that is not a trusted proxy (hops to its left were written by the client and prove nothing).
Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _address(hop: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    hop = hop.strip()
    if hop.startswith("["):  # [2001:db8::1]:443
        hop = hop[1:].split("]", 1)[0]
    elif hop.count(":") == 1:  # 198.51.100.7:5555
        hop = hop.split(":", 1)[0]
    try:
        return ipaddress.ip_address(hop)
    except ValueError:
        return None


def _trusted(addr, trusted: Sequence[Network]) -> bool:
    return any(addr in net for net in trusted if addr.version == net.version)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """``forwarded_for``: every X-Forwarded-For header of the request, in order."""
    if peer is None or not trusted:
        return peer
    addr = _address(peer)
    if addr is None or not _trusted(addr, trusted):
        return peer
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    last = peer
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:  # garbage: the proxy to its right is the last address we can vouch for
            return last
        if not _trusted(addr, trusted):
            return str(addr)
        last = str(addr)
    return last


def rightmost_hop(peer: str | None, forwarded_for: Sequence[str]) -> str | None:
    """Behind exactly one proxy of unknown address (the peer): the hop it appended, the rightmost."""
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    addr = _address(hops[-1]) if hops else None
    return str(addr) if addr is not None else peer
