"""Events owned by analytics: early warnings from the weak-signal ledger."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ..registry import register
from . import Payload


@register("weak-signal.flagged", key="signal_id", owner="analytics",
          description="A weak-signal rule flagged an early risk (弱信号), with its reasons.")
class WeakSignalFlagged(Payload):
    signal_id: str
    rule: str
    reasons: list[str] = Field(default_factory=list)
    grid: str | None = None
    community: str | None = None
    category: str | None = None
    at: datetime
