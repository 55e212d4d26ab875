"""In-memory repositories and unit of work with the interface of ``adapters/uow.py`` (and of the
new-case write path ``adapters/case_writer.NewCaseUoW``), for use-case unit tests without a database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fengqiao_common.clock import ManualClock
from fengqiao_common.uow import FakeUnitOfWork
from fengqiao_intake.domain import pii
from fengqiao_intake.domain.idempotency import KeyTaken
from fengqiao_intake.domain.visibility import Links, Scope, case_visible, signal_visible

_ids = itertools.count(1)


@dataclass
class FakeDB:
    cases: dict[str, dict] = field(default_factory=dict)
    requesters: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    ratings: list[dict] = field(default_factory=list)
    attachments: dict[str, dict] = field(default_factory=dict)
    weak_signals: dict[str, dict] = field(default_factory=dict)
    webhooks: dict[str, dict] = field(default_factory=dict)
    deliveries: dict[str, dict] = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)
    idempotency: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    counters: dict[tuple[str, object], int] = field(default_factory=dict)
    case_departments: dict[tuple[str, str], datetime] = field(default_factory=dict)
    case_mediators: dict[tuple[str, str], datetime] = field(default_factory=dict)
    access_log: list[dict] = field(default_factory=list)
    sms: dict[str, dict] = field(default_factory=dict)
    opt_outs: dict[str, datetime] = field(default_factory=dict)
    follow_ups: dict[str, dict] = field(default_factory=dict)
    duplicate_reviews: dict[str, dict] = field(default_factory=dict)


class _Repo:
    def __init__(self, uow: FakeIntakeUoW):
        self.uow = uow

    @property
    def db(self) -> FakeDB:
        return self.uow.db


class FakeCases(_Repo):
    def _systems(self, case_id: str) -> list[str | None]:
        return [r["source_system"] for r in self.db.requesters if r["case_id"] == case_id]

    def _links(self, case_id: str) -> Links:
        return Links(frozenset(self._systems(case_id)),
                     frozenset(d for c, d in self.db.case_departments if c == case_id),
                     frozenset(m for c, m in self.db.case_mediators if c == case_id))

    async def links(self, case_ids: list[str]) -> dict[str, Links]:
        return {i: self._links(i) for i in set(case_ids)}

    async def link_department(self, case_id: str, department: str, at: datetime) -> None:
        k = (case_id, department)
        self.db.case_departments[k] = min(at, self.db.case_departments.get(k, at))

    async def link_mediator(self, case_id: str, mediator_id: str, at: datetime) -> None:
        k = (case_id, mediator_id)
        self.db.case_mediators[k] = min(at, self.db.case_mediators.get(k, at))

    async def ids_of_party(self, number: str, limit: int = 1000) -> list[str]:
        return [c["id"] for c in self.db.cases.values()
                if any(p.get("phone") == number or p.get("id_card") == number.upper() for p in c["parties"])][:limit]

    async def pending_requesters(self, limit: int) -> list[dict]:
        rows = [r for r in sorted(self.db.requesters, key=lambda r: r["id"])
                if r.get("requester_ref_scheme") == pii.PENDING_SCHEME][:limit]
        return [{"id": r["id"], "parties": (self.db.cases.get(r["origin_case_id"]) or {}).get("parties")}
                for r in rows]

    def _requester_row(self, requester_id: int) -> dict:
        return next(r for r in self.db.requesters if r["id"] == requester_id)

    async def mark_legacy_ref(self, requester_id: int) -> None:
        self._requester_row(requester_id)["requester_ref_scheme"] = pii.LEGACY_SCHEME

    async def set_requester_ref(self, requester_id: int, ref: str | None, scheme: str,
                                id_ref: str | None = None) -> None:
        self._requester_row(requester_id).update(requester_ref=ref, requester_ref_scheme=scheme, id_ref=id_ref)

    async def get(self, ref: str, scope: Scope | None = None, *, lock: bool = False) -> dict | None:
        for c in self.db.cases.values():
            if ref in (c["id"], c["case_no"]) and (scope is None or case_visible(scope, c, self._links(c["id"]))):
                return dict(c)
        return None

    async def lock(self, ids: list[str]) -> None:
        self.uow.locked.extend(sorted(set(ids)))

    async def update(self, case_id: str, **values) -> None:
        self.db.cases[case_id].update(values)

    async def list(self, scope: Scope, *, filters: dict, limit: int, offset: int) -> tuple[list[dict], int]:
        rows = [dict(c) for c in self.db.cases.values()
                if case_visible(scope, c, self._links(c["id"])) and all(c[k] == v for k, v in filters.items() if v)]
        rows.sort(key=lambda c: (-c["reported_at"].timestamp(), c["id"]))
        return rows[offset:offset + limit], len(rows)

    async def case_nos(self, ids: list[str | None]) -> dict[str, str]:
        return {i: self.db.cases[i]["case_no"] for i in ids if i and i in self.db.cases}

    async def requesters(self, case_id: str) -> list[dict]:
        return [dict(r) for r in self.db.requesters if r["case_id"] == case_id]

    async def related(self, case_id: str, limit: int = 50) -> list[dict]:
        mine = {r["requester_ref"] for r in self.db.requesters if r["case_id"] == case_id
                and r["requester_ref_scheme"] == pii.HMAC_SCHEME and r["requester_ref"]}
        mine |= {r.get("id_ref") for r in self.db.requesters if r["case_id"] == case_id and r.get("id_ref")}
        ids = {r["case_id"] for r in self.db.requesters if r["case_id"] != case_id and (
            (r["requester_ref"] in mine and r["requester_ref_scheme"] == pii.HMAC_SCHEME) or r.get("id_ref") in mine)}
        rows = sorted((self.db.cases[i] for i in ids), key=lambda c: c["reported_at"], reverse=True)
        return [{k: c[k] for k in ("id", "case_no", "reported_at", "status", "channel")} for c in rows[:limit]]

    async def requester_count(self, case_id: str) -> int:
        return len(await self.requesters(case_id))

    async def requester_systems(self, case_id: str) -> list[str]:
        return sorted({s for s in self._systems(case_id) if s is not None})

    async def add_requesters(self, case_id: str, requesters: list[dict]) -> None:
        for r in requesters:
            if not any(x["case_id"] == case_id and x["origin_case_id"] == r["origin_case_id"]
                       for x in self.db.requesters):
                self.db.requesters.append({"requester_ref_scheme": pii.HMAC_SCHEME, **r, "id": next(_ids),
                                           "case_id": case_id})

    async def add_rating(self, case_id: str, *, rating: str, comment: str | None, by: dict, at: datetime) -> None:
        self.db.ratings.append({"case_id": case_id, "rating": rating, "comment": comment, "by": by, "at": at})

    async def open311(self, *, ids=None, codes=None, start=None, end=None, statuses=None, limit=1000) -> list[dict]:
        rows = [c for c in self.db.cases.values() if c["channel"] == "open311"]
        if ids:
            rows = [c for c in rows if c["case_no"] in ids]
        else:
            rows = [c for c in rows if (not codes or c["category"] in codes)
                    and (start is None or c["reported_at"] >= start) and (end is None or c["reported_at"] <= end)]
            if statuses and set(statuses) != {"open", "closed"}:
                want_closed = statuses == ["closed"]
                rows = [c for c in rows if (c["status"] in ("closed", "merged")) == want_closed]
        return [dict(c) for c in sorted(rows, key=lambda c: c["reported_at"], reverse=True)[:limit]]


class FakeTimeline(_Repo):
    async def add(self, case_id: str, *, at, kind, effect, note, actor=None, department=None, detail=None,
                  event_id=None) -> bool:
        if event_id is not None and any(t["case_id"] == case_id and t["event_id"] == event_id
                                        for t in self.db.timeline):
            return False
        self.db.timeline.append({"id": next(_ids), "case_id": case_id, "at": at, "kind": kind, "status_effect": effect,
                                 "actor": actor, "department": department, "note": note, "detail": detail or {},
                                 "event_id": event_id})
        return True

    async def of_case(self, case_id: str) -> list[dict]:
        return sorted((dict(t) for t in self.db.timeline if t["case_id"] == case_id), key=lambda t: (t["at"], t["id"]))

    async def effects(self, case_id: str) -> list[tuple]:
        return [(t["at"], t["id"], t["status_effect"]) for t in self.db.timeline
                if t["case_id"] == case_id and t["status_effect"] is not None]

    async def open311_context(self, case_ids: list[str]) -> dict[str, dict]:
        out: dict[str, dict] = {i: {} for i in case_ids}
        for i in case_ids:
            entries = await self.of_case(i)
            disp = [t for t in entries if t["kind"] == "order.dispatched"]
            if disp:
                out[i]["department"] = disp[-1]["department"]
                out[i]["resolve_by"] = (disp[-1]["detail"].get("deadlines") or {}).get("resolve_by")
            notes = [t for t in entries if t["status_effect"] is not None]
            if notes:
                out[i]["note"] = notes[-1]["note"]
                out[i]["note_kind"] = notes[-1]["kind"]
        return out

    async def open311_updates(self, start, end, limit: int) -> list[dict]:
        out = []
        for t in sorted(self.db.timeline, key=lambda t: (t["at"], t["id"])):
            c = self.db.cases[t["case_id"]]
            if c["channel"] == "open311" and t["status_effect"] is not None and start <= t["at"] <= end:
                out.append({"id": t["id"], "at": t["at"], "status_effect": t["status_effect"], "note": t["note"],
                            "kind": t["kind"], "case_id": c["id"], "case_no": c["case_no"],
                            "media_url": c["media_url"], "grid": c["grid"], "reporter": c["reporter"]})
        return out[:limit]


class FakeAttachments(_Repo):
    async def get(self, attachment_id: str) -> dict | None:
        a = self.db.attachments.get(attachment_id)
        return dict(a) if a else None

    async def add(self, row: dict) -> None:
        self.db.attachments[row["id"]] = dict(row)

    async def of_case(self, case_id: str) -> list[dict]:
        return [dict(a) for a in self.db.attachments.values() if a["case_id"] == case_id]


class FakeAccessLog(_Repo):
    async def add(self, rows: list[dict]) -> None:
        for r in rows:
            self.db.access_log.append({"id": next(_ids), **r})

    async def search(self, *, case_ids=None, actor_id=None, since=None, until=None, limit=100,
                     offset=0) -> tuple[list[dict], int]:
        rows = [dict(r) for r in self.db.access_log if (case_ids is None or r["case_id"] in case_ids)
                and (actor_id is None or r["actor_id"] == actor_id) and (since is None or r["at"] >= since)
                and (until is None or r["at"] <= until)]
        rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
        return rows[offset:offset + limit], len(rows)


class FakeIdempotency(_Repo):
    async def lookup(self, caller: str, scope: str, key: str):
        return self.db.idempotency.get((caller, scope, key))

    async def claim(self, caller, scope, key, request_hash, resource_id) -> None:
        if (caller, scope, key) in self.db.idempotency:
            raise KeyTaken("idempotency_keys_pkey")
        self.db.idempotency[(caller, scope, key)] = (request_hash, resource_id)


class FakeWeakSignals(_Repo):
    async def by_idempotency(self, caller: str, key: str) -> dict | None:
        return next((dict(s) for s in self.db.weak_signals.values()
                     if s["idem_caller"] == caller and s["idem_key"] == key), None)

    async def add(self, row: dict) -> None:
        if row["idem_key"] and await self.by_idempotency(row["idem_caller"], row["idem_key"]):
            raise KeyTaken("uq_weak_signals_idempotency")
        self.db.weak_signals[row["id"]] = dict(row)

    async def list(self, scope: Scope, limit: int, offset: int) -> list[dict]:
        rows = sorted((dict(s) for s in self.db.weak_signals.values() if signal_visible(scope, s)),
                      key=lambda s: s["reported_at"], reverse=True)
        return rows[offset:offset + limit]


class FakeWebhooks(_Repo):
    async def add(self, row: dict) -> None:
        self.db.webhooks[row["id"]] = dict(row)

    async def get(self, webhook_id: str, owner: str | None = None) -> dict | None:
        w = self.db.webhooks.get(webhook_id)
        return dict(w) if w and (owner is None or w["external_system"] == owner) else None

    async def list(self, owner: str | None = None) -> list[dict]:
        return sorted((dict(w) for w in self.db.webhooks.values() if owner is None or w["external_system"] == owner),
                      key=lambda w: w["created_at"])

    async def deactivate(self, webhook_id: str) -> None:
        self.db.webhooks[webhook_id]["active"] = False

    async def active_ids(self, systems: list[str]) -> list[str]:
        return [w["id"] for w in self.db.webhooks.values() if w["external_system"] in systems and w["active"]]

    async def by_ids(self, ids: set[str]) -> dict[str, dict]:
        return {i: dict(self.db.webhooks[i]) for i in ids if i in self.db.webhooks}

    async def enqueue(self, rows: list[dict]) -> None:
        for r in rows:
            if not any(d["webhook_id"] == r["webhook_id"] and d["event_id"] == r["event_id"]
                       for d in self.db.deliveries.values()):
                self.db.deliveries[r["id"]] = {**r, "last_status_code": None, "last_error": None,
                                               "created_at": self.uow.now(), "delivered_at": None}

    async def delivery(self, delivery_id: str, *, lock: bool = False) -> dict | None:
        d = self.db.deliveries.get(delivery_id)
        return dict(d) if d else None

    async def update_delivery(self, delivery_id: str, **values) -> None:
        self.db.deliveries[delivery_id].update(values)

    async def deliveries(self, webhook_id: str, limit: int) -> list[dict]:
        rows = sorted((dict(d) for d in self.db.deliveries.values() if d["webhook_id"] == webhook_id),
                      key=lambda d: d["created_at"], reverse=True)[:limit]
        for r in rows:
            r["attempt_log"] = sorted((dict(a) for a in self.db.attempts if a["delivery_id"] == r["id"]),
                                      key=lambda a: a["attempt"])
        return rows

    async def claim_due(self, now: datetime, *, limit: int, lease_seconds: float) -> list[dict]:
        due = sorted((d for d in self.db.deliveries.values() if d["status"] == "pending"
                      and d["next_attempt_at"] <= now), key=lambda d: d["next_attempt_at"])[:limit]
        for d in due:
            d["next_attempt_at"] = now + timedelta(seconds=lease_seconds)
        return [{k: d[k] for k in ("id", "webhook_id", "body", "attempts", "next_attempt_at")} for d in due]

    async def finish_attempt(self, delivery_id: str, *, lease_until, attempt, status_code, error, duration_ms,
                             values) -> bool:
        d = self.db.deliveries[delivery_id]
        if d["status"] != "pending" or d["next_attempt_at"] != lease_until:
            return False
        d.update(attempts=attempt, last_status_code=status_code, last_error=error, **values)
        self.db.attempts.append({"delivery_id": delivery_id, "attempt": attempt, "at": self.uow.now(),
                                 "status_code": status_code, "error": error, "duration_ms": duration_ms})
        return True


class FakeNewCases(_Repo):
    """The new-case write path in memory (``adapters.case_writer.NewCaseRepository``)."""

    before_add = None  # a test's hook: runs just before the case is stored (to simulate a concurrent retry)

    async def by_idempotency(self, caller: str, key: str) -> dict | None:
        return next((dict(c) for c in self.db.cases.values()
                     if c["idem_caller"] == caller and c["idem_key"] == key), None)

    async def next_seq(self, prefix: str, day) -> int:
        self.db.counters[(prefix, day)] = n = self.db.counters.get((prefix, day), 0) + 1
        return n

    async def claim_attachments(self, ids: list[str], uploaded_by: str) -> set[str]:
        return {i for i in ids if i in self.db.attachments and self.db.attachments[i]["uploaded_by"] == uploaded_by
                and self.db.attachments[i]["case_id"] is None}

    async def duplicate_candidates(self, category, since, lat, lon) -> list[dict]:
        return [{"id": c["id"], "lat": c["lat"], "lon": c["lon"]} for c in self.db.cases.values()
                if c["category"] == category and c["status"] not in ("closed", "merged") and c["reported_at"] >= since
                and c["lat"] is not None and lat[0] <= c["lat"] <= lat[1] and lon[0] <= c["lon"] <= lon[1]]

    def add(self, row: dict, *, requester: dict, timeline: dict, sms: dict | None = None) -> None:
        if self.before_add is not None:
            hook, self.before_add = self.before_add, None
            hook()
            self.uow._saved = self.uow.snapshot()  # the concurrent writer has committed
        if row["idem_key"] and any(c["idem_caller"] == row["idem_caller"] and c["idem_key"] == row["idem_key"]
                                   for c in self.db.cases.values()):
            raise KeyTaken("uq_cases_idempotency")
        self.db.cases[row["id"]] = dict(row)
        self.db.requesters.append({"id": next(_ids), "case_id": row["id"], "origin_case_id": row["id"],
                                   "requester_ref_scheme": pii.HMAC_SCHEME, **requester})
        self.db.timeline.append({"id": next(_ids), "case_id": row["id"], "status_effect": None, "department": None,
                                 "event_id": None, **timeline})
        if sms is not None:
            self.db.sms[sms["id"]] = {"case_id": row["id"], "status": "pending", "attempts": 0, "sent_at": None,
                                      "provider_id": None, "last_error": None, "created_at": row["reported_at"], **sms}

    def link_attachments(self, ids: list[str], case_id: str) -> None:
        for i in ids:
            self.db.attachments[i]["case_id"] = case_id


class FakeSms(_Repo):
    async def enqueue(self, row: dict) -> bool:
        if any(r["send_key"] == row["send_key"] for r in self.db.sms.values()):
            return False
        self.db.sms[row["id"]] = {"attempts": 0, "sent_at": None, "provider_id": None, "last_error": None, **row}
        return True

    async def claim_due(self, now: datetime, limit: int) -> list[dict]:
        due = sorted((r for r in self.db.sms.values() if r["status"] == "pending" and r["not_before"] <= now),
                     key=lambda r: r["not_before"])
        return [dict(r) for r in due[:limit]]

    async def update(self, sms_id: str, **values) -> None:
        self.db.sms[sms_id].update(values)

    async def of_case(self, case_id: str) -> list[dict]:
        return [dict(r) for r in self.db.sms.values() if r["case_id"] == case_id]

    async def opted_out(self, requester_ref: str | None) -> bool:
        return bool(requester_ref) and requester_ref in self.db.opt_outs

    async def opt_out(self, requester_ref: str, at: datetime) -> None:
        self.db.opt_outs.setdefault(requester_ref, at)


class FakeFollowUps(_Repo):
    async def open_task(self, row: dict) -> bool:
        if any(t["case_id"] == row["case_id"] and t["cycle"] == row["cycle"] for t in self.db.follow_ups.values()):
            return False
        self.db.follow_ups[row["id"]] = {"rating": None, "solved": None, "channel": None, "comment": None,
                                         "by": None, "done_at": None, **row}
        return True

    async def of_cycle(self, case_id: str, cycle: int, *, lock: bool = False) -> dict | None:
        return next((dict(t) for t in self.db.follow_ups.values()
                     if t["case_id"] == case_id and t["cycle"] == cycle), None)

    async def get(self, task_id: str, *, lock: bool = False) -> dict | None:
        t = self.db.follow_ups.get(task_id)
        return dict(t) if t is not None else None

    async def update(self, task_id: str, **values) -> None:
        self.db.follow_ups[task_id].update(values)

    async def list(self, *, status, to_leader, limit: int, offset: int) -> tuple[list[dict], int]:
        rows = [t for t in self.db.follow_ups.values() if (status is None or t["status"] == status)
                and (to_leader is None or t["to_leader"] == to_leader)]
        rows.sort(key=lambda t: (t["due_at"], t["id"]))
        out = []
        for t in rows[offset:offset + limit]:
            c = self.db.cases[t["case_id"]]
            out.append(dict(t) | {"case_no": c["case_no"], "summary": c["summary"], "case_status": c["status"],
                                  "category": c["category"]})
        return out, len(rows)


class FakeDuplicates(_Repo):
    async def pending(self, *, limit: int, offset: int, case_id: str | None = None) -> tuple[list[dict], int]:
        rows = []
        for c in self.db.cases.values():
            if (not c["duplicate_of"] or c["merged_into"] or c["status"] in ("closed", "merged")
                    or c["id"] in self.db.duplicate_reviews or (case_id and c["id"] != case_id)):
                continue
            p = self.db.cases[c["duplicate_of"]]
            rows.append(dict(c) | {"candidate_id": p["id"], "candidate_no": p["case_no"],
                                   "candidate_summary": p["summary"], "candidate_description": p["description"],
                                   "candidate_status": p["status"], "candidate_reported_at": p["reported_at"]})
        rows.sort(key=lambda r: (r["reported_at"], r["id"]), reverse=True)
        return rows[offset:offset + limit], len(rows)

    async def decide(self, row: dict) -> bool:
        if row["case_id"] in self.db.duplicate_reviews:
            return False
        self.db.duplicate_reviews[row["case_id"]] = dict(row)
        return True


class FakeIntakeUoW(FakeUnitOfWork):
    repositories = ("db",)

    def __init__(self, clock: ManualClock | None = None):
        super().__init__(clock or ManualClock())
        self.db = FakeDB()
        self.locked: list[str] = []
        self.cases = FakeCases(self)
        self.timeline = FakeTimeline(self)
        self.attachments = FakeAttachments(self)
        self.idempotency = FakeIdempotency(self)
        self.access_log = FakeAccessLog(self)
        self.weak_signals = FakeWeakSignals(self)
        self.webhooks = FakeWebhooks(self)
        self.new_cases = FakeNewCases(self)
        self.sms = FakeSms(self)
        self.follow_ups = FakeFollowUps(self)
        self.duplicates = FakeDuplicates(self)
        self._committed_in_block = False

    async def __aenter__(self):
        # like the real one: a nested block joins the outer one (only the outermost keeps a snapshot)
        self._depth = getattr(self, "_depth", 0) + 1
        if self._depth > 1:
            return self
        self._committed_in_block = False
        return await super().__aenter__()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self._depth -= 1
        if self._depth:
            return
        # like the real one: leaving the block without commit() keeps nothing
        if exc_type is not None or self._pending or not self._committed_in_block:
            await self.rollback()

    async def commit(self) -> None:
        await super().commit()
        self._committed_in_block = True


class FakeStorage:
    name = "memory"

    def __init__(self):
        self.blobs: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.blobs[key] = data

    async def get(self, key: str) -> bytes:
        return self.blobs[key]
