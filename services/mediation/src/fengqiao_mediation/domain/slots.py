"""Booking rules: the query window, why a mediator cannot take a slot, and the 409 that says so. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fengqiao_common.errors import Conflict, Invalid, field_error

from .matcher import Candidate, Proposal, Request, conflicts
from .schedule import Interval, weekly_from_json, within_availability


class SlotTaken(Conflict):
    """The database refused an overlapping active booking of the mediator (exclusion constraint)."""

    default_code = "slot_taken"

    def __init__(self) -> None:
        super().__init__("该时段已被预约", "slot already booked")


TAKEN = {"code": "taken", "zh": "该时段已被预约", "en": "slot already booked"}


def check_window(start: datetime, end: datetime, max_days: int) -> None:
    if end <= start:
        raise Invalid("时间窗口无效", "invalid window",
                      fields=[field_error("window", "value_error", "结束须晚于开始", "'to' must be after 'from'")])
    if end - start > timedelta(days=max_days):
        raise Invalid("时间窗口过长", "window too long", fields=[field_error(
            "window", "window_too_long", f"时间窗口最长 {max_days} 天", f"the window may span at most {max_days} days")])


def candidate(m: dict, load: int = 0, slots: tuple[Interval, ...] = ()) -> Candidate:
    return Candidate(
        id=m["id"], name=m["name"], kind=m["kind"], gender=m["gender"], categories=tuple(m["categories"]),
        dialects=tuple(m["dialects"]), capacity=m["capacity"], load=load, outreach=m["outreach"],
        active=m["active"], relations=tuple(x["name"] for x in m["relations"]), slots=slots)


def slot_problems(m: dict, req: Request, slot: Interval, *, load: int, busy: list[Interval], now: datetime,
                  tz: ZoneInfo) -> list[dict]:
    """Reasons why mediator ``m`` cannot take ``slot`` for ``req`` (empty: it can). ``busy``: its active
    bookings and leave overlapping the slot (without the booking being moved)."""
    why: list[dict] = []
    if not m["active"]:
        why.append({"code": "inactive", "zh": "调解员已停用", "en": "mediator not active"})
    if req.category not in m["categories"]:
        why.append({"code": "category", "zh": "调解员不调解此类纠纷", "en": f"does not mediate {req.category}"})
    if conflicts(candidate(m), req.party_names):
        why.append({"code": "conflict_of_interest", "zh": "调解员与当事人存在关联，须回避",
                    "en": "the mediator declared a relation with a party"})
    if load >= m["capacity"] and req.include_mediation_load != m["id"]:
        why.append({"code": "full", "zh": f"调解员在办案件已满（{load}/{m['capacity']}）",
                    "en": f"mediator at capacity ({load}/{m['capacity']})"})
    if req.mode == "home" and not m["outreach"]:
        why.append({"code": "no_outreach", "zh": "调解员不提供上门服务", "en": "mediator does not do home visits"})
    if slot.start <= now:
        why.append({"code": "past", "zh": "时段已过", "en": "slot is in the past"})
    if not within_availability(weekly_from_json(m["weekly"]), slot, tz):
        why.append({"code": "not_available", "zh": "不在调解员的可预约时间内", "en": "outside the mediator's hours"})
    if busy:
        why.append({"code": "taken", "zh": "该时段已被预约或调解员请假", "en": "slot already booked or on leave"})
    return why


def alternative(p: Proposal, s: Interval) -> dict:
    return {"mediator_id": p.mediator_id, "name": p.name, "starts_at": s.start.isoformat(),
            "ends_at": s.end.isoformat(), "score": p.score}


def alternatives(proposals: list[Proposal], named: str | None, limit: int = 5) -> list[dict]:
    """The named mediator's other slots first, then the best other mediators' first slots."""
    out: list[dict] = []
    for pr in proposals:
        if pr.mediator_id == named:
            out += [alternative(pr, s) for s in pr.slots[:3]]
    for pr in proposals:
        if pr.mediator_id != named:
            out.append(alternative(pr, pr.slots[0]))
    return out[:limit]


def alternatives_window(slot: Interval, window: tuple[datetime, datetime] | None, now: datetime
                        ) -> tuple[datetime, datetime]:
    start, end = window or (slot.start - timedelta(hours=1), slot.start + timedelta(days=14))
    return max(start, now), end


def slot_conflict(why: list[dict], alts: list[dict]) -> Conflict:
    code = "slot_taken" if any(w["code"] == "taken" for w in why) else "slot_unavailable"
    zh = "；".join(w["zh"] for w in why)
    en = "; ".join(w["en"] for w in why)
    return Conflict(f"无法预约该时段：{zh}", f"cannot book this slot: {en}", code=code, reasons=why,
                    alternatives=alts)


def no_mediator(excluded: list) -> Conflict:
    return Conflict("所选时间内没有合适的调解员", "no suitable mediator is free in the window",
                    code="no_mediator_available",
                    excluded=[{"mediator_id": e.mediator_id, "reasons": e.reasons} for e in excluded][:20])
