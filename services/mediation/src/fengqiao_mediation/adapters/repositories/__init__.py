"""ALL of the mediation service's SQL, one repository per table group (over the unit of work's session)."""

from .bookings import BookingRepository
from .court import AgreementRepository, ApplicationRepository, ReminderRepository
from .mediations import MediationRepository
from .mediators import MediatorRepository
from .records import OtpRepository, SessionRepository, SignatureRepository

__all__ = [
    "AgreementRepository", "ApplicationRepository", "BookingRepository", "MediationRepository", "MediatorRepository",
    "OtpRepository", "ReminderRepository", "SessionRepository", "SignatureRepository",
]
