"""ALL of intake's SQL on the SQLAlchemy session (the new-case write path is ``adapters.case_writer``)."""

from .access_log import AccessLogRepository
from .cases import CaseRepository, TimelineRepository
from .duplicates import DuplicateRepository
from .followups import FollowUpRepository
from .misc import AttachmentRepository, IdempotencyRepository, WeakSignalRepository
from .sms import SmsRepository
from .webhooks import WebhookRepository

__all__ = ["AccessLogRepository", "AttachmentRepository", "CaseRepository", "DuplicateRepository", "FollowUpRepository", "IdempotencyRepository", "SmsRepository",
           "TimelineRepository",
           "WeakSignalRepository", "WebhookRepository"]
