"""Events owned by analytics: early warnings from the weak-signal ledger and their triage."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ..registry import register
from . import Payload
from .common import Actor


@register("weak-signal.flagged", label_zh="弱信号预警", label_en="weak signal flagged", key="signal_id", owner="analytics",
          description="A weak-signal rule flagged an early risk (弱信号), with its reasons.")
class WeakSignalFlagged(Payload):
    signal_id: str
    rule: str
    reasons: list[str] = Field(default_factory=list)
    grid: str | None = None
    community: str | None = None
    category: str | None = None
    at: datetime


@register("weak-signal.triaged", label_zh="弱信号处置", label_en="weak signal status changed", key="signal_id", owner="analytics",
          description="The status of a weak signal in the ledger changed (new → assigned → handled / dismissed). "
          "Analytics replays these to rebuild the ledger's statuses and history.")
class WeakSignalTriaged(Payload):
    signal_id: str
    status: Literal["new", "assigned", "handled", "dismissed"]
    previous_status: str | None = None
    assignee: str | None = Field(None, description="department code or user id the signal is assigned to")
    note: str | None = None
    by: Actor | None = None
    at: datetime
