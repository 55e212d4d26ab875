"""The gateway's unit of work: one transaction on its database with its repositories."""

from __future__ import annotations

from fengqiao_common.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncSession

from .repositories import AuditRepository, KeyRepository, SessionRepository, UserRepository


class GatewayUoW(SqlUnitOfWork):
    users: UserRepository
    sessions: SessionRepository
    keys: KeyRepository
    audit: AuditRepository

    def _bind(self, session: AsyncSession) -> None:
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)
        self.keys = KeyRepository(session)
        self.audit = AuditRepository(session)
