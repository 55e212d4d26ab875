"""Use cases of intake: load, decide (domain), save, emit to the outbox - one transaction each."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import filetype
import structlog
from fengqiao_common.auth import ADMIN, DISPATCHER, EXTERNAL_SYSTEM, GRID_WORKER, Principal
from fengqiao_common.errors import ApiError, conflict, field_error, forbidden, not_found
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Envelope
from fengqiao_events.outbox import outbox_row
from fengqiao_events.payloads.case import (
    CaseMerged,
    CaseRated,
    CaseRegraded,
    CaseReopened,
    GridEventReported,
    WeakSignalReported,
)
from fengqiao_events.payloads.common import Actor, Location
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters.case_writer import CaseWriter
from .adapters.orm import (
    attachments,
    case_requesters,
    cases,
    idempotency_keys,
    ratings,
    timeline,
    weak_signals,
    webhook_deliveries,
    webhooks,
)
from .domain import geo, grading, pii
from .domain import status as status_rules
from .domain.case_no import format_case_no
from .domain.timeline import note
from .schemas import CaseIn, DemandIn, GridEventIn, MergeIn, PetitionIn, RatingIn, RegradeIn, WeakSignalIn

log = structlog.get_logger("fengqiao.intake")

STAFF = (DISPATCHER, ADMIN)
READ_ALL = ("dispatcher", "admin", "leader", "department_officer", "department_system", "mediator", "service")

ALLOWED_TYPES = {
    "image/jpeg": "photo", "image/png": "photo", "image/gif": "photo", "image/webp": "photo",
    "image/heic": "photo", "image/heif": "photo", "image/bmp": "photo",
    "audio/mpeg": "audio", "audio/mp4": "audio", "audio/x-m4a": "audio", "audio/m4a": "audio",
    "audio/x-wav": "audio", "audio/wav": "audio", "audio/amr": "audio", "audio/ogg": "audio",
    "audio/aac": "audio", "audio/x-flac": "audio",
    "video/mp4": "video", "video/quicktime": "video", "video/3gpp": "video",
    "application/pdf": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/msword": "document", "application/vnd.ms-excel": "document",
}


@dataclass
class Deps:
    """What the use cases need from the runtime (the composition root builds it)."""

    settings: Any
    jurisdiction: Jurisdiction
    outbox: Any
    storage: Any
    writer: CaseWriter | None = None  # the new-case write path (its own asyncpg pool)

    def __post_init__(self) -> None:
        self.timezone = ZoneInfo(self.settings.timezone)


def deps_of(runtime) -> Deps:
    return runtime.state["deps"]


def now() -> datetime:
    return datetime.now(UTC)


def _bad(field: str, zh: str, en: str, code: str = "invalid") -> ApiError:
    return ApiError(422, "validation_failed", f"请求参数有误：{zh}", f"request validation failed: {en}",
                    fields=[field_error(field, code, zh, en, ["body", *field.split(".")])])


def _canonical_hash(model) -> str:
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()


def _actor(principal: Principal) -> dict:
    return Actor(**principal.actor()).model_dump(mode="json")


async def _idem_lookup(session: AsyncSession, caller: str, scope: str, key: str | None,
                       request_hash: str) -> str | None:
    if not key:
        return None
    row = (await session.execute(select(idempotency_keys).where(
        idempotency_keys.c.caller == caller, idempotency_keys.c.scope == scope, idempotency_keys.c.key == key,
    ))).mappings().first()
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise conflict("idempotency_key_reused", "同一幂等键已用于不同的请求内容",
                       "this Idempotency-Key was already used with a different request body")
    return row["resource_id"]


async def _idem_claim(session: AsyncSession, caller: str, scope: str, key: str | None, request_hash: str,
                      resource_id: str) -> None:
    """Inside the creating transaction: a concurrent retry with the same key fails the primary key."""
    if key:
        await session.execute(insert(idempotency_keys).values(
            caller=caller, scope=scope, key=key, request_hash=request_hash, resource_id=resource_id))


# --- visibility -----------------------------------------------------------------------------------

def visibility_clause(principal: Principal):
    """SQL condition: the cases this principal may read (None: all)."""
    if principal.has(*READ_ALL):
        return None
    conds = []
    if principal.has(EXTERNAL_SYSTEM) and principal.external_system:
        conds.append(cases.c.id.in_(
            select(case_requesters.c.case_id).where(case_requesters.c.source_system == principal.external_system)
        ))
    if principal.has(GRID_WORKER):
        if principal.grids:
            conds.append(cases.c.grid.in_(principal.grids))
        conds.append(cases.c.reporter["id"].astext == principal.sub)
    if not conds:
        return cases.c.id.is_(None)  # nothing
    return or_(*conds)


async def load_case(session: AsyncSession, ref: str, principal: Principal | None, *, lock: bool = False) -> dict:
    """By id or case number; 404 when missing *or* not visible (no existence leak)."""
    q = select(cases).where(or_(cases.c.id == ref, cases.c.case_no == ref))
    if principal is not None:
        clause = visibility_clause(principal)
        if clause is not None:
            q = q.where(clause)
    if lock:
        q = q.with_for_update()
    row = (await session.execute(q)).mappings().first()
    if row is None:
        raise not_found("case", "案件")
    return dict(row)


# --- reports --------------------------------------------------------------------------------------

def _place(d: Deps, body: CaseIn, *, snap: bool) -> tuple[str | None, str | None]:
    j = d.jurisdiction
    grid, community = body.grid, body.community
    if grid:
        g = j.grid(grid)
        if g is None:
            raise _bad("grid", f"网格 {grid} 不在本辖区", f"unknown grid {grid}", "unknown_grid")
        if community and community != g.community:
            raise _bad("community", f"网格 {grid} 不属于社区 {community}",
                       f"grid {grid} is not in community {community}", "grid_community_mismatch")
        return grid, g.community
    if community and j.community(community) is None:
        raise _bad("community", f"社区 {community} 不在本辖区", f"unknown community {community}", "unknown_community")
    if snap and body.location and body.location.lat is not None:
        code = geo.nearest(body.location.lat, body.location.lon,
                           [(g.code, g.centroid.lat, g.centroid.lon) for g in j.grids], d.settings.grid_snap_max_m)
        if code:
            return code, j.grid(code).community
    return None, community


async def _allocate_case_no(conn, d: Deps, at: datetime) -> str:
    """The next number of the day, taken in its own one-statement transaction that commits without
    waiting for the WAL flush (see adapters.case_writer).

    The day's counter row is the one thing every report writes; holding its lock for the whole case
    transaction serialised all writers (the bench showed it), and so did holding it over an fsync. The
    price: a case transaction that fails after this point leaves a gap in the day's numbers (numbers
    are never repeated)."""
    street = d.jurisdiction.street.code
    day = at.astimezone(d.timezone).date()
    return format_case_no(street, day, await d.writer.next_case_seq(conn, street, day))


async def _find_duplicate(conn, d: Deps, category: str, lat: float | None, lon: float | None,
                          at: datetime) -> str | None:
    if lat is None or lon is None:
        return None
    radius = d.settings.duplicate_radius_m
    dlat, dlon = geo.degree_box(lat, radius)
    since = at - timedelta(hours=d.settings.duplicate_window_hours)
    rows = await d.writer.duplicate_candidates(conn, category, since, (lat - dlat, lat + dlat), (lon - dlon, lon + dlon))
    best, best_d = None, radius
    for r in rows:
        dist = geo.distance_m(lat, lon, r["lat"], r["lon"])
        if dist <= best_d:
            best, best_d = r["id"], dist
    return best


def _replay(existing: dict, request_hash: str) -> dict:
    if existing["idem_hash"] != request_hash:
        raise conflict("idempotency_key_reused", "同一幂等键已用于不同的请求内容",
                       "this Idempotency-Key was already used with a different request body",
                       case_id=existing["id"], case_no=existing["case_no"])
    return existing


async def create_case(
    d: Deps,
    principal: Principal,
    body: CaseIn,
    *,
    channel: str,
    sub_channel: str | None = None,
    idempotency_key: str | None = None,
    extra_parties: list[dict] | None = None,
    snap_grid: bool = False,
    media_url: str | None = None,
) -> tuple[dict, bool]:
    """Accept a report; returns (case row, created). Same caller + key: the first case, nothing new.

    Three statements on one connection (adapters.case_writer): the case number, the duplicate
    candidates, then the case with its requester, timeline entry and outbox row in one transaction."""
    caller = principal.sub
    request_hash = _canonical_hash(body)
    j = d.jurisdiction
    async with d.writer.connection() as conn:
        if idempotency_key:
            existing = await d.writer.by_idempotency(conn, caller, idempotency_key)
            if existing:
                return _replay(existing, request_hash), False
        domain = j.domain(body.category)
        if domain is None:
            raise _bad("category", f"类别 {body.category} 不在目录中", f"unknown category {body.category}",
                       "unknown_category")
        grid, community = _place(d, body, snap=snap_grid)
        if channel == "grid_app" and not principal.has(*STAFF) and body.grid not in principal.grids:
            raise ApiError(403, "forbidden", "只能上报本人负责网格的事件", "grid workers report only in their own grids",
                           fields=[field_error("grid", "not_your_grid", "非本人负责网格", "not one of your grids",
                                               ["body", "grid"])])
        text = f"{body.title or ''}\n{body.description}"
        decision = grading.decide(domain.default_grade, text, body.people_involved, body.grade)
        reported_at = now()
        loc = body.location
        lat, lon = (loc.lat, loc.lon) if loc else (None, None)
        parties = [p.model_dump() for p in body.parties] + (extra_parties or [])
        requester = next((p for p in parties if p.get("role") == "requester"), None)
        source_system = principal.external_system if principal.has(EXTERNAL_SYSTEM) else None
        if source_system is not None and source_system not in {x.code for x in j.external_systems}:
            raise forbidden(f"外部系统 {source_system} 未登记", f"external system {source_system} is not registered")
        req_ref = pii.requester_ref(source_system or channel, requester.get("phone") or requester.get("id_card")
                                    or requester.get("name")) if requester else None
        summary = body.title or body.description.replace("\n", " ")[:40]
        case_id = str(uuid.uuid4())
        ids = list(body.attachments)
        # outside any transaction: the counter row's lock lasts one statement
        case_no = await _allocate_case_no(conn, d, reported_at)
        actor = _actor(principal)
        try:
            # one statement is its own transaction; attachments need a transaction around several
            async with contextlib.AsyncExitStack() as tx:
                if ids:
                    await tx.enter_async_context(conn.transaction())
                    found = await d.writer.claim_attachments(conn, ids, caller)
                    missing = [a for a in ids if a not in found]
                    if missing:
                        raise _bad("attachments", f"附件不存在或已被使用：{', '.join(missing)}",
                                   f"unknown or already used attachments: {', '.join(missing)}", "unknown_attachment")
                duplicate_of = await _find_duplicate(conn, d, body.category, lat, lon, reported_at)
                row = {
                    "id": case_id, "case_no": case_no, "channel": channel, "sub_channel": sub_channel,
                    "source_system": source_system, "external_ref": getattr(body, "external_ref", None),
                    "category": body.category, "grade": decision.grade, "grade_reasons": decision.reasons,
                    "keywords": decision.keywords, "district": j.district.code, "street": j.street.code,
                    "community": community, "grid": grid, "lat": lat, "lon": lon,
                    "address": loc.address if loc else None, "media_url": media_url, "summary": summary,
                    "description": body.description,
                    "people_involved": body.people_involved, "parties": parties, "occurred_at": body.occurred_at,
                    "reported_at": reported_at, "reporter": actor, "status": "reported",
                    "status_at": reported_at, "duplicate_of": duplicate_of, "merged_into": None,
                    "last_rating": None, "last_rating_at": None,
                    "idem_caller": caller if idempotency_key else None, "idem_key": idempotency_key,
                    "idem_hash": request_hash if idempotency_key else None, "updated_at": reported_at,
                }
                event = d.outbox.envelope(GridEventReported(
                    case_id=case_id, case_no=case_no, channel=channel, sub_channel=sub_channel,
                    source_system=source_system, category=body.category, grade=decision.grade,
                    grade_reasons=decision.reasons, grid=grid, community=community, street=j.street.code,
                    district=j.district.code, location=Location(lat=lat, lon=lon, address=row["address"]),
                    summary=summary, description=body.description, people_involved=body.people_involved,
                    keywords=decision.keywords, occurred_at=body.occurred_at, reported_at=reported_at,
                    reporter=Actor(**principal.actor()), requester_ref=req_ref, duplicate_of=duplicate_of,
                ))
                await d.writer.insert_case(
                    conn, row,
                    requester={"source_system": source_system, "channel": channel, "requester_ref": req_ref},
                    timeline={"at": reported_at, "kind": "case.reported", "actor": actor,
                              "note": note("case.reported", case_no),
                              "detail": {"channel": channel, "duplicate_of": duplicate_of}},
                    outbox=outbox_row(event),
                )
                if ids:
                    await d.writer.link_attachments(conn, ids, case_id)
        except asyncpg.UniqueViolationError as exc:
            if idempotency_key and exc.constraint_name == "uq_cases_idempotency":
                existing = await d.writer.by_idempotency(conn, caller, idempotency_key)
                if existing:
                    return _replay(existing, request_hash), False
            raise
    return row, True


async def report_grid_event(d, principal, body: GridEventIn, key: str | None):
    return await create_case(d, principal, body, channel="grid_app", idempotency_key=key)


async def register_petition(d, principal, body: PetitionIn, key: str | None):
    requester = body.requester.model_dump() | {"role": "requester"}
    return await create_case(d, principal, body, channel="petition", sub_channel=body.channel, idempotency_key=key,
                             extra_parties=[requester])


async def submit_demand(d, principal, body: DemandIn, key: str | None):
    extra = [body.requester.model_dump() | {"role": "requester"}] if body.requester else []
    return await create_case(d, principal, body, channel="external", idempotency_key=key,
                             extra_parties=extra, snap_grid=True)


# --- reading --------------------------------------------------------------------------------------

async def list_cases(session: AsyncSession, principal: Principal, *, status: str | None = None,
                     category: str | None = None, grid: str | None = None, channel: str | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    conds = []
    clause = visibility_clause(principal)
    if clause is not None:
        conds.append(clause)
    for col, val in ((cases.c.status, status), (cases.c.category, category), (cases.c.grid, grid),
                     (cases.c.channel, channel)):
        if val:
            conds.append(col == val)
    where = and_(*conds) if conds else None
    q = select(cases).order_by(cases.c.reported_at.desc(), cases.c.id).limit(limit).offset(offset)
    cq = select(func.count()).select_from(cases)
    if where is not None:
        q, cq = q.where(where), cq.where(where)
    rows = (await session.execute(q)).mappings().all()
    total = (await session.execute(cq)).scalar_one()
    return [dict(r) for r in rows], total


async def case_timeline(session: AsyncSession, case_id: str) -> list[dict]:
    rows = (await session.execute(
        select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.at, timeline.c.id)
    )).mappings().all()
    return [dict(r) for r in rows]


async def case_attachments(session: AsyncSession, case_id: str) -> list[dict]:
    rows = (await session.execute(
        select(attachments).where(attachments.c.case_id == case_id).order_by(attachments.c.created_at)
    )).mappings().all()
    return [dict(r) for r in rows]


async def case_requester_count(session: AsyncSession, case_id: str) -> int:
    return (await session.execute(
        select(func.count()).select_from(case_requesters).where(case_requesters.c.case_id == case_id)
    )).scalar_one()


async def case_nos(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    rows = (await session.execute(select(cases.c.id, cases.c.case_no).where(cases.c.id.in_(ids)))).all()
    return {r.id: r.case_no for r in rows}


# --- status and timeline (consumers and staff actions) ---------------------------------------------

async def _add_entry(session: AsyncSession, case_id: str, *, at: datetime, kind: str, effect: str | None,
                     actor: dict | None = None, department: str | None = None, note_text: str | None = None,
                     detail: dict | None = None, event_id: str | None = None) -> bool:
    stmt = pg_insert(timeline).values(
        case_id=case_id, at=at, kind=kind, status_effect=effect, actor=actor, department=department,
        note=note_text or note(kind), detail=detail or {}, event_id=event_id,
    ).on_conflict_do_nothing(constraint="uq_case_timeline_event").returning(timeline.c.id)
    return (await session.execute(stmt)).first() is not None


async def _recompute(session: AsyncSession, d: Deps, case: dict, *, note_text: str, at: datetime) -> str:
    """Fold the timeline into the status; on a change, store it and queue webhooks."""
    rows = (await session.execute(
        select(timeline.c.at, timeline.c.id, timeline.c.status_effect).where(
            timeline.c.case_id == case["id"], timeline.c.status_effect.isnot(None))
    )).all()
    new = status_rules.fold((r.at, r.id, r.status_effect) for r in rows)
    old = case["status"]
    if new != old:
        ts = now()
        await session.execute(update(cases).where(cases.c.id == case["id"]).values(
            status=new, status_at=ts, updated_at=ts))
        case["status"], case["status_at"] = new, ts
        await enqueue_status_webhooks(session, case, old, new, at=at, note_text=note_text)
    return new


async def record_event(session: AsyncSession, d: Deps, env: Envelope, payload) -> None:
    """Consumer side: one order / check-in / mediation / closure event onto a case."""
    case_id = getattr(payload, "case_id", None)
    if not case_id:
        return  # a mediation matter that did not come from a case
    row = (await session.execute(select(cases).where(cases.c.id == case_id).with_for_update())).mappings().first()
    if row is None:
        log.info("event for an unknown case ignored", topic=env.topic, case_id=case_id)
        return
    case = dict(row)
    kind = env.topic
    data = payload.model_dump(mode="json")
    at = getattr(payload, "at", None) or env.time
    by = data.get("by")
    department = data.get("department")
    detail_bits = [x for x in (data.get("department_name") or department, data.get("reason"), data.get("result"),
                               data.get("note"), data.get("stage"), data.get("ruling_no"),
                               data.get("request")) if x]
    detail = {k: data[k] for k in ("order_id", "seq", "department", "role", "stage", "due_at", "level",
                                    "mediation_id", "referral_id", "reason", "result", "ruling_no", "handed_to",
                                    "within_limit", "accepted", "deadlines")
              if data.get(k) is not None}
    effect = status_rules.EFFECTS.get(kind)
    text = note(kind, " · ".join(str(b) for b in detail_bits) or None)
    if not await _add_entry(session, case_id, at=at, kind=kind, effect=effect, actor=by, department=department,
                            note_text=text, detail=detail, event_id=env.id):
        return
    await session.execute(update(cases).where(cases.c.id == case_id).values(updated_at=now()))
    if effect is not None:
        await _recompute(session, d, case, note_text=text, at=at)


async def regrade(session: AsyncSession, d: Deps, principal: Principal, ref: str, body: RegradeIn) -> dict:
    async with session.begin():
        case = await load_case(session, ref, principal, lock=True)
        if case["grade"] == body.grade:
            raise conflict("same_grade", "等级未改变", "the case already has this grade", grade=case["grade"])
        at = now()
        await session.execute(update(cases).where(cases.c.id == case["id"]).values(
            grade=body.grade, grade_reasons=[*case["grade_reasons"], f"staff:{body.reason}"], updated_at=at))
        await _add_entry(session, case["id"], at=at, kind="case.regraded", effect=None, actor=_actor(principal),
                         note_text=note("case.regraded", f"{case['grade']} → {body.grade}: {body.reason}"),
                         detail={"old_grade": case["grade"], "new_grade": body.grade, "reason": body.reason})
        await d.outbox.add(session, CaseRegraded(
            case_id=case["id"], case_no=case["case_no"], old_grade=case["grade"], new_grade=body.grade,
            reason=body.reason, by=Actor(**principal.actor()), at=at))
        case["grade"] = body.grade
    return case


async def merge(session: AsyncSession, d: Deps, principal: Principal, ref: str, body: MergeIn) -> tuple[dict, dict]:
    async with session.begin():
        source = await load_case(session, ref, principal)
        try:
            target = await load_case(session, body.into, principal)
        except ApiError:
            raise _bad("into", f"目标案件 {body.into} 不存在", f"case {body.into} not found", "unknown_case") from None
        # lock both rows in id order (no deadlock between two opposite merges), then re-read them
        for cid in sorted({source["id"], target["id"]}):
            await session.execute(select(cases.c.id).where(cases.c.id == cid).with_for_update())
        source = await load_case(session, source["id"], None)
        target = await load_case(session, target["id"], None)
        if source["id"] == target["id"]:
            raise _bad("into", "不能合并到自身", "a case cannot be merged into itself", "same_case")
        if source["status"] not in status_rules.OPEN:
            raise conflict("case_not_open", "案件已结案或已合并，不能再合并", "the case is closed or already merged",
                           status=source["status"])
        if target["status"] not in status_rules.OPEN:
            raise conflict("target_not_open", "目标案件已结案或已合并", "the target case is closed or merged",
                           status=target["status"])
        at = now()
        actor = _actor(principal)
        reqs = (await session.execute(select(case_requesters).where(
            case_requesters.c.case_id == source["id"]))).mappings().all()
        for r in reqs:
            await session.execute(pg_insert(case_requesters).values(
                case_id=target["id"], source_system=r["source_system"], channel=r["channel"],
                requester_ref=r["requester_ref"], origin_case_id=r["origin_case_id"],
            ).on_conflict_do_nothing(constraint="uq_case_requesters_origin"))
        await session.execute(update(cases).where(cases.c.id == source["id"]).values(
            merged_into=target["id"], updated_at=at))
        source["merged_into"] = target["id"]
        text = note("case.merged", target["case_no"] + (f": {body.reason}" if body.reason else ""))
        await _add_entry(session, source["id"], at=at, kind="case.merged", effect="merged", actor=actor,
                         note_text=text, detail={"into_case_id": target["id"], "into_case_no": target["case_no"],
                                                 "reason": body.reason})
        await _add_entry(session, target["id"], at=at, kind="case.merged_in", effect=None, actor=actor,
                         note_text=note("case.merged_in", source["case_no"]),
                         detail={"case_id": source["id"], "case_no": source["case_no"]})
        await _recompute(session, d, source, note_text=text, at=at)
        await d.outbox.add(session, CaseMerged(
            case_id=source["id"], case_no=source["case_no"], into_case_id=target["id"],
            into_case_no=target["case_no"], by=Actor(**principal.actor()), at=at))
    return source, target


async def rate(session: AsyncSession, d: Deps, principal: Principal, ref: str, body: RatingIn) -> dict:
    async with session.begin():
        case = await load_case(session, ref, principal, lock=True)
        if case["status"] not in status_rules.RATEABLE:
            raise conflict("not_resolved", "案件尚未办结，不能回访评价", "the case is not resolved yet",
                           status=case["status"])
        if case["last_rating_at"] is not None and case["last_rating_at"] >= case["status_at"]:
            raise conflict("already_rated", "本轮办理已评价", "this resolution was already rated",
                           status=case["status"], rating=case["last_rating"])
        at = now()
        actor = _actor(principal)
        await session.execute(insert(ratings).values(case_id=case["id"], rating=body.rating, comment=body.comment,
                                                     by=actor, at=at))
        await session.execute(update(cases).where(cases.c.id == case["id"]).values(
            last_rating=body.rating, last_rating_at=at, updated_at=at))
        case["last_rating"], case["last_rating_at"] = body.rating, at
        await _add_entry(session, case["id"], at=at, kind="case.rated", effect=None, actor=actor,
                         note_text=note("case.rated", body.rating), detail={"rating": body.rating})
        by = Actor(**principal.actor())
        await d.outbox.add(session, CaseRated(case_id=case["id"], case_no=case["case_no"], rating=body.rating,
                                              comment=body.comment, by=by, at=at))
        if body.rating == "unsatisfied":
            reason = body.comment or "回访不满意 / unsatisfied follow-up"
            text = note("case.reopened", reason)
            await _add_entry(session, case["id"], at=at, kind="case.reopened", effect="reopened", actor=actor,
                             note_text=text, detail={"reason": reason})
            await _recompute(session, d, case, note_text=text, at=at)
            await d.outbox.add(session, CaseReopened(case_id=case["id"], case_no=case["case_no"], reason=reason,
                                                     by=by, at=at))
    return case


# --- attachments ----------------------------------------------------------------------------------

async def _attachment_by_id(session: AsyncSession, attachment_id: str) -> dict:
    row = (await session.execute(select(attachments).where(attachments.c.id == attachment_id))).mappings().one()
    return dict(row)


async def store_attachment(session: AsyncSession, d: Deps, principal: Principal, filename: str | None,
                           data: bytes, key: str | None = None) -> tuple[dict, bool]:
    filename = "".join(ch for ch in (filename or "") if ch.isprintable())[:200] or None
    request_hash = hashlib.sha256(data + b"\0" + (filename or "").encode()).hexdigest()
    existing = await _idem_lookup(session, principal.sub, "attachment", key, request_hash)
    if existing:
        row = await _attachment_by_id(session, existing)
        await session.rollback()
        return row, False
    await session.rollback()
    limit = d.settings.attachment_max_bytes
    if len(data) > limit:
        raise ApiError(413, "attachment_too_large", f"附件超过 {limit} 字节上限",
                       f"attachment exceeds the {limit}-byte limit",
                       fields=[field_error("file", "too_large", "附件过大", "attachment too large", ["body", "file"])])
    if not data:
        raise _bad("file", "附件为空", "the file is empty", "empty")
    kind = filetype.guess(data)
    mime = kind.mime if kind else None
    if mime not in ALLOWED_TYPES:
        raise ApiError(415, "unsupported_media_type", f"不支持的文件类型（按内容识别：{mime or '未知'}）",
                       f"file type not allowed (detected from content: {mime or 'unknown'})",
                       fields=[field_error("file", "unsupported_type", "文件类型不允许", "file type not allowed",
                                           ["body", "file"])])
    digest = hashlib.sha256(data).hexdigest()
    storage_key = f"{digest[:2]}/{digest}"
    await d.storage.put(storage_key, data, mime)
    row = {
        "id": str(uuid.uuid4()), "case_id": None, "uploaded_by": principal.sub,
        "filename": (filename or "")[:200] or None, "content_type": mime, "kind": ALLOWED_TYPES[mime],
        "size": len(data), "sha256": digest, "storage": d.storage.name, "storage_key": storage_key,
        "created_at": now(),
    }
    try:
        async with session.begin():
            await session.execute(insert(attachments).values(**row))
            await _idem_claim(session, principal.sub, "attachment", key, request_hash, row["id"])
    except IntegrityError:
        if not key:
            raise
        await session.rollback()
        return await store_attachment(session, d, principal, filename, data, key)
    return row, True


async def read_attachment(session: AsyncSession, d: Deps, principal: Principal, attachment_id: str) -> tuple[dict, bytes]:
    row = (await session.execute(select(attachments).where(attachments.c.id == attachment_id))).mappings().first()
    if row is None:
        raise not_found("attachment", "附件")
    if row["uploaded_by"] != principal.sub:
        if row["case_id"] is None:
            raise not_found("attachment", "附件")
        await load_case(session, row["case_id"], principal)  # 404 unless the case is visible
    data = await d.storage.get(row["storage_key"])
    return dict(row), data


# --- weak signals ---------------------------------------------------------------------------------

async def report_weak_signal(session: AsyncSession, d: Deps, principal: Principal, body: WeakSignalIn,
                             key: str | None) -> tuple[dict, bool]:
    j = d.jurisdiction
    request_hash = _canonical_hash(body)
    if key:
        row = (await session.execute(select(weak_signals).where(
            weak_signals.c.idem_caller == principal.sub, weak_signals.c.idem_key == key))).mappings().first()
        await session.rollback()
        if row:
            if row["idem_hash"] != request_hash:
                raise conflict("idempotency_key_reused", "同一幂等键已用于不同的请求内容",
                               "this Idempotency-Key was already used with a different request body")
            return dict(row), False
    g = j.grid(body.grid)
    if g is None:
        raise _bad("grid", f"网格 {body.grid} 不在本辖区", f"unknown grid {body.grid}", "unknown_grid")
    if not principal.has(*STAFF) and body.grid not in principal.grids:
        raise forbidden("只能上报本人负责网格的弱信号", "grid workers report only in their own grids")
    if j.domain(body.category) is None:
        raise _bad("category", f"类别 {body.category} 不在目录中", f"unknown category {body.category}",
                   "unknown_category")
    at = now()
    row = {
        "id": str(uuid.uuid4()), "grid": body.grid, "community": g.community, "category": body.category,
        "summary": body.summary, "description": body.description, "people_involved": body.people_involved,
        "reporter": _actor(principal), "reported_by": principal.sub, "reported_at": at,
        "idem_caller": principal.sub if key else None, "idem_key": key, "idem_hash": request_hash if key else None,
    }
    try:
        async with session.begin():
            await session.execute(insert(weak_signals).values(**row))
            await d.outbox.add(session, WeakSignalReported(
                signal_id=row["id"], grid=body.grid, community=g.community, category=body.category,
                summary=body.summary, description=body.description, people_involved=body.people_involved,
                reported_at=at, reporter=Actor(**principal.actor())))
    except IntegrityError as exc:
        if key and "uq_weak_signals_idempotency" in str(exc.orig):
            await session.rollback()
            return await report_weak_signal(session, d, principal, body, key)
        raise
    return row, True


async def list_weak_signals(session: AsyncSession, principal: Principal, limit: int, offset: int) -> list[dict]:
    q = select(weak_signals).order_by(weak_signals.c.reported_at.desc()).limit(limit).offset(offset)
    if not principal.has(*READ_ALL):
        q = q.where(or_(weak_signals.c.grid.in_(principal.grids or [""]), weak_signals.c.reported_by == principal.sub))
    return [dict(r) for r in (await session.execute(q)).mappings().all()]


# --- webhooks -------------------------------------------------------------------------------------

async def enqueue_status_webhooks(session: AsyncSession, case: dict, old: str, new: str, *, at: datetime,
                                  note_text: str) -> int:
    """Queue one delivery per active webhook of every external system that requested this case."""
    systems = (await session.execute(
        select(case_requesters.c.source_system).distinct().where(
            case_requesters.c.case_id == case["id"], case_requesters.c.source_system.isnot(None))
    )).scalars().all()
    if not systems:
        return 0
    hooks = (await session.execute(
        select(webhooks.c.id).where(webhooks.c.external_system.in_(systems), webhooks.c.active.is_(True))
    )).scalars().all()
    if not hooks:
        return 0
    from .domain.open311 import spec_status, w3c

    merged_into_no = None
    if new == "merged" and case.get("merged_into"):
        merged_into_no = (await case_nos(session, [case["merged_into"]])).get(case["merged_into"])
    notification_id = str(uuid.uuid4())
    body = json.dumps({
        "id": notification_id, "type": "case.status_changed", "case_id": case["id"], "case_no": case["case_no"],
        "status": new, "previous_status": old, "open311_status": spec_status(new), "at": w3c(at),
        "note": note_text, "merged_into_case_no": merged_into_no,
    }, ensure_ascii=False, separators=(",", ":"))
    rows = [{"id": str(uuid.uuid4()), "webhook_id": h, "event_id": notification_id, "case_id": case["id"],
             "body": body, "status": "pending", "attempts": 0, "next_attempt_at": now()} for h in hooks]
    await session.execute(pg_insert(webhook_deliveries).values(rows).on_conflict_do_nothing())
    return len(rows)


async def register_webhook(session: AsyncSession, d: Deps, principal: Principal, url: str,
                           key: str | None = None) -> tuple[dict, bool]:
    from .adapters.egress import EgressRefused, check_destination

    if principal.external_system not in {x.code for x in d.jurisdiction.external_systems}:
        raise forbidden("仅已登记的外部系统可注册回调地址", "only registered external systems register webhooks")
    request_hash = hashlib.sha256(url.encode()).hexdigest()
    existing = await _idem_lookup(session, principal.sub, "webhook", key, request_hash)
    await session.rollback()
    if existing:
        row = (await session.execute(select(webhooks).where(webhooks.c.id == existing))).mappings().one()
        await session.rollback()
        return dict(row), False
    try:
        await check_destination(url, d.settings)
    except EgressRefused as exc:
        zh, _, en = str(exc).partition(" / ")
        raise _bad("url", zh, en or zh, "destination_not_allowed") from exc
    row = {"id": str(uuid.uuid4()), "external_system": principal.external_system, "url": url,
           "secret": "whsec_" + secrets.token_urlsafe(32), "active": True, "created_by": principal.sub,
           "created_at": now()}
    try:
        async with session.begin():
            await session.execute(insert(webhooks).values(**row))
            await _idem_claim(session, principal.sub, "webhook", key, request_hash, row["id"])
    except IntegrityError:
        if not key:
            raise
        await session.rollback()
        return await register_webhook(session, d, principal, url, key)
    return row, True


def _own_webhook_clause(principal: Principal):
    if principal.has(ADMIN):
        return None
    return webhooks.c.external_system == (principal.external_system or "")


async def list_webhooks(session: AsyncSession, principal: Principal) -> list[dict]:
    q = select(webhooks).order_by(webhooks.c.created_at)
    c = _own_webhook_clause(principal)
    if c is not None:
        q = q.where(c)
    return [dict(r) for r in (await session.execute(q)).mappings().all()]


async def load_webhook(session: AsyncSession, principal: Principal, webhook_id: str) -> dict:
    q = select(webhooks).where(webhooks.c.id == webhook_id)
    c = _own_webhook_clause(principal)
    if c is not None:
        q = q.where(c)
    row = (await session.execute(q)).mappings().first()
    if row is None:
        raise not_found("webhook", "回调")
    return dict(row)


async def delete_webhook(session: AsyncSession, principal: Principal, webhook_id: str) -> None:
    async with session.begin():
        await load_webhook(session, principal, webhook_id)
        await session.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(active=False))


async def list_deliveries(session: AsyncSession, principal: Principal, webhook_id: str, limit: int) -> list[dict]:
    from .adapters.orm import webhook_attempts

    await load_webhook(session, principal, webhook_id)
    rows = (await session.execute(
        select(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
        .order_by(webhook_deliveries.c.created_at.desc()).limit(limit)
    )).mappings().all()
    out = [dict(r) for r in rows]
    if out:
        atts = (await session.execute(
            select(webhook_attempts).where(webhook_attempts.c.delivery_id.in_([r["id"] for r in out]))
            .order_by(webhook_attempts.c.attempt)
        )).mappings().all()
        by: dict[str, list] = {}
        for a in atts:
            by.setdefault(a["delivery_id"], []).append(dict(a))
        for r in out:
            r["attempt_log"] = by.get(r["id"], [])
    return out


async def redeliver(session: AsyncSession, principal: Principal, delivery_id: str) -> dict:
    async with session.begin():
        row = (await session.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).with_for_update()
        )).mappings().first()
        if row is None:
            raise not_found("delivery", "投递记录")
        await load_webhook(session, principal, row["webhook_id"])
        if row["status"] == "pending":
            raise conflict("delivery_pending", "该投递正在进行中", "the delivery is still pending",
                           status=row["status"])
        await session.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(
            status="pending", next_attempt_at=now()))
    return {**dict(row), "status": "pending"}


async def deliver_due(session_factory, d: Deps, client) -> int:
    """Claim due deliveries (lease, SKIP LOCKED: safe with several replicas), send, record each attempt."""
    import time

    from .adapters import egress
    from .adapters.orm import webhook_attempts
    from .domain.signing import (
        DELIVERY_HEADER,
        EVENT_HEADER,
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        backoff_seconds,
        sign,
    )

    s = d.settings
    async with session_factory() as session, session.begin():
        due = select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= func.now()
        ).order_by(webhook_deliveries.c.next_attempt_at).limit(20).with_for_update(skip_locked=True)
        claimed = (await session.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=func.now() + timedelta(seconds=s.webhook_lease_seconds))
            .returning(webhook_deliveries.c.id, webhook_deliveries.c.webhook_id, webhook_deliveries.c.body,
                       webhook_deliveries.c.attempts)
        )).all()
        hooks = {}
        if claimed:
            hooks = {r.id: r for r in (await session.execute(
                select(webhooks).where(webhooks.c.id.in_({c.webhook_id for c in claimed})))).all()}
    for c in claimed:
        hook = hooks.get(c.webhook_id)
        attempt = c.attempts + 1
        status_code, error = None, None
        started = time.perf_counter()
        if hook is None or not hook.active:
            error = "webhook disabled"
        else:
            body = c.body.encode()
            ts = int(time.time())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                SIGNATURE_HEADER: sign(hook.secret, ts, body),
                TIMESTAMP_HEADER: str(ts),
                DELIVERY_HEADER: c.id,
                EVENT_HEADER: "case.status_changed",
                "User-Agent": "Fengqiao-Webhooks/1",
            }
            try:
                resp = await egress.post(client, hook.url, body, headers, s)
                status_code = resp.status_code
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}"
            except egress.EgressRefused as exc:
                error = f"refused: {exc}"
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        duration = int((time.perf_counter() - started) * 1000)
        ok = error is None
        async with session_factory() as session, session.begin():
            await session.execute(insert(webhook_attempts).values(
                delivery_id=c.id, attempt=attempt, status_code=status_code, error=error, duration_ms=duration))
            values: dict = {"attempts": attempt, "last_status_code": status_code, "last_error": error}
            if ok:
                values.update(status="succeeded", delivered_at=func.now())
            elif attempt >= s.webhook_max_attempts or hook is None or not hook.active:
                values.update(status="failed")
            else:
                delay = backoff_seconds(attempt, s.webhook_backoff_base, s.webhook_backoff_max)
                values.update(next_attempt_at=func.now() + timedelta(seconds=delay))
            await session.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == c.id).values(**values))
    return len(claimed)


# --- Open311 (public feed: requests that arrived through Open311) -----------------------------------

async def open311_requests(session: AsyncSession, *, ids: list[str] | None = None, codes: list[str] | None = None,
                           start: datetime | None = None, end: datetime | None = None,
                           statuses: list[str] | None = None, limit: int = 1000) -> list[dict]:
    q = select(cases).where(cases.c.channel == "open311")
    if ids:
        q = q.where(cases.c.case_no.in_(ids))
    else:
        if codes:
            q = q.where(cases.c.category.in_(codes))
        if start is not None:
            q = q.where(cases.c.reported_at >= start)
        if end is not None:
            q = q.where(cases.c.reported_at <= end)
        if statuses and set(statuses) != {"open", "closed"}:
            closed = cases.c.status.in_(("closed", "merged"))
            q = q.where(closed if statuses == ["closed"] else ~closed)
    q = q.order_by(cases.c.reported_at.desc()).limit(limit)
    return [dict(r) for r in (await session.execute(q)).mappings().all()]


async def open311_context(session: AsyncSession, case_ids: list[str]) -> dict[str, dict]:
    """Per case: the lead department and deadline of the latest order, and the latest status note."""
    if not case_ids:
        return {}
    out: dict[str, dict] = {i: {} for i in case_ids}
    disp = (await session.execute(
        select(timeline.c.case_id, timeline.c.department, timeline.c.detail)
        .where(timeline.c.case_id.in_(case_ids), timeline.c.kind == "order.dispatched")
        .ext(distinct_on(timeline.c.case_id))
        .order_by(timeline.c.case_id, timeline.c.at.desc(), timeline.c.id.desc())
    )).all()
    for r in disp:
        out[r.case_id]["department"] = r.department
        out[r.case_id]["resolve_by"] = ((r.detail or {}).get("deadlines") or {}).get("resolve_by")
    notes = (await session.execute(
        select(timeline.c.case_id, timeline.c.note)
        .where(timeline.c.case_id.in_(case_ids), timeline.c.status_effect.isnot(None))
        .ext(distinct_on(timeline.c.case_id))
        .order_by(timeline.c.case_id, timeline.c.at.desc(), timeline.c.id.desc())
    )).all()
    for r in notes:
        out[r.case_id]["note"] = r.note
    return out


async def open311_updates(session: AsyncSession, start: datetime, end: datetime, limit: int) -> list[dict]:
    rows = (await session.execute(
        select(timeline.c.id, timeline.c.at, timeline.c.status_effect, timeline.c.note, cases.c.case_no,
               cases.c.media_url)
        .join(cases, cases.c.id == timeline.c.case_id)
        .where(cases.c.channel == "open311", timeline.c.status_effect.isnot(None),
               timeline.c.at >= start, timeline.c.at <= end)
        .order_by(timeline.c.at, timeline.c.id).limit(limit)
    )).mappings().all()
    return [dict(r) for r in rows]
