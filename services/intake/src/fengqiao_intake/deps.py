"""The typed dependencies of intake, built once at start-up from the runtime (``build``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import structlog
from fastapi import Depends
from fengqiao_common.app import Runtime, deps_getter
from fengqiao_common.clock import Clock
from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_common.sms import SmsProvider, SmsSimulator
from fengqiao_common.sms.aliyun import AliyunSms
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .adapters.case_writer import CaseWriter, NewCaseUoW
from .adapters.egress import check_destination
from .adapters.storage import Storage, make_storage
from .adapters.uow import IntakeUoW
from .config import Settings
from .usecases.common import Context
from .usecases.followups import FollowUpPolicy, consequences
from .usecases.public import LookupLimiter

log = structlog.get_logger("fengqiao.intake")


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    jurisdiction: Jurisdiction
    outbox: Any
    storage: Storage
    writer: CaseWriter  # the new-case write path (its own asyncpg pool)
    session_factory: async_sessionmaker
    sms: SmsProvider | None = None  # the resident messages' provider (the simulator in development)
    http: httpx.AsyncClient | None = None

    def __post_init__(self) -> None:
        self.ctx = Context(self.jurisdiction, self.settings)
        self.follow_up = FollowUpPolicy(self.settings.follow_up_days, self.settings.follow_up_max_reopens)
        self.consequences = consequences(self.ctx.sms, self.follow_up)
        self.lookups = LookupLimiter(self.settings.public_lookup_limit, self.settings.public_lookup_window_seconds,
                                     self.clock)

    @property
    def simulator(self) -> SmsSimulator | None:
        return self.sms if isinstance(self.sms, SmsSimulator) else None

    def uow(self) -> IntakeUoW:
        return IntakeUoW(self.session_factory, self.outbox, self.clock)

    def uow_joined(self, session: AsyncSession) -> IntakeUoW:
        """Inside a transaction somebody else owns (a consumer's): never commits it."""
        return IntakeUoW.joined(session, self.outbox, self.clock)

    def case_uow(self) -> NewCaseUoW:
        return NewCaseUoW(self.writer, self.outbox, self.clock)

    async def check_destination(self, url: str) -> None:
        await check_destination(url, self.settings)

    async def close(self) -> None:
        await self.writer.close()
        if self.http is not None:
            await self.http.aclose()


def make_sms(s: Settings, clock: Clock) -> tuple[SmsProvider, httpx.AsyncClient | None]:
    if s.sms_provider == "aliyun":
        http = httpx.AsyncClient()
        return AliyunSms(http, access_key_id=s.aliyun_access_key_id, access_key_secret=s.aliyun_access_key_secret,
                         sign_name=s.sms_sign_name, endpoint=s.aliyun_sms_endpoint, region=s.aliyun_sms_region,
                         clock=clock), http
    return SmsSimulator(sign_name=s.sms_sign_name, clock=clock), None


async def build(runtime: Runtime) -> Deps:
    s = runtime.settings
    if not s.requester_key:
        log.warning("INTAKE_REQUESTER_KEY is not set: requester pseudonyms use the development key "
                    "(anyone with the source can reverse them); set a random key of 32+ characters",
                    environment=s.environment)
    writer = CaseWriter(s.asyncpg_dsn, min_size=min(2, s.write_pool_size), max_size=s.write_pool_size)
    await writer.start()
    sms, http = make_sms(s, runtime.clock)
    if s.environment == "production" and s.sms_enabled and s.sms_provider == "simulator":
        log.warning("INTAKE_SMS_PROVIDER=simulator in production: residents receive no text messages "
                    "(set INTAKE_SMS_PROVIDER=aliyun and its keys, or INTAKE_SMS_ENABLED=false)")
    return Deps(settings=s, clock=runtime.clock, jurisdiction=runtime.jurisdiction, outbox=runtime.outbox,
                storage=make_storage(s), writer=writer, session_factory=runtime.session_factory, sms=sms, http=http)


DepsDep = Annotated[Deps, Depends(deps_getter(Deps))]
