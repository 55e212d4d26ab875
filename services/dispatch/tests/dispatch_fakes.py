"""In-memory twins of dispatch's repositories and unit of work (same interface as adapters/), for the
use-case unit tests: no PostgreSQL, no Kafka, a ManualClock.

Rows are plain dicts with every column of the table (defaults as in adapters/orm.py); what a
repository hands out is a copy, as a database would. Locks are no-ops (one caller at a time).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fengqiao_common.auth import Principal
from fengqiao_common.clock import Clock, ManualClock
from fengqiao_common.jurisdiction import load
from fengqiao_common.settings import REPO_ROOT
from fengqiao_common.uow import FakeUnitOfWork
from fengqiao_dispatch.adapters.orm import cases, orders, timeline, timers
from fengqiao_dispatch.domain import orders as om
from fengqiao_dispatch.domain.rules import RuleBody, StoredRule
from fengqiao_events import new_envelope
from fengqiao_events.payloads.case import GridEventReported

J = load(str(REPO_ROOT / "data" / "waihai.yaml"))
# Monday 2026-09-28, 10:00 Beijing time: a week before the National Day holiday.
BASE = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)

_DEFAULTS: dict[str, dict[str, Any]] = {
    "cases": {"location": {}, "people_involved": 0, "keywords": []},
    "orders": {"seq": 1, "on_site_required": True},
    "timeline": {"detail": {}},
    "timers": {},
}


def _row(table, name: str, values: dict, now: datetime) -> dict:
    row = {c.name: None for c in table.c}
    row.update(copy.deepcopy(_DEFAULTS[name]))
    if "created_at" in row:
        row["created_at"] = now
    if "updated_at" in row:
        row["updated_at"] = now
    row.update(copy.deepcopy(values))
    return row


@dataclass
class Tables:
    cases: dict[str, dict] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)
    timers: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    rules: list[dict] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class _Repo:
    def __init__(self, db: Tables, clock: Clock):
        self.db, self.clock = db, clock


def _out(row: dict | None) -> dict | None:
    return copy.deepcopy(row) if row is not None else None


class FakeCases(_Repo):
    async def add_new(self, values: dict) -> dict | None:
        if values["case_id"] in self.db.cases:
            return None
        row = _row(cases, "cases", values, self.clock.now())
        self.db.cases[row["case_id"]] = row
        return _out(row)

    async def get(self, case_id: str, *, lock: bool = False) -> dict | None:
        return _out(self.db.cases.get(case_id))

    async def update(self, case_id: str, **values: Any) -> None:
        if case_id in self.db.cases:
            self.db.cases[case_id].update(copy.deepcopy(values))

    async def queued(self, limit: int, offset: int) -> list[dict]:
        rows = sorted((c for c in self.db.cases.values() if c["status"] == "queued"),
                      key=lambda c: (c["updated_at"], c["case_id"]))
        return [_out(r) for r in rows[offset:offset + limit]]

    async def count_by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.db.cases.values():
            out[c["status"]] = out.get(c["status"], 0) + 1
        return out


class FakeOrders(_Repo):
    async def add_many(self, rows: list[dict]) -> None:
        for r in rows:
            row = _row(orders, "orders", r, self.clock.now())
            self.db.orders[row["order_id"]] = row

    async def get(self, order_id: str, *, lock: bool = False) -> dict | None:
        return _out(self.db.orders.get(order_id))

    async def of_case(self, case_id: str) -> list[dict]:
        rows = [o for o in self.db.orders.values() if o["case_id"] == case_id]
        return [_out(o) for o in sorted(rows, key=lambda o: (o["created_at"], o["order_id"]))]

    async def update(self, order_id: str, **values: Any) -> int:
        row = self.db.orders[order_id]
        row.update(copy.deepcopy(values))
        row["seq"] += 1
        return row["seq"]

    async def search(self, *, department, status, case_id, limit: int, offset: int) -> list[dict]:
        rows = [o for o in self.db.orders.values()
                if (not department or o["department"] == department) and (not status or o["status"] == status)
                and (not case_id or o["case_id"] == case_id)]
        rows.sort(key=lambda o: o["order_id"])
        rows.sort(key=lambda o: o["created_at"], reverse=True)
        return [_out(o) for o in rows[offset:offset + limit]]

    async def overdue(self, now: datetime, *, department, everyone: bool, limit: int, offset: int) -> list[dict]:
        rows = [o for o in self.db.orders.values()
                if om.missed(o, now) and (everyone or o["department"] == department)]
        rows.sort(key=lambda o: (o["sign_for_by"], o["order_id"]))
        return [_out(o) for o in rows[offset:offset + limit]]

    async def overdue_by_department(self, now: datetime) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.db.orders.values():
            if om.missed(o, now):
                out[o["department"]] = out.get(o["department"], 0) + 1
        return out


class FakeTimers(_Repo):
    def _pending(self, t: dict) -> bool:
        return t["fired_at"] is None and t["cancelled_at"] is None

    async def add_many(self, rows: list[dict]) -> None:
        for r in rows:
            self.db.timers.append(_row(timers, "timers", {**r, "id": self.db.new_id()}, self.clock.now()))

    async def cancel_pending(self, order_id: str, now: datetime, stages: tuple[str, ...] | None = None) -> None:
        for t in self.db.timers:
            if t["order_id"] == order_id and self._pending(t) and (stages is None or t["stage"] in stages):
                t["cancelled_at"] = now

    async def claim_due(self, now: datetime, limit: int) -> list[dict]:
        due = sorted((t for t in self.db.timers if self._pending(t) and t["due_at"] <= now),
                     key=lambda t: (t["due_at"], t["id"]))
        return [_out(t) for t in due[:limit]]

    def _by_id(self, timer_id: int) -> dict:
        return next(t for t in self.db.timers if t["id"] == timer_id)

    async def mark_fired(self, timer_id: int, now: datetime, replica: str) -> None:
        self._by_id(timer_id).update(fired_at=now, fired_by=replica)

    async def mark_cancelled(self, timer_id: int, now: datetime) -> None:
        self._by_id(timer_id)["cancelled_at"] = now

    async def of_case(self, case_id: str) -> list[dict]:
        rows = [t for t in self.db.timers if t["case_id"] == case_id]
        return [_out(t) for t in sorted(rows, key=lambda t: (t["due_at"], t["id"]))]

    async def due_count(self, now: datetime) -> int:
        return sum(1 for t in self.db.timers if self._pending(t) and t["due_at"] <= now)


class FakeTimeline(_Repo):
    async def add(self, *, case_id: str, kind: str, at: datetime, actor: dict | None = None,
                  order_id: str | None = None, detail: dict | None = None) -> None:
        await self.add_many([dict(case_id=case_id, order_id=order_id, kind=kind, at=at, actor=actor,
                                  detail=detail or {})])

    async def add_many(self, rows: list[dict]) -> None:
        for r in rows:
            self.db.timeline.append(_row(timeline, "timeline", {**r, "id": self.db.new_id()}, self.clock.now()))

    async def of_order(self, order_id: str) -> list[dict]:
        return [_out(e) for e in self.db.timeline if e["order_id"] == order_id]

    async def of_case(self, case_id: str) -> list[dict]:
        return [_out(e) for e in self.db.timeline if e["case_id"] == case_id]

    async def escalations(self, limit: int, offset: int) -> list[dict]:
        rows = [{**_out(e), "department": self.db.orders[e["order_id"]]["department"],
                 "order_status": self.db.orders[e["order_id"]]["status"]}
                for e in reversed(self.db.timeline) if e["kind"] == "order.escalated" and e["order_id"] in self.db.orders]
        return rows[offset:offset + limit]


class FakeRules(_Repo):
    async def current(self) -> list[StoredRule]:
        return [StoredRule(r["rule_id"], r["version"], RuleBody.model_validate(r["body"]))
                for r in self.db.rules if r["is_current"] and not r["deleted"]]

    async def listing(self, *, include_deleted: bool) -> list[dict]:
        rows = [r for r in self.db.rules if r["is_current"] and (include_deleted or not r["deleted"])]
        return [_out(r) for r in sorted(rows, key=lambda r: r["rule_id"])]

    async def versions(self, rule_id: str) -> list[dict]:
        return [_out(r) for r in sorted((r for r in self.db.rules if r["rule_id"] == rule_id),
                                        key=lambda r: r["version"])]

    async def get(self, rule_id: str, version: int | None = None, *, lock: bool = False) -> dict | None:
        return _out(next((r for r in self.db.rules if r["rule_id"] == rule_id
                          and (r["version"] == version if version else r["is_current"])), None))

    def _insert(self, **values: Any) -> dict:
        row = dict(deleted=False, created_at=self.clock.now(), **values)
        self.db.rules.append(copy.deepcopy(row))
        return row

    async def add_first(self, rule_id: str, body: dict, created_by: str) -> dict | None:
        if any(r["rule_id"] == rule_id for r in self.db.rules):
            return None
        return self._insert(rule_id=rule_id, version=1, body=body, is_current=True, created_by=created_by)

    async def add_version(self, rule_id: str, version: int, body: dict, *, deleted: bool, created_by: str) -> dict:
        for r in self.db.rules:
            if r["rule_id"] == rule_id:
                r["is_current"] = False
        row = self._insert(rule_id=rule_id, version=version, body=body, is_current=True, created_by=created_by)
        self.db.rules[-1]["deleted"] = row["deleted"] = deleted
        return row


class FakeDispatchUoW(FakeUnitOfWork):
    """The fake unit of work: the tables live in ``db``; a rollback restores them."""

    repositories = ("db",)

    def __init__(self, clock: Clock | None = None):
        super().__init__(clock or ManualClock(BASE))
        self.db = Tables()
        self.cases = FakeCases(self.db, self.clock)
        self.orders = FakeOrders(self.db, self.clock)
        self.timers = FakeTimers(self.db, self.clock)
        self.timeline = FakeTimeline(self.db, self.clock)
        self.rules = FakeRules(self.db, self.clock)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(vars(self.db))

    def restore(self, saved: dict[str, Any]) -> None:
        vars(self.db).update(copy.deepcopy(saved))

    def take_events(self) -> list:
        """The events committed since the last call (and forget them)."""
        out, self.committed_events = self.committed_events, []
        return out


# -- builders ------------------------------------------------------------------------------------

def who(role: str, department: str | None = None, name: str | None = None, sub: str | None = None) -> Principal:
    return Principal(sub=sub or f"u-{role}-{department or 'x'}", name=name, roles=[role], department=department)


DISPATCHER = who("dispatcher", "ZZZX", "中心调度员")
LEADER = who("leader", name="街道领导")
ADMIN = who("admin", name="管理员")


def officer(dept: str, name: str = "张警官") -> Principal:
    return who("department_officer", dept, name)


def grid_event(**kw: Any) -> GridEventReported:
    case_id = kw.pop("case_id", None) or str(uuid.uuid4())
    values = dict(
        case_id=case_id, case_no=f"WH-{case_id[:8]}", channel="grid_app", category="neighbour", grade="blue",
        grid="WH-01", community="C01", street="WH", district="JH", summary="邻里噪音", description="楼上装修噪音扰民",
        people_involved=2, keywords=[], reported_at=BASE,
    )
    values.update(kw)
    return GridEventReported(**values)


def env_of(payload):
    return new_envelope(payload, source="/fengqiao/intake")
