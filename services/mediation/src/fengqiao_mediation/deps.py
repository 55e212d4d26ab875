"""The mediation service's typed dependencies, built once per process (``build(runtime)``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends
from fengqiao_common.app import Runtime, deps_getter
from fengqiao_common.clock import Clock
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Outbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .adapters.court import CourtClient
from .adapters.pdf import AgreementDoc, render
from .adapters.sealkey import load_keyring
from .adapters.sms import SmsSender, make_sender
from .adapters.uow import MediationUoW
from .config import Settings
from .domain.config import MediationConfig


def config_of(settings: Settings, j: Jurisdiction, keys=None) -> MediationConfig:
    return MediationConfig(
        tz=ZoneInfo(settings.timezone), slot=timedelta(minutes=settings.slot_minutes),
        max_window_days=settings.max_window_days,
        categories={c.code: c.name for c in j.mediation_categories}, dialects=tuple(j.dialects),
        apply_within_days=settings.judicial_apply_within_days or j.judicial_apply_within_days,
        court_code=settings.court_code or j.judicial_court or "court", street_name=j.street.name,
        court_callback_url=settings.court_callback_url, otp_secret=settings.internal_token_secret,
        otp_ttl_seconds=settings.otp_ttl_seconds, otp_max_attempts=settings.otp_max_attempts,
        remind_days_before=tuple(settings.judicial_remind_days_before), keys=keys or load_keyring(settings))


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    jurisdiction: Jurisdiction
    outbox: Outbox
    session_factory: async_sessionmaker
    cfg: MediationConfig
    sms: SmsSender
    court: CourtClient

    def uow(self) -> MediationUoW:
        return MediationUoW(self.session_factory, self.outbox, self.clock, cfg=self.cfg)

    def uow_joined(self, session: AsyncSession) -> MediationUoW:
        return MediationUoW.joined(session, self.outbox, self.clock, cfg=self.cfg)

    async def render_pdf(self, doc: AgreementDoc) -> bytes:
        """The agreement PDF (CPU-bound: in a worker thread)."""
        return await asyncio.to_thread(render, doc, self.settings.pdf_font_path, self.settings.pdf_font_index)


async def build(runtime: Runtime) -> Deps:
    settings: Settings = runtime.settings  # type: ignore[assignment]
    j = runtime.jurisdiction
    return Deps(settings=settings, clock=runtime.clock, jurisdiction=j, outbox=runtime.outbox,
                session_factory=runtime.session_factory, cfg=config_of(settings, j), sms=make_sender(settings),
                court=CourtClient(settings.court_base_url, settings.court_api_key, settings.court_timeout))


DepsDep = Annotated[Deps, Depends(deps_getter(Deps))]
