"""Agreements, court applications (history appended as JSONB) and deadline reminders."""

from __future__ import annotations

from fengqiao_common.errors import Conflict
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from .. import orm
from .base import Repository, json_list

A = orm.agreements.c
CA = orm.court_applications.c
R = orm.reminders.c
MD = orm.mediations.c


class AgreementRepository(Repository):
    async def get(self, agreement_id: str) -> dict | None:
        return await self._one(select(orm.agreements).where(A.id == agreement_id))

    async def for_mediation(self, mediation_id: str) -> dict | None:
        return await self._one(select(orm.agreements).where(A.mediation_id == mediation_id))

    async def brief_for_mediation(self, mediation_id: str) -> dict | None:
        """Without the PDF."""
        return await self._one(select(A.id, A.sha256, A.generated_at, A.apply_by, A.points)
                               .where(A.mediation_id == mediation_id))

    async def insert(self, values: dict) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(orm.agreements).values(**values))
        except IntegrityError:
            raise Conflict("调解协议已生成", "the agreement already exists", code="agreement_exists") from None

    async def awaiting_application(self, statuses: tuple[str, ...]) -> list[tuple[str, object]]:
        """(mediation id, apply_by) of the agreements whose mediation is in ``statuses``."""
        rows = await self.session.execute(select(A.mediation_id, A.apply_by).join(
            orm.mediations, MD.id == A.mediation_id).where(MD.status.in_(statuses)))
        return [(m, a) for m, a in rows.all()]


class ApplicationRepository(Repository):
    async def get(self, application_id: str, *, lock: bool = False) -> dict | None:
        q = select(orm.court_applications).where(CA.id == application_id)
        return await self._one(q.with_for_update() if lock else q)

    async def open_for(self, mediation_id: str, statuses: tuple[str, ...]) -> dict | None:
        return await self._one(select(CA.id, CA.status).where(CA.mediation_id == mediation_id,
                                                              CA.status.in_(statuses)))

    async def insert(self, values: dict) -> dict:
        return await self._one(insert(orm.court_applications).values(**values).returning(orm.court_applications))

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return await self._all(select(orm.court_applications).where(CA.mediation_id == mediation_id)
                               .order_by(CA.applied_at))

    async def update(self, application_id: str, entry: dict, *, only_if_status: str | None = None,
                     **values) -> bool:
        """Set ``values`` and append ``entry`` to the history; False when ``only_if_status`` did not hold."""
        q = update(orm.court_applications).where(CA.id == application_id)
        if only_if_status is not None:
            q = q.where(CA.status == only_if_status)
        res = await self.session.execute(q.values(**values, history=CA.history.op("||")(json_list(entry)))
                                         .returning(CA.id))
        return res.first() is not None


class ReminderRepository(Repository):
    async def record_once(self, values: dict) -> bool:
        """Record a reminder unless one of this mediation and kind exists (then False)."""
        res = await self.session.execute(pg_insert(orm.reminders).values(**values).on_conflict_do_nothing()
                                         .returning(R.id))
        return res.first() is not None

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return await self._all(select(orm.reminders).where(R.mediation_id == mediation_id).order_by(R.sent_at))
