"""Fixed-window rate limiting arithmetic (the counters live in Redis or in process)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window ends


def window(now: float, period: int = 60) -> tuple[int, int]:
    """(window id, seconds until it ends)."""
    wid = int(now // period)
    return wid, max(1, int((wid + 1) * period - now))


def decide(count: int, limit: int, reset_after: int) -> Decision:
    """``count`` is the number of requests in the window including this one."""
    return Decision(count <= limit, limit, max(0, limit - count), reset_after)
