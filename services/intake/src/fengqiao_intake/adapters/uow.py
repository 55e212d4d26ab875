"""Intake's unit of work on the SQLAlchemy session: its repositories bound in ``_bind``."""

from __future__ import annotations

from fengqiao_common.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncSession

from .repositories import (
    AccessLogRepository,
    AttachmentRepository,
    CaseRepository,
    DuplicateRepository,
    FollowUpRepository,
    IdempotencyRepository,
    SmsRepository,
    TimelineRepository,
    WeakSignalRepository,
    WebhookRepository,
)


class IntakeUoW(SqlUnitOfWork):
    cases: CaseRepository
    timeline: TimelineRepository
    attachments: AttachmentRepository
    weak_signals: WeakSignalRepository
    webhooks: WebhookRepository
    idempotency: IdempotencyRepository
    access_log: AccessLogRepository
    sms: SmsRepository
    follow_ups: FollowUpRepository
    duplicates: DuplicateRepository

    def _bind(self, session: AsyncSession) -> None:
        self.cases = CaseRepository(session)
        self.timeline = TimelineRepository(session)
        self.attachments = AttachmentRepository(session)
        self.weak_signals = WeakSignalRepository(session)
        self.webhooks = WebhookRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.access_log = AccessLogRepository(session)
        self.sms = SmsRepository(session)
        self.follow_ups = FollowUpRepository(session)
        self.duplicates = DuplicateRepository(session)
