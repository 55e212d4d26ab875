"""Outgoing HTTP for webhooks: resolve the host, refuse what the operator has not allowed, POST.

A send has ONE deadline for everything (the destination check with its DNS lookup, connecting,
writing, the status line and reading the response), not a timeout per read, and reads at most
``max_response_bytes`` of the response (the body is not used; a receiver that streams forever
cannot hold a sender past the deadline)."""

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


class HttpSender:
    """The webhook sender (``usecases.webhook_delivery.Sender``) over one shared httpx client."""

    def __init__(self, client: httpx.AsyncClient, settings, *, deadline: float | None = None,
                 max_response_bytes: int | None = None):
        self.client, self.settings = client, settings
        self.deadline = deadline if deadline is not None else settings.webhook_timeout
        self.max_response_bytes = (max_response_bytes if max_response_bytes is not None
                                   else settings.webhook_max_response_bytes)

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        async with asyncio.timeout(self.deadline):
            await check_destination(url, self.settings)  # checked again at send time (DNS may have changed)
            async with self.client.stream("POST", url, content=body, headers=headers, timeout=self.deadline,
                                          follow_redirects=False) as resp:
                read = 0
                async for chunk in resp.aiter_raw():
                    read += len(chunk)
                    if read >= self.max_response_bytes:
                        break
                return resp.status_code
