"""Case status from the timeline, tolerant of events arriving in any order.

Events of one case travel on several topics, so they may arrive out of order. The status is
therefore not "the last event received" but a fold over every status-bearing timeline entry,
sorted by when it happened: within one cycle the status only moves forward
(reported → accepted → dispatched → on_site → resolved → closed); a returned order or a reopening
starts a new cycle; a merged case stays merged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

STATUSES = ("reported", "accepted", "returned", "reopened", "dispatched", "on_site", "resolved", "closed", "merged")
RANK = {"reported": 0, "accepted": 1, "returned": 1.5, "reopened": 1.5, "dispatched": 2, "on_site": 3,
        "resolved": 4, "closed": 5}
OPEN = frozenset(s for s in STATUSES if s not in ("closed", "merged"))
RATEABLE = frozenset({"resolved", "closed"})

# event type -> status effect (None: timeline only)
EFFECTS: dict[str, str | None] = {
    "case.queued": "accepted",
    "order.dispatched": "dispatched",
    "order.signed": "dispatched",
    "department.checked-in": "on_site",
    "order.progressed": None,
    "order.resolved": None,
    "order.returned": "returned",
    "order.verified": None,
    "order.reminded": None,
    "deadline.missed": None,
    "order.escalated": None,
    "order.cancelled": None,
    "case.resolved": "resolved",
    "case.closed": "closed",
    "mediation.referred": None,
    "mediation.booked": None,
    "mediation.rescheduled": None,
    "mediation.cancelled": None,
    "session.sealed": None,
    "agreement.generated": None,
    "judicial.applied": None,
    "judicial-material.requested": None,
    "judicial.rejected": None,
    "mediation.confirmed": None,
    "mediation.failed": None,
}


def apply(status: str, effect: str | None) -> str:
    """One step of the fold."""
    if effect is None or status == "merged":
        return status
    if effect == "merged":
        return "merged"
    if effect == "reopened":
        return "reopened" if status in RATEABLE else status
    if effect == "returned":
        return "returned" if RANK[status] < RANK["resolved"] else status
    return effect if RANK[effect] > RANK[status] else status


def fold(entries: Iterable[tuple[datetime, int, str | None]]) -> str:
    """``entries``: (at, tiebreak id, effect). Returns the status."""
    status = "reported"
    for _at, _id, effect in sorted(entries, key=lambda e: (e[0], e[1])):
        status = apply(status, effect)
    return status


def recompute(old: str, entries: Iterable[tuple[datetime, int, str | None]]) -> str | None:
    """The new status when the fold of ``entries`` differs from ``old``; None when unchanged."""
    new = fold(entries)
    return new if new != old else None


def event_detail(data: dict) -> tuple[str | None, dict]:
    """What a consumed event contributes to a timeline entry: the note's detail text, and the detail
    fields kept (no personal data)."""
    bits = [x for x in (data.get("department_name") or data.get("department"), data.get("reason"),
                        data.get("result"), data.get("note"), data.get("stage"), data.get("ruling_no"),
                        data.get("request")) if x]
    detail = {k: data[k] for k in ("order_id", "seq", "department", "role", "stage", "due_at", "level",
                                    "mediation_id", "referral_id", "reason", "result", "ruling_no", "handed_to",
                                    "within_limit", "accepted", "deadlines")
              if data.get(k) is not None}
    return (" · ".join(str(b) for b in bits) or None), detail
