"""Bookings (no double booking: the exclusion constraint ``bookings_no_overlap``) and busy time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...domain.schedule import Interval
from ...domain.slots import SlotTaken
from .. import orm
from .base import Repository

B = orm.bookings.c
LV = orm.leaves.c


class BookingRepository(Repository):
    async def get(self, booking_id: str) -> dict | None:
        return await self._one(select(orm.bookings).where(B.id == booking_id))

    async def insert(self, values: dict) -> dict:
        """Insert an active booking; a concurrent overlapping one (the exclusion constraint) is
        :class:`SlotTaken`, and the transaction goes on (savepoint)."""
        try:
            async with self.session.begin_nested():
                return await self._one(insert(orm.bookings).values(**values).returning(orm.bookings))
        except IntegrityError as exc:
            if "bookings_no_overlap" in str(exc.orig):
                raise SlotTaken() from exc
            raise

    async def update(self, booking_id: str, **values) -> None:
        await self.session.execute(update(orm.bookings).where(B.id == booking_id).values(**values))

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return await self._all(select(orm.bookings).where(B.mediation_id == mediation_id).order_by(B.starts_at))

    async def active_of_mediator(self, mediator_id: str, start: datetime, end: datetime) -> list[dict]:
        return await self._all(select(orm.bookings).where(
            B.mediator_id == mediator_id, B.status == "active", B.starts_at < end, B.ends_at > start)
            .order_by(B.starts_at))

    async def count_active(self, mediation_id: str) -> int:
        return (await self.session.execute(select(func.count()).select_from(orm.bookings).where(
            B.mediation_id == mediation_id, B.status == "active"))).scalar_one()

    async def busy(self, ids: list[str], start: datetime, end: datetime) -> dict[str, list[Interval]]:
        """Active bookings and leave of each mediator overlapping [start, end)."""
        out: dict[str, list[Interval]] = {i: [] for i in ids}
        rows = await self.session.execute(select(B.mediator_id, B.starts_at, B.ends_at).where(
            B.mediator_id.in_(ids), B.status == "active", B.starts_at < end, B.ends_at > start))
        for mid, s, e in rows.all():
            out[mid].append(Interval(s, e))
        rows = await self.session.execute(select(LV.mediator_id, LV.starts_at, LV.ends_at).where(
            LV.mediator_id.in_(ids), LV.starts_at < end, LV.ends_at > start))
        for mid, s, e in rows.all():
            out[mid].append(Interval(s, e))
        return out

    async def cancel_future(self, mediation_id: str, now: datetime, reason: str) -> None:
        await self.session.execute(update(orm.bookings).where(
            B.mediation_id == mediation_id, B.status == "active", B.starts_at > now)
            .values(status="cancelled", cancel_reason=reason))
