"""ALL of intake's SQL on the SQLAlchemy session (the new-case write path is ``adapters.case_writer``)."""

from .cases import CaseRepository, TimelineRepository
from .misc import AttachmentRepository, IdempotencyRepository, WeakSignalRepository
from .webhooks import WebhookRepository

__all__ = ["AttachmentRepository", "CaseRepository", "IdempotencyRepository", "TimelineRepository",
           "WeakSignalRepository", "WebhookRepository"]
