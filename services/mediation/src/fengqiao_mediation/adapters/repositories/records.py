"""Session records, their signatures and the one-time codes to sign with."""

from __future__ import annotations

from datetime import datetime

from fengqiao_common.errors import Conflict
from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from .. import orm
from .base import Repository

S = orm.sessions.c
SG = orm.signatures.c
O = orm.otp_codes.c  # noqa: E741


class SessionRepository(Repository):
    async def get(self, session_id: str, *, lock: bool = False) -> dict | None:
        q = select(orm.sessions).where(S.id == session_id)
        return await self._one(q.with_for_update() if lock else q)

    async def next_seq(self, mediation_id: str) -> int:
        return (await self.session.execute(select(func.coalesce(func.max(S.seq), 0))
                                           .where(S.mediation_id == mediation_id))).scalar_one() + 1

    async def insert(self, values: dict) -> dict:
        return await self._one(insert(orm.sessions).values(**values).returning(orm.sessions))

    async def update(self, session_id: str, **values) -> None:
        await self.session.execute(update(orm.sessions).where(S.id == session_id).values(**values))

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return await self._all(select(orm.sessions).where(S.mediation_id == mediation_id).order_by(S.seq))

    async def count(self, mediation_id: str, *, unsealed: bool = False) -> int:
        q = select(func.count()).select_from(orm.sessions).where(S.mediation_id == mediation_id)
        if unsealed:
            q = q.where(S.status != "sealed")
        return (await self.session.execute(q)).scalar_one()

    async def last_sealed(self, mediation_id: str) -> dict | None:
        return await self._one(select(S.chain_index, S.record_hash).where(
            S.mediation_id == mediation_id, S.status == "sealed").order_by(S.chain_index.desc()).limit(1))

    async def sealed(self, mediation_id: str) -> list[dict]:
        return await self._all(select(orm.sessions).where(S.mediation_id == mediation_id, S.status == "sealed")
                               .order_by(S.chain_index))


    async def heads_sealed_between(self, start: datetime, end: datetime) -> list[dict]:
        """Per mediation with a record sealed in [start, end): its last record sealed in that period."""
        in_period = (S.status == "sealed", S.sealed_at >= start, S.sealed_at < end)
        last = select(S.mediation_id, func.max(S.chain_index)).where(*in_period).group_by(S.mediation_id)
        return await self._all(
            select(S.id, S.mediation_id, S.seq, S.chain_index, S.record_hash, S.prev_hash, S.sealed_at,
                   S.seal_key_id, S.seal_signature)
            .where(S.status == "sealed", tuple_(S.mediation_id, S.chain_index).in_(last))
            .order_by(S.mediation_id))


class SignatureRepository(Repository):
    async def for_sessions(self, session_ids: list[str]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        if not session_ids:
            return out
        for d in await self._all(select(orm.signatures).where(SG.session_id.in_(session_ids))
                                 .order_by(SG.signed_at)):
            out.setdefault(d["session_id"], []).append(d)
        return out

    async def exists(self, session_id: str, signer: str) -> bool:
        return (await self.session.execute(select(SG.id).where(SG.session_id == session_id, SG.signer == signer))
                ).first() is not None

    async def insert(self, values: dict) -> None:
        """A concurrent second signature of the same signer (unique constraint) is ``already_signed``."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(orm.signatures).values(**values))
        except IntegrityError:
            raise Conflict("已签名，不能重复签名", "already signed", code="already_signed") from None


class OtpRepository(Repository):
    async def count_since(self, session_id: str, party_id: str, since: datetime) -> int:
        return (await self.session.execute(select(func.count()).select_from(orm.otp_codes).where(
            O.session_id == session_id, O.party_id == party_id, O.created_at > since))).scalar_one()

    async def insert(self, values: dict) -> None:
        await self.session.execute(insert(orm.otp_codes).values(**values))

    async def latest_unused(self, session_id: str, party_id: str | None) -> dict | None:
        return await self._one(select(orm.otp_codes).where(
            O.session_id == session_id, O.party_id == party_id, O.used_at.is_(None))
            .order_by(O.created_at.desc()).limit(1).with_for_update())

    async def failed_attempt(self, otp_id: str) -> None:
        await self.session.execute(update(orm.otp_codes).where(O.id == otp_id).values(attempts=O.attempts + 1))

    async def mark_used(self, otp_id: str, now: datetime) -> None:
        await self.session.execute(update(orm.otp_codes).where(O.id == otp_id).values(used_at=now))
