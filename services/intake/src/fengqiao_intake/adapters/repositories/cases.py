"""Cases, their requesters, ratings and timeline (SQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ...domain.pii import HMAC_SCHEME, LEGACY_SCHEME, PENDING_SCHEME
from ...domain.visibility import Links, Scope
from ..orm import case_departments, case_mediators, case_requesters, cases, ratings, timeline
from ._scope import case_condition


class CaseRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def get(self, ref: str, scope: Scope | None = None, *, lock: bool = False) -> dict | None:
        """By id or case number, when visible in ``scope`` (None: any)."""
        q = select(cases).where(or_(cases.c.id == ref, cases.c.case_no == ref))
        cond = case_condition(scope)
        if cond is not None:
            q = q.where(cond)
        if lock:
            q = q.with_for_update()
        row = (await self.s.execute(q)).mappings().first()
        return dict(row) if row is not None else None

    async def lock(self, ids: list[str]) -> None:
        """Row locks in id order (two opposite merges cannot deadlock)."""
        for cid in sorted(set(ids)):
            await self.s.execute(select(cases.c.id).where(cases.c.id == cid).with_for_update())

    async def update(self, case_id: str, **values) -> None:
        await self.s.execute(update(cases).where(cases.c.id == case_id).values(**values))

    async def list(self, scope: Scope, *, filters: dict[str, str | None], limit: int,
                   offset: int) -> tuple[list[dict], int]:
        conds = [getattr(cases.c, k) == v for k, v in filters.items() if v]
        cond = case_condition(scope)
        if cond is not None:
            conds.append(cond)
        where = and_(*conds) if conds else None
        q = select(cases).order_by(cases.c.reported_at.desc(), cases.c.id).limit(limit).offset(offset)
        cq = select(func.count()).select_from(cases)
        if where is not None:
            q, cq = q.where(where), cq.where(where)
        rows = (await self.s.execute(q)).mappings().all()
        total = (await self.s.execute(cq)).scalar_one()
        return [dict(r) for r in rows], total

    async def case_nos(self, ids: list[str | None]) -> dict[str, str]:
        ids = [i for i in ids if i]
        if not ids:
            return {}
        rows = (await self.s.execute(select(cases.c.id, cases.c.case_no).where(cases.c.id.in_(ids)))).all()
        return {r.id: r.case_no for r in rows}

    async def requesters(self, case_id: str) -> list[dict]:
        rows = (await self.s.execute(select(case_requesters).where(case_requesters.c.case_id == case_id)
                                     .order_by(case_requesters.c.id))).mappings().all()
        return [dict(r) for r in rows]

    async def requester_count(self, case_id: str) -> int:
        return (await self.s.execute(
            select(func.count()).select_from(case_requesters).where(case_requesters.c.case_id == case_id)
        )).scalar_one()

    async def requester_systems(self, case_id: str) -> list[str]:
        return list((await self.s.execute(
            select(case_requesters.c.source_system).distinct().where(
                case_requesters.c.case_id == case_id, case_requesters.c.source_system.isnot(None))
        )).scalars().all())

    async def add_requesters(self, case_id: str, requesters: list[dict]) -> None:
        """Requesters moved onto ``case_id`` (one per origin case: moving twice adds nothing)."""
        for r in requesters:
            await self.s.execute(pg_insert(case_requesters).values(
                case_id=case_id, source_system=r["source_system"], channel=r["channel"],
                requester_ref=r["requester_ref"], requester_ref_scheme=r.get("requester_ref_scheme") or HMAC_SCHEME,
                origin_case_id=r["origin_case_id"], id_ref=r.get("id_ref"),
            ).on_conflict_do_nothing(constraint="uq_case_requesters_origin"))

    async def related(self, case_id: str, limit: int = 50) -> list[dict]:
        """Other cases of the same requester: a requester of theirs shares a phone or ID-number pseudonym
        with one of this case's (keyed refs only: pending / legacy refs link nothing)."""
        mine = select(case_requesters.c.requester_ref.label("ref")).where(
            case_requesters.c.case_id == case_id, case_requesters.c.requester_ref_scheme == HMAC_SCHEME,
            case_requesters.c.requester_ref.isnot(None)).union(
            select(case_requesters.c.id_ref).where(case_requesters.c.case_id == case_id,
                                                   case_requesters.c.id_ref.isnot(None))).subquery()
        refs = select(mine.c.ref)
        q = (select(cases.c.id, cases.c.case_no, cases.c.reported_at, cases.c.status, cases.c.channel).distinct()
             .select_from(case_requesters.join(cases, cases.c.id == case_requesters.c.case_id))
             .where(case_requesters.c.case_id != case_id,
                    or_(and_(case_requesters.c.requester_ref.in_(refs),
                             case_requesters.c.requester_ref_scheme == HMAC_SCHEME),
                        case_requesters.c.id_ref.in_(refs)))
             .order_by(cases.c.reported_at.desc()).limit(limit))
        return [dict(r) for r in (await self.s.execute(q)).mappings()]

    async def links(self, case_ids: list[str]) -> dict[str, Links]:
        """Per case: requesting systems, departments with an order on it, mediators of its mediations."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        systems: dict[str, set] = {i: set() for i in ids}
        depts: dict[str, set] = {i: set() for i in ids}
        meds: dict[str, set] = {i: set() for i in ids}
        for r in (await self.s.execute(select(case_requesters.c.case_id, case_requesters.c.source_system)
                                       .where(case_requesters.c.case_id.in_(ids)))).all():
            systems[r.case_id].add(r.source_system)
        for r in (await self.s.execute(select(case_departments.c.case_id, case_departments.c.department)
                                       .where(case_departments.c.case_id.in_(ids)))).all():
            depts[r.case_id].add(r.department)
        for r in (await self.s.execute(select(case_mediators.c.case_id, case_mediators.c.mediator_id)
                                       .where(case_mediators.c.case_id.in_(ids)))).all():
            meds[r.case_id].add(r.mediator_id)
        return {i: Links(frozenset(systems[i]), frozenset(depts[i]), frozenset(meds[i])) for i in ids}

    async def link_department(self, case_id: str, department: str, at: datetime) -> None:
        stmt = pg_insert(case_departments).values(case_id=case_id, department=department, first_order_at=at)
        await self.s.execute(stmt.on_conflict_do_update(
            index_elements=["case_id", "department"],
            set_={"first_order_at": func.least(case_departments.c.first_order_at, stmt.excluded.first_order_at)}))

    async def link_mediator(self, case_id: str, mediator_id: str, at: datetime) -> None:
        stmt = pg_insert(case_mediators).values(case_id=case_id, mediator_id=mediator_id, first_booked_at=at)
        await self.s.execute(stmt.on_conflict_do_update(
            index_elements=["case_id", "mediator_id"],
            set_={"first_booked_at": func.least(case_mediators.c.first_booked_at, stmt.excluded.first_booked_at)}))

    async def ids_of_party(self, number: str, limit: int = 1000) -> list[str]:
        """Cases with a party of this phone or ID number (the access log searched by resident)."""
        by_phone = cases.c.parties.contains([{"phone": number}])
        by_id = cases.c.parties.contains([{"id_card": number.upper()}])
        rows = await self.s.execute(select(cases.c.id).where(or_(by_phone, by_id)).limit(limit))
        return list(rows.scalars().all())

    async def pending_requesters(self, limit: int) -> list[dict]:
        """Requester rows still carrying a pre-HMAC ref, with the parties of their origin case (None: gone);
        locked, skipping rows another replica is rekeying."""
        rows = (await self.s.execute(
            select(case_requesters.c.id, cases.c.parties)
            .select_from(case_requesters.outerjoin(cases, cases.c.id == case_requesters.c.origin_case_id))
            .where(case_requesters.c.requester_ref_scheme == PENDING_SCHEME)
            .order_by(case_requesters.c.id).limit(limit)
            .with_for_update(of=case_requesters, skip_locked=True)
        )).mappings().all()
        return [dict(r) for r in rows]

    async def mark_legacy_ref(self, requester_id: int) -> None:
        await self.s.execute(update(case_requesters).where(case_requesters.c.id == requester_id)
                             .values(requester_ref_scheme=LEGACY_SCHEME))

    async def set_requester_ref(self, requester_id: int, ref: str | None, scheme: str,
                                id_ref: str | None = None) -> None:
        await self.s.execute(update(case_requesters).where(case_requesters.c.id == requester_id)
                             .values(requester_ref=ref, requester_ref_scheme=scheme, id_ref=id_ref))

    async def add_rating(self, case_id: str, *, rating: str, comment: str | None, by: dict, at: datetime) -> None:
        await self.s.execute(insert(ratings).values(case_id=case_id, rating=rating, comment=comment, by=by, at=at))

    async def open311(self, *, ids: list[str] | None = None, codes: list[str] | None = None,
                      start: datetime | None = None, end: datetime | None = None,
                      statuses: list[str] | None = None, limit: int = 1000) -> list[dict]:
        """Requests that came through Open311 (``ids`` are case numbers)."""
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
        return [dict(r) for r in (await self.s.execute(q)).mappings().all()]


class TimelineRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def add(self, case_id: str, *, at: datetime, kind: str, effect: str | None, note: str,
                  actor: dict | None = None, department: str | None = None, detail: dict | None = None,
                  event_id: str | None = None) -> bool:
        """False when this event is already on the case's timeline (a duplicate delivery)."""
        stmt = pg_insert(timeline).values(
            case_id=case_id, at=at, kind=kind, status_effect=effect, actor=actor, department=department,
            note=note, detail=detail or {}, event_id=event_id,
        ).on_conflict_do_nothing(constraint="uq_case_timeline_event").returning(timeline.c.id)
        return (await self.s.execute(stmt)).first() is not None

    async def of_case(self, case_id: str) -> list[dict]:
        rows = (await self.s.execute(
            select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.at, timeline.c.id)
        )).mappings().all()
        return [dict(r) for r in rows]

    async def effects(self, case_id: str) -> list[tuple[datetime, int, str]]:
        rows = (await self.s.execute(
            select(timeline.c.at, timeline.c.id, timeline.c.status_effect).where(
                timeline.c.case_id == case_id, timeline.c.status_effect.isnot(None))
        )).all()
        return [(r.at, r.id, r.status_effect) for r in rows]

    async def open311_context(self, case_ids: list[str]) -> dict[str, dict]:
        """Per case: the lead department and deadline of the latest order, and the latest status note."""
        if not case_ids:
            return {}
        out: dict[str, dict] = {i: {} for i in case_ids}
        disp = (await self.s.execute(
            select(timeline.c.case_id, timeline.c.department, timeline.c.detail)
            .where(timeline.c.case_id.in_(case_ids), timeline.c.kind == "order.dispatched")
            .ext(distinct_on(timeline.c.case_id))
            .order_by(timeline.c.case_id, timeline.c.at.desc(), timeline.c.id.desc())
        )).all()
        for r in disp:
            out[r.case_id]["department"] = r.department
            out[r.case_id]["resolve_by"] = ((r.detail or {}).get("deadlines") or {}).get("resolve_by")
        notes = (await self.s.execute(
            select(timeline.c.case_id, timeline.c.note, timeline.c.kind)
            .where(timeline.c.case_id.in_(case_ids), timeline.c.status_effect.isnot(None))
            .ext(distinct_on(timeline.c.case_id))
            .order_by(timeline.c.case_id, timeline.c.at.desc(), timeline.c.id.desc())
        )).all()
        for r in notes:
            out[r.case_id]["note"] = r.note
            out[r.case_id]["note_kind"] = r.kind
        return out

    async def open311_updates(self, start: datetime, end: datetime, limit: int) -> list[dict]:
        rows = (await self.s.execute(
            select(timeline.c.id, timeline.c.at, timeline.c.status_effect, timeline.c.note, timeline.c.kind,
                   timeline.c.case_id, cases.c.case_no, cases.c.media_url, cases.c.grid, cases.c.reporter)
            .join(cases, cases.c.id == timeline.c.case_id)
            .where(cases.c.channel == "open311", timeline.c.status_effect.isnot(None),
                   timeline.c.at >= start, timeline.c.at <= end)
            .order_by(timeline.c.at, timeline.c.id).limit(limit)
        )).mappings().all()
        return [dict(r) for r in rows]
