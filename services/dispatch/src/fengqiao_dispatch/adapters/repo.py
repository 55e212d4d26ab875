"""Small query helpers over the dispatch tables (no business decisions here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .orm import cases, orders, timeline, timers


async def lock_case(session: AsyncSession, case_id: str) -> dict | None:
    row = (await session.execute(select(cases).where(cases.c.case_id == case_id).with_for_update())).mappings().first()
    return dict(row) if row else None


async def get_case(session: AsyncSession, case_id: str) -> dict | None:
    row = (await session.execute(select(cases).where(cases.c.case_id == case_id))).mappings().first()
    return dict(row) if row else None


async def get_order(session: AsyncSession, order_id: str, *, lock: bool = False) -> dict | None:
    q = select(orders).where(orders.c.order_id == order_id)
    if lock:
        q = q.with_for_update()
    row = (await session.execute(q)).mappings().first()
    return dict(row) if row else None


async def case_orders(session: AsyncSession, case_id: str) -> list[dict]:
    q = select(orders).where(orders.c.case_id == case_id).order_by(orders.c.created_at, orders.c.order_id)
    return [dict(r) for r in (await session.execute(q)).mappings()]


async def update_order(session: AsyncSession, order_id: str, **values: Any) -> int:
    """Apply ``values`` and bump ``seq``; returns the new seq."""
    res = await session.execute(
        update(orders).where(orders.c.order_id == order_id)
        .values(seq=orders.c.seq + 1, **values).returning(orders.c.seq)
    )
    return res.scalar_one()


async def update_case(session: AsyncSession, case_id: str, **values: Any) -> None:
    await session.execute(update(cases).where(cases.c.case_id == case_id).values(**values))


async def add_timeline(session: AsyncSession, *, case_id: str, kind: str, at, actor: dict | None = None,
                       order_id: str | None = None, detail: dict | None = None) -> None:
    await session.execute(timeline.insert().values(
        case_id=case_id, order_id=order_id, kind=kind, at=at, actor=actor, detail=detail or {}
    ))


async def cancel_timers(session: AsyncSession, order_id: str, now, stages: tuple[str, ...] | None = None) -> None:
    """Cancel the order's pending timers (those a timer loop is firing right now are skipped: the loop
    re-reads the order under its lock and drops them itself)."""
    pending = (
        select(timers.c.id)
        .where(timers.c.order_id == order_id, timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    if stages is not None:
        pending = pending.where(timers.c.stage.in_(stages))
    await session.execute(update(timers).where(timers.c.id.in_(pending.scalar_subquery())).values(cancelled_at=now))
