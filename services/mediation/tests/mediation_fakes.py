"""In-memory repositories and a FakeUnitOfWork with the same interface as adapters/uow.py, for the use-case
unit tests (no PostgreSQL, no Kafka). All tables live in one ``FakeDb`` so a rollback restores them together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fengqiao_common.clock import ManualClock
from fengqiao_common.errors import Conflict
from fengqiao_common.uow import FakeUnitOfWork
from fengqiao_mediation.domain import rules
from fengqiao_mediation.domain.bundle import bundle_bytes
from fengqiao_mediation.domain.config import MediationConfig
from fengqiao_mediation.domain.policy import ListScope
from fengqiao_mediation.domain.schedule import Interval
from fengqiao_mediation.domain.slots import SlotTaken


@dataclass
class FakeDb:
    mediators: dict[str, dict] = field(default_factory=dict)
    leaves: list[dict] = field(default_factory=list)
    mediations: dict[str, dict] = field(default_factory=dict)
    parties: list[dict] = field(default_factory=list)
    bookings: dict[str, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    signatures: list[dict] = field(default_factory=list)
    otps: dict[str, dict] = field(default_factory=dict)
    agreements: dict[str, dict] = field(default_factory=dict)
    applications: dict[str, dict] = field(default_factory=dict)
    reminders: list[dict] = field(default_factory=list)


class _Repo:
    def __init__(self, uow: FakeMediationUoW):
        self.uow = uow

    @property
    def db(self) -> FakeDb:
        return self.uow.db


MEDIATOR_DEFAULTS = {"outreach": True, "active": True, "weekly": [], "relations": []}


class FakeMediators(_Repo):
    async def insert_if_absent(self, values: dict) -> bool:
        if values["id"] in self.db.mediators:
            return False
        self.db.mediators[values["id"]] = {**MEDIATOR_DEFAULTS, **values}
        return True

    async def insert_many_if_absent(self, rows: list[dict]) -> int:
        return sum([await self.insert_if_absent(r) for r in rows])

    async def get(self, mediator_id: str, *, lock: bool = False) -> dict | None:
        m = self.db.mediators.get(mediator_id)
        return dict(m) if m else None

    async def name(self, mediator_id: str) -> str | None:
        m = self.db.mediators.get(mediator_id)
        return m["name"] if m else None

    async def list(self, *, category=None, dialect=None, kind=None, active=None) -> list[dict]:
        return [dict(m) for _, m in sorted(self.db.mediators.items())
                if (not category or category in m["categories"]) and (not dialect or dialect in m["dialects"])
                and (not kind or m["kind"] == kind) and (active is None or m["active"] == active)]

    async def candidates(self, category: str, extra_id: str | None = None) -> list[dict]:
        return [dict(m) for m in self.db.mediators.values() if category in m["categories"] or m["id"] == extra_id]

    async def update(self, mediator_id: str, values: dict, now: datetime) -> bool:
        if mediator_id not in self.db.mediators:
            return False
        self.db.mediators[mediator_id].update(values, updated_at=now)
        return True

    async def add_leave(self, values: dict) -> None:
        self.db.leaves.append(dict(values))

    async def leaves(self, mediator_id: str) -> list[dict]:
        return sorted((dict(x) for x in self.db.leaves if x["mediator_id"] == mediator_id),
                      key=lambda x: x["starts_at"])


class FakeMediations(_Repo):
    async def get(self, mediation_id: str, *, lock: bool = False) -> dict | None:
        m = self.db.mediations.get(mediation_id)
        return dict(m) if m else None

    async def insert(self, values: dict) -> None:
        self.db.mediations[values["id"]] = {"handed_to": None, "outcome": None, "referral_id": None, **values}

    async def insert_if_absent(self, values: dict) -> bool:
        if values["id"] in self.db.mediations:
            return False
        await self.insert(values)
        return True

    async def insert_referral(self, values: dict) -> bool:
        if any(m["referral_id"] == values["referral_id"] for m in self.db.mediations.values()):
            return False
        await self.insert({"mediator_id": None, "external_system": None, **values})
        return True

    async def update(self, mediation_id: str, now: datetime, **values) -> None:
        if mediation_id in self.db.mediations:
            self.db.mediations[mediation_id].update(values, updated_at=now)

    async def list(self, scope: ListScope, *, case_id, status, limit) -> list[dict]:
        def visible(m: dict) -> bool:
            if scope.kind == "mediator":
                return m["mediator_id"] == scope.value
            if scope.kind == "party":
                return any(p["id"] == scope.value and p["mediation_id"] == m["id"] for p in self.db.parties)
            if scope.kind == "external_system":
                return m["external_system"] == scope.value
            return True
        rows = [dict(m) for m in self.db.mediations.values() if visible(m)
                and (not case_id or m["case_id"] == case_id) and (not status or m["status"] == status)]
        return sorted(rows, key=lambda m: m["created_at"], reverse=True)[:limit]

    async def loads(self, ids: list[str] | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.db.mediations.values():
            if m["status"] in rules.ACTIVE and m["mediator_id"] and (ids is None or m["mediator_id"] in ids):
                out[m["mediator_id"]] = out.get(m["mediator_id"], 0) + 1
        return out

    async def parties(self, mediation_id: str) -> list[dict]:
        return sorted((dict(p) for p in self.db.parties if p["mediation_id"] == mediation_id),
                      key=lambda p: p["position"])

    async def add_parties(self, rows: list[dict]) -> None:
        self.db.parties.extend(dict(r) for r in rows)


class FakeBookings(_Repo):
    race: bool = False  # the next insert loses a race (as the exclusion constraint would refuse it)

    async def get(self, booking_id: str) -> dict | None:
        b = self.db.bookings.get(booking_id)
        return dict(b) if b else None

    async def insert(self, values: dict) -> dict:
        row = {"replaces": None, "cancel_reason": None, "address": None, **values}
        slot = Interval(row["starts_at"], row["ends_at"])
        clash = any(b["mediator_id"] == row["mediator_id"] and b["status"] == "active"
                    and slot.overlaps(Interval(b["starts_at"], b["ends_at"])) for b in self.db.bookings.values())
        if clash or self.race:
            self.race = False
            raise SlotTaken()
        self.db.bookings[row["id"]] = row
        return dict(row)

    async def update(self, booking_id: str, **values) -> None:
        self.db.bookings[booking_id].update(values)

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return sorted((dict(b) for b in self.db.bookings.values() if b["mediation_id"] == mediation_id),
                      key=lambda b: b["starts_at"])

    async def active_of_mediator(self, mediator_id: str, start: datetime, end: datetime) -> list[dict]:
        return sorted((dict(b) for b in self.db.bookings.values() if b["mediator_id"] == mediator_id
                       and b["status"] == "active" and b["starts_at"] < end and b["ends_at"] > start),
                      key=lambda b: b["starts_at"])

    async def count_active(self, mediation_id: str) -> int:
        return sum(1 for b in self.db.bookings.values() if b["mediation_id"] == mediation_id
                   and b["status"] == "active")

    async def busy(self, ids: list[str], start: datetime, end: datetime) -> dict[str, list[Interval]]:
        out: dict[str, list[Interval]] = {i: [] for i in ids}
        for b in self.db.bookings.values():
            if b["mediator_id"] in out and b["status"] == "active" and b["starts_at"] < end and b["ends_at"] > start:
                out[b["mediator_id"]].append(Interval(b["starts_at"], b["ends_at"]))
        for lv in self.db.leaves:
            if lv["mediator_id"] in out and lv["starts_at"] < end and lv["ends_at"] > start:
                out[lv["mediator_id"]].append(Interval(lv["starts_at"], lv["ends_at"]))
        return out

    async def cancel_future(self, mediation_id: str, now: datetime, reason: str) -> None:
        for b in self.db.bookings.values():
            if b["mediation_id"] == mediation_id and b["status"] == "active" and b["starts_at"] > now:
                b.update(status="cancelled", cancel_reason=reason)


class FakeSessions(_Repo):
    async def get(self, session_id: str, *, lock: bool = False) -> dict | None:
        s = self.db.sessions.get(session_id)
        return dict(s) if s else None

    async def next_seq(self, mediation_id: str) -> int:
        return max((s["seq"] for s in self.db.sessions.values() if s["mediation_id"] == mediation_id), default=0) + 1

    async def insert(self, values: dict) -> dict:
        row = {"chain_index": None, "prev_hash": None, "record_hash": None, "sealed_at": None, "seal_key_id": None,
               "seal_signature": None, **values}
        self.db.sessions[row["id"]] = row
        return dict(row)

    async def update(self, session_id: str, **values) -> None:
        self.db.sessions[session_id].update(values)

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return sorted((dict(s) for s in self.db.sessions.values() if s["mediation_id"] == mediation_id),
                      key=lambda s: s["seq"])

    async def count(self, mediation_id: str, *, unsealed: bool = False) -> int:
        return sum(1 for s in self.db.sessions.values() if s["mediation_id"] == mediation_id
                   and (not unsealed or s["status"] != "sealed"))

    async def last_sealed(self, mediation_id: str) -> dict | None:
        sealed = await self.sealed(mediation_id)
        return {"chain_index": sealed[-1]["chain_index"], "record_hash": sealed[-1]["record_hash"]} if sealed else None

    async def sealed(self, mediation_id: str) -> list[dict]:
        return sorted((dict(s) for s in self.db.sessions.values() if s["mediation_id"] == mediation_id
                       and s["status"] == "sealed"), key=lambda s: s["chain_index"])


    async def heads_sealed_between(self, start: datetime, end: datetime) -> list[dict]:
        heads: dict[str, dict] = {}
        for s in self.db.sessions.values():
            if s["status"] == "sealed" and start <= s["sealed_at"] < end:
                cur = heads.get(s["mediation_id"])
                if cur is None or s["chain_index"] > cur["chain_index"]:
                    heads[s["mediation_id"]] = dict(s)
        return [heads[k] for k in sorted(heads)]


class FakeSignatures(_Repo):
    async def for_sessions(self, session_ids: list[str]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for s in sorted(self.db.signatures, key=lambda x: x["signed_at"]):
            if s["session_id"] in session_ids:
                out.setdefault(s["session_id"], []).append(dict(s))
        return out

    async def exists(self, session_id: str, signer: str) -> bool:
        return any(s["session_id"] == session_id and s["signer"] == signer for s in self.db.signatures)

    async def insert(self, values: dict) -> None:
        if await self.exists(values["session_id"], values["signer"]):
            raise Conflict("已签名，不能重复签名", "already signed", code="already_signed")
        row = {"channel": None, "witness_name": None, "witness_role": None, "photo": None, "photo_sha256": None,
               **values}
        self.db.signatures.append(row)


class FakeOtps(_Repo):
    async def count_since(self, session_id: str, party_id: str, since: datetime) -> int:
        return sum(1 for o in self.db.otps.values() if o["session_id"] == session_id and o["party_id"] == party_id
                   and o["created_at"] > since)

    async def insert(self, values: dict) -> None:
        self.db.otps[values["id"]] = {"used_at": None, **values}

    async def latest_unused(self, session_id: str, party_id: str | None) -> dict | None:
        rows = [o for o in self.db.otps.values() if o["session_id"] == session_id and o["party_id"] == party_id
                and o["used_at"] is None]
        return dict(max(rows, key=lambda o: o["created_at"])) if rows else None

    async def failed_attempt(self, otp_id: str) -> None:
        self.db.otps[otp_id]["attempts"] += 1

    async def mark_used(self, otp_id: str, now: datetime) -> None:
        self.db.otps[otp_id]["used_at"] = now


class FakeAgreements(_Repo):
    async def get(self, agreement_id: str) -> dict | None:
        a = self.db.agreements.get(agreement_id)
        return dict(a) if a else None

    async def for_mediation(self, mediation_id: str) -> dict | None:
        return next((dict(a) for a in self.db.agreements.values() if a["mediation_id"] == mediation_id), None)

    async def brief_for_mediation(self, mediation_id: str) -> dict | None:
        a = await self.for_mediation(mediation_id)
        return {k: a[k] for k in ("id", "sha256", "generated_at", "apply_by", "points")} if a else None

    async def insert(self, values: dict) -> None:
        if await self.for_mediation(values["mediation_id"]) is not None:
            raise Conflict("调解协议已生成", "the agreement already exists", code="agreement_exists")
        self.db.agreements[values["id"]] = dict(values)

    async def awaiting_application(self, statuses: tuple[str, ...]) -> list[tuple[str, object]]:
        return [(a["mediation_id"], a["apply_by"]) for a in self.db.agreements.values()
                if self.db.mediations[a["mediation_id"]]["status"] in statuses]


class FakeApplications(_Repo):
    async def get(self, application_id: str, *, lock: bool = False) -> dict | None:
        a = self.db.applications.get(application_id)
        return dict(a, history=list(a["history"])) if a else None

    async def open_for(self, mediation_id: str, statuses: tuple[str, ...]) -> dict | None:
        return next(({"id": a["id"], "status": a["status"]} for a in self.db.applications.values()
                     if a["mediation_id"] == mediation_id and a["status"] in statuses), None)

    async def insert(self, values: dict) -> dict:
        row = {"ruling_no": None, "reason": None, "material_request": None, "decided_at": None, **values}
        self.db.applications[row["id"]] = row
        return dict(row)

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return sorted((dict(a) for a in self.db.applications.values() if a["mediation_id"] == mediation_id),
                      key=lambda a: a["applied_at"])

    async def update(self, application_id: str, entry: dict, *, only_if_status: str | None = None, **values) -> bool:
        a = self.db.applications[application_id]
        if only_if_status is not None and a["status"] != only_if_status:
            return False
        a.update(values, history=[*a["history"], entry])
        return True


class FakeReminders(_Repo):
    async def record_once(self, values: dict) -> bool:
        if any(r["mediation_id"] == values["mediation_id"] and r["kind"] == values["kind"] for r in self.db.reminders):
            return False
        self.db.reminders.append(dict(values))
        return True

    async def for_mediation(self, mediation_id: str) -> list[dict]:
        return sorted((dict(r) for r in self.db.reminders if r["mediation_id"] == mediation_id),
                      key=lambda r: r["sent_at"])


class FakeMediationUoW(FakeUnitOfWork):
    repositories = ("db",)

    def __init__(self, clock: ManualClock | None = None, cfg: MediationConfig | None = None, db: FakeDb | None = None):
        super().__init__(clock or ManualClock())
        self.cfg = cfg or MediationConfig(categories={"labour": "劳动争议", "family": "婚姻家庭"},
                                          dialects=("普通话", "粤语"), street_name="测试街道",
                                          court_callback_url="http://test/callback")
        self.db = db or FakeDb()
        self.mediators = FakeMediators(self)
        self.mediations = FakeMediations(self)
        self.bookings = FakeBookings(self)
        self.sessions = FakeSessions(self)
        self.signatures = FakeSignatures(self)
        self.otps = FakeOtps(self)
        self.agreements = FakeAgreements(self)
        self.applications = FakeApplications(self)
        self.reminders = FakeReminders(self)


class FakeSms:
    def __init__(self):
        self.sent: list[tuple[str, str, str, str | None]] = []

    async def send(self, phone: str, text: str, *, purpose: str, ref: str | None = None) -> None:
        self.sent.append((phone, text, purpose, ref))


class FakeCourt:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.applied: list[dict] = []
        self.materials: list[tuple[str, dict]] = []

    async def apply(self, payload: dict) -> dict:
        from fengqiao_mediation.adapters.court import CourtError

        if self.fail:
            raise CourtError("court unreachable")
        self.applied.append(payload)
        return {"external_ref": f"SQ-{len(self.applied)}", "status": "received"}

    async def add_material(self, external_ref: str, payload: dict) -> dict:
        from fengqiao_mediation.adapters.court import CourtError

        if self.fail:
            raise CourtError("court unreachable")
        self.materials.append((external_ref, payload))
        return {"status": "received"}


async def fake_render(doc) -> bytes:
    """A stand-in PDF: the id and, as the real one attaches it, the record bundle."""
    return b"%PDF-1.4 fake agreement " + doc.agreement_id.encode() + b"\n" + bundle_bytes(doc.bundle) + b"\n%%EOF"
