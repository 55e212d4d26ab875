"""Counting open event streams per client address and in total. Pure."""

from __future__ import annotations


class StreamSlots:
    def __init__(self, total: int, per_address: int):
        self.total, self.per_address = total, per_address
        self.open = 0
        self.by_address: dict[str, int] = {}

    def acquire(self, address: str) -> str | None:
        """None when a slot was taken; otherwise why not: ``"address"`` or ``"total"``."""
        if self.by_address.get(address, 0) >= self.per_address:
            return "address"
        if self.open >= self.total:
            return "total"
        self.open += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        return None

    def release(self, address: str) -> None:
        n = self.by_address.get(address, 0)
        if n <= 0:
            return
        self.open -= 1
        if n == 1:
            del self.by_address[address]
        else:
            self.by_address[address] = n - 1
