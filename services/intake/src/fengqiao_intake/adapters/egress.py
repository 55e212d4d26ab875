"""Outgoing HTTP for webhooks: resolve the host, refuse what the operator has not allowed, POST."""

from __future__ import annotations

import asyncio
import socket

import httpx

from ..domain.egress import EgressRefused, check_addresses, host_allowed, host_of, split_list


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EgressRefused("无法解析主机 / the host does not resolve") from exc
    return sorted({info[4][0] for info in infos})


async def check_destination(url: str, settings) -> None:
    """Raises :class:`EgressRefused` unless ``url`` may be called."""
    host, port = host_of(url)
    if not host_allowed(host, split_list(settings.webhook_allowed_hosts)):
        raise EgressRefused("目标主机不在运营方允许列表中 / the host is not on the operator's allow-list")
    check_addresses(await resolve(host, port), split_list(settings.webhook_allowed_private_networks))


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], settings) -> httpx.Response:
    await check_destination(url, settings)  # checked again at send time (DNS may have changed)
    return await client.post(url, content=body, headers=headers, timeout=settings.webhook_timeout,
                             follow_redirects=False)
