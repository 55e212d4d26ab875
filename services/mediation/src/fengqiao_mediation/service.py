"""Use cases of the mediation service: load, decide (domain), save, emit to the outbox - one transaction each.

Party identity: a party's ``party_id`` claim is the id of its row in ``parties`` (returned when the mediation
is booked); a party sees only the mediation that row belongs to.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from fengqiao_common.auth import (
    ADMIN,
    DISPATCHER,
    EXTERNAL_SYSTEM,
    LEADER,
    MEDIATOR,
    PARTY,
    SERVICE,
    Principal,
)
from fengqiao_common.errors import ApiError, conflict, field_error, forbidden, not_found
from fengqiao_events import Envelope
from fengqiao_events.payloads.common import SYSTEM, Actor
from fengqiao_events.payloads.mediation import (
    AgreementGenerated,
    JudicialApplied,
    JudicialMaterialRequested,
    JudicialRejected,
    JudicialReminded,
    MediationBooked,
    MediationCancelled,
    MediationConfirmed,
    MediationFailed,
    MediationRescheduled,
    SessionSealed,
)
from fengqiao_events.payloads.order import MediationReferred
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import api_shapes as shapes
from .adapters import orm
from .adapters.court import CourtError
from .adapters.pdf import AgreementDoc, render
from .api.schemas import (
    BookingIn,
    CourtCallback,
    FailureIn,
    LeaveIn,
    MediatorIn,
    MediatorPatch,
    ProposalRequest,
    RescheduleIn,
    SessionIn,
    SignatureIn,
)
from .deps import Deps
from .domain import records, rules
from .domain.demo import demo_mediators
from .domain.matcher import Candidate, Proposal, Request, conflicts, rank
from .domain.schedule import Interval, free_slots, weekly_from_json, within_availability

log = structlog.get_logger("fengqiao.mediation")

STAFF = (ADMIN, DISPATCHER)
READ_ALL = (*STAFF, LEADER, SERVICE)  # may read every mediation (leaders see personal data masked)
OTP_PER_TTL = 3  # one-time codes a party may be sent per record within one code lifetime


def _now() -> datetime:
    return datetime.now(UTC)


def _id() -> str:
    return str(uuid.uuid4())


def _actor(p: Principal) -> Actor:
    return Actor(**p.actor())


def _row(r) -> dict:
    return dict(r._mapping) if r is not None else None


# ---------------------------------------------------------------------------------------------- mediators

def _check_codes(deps: Deps, categories: list[str] | None, dialects: list[str] | None) -> None:
    fields = []
    for c in categories or []:
        if c not in deps.category_codes:
            fields.append(field_error("categories", "unknown_category", f"未知的调解类别：{c}",
                                      f"unknown mediation category: {c}"))
    for d in dialects or []:
        if d not in deps.jurisdiction.dialects:
            fields.append(field_error("dialects", "unknown_dialect", f"未知的方言：{d}", f"unknown dialect: {d}"))
    if fields:
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=fields)


async def create_mediator(session: AsyncSession, deps: Deps, body: MediatorIn) -> dict:
    _check_codes(deps, body.categories, body.dialects)
    mid = body.id or f"M-{uuid.uuid4().hex[:8]}"
    values = body.model_dump(mode="json")
    values["id"] = mid
    async with session.begin():
        res = await session.execute(pg_insert(orm.mediators).values(**values).on_conflict_do_nothing()
                                    .returning(orm.mediators.c.id))
        if res.first() is None:
            raise conflict("mediator_exists", "调解员编号已存在", f"mediator {mid} already exists")
    return await get_mediator(session, mid)


def _private(p: Principal | None, mediator_id: str) -> bool:
    return p is None or p.has(ADMIN) or (p.has(MEDIATOR) and p.mediator_id == mediator_id)


async def get_mediator(session: AsyncSession, mediator_id: str, p: Principal | None = None) -> dict:
    async with session.begin():
        m = _row((await session.execute(select(orm.mediators).where(orm.mediators.c.id == mediator_id))).first())
        if m is None:
            raise not_found("mediator", "调解员")
        lv = (await session.execute(select(orm.leaves).where(orm.leaves.c.mediator_id == mediator_id)
                                    .order_by(orm.leaves.c.starts_at))).all()
        load = await _loads(session, [mediator_id])
    return shapes.mediator(m, [_row(x) for x in lv], load.get(mediator_id, 0), _private(p, mediator_id))


async def list_mediators(session: AsyncSession, p: Principal, *, category: str | None, dialect: str | None,
                         kind: str | None, active: bool | None) -> list[dict]:
    q = select(orm.mediators).order_by(orm.mediators.c.id)
    if category:
        q = q.where(orm.mediators.c.categories.any_() == category)
    if dialect:
        q = q.where(orm.mediators.c.dialects.any_() == dialect)
    if kind:
        q = q.where(orm.mediators.c.kind == kind)
    if active is not None:
        q = q.where(orm.mediators.c.active == active)
    async with session.begin():
        rows = [_row(r) for r in (await session.execute(q)).all()]
        loads = await _loads(session, [r["id"] for r in rows])
    return [shapes.mediator(r, None, loads.get(r["id"], 0), _private(p, r["id"])) for r in rows]


def _may_manage_mediator(p: Principal, mediator_id: str) -> None:
    if p.has(ADMIN) or (p.has(MEDIATOR) and p.mediator_id == mediator_id):
        return
    raise forbidden("只能管理本人的日程", "only admins, or the mediator, may change this")


async def patch_mediator(session: AsyncSession, deps: Deps, mediator_id: str, body: MediatorPatch) -> dict:
    _check_codes(deps, body.categories, body.dialects)
    values = body.model_dump(mode="json", exclude_unset=True)
    async with session.begin():
        res = await session.execute(update(orm.mediators).where(orm.mediators.c.id == mediator_id)
                                    .values(**values, updated_at=func.now()).returning(orm.mediators.c.id))
        if res.first() is None:
            raise not_found("mediator", "调解员")
    return await get_mediator(session, mediator_id)


async def set_availability(session: AsyncSession, p: Principal, mediator_id: str, weekly: list[dict]) -> dict:
    _may_manage_mediator(p, mediator_id)
    async with session.begin():
        res = await session.execute(update(orm.mediators).where(orm.mediators.c.id == mediator_id)
                                    .values(weekly=weekly, updated_at=func.now()).returning(orm.mediators.c.id))
        if res.first() is None:
            raise not_found("mediator", "调解员")
    return await get_mediator(session, mediator_id)


async def add_leave(session: AsyncSession, p: Principal, mediator_id: str, body: LeaveIn) -> dict:
    _may_manage_mediator(p, mediator_id)
    async with session.begin():
        if (await session.execute(select(orm.mediators.c.id).where(orm.mediators.c.id == mediator_id))).first() is None:
            raise not_found("mediator", "调解员")
        lid = _id()
        await session.execute(insert(orm.leaves).values(id=lid, mediator_id=mediator_id, starts_at=body.starts_at,
                                                         ends_at=body.ends_at, reason=body.reason))
    return {"id": lid, "mediator_id": mediator_id, "starts_at": body.starts_at, "ends_at": body.ends_at,
            "reason": body.reason}


async def mediator_slots(session: AsyncSession, deps: Deps, mediator_id: str, start: datetime,
                         end: datetime) -> list[dict]:
    _check_window(deps, start, end)
    async with session.begin():
        m = _row((await session.execute(select(orm.mediators).where(orm.mediators.c.id == mediator_id))).first())
        if m is None:
            raise not_found("mediator", "调解员")
        busy = await _busy(session, [mediator_id], start, end)
    slots = free_slots(weekly_from_json(m["weekly"]), busy.get(mediator_id, []), Interval(start, end),
                       slot=deps.slot, tz=deps.tz)
    return [{"starts_at": s.start, "ends_at": s.end} for s in slots]


async def mediator_bookings(session: AsyncSession, deps: Deps, p: Principal, mediator_id: str, start: datetime,
                            end: datetime) -> list[dict]:
    """A mediator's calendar: its active bookings in the window (centre staff, admins, the mediator)."""
    if not (p.has(*STAFF) or (p.has(MEDIATOR) and p.mediator_id == mediator_id)):
        raise forbidden("只能查看本人的预约", "only centre staff or the mediator may see this calendar")
    _check_window(deps, start, end)
    b = orm.bookings.c
    async with session.begin():
        rows = (await session.execute(select(orm.bookings).where(
            b.mediator_id == mediator_id, b.status == "active", b.starts_at < end, b.ends_at > start)
            .order_by(b.starts_at))).all()
    return [shapes.booking(_row(r)) for r in rows]


async def seed_demo(session_factory: async_sessionmaker, deps: Deps) -> int:
    """Insert the 65 demo mediators if missing (idempotent)."""
    j = deps.jurisdiction
    rows = demo_mediators(j.mediator_pool_mix, deps.category_codes, j.dialects)
    async with session_factory() as session, session.begin():
        res = await session.execute(pg_insert(orm.mediators).values(rows).on_conflict_do_nothing()
                                    .returning(orm.mediators.c.id))
        n = len(res.all())
    log.info("demo mediators seeded", inserted=n, total=len(rows))
    return n


# ---------------------------------------------------------------------------------------------- matching

def _check_window(deps: Deps, start: datetime, end: datetime) -> None:
    if end <= start:
        raise ApiError(422, "validation_failed", "时间窗口无效", "invalid window",
                       fields=[field_error("window", "value_error", "结束须晚于开始", "'to' must be after 'from'")])
    if end - start > timedelta(days=deps.settings.max_window_days):
        raise ApiError(422, "validation_failed", "时间窗口过长", "window too long", fields=[field_error(
            "window", "window_too_long", f"时间窗口最长 {deps.settings.max_window_days} 天",
            f"the window may span at most {deps.settings.max_window_days} days")])


async def _loads(session: AsyncSession, ids: list[str] | None = None) -> dict[str, int]:
    q = (select(orm.mediations.c.mediator_id, func.count()).where(orm.mediations.c.status.in_(rules.ACTIVE))
         .group_by(orm.mediations.c.mediator_id))
    if ids is not None:
        q = q.where(orm.mediations.c.mediator_id.in_(ids))
    return {m: n for m, n in (await session.execute(q)).all() if m}


async def _busy(session: AsyncSession, ids: list[str], start: datetime, end: datetime) -> dict[str, list[Interval]]:
    out: dict[str, list[Interval]] = {i: [] for i in ids}
    b = orm.bookings.c
    rows = await session.execute(select(b.mediator_id, b.starts_at, b.ends_at).where(
        b.mediator_id.in_(ids), b.status == "active", b.starts_at < end, b.ends_at > start))
    for mid, s, e in rows.all():
        out[mid].append(Interval(s, e))
    lv = orm.leaves.c
    rows = await session.execute(select(lv.mediator_id, lv.starts_at, lv.ends_at).where(
        lv.mediator_id.in_(ids), lv.starts_at < end, lv.ends_at > start))
    for mid, s, e in rows.all():
        out[mid].append(Interval(s, e))
    return out


async def _candidates(session: AsyncSession, deps: Deps, category: str, start: datetime, end: datetime,
                      extra_id: str | None = None, slots_per: int = 3) -> list[Candidate]:
    m = orm.mediators.c
    cond = m.categories.any_() == category
    if extra_id:
        cond = or_(cond, m.id == extra_id)
    rows = [_row(r) for r in (await session.execute(select(orm.mediators).where(cond))).all()]
    ids = [r["id"] for r in rows]
    loads = await _loads(session, ids)
    busy = await _busy(session, ids, start, end)
    out = []
    for r in rows:
        slots = free_slots(weekly_from_json(r["weekly"]), busy[r["id"]], Interval(start, end), slot=deps.slot,
                           tz=deps.tz, limit=slots_per)
        out.append(Candidate(
            id=r["id"], name=r["name"], kind=r["kind"], gender=r["gender"], categories=tuple(r["categories"]),
            dialects=tuple(r["dialects"]), capacity=r["capacity"], load=loads.get(r["id"], 0),
            outreach=r["outreach"], active=r["active"],
            relations=tuple(x["name"] for x in r["relations"]), slots=tuple(slots)))
    return out


async def _rank(session: AsyncSession, deps: Deps, req: Request, start: datetime, end: datetime,
                slots_per: int = 3) -> tuple[list[Proposal], list]:
    cands = await _candidates(session, deps, req.category, start, end, req.mediator_id, slots_per)
    return rank(cands, req, window_start=max(start, _now()), window_end=end)


async def propose(session: AsyncSession, deps: Deps, p: Principal, body: ProposalRequest) -> dict:
    _check_window(deps, body.window.from_, body.window.to)
    async with session.begin():
        category, names, holder = body.category, list(body.party_names), None
        if body.mediation_id:
            med = await _load_mediation(session, body.mediation_id)
            _authorize_view(p, med, await _party_ids(session, med["id"]))
            category = med["category"]
            names += await _party_names(session, med["id"])
            holder = med["mediator_id"] if med["status"] in rules.ACTIVE else None
        if not category:
            raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=[
                field_error("category", "missing", "必填项缺失", "category or mediation_id is required")])
        _check_codes(deps, [category], [body.preference.dialect] if body.preference.dialect else None)
        pref = body.preference
        req = Request(category=category, mediator_id=pref.mediator_id, dialect=pref.dialect, gender=pref.gender,
                      mode=pref.mode, party_names=tuple(names), include_mediation_load=holder)
        proposals, excluded = await _rank(session, deps, req, body.window.from_, body.window.to)
    return {
        "category": category,
        "proposals": [shapes.proposal(x) for x in proposals[: body.limit]],
        "excluded": [{"mediator_id": e.mediator_id, "name": e.name, "reasons": e.reasons} for e in excluded],
    }


async def _alternatives(session: AsyncSession, deps: Deps, req: Request, start: datetime, end: datetime,
                        limit: int = 5) -> list[dict]:
    proposals, _ = await _rank(session, deps, req, start, end, slots_per=limit)
    out: list[dict] = []
    # the named mediator's other slots first, then the best other mediators' first slots
    for pr in proposals:
        if pr.mediator_id == req.mediator_id:
            out += [shapes.alternative(pr, s) for s in pr.slots[:3]]
    for pr in proposals:
        if pr.mediator_id != req.mediator_id:
            out.append(shapes.alternative(pr, pr.slots[0]))
    return out[:limit]


# ---------------------------------------------------------------------------------------------- mediations

async def _load_mediation(session: AsyncSession, mediation_id: str, *, lock: bool = False) -> dict:
    q = select(orm.mediations).where(orm.mediations.c.id == mediation_id)
    if lock:
        q = q.with_for_update()
    m = _row((await session.execute(q)).first())
    if m is None:
        raise not_found("mediation", "调解案件")
    return m


async def _parties(session: AsyncSession, mediation_id: str) -> list[dict]:
    rows = await session.execute(select(orm.parties).where(orm.parties.c.mediation_id == mediation_id)
                                 .order_by(orm.parties.c.position))
    return [_row(r) for r in rows.all()]


async def _party_ids(session: AsyncSession, mediation_id: str) -> list[str]:
    return [p["id"] for p in await _parties(session, mediation_id)]


async def _party_names(session: AsyncSession, mediation_id: str) -> list[str]:
    out = []
    for p in await _parties(session, mediation_id):
        out.append(p["name"])
        if p["organisation"]:
            out.append(p["organisation"])
    return out


def _authorize_view(p: Principal, med: dict, party_ids: list[str]) -> None:
    if p.has(*READ_ALL):
        return
    if p.has(MEDIATOR) and p.mediator_id and p.mediator_id == med["mediator_id"]:
        return
    if p.has(PARTY) and p.party_id and p.party_id in party_ids:
        return
    if p.has(EXTERNAL_SYSTEM) and p.external_system and p.external_system == med["external_system"]:
        return
    raise forbidden("无权查看此调解案件", "you may not see this mediation")


def _authorize_manage(p: Principal, med: dict) -> None:
    """Book, reschedule, cancel: centre staff, the mediator in charge, the external system that booked."""
    if p.has(*STAFF):
        return
    if p.has(MEDIATOR) and p.mediator_id and p.mediator_id == med["mediator_id"]:
        return
    if p.has(EXTERNAL_SYSTEM) and p.external_system and p.external_system == med["external_system"]:
        return
    raise forbidden("无权办理此调解案件", "you may not manage this mediation")


def _authorize_mediator(p: Principal, med: dict) -> None:
    """Record sessions, generate the agreement: the mediator in charge (or an admin)."""
    if p.has(ADMIN) or (p.has(MEDIATOR) and p.mediator_id and p.mediator_id == med["mediator_id"]):
        return
    raise forbidden("仅承办调解员可执行此操作", "only the mediator in charge may do this")


def _ref(med: dict) -> dict:
    return {"mediation_id": med["id"], "case_id": med["case_id"], "category": med["category"]}


async def on_referred(session: AsyncSession, deps: Deps, env: Envelope, payload: MediationReferred) -> None:
    """A case referred by dispatch becomes an open mediation (idempotent on referral_id)."""
    await session.execute(pg_insert(orm.mediations).values(
        id=_id(), case_id=payload.case_id, case_no=payload.case_no, referral_id=payload.referral_id,
        source="referral", category=payload.category, summary=payload.summary, status=rules.OPEN,
    ).on_conflict_do_nothing(index_elements=["referral_id"]))


async def list_mediations(session: AsyncSession, p: Principal, *, case_id: str | None, status: str | None,
                          limit: int) -> list[dict]:
    m = orm.mediations.c
    q = select(orm.mediations).order_by(m.created_at.desc()).limit(limit)
    if case_id:
        q = q.where(m.case_id == case_id)
    if status:
        q = q.where(m.status == status)
    if p.has(*READ_ALL):
        pass
    elif p.has(MEDIATOR) and p.mediator_id:
        q = q.where(m.mediator_id == p.mediator_id)
    elif p.has(PARTY) and p.party_id:
        q = q.where(m.id.in_(select(orm.parties.c.mediation_id).where(orm.parties.c.id == p.party_id)))
    elif p.has(EXTERNAL_SYSTEM) and p.external_system:
        q = q.where(m.external_system == p.external_system)
    else:
        raise forbidden()
    async with session.begin():
        return [shapes.mediation_brief(_row(r)) for r in (await session.execute(q)).all()]


async def mediation_view(session: AsyncSession, deps: Deps, p: Principal, mediation_id: str) -> dict:
    """The progress of one mediation, as the parties, the mediator and the centre see it."""
    async with session.begin():
        med = await _load_mediation(session, mediation_id)
        parties = await _parties(session, mediation_id)
        _authorize_view(p, med, [x["id"] for x in parties])
        bks = (await session.execute(select(orm.bookings).where(orm.bookings.c.mediation_id == mediation_id)
                                     .order_by(orm.bookings.c.starts_at))).all()
        sess = [_row(r) for r in (await session.execute(
            select(orm.sessions).where(orm.sessions.c.mediation_id == mediation_id).order_by(orm.sessions.c.seq)))]
        sigs = await _signatures(session, [s["id"] for s in sess])
        agr = _row((await session.execute(
            select(orm.agreements.c.id, orm.agreements.c.sha256, orm.agreements.c.generated_at,
                   orm.agreements.c.apply_by, orm.agreements.c.points)
            .where(orm.agreements.c.mediation_id == mediation_id))).first())
        apps = (await session.execute(select(orm.court_applications)
                                      .where(orm.court_applications.c.mediation_id == mediation_id)
                                      .order_by(orm.court_applications.c.applied_at))).all()
        mediator = None
        if med["mediator_id"]:
            mediator = _row((await session.execute(select(orm.mediators.c.id, orm.mediators.c.name)
                                                   .where(orm.mediators.c.id == med["mediator_id"]))).first())
    required = rules.required_signers(med["mediator_id"] or "?", [x["id"] for x in parties])
    return {
        **shapes.mediation_brief(med),
        "category_name": deps.category_name(med["category"]),
        "summary": med["summary"],
        "mediator": mediator,
        "parties": [shapes.party(x, p.may_see_pii or p.party_id == x["id"]) for x in parties],
        "bookings": [shapes.booking(_row(b)) for b in bks],
        "sessions": [shapes.session(s, sigs.get(s["id"], []), required) for s in sess],
        "agreement": shapes.agreement(agr) if agr else None,
        "court_applications": [shapes.application(_row(a)) for a in apps],
        "handed_to": med["handed_to"],
        "outcome": med["outcome"],
    }


# ---------------------------------------------------------------------------------------------- booking

async def _lock_mediator(session: AsyncSession, mediator_id: str) -> dict:
    m = _row((await session.execute(select(orm.mediators).where(orm.mediators.c.id == mediator_id)
                                    .with_for_update())).first())
    if m is None:
        raise ApiError(422, "validation_failed", "调解员不存在", "unknown mediator", fields=[
            field_error("mediator_id", "unknown_mediator", "调解员不存在", f"no mediator {mediator_id}")])
    return m


async def _check_slot(session: AsyncSession, deps: Deps, m: dict, req: Request, slot: Interval,
                      ignore_booking: str | None = None) -> list[dict]:
    """Reasons why ``m`` cannot take ``slot`` for ``req`` (empty: it can). Call with the mediator locked."""
    why: list[dict] = []
    if not m["active"]:
        why.append({"code": "inactive", "zh": "调解员已停用", "en": "mediator not active"})
    if req.category not in m["categories"]:
        why.append({"code": "category", "zh": "调解员不调解此类纠纷", "en": f"does not mediate {req.category}"})
    cand = Candidate(m["id"], m["name"], m["kind"], m["gender"], tuple(m["categories"]), tuple(m["dialects"]),
                     m["capacity"], 0, relations=tuple(x["name"] for x in m["relations"]))
    if conflicts(cand, req.party_names):
        why.append({"code": "conflict_of_interest", "zh": "调解员与当事人存在关联，须回避",
                    "en": "the mediator declared a relation with a party"})
    load = (await _loads(session, [m["id"]])).get(m["id"], 0)
    if load >= m["capacity"] and req.include_mediation_load != m["id"]:
        why.append({"code": "full", "zh": f"调解员在办案件已满（{load}/{m['capacity']}）",
                    "en": f"mediator at capacity ({load}/{m['capacity']})"})
    if req.mode == "home" and not m["outreach"]:
        why.append({"code": "no_outreach", "zh": "调解员不提供上门服务", "en": "mediator does not do home visits"})
    if slot.start <= _now():
        why.append({"code": "past", "zh": "时段已过", "en": "slot is in the past"})
    if not within_availability(weekly_from_json(m["weekly"]), slot, deps.tz):
        why.append({"code": "not_available", "zh": "不在调解员的可预约时间内", "en": "outside the mediator's hours"})
    busy = (await _busy(session, [m["id"]], slot.start, slot.end))[m["id"]]
    if ignore_booking:
        own = (await session.execute(select(orm.bookings.c.starts_at, orm.bookings.c.ends_at)
                                     .where(orm.bookings.c.id == ignore_booking))).first()
        if own is not None:
            busy = [b for b in busy if not (b.start == own[0] and b.end == own[1])]
    if busy:
        why.append({"code": "taken", "zh": "该时段已被预约或调解员请假", "en": "slot already booked or on leave"})
    return why


async def _slot_conflict(session: AsyncSession, deps: Deps, req: Request, slot: Interval, why: list[dict],
                         window: tuple[datetime, datetime] | None) -> ApiError:
    start, end = window or (slot.start - timedelta(hours=1), slot.start + timedelta(days=14))
    start = max(start, _now())
    alts = await _alternatives(session, deps, req, start, end)
    code = "slot_taken" if any(w["code"] == "taken" for w in why) else "slot_unavailable"
    zh = "；".join(w["zh"] for w in why)
    en = "; ".join(w["en"] for w in why)
    return conflict(code, f"无法预约该时段：{zh}", f"cannot book this slot: {en}", reasons=why,
                    alternatives=alts)


async def _insert_booking(session: AsyncSession, values: dict) -> None:
    try:
        async with session.begin_nested():
            await session.execute(insert(orm.bookings).values(**values))
    except IntegrityError as exc:
        if "bookings_no_overlap" in str(exc.orig):
            raise _Taken() from exc
        raise


class _Taken(Exception):
    pass


async def book(session: AsyncSession, deps: Deps, p: Principal, body: BookingIn) -> dict:
    if body.window:
        _check_window(deps, body.window.from_, body.window.to)
    pref = body.preference
    async with session.begin():
        if body.mediation_id:
            med = await _load_mediation(session, body.mediation_id, lock=True)
            _authorize_manage(p, med)
            if med["status"] not in rules.BOOKABLE:
                raise conflict("not_bookable", "该调解案件当前不能预约", f"mediation is {med['status']}",
                               status=med["status"])
            parties = await _parties(session, med["id"])
            if not parties:
                if not body.parties:
                    raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed",
                                   fields=[field_error("parties", "missing", "请填写双方当事人",
                                                       "parties are required for the first booking")])
                parties = await _add_parties(session, med["id"], body)
            created = False
        else:
            if not p.has(DISPATCHER, EXTERNAL_SYSTEM, ADMIN):
                raise forbidden("仅综治中心或外部系统可新建调解预约", "only the centre or an external system may book")
            fields = []
            if not body.category:
                fields.append(field_error("category", "missing", "必填项缺失", "category is required"))
            if not body.parties:
                fields.append(field_error("parties", "missing", "请填写双方当事人", "parties are required"))
            if fields:
                raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=fields)
            ext = p.external_system if p.has(EXTERNAL_SYSTEM) else None
            med = {"id": _id(), "case_id": None, "case_no": None, "referral_id": None,
                   "source": "external_system" if ext else "walk_in", "external_system": ext,
                   "category": body.category, "summary": body.summary, "status": rules.OPEN,
                   "mediator_id": None}
            _check_codes(deps, [body.category], None)
            await session.execute(insert(orm.mediations).values(**med))
            parties = await _add_parties(session, med["id"], body)
            created = True
        _check_codes(deps, None, [pref.dialect] if pref.dialect else None)
        names = [x["name"] for x in parties] + [x["organisation"] for x in parties if x["organisation"]]
        holder = med["mediator_id"] if med["status"] in rules.ACTIVE else None
        mediator_id = body.mediator_id or pref.mediator_id
        req = Request(category=med["category"], mediator_id=mediator_id, dialect=pref.dialect, gender=pref.gender,
                      mode=pref.mode, party_names=tuple(names), include_mediation_load=holder)
        window = (body.window.from_, body.window.to) if body.window else None

        if body.starts_at is not None:
            slot = Interval(body.starts_at, body.starts_at + deps.slot)
        else:
            proposals, excluded = await _rank(session, deps, req, *window, slots_per=1)
            if not proposals:
                raise conflict("no_mediator_available", "所选时间内没有合适的调解员",
                               "no suitable mediator is free in the window",
                               excluded=[{"mediator_id": e.mediator_id, "reasons": e.reasons} for e in excluded][:20])
            best = proposals[0]
            mediator_id, slot = best.mediator_id, best.slots[0]
        m = await _lock_mediator(session, mediator_id)
        why = await _check_slot(session, deps, m, req, slot)
        if why:
            raise await _slot_conflict(session, deps, req, slot, why, window)
        bid = _id()
        address = pref.address if pref.mode == "home" else None
        try:
            await _insert_booking(session, dict(id=bid, mediation_id=med["id"], mediator_id=mediator_id,
                                                starts_at=slot.start, ends_at=slot.end, mode=pref.mode,
                                                address=address, status="active"))
        except _Taken:
            raise await _slot_conflict(session, deps, req, slot, [
                {"code": "taken", "zh": "该时段已被预约", "en": "slot already booked"}], window) from None
        new_status = rules.BOOKED if med["status"] == rules.OPEN else med["status"]
        await session.execute(update(orm.mediations).where(orm.mediations.c.id == med["id"]).values(
            mediator_id=mediator_id, status=new_status, updated_at=func.now()))
        await deps.outbox.add(session, MediationBooked(
            **_ref(med), at=_now(), by=_actor(p), booking_id=bid, mediator_id=mediator_id,
            starts_at=slot.start, ends_at=slot.end, mode=pref.mode))
    return {
        "booking": {"id": bid, "mediation_id": med["id"], "mediator_id": mediator_id, "mediator_name": m["name"],
                    "starts_at": slot.start, "ends_at": slot.end, "mode": pref.mode, "address": address,
                    "status": "active"},
        "mediation": {"id": med["id"], "case_id": med["case_id"], "category": med["category"],
                      "status": new_status, "created": created},
        "parties": [{"id": x["id"], "side": x["side"], "name": x["name"]} for x in parties],
    }


async def _add_parties(session: AsyncSession, mediation_id: str, body: BookingIn) -> list[dict]:
    rows = [{"id": _id(), "mediation_id": mediation_id, "side": x.side, "name": x.name.strip(), "phone": x.phone,
             "organisation": x.organisation, "position": i} for i, x in enumerate(body.parties)]
    await session.execute(insert(orm.parties).values(rows))
    return rows


async def _load_booking(session: AsyncSession, booking_id: str) -> dict:
    b = _row((await session.execute(select(orm.bookings).where(orm.bookings.c.id == booking_id))).first())
    if b is None:
        raise not_found("booking", "预约")
    return b


async def get_booking(session: AsyncSession, p: Principal, booking_id: str) -> dict:
    async with session.begin():
        b = await _load_booking(session, booking_id)
        med = await _load_mediation(session, b["mediation_id"])
        _authorize_view(p, med, await _party_ids(session, med["id"]))
    return shapes.booking(b)


async def reschedule(session: AsyncSession, deps: Deps, p: Principal, booking_id: str, body: RescheduleIn) -> dict:
    async with session.begin():
        b = await _load_booking(session, booking_id)
        med = await _load_mediation(session, b["mediation_id"], lock=True)
        _authorize_manage(p, med)
        b = await _load_booking(session, booking_id)
        if b["status"] != "active":
            raise conflict("booking_not_active", "该预约已取消或已改期", f"booking is {b['status']}", status=b["status"])
        mediator_id = body.mediator_id or b["mediator_id"]
        names = await _party_names(session, med["id"])
        req = Request(category=med["category"], mediator_id=mediator_id, mode=b["mode"], party_names=tuple(names),
                      include_mediation_load=med["mediator_id"] if med["status"] in rules.ACTIVE else None)
        slot = Interval(body.starts_at, body.starts_at + deps.slot)
        m = await _lock_mediator(session, mediator_id)
        why = await _check_slot(session, deps, m, req, slot, ignore_booking=booking_id)
        if why:
            raise await _slot_conflict(session, deps, req, slot, why, None)
        await session.execute(update(orm.bookings).where(orm.bookings.c.id == booking_id).values(status="rescheduled"))
        nid = _id()
        try:
            await _insert_booking(session, dict(id=nid, mediation_id=med["id"], mediator_id=mediator_id,
                                                starts_at=slot.start, ends_at=slot.end, mode=b["mode"],
                                                address=b["address"], status="active", replaces=booking_id))
        except _Taken:
            raise await _slot_conflict(session, deps, req, slot, [
                {"code": "taken", "zh": "该时段已被预约", "en": "slot already booked"}], None) from None
        if mediator_id != med["mediator_id"]:
            await session.execute(update(orm.mediations).where(orm.mediations.c.id == med["id"])
                                  .values(mediator_id=mediator_id, updated_at=func.now()))
        await deps.outbox.add(session, MediationRescheduled(
            **_ref(med), at=_now(), by=_actor(p), booking_id=nid, mediator_id=mediator_id,
            starts_at=slot.start, ends_at=slot.end))
        nb = await _load_booking(session, nid)
    return shapes.booking(nb)


async def cancel(session: AsyncSession, deps: Deps, p: Principal, booking_id: str, reason: str | None) -> dict:
    async with session.begin():
        b = await _load_booking(session, booking_id)
        med = await _load_mediation(session, b["mediation_id"], lock=True)
        _authorize_manage(p, med)
        b = await _load_booking(session, booking_id)
        if b["status"] != "active":
            raise conflict("booking_not_active", "该预约已取消或已改期", f"booking is {b['status']}", status=b["status"])
        await session.execute(update(orm.bookings).where(orm.bookings.c.id == booking_id)
                              .values(status="cancelled", cancel_reason=reason))
        others = (await session.execute(select(func.count()).select_from(orm.bookings).where(
            orm.bookings.c.mediation_id == med["id"], orm.bookings.c.status == "active"))).scalar_one()
        sessions_n = (await session.execute(select(func.count()).select_from(orm.sessions).where(
            orm.sessions.c.mediation_id == med["id"]))).scalar_one()
        if med["status"] == rules.BOOKED and not others and not sessions_n:
            # nothing else booked: the mediation is open again and frees the mediator's capacity
            await session.execute(update(orm.mediations).where(orm.mediations.c.id == med["id"])
                                  .values(status=rules.OPEN, mediator_id=None, updated_at=func.now()))
        await deps.outbox.add(session, MediationCancelled(**_ref(med), at=_now(), by=_actor(p), booking_id=booking_id,
                                                          reason=reason))
        b = await _load_booking(session, booking_id)
    return shapes.booking(b)


# ---------------------------------------------------------------------------------------------- sessions

async def _signatures(session: AsyncSession, session_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if not session_ids:
        return out
    rows = await session.execute(select(orm.signatures).where(orm.signatures.c.session_id.in_(session_ids))
                                 .order_by(orm.signatures.c.signed_at))
    for r in rows.all():
        d = _row(r)
        out.setdefault(d["session_id"], []).append(d)
    return out


async def create_session(session: AsyncSession, deps: Deps, p: Principal, mediation_id: str, body: SessionIn) -> dict:
    async with session.begin():
        med = await _load_mediation(session, mediation_id, lock=True)
        _authorize_mediator(p, med)
        if med["status"] not in rules.RECORDABLE:
            raise conflict("not_recordable", "该调解案件当前不能记录调解", f"mediation is {med['status']}",
                           status=med["status"])
        if body.booking_id:
            b = _row((await session.execute(select(orm.bookings).where(orm.bookings.c.id == body.booking_id))).first())
            if b is None or b["mediation_id"] != mediation_id:
                raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=[
                    field_error("booking_id", "unknown_booking", "预约不属于此案件",
                                "booking does not belong to this mediation")])
        seq = (await session.execute(select(func.coalesce(func.max(orm.sessions.c.seq), 0))
                                     .where(orm.sessions.c.mediation_id == mediation_id))).scalar_one() + 1
        sid = _id()
        await session.execute(insert(orm.sessions).values(
            id=sid, mediation_id=mediation_id, seq=seq, booking_id=body.booking_id, started_at=body.started_at,
            ended_at=body.ended_at, place=body.place, attendees=body.attendees, points_agreed=body.points_agreed,
            points_outstanding=body.points_outstanding, notes=body.notes, status="open"))
        if med["status"] == rules.BOOKED:
            await session.execute(update(orm.mediations).where(orm.mediations.c.id == mediation_id)
                                  .values(status=rules.IN_PROGRESS, updated_at=func.now()))
        s = _row((await session.execute(select(orm.sessions).where(orm.sessions.c.id == sid))).first())
        party_ids = await _party_ids(session, mediation_id)
    return shapes.session(s, [], rules.required_signers(med["mediator_id"], party_ids))


async def get_session(session: AsyncSession, p: Principal, session_id: str) -> dict:
    async with session.begin():
        s = await _load_session(session, session_id)
        med = await _load_mediation(session, s["mediation_id"])
        party_ids = await _party_ids(session, med["id"])
        _authorize_view(p, med, party_ids)
        sigs = (await _signatures(session, [session_id])).get(session_id, [])
    return shapes.session(s, sigs, rules.required_signers(med["mediator_id"], party_ids))


async def _load_session(session: AsyncSession, session_id: str, lock: bool = False) -> dict:
    q = select(orm.sessions).where(orm.sessions.c.id == session_id)
    if lock:
        q = q.with_for_update()
    s = _row((await session.execute(q)).first())
    if s is None:
        raise not_found("session", "调解记录")
    return s


def _code_hash(deps: Deps, otp_id: str, code: str) -> str:
    return hmac.new(deps.settings.internal_token_secret.encode(), f"{otp_id}:{code}".encode(),
                    hashlib.sha256).hexdigest()


def _mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


async def request_otp(session: AsyncSession, deps: Deps, p: Principal, session_id: str, party_id: str) -> dict:
    """Send a one-time code to a party's phone, to sign a session record with."""
    async with session.begin():
        s = await _load_session(session, session_id)
        med = await _load_mediation(session, s["mediation_id"])
        parties = {x["id"]: x for x in await _parties(session, med["id"])}
        _authorize_signing_for_party(p, med, party_id)
        party = parties.get(party_id)
        if party is None:
            raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=[
                field_error("party_id", "unknown_party", "不是本案当事人", "not a party of this mediation")])
        if s["status"] == "sealed":
            raise conflict("record_sealed", "记录已封存", "the record is already sealed")
        signed = (await session.execute(select(orm.signatures.c.id).where(
            orm.signatures.c.session_id == session_id, orm.signatures.c.signer == f"party:{party_id}"))).first()
        if signed is not None:
            raise conflict("already_signed", "该当事人已签名", "this party has already signed")
        recent = (await session.execute(select(func.count()).select_from(orm.otp_codes).where(
            orm.otp_codes.c.session_id == session_id, orm.otp_codes.c.party_id == party_id,
            orm.otp_codes.c.created_at > func.now() - timedelta(seconds=deps.settings.otp_ttl_seconds)))).scalar_one()
        if recent >= OTP_PER_TTL:
            raise ApiError(429, "too_many_codes", "验证码发送过于频繁，请稍后再试",
                           "too many codes sent; use the last one or try again later")
        code = f"{secrets.randbelow(10**6):06d}"
        oid = _id()
        expires = _now() + timedelta(seconds=deps.settings.otp_ttl_seconds)
        await session.execute(insert(orm.otp_codes).values(id=oid, session_id=session_id, party_id=party_id,
                                                           code_hash=_code_hash(deps, oid, code), expires_at=expires))
    await deps.sms.send(party["phone"], f"【枫桥调解】您正在确认第{s['seq']}次调解记录，验证码 {code}，"
                                        f"{deps.settings.otp_ttl_seconds // 60} 分钟内有效。",
                        purpose="otp", ref=session_id)
    return {"otp_id": oid, "sent_to": _mask(party["phone"]), "expires_at": expires}


def _authorize_signing_for_party(p: Principal, med: dict, party_id: str) -> None:
    if p.has(PARTY) and p.party_id == party_id:
        return
    # assisted signing at the centre: the mediator's tablet shows the signature pad / takes the code
    if p.has(MEDIATOR) and p.mediator_id and p.mediator_id == med["mediator_id"]:
        return
    raise forbidden("无权代表该当事人签名", "you may not sign for this party")


def _decode_image(b64: str) -> bytes:
    try:
        data = base64.b64decode(b64, validate=True)
    except ValueError:
        data = b""
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=[
            field_error("image_base64", "bad_image", "签名图片须为 PNG 或 JPEG（base64）",
                        "the signature image must be a base64 PNG or JPEG")])
    return data


async def sign(session: AsyncSession, deps: Deps, p: Principal, session_id: str, body: SignatureIn) -> dict:
    wrong_code = False
    sealed_now = False
    async with session.begin():
        s0 = await _load_session(session, session_id)
        med = await _load_mediation(session, s0["mediation_id"], lock=True)  # lock order: mediation, then session
        s = await _load_session(session, session_id, lock=True)
        parties = {x["id"]: x for x in await _parties(session, med["id"])}
        if body.signer == "mediator":
            if not (p.has(MEDIATOR) and p.mediator_id and p.mediator_id == med["mediator_id"]):
                raise forbidden("仅承办调解员本人可以调解员身份签名", "only the mediator in charge signs as mediator")
            signer = f"mediator:{med['mediator_id']}"
            name = (await session.execute(select(orm.mediators.c.name)
                                          .where(orm.mediators.c.id == med["mediator_id"]))).scalar_one()
            role = "mediator"
        else:
            if body.party_id not in parties:
                raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=[
                    field_error("party_id", "unknown_party", "不是本案当事人", "not a party of this mediation")])
            _authorize_signing_for_party(p, med, body.party_id)
            signer, name, role = f"party:{body.party_id}", parties[body.party_id]["name"], "party"
        if s["status"] == "sealed":
            raise conflict("record_sealed", "记录已封存，不能再签名", "the record is sealed; it cannot be signed again")
        exists = (await session.execute(select(orm.signatures.c.id).where(
            orm.signatures.c.session_id == session_id, orm.signatures.c.signer == signer))).first()
        if exists is not None:
            raise conflict("already_signed", "已签名，不能重复签名", "already signed")
        image, image_sha = None, None
        if body.method == "image":
            image = _decode_image(body.image_base64 or "")
            image_sha = hashlib.sha256(image).hexdigest()
        else:
            otp = _row((await session.execute(
                select(orm.otp_codes).where(orm.otp_codes.c.session_id == session_id,
                                            orm.otp_codes.c.party_id == body.party_id,
                                            orm.otp_codes.c.used_at.is_(None))
                .order_by(orm.otp_codes.c.created_at.desc()).limit(1).with_for_update())).first())
            if otp is None or otp["expires_at"] <= _now() or otp["attempts"] >= deps.settings.otp_max_attempts:
                raise ApiError(422, "validation_failed", "验证码无效或已过期", "no valid one-time code", fields=[
                    field_error("code", "code_expired", "验证码无效或已过期，请重新获取",
                                "the one-time code is missing or expired; request a new one")])
            if not hmac.compare_digest(otp["code_hash"], _code_hash(deps, otp["id"], body.code or "")):
                await session.execute(update(orm.otp_codes).where(orm.otp_codes.c.id == otp["id"])
                                      .values(attempts=orm.otp_codes.c.attempts + 1))
                wrong_code = True
            else:
                await session.execute(update(orm.otp_codes).where(orm.otp_codes.c.id == otp["id"])
                                      .values(used_at=func.now()))
        if not wrong_code:
            try:
                async with session.begin_nested():
                    await session.execute(insert(orm.signatures).values(
                        id=_id(), session_id=session_id, signer=signer, signer_role=role, signer_name=name,
                        method=body.method, image_sha256=image_sha, image=image, content_hash=records.content_hash(s),
                        submitted_by=p.sub, signed_at=_now()))
            except IntegrityError:
                raise conflict("already_signed", "已签名，不能重复签名", "already signed") from None
            sigs = (await _signatures(session, [session_id])).get(session_id, [])
            required = rules.required_signers(med["mediator_id"], list(parties))
            if required <= {x["signer"] for x in sigs}:
                await _seal(session, deps, p, med, s, sigs)
                sealed_now = True
    if wrong_code:
        raise ApiError(422, "validation_failed", "验证码错误", "wrong one-time code", fields=[
            field_error("code", "code_mismatch", "验证码错误", "the one-time code is wrong")])
    out = await get_session(session, p, session_id)
    out["sealed_now"] = sealed_now
    return out


async def _seal(session: AsyncSession, deps: Deps, p: Principal, med: dict, s: dict, sigs: list[dict]) -> None:
    """All required signatures are in: seal the record into the mediation's hash chain."""
    c = orm.sessions.c
    last = _row((await session.execute(select(c.chain_index, c.record_hash).where(
        c.mediation_id == med["id"], c.status == "sealed").order_by(c.chain_index.desc()).limit(1))).first())
    index = 0 if last is None else last["chain_index"] + 1
    prev = records.GENESIS if last is None else last["record_hash"]
    sealed = {**s, "chain_index": index, "sealed_at": _now(), "prev_hash": prev}
    h = records.record_hash(sealed, sigs, prev)
    await session.execute(update(orm.sessions).where(c.id == s["id"]).values(
        status="sealed", chain_index=index, prev_hash=prev, sealed_at=sealed["sealed_at"], record_hash=h))
    await deps.outbox.add(session, SessionSealed(
        **_ref(med), at=sealed["sealed_at"], by=_actor(p), session_id=s["id"], seq=s["seq"], record_hash=h,
        points_agreed=len(s["points_agreed"]), points_outstanding=len(s["points_outstanding"])))


async def _sealed_chain(session: AsyncSession, mediation_id: str) -> list[tuple[dict, list[dict]]]:
    c = orm.sessions.c
    rows = [_row(r) for r in (await session.execute(select(orm.sessions).where(
        c.mediation_id == mediation_id, c.status == "sealed").order_by(c.chain_index))).all()]
    sigs = await _signatures(session, [r["id"] for r in rows])
    return [(r, sigs.get(r["id"], [])) for r in rows]


async def verify_records(session: AsyncSession, p: Principal, mediation_id: str) -> dict:
    async with session.begin():
        med = await _load_mediation(session, mediation_id)
        _authorize_view(p, med, await _party_ids(session, mediation_id))
        chain = await _sealed_chain(session, mediation_id)
        agr = _row((await session.execute(select(orm.agreements).where(
            orm.agreements.c.mediation_id == mediation_id))).first())
    checks = records.verify_chain(chain)
    out = {
        "mediation_id": mediation_id,
        "records": [{"session_id": c.session_id, "seq": c.seq, "chain_index": c.chain_index, "valid": c.ok,
                     "problems": c.problems} for c in checks],
        "head": chain[-1][0]["record_hash"] if chain else None,
    }
    valid = all(c.ok for c in checks)
    if agr is not None:
        pdf_ok = hashlib.sha256(agr["pdf"]).hexdigest() == agr["sha256"]
        head_ok = any(s["record_hash"] == agr["chain_head"] for s, _ in chain)
        out["agreement"] = {"id": agr["id"], "valid": pdf_ok and head_ok, "pdf_hash_ok": pdf_ok,
                            "chain_head_ok": head_ok}
        valid = valid and pdf_ok and head_ok
    out["valid"] = valid
    return out


# ---------------------------------------------------------------------------------------------- agreement

async def generate_agreement(session: AsyncSession, deps: Deps, p: Principal, mediation_id: str) -> dict:
    async with session.begin():
        med = await _load_mediation(session, mediation_id, lock=True)
        _authorize_mediator(p, med)
        if med["status"] != rules.IN_PROGRESS:
            raise conflict("not_ready", "当前状态不能生成调解协议", f"mediation is {med['status']}", status=med["status"])
        open_n = (await session.execute(select(func.count()).select_from(orm.sessions).where(
            orm.sessions.c.mediation_id == mediation_id, orm.sessions.c.status != "sealed"))).scalar_one()
        if open_n:
            raise conflict("unsealed_records", "尚有未经双方确认的调解记录", "some session records are not yet confirmed")
        chain = await _sealed_chain(session, mediation_id)
        if not chain:
            raise conflict("no_records", "没有已确认的调解记录", "no confirmed session record")
        if not all(c.ok for c in records.verify_chain(chain)):
            raise conflict("records_tampered", "调解记录校验失败", "the sealed records fail verification")
        recs = [s for s, _ in chain]
        points, outstanding = rules.agreement_points(recs)
        if outstanding:
            raise conflict("points_outstanding", "最近一次调解记录仍有未决事项", "the last record has outstanding points",
                           points_outstanding=outstanding)
        if not points:
            raise conflict("no_points", "没有已达成的协议事项", "no point was agreed")
        parties = await _parties(session, mediation_id)
        mediator_name = (await session.execute(select(orm.mediators.c.name)
                                               .where(orm.mediators.c.id == med["mediator_id"]))).scalar_one()
        aid = _id()
        now = _now()
        head = recs[-1]["record_hash"]
        doc = AgreementDoc(
            agreement_id=aid, street=deps.jurisdiction.street.name, category_name=deps.category_name(med["category"]),
            summary=med["summary"], parties=parties, mediator_name=mediator_name, points=points,
            records=[{"seq": r["seq"], "started_at": r["started_at"].astimezone(deps.tz).strftime("%Y-%m-%d %H:%M"),
                      "place": r["place"], "record_hash": r["record_hash"]} for r in recs],
            chain_head=head, generated_at=now.astimezone(deps.tz))
        pdf = await asyncio.to_thread(render, doc, deps.settings.pdf_font_path, deps.settings.pdf_font_index)
        digest = hashlib.sha256(pdf).hexdigest()
        apply_by = now + timedelta(days=deps.apply_within_days)
        try:
            async with session.begin_nested():
                await session.execute(insert(orm.agreements).values(
                    id=aid, mediation_id=mediation_id, points=points, chain_head=head, pdf=pdf, sha256=digest,
                    generated_at=now, apply_by=apply_by))
        except IntegrityError:
            raise conflict("agreement_exists", "调解协议已生成", "the agreement already exists") from None
        await session.execute(update(orm.mediations).where(orm.mediations.c.id == mediation_id)
                              .values(status=rules.AGREED, updated_at=func.now()))
        await deps.outbox.add(session, AgreementGenerated(**_ref(med), at=now, by=_actor(p), agreement_id=aid,
                                                          sha256=digest))
    return {"id": aid, "mediation_id": mediation_id, "sha256": digest, "points": points, "chain_head": head,
            "generated_at": now, "apply_by": apply_by, "pdf_url": f"/api/v1/mediation/agreements/{aid}/pdf"}


async def get_agreement(session: AsyncSession, p: Principal, agreement_id: str, *, with_pdf: bool = False) -> dict:
    async with session.begin():
        a = _row((await session.execute(select(orm.agreements).where(orm.agreements.c.id == agreement_id))).first())
        if a is None:
            raise not_found("agreement", "调解协议")
        med = await _load_mediation(session, a["mediation_id"])
        _authorize_view(p, med, await _party_ids(session, med["id"]))
    out = shapes.agreement(a)
    if with_pdf:
        out["pdf"] = a["pdf"]
    return out


# ---------------------------------------------------------------------------------------------- court

async def apply_to_court(session: AsyncSession, deps: Deps, p: Principal, mediation_id: str) -> dict:
    async with session.begin():
        med = await _load_mediation(session, mediation_id)
        _authorize_manage(p, med)
        if p.has(EXTERNAL_SYSTEM) and not p.has(ADMIN, DISPATCHER):
            raise forbidden("外部系统不能申请司法确认", "external systems may not apply to the court")
        agr = _row((await session.execute(select(orm.agreements).where(
            orm.agreements.c.mediation_id == mediation_id))).first())
        _check_can_apply(med, agr)
        await _check_no_open_application(session, mediation_id)
        parties = await _parties(session, mediation_id)
    aid = _id()
    payload = {
        "application_id": aid, "mediation_id": mediation_id, "court": deps.court_code,
        "category": med["category"], "callback_url": deps.settings.court_callback_url,
        "parties": [{"side": x["side"], "name": x["name"], "organisation": x["organisation"]} for x in parties],
        "agreement": {"id": agr["id"], "sha256": agr["sha256"], "generated_at": agr["generated_at"].isoformat(),
                      "pdf_base64": base64.b64encode(agr["pdf"]).decode()},
    }
    try:
        answer = await deps.court.apply(payload)  # idempotent at the court on application_id
    except CourtError as exc:
        log.warning("court application failed", mediation_id=mediation_id, error=str(exc))
        raise ApiError(502, "court_unavailable", "法院系统暂不可用，请稍后重试",
                       "the court's system is unavailable; try again later") from exc
    now = _now()
    async with session.begin():
        med = await _load_mediation(session, mediation_id, lock=True)
        _check_can_apply(med, agr)
        await _check_no_open_application(session, mediation_id)
        await session.execute(insert(orm.court_applications).values(
            id=aid, mediation_id=mediation_id, agreement_id=agr["id"], court=deps.court_code,
            external_ref=answer.get("external_ref"), status="submitted",
            history=[{"at": now.isoformat(), "event": "submitted", "by": p.sub}], applied_at=now))
        await session.execute(update(orm.mediations).where(orm.mediations.c.id == mediation_id)
                              .values(status=rules.APPLIED, updated_at=func.now()))
        await deps.outbox.add(session, JudicialApplied(**_ref(med), at=now, by=_actor(p), application_id=aid,
                                                       court=deps.court_code, deadline=agr["apply_by"]))
        row = _row((await session.execute(select(orm.court_applications)
                                          .where(orm.court_applications.c.id == aid))).first())
    return shapes.application(row)


def _check_can_apply(med: dict, agr: dict | None) -> None:
    if agr is None:
        raise conflict("no_agreement", "尚未生成调解协议", "no agreement has been generated")
    if med["status"] not in rules.CAN_APPLY:
        raise conflict("cannot_apply", "当前状态不能申请司法确认", f"mediation is {med['status']}", status=med["status"])
    if agr["apply_by"] < _now():
        raise conflict("deadline_passed", "已超过申请司法确认的期限", "the deadline to apply has passed",
                       apply_by=agr["apply_by"].isoformat())


async def _check_no_open_application(session: AsyncSession, mediation_id: str) -> None:
    c = orm.court_applications.c
    open_app = (await session.execute(select(c.id, c.status).where(
        c.mediation_id == mediation_id, c.status.in_(("submitted", "material_requested", "confirmed"))))).first()
    if open_app is not None:
        raise conflict("already_applied", "已申请司法确认", "an application is already pending or confirmed",
                       application_id=open_app[0], status=open_app[1])


async def get_application(session: AsyncSession, p: Principal, application_id: str) -> dict:
    async with session.begin():
        a = _row((await session.execute(select(orm.court_applications)
                                        .where(orm.court_applications.c.id == application_id))).first())
        if a is None:
            raise not_found("court application", "司法确认申请")
        med = await _load_mediation(session, a["mediation_id"])
        _authorize_view(p, med, await _party_ids(session, med["id"]))
    return shapes.application(a)


async def add_material(session: AsyncSession, deps: Deps, p: Principal, application_id: str, description: str) -> dict:
    async with session.begin():
        a = _row((await session.execute(select(orm.court_applications)
                                        .where(orm.court_applications.c.id == application_id))).first())
        if a is None:
            raise not_found("court application", "司法确认申请")
        med = await _load_mediation(session, a["mediation_id"])
        _authorize_manage(p, med)
        if a["status"] != "material_requested":
            raise conflict("no_material_requested", "法院未要求补充材料", f"application is {a['status']}",
                           status=a["status"])
    try:
        await deps.court.add_material(a["external_ref"], {"application_id": application_id, "description": description})
    except CourtError as exc:
        raise ApiError(502, "court_unavailable", "法院系统暂不可用，请稍后重试",
                       "the court's system is unavailable; try again later") from exc
    async with session.begin():
        await _load_mediation(session, a["mediation_id"], lock=True)
        c = orm.court_applications.c
        res = await session.execute(update(orm.court_applications).where(
            c.id == application_id, c.status == "material_requested").values(
            status="submitted",
            history=c.history.op("||")(_json_list({"at": _now().isoformat(), "event": "material_added",
                                                   "by": p.sub, "description": description}))).returning(c.id))
        if res.first() is not None:
            await session.execute(update(orm.mediations).where(orm.mediations.c.id == a["mediation_id"])
                                  .values(status=rules.APPLIED, updated_at=func.now()))
    return await get_application(session, p, application_id)


def _json_list(item: dict):
    from sqlalchemy import cast, literal
    from sqlalchemy.dialects.postgresql import JSONB

    return cast(literal([item], JSONB), JSONB)


async def court_callback(session: AsyncSession, deps: Deps, cb: CourtCallback) -> dict:
    """The court's decision (HMAC already verified by the router). Idempotent: a repeated callback is a no-op."""
    c = orm.court_applications.c
    async with session.begin():
        a = _row((await session.execute(select(orm.court_applications).where(c.id == cb.application_id))).first())
        if a is None or (a["external_ref"] and a["external_ref"] != cb.external_ref):
            raise not_found("court application", "司法确认申请")
        med = await _load_mediation(session, a["mediation_id"], lock=True)
        a = _row((await session.execute(select(orm.court_applications).where(c.id == cb.application_id)
                                        .with_for_update())).first())
        target = {"more_material": "material_requested", "confirmed": "confirmed", "rejected": "rejected"}[cb.decision]
        if a["status"] == target and (cb.decision != "confirmed" or a["ruling_no"] == cb.ruling_no):
            return {"application_id": a["id"], "status": a["status"], "duplicate": True}
        if a["status"] not in ("submitted", "material_requested") or (
                cb.decision == "more_material" and a["status"] != "submitted"):
            raise conflict("already_decided", "该申请已有结论", f"application is {a['status']}", status=a["status"])
        entry = {"at": cb.at.isoformat(), "event": cb.decision, "ruling_no": cb.ruling_no, "reason": cb.reason}
        values: dict = {"status": target, "history": c.history.op("||")(_json_list(entry))}
        if cb.decision == "more_material":
            values["material_request"] = cb.reason
            med_status = rules.MATERIAL_REQUESTED
            await deps.outbox.add(session, JudicialMaterialRequested(
                **_ref(med), at=cb.at, by=SYSTEM, application_id=a["id"], request=cb.reason))
        elif cb.decision == "confirmed":
            values.update(ruling_no=cb.ruling_no, decided_at=cb.at)
            med_status = rules.CONFIRMED
            await deps.outbox.add(session, MediationConfirmed(
                **_ref(med), at=cb.at, by=SYSTEM, application_id=a["id"], court=a["court"], ruling_no=cb.ruling_no,
                agreement_id=a["agreement_id"]))
        else:
            values.update(reason=cb.reason, decided_at=cb.at)
            med_status = rules.REJECTED
            await deps.outbox.add(session, JudicialRejected(
                **_ref(med), at=cb.at, by=SYSTEM, application_id=a["id"], reason=cb.reason or "rejected"))
        await session.execute(update(orm.court_applications).where(c.id == a["id"]).values(**values))
        await session.execute(update(orm.mediations).where(orm.mediations.c.id == med["id"])
                              .values(status=med_status, updated_at=func.now()))
    return {"application_id": a["id"], "status": target, "duplicate": False}


# ---------------------------------------------------------------------------------------------- failure, reminders

async def fail(session: AsyncSession, deps: Deps, p: Principal, mediation_id: str, body: FailureIn) -> dict:
    async with session.begin():
        med = await _load_mediation(session, mediation_id, lock=True)
        if not (p.has(*STAFF) or (p.has(MEDIATOR) and p.mediator_id == med["mediator_id"])):
            raise forbidden("无权办理此调解案件", "you may not manage this mediation")
        if med["status"] not in rules.CAN_FAIL:
            raise conflict("cannot_fail", "当前状态不能登记调解不成", f"mediation is {med['status']}",
                           status=med["status"])
        await session.execute(update(orm.bookings).where(
            orm.bookings.c.mediation_id == mediation_id, orm.bookings.c.status == "active",
            orm.bookings.c.starts_at > func.now()).values(status="cancelled", cancel_reason="mediation failed"))
        await session.execute(update(orm.mediations).where(orm.mediations.c.id == mediation_id).values(
            status=rules.FAILED, handed_to=body.handed_to, outcome=body.outcome, updated_at=func.now()))
        await deps.outbox.add(session, MediationFailed(**_ref(med), at=_now(), by=_actor(p), handed_to=body.handed_to,
                                                       outcome=body.outcome))
    return await mediation_view(session, deps, p, mediation_id)


async def remind_deadlines(session_factory: async_sessionmaker, deps: Deps, now: datetime | None = None) -> int:
    """Remind the parties to apply for judicial confirmation before the deadline (and once when it passed).
    Each reminder is recorded once (unique per mediation and kind); returns how many were sent."""
    now = now or _now()
    sent = 0
    async with session_factory() as session:
        async with session.begin():
            a, m = orm.agreements.c, orm.mediations.c
            rows = (await session.execute(select(a.mediation_id, a.apply_by).join(
                orm.mediations, m.id == a.mediation_id).where(m.status.in_((rules.AGREED, rules.REJECTED))))).all()
        for mediation_id, apply_by in rows:
            kinds = [(f"judicial_apply_{d}d", apply_by - timedelta(days=d))
                     for d in sorted(deps.settings.judicial_remind_days_before, reverse=True)]
            kinds.append(("judicial_apply_overdue", apply_by))
            due = [(k, at) for k, at in kinds if at <= now]
            if not due:
                continue
            kind, _ = due[-1]  # the most urgent one due now; earlier ones are not sent late
            async with session.begin():
                res = await session.execute(pg_insert(orm.reminders).values(
                    id=_id(), mediation_id=mediation_id, kind=kind, due_at=apply_by).on_conflict_do_nothing()
                    .returning(orm.reminders.c.id))
                if res.first() is None:
                    continue
                parties = await _parties(session, mediation_id)
                med = await _load_mediation(session, mediation_id)
                await deps.outbox.add(session, JudicialReminded(**_ref(med), at=now, by=SYSTEM, kind=kind,
                                                                deadline=apply_by))
            local = apply_by.astimezone(deps.tz).strftime("%Y年%m月%d日")
            text = (f"【枫桥调解】调解协议申请司法确认的期限为{local}，请尽快办理。" if kind != "judicial_apply_overdue"
                    else f"【枫桥调解】调解协议申请司法确认的期限（{local}）已过。")
            for party in parties:
                await deps.sms.send(party["phone"], text, purpose="deadline_reminder", ref=mediation_id)
            sent += 1
    return sent


async def reminders_for(session: AsyncSession, mediation_id: str) -> list[dict]:
    async with session.begin():
        rows = (await session.execute(select(orm.reminders).where(orm.reminders.c.mediation_id == mediation_id)
                                      .order_by(orm.reminders.c.sent_at))).all()
    return [_row(r) for r in rows]

