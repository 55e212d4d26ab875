"""The mediation service's unit of work: its repositories over one transaction."""

from __future__ import annotations

from fengqiao_common.uow import SqlUnitOfWork

from ..domain.config import MediationConfig
from .repositories import (
    AgreementRepository,
    ApplicationRepository,
    BookingRepository,
    MediationRepository,
    MediatorRepository,
    OtpRepository,
    ReminderRepository,
    SessionRepository,
    SignatureRepository,
)


class MediationUoW(SqlUnitOfWork):
    def __init__(self, session_factory, outbox, clock=None, *, session=None, cfg: MediationConfig | None = None):
        self.cfg = cfg or MediationConfig()
        super().__init__(session_factory, outbox, clock, session=session)

    def _bind(self, session) -> None:
        self.mediators = MediatorRepository(session)
        self.mediations = MediationRepository(session)
        self.bookings = BookingRepository(session)
        self.sessions = SessionRepository(session)
        self.signatures = SignatureRepository(session)
        self.otps = OtpRepository(session)
        self.agreements = AgreementRepository(session)
        self.applications = ApplicationRepository(session)
        self.reminders = ReminderRepository(session)
