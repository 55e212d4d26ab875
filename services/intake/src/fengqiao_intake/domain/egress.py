"""Which outgoing webhook destinations are allowed (no SSRF to internal hosts).

A URL must use http(s), name a host on the operator's allow-list, and every address the host
resolves to must be public, unless the operator explicitly allows that private network.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit


class EgressRefused(ValueError):
    pass


def split_list(value: str | None) -> list[str]:
    return [v.strip().lower() for v in (value or "").split(",") if v.strip()]


def host_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EgressRefused("仅允许 http/https 地址 / only http and https URLs are allowed")
    if not parts.hostname:
        raise EgressRefused("地址缺少主机名 / the URL has no host")
    if parts.username or parts.password:
        raise EgressRefused("地址不得包含用户名或密码 / the URL must not contain credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise EgressRefused("端口无效 / invalid port") from exc
    return parts.hostname.lower(), port


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in allowed_hosts)


def check_addresses(addresses: Iterable[str], allowed_private: Iterable[str]) -> None:
    nets = [ipaddress.ip_network(n, strict=False) for n in allowed_private]
    addrs = list(addresses)
    if not addrs:
        raise EgressRefused("无法解析主机 / the host does not resolve")
    for a in addrs:
        ip = ipaddress.ip_address(a.split("%", 1)[0])
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped
        if ip.is_global and not ip.is_multicast:
            continue
        if any(ip in n for n in nets):
            continue
        raise EgressRefused(f"目标地址属于内部网络 / the destination resolves to a non-public address ({ip})")
