"""A small client of the public API through the gateway, for end-to-end tests."""

from __future__ import annotations

import httpx


class Api:
    def __init__(self, stack):
        self.stack = stack
        self.base = stack.gateway_url
        self.creds = stack.credentials()
        self._tokens: dict[str, str] = {}

    def user(self, username: str) -> dict:
        return next(u for u in self.creds["users"] if u["username"] == username)

    def key(self, scope: str) -> str:
        return next(k["key"] for k in self.creds["api_keys"] if k["scope"] == scope)

    async def login(self, client: httpx.AsyncClient, username: str) -> dict[str, str]:
        if username not in self._tokens:
            u = self.user(username)
            r = await client.post(f"{self.base}/api/v1/auth/login",
                                  json={"username": username, "password": u["password"]})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    def key_headers(self, scope: str) -> dict[str, str]:
        return {"X-API-Key": self.key(scope)}
