"""Weak-signal (弱信号) rules and the ledger's status machine (pure).

Rule signals are *derived*: a signal exists (is active) exactly when its condition holds over the events
seen so far, and its id is a deterministic function of the rule and its subject (uuid5), so replaying the
topics in any order gives the same ledger. Windowed rules use tumbling windows of N days (day ordinal // N)
so that a count only ever grows and the outcome does not depend on arrival order.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import chinese_calendar

NAMESPACE = uuid.UUID("6f1d7a8e-0c55-4a57-9d77-5f3b0e1c2a90")

STATUSES = ("new", "assigned", "handled", "dismissed")
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned", "dismissed"}),
    "assigned": frozenset({"assigned", "handled", "dismissed"}),
    "handled": frozenset(),
    "dismissed": frozenset(),
}
OPEN_STATUSES = ("new", "assigned")

RULES: dict[str, dict[str, str]] = {
    "repeat_domain_grid": {"zh": "同一网格同类事件反复发生", "en": "repeated events of one domain in one grid"},
    "return_reopen": {"zh": "案件多次退单或重新打开", "en": "case returned or reopened repeatedly"},
    "escalation": {"zh": "案件被督办升级", "en": "case escalated"},
    "many_people": {"zh": "涉及人数较多", "en": "many people involved"},
    "repeat_requester": {"zh": "同一诉求人反复诉求", "en": "repeated requester"},
    "rising_trend": {"zh": "社区事件数上升", "en": "rising trend in a community"},
    "wage_arrears_holiday": {"zh": "节前欠薪集中", "en": "wage-arrears reports clustering before a holiday"},
    "grid_report": {"zh": "网格员弱信号上报", "en": "grid worker's weak-signal report"},
}


def signal_id(rule: str, subject: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{rule}|{subject}"))


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def window(d: date, days: int) -> tuple[int, date, date]:
    """The tumbling window of ``days`` days holding ``d``: (index, first day, first day after)."""
    idx = d.toordinal() // days
    start = date.fromordinal(idx * days)
    return idx, start, start + timedelta(days=days)


def window_by_index(idx: int, days: int) -> tuple[date, date]:
    start = date.fromordinal(idx * days)
    return start, start + timedelta(days=days)


def rising(current: int, previous: int, ratio: float, minimum: int) -> bool:
    return current >= minimum and current >= ratio * max(previous, 1)


def next_holiday(d: date, within_days: int) -> date | None:
    """First day of the next statutory public holiday in (d, d + within_days], or None (also when the
    calendar has no data for the year)."""
    try:
        for k in range(1, within_days + 1):
            x = d + timedelta(days=k)
            if chinese_calendar.get_holiday_detail(x)[1] is not None and (
                chinese_calendar.get_holiday_detail(x - timedelta(days=1))[1] is None
            ):
                return x
    except NotImplementedError:
        return None
    return None


def holiday_name(d: date) -> str:
    try:
        name = chinese_calendar.get_holiday_detail(d)[1]
    except NotImplementedError:
        return ""
    return str(name or "")
