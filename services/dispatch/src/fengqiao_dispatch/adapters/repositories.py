"""All of dispatch's SQL: one repository per table, over the unit of work's session.

Rows go in and out as plain dicts (the table's columns). Locks: a use case locks the case, then the
order (always in this order); the timer loop claims due timers with FOR UPDATE SKIP LOCKED. A new
case's orders, timers and timeline rows are written with one executemany per table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..domain import orders as om
from ..domain.rules import RuleBody, StoredRule
from .orm import cases, orders, routing_rules, timeline, timers

_RULES_KEY = "fq_dispatch_rules"  # session.info: the rules a consumer batch routes with


def _rows(result) -> list[dict]:
    return [dict(r) for r in result.mappings()]


def _first(result) -> dict | None:
    row = result.mappings().first()
    return dict(row) if row else None


class CaseRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add_new(self, values: dict[str, Any]) -> dict | None:
        """Insert a case unless it is known; the inserted row, or None when it existed already."""
        return _first(await self.session.execute(
            pg_insert(cases).values(**values).on_conflict_do_nothing().returning(*cases.c)))

    async def get(self, case_id: str, *, lock: bool = False) -> dict | None:
        q = select(cases).where(cases.c.case_id == case_id)
        return _first(await self.session.execute(q.with_for_update() if lock else q))

    async def update(self, case_id: str, **values: Any) -> None:
        await self.session.execute(update(cases).where(cases.c.case_id == case_id).values(**values))

    async def queued(self, limit: int, offset: int) -> list[dict]:
        return _rows(await self.session.execute(
            select(cases).where(cases.c.status == "queued").order_by(cases.c.updated_at, cases.c.case_id)
            .limit(limit).offset(offset)))

    async def count_by_status(self) -> dict[str, int]:
        rows = (await self.session.execute(select(cases.c.status, func.count()).group_by(cases.c.status))).all()
        return {s: n for s, n in rows}


def _missed(now: datetime):
    """SQL twin of :func:`domain.orders.missed`."""
    o = orders.c
    return or_(
        and_(o.status == om.DISPATCHED, o.sign_for_by <= now),
        and_(o.status.in_((om.DISPATCHED, om.SIGNED)), o.on_site_by.is_not(None), o.on_site_by <= now),
        and_(o.status.in_((om.DISPATCHED, om.SIGNED, om.ON_SITE, om.IN_PROGRESS)), o.resolve_by <= now),
    )


class OrderRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add_many(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(orders.insert(), rows)

    async def get(self, order_id: str, *, lock: bool = False) -> dict | None:
        q = select(orders).where(orders.c.order_id == order_id)
        return _first(await self.session.execute(q.with_for_update() if lock else q))

    async def of_case(self, case_id: str) -> list[dict]:
        return _rows(await self.session.execute(
            select(orders).where(orders.c.case_id == case_id).order_by(orders.c.created_at, orders.c.order_id)))

    async def update(self, order_id: str, **values: Any) -> int:
        """Apply ``values`` and bump ``seq``; returns the new seq."""
        res = await self.session.execute(
            update(orders).where(orders.c.order_id == order_id)
            .values(seq=orders.c.seq + 1, **values).returning(orders.c.seq))
        return res.scalar_one()

    async def search(self, *, department: str | None, status: str | None, case_id: str | None, limit: int,
                     offset: int) -> list[dict]:
        q = select(orders)
        if department:
            q = q.where(orders.c.department == department)
        if status:
            q = q.where(orders.c.status == status)
        if case_id:
            q = q.where(orders.c.case_id == case_id)
        q = q.order_by(orders.c.created_at.desc(), orders.c.order_id).limit(limit).offset(offset)
        return _rows(await self.session.execute(q))

    async def overdue(self, now: datetime, *, department: str | None, everyone: bool, limit: int,
                      offset: int) -> list[dict]:
        q = select(orders).where(_missed(now))
        if not everyone:
            q = q.where(orders.c.department == department)
        q = q.order_by(orders.c.sign_for_by, orders.c.order_id).limit(limit).offset(offset)
        return _rows(await self.session.execute(q))

    async def overdue_by_department(self, now: datetime) -> dict[str, int]:
        rows = (await self.session.execute(
            select(orders.c.department, func.count()).where(_missed(now)).group_by(orders.c.department))).all()
        return {d: n for d, n in rows}


class TimerRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add_many(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(timers.insert(), rows)

    async def cancel_pending(self, order_id: str, now: datetime, stages: tuple[str, ...] | None = None) -> None:
        """Cancel the order's pending timers (those a timer loop is firing right now are skipped: the loop
        re-reads the order under its lock and drops them itself)."""
        pending = (
            select(timers.c.id)
            .where(timers.c.order_id == order_id, timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if stages is not None:
            pending = pending.where(timers.c.stage.in_(stages))
        await self.session.execute(
            update(timers).where(timers.c.id.in_(pending.scalar_subquery())).values(cancelled_at=now))

    async def claim_due(self, now: datetime, limit: int) -> list[dict]:
        """Timers due by ``now``, locked for this transaction; rows another replica holds are skipped."""
        return _rows(await self.session.execute(
            select(timers)
            .where(timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None), timers.c.due_at <= now)
            .order_by(timers.c.due_at, timers.c.id).limit(limit).with_for_update(skip_locked=True)))

    async def mark_fired(self, timer_id: int, now: datetime, replica: str) -> None:
        await self.session.execute(update(timers).where(timers.c.id == timer_id).values(fired_at=now, fired_by=replica))

    async def mark_cancelled(self, timer_id: int, now: datetime) -> None:
        await self.session.execute(update(timers).where(timers.c.id == timer_id).values(cancelled_at=now))

    async def of_case(self, case_id: str) -> list[dict]:
        return _rows(await self.session.execute(
            select(timers).where(timers.c.case_id == case_id).order_by(timers.c.due_at, timers.c.id)))

    async def due_count(self, now: datetime) -> int:
        n = await self.session.scalar(select(func.count()).select_from(timers).where(
            timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None), timers.c.due_at <= now))
        return int(n or 0)


class TimelineRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, *, case_id: str, kind: str, at: datetime, actor: dict | None = None,
                  order_id: str | None = None, detail: dict | None = None) -> None:
        await self.session.execute(timeline.insert().values(
            case_id=case_id, order_id=order_id, kind=kind, at=at, actor=actor, detail=detail or {}))

    async def add_many(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(timeline.insert(), rows)

    async def of_order(self, order_id: str) -> list[dict]:
        return _rows(await self.session.execute(
            select(timeline).where(timeline.c.order_id == order_id).order_by(timeline.c.id)))

    async def of_case(self, case_id: str) -> list[dict]:
        return _rows(await self.session.execute(
            select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.id)))

    async def escalations(self, limit: int, offset: int) -> list[dict]:
        """Escalation entries, newest first, with the order's department and current status."""
        return _rows(await self.session.execute(
            select(timeline, orders.c.department, orders.c.status.label("order_status"))
            .join(orders, orders.c.order_id == timeline.c.order_id)
            .where(timeline.c.kind == "order.escalated").order_by(timeline.c.id.desc()).limit(limit).offset(offset)))


class RuleRepository:
    """Versioned routing rules: every save a new row, exactly one current row per rule id."""

    def __init__(self, session: AsyncSession, *, per_transaction: bool = False):
        self.session = session
        self.per_transaction = per_transaction

    async def current(self) -> list[StoredRule]:
        """The current, not deleted rules. A consumer's unit of work (``per_transaction``) reads them
        once per transaction: a batch routes all its cases with the rules its first read saw."""
        info = self.session.sync_session.info
        if self.per_transaction and _RULES_KEY in info:
            return info[_RULES_KEY]
        rows = (await self.session.execute(
            select(routing_rules).where(routing_rules.c.is_current, routing_rules.c.deleted.is_(False))
        )).mappings()
        rules = [StoredRule(r["rule_id"], r["version"], RuleBody.model_validate(r["body"])) for r in rows]
        if self.per_transaction:
            info[_RULES_KEY] = rules
        return rules

    async def listing(self, *, include_deleted: bool) -> list[dict]:
        q = select(routing_rules).where(routing_rules.c.is_current)
        if not include_deleted:
            q = q.where(routing_rules.c.deleted.is_(False))
        return _rows(await self.session.execute(q.order_by(routing_rules.c.rule_id)))

    async def versions(self, rule_id: str) -> list[dict]:
        return _rows(await self.session.execute(
            select(routing_rules).where(routing_rules.c.rule_id == rule_id).order_by(routing_rules.c.version)))

    async def get(self, rule_id: str, version: int | None = None, *, lock: bool = False) -> dict | None:
        q = select(routing_rules).where(routing_rules.c.rule_id == rule_id)
        q = q.where(routing_rules.c.version == version) if version else q.where(routing_rules.c.is_current)
        return _first(await self.session.execute(q.with_for_update() if lock else q))

    async def add_first(self, rule_id: str, body: dict, created_by: str) -> dict | None:
        """Version 1 of a new rule; None when the rule id exists."""
        return _first(await self.session.execute(
            pg_insert(routing_rules)
            .values(rule_id=rule_id, version=1, body=body, is_current=True, created_by=created_by)
            .on_conflict_do_nothing().returning(routing_rules)))

    async def add_version(self, rule_id: str, version: int, body: dict, *, deleted: bool, created_by: str) -> dict:
        """Make ``version`` the current row of the rule (the previous one stays as history)."""
        await self.session.execute(
            update(routing_rules).where(routing_rules.c.rule_id == rule_id, routing_rules.c.is_current)
            .values(is_current=False))
        row = _first(await self.session.execute(routing_rules.insert().values(
            rule_id=rule_id, version=version, body=body, is_current=True, deleted=deleted, created_by=created_by,
        ).returning(routing_rules)))
        assert row is not None
        return row
