"""A court simulator for development and tests: ``uvicorn --factory fengqiao_mediation.court_simulator:create_app``.

It speaks the court adapter's protocol (``adapters/court.py``): it accepts applications for judicial
confirmation (Bearer ``COURT_API_KEY``), checks the agreement PDF against its SHA-256, checks the record
bundle attached to the PDF and the signed daily chain-head statement sent with the application against the
published seal keys (pinned with ``COURT_SEAL_KEYS_FILE``, else those sent; 422 when they fail), and later
decides - asks for more material, confirms with a ruling number, or rejects - by an HMAC-signed HTTP
callback (``COURT_CALLBACK_SECRET``) to the ``callback_url`` of the application.

Decisions come either automatically, ``COURT_AUTO_DECIDE_AFTER`` seconds after an application (or its
new material) arrives, taking the next of ``COURT_AUTO_DECISIONS`` (e.g. ``["more_material",
"confirmed"]``), or by hand: ``POST /api/court/admin/applications/{ref}/decide`` with ``X-Court-Admin-Token``.
State is in memory. Environment: prefix ``COURT_`` (see :class:`SimulatorSettings`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

import httpx
import structlog
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fengqiao_common.clock import SYSTEM_CLOCK
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .adapters.court import sign
from .config import DEV_COURT_API_KEY, DEV_COURT_SECRET
from .domain.bundle import bundle_from_pdf, verify_bundle
from .domain.seals import PublishedKeys

log = structlog.get_logger("fengqiao.court_simulator")
Decision = Literal["more_material", "confirmed", "rejected"]


class SimulatorSettings(BaseSettings):
    """Environment prefix ``COURT_``; the credentials shared with the mediation service may also be given by
    the mediation service's names (``MEDIATION_COURT_API_KEY``, ``MEDIATION_COURT_CALLBACK_SECRET``)."""

    model_config = SettingsConfigDict(env_prefix="COURT_", extra="ignore", populate_by_name=True)

    api_key: str = Field(DEV_COURT_API_KEY, validation_alias=AliasChoices(
        "api_key", "COURT_API_KEY", "MEDIATION_COURT_API_KEY"))
    callback_secret: str = Field(DEV_COURT_SECRET, validation_alias=AliasChoices(
        "callback_secret", "COURT_CALLBACK_SECRET", "MEDIATION_COURT_CALLBACK_SECRET"))
    mediation_base_url: str | None = None  # if set, callbacks go here (else to the application's callback_url)
    admin_token: str = "dev-only-court-admin-token"
    auto_decide_after: float | None = 5.0  # seconds; None (or <0): decide only by the admin call
    auto_decisions: list[Decision] = ["confirmed"]
    ruling_prefix: str = "（{year}）粤0704民特"
    seal_keys_file: Path | None = None  # the mediation committee's published keys, pinned by the court
    require_seals: bool = True  # refuse applications whose seals do not verify (422)
    callback_attempts: int = 6
    callback_backoff: float = 0.5
    port: int = 8005


class AgreementIn(BaseModel):
    id: str
    sha256: str
    generated_at: str | None = None
    pdf_base64: str


class ApplicationIn(BaseModel):
    application_id: str
    mediation_id: str
    court: str
    category: str | None = None
    callback_url: str | None = None
    parties: list[dict] = Field(default_factory=list)
    agreement: AgreementIn
    seal_statement: dict | None = None  # the signed daily chain-head statement
    seal_keys: list[dict] = Field(default_factory=list)  # the mediation committee's published keys


def seal_check(body: ApplicationIn, pdf: bytes, pinned: list[dict] | None) -> dict:
    """Check the agreement PDF's attached record bundle and the daily statement sent with the application
    against the keys the court pinned (COURT_SEAL_KEYS_FILE) or, without a pinned file, those sent."""
    keys = PublishedKeys.from_entries(pinned if pinned is not None else body.seal_keys)
    found = bundle_from_pdf(pdf)
    if found is None:
        return {"valid": False, "problems": ["no record bundle attached to the agreement PDF"], "key_ids": []}
    report = verify_bundle(found, keys, [body.seal_statement] if body.seal_statement else [])
    problems = list(report["problems"])
    if body.seal_statement is None:
        problems.append("no daily chain-head statement sent with the application")
    return {"valid": not problems, "problems": problems, "head": report.get("head"),
            "key_ids": sorted(keys.keys)}


class MaterialIn(BaseModel):
    application_id: str | None = None
    description: str


class DecideIn(BaseModel):
    decision: Decision
    reason: str | None = None


class HealthOut(BaseModel):
    status: str
    service: str


class ApplicationOut(BaseModel):
    """An application as the court holds it (without the PDF)."""

    external_ref: str
    application_id: str
    mediation_id: str
    court: str
    callback_url: str
    parties: list[dict]
    agreement_sha256: str
    seal_check: dict = Field(None, description="the record bundle and daily statement checked on intake")
    status: str
    materials: list[dict]
    received_at: str
    history: list[dict]
    ruling_no: str | None


class DeliveryOut(BaseModel):
    """The outcome of a decision's callback: delivered (with the service's answer) or not (the last error)."""

    delivered: bool
    status_code: int = Field(None, description="when delivered")
    response: dict = Field(None, description="when delivered: the mediation service's answer")
    last: int | str = Field(None, description="when not delivered: the last status code or error")


class Court:
    def __init__(self, settings: SimulatorSettings):
        self.settings = settings
        self.apps: dict[str, dict] = {}  # external_ref -> application
        self.by_application: dict[str, str] = {}
        self.tasks: set[asyncio.Task] = set()
        self.rulings = 0
        self.callbacks: list[dict] = []  # delivered callbacks, for inspection

    def ruling_no(self) -> str:
        self.rulings += 1
        return self.settings.ruling_prefix.format(year=SYSTEM_CLOCK.now().year) + f"{self.rulings}号"

    def schedule(self, ref: str) -> None:
        delay = self.settings.auto_decide_after
        if delay is None or delay < 0:
            return
        app = self.apps[ref]
        i = app["auto_step"]
        seq = self.settings.auto_decisions
        decision = seq[min(i, len(seq) - 1)] if seq else "confirmed"
        app["auto_step"] = i + 1

        async def later():
            await asyncio.sleep(delay)
            await self.decide(ref, decision, "自动模拟决定 / simulated decision")

        t = asyncio.create_task(later())
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def decide(self, ref: str, decision: Decision, reason: str | None) -> dict:
        app = self.apps[ref]
        body = {"application_id": app["application_id"], "external_ref": ref, "decision": decision,
                "reason": reason, "at": SYSTEM_CLOCK.now().isoformat(), "ruling_no": None}
        if decision == "confirmed":
            body["ruling_no"] = app.get("ruling_no") or self.ruling_no()
            app["ruling_no"] = body["ruling_no"]
        app["status"] = {"more_material": "material_requested", "confirmed": "confirmed",
                         "rejected": "rejected"}[decision]
        app["history"].append({"at": body["at"], "event": decision, "reason": reason})
        return await self.deliver(app["callback_url"], body)

    async def deliver(self, url: str, body: dict) -> dict:
        raw = json.dumps(body, ensure_ascii=False).encode()
        last: object = None
        for attempt in range(self.settings.callback_attempts):
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/json", "X-Court-Timestamp": ts,
                       "X-Court-Signature": sign(self.settings.callback_secret, ts, raw)}
            try:
                async with httpx.AsyncClient(timeout=10) as client:
                    r = await client.post(url, content=raw, headers=headers)
                last = r.status_code
                if r.status_code < 300 or r.status_code == 409:
                    self.callbacks.append({**body, "status_code": r.status_code})
                    return {"delivered": True, "status_code": r.status_code, "response": r.json()}
                if 400 <= r.status_code < 500 and r.status_code not in (404, 408, 429):
                    break  # our request is wrong; retrying will not help
            except httpx.HTTPError as exc:
                last = repr(exc)
            await asyncio.sleep(self.settings.callback_backoff * 2 ** attempt)
        log.warning("callback not delivered", url=url, last=last)
        return {"delivered": False, "last": last}


def create_app(settings: SimulatorSettings | None = None) -> FastAPI:
    settings = settings or SimulatorSettings()
    court = Court(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for t in list(court.tasks):
            t.cancel()
        for t in list(court.tasks):
            with contextlib.suppress(BaseException):
                await t

    app = FastAPI(title="Court simulator (司法确认模拟)", lifespan=lifespan)
    app.state.court = court

    def client_auth(authorization: Annotated[str | None, Header()] = None) -> None:
        if authorization != f"Bearer {settings.api_key}":
            raise HTTPException(401, "invalid court credentials")

    def admin_auth(x_court_admin_token: Annotated[str | None, Header()] = None) -> None:
        if x_court_admin_token != settings.admin_token:
            raise HTTPException(401, "invalid admin token")

    def find(ref: str) -> dict:
        if ref not in court.apps:
            raise HTTPException(404, "no such application")
        return court.apps[ref]

    def public(a: dict) -> dict:
        return {k: v for k, v in a.items() if k not in ("pdf", "auto_step", "seal_statement")}

    @app.get("/healthz")
    async def healthz() -> HealthOut:
        return {"status": "ok", "service": "court-simulator"}

    @app.get("/metrics", include_in_schema=False, response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/court/applications", status_code=202, dependencies=[Depends(client_auth)])
    async def receive(body: ApplicationIn) -> ApplicationOut:
        if body.application_id in court.by_application:  # idempotent
            return public(court.apps[court.by_application[body.application_id]])
        try:
            pdf = base64.b64decode(body.agreement.pdf_base64, validate=True)
        except ValueError:
            raise HTTPException(422, "agreement.pdf_base64 is not base64") from None
        if hashlib.sha256(pdf).hexdigest() != body.agreement.sha256 or not pdf.startswith(b"%PDF"):
            raise HTTPException(422, "agreement PDF does not match its sha256")
        pinned = None
        if settings.seal_keys_file is not None:
            data = json.loads(settings.seal_keys_file.read_text())
            pinned = data["keys"] if isinstance(data, dict) else data
        try:
            checked = seal_check(body, pdf, pinned)
        except (KeyError, TypeError, ValueError) as exc:
            checked = {"valid": False, "problems": [f"unreadable seals: {exc!r}"], "key_ids": []}
        if settings.require_seals and not checked["valid"]:
            raise HTTPException(422, f"the records' seals do not verify: {checked['problems']}")
        # like a real court, a configured callback target (COURT_MEDIATION_BASE_URL) wins over the one sent
        callback_url = (f"{settings.mediation_base_url.rstrip('/')}/api/v1/mediation/court/callback"
                        if settings.mediation_base_url else body.callback_url)
        if not callback_url:
            raise HTTPException(422, "callback_url is required")
        ref = f"SQ-{uuid.uuid4().hex[:10].upper()}"
        court.apps[ref] = {
            "external_ref": ref, "application_id": body.application_id, "mediation_id": body.mediation_id,
            "court": body.court, "callback_url": callback_url, "parties": body.parties,
            "agreement_sha256": body.agreement.sha256, "pdf": pdf, "status": "received", "materials": [],
            "seal_check": checked, "seal_statement": body.seal_statement,
            "received_at": SYSTEM_CLOCK.now().isoformat(), "history": [], "auto_step": 0, "ruling_no": None,
        }
        court.by_application[body.application_id] = ref
        court.schedule(ref)
        return public(court.apps[ref])

    @app.post("/api/court/applications/{ref}/materials", dependencies=[Depends(client_auth)])
    async def material(ref: str, body: MaterialIn) -> ApplicationOut:
        a = find(ref)
        if a["status"] != "material_requested":
            raise HTTPException(409, f"application is {a['status']}")
        a["materials"].append({"at": SYSTEM_CLOCK.now().isoformat(), "description": body.description})
        a["status"] = "received"
        court.schedule(ref)
        return public(a)

    @app.get("/api/court/applications/{ref}", dependencies=[Depends(client_auth)])
    async def get(ref: str) -> ApplicationOut:
        return public(find(ref))

    @app.get("/api/court/admin/applications", dependencies=[Depends(admin_auth)])
    async def list_all() -> list[ApplicationOut]:
        return [public(a) for a in court.apps.values()]

    @app.post("/api/court/admin/applications/{ref}/decide", dependencies=[Depends(admin_auth)],
              response_model=DeliveryOut, response_model_exclude_unset=True)
    async def decide(ref: str, body: DecideIn, request: Request):
        find(ref)
        return await court.decide(ref, body.decision, body.reason)

    return app
