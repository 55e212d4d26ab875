"""The matcher: proposes mediators for a request, ranked, each with its reasons.

Hard rules (a mediator failing one is excluded, with the reason): serves the category, active, no declared
relation with a party (conflict of interest), below capacity, takes home visits when one is asked for, has
a free slot in the window. Soft preferences add to the score: the named mediator, dialect, gender; load is
spread fairly (the less loaded, relative to capacity, the higher), and an earlier first slot breaks ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .schedule import Interval

W_NAMED = 100.0
W_DIALECT = 30.0
W_GENDER = 15.0
W_LOAD = 20.0
W_SOON = 5.0


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    kind: str
    gender: str
    categories: tuple[str, ...]
    dialects: tuple[str, ...]
    capacity: int
    load: int  # active cases now
    outreach: bool = True
    active: bool = True
    relations: tuple[str, ...] = ()  # names of people / organisations the mediator declared a relation with
    slots: tuple[Interval, ...] = ()  # free slots in the requested window, earliest first


@dataclass(frozen=True)
class Request:
    category: str
    mediator_id: str | None = None
    dialect: str | None = None
    gender: str | None = None
    mode: str = "centre"
    party_names: tuple[str, ...] = ()  # people and organisations on both sides
    include_mediation_load: str | None = None  # the mediator already holding this mediation (no extra load)


@dataclass
class Proposal:
    mediator_id: str
    name: str
    kind: str
    score: float
    reasons: list[dict] = field(default_factory=list)
    slots: list[Interval] = field(default_factory=list)
    load: int = 0
    capacity: int = 0


@dataclass
class Exclusion:
    mediator_id: str
    name: str
    reasons: list[dict]


def reason(code: str, zh: str, en: str, points: float = 0.0) -> dict:
    return {"code": code, "zh": zh, "en": en, "points": round(points, 2)}


def _norm(s: str) -> str:
    return "".join(s.split()).lower()


def conflicts(c: Candidate, party_names: tuple[str, ...]) -> list[str]:
    declared = {_norm(r) for r in c.relations if r.strip()}
    return [p for p in party_names if p.strip() and _norm(p) in declared]


def rank(candidates: list[Candidate], req: Request, *, window_start: datetime | None = None,
         window_end: datetime | None = None) -> tuple[list[Proposal], list[Exclusion]]:
    proposals: list[Proposal] = []
    excluded: list[Exclusion] = []
    span = None
    if window_start is not None and window_end is not None:
        span = max((window_end - window_start).total_seconds(), 1.0)
    for c in candidates:
        why_not: list[dict] = []
        if not c.active:
            why_not.append(reason("inactive", "已停用", "not active"))
        if req.category not in c.categories:
            why_not.append(reason("category", "不调解此类纠纷", f"does not mediate {req.category}"))
        hits = conflicts(c, req.party_names)
        if hits:
            why_not.append(reason("conflict_of_interest", f"与当事人存在关联：{'、'.join(hits)}",
                                  f"declared relation with a party: {', '.join(hits)}"))
        holds = req.include_mediation_load == c.id
        if c.load >= c.capacity and not holds:
            why_not.append(reason("full", f"在办案件已满（{c.load}/{c.capacity}）",
                                  f"at capacity ({c.load}/{c.capacity})"))
        if req.mode == "home" and not c.outreach:
            why_not.append(reason("no_outreach", "不提供上门服务", "does not do home visits"))
        if not c.slots:
            why_not.append(reason("no_slot", "所选时间段内无空闲时段", "no free slot in the window"))
        if why_not:
            excluded.append(Exclusion(c.id, c.name, why_not))
            continue

        reasons = [reason("category", "调解此类纠纷", f"mediates {req.category}")]
        score = 0.0
        if req.mediator_id and req.mediator_id == c.id:
            score += W_NAMED
            reasons.append(reason("named", "当事人指定的调解员", "the mediator asked for", W_NAMED))
        if req.dialect:
            if req.dialect in c.dialects:
                score += W_DIALECT
                reasons.append(reason("dialect", f"会讲{req.dialect}", f"speaks {req.dialect}", W_DIALECT))
            else:
                reasons.append(reason("dialect_missing", f"不会讲{req.dialect}", f"does not speak {req.dialect}"))
        if req.gender:
            if req.gender == c.gender:
                score += W_GENDER
                reasons.append(reason("gender", "性别符合偏好", "gender as preferred", W_GENDER))
            else:
                reasons.append(reason("gender_mismatch", "性别不符合偏好", "gender not as preferred"))
        load = c.load - (1 if holds else 0)
        free_share = max(0.0, 1.0 - load / c.capacity) if c.capacity else 0.0
        pts = W_LOAD * free_share
        score += pts
        reasons.append(reason("load", f"在办 {c.load}/{c.capacity} 件", f"load {c.load}/{c.capacity}", pts))
        if span is not None and window_start is not None:
            delay = (c.slots[0].start - window_start).total_seconds()
            pts = W_SOON * max(0.0, 1.0 - delay / span)
            score += pts
            reasons.append(reason("soonest", "最早可约时段较早", "early first free slot", pts))
        if req.mode == "home":
            reasons.append(reason("outreach", "提供上门服务", "does home visits"))
        proposals.append(Proposal(c.id, c.name, c.kind, round(score, 2), reasons, list(c.slots), c.load, c.capacity))
    proposals.sort(key=lambda p: (-p.score, p.slots[0].start, p.mediator_id))
    return proposals, excluded
